//! The sandbox HTTP server: 3Commas' wire protocol under `/public/api`, with real signature checks,
//! real limits, Grape-style errors, faults on demand and per-endpoint request counts.
//!
//! Every request goes through one handler: count → rate limit → authenticate → draw a fault →
//! run the endpoint against the state (under one lock, persisted before the answer) → answer.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::bots;
use super::deals;
use super::faults::{Fault, FaultSpec, LateCommit, Timing};
use super::grids;
use super::market::{self, Host, MarketProgress};
use super::params::{Attributes, NOT_VALID_VALUE, Params};
use super::state::{self, DEAL_TEMPLATE, ModeState, State, deal_decimal, now_iso};
use super::store::{Store, Touched};
use crate::model::catalogue::STRATEGY_LIST_JSON;
use crate::model::decimal::Decimal;
use crate::model::enums::TradingMode;
use crate::threecommas::signing;
use crate::threecommas::wire::{ErrorBody, WireBot, ruby_decimal};

/// How the sandbox runs.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub listen: SocketAddr,
    pub state_file: Option<PathBuf>,
    pub api_key: String,
    pub api_secret: String,
    /// More keys of the same account (`--extra-key KEY:SECRET`): a trader with a key per
    /// machine, or a key rotated in; every one reaches the same bots.
    pub extra_keys: Vec<(String, String)>,
    pub faults: FaultSpec,
    /// Requests per minute before 429 (3Commas: 100).
    pub rate_limit: u32,
    /// How long a 429 block lasts (3Commas: 300 s).
    pub block: Duration,
    /// `update_pairs_black_list` adds to the list instead of replacing it.
    pub blacklist_adds: bool,
    /// Answer bot reads in the odd shapes real responses have been seen in (see [`quirky`]).
    pub quirks: bool,
    /// Replay candles so enabled bots trade (`--market`).
    pub market: Option<market::MarketConfig>,
    /// Serve only the endpoints of 3Commas' current docs: `/ver1/ping` and `/ver1/time` (legacy
    /// docs only) answer 404 (`--current-docs-only`).
    pub current_docs_only: bool,
    /// The email token TradingView messages must carry (`--email-token`); without it, the
    /// state's own (generated with the state, printed by `botform sandbox token`).
    pub email_token: Option<String>,
}

/// Messages kept in the signal log (`GET /__sandbox/signals`).
const SIGNAL_LOG_LEN: usize = 1_000;

/// The most messages one TradingView POST may carry.
const MAX_SIGNALS_PER_POST: usize = 100;

/// The largest request body the sandbox reads: far above any 3Commas request (a bot with 200
/// pairs is about 10 KB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The key and secret a sandbox accepts when none are given.
pub const DEFAULT_API_KEY: &str = "sandbox-key";
pub const DEFAULT_API_SECRET: &str = "sandbox-secret";

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_file: None,
            api_key: DEFAULT_API_KEY.into(),
            api_secret: DEFAULT_API_SECRET.into(),
            extra_keys: Vec::new(),
            faults: FaultSpec::default(),
            rate_limit: 100,
            block: Duration::from_secs(300),
            blacklist_adds: false,
            current_docs_only: false,
            email_token: None,
            quirks: false,
            market: None,
        }
    }
}

pub struct Shared {
    config: SandboxConfig,
    inner: Mutex<Inner>,
    /// Where the market's replay is (`GET /__sandbox/market`), so tests wait on the replay's
    /// end instead of on the clock.
    market_progress: Mutex<MarketProgress>,
    /// Late writes waiting for their commit (`late_ms=next|held`).
    held_writes: Mutex<Vec<HeldWrite>>,
    /// The market's last close per pair: the price deal actions and signals trade at.
    market_prices: Mutex<HashMap<String, Decimal>>,
    /// What TradingView messages did (`GET /__sandbox/signals`), newest last, bounded.
    signal_log: Mutex<std::collections::VecDeque<deals::SignalOutcome>>,
}

/// A write answered 504 that has not committed yet.
struct HeldWrite {
    method: Method,
    api_path: String,
    query: Option<String>,
    body: Bytes,
    headers: HeaderMap,
}

struct Inner {
    /// The state every request works on; with a store, brought up to date from it first.
    state: State,
    /// The database behind `state`, when the sandbox keeps one (`--state`).
    store: Option<Store>,
    rng: StdRng,
    stats: Stats,
    /// 3Commas' global request limit.
    global: RateWindow,
    /// `GET /ver1/deals` and `/ver1/deals/{id}/show` have their own, higher limit.
    deals: RateWindow,
    /// Pairs the exchange stopped listing (`POST /__sandbox/delist`): gone from `market_pairs`,
    /// refused by bot writes. In memory: a test's event, not part of the account.
    delisted: std::collections::BTreeSet<String>,
    /// Armed by `POST /__sandbox/race`: the next bot create meets a twin another apply made at
    /// the same time, committed just before it or just after it. In memory, like `delisted`.
    race: Option<Race>,
    /// Writes answered late so far (bounded by `late_max=`).
    late_writes: u64,
}

/// Where the next create's twin commits relative to it (`POST /__sandbox/race`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Race {
    Before,
    After,
    /// The twin commits before ours, and its apply deletes ours (the younger, never switched on)
    /// before this apply looks for twins: ours is gone from the listing.
    BeforeDeletingOurs,
}

#[derive(Debug, Default)]
struct Stats {
    total: u64,
    /// Requests to public endpoints that carried an `Apikey` all the same.
    public_with_key: u64,
    by_endpoint: BTreeMap<String, u64>,
    by_status: BTreeMap<u16, u64>,
}

impl Inner {
    /// Catch up with writes other processes made to the shared store; when the store cannot be
    /// read, the answer 3Commas gives when its storage fails.
    fn refresh(&mut self) -> Result<(), Answer> {
        if let Some(store) = self.store.as_mut()
            && let Err(e) = store.refresh(&mut self.state)
        {
            return Err(store_failure(&e, "read"));
        }
        Ok(())
    }

    /// Run one change: a transaction on the store when one is kept (answered only once it is
    /// committed), else in memory.
    fn write<T>(
        &mut self,
        mode: TradingMode,
        change: impl FnOnce(&mut State) -> (T, Option<Touched>),
    ) -> Result<T, Answer> {
        match self.store.as_mut() {
            Some(store) => store
                .write(&mut self.state, mode, change)
                .map_err(|e| store_failure(&e, "save")),
            None => Ok(change(&mut self.state).0),
        }
    }
}

impl Shared {
    pub fn new(config: SandboxConfig, state: State, store: Option<Store>) -> Arc<Shared> {
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                rng: StdRng::seed_from_u64(config.faults.seed),
                state,
                store,
                stats: Stats::default(),
                global: RateWindow::default(),
                deals: RateWindow::default(),
                delisted: Default::default(),
                race: None,
                late_writes: 0,
            }),
            market_progress: Mutex::new(MarketProgress::default()),
            held_writes: Mutex::new(Vec::new()),
            market_prices: Mutex::new(HashMap::new()),
            signal_log: Mutex::new(Default::default()),
            config,
        })
    }

    /// The market's last closes, for an endpoint that trades at the price now (none for the
    /// others: most requests need no copy).
    fn market_prices_for(&self, route: Option<&Route>) -> HashMap<String, Decimal> {
        if !matches!(route, Some(Route::DealAddFunds(_) | Route::DealUpdate(_))) {
            return HashMap::new();
        }
        self.market_prices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The email token TradingView messages must carry: `--email-token`, else the state's.
    fn email_token(&self, state: &State) -> String {
        self.config
            .email_token
            .clone()
            .unwrap_or_else(|| state.email_token.clone())
    }

    /// Settle every cancel and panic sell pending for [`deals::SETTLE_MS`]: one transaction each.
    pub(crate) fn settle_due(&self) -> Result<(), String> {
        let now = state::now_millis();
        let due = self.read_state(|state| deals::due(state, now))?;
        for (mode, id, pair) in due {
            let price = self.market_price(&pair);
            self.change(mode, |state| {
                let settled = deals::settle(state.mode_mut(mode), id, price);
                (
                    (),
                    settled.then(|| Touched {
                        deals: [id].into(),
                        ..Touched::default()
                    }),
                )
            })?;
        }
        Ok(())
    }

    fn log_signal(&self, outcome: deals::SignalOutcome) {
        if !outcome.accepted {
            eprintln!(
                "botform sandbox: TradingView signal refused (bot {}, {}{}): {}",
                outcome.bot_id.map_or("?".to_string(), |b| b.to_string()),
                outcome.action,
                if outcome.pair.is_empty() {
                    String::new()
                } else {
                    format!(" {}", outcome.pair)
                },
                outcome.detail
            );
        }
        let mut log = self.signal_log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= SIGNAL_LOG_LEN {
            log.pop_front();
        }
        log.push_back(outcome);
    }

    fn market_price(&self, pair: &str) -> Option<Decimal> {
        self.market_prices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(pair)
            .copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic in one request must not take the whole sandbox down with a poisoned lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl market::Host for Shared {
    /// The market reports each tick here.
    fn set_market_progress(&self, progress: MarketProgress) {
        *self
            .market_progress
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = progress;
    }

    /// The market records each pair's last close here.
    fn set_market_price(&self, pair: &str, close: f64) {
        let Ok(price) = format!("{close}").parse::<Decimal>() else {
            return;
        };
        self.market_prices
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(pair.to_string(), price);
    }

    /// Read the state (brought up to date with the store first): for the market.
    fn read_state<T>(&self, read: impl FnOnce(&State) -> T) -> Result<T, String> {
        let mut inner = self.lock();
        inner
            .refresh()
            .map_err(|_| "cannot read the sandbox state".to_string())?;
        Ok(read(&inner.state))
    }

    /// One change by the market, in a transaction like a request's.
    fn change<T>(
        &self,
        mode: TradingMode,
        change: impl FnOnce(&mut State) -> (T, Option<Touched>),
    ) -> Result<T, String> {
        let mut inner = self.lock();
        inner
            .refresh()
            .map_err(|_| "cannot read the sandbox state".to_string())?;
        inner
            .write(mode, change)
            .map_err(|_| "cannot save the sandbox state".to_string())
    }
}

pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(shared)
}

/// What an endpoint answers.
struct Answer {
    status: StatusCode,
    body: Value,
    /// The state changed and must be persisted before answering.
    mutated: bool,
}

fn ok(body: Value) -> Answer {
    Answer {
        status: StatusCode::OK,
        body,
        mutated: false,
    }
}

fn created(body: Value) -> Answer {
    Answer {
        status: StatusCode::CREATED,
        body,
        mutated: true,
    }
}

fn error(status: StatusCode, body: ErrorBody) -> Answer {
    Answer {
        status,
        body: serde_json::to_value(body).expect("error bodies serialize"),
        mutated: false,
    }
}

fn not_found() -> Answer {
    error(
        StatusCode::NOT_FOUND,
        ErrorBody::new("not_found", Some("Not Found")),
    )
}

fn invalid(attributes: Attributes) -> Answer {
    error(
        StatusCode::BAD_REQUEST,
        ErrorBody::record_invalid(attributes),
    )
}

async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    // Refused before a byte of it is read when it says it is too large; cut off when it lies.
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return respond(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorBody::new("payload_too_large", None),
        ));
    }
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return respond(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorBody::new("payload_too_large", None),
            ));
        }
    };
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    if let Some(control) = path.strip_prefix("/__sandbox/") {
        if !peer.ip().is_loopback() {
            return respond(error(
                StatusCode::FORBIDDEN,
                ErrorBody::new("Forbidden", None),
            ));
        }
        return respond(control_endpoint(&shared, &parts.method, control, &body));
    }
    if path == "/trade_signal/trading_view" && parts.method == Method::POST {
        return respond(trade_signal(&shared, &body));
    }
    let Some(api_path) = path.strip_prefix("/public/api") else {
        return respond(not_found());
    };
    if shared.config.faults.late_commit == LateCommit::NextRequest {
        commit_held(&shared);
    }
    let route = Route::parse(&parts.method, api_path);
    let is_write = parts.method != Method::GET;
    // `account_table_data` is a POST that changes nothing: never late.
    let changes_state = is_write && !matches!(route, None | Some(Route::AccountTableData(_)));
    if changes_state && shared.config.faults.late > 0.0 {
        let late = {
            let mut inner = shared.lock();
            let drawn = inner.rng.random::<f64>() < shared.config.faults.late;
            let allowed = shared
                .config
                .faults
                .late_max
                .is_none_or(|max| inner.late_writes < max);
            if drawn && allowed {
                inner.late_writes += 1;
            }
            drawn && allowed
        };
        if late {
            commit_late(
                &shared,
                parts.method.clone(),
                api_path,
                query,
                body,
                parts.headers,
            );
            return respond(error(
                StatusCode::GATEWAY_TIMEOUT,
                ErrorBody::new("gateway_timeout", Some("The origin did not answer in time")),
            ));
        }
    }

    // Everything but the endpoint's own sleep happens under the lock, in request order, so the
    // fault draws are deterministic for a given seed and the state is never seen half-written.
    let (answer, fault) = {
        let mut inner = shared.lock();
        inner.stats.total += 1;
        let endpoint = format!(
            "{} {}",
            parts.method,
            route.as_ref().map_or("(unknown)", |r| r.pattern())
        );
        *inner.stats.by_endpoint.entry(endpoint).or_default() += 1;
        if route.as_ref().is_some_and(Route::is_public) && parts.headers.contains_key("apikey") {
            // A key sent where none is needed: counted, so tests can hold clients to never.
            inner.stats.public_with_key += 1;
        }
        let prices = shared.market_prices_for(route.as_ref());
        let request = ApiRequest {
            route,
            api_path,
            query: query.as_deref(),
            body: &body,
            headers: &parts.headers,
            is_write,
            prices,
        };
        let (answer, fault) = serve_api(&shared.config, &mut inner, request);
        let status = if fault == Some(Fault::ServerError) {
            500
        } else {
            answer.status.as_u16()
        };
        *inner.stats.by_status.entry(status).or_default() += 1;
        (answer, fault)
    };
    if !shared.config.faults.latency.is_zero() {
        tokio::time::sleep(shared.config.faults.latency).await;
    }
    match fault {
        None => respond(answer),
        Some(Fault::ServerError) => respond(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorBody::new("unknown_error", Some("Unknown error occurred")),
        )),
        Some(Fault::Slow) => {
            tokio::time::sleep(shared.config.faults.slow).await;
            respond(answer)
        }
        Some(Fault::Reset) => dropped_connection(),
    }
}

/// The `late` fault: run a write after its 504 was sent, with no fault of its own: after a
/// delay, or held until the next request or a control request commits it.
fn commit_late(
    shared: &Arc<Shared>,
    method: Method,
    api_path: &str,
    query: Option<String>,
    body: Bytes,
    headers: HeaderMap,
) {
    let write = HeldWrite {
        method,
        api_path: api_path.to_string(),
        query,
        body,
        headers,
    };
    match shared.config.faults.late_commit {
        LateCommit::After(delay) => {
            let shared = shared.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                commit_write(&shared, write);
            });
        }
        LateCommit::NextRequest | LateCommit::Held => shared
            .held_writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(write),
    }
}

/// Commit every held late write, in the order they came; returns how many.
fn commit_held(shared: &Shared) -> usize {
    let held: Vec<HeldWrite> =
        std::mem::take(&mut *shared.held_writes.lock().unwrap_or_else(|e| e.into_inner()));
    let n = held.len();
    for write in held {
        commit_write(shared, write);
    }
    n
}

fn commit_write(shared: &Shared, write: HeldWrite) {
    let quiet = SandboxConfig {
        faults: FaultSpec::default(),
        ..shared.config.clone()
    };
    let route = Route::parse(&write.method, &write.api_path);
    let prices = shared.market_prices_for(route.as_ref());
    let mut inner = shared.lock();
    let request = ApiRequest {
        route,
        api_path: &write.api_path,
        query: write.query.as_deref(),
        body: &write.body,
        headers: &write.headers,
        is_write: true,
        prices,
    };
    let (answer, _) = serve_api(&quiet, &mut inner, request);
    tracing::debug!(
        "late write {} {} committed: {}",
        write.method,
        write.api_path,
        answer.status
    );
}

/// One API request, as the handler read it.
struct ApiRequest<'a> {
    route: Option<Route>,
    api_path: &'a str,
    query: Option<&'a str>,
    body: &'a [u8],
    headers: &'a HeaderMap,
    is_write: bool,
    /// The market's last closes, for the endpoints that trade at the price now.
    prices: HashMap<String, Decimal>,
}

/// Limit, authenticate, draw a fault, run the endpoint and persist: the answer, and the fault to
/// deliver with it.
fn serve_api(
    config: &SandboxConfig,
    inner: &mut Inner,
    request: ApiRequest<'_>,
) -> (Answer, Option<Fault>) {
    if let Some(limited) = rate_limit(config, inner, request.route.as_ref()) {
        return (limited, None);
    }
    let Some(route) = request.route else {
        return (not_found(), None);
    };
    if let Err(denied) = authenticate(
        config,
        &route,
        request.api_path,
        request.query,
        request.body,
        request.headers,
    ) {
        return (denied, None);
    }
    let (draw, timing_draw): (f64, f64) = (inner.rng.random(), inner.rng.random());
    let fault = config.faults.pick(draw, timing_draw, request.is_write);
    if let Some((fault, Timing::Before)) = fault {
        return (
            error(StatusCode::INTERNAL_SERVER_ERROR, ErrorBody::default()),
            Some(fault),
        );
    }
    // Another process sharing the database may have written since the last request.
    if let Err(failed) = inner.refresh() {
        return (failed, None);
    }
    let mode = forced_mode(request.headers).unwrap_or(inner.state.default_mode);
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok());
    let mut params = match Params::parse(request.query, content_type, request.body) {
        Ok(params) => params,
        Err(reason) => {
            return (
                error(
                    StatusCode::BAD_REQUEST,
                    ErrorBody::new("invalid_params", Some(&reason)),
                ),
                None,
            );
        }
    };
    // A write is one transaction: the answer is given only once the change is committed, so a
    // restart never loses an acknowledged write, and a failed commit changes nothing.
    let delisted = inner.delisted.clone();
    let prices = &request.prices;
    let answer = if request.is_write {
        let race = match route {
            Route::CreateBot | Route::GridBotCreate => inner.race.take(),
            _ => None,
        };
        let write_on = |inner: &mut Inner, route: &Route, mut params: Params| {
            inner.write(mode, |state| {
                let next_bot_id = state.next_bot_id;
                let answer = run(config, state, &delisted, mode, route, &mut params, prices);
                let touched = answer
                    .mutated
                    .then(|| touched_by(route, next_bot_id, state));
                (answer, touched)
            })
        };
        let write = |inner: &mut Inner, params: Params| write_on(inner, &route, params);
        // A raced create is the same create sent twice, in two transactions: one answers this
        // request, the other is the twin another apply made.
        let written = match race {
            Some(Race::Before) => {
                write(inner, params.clone()).and_then(|_twin| write(inner, params))
            }
            Some(Race::BeforeDeletingOurs) => write(inner, params.clone())
                .and_then(|_twin| write(inner, params))
                .and_then(|answer| {
                    if let Some(ours) = answer.body["id"].as_i64() {
                        let delete = match route {
                            Route::GridBotCreate => Route::GridBotDelete(ours),
                            _ => Route::BotDelete(ours),
                        };
                        write_on(inner, &delete, Params::default())?;
                    }
                    Ok(answer)
                }),
            Some(Race::After) => write(inner, params.clone()).and_then(|answer| {
                write(inner, params)?;
                Ok(answer)
            }),
            None => write(inner, params),
        };
        match written {
            Ok(answer) => answer,
            Err(failed) => return (failed, None),
        }
    } else {
        run(
            config,
            &mut inner.state,
            &delisted,
            mode,
            &route,
            &mut params,
            prices,
        )
    };
    // `--quirks`: every bot and deal answer (reads, and the bot each write answers with) in the
    // odd shapes real responses have had.
    let answer = match (&route, config.quirks) {
        (
            Route::Bots
            | Route::BotShow(_)
            | Route::CreateBot
            | Route::BotUpdate(_)
            | Route::BotEnable(_)
            | Route::BotDisable(_),
            true,
        ) if answer.status.is_success() => Answer {
            body: match answer.body {
                Value::Array(bots) => Value::Array(bots.into_iter().map(quirky).collect()),
                bot => quirky(bot),
            },
            ..answer
        },
        (Route::Deals | Route::DealShow(_), true) if answer.status.is_success() => Answer {
            body: match answer.body {
                Value::Array(deals) => Value::Array(deals.into_iter().map(quirky_deal).collect()),
                deal => quirky_deal(deal),
            },
            ..answer
        },
        _ => answer,
    };
    (answer, fault.map(|(f, _)| f))
}

/// A bot entity in the shapes real 3Commas responses have had (FIDELITY-REVIEW.md, section 3):
/// an empty `custom_safety_steps` missing (two of three recorded 2025 bots), empty lists and
/// option maps as `null`, counters as strings, display keys missing, and keys botform has never
/// seen. A client must read all of it as the same bot.
/// A deal in the odd shapes real responses have had: counters as strings, a figure as a JSON
/// number instead of a string, an unknown key, a null where a list was.
pub fn quirky_deal(mut deal: Value) -> Value {
    let Some(entity) = deal.as_object_mut() else {
        return deal;
    };
    for counter in [
        "completed_safety_orders_count",
        "active_safety_orders_count",
        "current_active_safety_orders",
    ] {
        if let Some(n) = entity.get(counter).and_then(Value::as_i64) {
            entity.insert(counter.into(), Value::String(n.to_string()));
        }
    }
    for figure in ["bought_volume", "final_profit"] {
        if let Some(n) = entity
            .get(figure)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<f64>().ok())
            .and_then(serde_json::Number::from_f64)
        {
            entity.insert(figure.into(), Value::Number(n));
        }
    }
    entity.insert("a_key_3commas_added_later".into(), json!({"new": true}));
    if entity
        .get("orders")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        entity.insert("orders".into(), Value::Null);
    }
    deal
}

pub fn quirky(mut bot: Value) -> Value {
    let Some(entity) = bot.as_object_mut() else {
        return bot;
    };
    if entity["custom_safety_steps"]
        .as_array()
        .is_some_and(Vec::is_empty)
    {
        entity.remove("custom_safety_steps");
    }
    for list in [
        "close_strategy_list",
        "safety_strategy_list",
        "take_profit_steps",
    ] {
        if entity
            .get(list)
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            entity.insert(list.into(), Value::Null);
        }
    }
    if let Some(Value::Array(conditions)) = entity.get_mut("strategy_list") {
        for condition in conditions {
            if condition["options"]
                .as_object()
                .is_some_and(|o| o.is_empty())
            {
                condition["options"] = Value::Null;
            }
        }
    }
    for counter in [
        "max_safety_orders",
        "active_safety_orders_count",
        "active_deals_count",
        "close_deals_timeout",
    ] {
        if let Some(n) = entity.get(counter).and_then(Value::as_i64) {
            entity.insert(counter.into(), Value::String(n.to_string()));
        }
    }
    for display in [
        "easy_form_supported",
        "url_secret",
        "account_name",
        "finished_deals_profit_usd",
    ] {
        entity.remove(display);
    }
    entity.insert("reinvested_volume_usd".into(), "1e+30".into());
    entity.insert(
        "smart_cover_2026".into(),
        json!({ "enabled": false, "levels": [1, 2] }),
    );
    bot
}

/// What 3Commas answers when its own storage fails.
/// The answer when the database cannot be used: busy (another process holds its lock past the
/// short busy timeout), a 503 the client may retry after `Retry-After` (never a wait that holds
/// every other request behind it); anything else, the 500 3Commas gives when its storage fails.
fn store_failure(e: &super::store::StoreError, doing: &str) -> Answer {
    if e.is_busy() {
        tracing::warn!("the sandbox state is locked by another process: answering 503 ({e})");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorBody::new(
                "service_unavailable",
                Some("The state is busy; try again after Retry-After"),
            ),
        );
    }
    tracing::error!("cannot {doing} the sandbox state: {e}");
    state_failure()
}

fn state_failure() -> Answer {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorBody::new(
            "unknown_error",
            Some("Unknown error occurred#StateNotSaved"),
        ),
    )
}

/// The rows a successful write touched: the bot it names or creates, or the blacklist.
fn touched_by(route: &Route, next_bot_id_before: i64, state: &State) -> Touched {
    let mut touched = Touched::default();
    match route {
        Route::CreateBot | Route::BotCopy(_) => {
            touched.bots = (next_bot_id_before..state.next_bot_id).collect()
        }
        Route::BotUpdate(id)
        | Route::BotEnable(id)
        | Route::BotDisable(id)
        | Route::BotDelete(id) => {
            touched.bots.insert(*id);
        }
        Route::UpdateBlacklist => touched.blacklist = true,
        Route::GridBotCreate => {
            touched.grid_bots = (next_bot_id_before..state.next_bot_id).collect()
        }
        Route::GridBotUpdate(id)
        | Route::GridBotEnable(id)
        | Route::GridBotDisable(id)
        | Route::GridBotDelete(id)
        | Route::GridBotNote(id) => {
            touched.grid_bots.insert(*id);
        }
        Route::DealCancel(id)
        | Route::DealPanicSell(id)
        | Route::DealAddFunds(id)
        | Route::DealUpdate(id)
        | Route::DealUpdateMaxSafetyOrders(id) => {
            touched.deals.insert(*id);
        }
        _ => {}
    }
    touched
}

/// A response whose body fails at once: hyper drops the connection mid-answer.
fn dropped_connection() -> Response {
    let stream = failing_stream();
    let mut response = Response::new(Body::from_stream(stream));
    response
        .headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    response
}

fn failing_stream() -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    struct Failing(bool);
    impl futures_core::Stream for Failing {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            if self.0 {
                std::task::Poll::Ready(None)
            } else {
                self.0 = true;
                std::task::Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "sandbox fault: reset",
                ))))
            }
        }
    }
    Failing(false)
}

fn respond(answer: Answer) -> Response {
    let bytes = serde_json::to_vec(&answer.body).expect("JSON values serialize");
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = answer.status;
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if answer.status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert("retry-after", HeaderValue::from_static("1"));
    }
    headers.insert(
        "cache-control",
        HeaderValue::from_static(if answer.status.is_success() {
            "max-age=0, private, must-revalidate"
        } else {
            "no-cache"
        }),
    );
    let request_id = format!("{:032x}", rand::rng().random::<u128>());
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        headers.insert("x-request-id", v);
    }
    response
}

fn forced_mode(headers: &HeaderMap) -> Option<TradingMode> {
    TradingMode::parse(headers.get("forced-mode")?.to_str().ok()?.trim())
}

/// One limit: so many requests a minute, then 429 and a block; requests that keep coming during
/// the block earn a 418 ban (as 3Commas escalates).
#[derive(Debug, Default)]
struct RateWindow {
    sent: Vec<Instant>,
    blocked_until: Option<Instant>,
    while_blocked: u32,
}

impl RateWindow {
    fn admit(&mut self, limit: usize, block: Duration) -> Option<Answer> {
        let now = Instant::now();
        if let Some(until) = self.blocked_until {
            if now < until {
                self.while_blocked += 1;
                if self.while_blocked > 20 {
                    return Some(error(
                        StatusCode::IM_A_TEAPOT,
                        ErrorBody::new("ip_banned", Some("Your IP has been banned")),
                    ));
                }
                return Some(too_many());
            }
            *self = RateWindow::default();
        }
        self.sent
            .retain(|t| now.duration_since(*t) < Duration::from_secs(60));
        if self.sent.len() >= limit {
            self.blocked_until = Some(now + block);
            return Some(too_many());
        }
        self.sent.push(now);
        None
    }
}

/// 3Commas' limits (REFERENCE.md section 4): `rate_limit` a minute globally with a `block`; the
/// deals list and deal show 120 a minute (scaled with `rate_limit`) with a 60 s block.
fn rate_limit(config: &SandboxConfig, inner: &mut Inner, route: Option<&Route>) -> Option<Answer> {
    match route {
        Some(Route::Deals | Route::DealShow(_)) => {
            let limit = (config.rate_limit as usize).saturating_mul(6) / 5;
            inner
                .deals
                .admit(limit.max(1), config.block.min(Duration::from_secs(60)))
        }
        _ => inner.global.admit(config.rate_limit as usize, config.block),
    }
}

fn too_many() -> Answer {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorBody::new("rate_limit_exceeded", Some("Too many requests")),
    )
}

/// Check `Apikey` and `Signature` as 3Commas does; public endpoints need neither.
fn authenticate(
    config: &SandboxConfig,
    route: &Route,
    api_path: &str,
    query: Option<&str>,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<(), Answer> {
    if route.is_public() {
        return Ok(());
    }
    let unauthorized = |code: &str, description: &str| {
        error(
            StatusCode::UNAUTHORIZED,
            ErrorBody::new(code, Some(description)),
        )
    };
    let key = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The secret of the key sent, each key compared in constant time.
    let secret = std::iter::once((&config.api_key, &config.api_secret))
        .chain(config.extra_keys.iter().map(|(k, s)| (k, s)))
        .fold(None, |found, (k, s)| {
            let same: bool = subtle::ConstantTimeEq::ct_eq(key.as_bytes(), k.as_bytes()).into();
            found.or(same.then_some(s))
        });
    let Some(secret) = secret else {
        return Err(unauthorized(
            "api_key_invalid_or_expired",
            "Unauthorized. Invalid or expired api key.",
        ));
    };
    let signature = headers
        .get("signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = format!("/public/api{api_path}");
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    let mut full = path.clone().into_bytes();
    if let Some(q) = query {
        full.push(b'?');
        full.extend_from_slice(q.as_bytes());
    }
    full.extend_from_slice(body);
    candidates.push(full);
    if query.is_none() && !body.is_empty() {
        let mut with_mark = path.clone().into_bytes();
        with_mark.push(b'?');
        with_mark.extend_from_slice(body);
        candidates.push(with_mark);
    }
    // The bare path only signs a request that has neither a query nor a body: a signature
    // that leaves them out would let anyone who saw one request change its parameters.
    if query.is_none() && body.is_empty() {
        candidates.push(path.clone().into_bytes());
        candidates.push(format!("{path}?").into_bytes());
    }
    let secret = secret.as_bytes();
    // Check every candidate, so timing does not reveal which form nearly matched.
    let matched = candidates.iter().fold(false, |found, message| {
        signing::hmac_verify(secret, message, signature) | found
    });
    if matched {
        Ok(())
    } else {
        Err(unauthorized(
            "signature_invalid",
            "Provided signature is invalid",
        ))
    }
}

/// The endpoints the sandbox serves.
enum Route {
    Ping,
    Time,
    Validate,
    Accounts,
    Account(i64),
    AccountTableData(i64),
    MarketList,
    MarketPairs,
    CurrencyRates,
    Bots,
    CreateBot,
    StrategyList,
    Blacklist,
    UpdateBlacklist,
    BotsStats,
    BotShow(i64),
    BotUpdate(i64),
    BotEnable(i64),
    BotDisable(i64),
    BotDelete(i64),
    BotCopy(i64),
    BotDealsStats(i64),
    BotProfitByDay(i64),
    Deals,
    DealShow(i64),
    DealCancel(i64),
    DealPanicSell(i64),
    DealAddFunds(i64),
    DealUpdate(i64),
    DealUpdateMaxSafetyOrders(i64),
    SmartTrades,
    GridBots,
    GridBotCreate,
    GridBotShow(i64),
    GridBotUpdate(i64),
    GridBotEnable(i64),
    GridBotDisable(i64),
    GridBotDelete(i64),
    GridBotNote(i64),
    GridBotRequiredBalances(i64),
    GridBotProfits(i64),
    GridBotMarketOrders(i64),
    GridBotEvents(i64),
}

impl Route {
    fn parse(method: &Method, path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let id = |s: &str| s.parse::<i64>().ok();
        let get = *method == Method::GET;
        let post = *method == Method::POST;
        Some(match segments.as_slice() {
            ["ver1", "ping"] if get => Route::Ping,
            ["ver1", "time"] if get => Route::Time,
            ["ver1", "validate"] if get => Route::Validate,
            ["ver1", "accounts"] if get => Route::Accounts,
            ["ver1", "accounts", "market_list"] if get => Route::MarketList,
            ["ver1", "accounts", "market_pairs"] if get => Route::MarketPairs,
            ["ver1", "accounts", "currency_rates"] if get => Route::CurrencyRates,
            ["ver1", "accounts", a] if get => Route::Account(id(a)?),
            ["ver1", "accounts", a, "account_table_data"] if post => {
                Route::AccountTableData(id(a)?)
            }
            ["ver1", "bots"] if get => Route::Bots,
            ["ver1", "bots", "create_bot"] if post => Route::CreateBot,
            ["ver1", "bots", "strategy_list"] if get => Route::StrategyList,
            ["ver1", "bots", "pairs_black_list"] if get => Route::Blacklist,
            ["ver1", "bots", "update_pairs_black_list"] if post => Route::UpdateBlacklist,
            ["ver1", "bots", "stats"] if get => Route::BotsStats,
            ["ver1", "bots", b, "show"] if get => Route::BotShow(id(b)?),
            ["ver1", "bots", b, "update"] if *method == Method::PATCH => Route::BotUpdate(id(b)?),
            ["ver1", "bots", b, "enable"] if post => Route::BotEnable(id(b)?),
            ["ver1", "bots", b, "disable"] if post => Route::BotDisable(id(b)?),
            ["ver1", "bots", b, "delete"] if post => Route::BotDelete(id(b)?),
            ["ver1", "bots", b, "copy_and_create"] if post => Route::BotCopy(id(b)?),
            ["ver1", "bots", b, "deals_stats"] if get => Route::BotDealsStats(id(b)?),
            ["ver1", "bots", b, "profit_by_day"] if get => Route::BotProfitByDay(id(b)?),
            ["ver1", "deals"] if get => Route::Deals,
            ["ver1", "deals", d, "show"] if get => Route::DealShow(id(d)?),
            ["ver1", "deals", d, "cancel"] if post => Route::DealCancel(id(d)?),
            ["ver1", "deals", d, "panic_sell"] if post => Route::DealPanicSell(id(d)?),
            ["ver1", "deals", d, "add_funds"] if post => Route::DealAddFunds(id(d)?),
            ["ver1", "deals", d, "update_deal"] if *method == Method::PATCH => {
                Route::DealUpdate(id(d)?)
            }
            ["ver1", "deals", d, "update_max_safety_orders"] if post => {
                Route::DealUpdateMaxSafetyOrders(id(d)?)
            }
            ["v2", "smart_trades"] if get => Route::SmartTrades,
            ["ver1", "grid_bots"] if get => Route::GridBots,
            ["ver1", "grid_bots", "manual"] if post => Route::GridBotCreate,
            ["ver1", "grid_bots", g] if get => Route::GridBotShow(id(g)?),
            ["ver1", "grid_bots", g] if *method == Method::DELETE => Route::GridBotDelete(id(g)?),
            ["ver1", "grid_bots", g, "manual"] if *method == Method::PATCH => {
                Route::GridBotUpdate(id(g)?)
            }
            ["ver1", "grid_bots", g, "enable"] if post => Route::GridBotEnable(id(g)?),
            ["ver1", "grid_bots", g, "disable"] if post => Route::GridBotDisable(id(g)?),
            ["ver1", "grid_bots", g, "note"] if post => Route::GridBotNote(id(g)?),
            ["ver1", "grid_bots", g, "profits"] if get => Route::GridBotProfits(id(g)?),
            ["ver1", "grid_bots", g, "market_orders"] if get => Route::GridBotMarketOrders(id(g)?),
            ["ver1", "grid_bots", g, "events"] if get => Route::GridBotEvents(id(g)?),
            ["ver1", "grid_bots", g, "required_balances"] if get => {
                Route::GridBotRequiredBalances(id(g)?)
            }
            _ => return None,
        })
    }

    /// The path pattern, for request counts.
    fn pattern(&self) -> &'static str {
        match self {
            Route::Ping => "/ver1/ping",
            Route::Time => "/ver1/time",
            Route::Validate => "/ver1/validate",
            Route::Accounts => "/ver1/accounts",
            Route::Account(_) => "/ver1/accounts/{id}",
            Route::AccountTableData(_) => "/ver1/accounts/{id}/account_table_data",
            Route::MarketList => "/ver1/accounts/market_list",
            Route::MarketPairs => "/ver1/accounts/market_pairs",
            Route::CurrencyRates => "/ver1/accounts/currency_rates",
            Route::Bots => "/ver1/bots",
            Route::CreateBot => "/ver1/bots/create_bot",
            Route::StrategyList => "/ver1/bots/strategy_list",
            Route::Blacklist => "/ver1/bots/pairs_black_list",
            Route::UpdateBlacklist => "/ver1/bots/update_pairs_black_list",
            Route::BotsStats => "/ver1/bots/stats",
            Route::BotShow(_) => "/ver1/bots/{id}/show",
            Route::BotUpdate(_) => "/ver1/bots/{id}/update",
            Route::BotEnable(_) => "/ver1/bots/{id}/enable",
            Route::BotDisable(_) => "/ver1/bots/{id}/disable",
            Route::BotDelete(_) => "/ver1/bots/{id}/delete",
            Route::BotCopy(_) => "/ver1/bots/{id}/copy_and_create",
            Route::BotDealsStats(_) => "/ver1/bots/{id}/deals_stats",
            Route::BotProfitByDay(_) => "/ver1/bots/{id}/profit_by_day",
            Route::Deals => "/ver1/deals",
            Route::DealShow(_) => "/ver1/deals/{id}/show",
            Route::DealCancel(_) => "/ver1/deals/{id}/cancel",
            Route::DealPanicSell(_) => "/ver1/deals/{id}/panic_sell",
            Route::DealAddFunds(_) => "/ver1/deals/{id}/add_funds",
            Route::DealUpdate(_) => "/ver1/deals/{id}/update_deal",
            Route::DealUpdateMaxSafetyOrders(_) => "/ver1/deals/{id}/update_max_safety_orders",
            Route::SmartTrades => "/v2/smart_trades",
            Route::GridBots => "/ver1/grid_bots",
            Route::GridBotCreate => "/ver1/grid_bots/manual",
            Route::GridBotShow(_) | Route::GridBotDelete(_) => "/ver1/grid_bots/{id}",
            Route::GridBotUpdate(_) => "/ver1/grid_bots/{id}/manual",
            Route::GridBotEnable(_) => "/ver1/grid_bots/{id}/enable",
            Route::GridBotDisable(_) => "/ver1/grid_bots/{id}/disable",
            Route::GridBotNote(_) => "/ver1/grid_bots/{id}/note",
            Route::GridBotRequiredBalances(_) => "/ver1/grid_bots/{id}/required_balances",
            Route::GridBotProfits(_) => "/ver1/grid_bots/{id}/profits",
            Route::GridBotMarketOrders(_) => "/ver1/grid_bots/{id}/market_orders",
            Route::GridBotEvents(_) => "/ver1/grid_bots/{id}/events",
        }
    }

    fn is_public(&self) -> bool {
        matches!(
            self,
            Route::Ping
                | Route::Time
                | Route::MarketList
                | Route::MarketPairs
                | Route::CurrencyRates
        )
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("entities serialize")
}

fn random_secret() -> String {
    format!("{:010x}", rand::rng().random::<u64>() & 0xff_ffff_ffff)
}

/// Run one endpoint against the state.
#[allow(clippy::too_many_arguments)]
fn run(
    config: &SandboxConfig,
    state: &mut State,
    delisted: &std::collections::BTreeSet<String>,
    mode: TradingMode,
    route: &Route,
    p: &mut Params,
    prices: &HashMap<String, Decimal>,
) -> Answer {
    if matches!(route, Route::CreateBot | Route::BotUpdate(_))
        && let Some(items) = p.values.get("pairs").and_then(Value::as_array).cloned()
    {
        for pair in items.iter().filter_map(Value::as_str) {
            if delisted.contains(pair) {
                p.error("pairs", format!("No market data for this pair: {pair}"));
            }
        }
    }
    match route {
        Route::Ping | Route::Time if config.current_docs_only => not_found(),
        Route::Ping => ok(json!({ "pong": "pong" })),
        Route::Time => ok(json!({
            "server_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })),
        Route::Validate => ok(json!({ "valid": true })),
        Route::Accounts => ok(Value::Array(state.mode(mode).accounts.clone())),
        Route::Account(id) => state.mode(mode).account(*id).cloned().map(ok).unwrap_or_else(not_found),
        Route::AccountTableData(id) => account_table_data(state.mode(mode), *id),
        Route::MarketList => ok(Value::Array(
            state::MARKETS
                .iter()
                .map(|m| json!({ "market_name": m.name, "market_code": m.code, "market_url": "", "market_icon": "", "help_link": "", "form_fields": { "required": [], "optional": [] }, "available_connection_flows": ["form"], "third_party_allowed": false, "trusted_ips": [], "trusted_ips_input_type": "string", "fast_connect_action_name": null }))
                .collect(),
        )),
        Route::MarketPairs => {
            let code = p.string("market_code").unwrap_or_default();
            ok(json!(state::market(&code).map(|m| m.pairs.iter().map(|(pair, _)| *pair).filter(|pair| !delisted.contains(*pair)).collect::<Vec<_>>()).unwrap_or_default()))
        }
        Route::CurrencyRates => currency_rates(p),
        Route::Bots => list_bots(state.mode(mode), p),
        Route::CreateBot => create_bot(state, mode, p),
        Route::StrategyList => strategy_list(state.mode(mode), p),
        Route::Blacklist => ok(json!({ "pairs": state.mode(mode).blacklist })),
        Route::UpdateBlacklist => {
            p.require(&["pairs"]);
            let pairs: Vec<String> = p
                .array("pairs", true)
                .unwrap_or_default()
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if !p.errors.is_empty() {
                return invalid(std::mem::take(&mut p.errors));
            }
            let list = &mut state.mode_mut(mode).blacklist;
            if config.blacklist_adds {
                for pair in &pairs {
                    if !list.contains(pair) {
                        list.push(pair.clone());
                    }
                }
            } else {
                *list = pairs.clone();
            }
            created(json!({ "pairs": pairs }))
        }
        Route::BotsStats => bots_stats(state.mode(mode), p),
        Route::BotShow(id) => match state.mode(mode).bots.get(id) {
            Some(bot) => ok(with_active_deals(state.mode(mode), bot)),
            None => error(StatusCode::NOT_FOUND, ErrorBody::new("Not found", None)),
        },
        Route::BotUpdate(id) => {
            let ms = state.mode_mut(mode);
            let Some(existing) = ms.bots.get(id) else { return not_found() };
            let mut bot = existing.clone();
            let market = market_of(ms, bot.account_id);
            if p.has("account_id") && p.int("account_id") != Some(bot.account_id) {
                p.error("account_id", "Can't be changed");
            }
            bots::apply(&mut bot, p, &market, false);
            if !p.errors.is_empty() {
                return invalid(std::mem::take(&mut p.errors));
            }
            ms.bots.insert(*id, bot.clone());
            Answer { status: StatusCode::OK, body: to_json(&bot), mutated: true }
        }
        Route::BotEnable(id) | Route::BotDisable(id) => {
            let enable = matches!(route, Route::BotEnable(_));
            let ms = state.mode_mut(mode);
            let Some(bot) = ms.bots.get_mut(id) else { return not_found() };
            bot.is_enabled = enable;
            bot.updated_at = now_iso();
            let bot = bot.clone();
            created(with_active_deals(ms, &bot))
        }
        Route::BotDelete(id) => {
            let ms = state.mode_mut(mode);
            let Some(bot) = ms.bots.get(id) else { return not_found() };
            if active_deals(ms, *id).next().is_some() || !bot.deletable {
                return error(StatusCode::FORBIDDEN, ErrorBody::new("Forbidden", None));
            }
            ms.bots.remove(id);
            created(Value::Bool(true))
        }
        Route::BotCopy(id) => {
            p.require(&["name", "secret"]);
            let name = p.string("name");
            let secret = p.string("secret");
            if !p.errors.is_empty() {
                return invalid(std::mem::take(&mut p.errors));
            }
            let new_id = state.next_bot_id;
            let ms = state.mode_mut(mode);
            let Some(source) = ms.bots.get(id) else { return not_found() };
            if secret.as_deref() != Some(source.url_secret.as_str()) {
                return error(StatusCode::FORBIDDEN, ErrorBody::new("Forbidden", None));
            }
            let mut copy = source.clone();
            copy.id = new_id;
            copy.name = name.unwrap_or_default();
            copy.is_enabled = false;
            copy.url_secret = random_secret();
            copy.created_at = now_iso();
            copy.updated_at = copy.created_at.clone();
            copy.active_deals_count = 0;
            copy.finished_deals_count = Decimal::ZERO.into();
            let required = required_amount(&copy);
            ms.bots.insert(new_id, copy);
            state.next_bot_id += 1;
            created(json!({ "bot_id": new_id, "bot_required_amount": required }))
        }
        Route::BotDealsStats(id) => {
            let ms = state.mode(mode);
            if !ms.bots.contains_key(id) {
                return not_found();
            }
            ok(deals_stats(ms, *id))
        }
        Route::BotProfitByDay(id) => {
            let ms = state.mode(mode);
            if !ms.bots.contains_key(id) {
                return not_found();
            }
            let days = p.int("days").unwrap_or(30).clamp(1, 365);
            ok(profit_by_day(ms, *id, days))
        }
        Route::Deals => list_deals(state.mode(mode), p),
        Route::DealShow(id) => match state.mode(mode).deals.get(id) {
            Some(deal) => {
                let mut deal = deal.clone();
                deal["bot_events"] = json!([]);
                deal["buy_steps"] = json!([]);
                ok(deal)
            }
            None => not_found(),
        },
        Route::GridBots => answered(grids::list(state.mode(mode), p)).with_status(StatusCode::OK).read_only(),
        Route::GridBotShow(id) => answered(grids::show(state.mode(mode), *id)).with_status(StatusCode::OK).read_only(),
        Route::GridBotCreate => answered(grids::create(state, mode, p)),
        Route::GridBotUpdate(id) => answered(grids::update(state.mode_mut(mode), *id, p)).with_status(StatusCode::OK),
        Route::GridBotEnable(id) => answered(grids::set_enabled(state.mode_mut(mode), *id, true)),
        Route::GridBotDisable(id) => answered(grids::set_enabled(state.mode_mut(mode), *id, false)),
        Route::GridBotNote(id) => answered(grids::note(state.mode_mut(mode), *id, p)),
        // D-GP and D-GEV label their answers 201; L-SW says 200, as reads answer.
        Route::GridBotProfits(id) => answered(grids::profits(state.mode(mode), *id, p))
            .with_status(StatusCode::OK)
            .read_only(),
        Route::GridBotMarketOrders(id) => {
            answered(grids::market_orders(state.mode(mode), *id, p))
                .with_status(StatusCode::OK)
                .read_only()
        }
        Route::GridBotEvents(id) => answered(grids::events(state.mode(mode), *id, p))
            .with_status(StatusCode::OK)
            .read_only(),
        Route::GridBotRequiredBalances(id) => {
            let ms = state.mode(mode);
            let grid = ms.grid_bots.get(id).map(|g| &g.entity);
            let account_id = grid.and_then(|g| g["account_id"].as_i64()).unwrap_or_default();
            let market = ms
                .account(account_id)
                .and_then(|a| a["market_code"].as_str())
                .unwrap_or("binance")
                .to_string();
            let price = grid
                .and_then(|g| g["pair"].as_str())
                .and_then(|pair| state::price(&market, pair));
            answered(grids::required_balances(ms, *id, free_usdt(ms, account_id), price))
                .with_status(StatusCode::OK)
                .read_only()
        }
        // D-GX: 200 with an empty body.
        Route::GridBotDelete(id) => answered(grids::delete(state.mode_mut(mode), *id)).with_status(StatusCode::OK),
        Route::DealCancel(id) => answered(deals::cancel(state.mode_mut(mode), *id)),
        Route::DealPanicSell(id) => answered(deals::panic_sell(state.mode_mut(mode), *id)),
        Route::DealAddFunds(id) => {
            let price = deal_pair(state.mode(mode), *id).and_then(|pair| prices.get(&pair).copied());
            answered(deals::add_funds(state.mode_mut(mode), *id, p, price))
        }
        Route::DealUpdate(id) => {
            let price = deal_pair(state.mode(mode), *id).and_then(|pair| prices.get(&pair).copied());
            answered(deals::update_deal(state.mode_mut(mode), *id, p, price)).with_status(StatusCode::OK)
        }
        Route::DealUpdateMaxSafetyOrders(id) => {
            answered(deals::update_max_safety_orders(state.mode_mut(mode), *id, p))
        }
        Route::SmartTrades => list_smart_trades(state.mode(mode), p),
    }
}

fn deal_pair(ms: &ModeState, id: i64) -> Option<String> {
    ms.deals.get(&id)?["pair"].as_str().map(str::to_string)
}

/// A deal action's answer: 201 with what it returns, or its refusal (nothing changed).
/// An action's result as the answer: 201 with its body, or its refusal.
fn answered(result: Result<Value, deals::Refusal>) -> Answer {
    match result {
        Ok(body) => created(body),
        Err(refusal) => Answer {
            status: refusal.status,
            body: refusal.body,
            mutated: false,
        },
    }
}

impl Answer {
    /// The same answer with another success status (`update_deal` answers 200).
    fn with_status(mut self, status: StatusCode) -> Answer {
        if self.status.is_success() {
            self.status = status;
        }
        self
    }

    /// The same answer from a read: nothing to persist.
    fn read_only(mut self) -> Answer {
        self.mutated = false;
        self
    }
}

/// `GET /v2/smart_trades`: the account's SmartTrades (read only here), paged as 3Commas pages
/// them (`page` from 1, `per_page` 1..100, default 10), filtered by `account_id` and `status`.
fn list_smart_trades(ms: &ModeState, p: &mut Params) -> Answer {
    let page = p.int("page").unwrap_or(1).max(1);
    let per_page = p.int("per_page").unwrap_or(10);
    if !(1..=100).contains(&per_page) {
        p.error("per_page", NOT_VALID_VALUE);
    }
    let status = p
        .one_of(
            "status",
            &[
                "all",
                "active",
                "finished",
                "successfully_finish",
                "cancelled",
                "failed",
            ],
        )
        .unwrap_or_else(|| "all".into());
    let account = p.int("account_id");
    if !p.errors.is_empty() {
        return invalid(std::mem::take(&mut p.errors));
    }
    let matches = |t: &&Value| {
        let finished = t["data"]["finished"].as_bool() == Some(true);
        let basic = t["status"]["basic_type"].as_str().unwrap_or("");
        let status_ok = match status.as_str() {
            "active" => !finished,
            "finished" => finished,
            "successfully_finish" => finished && basic == "successfully_finished",
            "cancelled" => basic == "cancelled",
            "failed" => basic == "failed",
            _ => true,
        };
        status_ok && account.is_none_or(|a| t["account"]["id"].as_i64() == Some(a))
    };
    let page: Vec<Value> = ms
        .smart_trades
        .iter()
        .rev()
        .filter(matches)
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .cloned()
        .collect();
    ok(Value::Array(page))
}

/// `POST /trade_signal/trading_view`: TradingView's alert messages (see [`deals`]). No API key,
/// no signature: the email token in each message is the credential.
fn trade_signal(shared: &Shared, body: &[u8]) -> Answer {
    let messages = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(messages)) if messages.len() <= MAX_SIGNALS_PER_POST => messages,
        Ok(message @ Value::Object(_)) => vec![message],
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorBody::new(
                    "invalid_params",
                    Some(&format!(
                        "expected a JSON message object, or an array of at most {MAX_SIGNALS_PER_POST}"
                    )),
                ),
            );
        }
    };
    let mut inner = shared.lock();
    if let Err(failed) = inner.refresh() {
        return failed;
    }
    let token = shared.email_token(&inner.state);
    let mut refused: Option<(u16, String)> = None;
    for message in &messages {
        let mut outcome = deals::SignalOutcome {
            at: now_iso(),
            bot_id: None,
            action: deals::shown(message["action"].as_str().unwrap_or("start")),
            pair: deals::shown(message["pair"].as_str().unwrap_or("")),
            accepted: false,
            detail: String::new(),
            status: 200,
        };
        let read = deals::read_signal(message, &token);
        // The bot as the message names it (a number, or a number in a string).
        outcome.bot_id = match &read {
            Ok(signal) => Some(signal.bot_id),
            Err((_, _, bot_id)) => *bot_id,
        };
        let result = read
            .map_err(|(status, why, _)| (status, why))
            .and_then(|signal| {
                let mode = deals::mode_of_bot(&inner.state, signal.bot_id)
                    .ok_or((404, format!("bot {} not found", signal.bot_id)))?;
                let written = inner.write(mode, |state| {
                    let mut next = state.next_deal_id;
                    let result =
                        deals::run_signal(state.mode_mut(mode), &mut next, &signal, |pair| {
                            shared.market_price(pair)
                        });
                    state.next_deal_id = next;
                    let touched = result
                        .as_ref()
                        .ok()
                        .and_then(|(_, id)| *id)
                        .map(|id| Touched {
                            deals: [id].into(),
                            ..Touched::default()
                        });
                    (result, touched)
                });
                match written {
                    Ok(result) => result,
                    Err(failed) => {
                        Err((failed.status.as_u16(), "the sandbox could not save".into()))
                    }
                }
            });
        match result {
            Ok((did, _)) => {
                outcome.accepted = true;
                outcome.detail = did;
            }
            Err((status, why)) => {
                outcome.status = status;
                outcome.detail = why.clone();
                refused.get_or_insert((status, why));
            }
        }
        shared.log_signal(outcome);
    }
    match refused {
        None => ok(json!("Success!")),
        Some((401, why)) => error(
            StatusCode::UNAUTHORIZED,
            ErrorBody::new("access_denied", Some(&why)),
        ),
        Some((status, why)) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
            ErrorBody::new("signal_refused", Some(&why)),
        ),
    }
}

/// Put a SmartTrade (v2 entity) into the account, as the web app would: `POST
/// /__sandbox/smart_trades` (`"mode"` as for deals). In memory only, for tests.
fn add_smart_trade(shared: &Shared, body: &[u8]) -> Answer {
    let Ok(Value::Object(mut trade)) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorBody::new("invalid_params", Some("expected a SmartTrade JSON object")),
        );
    };
    let mut inner = shared.lock();
    let mode = trade
        .remove("mode")
        .and_then(|m| m.as_str().and_then(TradingMode::parse))
        .unwrap_or(inner.state.default_mode);
    let trade = Value::Object(trade);
    inner.state.mode_mut(mode).smart_trades.push(trade.clone());
    ok(trade)
}

fn market_of(ms: &ModeState, account_id: i64) -> String {
    ms.account(account_id)
        .and_then(|a| a["market_code"].as_str())
        .unwrap_or("")
        .to_string()
}

fn create_bot(state: &mut State, mode: TradingMode, p: &mut Params) -> Answer {
    let account_id = p.int("account_id");
    let ms = state.mode(mode);
    let account = account_id.and_then(|id| ms.account(id));
    if account_id.is_some() && account.is_none() {
        p.error("account_id", NOT_VALID_VALUE);
    }
    let account_name = account
        .and_then(|a| a["name"].as_str())
        .unwrap_or("")
        .to_string();
    let market = account_id.map(|id| market_of(ms, id)).unwrap_or_default();
    let mut bot = bots::new_bot(
        state.next_bot_id,
        account_id.unwrap_or(0),
        &account_name,
        random_secret(),
    );
    bots::apply(&mut bot, p, &market, true);
    let kind = account
        .and_then(|a| a["type"].as_str())
        .unwrap_or("")
        .to_string();
    let catalogue: Value =
        serde_json::from_str(STRATEGY_LIST_JSON).expect("embedded strategy list");
    for (field, list) in [
        ("strategy_list", &bot.strategy_list),
        ("safety_strategy_list", &bot.safety_strategy_list),
        ("close_strategy_list", &bot.close_strategy_list),
    ] {
        let unavailable = list.iter().any(|s| {
            catalogue[&s.strategy]["accounts_whitelist"]
                .as_array()
                .is_some_and(|allowed| !allowed.iter().any(|t| t.as_str() == Some(&kind)))
        });
        if unavailable {
            p.error(field, "Strategy is not available for this account");
        }
    }
    if !p.errors.is_empty() {
        return invalid(std::mem::take(&mut p.errors));
    }
    state.next_bot_id += 1;
    state.mode_mut(mode).bots.insert(bot.id, bot.clone());
    created(to_json(&bot))
}

/// `GET /ver1/bots/strategy_list`: the catalogue; for an `account_id`, only what that account
/// may use (an entry whose `accounts_whitelist` leaves its type out is not offered).
fn strategy_list(ms: &ModeState, p: &mut Params) -> Answer {
    let mut list: serde_json::Map<String, Value> =
        serde_json::from_str(STRATEGY_LIST_JSON).expect("embedded strategy list");
    if let Some(id) = p.int("account_id") {
        let Some(account) = ms.account(id) else {
            return not_found();
        };
        let kind = account["type"].as_str().unwrap_or("").to_string();
        list.retain(|_, entry| match entry["accounts_whitelist"].as_array() {
            Some(allowed) => allowed.iter().any(|t| t.as_str() == Some(&kind)),
            None => true,
        });
    }
    ok(Value::Object(list))
}

fn list_bots(ms: &ModeState, p: &mut Params) -> Answer {
    if let Some(from) = p.string("from")
        && from.chars().all(|c| c.is_ascii_digit())
    {
        // What 3Commas does with epoch milliseconds.
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorBody::new(
                "unknown_error",
                Some("Unknown error occurred#ActiveRecord::StatementInvalid"),
            ),
        );
    }
    let scope = p.one_of("scope", &["enabled", "disabled"]);
    let limit = p.int_in("limit", 1, 100).or(Some(50));
    let offset = p.int_in("offset", 0, i64::MAX).or(Some(0));
    let account = p.int("account_id");
    let strategy = p.one_of("strategy", &["long", "short"]);
    let direction = p
        .string("order_direction")
        .or_else(|| p.string("sort_direction"))
        .unwrap_or_else(|| "DESC".into());
    if !matches!(direction.to_ascii_uppercase().as_str(), "ASC" | "DESC") {
        p.error("order_direction", NOT_VALID_VALUE);
    }
    if !p.errors.is_empty() {
        return invalid(std::mem::take(&mut p.errors));
    }
    let mut bots: Vec<&WireBot> = ms
        .bots
        .values()
        .filter(|b| account.is_none_or(|a| b.account_id == a))
        .filter(|b| strategy.as_deref().is_none_or(|s| b.strategy == s))
        .filter(|b| match scope.as_deref() {
            Some("enabled") => b.is_enabled,
            Some("disabled") => !b.is_enabled,
            _ => true,
        })
        .collect();
    // Newest first by default (ids grow with creation time).
    bots.sort_by_key(|b| (b.created_at.clone(), b.id));
    if direction.eq_ignore_ascii_case("DESC") {
        bots.reverse();
    }
    let page: Vec<Value> = bots
        .into_iter()
        .skip(offset.unwrap_or(0) as usize)
        .take(limit.unwrap_or(50) as usize)
        .map(|b| {
            let mut b = b.clone();
            b.active_deals_count = active_deals(ms, b.id).count() as i64;
            to_json(&b)
        })
        .collect();
    ok(Value::Array(page))
}

fn active_deals(ms: &ModeState, bot_id: i64) -> impl Iterator<Item = &Value> {
    ms.deals.values().filter(move |d| {
        d["bot_id"].as_i64() == Some(bot_id) && d["finished?"].as_bool() != Some(true)
    })
}

fn with_active_deals(ms: &ModeState, bot: &WireBot) -> Value {
    let mut bot = bot.clone();
    let deals: Vec<Value> = active_deals(ms, bot.id).cloned().collect();
    bot.active_deals_count = deals.len() as i64;
    bot.deletable = deals.is_empty();
    bot.active_deals = Some(deals);
    to_json(&bot)
}

fn required_amount(bot: &WireBot) -> Value {
    let base = bot.base_order_volume.unwrap_or_default();
    let so = bot.safety_order_volume.unwrap_or_default();
    let total = base + so * Decimal::from_int(bot.max_safety_orders);
    serde_json::from_str(&total.to_string()).unwrap_or(Value::Null)
}

fn currency_rates(p: &mut Params) -> Answer {
    p.require(&["market_code", "pair"]);
    let market = p.string("market_code").unwrap_or_default();
    let pair = p.string("pair").unwrap_or_default();
    // The docs' two values; the limits are the same for both here.
    p.one_of("limit_type", &["bot", "smart_trade"]);
    if !p.errors.is_empty() {
        return invalid(std::mem::take(&mut p.errors));
    }
    let Some(price) = state::price(&market, &pair) else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorBody::new(&format!("No market data for this pair: {pair}"), None),
        );
    };
    let s = |d: Decimal| d.to_string();
    let quote = pair.split('_').next().unwrap_or("");
    let step: Decimal = "0.01".parse().expect("literal");
    let min_total = ruby_decimal::format(&super::bots::min_total(&pair));
    ok(json!({
        "last": s(price), "bid": s(price), "ask": s(price + step),
        "orderbook_ask": s(price + step), "orderbook_bid": s(price), "orderbook_last": s(price),
        "orderbook_price_currency": quote, "strategy_name": "orderbook_price",
        "contract_strategy_name": "orderbook_price", "instrumentKind": "spot",
        "minPrice": "0.01", "maxPrice": "1000000.0", "priceStep": "0.01", "minLotSize": "0.00001",
        "lotStep": "0.00001", "maxMarketBuyAmount": "100.0", "maxMarketSellAmount": "100.0",
        "bidMultiplierDown": "0.2", "bidMultiplierUp": "5.0", "askMultiplierUp": "5.0",
        "askMultiplierDown": "0.2", "minTotal": min_total, "minMarketTotal": min_total,
        "maxTotal": "9000000.0", "maxLotSize": "9000.0"
    }))
}

/// `POST /ver1/accounts/{id}/account_table_data`: the account's value (`usd_amount`) held in
/// USDT, less what its open USDT deals have spent, in the shape of the docs' example (figures as
/// JSON numbers, as the example sends them though the docs type them as strings). Answered 201,
/// as documented, and changes nothing.
fn account_table_data(ms: &ModeState, account_id: i64) -> Answer {
    let Some(account) = ms.account(account_id) else {
        return not_found();
    };
    let position = deal_decimal(account, "usd_amount");
    let available = free_usdt(ms, account_id);
    let number =
        |d: Decimal| -> Value { serde_json::from_str(&d.to_string()).unwrap_or(Value::Null) };
    let btc = state::price("binance", "USDT_BTC").unwrap_or(Decimal::from_int(1));
    Answer {
        status: StatusCode::CREATED,
        body: json!([{
            "currency_code": "USDT", "currency_name": "Tether", "currency_icon": "",
            "currency_slug": "tether", "percentage": 100.0,
            "position": number(position), "position_available": number(available),
            "position_type": 0, "borrowed": 0, "on_orders": 0, "on_orders_with_leverage": 0,
            "on_orders_long": 0, "on_orders_short": 0, "equity": number(position),
            "current_price": number((Decimal::from_int(1) / btc).round_dp(10)),
            "current_price_usd": 1.0, "day_change_percent": 0.0, "day_change_percent_btc": 0.0,
            "day_change_percent_usd": 0.0,
            "btc_value": number((position / btc).round_dp(10)), "usd_value": number(position),
            "available_long": 0, "available_short": 0, "available_with_leverage_long": 0,
            "available_with_leverage_short": 0, "account_id": account_id, "is_wallet": false
        }]),
        mutated: false,
    }
}

/// An account's free USDT: its value (`usd_amount`) less what its open USDT deals have spent.
pub(super) fn free_usdt(ms: &ModeState, account_id: i64) -> Decimal {
    let Some(account) = ms.account(account_id) else {
        return Decimal::ZERO;
    };
    let position = deal_decimal(account, "usd_amount");
    let spent: Decimal = ms
        .deals
        .values()
        .filter(|d| {
            d["account_id"].as_i64() == Some(account_id)
                && d["finished?"].as_bool() != Some(true)
                && d["from_currency"] == "USDT"
        })
        .map(|d| deal_decimal(d, "bought_volume"))
        .sum();
    if spent > position {
        Decimal::ZERO
    } else {
        position - spent
    }
}

fn deals_stats(ms: &ModeState, bot_id: i64) -> Value {
    let deals: Vec<&Value> = ms
        .deals
        .values()
        .filter(|d| d["bot_id"].as_i64() == Some(bot_id))
        .collect();
    let finished = |d: &&&Value| d["finished?"].as_bool() == Some(true);
    let active: Vec<&&Value> = deals.iter().filter(|d| !finished(d)).collect();
    let completed: Vec<&&Value> = deals
        .iter()
        .filter(|d| finished(d) && d["status"] == "completed")
        .collect();
    let panic_sold = deals.iter().filter(|d| d["status"] == "panic_sold").count();
    let sum = |ds: &[&&Value], f: &str| ds.iter().map(|d| deal_decimal(d, f)).sum::<Decimal>();
    let f = |d: Decimal| ruby_decimal::format(&d);
    json!({
        "active": active.len(),
        "completed": completed.len(),
        "panic_sold": panic_sold,
        "from_currency_is_dollars": true,
        "completed_deals_usd_profit": f(sum(&completed, "usd_final_profit")),
        "completed_deals_btc_profit": "0.0",
        "funds_locked_in_active_deals": f(sum(&active, "bought_volume")),
        "btc_funds_locked_in_active_deals": "0.0",
        "active_deals_usd_profit": f(sum(&active, "actual_usd_profit")),
        "active_deals_btc_profit": "0.0"
    })
}

fn bots_stats(ms: &ModeState, p: &mut Params) -> Answer {
    let bot = p.int("bot_id");
    let account = p.int("account_id");
    let deals: Vec<&Value> = ms
        .deals
        .values()
        .filter(|d| bot.is_none_or(|b| d["bot_id"].as_i64() == Some(b)))
        .filter(|d| account.is_none_or(|a| d["account_id"].as_i64() == Some(a)))
        .collect();
    let mut overall: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut usd = Decimal::ZERO;
    let mut active_usd = Decimal::ZERO;
    let mut locked = Decimal::ZERO;
    for d in &deals {
        let quote = d["from_currency"].as_str().unwrap_or("USDT").to_string();
        if d["finished?"].as_bool() == Some(true) {
            *overall.entry(quote).or_default() =
                overall.get(&quote).copied().unwrap_or_default() + deal_decimal(d, "final_profit");
            usd += deal_decimal(d, "usd_final_profit");
        } else {
            active_usd += deal_decimal(d, "actual_usd_profit");
            locked += deal_decimal(d, "bought_volume");
        }
    }
    let num = |d: Decimal| {
        serde_json::from_str::<Value>(&d.round_dp(8).to_string()).unwrap_or(Value::Null)
    };
    ok(json!({
        "overall_stats": overall.iter().map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect::<serde_json::Map<_, _>>(),
        "today_stats": {},
        "profits_in_usd": {
            "overall_usd_profit": num(usd),
            "today_usd_profit": 0,
            "active_deals_usd_profit": num(active_usd),
            "funds_locked_in_active_deals": num(locked)
        }
    }))
}

fn profit_by_day(ms: &ModeState, bot_id: i64, days: i64) -> Value {
    let now_day = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 86_400) as i64;
    let mut by_day: BTreeMap<i64, Decimal> = BTreeMap::new();
    for d in ms
        .deals
        .values()
        .filter(|d| d["bot_id"].as_i64() == Some(bot_id) && d["finished?"].as_bool() == Some(true))
    {
        let day = d["closed_at"].as_str().and_then(day_of).unwrap_or(now_day);
        if now_day - day < days {
            *by_day.entry(day).or_default() =
                by_day.get(&day).copied().unwrap_or_default() + deal_decimal(d, "usd_final_profit");
        }
    }
    let data: Vec<Value> = by_day
        .into_iter()
        .map(|(day, usd)| {
            let (y, m, dd) = state::civil_from_days(day);
            json!({ "s_date": format!("{y:04}-{m:02}-{dd:02}"), "unix_timestamp": day * 86_400, "profit": { "btc": "0.0", "usd": usd.round_dp(2).to_string() } })
        })
        .collect();
    json!({ "data": data })
}

/// Days since the epoch of an ISO date (`2024-10-28T...`).
fn day_of(iso: &str) -> Option<i64> {
    let (y, rest) = iso.split_once('-')?;
    let (m, rest) = rest.split_once('-')?;
    let d = rest.get(..2)?;
    let (y, m, d): (i64, i64, i64) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    // Inverse of civil_from_days.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn list_deals(ms: &ModeState, p: &mut Params) -> Answer {
    let bot = p.int("bot_id");
    let account = p.int("account_id");
    let scope = p.string("scope");
    let limit = p.int_in("limit", 1, 1000).or(Some(50));
    let offset = p.int_in("offset", 0, i64::MAX).or(Some(0));
    let order = p.string("order");
    let descending = !p
        .string("order_direction")
        .or_else(|| p.string("sort_direction"))
        .is_some_and(|d| d.eq_ignore_ascii_case("asc"));
    let key = match order.as_deref() {
        None | Some("created_at") => "created_at",
        Some(o @ ("updated_at" | "closed_at" | "profit" | "profit_percentage")) => o,
        Some(_) => {
            p.errors.insert(
                "order".to_string(),
                vec!["does not have a valid value".to_string()],
            );
            ""
        }
    };
    if !p.errors.is_empty() {
        return invalid(std::mem::take(&mut p.errors));
    }
    let mut deals: Vec<&Value> = ms
        .deals
        .values()
        .filter(|d| bot.is_none_or(|b| d["bot_id"].as_i64() == Some(b)))
        .filter(|d| account.is_none_or(|a| d["account_id"].as_i64() == Some(a)))
        .filter(|d| {
            let finished = d["finished?"].as_bool() == Some(true);
            match scope.as_deref() {
                Some("active") => !finished,
                Some("finished") => finished,
                Some(status @ ("completed" | "cancelled" | "failed")) => d["status"] == status,
                _ => true,
            }
        })
        .collect();
    // Ties (and deals without the key: an open deal has no `closed_at`) keep the id order.
    let sort_key = |d: &Value| -> (Option<String>, Option<Decimal>) {
        match key {
            "profit" => (
                None,
                d["final_profit"].as_str().and_then(|v| v.parse().ok()),
            ),
            "profit_percentage" => (
                None,
                d["final_profit_percentage"]
                    .as_str()
                    .and_then(|v| v.parse().ok()),
            ),
            _ => (d[key].as_str().map(str::to_string), None),
        }
    };
    deals.sort_by_cached_key(|d| sort_key(d));
    if descending {
        deals.reverse();
    }
    ok(Value::Array(
        deals
            .into_iter()
            .skip(offset.unwrap_or(0) as usize)
            .take(limit.unwrap_or(50) as usize)
            .cloned()
            .collect(),
    ))
}

/// Unsigned, loopback-only endpoints for tests and benchmarks.
fn control_endpoint(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Answer {
    match (method.as_str(), path) {
        ("GET", "stats") => {
            let inner = shared.lock();
            ok(json!({
                "total": inner.stats.total,
                "public_with_key": inner.stats.public_with_key,
                "by_endpoint": inner.stats.by_endpoint,
                "by_status": inner.stats.by_status.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
            }))
        }
        ("POST", "stats/reset") => {
            shared.lock().stats = Stats::default();
            ok(json!({ "reset": true }))
        }
        ("GET", "state") => {
            let mut inner = shared.lock();
            match inner.refresh() {
                Ok(()) => ok(to_json(&inner.state)),
                Err(failed) => failed,
            }
        }
        ("GET", "market") => {
            let progress = *shared
                .market_progress
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            ok(json!({
                "market": shared.config.market.is_some(),
                "ticks": progress.ticks,
                "replayed": progress.replayed,
            }))
        }
        ("POST", "delist") => {
            let Ok(request) = serde_json::from_slice::<Value>(body) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    ErrorBody::new("invalid_params", Some("expected {\"pair\": \"USDT_ETH\"}")),
                );
            };
            let pair = request["pair"].as_str().unwrap_or("").to_string();
            shared.lock().delisted.insert(pair.clone());
            ok(json!({ "delisted": pair }))
        }
        ("POST", "race") => {
            let race = match serde_json::from_slice::<Value>(body)
                .ok()
                .as_ref()
                .and_then(|r| r["twin"].as_str())
            {
                Some("before") => Race::Before,
                Some("after") => Race::After,
                Some("before_deleting_ours") => Race::BeforeDeletingOurs,
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        ErrorBody::new(
                            "invalid_params",
                            Some(
                                "expected {\"twin\": \"before\"}, {\"twin\": \"after\"} or {\"twin\": \"before_deleting_ours\"}",
                            ),
                        ),
                    );
                }
            };
            shared.lock().race = Some(race);
            ok(json!({ "armed": true }))
        }
        ("POST", "late/commit") => ok(json!({ "committed": commit_held(shared) })),
        ("GET", "late") => ok(json!({
            "held": shared.held_writes.lock().unwrap_or_else(|e| e.into_inner()).len()
        })),
        ("POST", "deals") => add_deal(shared, body),
        ("GET", "signals") => ok(json!(
            shared
                .signal_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .collect::<Vec<_>>()
        )),
        ("POST", "smart_trades") => add_smart_trade(shared, body),
        ("POST", "blacklist") => set_blacklist(shared, body),
        ("POST", "bots") => seed_bots(shared, body),
        ("POST", path) if path.starts_with("bots/") => patch_bot(shared, &path[5..], body),
        ("POST", path) if path.starts_with("accounts/") => patch_account(shared, &path[9..], body),
        _ => not_found(),
    }
}

/// Merge JSON into an account, as 3Commas might show it (`{"type": "Account::KucoinAccount"}`):
/// `POST /__sandbox/accounts/{id}`. In memory, for tests of what depends on the account (its
/// `strategy_list`); a sandbox sharing a database with other processes does not pass it on.
fn patch_account(shared: &Shared, id: &str, body: &[u8]) -> Answer {
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let Ok(Value::Object(patch)) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorBody::new("invalid_params", Some("expected a JSON object")),
        );
    };
    let mut inner = shared.lock();
    let mode = inner.state.default_mode;
    let Some(account) = inner
        .state
        .mode_mut(mode)
        .accounts
        .iter_mut()
        .find(|a| a["id"].as_i64() == Some(id))
    else {
        return not_found();
    };
    if let Some(map) = account.as_object_mut() {
        map.extend(patch);
    }
    ok(account.clone())
}

/// Merge JSON into a stored bot entity, as 3Commas might change it on its own (a new value of a
/// setting, a field the web app set): `POST /__sandbox/bots/{id}` with `{"take_profit_type":
/// "weird"}` (and `"mode": "paper"` for a paper bot).
fn patch_bot(shared: &Shared, id: &str, body: &[u8]) -> Answer {
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let Ok(Value::Object(mut patch)) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorBody::new("invalid_params", Some("expected a JSON object")),
        );
    };
    let mut inner = shared.lock();
    if let Err(failed) = inner.refresh() {
        return failed;
    }
    let mode = patch
        .remove("mode")
        .and_then(|m| m.as_str().and_then(TradingMode::parse))
        .unwrap_or(inner.state.default_mode);
    let Some(bot) = inner.state.mode(mode).bots.get(&id) else {
        return not_found();
    };
    let mut entity = to_json(bot);
    if let Some(map) = entity.as_object_mut() {
        map.extend(patch);
    }
    let patched: WireBot = match serde_json::from_value(entity) {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorBody::new("invalid_params", Some(&e.to_string())),
            );
        }
    };
    let saved = inner.write(mode, |state| {
        state.mode_mut(mode).bots.insert(id, patched.clone());
        let touched = Touched {
            bots: [id].into(),
            ..Touched::default()
        };
        (to_json(&patched), Some(touched))
    });
    saved.map(ok).unwrap_or_else(|failed| failed)
}

/// The sandbox's state, fresh from its store, and the mode a control request names (`"mode"`,
/// else the sandbox's default).
fn control_lock<'a>(
    shared: &'a Shared,
    request: &Value,
) -> Result<(std::sync::MutexGuard<'a, Inner>, TradingMode), Answer> {
    let mut inner = shared.lock();
    inner.refresh()?;
    let mode = request["mode"]
        .as_str()
        .and_then(TradingMode::parse)
        .unwrap_or(inner.state.default_mode);
    Ok((inner, mode))
}

/// Create many bots at once, each through the same checks as `POST /ver1/bots/create_bot`:
/// `POST /__sandbox/bots` with `{"bots": [{create_bot params}, ...], "mode": "paper"}`. For tests
/// and benchmarks that need a large account without minutes of paced creates; all or nothing.
fn seed_bots(shared: &Shared, body: &[u8]) -> Answer {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(bots) = request["bots"].as_array().cloned() else {
        return invalid(Attributes::from([(
            "bots".to_string(),
            vec!["is missing".to_string()],
        )]));
    };
    let (mut inner, mode) = match control_lock(shared, &request) {
        Ok(locked) => locked,
        Err(failed) => return failed,
    };
    // Check every bot on a copy first: a bad one leaves the state untouched.
    let mut trial = inner.state.clone();
    for (i, params) in bots.iter().enumerate() {
        let body = serde_json::to_vec(params).unwrap_or_default();
        let mut p = match Params::parse(None, Some("application/json"), &body) {
            Ok(p) => p,
            Err(e) => return invalid(Attributes::from([(format!("bots[{i}]"), vec![e])])),
        };
        let before = trial.next_bot_id;
        let answer = create_bot(&mut trial, mode, &mut p);
        if trial.next_bot_id == before {
            return answer;
        }
    }
    let saved = inner.write(mode, |state| {
        let first = state.next_bot_id;
        *state = trial;
        let touched = Touched {
            bots: (first..state.next_bot_id).collect(),
            ..Touched::default()
        };
        (
            json!({ "created": state.next_bot_id - first }),
            Some(touched),
        )
    });
    saved.map(created).unwrap_or_else(|failed| failed)
}

/// Replace the pairs blacklist, as a person does in 3Commas' web app: `POST
/// /__sandbox/blacklist` with `{"pairs": [...], "mode": "paper"}` (mode optional).
fn set_blacklist(shared: &Shared, body: &[u8]) -> Answer {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(pairs) = request["pairs"].as_array().map(|p| {
        p.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect::<Vec<_>>()
    }) else {
        return invalid(Attributes::from([(
            "pairs".to_string(),
            vec!["is missing".to_string()],
        )]));
    };
    let (mut inner, mode) = match control_lock(shared, &request) {
        Ok(locked) => locked,
        Err(failed) => return failed,
    };
    let saved = inner.write(mode, |state| {
        state.mode_mut(mode).blacklist = pairs.clone();
        let touched = Touched {
            blacklist: true,
            ..Touched::default()
        };
        (json!({ "pairs": pairs }), Some(touched))
    });
    saved.map(ok).unwrap_or_else(|failed| failed)
}

/// Open (or record a finished) deal for a bot: `{"bot_id": 1, "mode": "real", "status":
/// "bought", "usd_final_profit": "1.2", "closed_at": "..."}`.
fn add_deal(shared: &Shared, body: &[u8]) -> Answer {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorBody::new("invalid_params", Some("expected a JSON object")),
        );
    };
    let (mut inner, mode) = match control_lock(shared, &request) {
        Ok(locked) => locked,
        Err(failed) => return failed,
    };
    let Some(bot_id) = request["bot_id"].as_i64() else {
        return invalid(Attributes::from([(
            "bot_id".to_string(),
            vec!["is missing".to_string()],
        )]));
    };
    let Some(bot) = inner.state.mode(mode).bots.get(&bot_id).cloned() else {
        return not_found();
    };
    let mut deal: Value = serde_json::from_str(DEAL_TEMPLATE).expect("embedded deal template");
    let status = request["status"].as_str().unwrap_or("bought").to_string();
    let finished = deals::FINAL_STATUSES.contains(&status.as_str());
    let pair = bot.pairs.first().cloned().unwrap_or_default();
    let (quote, base) = pair.split_once('_').unwrap_or(("USDT", ""));
    deal["bot_id"] = bot_id.into();
    deal["bot_name"] = bot.name.clone().into();
    deal["account_id"] = bot.account_id.into();
    deal["account_name"] = bot.account_name.clone().into();
    deal["pair"] = pair.clone().into();
    deal["from_currency"] = quote.into();
    deal["to_currency"] = base.into();
    deal["status"] = status.clone().into();
    deal["finished?"] = finished.into();
    deal["created_at"] = now_iso().into();
    deal["updated_at"] = now_iso().into();
    deal["closed_at"] = if finished {
        request
            .get("closed_at")
            .cloned()
            .unwrap_or_else(|| now_iso().into())
    } else {
        Value::Null
    };
    // A deal shows the settings its bot had when it opened.
    let figure = |d: Option<Decimal>| d.map_or(Value::Null, |d| Value::String(d.to_string()));
    deal["take_profit"] = figure(bot.take_profit);
    deal["stop_loss_percentage"] = figure(bot.stop_loss_percentage.or(Some(Decimal::ZERO)));
    deal["max_safety_orders"] = bot.max_safety_orders.into();
    deal["base_order_volume"] = figure(bot.base_order_volume);
    deal["safety_order_volume"] = figure(bot.safety_order_volume);
    for field in [
        "usd_final_profit",
        "final_profit",
        "actual_usd_profit",
        "bought_volume",
        "completed_safety_orders_count",
        "created_at",
        "take_profit",
        "stop_loss_percentage",
        "max_safety_orders",
    ] {
        if let Some(v) = request.get(field) {
            deal[field] = v.clone();
        }
    }
    let saved = inner.write(mode, |state| {
        let id = state.next_deal_id;
        state.next_deal_id += 1;
        deal["id"] = id.into();
        state.mode_mut(mode).deals.insert(id, deal.clone());
        let touched = Touched {
            deals: [id].into(),
            ..Touched::default()
        };
        (deal, Some(touched))
    });
    saved.map(created).unwrap_or_else(|failed| failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_of_inverts_civil_from_days() {
        for day in [0, 19_000, 20_100] {
            let (y, m, d) = state::civil_from_days(day);
            assert_eq!(
                day_of(&format!("{y:04}-{m:02}-{d:02}T00:00:00.000Z")),
                Some(day)
            );
        }
    }
}

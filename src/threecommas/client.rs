//! The HTTP client botform uses to talk to 3Commas (or any server speaking its protocol, such as
//! `botform sandbox`). Owns signing each request, pacing, retries and error classification.
//!
//! Retry policy: reads are retried with backoff on network errors and 5xx; writes never are,
//! because a write that fails ambiguously may have taken effect ([`ApiError::Ambiguous`]). A 429
//! pauses every request and is retried once after the pause (the server did not process it); the
//! plan-restriction 429 is reported, not retried; 418 is reported.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Digest;

use super::error::ApiError;
use super::grid_wire::WireGridBot;
use super::ratelimit::RateLimiter;
use super::signing::Credentials;
use super::wire::*;
use crate::model::bot::LiveBot;
use crate::model::enums::TradingMode;

/// The real 3Commas API.
pub const DEFAULT_API_URL: &str = "https://api.3commas.io";
const API_PREFIX: &str = "/public/api";
/// A URL as botform shows and saves it: any user name and password in it replaced by `***`.
pub fn redact_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if !url.username().is_empty() || url.password().is_some() => {
            let _ = url.set_username("***");
            let _ = url.set_password(None);
            url.to_string().trim_end_matches('/').to_string()
        }
        Ok(_) => text.to_string(),
        // Not a URL: it cannot be shown safely, so it is not shown.
        Err(_) => "(an unparseable URL)".to_string(),
    }
}

/// Pages of grid bots read at most (1,000 each): far above any account, a bound on a server
/// that never sends an empty page.
const MAX_GRID_BOTS: usize = 100_000;

/// Endpoints 3Commas serves without a key (its docs: "public"): sent with no `Apikey` and no
/// `Signature` header.
const PUBLIC_PATHS: &[&str] = &[
    "/ver1/ping",
    "/ver1/time",
    "/ver1/accounts/market_list",
    "/ver1/accounts/market_pairs",
    "/ver1/accounts/currency_rates",
];

/// One item of `GET /ver1/accounts` (see [`Client::accounts`]).
fn account_item(item: serde_json::Value) -> Option<Account> {
    let error = match serde_json::from_value::<Account>(item.clone()) {
        Ok(account) => return Some(account),
        Err(e) => e,
    };
    let id = item["id"].as_i64();
    let name = item["name"].as_str();
    match (id, name) {
        (Some(id), Some(name)) => {
            tracing::warn!("account {id} read in part ({error}): only its id and name are used");
            Some(Account {
                id,
                name: name.to_string(),
                market_code: item["market_code"].as_str().map(str::to_string),
                exchange_name: item["exchange_name"].as_str().map(str::to_string),
                account_type: item["type"].as_str().map(str::to_string),
                bots_allowed: item["bots_allowed"].as_bool(),
                usd_amount: None,
            })
        }
        _ => {
            tracing::warn!("an account botform cannot read (id {id:?}): {error}");
            None
        }
    }
}

/// What is signed to derive the key saved plans are authenticated with.
pub const PLAN_KEY_MESSAGE: &[u8] = b"botform plan file key v1";
/// Most bots one list request returns.
pub const BOTS_PAGE_LIMIT: usize = 100;

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub credentials: Credentials,
    /// Sent as `Forced-Mode`; `None` leaves the account's own mode.
    pub mode: Option<TradingMode>,
    pub timeout: Duration,
    /// Client-side pace; 3Commas allows 100 per minute.
    pub requests_per_minute: u32,
    /// How long every request waits after a 429 (3Commas blocks for 300 s).
    pub rate_limit_pause: Duration,
    /// Attempts for a read, the first included.
    pub read_attempts: u32,
    /// Share the pace with every botform process on this machine that uses the same key (see
    /// `ratelimit`). On for credentials from the environment.
    pub shared_budget: bool,
    /// `THREECOMMAS_RECORD`: write every request and answer here (see `record`).
    pub record: Option<std::path::PathBuf>,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Self {
        // The docs give the base as `https://api.3commas.io/public/api`; botform adds that
        // prefix itself, so a URL written either way works.
        let base_url = base_url.into();
        let base_url = base_url.trim_end_matches('/');
        let base_url = base_url.strip_suffix(API_PREFIX).unwrap_or(base_url);
        ClientConfig {
            base_url: base_url.trim_end_matches('/').to_string(),
            credentials,
            mode: None,
            timeout: Duration::from_secs(30),
            requests_per_minute: 90,
            rate_limit_pause: Duration::from_secs(300),
            read_attempts: 4,
            shared_budget: false,
            record: None,
        }
    }

    /// From `THREECOMMAS_API_KEY` with `THREECOMMAS_API_SECRET` or `THREECOMMAS_PRIVATE_KEY_FILE`,
    /// `THREECOMMAS_API_URL` and `THREECOMMAS_MODE`. `Ok(None)` when no key is set.
    pub fn from_env() -> Result<Option<ClientConfig>, ApiError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(api_key) = var("THREECOMMAS_API_KEY") else {
            return Ok(None);
        };
        let credentials = match (
            var("THREECOMMAS_API_SECRET"),
            var("THREECOMMAS_PRIVATE_KEY_FILE"),
        ) {
            (Some(secret), _) => Credentials::hmac(api_key, secret),
            (None, Some(path)) => Credentials::rsa_from_file(api_key, std::path::Path::new(&path))
                .map_err(|e| ApiError::Config(e.to_string()))?,
            (None, None) => {
                return Err(ApiError::Config(
                    "THREECOMMAS_API_KEY is set but neither THREECOMMAS_API_SECRET nor THREECOMMAS_PRIVATE_KEY_FILE is".into(),
                ));
            }
        };
        let mut config = ClientConfig::new(
            var("THREECOMMAS_API_URL").unwrap_or_else(|| DEFAULT_API_URL.into()),
            credentials,
        );
        config.shared_budget = true;
        // One subfolder per run (UTC time, then the process id), so the recordings of several
        // commands never overwrite each other.
        config.record = var("THREECOMMAS_RECORD").map(|dir| {
            let run = crate::timefmt::now_iso().replace([':', '-'], "");
            std::path::PathBuf::from(dir).join(format!("{run}-{}", std::process::id()))
        });
        if let Some(pace) = var("THREECOMMAS_RATE_LIMIT") {
            config.requests_per_minute = pace
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or_else(|| {
                    ApiError::Config(format!(
                        "THREECOMMAS_RATE_LIMIT is `{pace}`; give requests per minute, 1 to 100 (3Commas allows 100)"
                    ))
                })?;
        }
        if let Some(mode) = var("THREECOMMAS_MODE") {
            config.mode = Some(TradingMode::parse(mode.trim()).ok_or_else(|| {
                ApiError::Config(format!(
                    "THREECOMMAS_MODE is `{mode}`; use `paper` or `real`"
                ))
            })?);
        }
        Ok(Some(config))
    }
}

/// A page of deals: those read, those that could not be, and how many 3Commas sent.
#[derive(Debug, Clone, Default)]
pub struct DealsPage {
    pub deals: Vec<Deal>,
    pub unreadable: Vec<UnreadableDeal>,
    /// Items on the page, read or not (a full page means there may be more).
    pub seen: usize,
}

/// A deal 3Commas sent in a form botform cannot read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct UnreadableDeal {
    pub id: Option<i64>,
    pub reason: String,
}

/// Which deals `GET /ver1/deals` reads: `limit` (up to 1,000) from `offset`, of a bot or an
/// account, in a scope (`active`, `finished`, ...), newest first by `order` (3Commas'
/// `created_at` when none: `closed_at`, `updated_at`, `profit` ...).
#[derive(Debug, Clone, Default)]
pub struct DealsQuery {
    pub bot_id: Option<i64>,
    pub account_id: Option<i64>,
    pub scope: Option<String>,
    pub order: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// The bots of a list request: those read, and those that could not be.
#[derive(Debug, Clone, Default)]
pub struct BotList {
    pub bots: Vec<LiveBot>,
    pub unreadable: Vec<crate::model::bot::UnreadableBot>,
}

impl std::ops::Deref for BotList {
    type Target = Vec<LiveBot>;

    fn deref(&self) -> &Vec<LiveBot> {
        &self.bots
    }
}

/// Which bots to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BotsFilter {
    pub account_id: Option<i64>,
    /// `Some(true)`: enabled only; `Some(false)`: disabled only.
    pub enabled: Option<bool>,
}

#[derive(Clone)]
pub struct Client {
    config: Arc<ClientConfig>,
    http: reqwest::Client,
    limiter: Arc<RateLimiter>,
    /// Set on a 418 ban or a rate limit that outlasted the pause: from then on this client
    /// (and every clone) sends nothing, so a run never makes a ban longer.
    stopped: Arc<std::sync::Mutex<Option<ApiError>>>,
    /// Numbers recordings in the order they were made.
    recorded: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &redact_url(&self.config.base_url))
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Where this client writes: the canonical API origin, hashed. Names the lease, so two
    /// spellings of one server, or two keys of one account, are one writer; reveals nothing.
    pub fn identity(&self) -> String {
        origin_id(&self.config.base_url)
    }

    /// A key only the holder of the API secret can compute (signatures are deterministic for
    /// both HMAC and RSA keys): saved plans are authenticated with it, so a plan edited by anyone
    /// without the secret is refused.
    /// The API's base URL (without `/public/api`).
    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    pub fn plan_key(&self) -> String {
        self.config.credentials.sign(PLAN_KEY_MESSAGE)
    }

    pub fn new(config: ClientConfig) -> Result<Client, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10).min(config.timeout))
            .user_agent(concat!("botform/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Config(format!("cannot start the HTTP client: {e}")))?;
        Ok(Client {
            // One window per API origin: it holds every key's requests (so it bounds each key
            // as a window per key would) and the IP's bans.
            limiter: Arc::new(match config.shared_budget {
                true => RateLimiter::shared(
                    config.requests_per_minute,
                    super::ratelimit::SharedBudget::new(
                        crate::files::state_dir()
                            .join("pace")
                            .join(format!("origin-{}.json", origin_id(&config.base_url))),
                        Duration::from_secs(60),
                    ),
                ),
                false => RateLimiter::new(config.requests_per_minute),
            }),
            config: Arc::new(config),
            http,
            stopped: Arc::new(std::sync::Mutex::new(None)),
            recorded: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Typed calls

    /// `GET /ver1/ping` (unsigned): whether 3Commas is reachable.
    pub async fn ping(&self) -> Result<(), ApiError> {
        let _: serde_json::Value = self.get("/ver1/ping", &[]).await?;
        Ok(())
    }

    /// `GET /ver1/time`: 3Commas' clock, in seconds since 1970.
    pub async fn server_time(&self) -> Result<i64, ApiError> {
        let answer: serde_json::Value = self.get("/ver1/time", &[]).await?;
        answer["server_time"]
            .as_i64()
            .ok_or_else(|| ApiError::Decode {
                path: "/ver1/time".into(),
                reason: format!("no server_time in {answer}"),
            })
    }

    /// How many requests a minute this client allows itself.
    pub fn pace(&self) -> u32 {
        self.config.requests_per_minute
    }

    /// The mode sent as `Forced-Mode`, if any.
    pub fn forced_mode(&self) -> Option<TradingMode> {
        self.config.mode
    }

    /// The same client sending `Forced-Mode: mode` (the same pace and stop: one key, one budget).
    pub fn in_mode(&self, mode: TradingMode) -> Client {
        let mut config = (*self.config).clone();
        config.mode = Some(mode);
        Client {
            config: Arc::new(config),
            ..self.clone()
        }
    }

    /// `GET /ver1/validate`: whether the credentials work.
    pub async fn validate_credentials(&self) -> Result<(), ApiError> {
        let _: serde_json::Value = self.get("/ver1/validate", &[]).await?;
        Ok(())
    }

    /// The accounts, decoded one by one (review M3/L-6): an account with a field of an odd kind
    /// is kept with what could be read of it (its id and name; the odd fields left unknown) and a
    /// warning naming it, so one odd account neither fails every plan nor vanishes from it. One
    /// without a readable id and name is left out, with a warning.
    pub async fn accounts(&self) -> Result<Vec<Account>, ApiError> {
        let items: Vec<serde_json::Value> = self.get("/ver1/accounts", &[]).await?;
        Ok(items.into_iter().filter_map(account_item).collect())
    }

    pub async fn account(&self, id: i64) -> Result<Account, ApiError> {
        self.get(&format!("/ver1/accounts/{id}"), &[]).await
    }

    /// The account's balances per currency (`POST /ver1/accounts/{id}/account_table_data`: a
    /// POST that only reads, ACCOUNTS_READ).
    pub async fn account_balances(&self, id: i64) -> Result<Vec<Balance>, ApiError> {
        self.read(
            Method::POST,
            &format!("/ver1/accounts/{id}/account_table_data"),
            &[],
        )
        .await
    }

    pub async fn market_pairs(&self, market_code: &str) -> Result<Vec<String>, ApiError> {
        self.get(
            "/ver1/accounts/market_pairs",
            &[("market_code", market_code.into())],
        )
        .await
    }

    pub async fn currency_rates(
        &self,
        market_code: &str,
        pair: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
        // `limit_type=bot`: the limits 3Commas applies to bots' orders (its docs: "the response
        // includes trading limits specific to DCA, Signal and Grid Bots").
        self.get(
            "/ver1/accounts/currency_rates",
            &[
                ("market_code", market_code.into()),
                ("pair", pair.into()),
                ("limit_type", "bot".into()),
            ],
        )
        .await
    }

    /// Every bot, page by page (100 a page).
    /// Every bot the filter selects. A bot that cannot be read faithfully is listed apart in
    /// [`BotList::unreadable`], never dropped: the rest of the account stays usable, and that bot
    /// is not mistaken for absent.
    pub async fn bots(&self, filter: BotsFilter) -> Result<BotList, ApiError> {
        let mut bots = BotList::default();
        let mut offset = 0;
        loop {
            // Oldest first: a bot created while the pages are read lands on a later page instead
            // of shifting one already read. Pages are read until an empty one (the server may
            // cap a page below the limit asked for), and a bot seen twice is kept once.
            let mut query = vec![
                ("limit", BOTS_PAGE_LIMIT.to_string()),
                ("offset", offset.to_string()),
                ("sort_by", "created_at".into()),
                ("order_direction", "ASC".into()),
            ];
            if let Some(account) = filter.account_id {
                query.push(("account_id", account.to_string()));
            }
            if let Some(enabled) = filter.enabled {
                query.push(("scope", if enabled { "enabled" } else { "disabled" }.into()));
            }
            let page: Vec<serde_json::Value> = self.get("/ver1/bots", &query).await?;
            if page.is_empty() {
                return Ok(bots);
            }
            offset += page.len();
            for value in page {
                let id = value.get("id").and_then(serde_json::Value::as_i64);
                let seen = bots.bots.iter().any(|b| Some(b.id) == id)
                    || bots.unreadable.iter().any(|b| b.id.is_some() && b.id == id);
                if seen {
                    continue;
                }
                match read_bot(value) {
                    Ok(bot) => bots.bots.push(bot),
                    Err(unreadable) => {
                        tracing::warn!(
                            "3Commas sent {} in a form botform cannot read ({}): it is left untouched",
                            unreadable.describe(),
                            unreadable.reason
                        );
                        bots.unreadable.push(unreadable);
                    }
                }
            }
        }
    }

    pub async fn bot(&self, id: i64) -> Result<WireBot, ApiError> {
        // The current docs mark `include_events` required.
        self.get(
            &format!("/ver1/bots/{id}/show"),
            &[("include_events", "false".into())],
        )
        .await
    }

    pub async fn create_bot(&self, params: &BotParams) -> Result<WireBot, ApiError> {
        self.write(Method::POST, "/ver1/bots/create_bot", Some(params))
            .await
    }

    /// Update a bot: `params` must carry every required field (see [`BotParams::for_update`]).
    pub async fn update_bot(&self, id: i64, params: &BotParams) -> Result<WireBot, ApiError> {
        self.write(
            Method::PATCH,
            &format!("/ver1/bots/{id}/update"),
            Some(params),
        )
        .await
    }

    pub async fn enable_bot(&self, id: i64) -> Result<WireBot, ApiError> {
        self.write::<_, ()>(Method::POST, &format!("/ver1/bots/{id}/enable"), None)
            .await
    }

    pub async fn disable_bot(&self, id: i64) -> Result<WireBot, ApiError> {
        self.write::<_, ()>(Method::POST, &format!("/ver1/bots/{id}/disable"), None)
            .await
    }

    pub async fn delete_bot(&self, id: i64) -> Result<(), ApiError> {
        let _: bool = self
            .write::<_, ()>(Method::POST, &format!("/ver1/bots/{id}/delete"), None)
            .await?;
        Ok(())
    }

    pub async fn copy_and_create(
        &self,
        id: i64,
        name: &str,
        secret: &str,
    ) -> Result<CopyAndCreate, ApiError> {
        let body = serde_json::json!({ "name": name, "secret": secret });
        self.write(
            Method::POST,
            &format!("/ver1/bots/{id}/copy_and_create"),
            Some(&body),
        )
        .await
    }

    pub async fn strategy_list(
        &self,
        account_id: Option<i64>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, ApiError> {
        let query: Vec<(&str, String)> = account_id
            .map(|a| ("account_id", a.to_string()))
            .into_iter()
            .collect();
        self.get("/ver1/bots/strategy_list", &query).await
    }

    pub async fn blacklist(&self) -> Result<Vec<String>, ApiError> {
        let list: Blacklist = self.get("/ver1/bots/pairs_black_list", &[]).await?;
        Ok(list.pairs)
    }

    /// Replace the blacklist with `pairs`, then read it back to confirm.
    pub async fn update_blacklist(&self, pairs: &[String]) -> Result<Vec<String>, ApiError> {
        let body = Blacklist {
            pairs: pairs.to_vec(),
        };
        let _: Blacklist = self
            .write(
                Method::POST,
                "/ver1/bots/update_pairs_black_list",
                Some(&body),
            )
            .await?;
        self.blacklist().await
    }

    pub async fn bot_deals_stats(&self, id: i64) -> Result<BotDealsStats, ApiError> {
        self.get(&format!("/ver1/bots/{id}/deals_stats"), &[]).await
    }

    pub async fn bots_stats(
        &self,
        account_id: Option<i64>,
        bot_id: Option<i64>,
    ) -> Result<BotsStats, ApiError> {
        let mut query = Vec::new();
        if let Some(a) = account_id {
            query.push(("account_id", a.to_string()));
        }
        if let Some(b) = bot_id {
            query.push(("bot_id", b.to_string()));
        }
        self.get("/ver1/bots/stats", &query).await
    }

    pub async fn profit_by_day(&self, id: i64, days: u32) -> Result<ProfitByDay, ApiError> {
        self.get(
            &format!("/ver1/bots/{id}/profit_by_day"),
            &[("days", days.to_string())],
        )
        .await
    }

    /// Deals of a bot (or all), newest first, from `offset`; `scope` is 3Commas' (`active`,
    /// `finished`, ...).
    pub async fn deals(
        &self,
        bot_id: Option<i64>,
        scope: Option<&str>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Deal>, ApiError> {
        let query = DealsQuery {
            bot_id,
            scope: scope.map(str::to_string),
            limit,
            offset,
            ..DealsQuery::default()
        };
        Ok(self.deals_page(&query).await?.deals)
    }

    /// One page of deals, decoded deal by deal: a deal botform cannot read (a counter sent as
    /// text, a field of a new shape) is reported with its id and why, and the rest stay usable,
    /// as bots are (review M3, L-6).
    pub async fn deals_page(&self, q: &DealsQuery) -> Result<DealsPage, ApiError> {
        let mut query = vec![
            ("limit", q.limit.clamp(1, 1000).to_string()),
            ("offset", q.offset.to_string()),
        ];
        if let Some(b) = q.bot_id {
            query.push(("bot_id", b.to_string()));
        }
        if let Some(a) = q.account_id {
            query.push(("account_id", a.to_string()));
        }
        if let Some(s) = &q.scope {
            query.push(("scope", s.clone()));
        }
        if let Some(order) = &q.order {
            query.push(("order", order.clone()));
            query.push(("order_direction", "DESC".to_string()));
        }
        let items: Vec<serde_json::Value> = self.get("/ver1/deals", &query).await?;
        let mut page = DealsPage {
            seen: items.len(),
            ..DealsPage::default()
        };
        for item in items {
            let id = item["id"].as_i64();
            match serde_json::from_value::<Deal>(item) {
                Ok(deal) => page.deals.push(deal),
                Err(e) => {
                    tracing::warn!("a deal botform cannot read (id {id:?}): {e}");
                    page.unreadable.push(UnreadableDeal {
                        id,
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(page)
    }

    pub async fn deal(&self, id: i64) -> Result<Deal, ApiError> {
        self.get(&format!("/ver1/deals/{id}/show"), &[]).await
    }

    /// `POST /ver1/deals/{id}/cancel`: answered with the deal `cancel_pending`; it ends
    /// `cancelled` later (poll [`Client::deal`]).
    pub async fn cancel_deal(&self, id: i64) -> Result<Deal, ApiError> {
        self.write::<_, ()>(Method::POST, &format!("/ver1/deals/{id}/cancel"), None)
            .await
    }

    /// `POST /ver1/deals/{id}/panic_sell`: close at market; ends `panic_sold` later.
    pub async fn panic_sell_deal(&self, id: i64) -> Result<Deal, ApiError> {
        self.write::<_, ()>(Method::POST, &format!("/ver1/deals/{id}/panic_sell"), None)
            .await
    }

    /// `POST /ver1/deals/{id}/add_funds`: `quantity` of the base currency, at market or at
    /// `rate` (a limit order), answered with the deal (`response_type: deal`).
    pub async fn add_funds(
        &self,
        id: i64,
        quantity: crate::model::decimal::Decimal,
        rate: Option<crate::model::decimal::Decimal>,
    ) -> Result<serde_json::Value, ApiError> {
        let mut body = serde_json::json!({
            "quantity": quantity,
            "is_market": rate.is_none(),
            "response_type": "market_order",
        });
        if let Some(rate) = rate {
            body["rate"] = serde_json::to_value(rate).expect("decimals serialize");
        }
        self.write(
            Method::POST,
            &format!("/ver1/deals/{id}/add_funds"),
            Some(&body),
        )
        .await
    }

    /// `PATCH /ver1/deals/{id}/update_deal` with only the fields given (partial updates are
    /// fine on deals, unlike bots).
    pub async fn update_deal(
        &self,
        id: i64,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Deal, ApiError> {
        self.write(
            Method::PATCH,
            &format!("/ver1/deals/{id}/update_deal"),
            Some(fields),
        )
        .await
    }

    /// `GET /v2/smart_trades`, one page (`per_page` 1..100), newest first.
    pub async fn smart_trades(
        &self,
        page: u32,
        per_page: u32,
        status: &str,
    ) -> Result<Vec<serde_json::Value>, ApiError> {
        let query = vec![
            ("page", page.max(1).to_string()),
            ("per_page", per_page.clamp(1, 100).to_string()),
            ("status", status.to_string()),
        ];
        self.get("/v2/smart_trades", &query).await
    }

    // -----------------------------------------------------------------------------------------
    // Grid bots (issue 19: the client room; plan and apply do not use them yet)

    /// Every grid bot, a page of 1,000 (the docs' maximum) at a time, oldest first so a bot
    /// created while the pages are read lands on a later page; a bot seen twice is kept once.
    pub async fn grid_bots(&self) -> Result<Vec<WireGridBot>, ApiError> {
        const PAGE: usize = 1000;
        let mut bots: Vec<WireGridBot> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        let mut offset = 0;
        loop {
            let page: Vec<WireGridBot> = self
                .get(
                    "/ver1/grid_bots",
                    &[
                        ("limit", PAGE.to_string()),
                        ("offset", offset.to_string()),
                        ("sort_by", "bot_id".into()),
                        ("sort_direction", "asc".into()),
                    ],
                )
                .await?;
            let count = page.len();
            bots.extend(page.into_iter().filter(|b| seen.insert(b.id)));
            if count == 0 || offset > MAX_GRID_BOTS {
                return Ok(bots);
            }
            offset += count;
        }
    }

    pub async fn grid_bot(&self, id: i64) -> Result<WireGridBot, ApiError> {
        self.get(&format!("/ver1/grid_bots/{id}"), &[]).await
    }

    /// `POST /ver1/grid_bots/manual` with the body as 3Commas documents it (§1.4).
    pub async fn create_grid_bot(&self, body: &serde_json::Value) -> Result<WireGridBot, ApiError> {
        self.write(Method::POST, "/ver1/grid_bots/manual", Some(body))
            .await
    }

    /// `PATCH /ver1/grid_bots/{id}/manual`: the body must carry the core set (name, both prices,
    /// the lines, the size) and never the pair (§1.5).
    pub async fn update_grid_bot(
        &self,
        id: i64,
        body: &serde_json::Value,
    ) -> Result<WireGridBot, ApiError> {
        self.write(
            Method::PATCH,
            &format!("/ver1/grid_bots/{id}/manual"),
            Some(body),
        )
        .await
    }

    /// `GET /ver1/grid_bots/{id}/profits`: each completed grid, newest first, as 3Commas shows
    /// it (D-GP).
    pub async fn grid_profits(&self, id: i64) -> Result<Vec<serde_json::Value>, ApiError> {
        self.get(&format!("/ver1/grid_bots/{id}/profits"), &[])
            .await
    }

    /// `GET /ver1/grid_bots/{id}/market_orders`: `{grid_lines_orders, balancing_orders}` (D-GMO;
    /// read as JSON: the docs' own example misspells a key).
    pub async fn grid_market_orders(
        &self,
        id: i64,
        limit: u32,
        offset: u32,
    ) -> Result<serde_json::Value, ApiError> {
        self.get(
            &format!("/ver1/grid_bots/{id}/market_orders"),
            &[("limit", limit.to_string()), ("offset", offset.to_string())],
        )
        .await
    }

    /// `GET /ver1/grid_bots/{id}/events` (`page` from 1, `per_page` 1..100, both required).
    pub async fn grid_events(
        &self,
        id: i64,
        page: u32,
        per_page: u32,
    ) -> Result<Vec<serde_json::Value>, ApiError> {
        self.get(
            &format!("/ver1/grid_bots/{id}/events"),
            &[
                ("page", page.to_string()),
                ("per_page", per_page.to_string()),
            ],
        )
        .await
    }

    /// `GET /ver1/grid_bots/{id}/required_balances` (spot grids only).
    pub async fn grid_required_balances(
        &self,
        id: i64,
    ) -> Result<super::grid_wire::RequiredBalances, ApiError> {
        self.get(&format!("/ver1/grid_bots/{id}/required_balances"), &[])
            .await
    }

    pub async fn enable_grid_bot(&self, id: i64) -> Result<WireGridBot, ApiError> {
        self.write::<_, ()>(Method::POST, &format!("/ver1/grid_bots/{id}/enable"), None)
            .await
    }

    pub async fn disable_grid_bot(&self, id: i64) -> Result<WireGridBot, ApiError> {
        self.write::<_, ()>(Method::POST, &format!("/ver1/grid_bots/{id}/disable"), None)
            .await
    }

    /// `DELETE /ver1/grid_bots/{id}`: any 2xx is done, whatever its body (the docs say 200
    /// "NONE", the generated swagger 204).
    pub async fn delete_grid_bot(&self, id: i64) -> Result<(), ApiError> {
        self.send::<()>(Method::DELETE, &format!("/ver1/grid_bots/{id}"), &[], None)
            .await
            .map(|_| ())
    }

    // -----------------------------------------------------------------------------------------
    // Transport

    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        self.read(Method::GET, path, query).await
    }

    /// A request that changes nothing (a GET, or one of the POSTs 3Commas uses for reads),
    /// retried like any read.
    async fn read<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send::<()>(method.clone(), path, query, None).await {
                Err(e) if attempt < self.config.read_attempts && retryable_read(&e) => {
                    tracing::debug!("retrying {method} {path} after: {e}");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return other.and_then(|bytes| decode(path, &bytes)),
            }
        }
    }

    async fn write<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let method_name = method_name(&method);
        let bytes = self.send(method, path, &[], body).await?;
        // A 2xx means the change was made; an answer botform cannot read does not undo it.
        decode(path, &bytes).map_err(|e| ApiError::Ambiguous {
            method: method_name,
            path: path.to_string(),
            reason: format!("3Commas accepted it but its answer could not be read ({e})"),
        })
    }

    /// One request (plus one retry after a rate-limit pause). Returns the body of a 2xx.
    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&B>,
    ) -> Result<Vec<u8>, ApiError> {
        let full_path = format!("{API_PREFIX}{path}");
        let query_string = (!query.is_empty()).then(|| {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())))
                .finish()
        });
        let body_bytes = match body {
            Some(b) => Some(
                serde_json::to_vec(b)
                    .map_err(|e| ApiError::Config(format!("cannot encode the request: {e}")))?,
            ),
            None => None,
        };
        let method_name = method_name(&method);
        let mut paused_once = false;
        loop {
            if let Some(stop) = self.stopped() {
                return Err(stop);
            }
            if let Err(banned) = self.limiter.acquire().await {
                // Banned, by this process or another on this machine: nothing is sent into it.
                return Err(self.stop(ApiError::Banned {
                    until: crate::timefmt::iso(banned.0 as i64),
                }));
            }
            let message = self.config.credentials.request_message(
                &full_path,
                query_string.as_deref(),
                body_bytes.as_deref(),
            );
            let mut url = format!("{}{full_path}", self.config.base_url);
            if let Some(q) = &query_string {
                url.push('?');
                url.push_str(q);
            }
            let mut request = self.http.request(method.clone(), &url);
            // The public endpoints need no key: they never carry it (or a signature), so nothing
            // sent without need can count against the key.
            if !PUBLIC_PATHS.contains(&path) {
                request = request
                    .header("Apikey", self.config.credentials.api_key())
                    .header("Signature", self.config.credentials.sign(&message));
            }
            if let Some(mode) = self.config.mode {
                request = request.header("Forced-Mode", mode.as_str());
            }
            if let Some(bytes) = &body_bytes {
                request = request
                    .header("Content-Type", "application/json")
                    .body(bytes.clone());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => return Err(network_error(&e, method_name, path, &self.config.base_url)),
            };
            let status = response.status().as_u16();
            let waited = retry_after(response.headers());
            let bytes = match response.bytes().await {
                Ok(b) => b.to_vec(),
                Err(e) => return Err(network_error(&e, method_name, path, &self.config.base_url)),
            };
            if let Some(dir) = &self.config.record {
                let seq = self
                    .recorded
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let written = super::record::write(
                    dir,
                    seq,
                    super::record::Exchange {
                        method: method_name,
                        path,
                        query: query_string.as_deref(),
                        body: body_bytes.as_deref(),
                        status,
                        response: &bytes,
                    },
                );
                if let Err(e) = written {
                    tracing::warn!("cannot write a recording to {}: {e}", dir.display());
                }
            }
            if (200..300).contains(&status) {
                return Ok(bytes);
            }
            let body = parse_error_body(&bytes, status);
            match status {
                401 => return Err(ApiError::Unauthorized { body }),
                418 => {
                    let until = self.limiter.ban(waited).await;
                    return Err(self.stop(ApiError::Banned {
                        until: crate::timefmt::iso(until.0 as i64),
                    }));
                }
                429 if is_plan_restriction(&body) => {
                    return Err(ApiError::PlanRestricted {
                        message: body.error,
                    });
                }
                429 => {
                    if paused_once {
                        return Err(self.stop(ApiError::RateLimited));
                    }
                    paused_once = true;
                    let pause = waited.unwrap_or(self.config.rate_limit_pause);
                    tracing::warn!(
                        "3Commas rate limit reached: pausing all requests for {} s",
                        pause.as_secs()
                    );
                    self.limiter.pause(pause).await;
                }
                500..=599 if method != Method::GET => {
                    return Err(ApiError::Ambiguous {
                        method: method_name,
                        path: path.to_string(),
                        reason: format!("server error {status}; the change may have been made"),
                    });
                }
                _ => {
                    return Err(ApiError::Rejected {
                        method: method_name,
                        path: path.to_string(),
                        status,
                        body,
                    });
                }
            }
        }
    }
}

/// An API origin as one spelling: scheme and host lowercased, the default port dropped, and every
/// loopback spelling (`localhost`, `127.0.0.1`, `[::1]`) one. Two URLs that reach one server,
/// and so one IP as 3Commas sees it, give one origin. An unparseable URL is its own origin.
pub fn canonical_origin(base_url: &str) -> String {
    let Ok(url) = url::Url::parse(base_url) else {
        return base_url.to_ascii_lowercase();
    };
    let scheme = url.scheme().to_ascii_lowercase();
    let host = match url.host() {
        Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => "loopback".to_string(),
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => "loopback".to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => "loopback".to_string(),
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        None => String::new(),
    };
    match url.port() {
        // `port()` is None for the scheme's default port already.
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    }
}

/// The origin's name for files, hashed: reveals no host.
pub fn origin_id(base_url: &str) -> String {
    let text = format!("botform origin v1\n{}", canonical_origin(base_url));
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16])
}

/// `Retry-After` in seconds, when 3Commas sends it (never observed; the Go SDK prefers it).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl Client {
    /// Stop sending for good (this client and its clones), and return the reason.
    fn stop(&self, reason: ApiError) -> ApiError {
        tracing::error!("{reason}");
        let mut stopped = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        stopped.get_or_insert_with(|| reason.clone());
        reason
    }

    /// Why this client stopped sending, if it did.
    pub fn stopped(&self) -> Option<ApiError> {
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "REQUEST",
    }
}

fn decode<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::Decode {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// An error body of any shape, read leniently: a Grape hash (attributes as lists or as single
/// strings, `error` as text or an object), a bare JSON string, or HTML from a proxy. Whatever
/// it is, the result names the status and keeps what can be kept.
pub fn parse_error_body(bytes: &[u8], status: u16) -> ErrorBody {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(map)) => ErrorBody {
            error: map
                .get("error")
                .filter(|v| !v.is_null())
                .map(text)
                .unwrap_or_else(|| format!("HTTP {status}")),
            error_description: map
                .get("error_description")
                .filter(|v| !v.is_null())
                .map(text),
            error_attributes: map
                .get("error_attributes")
                .and_then(serde_json::Value::as_object)
                .map(|attributes| {
                    attributes
                        .iter()
                        .map(|(field, messages)| {
                            let messages = match messages {
                                serde_json::Value::Array(items) => items.iter().map(text).collect(),
                                other => vec![text(other)],
                            };
                            (field.clone(), messages)
                        })
                        .collect()
                }),
        },
        Ok(serde_json::Value::String(s)) => ErrorBody {
            error: s,
            error_description: None,
            error_attributes: None,
        },
        _ => ErrorBody {
            error: format!("HTTP {status}"),
            error_description: Some(
                String::from_utf8_lossy(bytes)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .chars()
                    .take(200)
                    .collect(),
            ),
            error_attributes: None,
        },
    }
}

fn is_plan_restriction(body: &ErrorBody) -> bool {
    body.error.contains("subscription plan")
}

fn network_error(e: &reqwest::Error, method: &'static str, path: &str, base_url: &str) -> ApiError {
    // Strip the URL from reqwest's message: only the path is ours to show.
    let reason = e.without_url_ref();
    if e.is_connect() {
        ApiError::Unreachable {
            url: redact_url(base_url),
            reason,
        }
    } else {
        ApiError::Ambiguous {
            method,
            path: path.to_string(),
            reason,
        }
    }
}

trait ReasonText {
    fn without_url_ref(&self) -> String;
}

impl ReasonText for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let kind = if self.is_timeout() {
            "timed out"
        } else if self.is_connect() {
            "connection failed"
        } else if self.is_body() || self.is_decode() {
            "the connection broke while reading the answer"
        } else {
            "the request failed"
        };
        let mut source = std::error::Error::source(self);
        let mut detail = String::new();
        while let Some(s) = source {
            detail = s.to_string();
            source = s.source();
        }
        if detail.is_empty() {
            kind.to_string()
        } else {
            format!("{kind} ({detail})")
        }
    }
}

fn retryable_read(e: &ApiError) -> bool {
    match e {
        ApiError::Ambiguous { .. } | ApiError::Unreachable { .. } => true,
        ApiError::Rejected { status, .. } => *status >= 500,
        _ => false,
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(attempt.min(6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_odd_account_is_read_in_part_and_an_unreadable_one_left_out() {
        let good = serde_json::json!({"id": 1, "name": "main", "market_code": "binance"});
        let odd = serde_json::json!({"id": 2, "name": "odd", "market_code": "binance", "usd_amount": {"x": 1}, "bots_allowed": "yes"});
        let broken = serde_json::json!({"id": "three", "name": null});
        assert_eq!(account_item(good).unwrap().id, 1);
        let odd = account_item(odd).unwrap();
        assert_eq!(
            (odd.id, odd.name.as_str(), odd.market_code.as_deref()),
            (2, "odd", Some("binance"))
        );
        assert!(account_item(broken).is_none());
    }

    #[test]
    fn error_bodies_of_any_shape_read_with_their_status() {
        let grape = parse_error_body(
            br#"{"error":"record_invalid","error_attributes":{"pairs":"is invalid","name":["is missing"]}}"#,
            400,
        );
        let attrs = grape.error_attributes.unwrap();
        assert_eq!(attrs["pairs"], ["is invalid"]);
        assert_eq!(attrs["name"], ["is missing"]);
        let object = parse_error_body(br#"{"error":{"code":7,"text":"odd"}}"#, 400);
        assert!(object.error.contains("odd"));
        let string = parse_error_body(br#""Forbidden""#, 403);
        assert_eq!(string.error, "Forbidden");
        let html = parse_error_body(b"<html>\n<body>502 Bad Gateway</body></html>", 502);
        assert_eq!(html.error, "HTTP 502");
        assert!(html.error_description.unwrap().contains("502 Bad Gateway"));
    }

    #[test]
    fn credentials_in_a_url_never_show() {
        let shown = redact_url("https://user:hunter2@proxy.example:8443/base");
        assert!(
            !shown.contains("hunter2") && !shown.contains("user"),
            "{shown}"
        );
        assert_eq!(shown, "https://***@proxy.example:8443/base");
        assert_eq!(
            redact_url("https://api.3commas.io"),
            "https://api.3commas.io"
        );
        assert!(!redact_url("not a url: hunter2").contains("hunter2"));
    }

    #[test]
    fn the_plan_restriction_429_is_told_apart_from_throttling() {
        let observed: ErrorBody = serde_json::from_str(include_str!(
            "../../tests/fixtures/3commas/observed/error_subscription_plan_429.json"
        ))
        .unwrap();
        assert!(is_plan_restriction(&observed));
        assert!(!is_plan_restriction(&ErrorBody::new(
            "rate_limit_exceeded",
            Some("Too many requests")
        )));
    }

    #[test]
    fn reads_retry_on_server_errors_and_network_trouble_only() {
        let rejected = |status| ApiError::Rejected {
            method: "GET",
            path: "/x".into(),
            status,
            body: ErrorBody::default(),
        };
        assert!(retryable_read(&rejected(502)));
        assert!(!retryable_read(&rejected(400)));
        assert!(!retryable_read(&ApiError::PlanRestricted {
            message: String::new()
        }));
        assert!(retryable_read(&ApiError::Unreachable {
            url: String::new(),
            reason: String::new()
        }));
    }
}

//! The trading sandbox: `botform sandbox serve --market PATH|synthetic:SPEC [--speed N]` replays
//! candles so that enabled bots open and close deals, with the backtest's engine
//! (`simulate::OpenDeal`), and the deals appear in `/ver1/deals` and deal show in 3Commas' own
//! deal shape.
//!
//! Owns the market clock, the candles per pair, and one lane per (mode, bot, pair) that carries a
//! deal from its base order through its safety orders to its take profit or stop loss. The rules
//! are the backtest's (README, "The model"), run candle by candle as market time passes:
//!
//! - Each pair's candles replay from their first candle when the sandbox starts, `speed` times
//!   faster than real time (default 300: a 5-minute candle a second); a candle is walked once
//!   market time has passed its end. A bot that exists when the sandbox starts trades from the
//!   first candle; one created later, from the candle after its creation.
//! - A lane opens a deal when the bot is enabled, the pair is not on the account's blacklist,
//!   the bot has fewer active deals than `max_active_deals`, the cooldown since the lane's last
//!   deal has passed and the bot's start conditions hold (computed from the candles as the
//!   backtest computes them; `manual` and TradingView bots wait for signals that never come). The
//!   deal keeps the settings it opened with, as on 3Commas; a disabled bot's open deals go on.
//! - No fees (a deal's figures are then exactly recoverable from what it shows, so a restarted
//!   sandbox resumes the deals it finds open from their own fields).
//! - `synthetic:SPEC` takes the backtest's stress-test spec (`vol=80,seed=7,interval=5m,...`):
//!   one path per pair, seeded by the spec's seed and the pair's name, starting at the price
//!   the sandbox quotes for the pair, from now.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

mod grid_lanes;

use super::state::{self, DEAL_TEMPLATE, State, iso_from_millis};
use super::store::Touched;
use crate::model::bot::BotSettings;
use crate::model::decimal::Decimal;
use crate::model::enums::TradingMode;
use crate::simulate::{self, AssumeStart, BotModel, Candle, Closed, OpenDeal, candles, synthetic};
use crate::threecommas::wire::WireBot;

/// Where the market's prices come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Candle CSV files or directories of them, one file per pair (as `botform backtest
    /// --candles` reads them).
    Files(Vec<PathBuf>),
    /// One seeded random path per pair.
    Synthetic(synthetic::Spec),
}

/// `--market` and `--speed`.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    pub source: Source,
    /// Market seconds per real second.
    pub speed: f64,
}

/// The market's replay as a control request sees it.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct MarketProgress {
    /// Ticks the market has run (0 until its first).
    pub ticks: u64,
    /// Every bot's lanes have walked every candle of their pair: nothing will change any more.
    pub replayed: bool,
}

/// What the market needs of the server it runs in: the state, read and changed in transactions
/// like a request's, and where it reports its progress and each pair's last close. The server
/// implements it; the market never reaches into the server.
pub trait Host: Send + Sync {
    fn read_state<T>(&self, read: impl FnOnce(&State) -> T) -> Result<T, String>;
    fn change<T>(
        &self,
        mode: TradingMode,
        change: impl FnOnce(&mut State) -> (T, Option<Touched>),
    ) -> Result<T, String>;
    fn set_market_progress(&self, progress: MarketProgress);
    fn set_market_price(&self, pair: &str, close: f64);
}

/// The default `--speed`: a 5-minute candle a second.
pub const DEFAULT_SPEED: f64 = 300.0;

impl MarketConfig {
    /// `PATH` (a candle file or a directory of them) or `synthetic:SPEC`.
    pub fn parse(text: &str, speed: f64) -> Result<MarketConfig, String> {
        if !(speed.is_finite() && speed > 0.0) {
            return Err(format!("--speed {speed}: give a positive number"));
        }
        let source = match text.strip_prefix("synthetic:") {
            Some(spec) => Source::Synthetic(synthetic::parse(spec)?),
            None => {
                let path = PathBuf::from(text);
                if !path.exists() {
                    return Err(format!(
                        "{text}: no such file or directory (give candle CSVs, or synthetic:vol=80,seed=1)"
                    ));
                }
                Source::Files(vec![path])
            }
        };
        Ok(MarketConfig { source, speed })
    }
}

/// One pair's candles (and volumes, when the file has them).
struct PairData {
    candles: Vec<Candle>,
    volumes: Option<Vec<f64>>,
    interval_ms: i64,
}

/// A deal the market is carrying, with the settings it opened with.
struct LaneDeal {
    id: i64,
    deal: OpenDeal,
    model: BotModel,
    settings: BotSettings,
    /// The deal's `updated_at` as the lane last wrote (or found) it: another value in the store
    /// means a deal action changed the deal, and the lane takes it up again from what it shows.
    updated_at: String,
}

/// One bot on one pair in one mode.
struct Lane {
    /// The next candle to walk.
    next: usize,
    next_start_ms: i64,
    open: Option<LaneDeal>,
    /// The bot's settings as last compiled for this lane (again only when they change).
    compiled: Option<Compiled>,
}

/// A bot's settings compiled for one lane's candles.
struct Compiled {
    settings: BotSettings,
    /// `None`: the bot cannot open deals here (outside signals, or conditions these candles
    /// cannot evaluate).
    model: Option<BotModel>,
    /// May a deal open at each candle (`None`: nonstop).
    gate: Option<Vec<bool>>,
    /// Do the safety-order conditions hold at each candle (`None`: the bot has none).
    safety_gate: Option<Vec<bool>>,
}

/// What the market reads of a bot each tick.
struct BotView {
    mode: TradingMode,
    bot: WireBot,
    /// The bot's settings in botform's model.
    settings: BotSettings,
    market_code: String,
    blacklisted: BTreeSet<String>,
    /// Unfinished deals of the bot: (id, pair, the deal as stored).
    open_deals: Vec<(i64, String, Value)>,
}

pub struct Market {
    config: MarketConfig,
    started: Instant,
    started_ms: i64,
    data: HashMap<String, Option<Arc<PairData>>>,
    /// All the candles the market holds, over every pair (see [`candles::MAX_CANDLES_HELD`]).
    budget: candles::Budget,
    lanes: HashMap<(TradingMode, i64, String), Lane>,
    /// One per enabled grid bot (see [`grid_lanes`]).
    grid_lanes: HashMap<(TradingMode, i64), grid_lanes::GridLane>,
    first_tick: bool,
    /// Pairs whose candles ran out, reported once.
    ended: BTreeSet<String>,
    ticks: u64,
}

/// FNV-1a: a stable seed per pair name.
fn pair_seed(pair: &str) -> u64 {
    pair.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn text(x: f64) -> String {
    simulate::dec(x).to_string()
}

fn decimal_text(d: Option<Decimal>) -> Value {
    d.map_or(Value::Null, |d| Value::String(d.to_string()))
}

fn field_f64(deal: &Value, field: &str) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    state::deal_decimal(deal, field).0.to_f64().unwrap_or(0.0)
}

impl Market {
    pub fn new(config: MarketConfig) -> Market {
        Market {
            config,
            started: Instant::now(),
            started_ms: state::now_millis(),
            data: HashMap::new(),
            budget: candles::Budget::default(),
            lanes: HashMap::new(),
            grid_lanes: HashMap::new(),
            first_tick: true,
            ended: BTreeSet::new(),
            ticks: 0,
        }
    }

    fn pair_data(&mut self, pair: &str, market_code: &str) -> Option<Arc<PairData>> {
        if let Some(known) = self.data.get(pair) {
            return known.clone();
        }
        let loaded = match &self.config.source {
            Source::Files(paths) => candles::find_for_pair(paths, pair).and_then(|file| {
                match candles::read_csv(&file) {
                    Ok(series) => Some(PairData {
                        candles: series.candles,
                        volumes: series.volumes,
                        interval_ms: series.interval_ms,
                    }),
                    Err(e) => {
                        eprintln!("botform sandbox: market: {e}; {pair} does not trade");
                        None
                    }
                }
            }),
            Source::Synthetic(spec) => {
                let spec = synthetic::Spec {
                    seed: spec.seed ^ pair_seed(pair),
                    ..spec.clone()
                };
                let start = state::price(market_code, pair)
                    .and_then(|p| p.0.to_string().parse::<f64>().ok())
                    .unwrap_or(100.0);
                let mut candles = synthetic::path(&spec, 0);
                let scale = start / candles.first().map_or(1.0, |c| c.open);
                let offset = self.started_ms - self.started_ms.rem_euclid(spec.interval_ms);
                for c in &mut candles {
                    c.open_time_ms += offset;
                    c.open *= scale;
                    c.high *= scale;
                    c.low *= scale;
                    c.close *= scale;
                }
                Some(PairData {
                    candles,
                    volumes: None,
                    interval_ms: spec.interval_ms,
                })
            }
        }
        .filter(|d| !d.candles.is_empty())
        .filter(|d| match self.budget.take(d.candles.len(), pair) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("botform sandbox: market: {e}; {pair} does not trade");
                false
            }
        })
        .map(Arc::new);
        self.data.insert(pair.to_string(), loaded.clone());
        loaded
    }

    /// Market time on a pair's clock.
    fn market_now(&self, data: &PairData) -> i64 {
        let elapsed = self.started.elapsed().as_secs_f64() * 1000.0 * self.config.speed;
        data.candles[0].open_time_ms + elapsed.min(i64::MAX as f64 / 4.0) as i64
    }

    fn read(shared: &impl Host) -> Result<Vec<BotView>, String> {
        shared.read_state(|state| {
            let mut views = Vec::new();
            for mode in [TradingMode::Paper, TradingMode::Real] {
                let ms = state.mode(mode);
                let blacklisted: BTreeSet<String> = ms.blacklist.iter().cloned().collect();
                // Unfinished deals by bot, in one pass over the deals.
                let mut open: HashMap<i64, Vec<(i64, String, Value)>> = HashMap::new();
                for (id, d) in &ms.deals {
                    if d["finished?"].as_bool() != Some(true)
                        && let Some(bot) = d["bot_id"].as_i64()
                    {
                        let pair = d["pair"].as_str().unwrap_or("").to_string();
                        open.entry(bot).or_default().push((*id, pair, d.clone()));
                    }
                }
                for bot in ms.bots.values() {
                    let market_code = ms
                        .account(bot.account_id)
                        .and_then(|a| a["market_code"].as_str())
                        .unwrap_or("")
                        .to_string();
                    let open_deals = open.remove(&bot.id).unwrap_or_default();
                    views.push(BotView {
                        mode,
                        bot: bot.clone(),
                        settings: bot.to_model().settings,
                        market_code,
                        blacklisted: blacklisted.clone(),
                        open_deals,
                    });
                }
            }
            views
        })
    }

    /// Walk every candle that market time has passed since the last tick: per bot, its pairs'
    /// candles in time order, so `max_active_deals` counts the deals open at that moment.
    pub fn tick(&mut self, shared: &impl Host) -> Result<(), String> {
        let views = Market::read(shared)?;
        // A deleted bot's lanes go with it.
        let live: BTreeSet<(TradingMode, i64)> = views.iter().map(|v| (v.mode, v.bot.id)).collect();
        self.lanes
            .retain(|(mode, id, _), _| live.contains(&(*mode, *id)));
        let carried: BTreeSet<i64> = self
            .lanes
            .values()
            .filter_map(|l| l.open.as_ref().map(|d| d.id))
            .collect();
        for view in &views {
            let mut active = view.open_deals.len();
            let mut pairs = Vec::new();
            for pair in &view.bot.pairs {
                let Some(data) = self.pair_data(pair, &view.market_code) else {
                    continue;
                };
                let now = self.market_now(&data);
                self.lane_for(view, pair, &data, now, &carried);
                let usd = usd_rate(pair, &view.market_code);
                pairs.push((pair.clone(), data, now, usd));
            }
            loop {
                // The pair whose next due candle opens first.
                let due = pairs
                    .iter()
                    .enumerate()
                    .filter_map(|(k, (pair, data, now, _))| {
                        let lane = &self.lanes[&(view.mode, view.bot.id, pair.clone())];
                        let candle = data.candles.get(lane.next)?;
                        (candle.open_time_ms + data.interval_ms <= *now)
                            .then_some((candle.open_time_ms, k))
                    })
                    .min();
                let Some((_, k)) = due else { break };
                let (pair, data, _, usd) = &pairs[k];
                let lane = self
                    .lanes
                    .get_mut(&(view.mode, view.bot.id, pair.clone()))
                    .expect("created above");
                step(shared, view, (pair, data, *usd), lane, &mut active)?;
            }
            for (pair, data, _, _) in &pairs {
                let lane = &self.lanes[&(view.mode, view.bot.id, pair.clone())];
                if lane.next >= data.candles.len() && self.ended.insert(pair.clone()) {
                    eprintln!(
                        "botform sandbox: market: {pair} replayed to its last candle ({}); its deals stay as they are",
                        iso_from_millis(
                            data.candles
                                .last()
                                .map_or(0, |c| c.open_time_ms + data.interval_ms)
                        )
                    );
                }
            }
        }
        self.tick_grids(shared)?;
        self.first_tick = false;
        self.ticks += 1;
        let done = |pair: &str, next: usize| {
            self.data
                .get(pair)
                .and_then(|d| d.as_ref())
                .is_none_or(|d| next >= d.candles.len())
        };
        let replayed = self
            .lanes
            .iter()
            .all(|((_, _, pair), lane)| done(pair, lane.next))
            && self
                .grid_lanes
                .values()
                .all(|lane| done(&lane.pair, lane.next));
        shared.set_market_progress(MarketProgress {
            ticks: self.ticks,
            replayed,
        });
        Ok(())
    }

    /// The lane of a bot on a pair, created the first time it is seen: from the first candle
    /// for a bot that exists when the sandbox starts, else from now; carrying on a deal of this
    /// bot and pair that no lane carries (a restart, or a deal put in by hand) from what the
    /// deal shows.
    fn lane_for(
        &mut self,
        view: &BotView,
        pair: &str,
        data: &PairData,
        now: i64,
        carried: &BTreeSet<i64>,
    ) {
        let first_tick = self.first_tick;
        let lane = self
            .lanes
            .entry((view.mode, view.bot.id, pair.to_string()))
            .or_insert_with(|| Lane {
                next: if first_tick {
                    0
                } else {
                    data.candles.partition_point(|c| c.open_time_ms < now)
                },
                next_start_ms: i64::MIN,
                open: None,
                compiled: None,
            });
        if lane.open.is_some() {
            return;
        }
        let Some((id, _, deal)) = view.open_deals.iter().find(|(id, p, d)| {
            p == pair && !carried.contains(id) && d["status"].as_str() == Some("bought")
        }) else {
            return;
        };
        // What the deal shows wins over the bot's settings: `update_deal` changes a running
        // deal's take profit, stop loss and safety orders, not the bot's.
        let mut settings = view.settings.clone();
        let figure = |field: &str| match &deal[field] {
            Value::String(s) => s.parse::<Decimal>().ok(),
            Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
            _ => None,
        };
        if let Some(tp) = figure("take_profit").filter(|tp| *tp > Decimal::ZERO) {
            settings.take_profit = Some(tp);
        }
        if let Some(sl) = figure("stop_loss_percentage") {
            settings.stop_loss_percentage = Some(sl);
        }
        if let Some(n) = deal["max_safety_orders"].as_u64() {
            settings.max_safety_orders = Some(n.min(200) as u32);
        }
        let Ok((model, _)) = simulate::compile(
            &settings,
            &simulate::Assumptions {
                start: AssumeStart::Nonstop,
                ..Default::default()
            },
        ) else {
            return;
        };
        let opened_ms = crate::timefmt::parse_iso(deal["created_at"].as_str().unwrap_or(""))
            .map_or(now, |s| s * 1000);
        let entry = field_f64(deal, "base_order_average_price");
        let (base, quote) = if model.is_short() {
            (
                field_f64(deal, "sold_amount"),
                field_f64(deal, "sold_volume"),
            )
        } else {
            (
                field_f64(deal, "bought_amount"),
                field_f64(deal, "bought_volume"),
            )
        };
        if entry > 0.0 && base > 0.0 {
            let filled = deal["completed_safety_orders_count"].as_u64().unwrap_or(0) as usize;
            lane.open = Some(LaneDeal {
                id: *id,
                deal: OpenDeal::resume(&model, entry, opened_ms, filled, base, quote),
                model,
                settings,
                updated_at: deal["updated_at"].as_str().unwrap_or("").to_string(),
            });
        }
    }
}

/// Walk a lane's next candle: open a deal at its open when the bot may, then walk the deal
/// through it, saving the deal when it opens, fills a safety order or closes.
fn step(
    shared: &impl Host,
    view: &BotView,
    (pair, data, usd): (&str, &PairData, Option<f64>),
    lane: &mut Lane,
    active: &mut usize,
) -> Result<(), String> {
    let i = lane.next;
    let candle = data.candles[i];
    lane.next += 1;
    if lane.open.is_none()
        && view.bot.is_enabled
        && !view.blacklisted.contains(pair)
        && candle.open_time_ms >= lane.next_start_ms
        && (*active as i64) < view.bot.max_active_deals.max(1)
        && let Some((model, settings)) = opening_model(view, lane, data, i)
    {
        let deal = OpenDeal::open(&model, &candle);
        let body = deal_json(
            &view.bot,
            &settings,
            pair,
            &model,
            &deal,
            &candle,
            data.interval_ms,
            None,
            usd,
        );
        let updated_at = body["updated_at"].as_str().unwrap_or("").to_string();
        let id = shared.change(view.mode, |state| {
            let id = state.next_deal_id;
            state.next_deal_id += 1;
            let mut body = body;
            body["id"] = id.into();
            state.mode_mut(view.mode).deals.insert(id, body);
            (
                id,
                Some(Touched {
                    deals: [id].into(),
                    ..Touched::default()
                }),
            )
        })?;
        lane.open = Some(LaneDeal {
            id,
            deal,
            model,
            settings,
            updated_at,
        });
        *active += 1;
    }
    shared.set_market_price(pair, candle.close);
    let Some(carried) = lane.open.as_mut() else {
        return Ok(());
    };
    let filled_before = carried.deal.filled;
    if compiled(view, &mut lane.compiled, data)
        .safety_gate
        .as_ref()
        .is_some_and(|g| g[i])
    {
        carried.deal.fill_on_signal(&carried.model, candle.open);
    }
    let walked = carried.deal.walk(&carried.model, &candle, data.interval_ms);
    let closed = walked
        .exit
        .map(|(price, stopped)| carried.deal.close(&carried.model, price, stopped));
    if carried.deal.filled != filled_before || closed.is_some() {
        let body = deal_json(
            &view.bot,
            &carried.settings,
            pair,
            &carried.model,
            &carried.deal,
            &candle,
            data.interval_ms,
            closed.as_ref(),
            usd,
        );
        let id = carried.id;
        let seen = carried.updated_at.clone();
        let updated_at = body["updated_at"].as_str().unwrap_or("").to_string();
        let ours = shared.change(view.mode, |state| {
            let deals = &mut state.mode_mut(view.mode).deals;
            let mut body = body;
            body["id"] = id.into();
            match deals.get(&id) {
                // Keep what the deal was created with.
                Some(old) if old["updated_at"].as_str() == Some(seen.as_str()) => {
                    body["created_at"] = old["created_at"].clone();
                }
                // A deal action (cancel, panic sell, add funds, update) changed it since: the
                // lane lets go, and takes it up again from what it shows if it still runs.
                _ => return (false, None),
            }
            deals.insert(id, body);
            (
                true,
                Some(Touched {
                    deals: [id].into(),
                    ..Touched::default()
                }),
            )
        })?;
        if !ours {
            lane.open = None;
            return Ok(());
        }
        carried.updated_at = updated_at;
    }
    if closed.is_some() {
        lane.next_start_ms = candle.open_time_ms + data.interval_ms + carried.model.cooldown_ms();
        lane.open = None;
        *active = active.saturating_sub(1);
    }
    Ok(())
}

/// The model (and settings) a new deal opens with, if the bot's start conditions let one open
/// at candle `i`. The settings are compiled (model, check, start gate) only when they change.
fn opening_model(
    view: &BotView,
    lane: &mut Lane,
    data: &PairData,
    i: usize,
) -> Option<(BotModel, BotSettings)> {
    let compiled = compiled(view, &mut lane.compiled, data);
    let model = compiled.model.as_ref()?;
    let open = compiled.gate.as_ref().is_none_or(|g| g[i]);
    open.then(|| (model.clone(), compiled.settings.clone()))
}

/// The bot's settings compiled for this lane's candles (model, check, start and safety-order
/// gates), again only when they change.
fn compiled<'a>(
    view: &BotView,
    compiled: &'a mut Option<Compiled>,
    data: &PairData,
) -> &'a Compiled {
    if compiled
        .as_ref()
        .is_none_or(|c| c.settings != view.settings)
    {
        return compiled.insert(compile_for(view, data));
    }
    compiled.get_or_insert_with(|| compile_for(view, data))
}

fn compile_for(view: &BotView, data: &PairData) -> Compiled {
    // Outside signals (manual, TradingView) never come in the sandbox: such bots do not open.
    let model = simulate::compile(&view.settings, &simulate::Assumptions::default())
        .ok()
        .map(|(model, _)| model)
        .filter(|m| {
            m.check_candles(data.interval_ms, data.volumes.is_some())
                .is_ok()
        });
    let volumes = data.volumes.as_deref();
    let gate = model
        .as_ref()
        .and_then(|m| m.start_gate(&data.candles, volumes, data.interval_ms));
    // A deal a signal opened runs on its bot's safety-order conditions too.
    let safety_gate = simulate::compile(
        &view.settings,
        &simulate::Assumptions {
            start: AssumeStart::Nonstop,
            ..Default::default()
        },
    )
    .ok()
    .filter(|(m, _)| {
        m.check_candles(data.interval_ms, data.volumes.is_some())
            .is_ok()
    })
    .and_then(|(m, _)| m.safety_gate(&data.candles, volumes, data.interval_ms));
    Compiled {
        settings: view.settings.clone(),
        model,
        gate,
        safety_gate,
    }
}

/// A deal a TradingView signal opens on `pair` at `price` now, in 3Commas' shape (as the market
/// opens one; the market carries it on from what it shows). `Err` when the bot's settings cannot
/// size a deal (a base order in percent of the balance, say).
pub fn signal_deal(
    bot: &WireBot,
    market_code: &str,
    pair: &str,
    price: Decimal,
    now_ms: i64,
) -> Result<Value, String> {
    let settings = bot.to_model().settings;
    let (model, _) = simulate::compile(
        &settings,
        &simulate::Assumptions {
            start: AssumeStart::Nonstop,
            ..Default::default()
        },
    )
    .map_err(|e| format!("the sandbox cannot open a deal for this bot: {}", e.0))?;
    let price: f64 = price.to_string().parse().unwrap_or(0.0);
    if price <= 0.0 {
        return Err(format!("no price for {pair}"));
    }
    let candle = Candle {
        open_time_ms: now_ms,
        open: price,
        high: price,
        low: price,
        close: price,
    };
    let deal = OpenDeal::open(&model, &candle);
    Ok(deal_json(
        bot,
        &settings,
        pair,
        &model,
        &deal,
        &candle,
        0,
        None,
        usd_rate(pair, market_code),
    ))
}

/// Quote currency to USD at the sandbox's prices (1 for dollar stablecoins).
pub(super) fn usd_rate(pair: &str, market_code: &str) -> Option<f64> {
    let quote = pair.split('_').next().unwrap_or("");
    if Decimal::is_dollar(quote) {
        return Some(1.0);
    }
    state::price(market_code, &format!("USDT_{quote}"))
        .or_else(|| state::price("binance", &format!("USDT_{quote}")))
        .and_then(|p| p.0.to_string().parse().ok())
}

/// A deal in 3Commas' shape (the embedded real deal, every field set from the bot, the settings
/// the deal opened with, the deal and the candle it was last walked in).
#[allow(clippy::too_many_arguments)]
fn deal_json(
    bot: &WireBot,
    settings: &BotSettings,
    pair: &str,
    model: &BotModel,
    deal: &OpenDeal,
    candle: &Candle,
    interval_ms: i64,
    closed: Option<&Closed>,
    usd: Option<f64>,
) -> Value {
    let mut d: Value = serde_json::from_str(DEAL_TEMPLATE).expect("embedded deal template");
    let short = model.is_short();
    let (quote, base) = pair.split_once('_').unwrap_or((pair, ""));
    let candle_end = candle.open_time_ms + interval_ms;
    let profit = match closed {
        Some(c) => c.profit,
        None => deal.profit_at(candle.close, short, 0.0, false),
    };
    let (status, localized) = match closed {
        None => ("bought", "Active"),
        Some(c) if c.stopped => ("stop_loss_finished", "Closed at Stop Loss"),
        Some(_) => ("completed", "Completed"),
    };
    let finished = closed.is_some();
    let remaining = model.safety_orders() - deal.filled;
    let asoc = settings.active_safety_orders_count.unwrap_or(0) as usize;
    let entry_side = json!({
        "amount": text(deal.base),
        "volume": text(deal.quote),
        "average": text(deal.quote / deal.base),
    });
    let exit_side = match closed {
        Some(c) => {
            json!({ "amount": text(c.base), "volume": text(c.base * c.exit), "average": text(c.exit) })
        }
        None => json!({ "amount": "0.0", "volume": "0.0", "average": "0" }),
    };
    let (bought, sold) = if short {
        (exit_side, entry_side)
    } else {
        (entry_side, exit_side)
    };
    let fields = json!({
        "bot_id": bot.id,
        "bot_name": bot.name,
        "account_id": bot.account_id,
        "account_name": bot.account_name,
        "pair": pair,
        "from_currency": quote,
        "to_currency": base,
        "strategy": if short { "short" } else { "long" },
        "status": status,
        "localized_status": localized,
        "finished?": finished,
        "cancellable?": !finished,
        "panic_sellable?": !finished,
        "created_at": iso_from_millis(deal.opened_ms),
        "updated_at": iso_from_millis(candle_end),
        "closed_at": if finished { Value::String(iso_from_millis(candle_end)) } else { Value::Null },
        "max_safety_orders": model.safety_orders(),
        "active_safety_orders_count": asoc,
        "completed_safety_orders_count": deal.filled,
        "current_active_safety_orders_count": if finished { 0 } else { asoc.min(remaining) },
        "current_active_safety_orders": if finished { 0 } else { asoc.min(remaining) },
    });
    let figures = json!({
        "base_order_volume": decimal_text(settings.base_order_volume),
        "safety_order_volume": decimal_text(settings.safety_order_volume),
        "safety_order_step_percentage": decimal_text(settings.safety_order_step_percentage),
        "martingale_volume_coefficient": decimal_text(settings.martingale_volume_coefficient),
        "martingale_step_coefficient": decimal_text(settings.martingale_step_coefficient),
        "take_profit": decimal_text(settings.take_profit),
        "take_profit_steps": [],
        "stop_loss_percentage": decimal_text(settings.stop_loss_percentage.or(Some(Decimal::ZERO))),
        "trailing_enabled": settings.trailing_enabled.unwrap_or(false),
        "tsl_enabled": settings.tsl_enabled.unwrap_or(false),
        "bought_amount": bought["amount"],
        "bought_volume": bought["volume"],
        "bought_average_price": bought["average"],
        "base_order_average_price": text(deal.entry),
        "sold_amount": sold["amount"],
        "sold_volume": sold["volume"],
        "sold_average_price": sold["average"],
        "final_profit": text(profit),
        "actual_profit": text(profit),
        "final_profit_percentage": simulate::dec(profit / deal.quote * 100.0).round_dp(2).to_string(),
        "actual_profit_percentage": simulate::dec(profit / deal.quote * 100.0).round_dp(2).to_string(),
        "usd_final_profit": usd.map_or(Value::Null, |r| Value::String(simulate::dec(profit * r).round_dp(2).to_string())),
        "actual_usd_profit": usd.map_or(Value::Null, |r| Value::String(text(profit * r))),
        "current_price": text(candle.close),
        "take_profit_price": text(deal.take_profit_price(model)),
        "stop_loss_price": deal.stop_loss_price(model).map_or(Value::Null, |p| Value::String(text(p))),
        "reserved_base_coin": text(if short { deal.base } else { deal.quote }),
        "reserved_second_coin": text(if short { deal.quote } else { deal.base }),
        "deal_has_error": false,
        "error_message": Value::Null,
        "failed_message": Value::Null,
    });
    for part in [fields, figures] {
        if let (Value::Object(target), Value::Object(source)) = (&mut d, part) {
            target.extend(source);
        }
    }
    d
}

/// Run the market until the process ends: a tick every 200 ms of real time.
pub async fn run(shared: Arc<impl Host>, config: MarketConfig) {
    let mut market = Market::new(config);
    loop {
        if let Err(e) = market.tick(shared.as_ref()) {
            tracing::warn!("sandbox market: {e}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

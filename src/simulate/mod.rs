//! Backtests: replay OHLCV candles through a bot's settings, deterministically, with no I/O.
//!
//! Owns the model a backtest runs (below), compiling a bot's settings into it (with the ladder
//! from `model::dca`, the same arithmetic validate and plan show), and the per-pair results.
//! `grid` runs grid bots on candles; `candles` reads candle files; `download` fetches them from an exchange; `fees` knows the usual fee of an exchange; `synthetic` makes seeded random price paths; `report` runs a
//! config's bots over either and is what the CLI, plan and the MCP server call.
//!
//! # The model (an independent implementation must reproduce it exactly)
//!
//! - A deal opens at the open of the first candle whose open time is at least the end of the
//!   candle in which the previous deal on that pair closed (open time + interval), plus
//!   `cooldown`, and whose open lies within `min_price`/`max_price` when set; with a
//!   `deal_start_delay_seconds` it opens at the first candle that long after that one. The first
//!   deal opens at the first such candle. Entry price E = that open. No deal opens after
//!   `disable_after_deals_count` deals, nor after a stop of a `stop_loss_and_disable_bot` bot.
//! - Safety order k (1-based) sits at deviation d_k from E (d_1 = step, d_k = d_(k-1) + step ×
//!   martingale_step_coefficient^(k-1); `custom_safety_steps` replace it) with volume
//!   safety_order_volume × martingale_volume_coefficient^(k-1): price E × (1 − d_k/100) for long
//!   bots, E × (1 + d_k/100) for short ones. Volumes in the quote currency buy (sell) volume/price
//!   of the base; volumes in the base currency are that many coins.
//! - The path inside a candle is the caller's choice ([`Intrabar`]); with the default, a long
//!   deal walks each candle open → low → high → close: at the low every unfilled safety
//!   order priced at or above the low fills at its own price; then the stop loss (E × (1 −
//!   stop_loss/100)) closes the deal at its price if the low reached it, or at the candle's open
//!   when it opened below it (a market order through a gap); then at the high the take profit
//!   closes the deal at its price if the high reached it: average × (1 + take_profit/100) × (1 +
//!   fee) / (1 − fee), the fee built in as 3Commas places the order (average = quote spent / base
//!   bought). A short deal mirrors it: open → high (safety orders above, then the stop loss above
//!   E) → low (take profit at average × (1 − take_profit/100) × (1 − fee) / (1 + fee), average =
//!   quote received / base sold). The entry candle counts. With `close_deals_timeout`, a deal
//!   open that long by the end of a candle closes at its close.
//! - Take-profit steps (`take_profit_steps`) are limit orders priced like the take profit, each
//!   at its own profit: where the walk reaches one, it sells its share (amount_percentage) of
//!   the coins bought, at its price; the last step sells what is left and closes the deal.
//! - A trailing take profit (`trailing_enabled`, deviation D) applies to the last step (3Commas:
//!   "the trailing option will be applied only to the last Take Profit target"): where the walk
//!   reaches its price, trailing starts at that price; at every later price the walk visits, the
//!   best price so far moves up, and a price D % below the best (long) closes the deal at that
//!   level, a market order (at the open, when the candle opened below it). So inside a candle
//!   the path decides: low first, the high raises the best and the close is checked against it
//!   ("after the high, the close"); high first, the low is checked against the high.
//! - A trailing stop loss (`tsl_enabled`) measures the stop from the best price the walk has
//!   visited since the entry instead of from E, so it rises with the price (long) and never
//!   falls.
//! - A stop-loss timeout (`stop_loss_timeout_enabled`, T seconds) is counted in candles: the
//!   walk reaching the stop starts a timer at that candle's open; every close back on the right
//!   side of the stop stops it; the first close past the stop at least T after the timer's start
//!   (the candle's end minus the start ≥ T) sells there. A T shorter than a candle therefore
//!   sells at the close of the candle that reached the stop, if that close is past it.
//! - A fee (percent) is charged on the quote amount of every fill and of the closing trade.
//! - Profit of a closed deal = proceeds − cost − fees (long: base × exit − quote spent; short:
//!   quote received − base × exit). `unrealized_quote` marks a deal still open at the last close
//!   (buy fees counted, the closing fee not). Capital used is the quote a deal has committed (long:
//!   spent; short: received for what it sold). Drawdown is the worst unrealized loss, at each
//!   candle's low (long) or high (short) after that extreme's fills. A deal's duration runs from
//!   its entry candle's open to the end of the candle it closed in.
//! - Safety-order conditions (`safety_strategy_list`) that the candles determine turn the ladder
//!   into "minimum deviation" filters (3Commas: "Safety orders will not be placed in advance at
//!   the configured price ... When additional conditions are met, all safety orders that meet
//!   the minimum deviation conditions will be executed at the market price", help centre
//!   9663694): no safety order fills at its own price; at the open of a candle where the
//!   conditions are valid (the same rule as for start conditions, below), every unfilled safety
//!   order whose price the open has reached fills at the open, before the candle is walked.
//!   Conditions from outside the candles (TradingView) are assumed always met: the safety
//!   orders fill at their prices, and `not_simulated` says so.
//! - Each pair of a multi-pair bot runs its own sequence of deals.
//! - Start conditions a candle series determines (RSI, ULT, BB %B, MA cross, ADX, stochastic,
//!   MACD, parabolic SAR, MFI, CCI, Heikin Ashi) gate the deal openings: a deal opens at the
//!   first candle that meets the timing rule above *and* falls in the timeframe candle right
//!   after a close where every condition held (module `conditions` states the rules;
//!   `indicators` computes the values as TA-Lib does).
//!
//! What the model does not cover is listed per bot in `not_simulated`, with what it does
//! instead, so a result is never silently wrong: [`compile`] names every field of the settings
//! and decides for each. A bot that starts on outside signals (TradingView, manual, QFL) is not
//! backtestable unless the caller assumes those signals always met (`--assume-start nonstop`).

//! # Why f64 inside
//!
//! A year of 5-minute candles through 20 bots is 2.1 million candle steps; the inner loop
//! compares prices and adds a few amounts per step. It runs on f64, which is about ten times
//! faster than decimals there and exact enough for a simulation whose inputs are prices (the
//! ladder itself is computed in decimals by `model::dca` and converted once). Results are reported
//! as decimals rounded to 8 places.

pub mod candles;
pub mod conditions;
pub mod download;
pub mod fees;
pub mod figures;
pub mod grid;
pub mod html;
pub mod indicators;
pub mod report;
pub mod synthetic;

use rust_decimal::prelude::{FromPrimitive, ToPrimitive};
use serde::Serialize;

use crate::model::bot::BotSettings;
use crate::model::dca::{self, LadderInput};
use crate::model::decimal::Decimal;
use crate::model::enums::{
    Direction, LeverageType, ProfitCurrency, StartOrderType, StopLossType, TakeProfitType,
    VolumeType,
};
use crate::timefmt::iso;

/// One candle; times in milliseconds since 1970 (UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    pub open_time_ms: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}
// Volumes are kept apart from the candles (only the Money Flow Index reads them): the walk
// streams through every candle once per bot, and 40-byte candles keep that fast (a `volume`
// field made a year of 5-minute candles 40 % larger and the bench 40 % slower).

/// An order of the ladder: how far from the entry, how much.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct Rung {
    /// Fraction of the entry price (0.012 for 1.2 %).
    deviation: f64,
    amount: f64,
    /// `amount` is coins of the base currency (else quote currency).
    in_base: bool,
}

/// One take-profit step: sell this share of the coins bought at this profit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
struct TakeProfit {
    /// Fraction of the coins bought (0.5 for 50 %); the last step sells whatever is left.
    share: f64,
    /// Fraction of the average price (0.02 for 2 %).
    profit: f64,
}

/// A bot's settings as the simulation runs them (serializable, for other implementations of the
/// model to run the very same bot).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BotModel {
    short: bool,
    base: Rung,
    safety: Vec<Rung>,
    /// The take profit as steps (one step selling everything for a plain `take_profit`).
    take_profits: Vec<TakeProfit>,
    /// The last step trails by this fraction of the price (`trailing_enabled`,
    /// `trailing_deviation`).
    trailing: Option<f64>,
    stop_loss: Option<f64>,
    /// The stop follows the best price since the entry (`tsl_enabled`).
    trailing_stop: bool,
    /// The price must stay past the stop this long before it sells (`stop_loss_timeout_*`).
    stop_timeout_ms: Option<i64>,
    /// A stop loss disables the bot (`stop_loss_and_disable_bot`): no deal opens after it.
    stop_disables: bool,
    cooldown_ms: i64,
    /// From the moment a deal could open to its opening (`deal_start_delay_seconds`).
    start_delay_ms: i64,
    /// A deal opens only at an open price within these (3Commas: "minimum/maximum price to
    /// open deal").
    min_price: Option<f64>,
    max_price: Option<f64>,
    /// A deal still open this long after its entry closes at market (`close_deals_timeout`).
    close_timeout_ms: Option<i64>,
    /// The bot is disabled after opening this many deals (`disable_after_deals_count`).
    deals_limit: Option<u32>,
    /// Deals open at once across a multi-pair bot's pairs (`max_active_deals`), for
    /// [`run_bot`]; a pair runs one deal at a time.
    max_active_deals: u32,
    fee: f64,
    intrabar: Intrabar,
    /// The pair's exchange steps, when known (`--limits`): order prices are multiples of
    /// `price_step`, quantities of `lot_step`. Set per pair by [`BotModel::with_limits`].
    price_step: Option<f64>,
    lot_step: Option<f64>,
    /// Start conditions the candles determine (empty: `nonstop`).
    #[serde(skip)]
    starts: Vec<conditions::StartCondition>,
    /// Safety-order conditions the candles determine (empty: the safety orders are limit
    /// orders at the ladder's prices).
    #[serde(skip)]
    safety_conditions: Vec<conditions::StartCondition>,
    /// The safety orders fill at market on their conditions (`safety_conditions` not empty),
    /// never at their own prices; for other implementations, which get the gate from
    /// [`BotModel::safety_gate`].
    safety_on_signal: bool,
}

impl BotModel {
    /// The same bot, walked along another path inside each candle.
    pub fn with_intrabar(&self, intrabar: Intrabar) -> BotModel {
        BotModel {
            intrabar,
            ..self.clone()
        }
    }

    /// The same bot on a pair whose exchange takes prices and quantities in these steps.
    pub fn with_limits(&self, limits: PairLimits) -> BotModel {
        let step = |d: Option<Decimal>| d.map(f).filter(|s| *s > 0.0);
        BotModel {
            price_step: step(limits.price_step),
            lot_step: step(limits.lot_step),
            ..self.clone()
        }
    }

    /// A buy (`buy`) or sell limit price on the pair's price grid, in the deal's disfavour: a
    /// buy rounds down and a sell up, so the order fills no sooner than the unrounded one and
    /// a take profit nets at least its target.
    #[inline]
    fn limit_price(&self, price: f64, buy: bool) -> f64 {
        match self.price_step {
            Some(step) if buy => (price / step + 1e-9).floor() * step,
            Some(step) => (price / step - 1e-9).ceil() * step,
            None => price,
        }
    }

    /// A quantity as the exchange takes it: whole lots, rounded down.
    #[inline]
    fn lots(&self, coins: f64) -> f64 {
        match self.lot_step {
            Some(step) => (coins / step + 1e-9).floor() * step,
            None => coins,
        }
    }

    pub fn is_short(&self) -> bool {
        self.short
    }

    /// Safety orders in the ladder.
    pub fn safety_orders(&self) -> usize {
        self.safety.len()
    }

    pub fn cooldown_ms(&self) -> i64 {
        self.cooldown_ms
    }

    /// For each candle: may a deal open at its open as far as the start conditions go? `None`
    /// for `nonstop`. Call [`BotModel::check_candles`] first.
    pub fn start_gate(
        &self,
        candles: &[Candle],
        volumes: Option<&[f64]>,
        interval_ms: i64,
    ) -> Option<Vec<bool>> {
        conditions::gate(&self.starts, candles, volumes, interval_ms)
    }

    /// For each candle: do the safety-order conditions let the safety orders the price has
    /// reached fill at its open? `None` when the bot has none (its safety orders are limit
    /// orders). Call [`BotModel::check_candles`] first.
    pub fn safety_gate(
        &self,
        candles: &[Candle],
        volumes: Option<&[f64]>,
        interval_ms: i64,
    ) -> Option<Vec<bool>> {
        conditions::gate(&self.safety_conditions, candles, volumes, interval_ms)
    }

    /// Can this bot run on candles `interval_ms` apart, with or without volumes?
    pub fn check_candles(&self, interval_ms: i64, volumes: bool) -> Result<(), NotBacktestable> {
        self.starts
            .iter()
            .chain(&self.safety_conditions)
            .try_for_each(|c| c.check(interval_ms, volumes))
    }
}

/// A pair's order steps on its exchange (3Commas `currency_rates`: `priceStep`, `lotStep`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PairLimits {
    pub price_step: Option<Decimal>,
    pub lot_step: Option<Decimal>,
}

/// Why a bot cannot be backtested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotBacktestable(pub String);

/// Starts the simulation can assume for a bot whose start conditions it cannot compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssumeStart {
    /// Only bots that start `nonstop` (or whose conditions are computable) are simulated.
    #[default]
    AsConfigured,
    /// Treat every start condition as `nonstop` (and say so in `not_simulated`).
    Nonstop,
}

/// Which of a candle's extremes the price reaches first: candles do not say, and the choice
/// decides whether a deal fills safety orders and takes profit in one candle.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, schemars::JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Intrabar {
    /// The deal's adverse extreme first (a long deal's low, a short deal's high): safety orders
    /// and the stop loss before the take profit. The most cautious path, and the default.
    #[default]
    Worst,
    /// The deal's favourable extreme first: the take profit before the safety orders.
    Best,
    /// The low first, whatever the deal's direction.
    LowFirst,
    /// The high first, whatever the deal's direction.
    HighFirst,
    /// TradingView's broker emulator: the extreme nearer the open first (the low on a tie).
    #[value(name = "tradingview")]
    #[serde(rename = "tradingview")]
    TradingView,
}

impl Intrabar {
    /// Does the price reach the candle's low before its high?
    #[inline]
    pub fn low_first(self, short: bool, candle: &Candle) -> bool {
        match self {
            Intrabar::Worst => !short,
            Intrabar::Best => short,
            Intrabar::LowFirst => true,
            Intrabar::HighFirst => false,
            Intrabar::TradingView => candle.open - candle.low <= candle.high - candle.open,
        }
    }

    /// The path a run is compared with, to show how much the unknown path inside a candle
    /// decides: the other extreme first (TradingView's rule against the most cautious one).
    pub fn opposite(self) -> Intrabar {
        match self {
            Intrabar::Worst => Intrabar::Best,
            Intrabar::Best | Intrabar::TradingView => Intrabar::Worst,
            Intrabar::LowFirst => Intrabar::HighFirst,
            Intrabar::HighFirst => Intrabar::LowFirst,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Intrabar::Worst => "worst",
            Intrabar::Best => "best",
            Intrabar::LowFirst => "low-first",
            Intrabar::HighFirst => "high-first",
            Intrabar::TradingView => "tradingview",
        }
    }
}

fn f(d: Decimal) -> f64 {
    d.0.to_f64().unwrap_or(0.0)
}

/// A simulated amount as a decimal, rounded to 8 places.
pub fn dec(x: f64) -> Decimal {
    rust_decimal::Decimal::from_f64(x)
        .map(|d| Decimal::from(d).round_dp(8))
        .unwrap_or_default()
}

/// What a backtest assumes beyond the bot's settings: the fee, how outside start signals are
/// taken, and the balance a percent-of-balance order is a share of.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Assumptions {
    /// Percent of every fill's and sale's quote amount.
    pub fee_percentage: Decimal,
    /// Where that fee comes from.
    pub fee_source: FeeSource,
    pub start: AssumeStart,
    /// The quote balance (`--balance`): a volume of type `percent` is that share of it.
    pub balance: Option<Decimal>,
    /// The path inside each candle.
    pub intrabar: Intrabar,
}

/// Where a backtest's fee comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeeSource {
    /// Nobody said: 0 unless given.
    #[default]
    NotGiven,
    /// The caller gave it (`--fee`).
    Given,
    /// The exchange's usual fee ([`fees::usual_taker_fee`]).
    Usual(&'static str),
}

impl FeeSource {
    /// How the report names it.
    pub fn describe(self) -> String {
        match self {
            FeeSource::NotGiven => "none given".into(),
            FeeSource::Given => "given".into(),
            FeeSource::Usual(what) => what.into(),
        }
    }
}

/// Compile a bot's (merged) settings into the model. Returns what the model leaves out.
///
/// Every field of the settings is named below, with no `..`: a new field does not compile
/// until someone decides whether the model simulates it or names it in `not_simulated`.
pub fn compile(
    settings: &BotSettings,
    assumptions: &Assumptions,
) -> Result<(BotModel, Vec<String>), NotBacktestable> {
    let BotSettings {
        // Who and where: not part of the model (each pair is run on its own candles).
        name: _,
        pairs,
        // The ladder: `LadderInput` reads these (direction, volumes, steps, coefficients).
        strategy: _,
        base_order_volume: _,
        base_order_volume_type: _,
        safety_order_volume: _,
        safety_order_volume_type: _,
        safety_order_step_percentage: _,
        max_safety_orders: _,
        martingale_volume_coefficient: _,
        martingale_step_coefficient: _,
        custom_safety_steps,
        // Placing one safety order at a time or all: the same fills in a candle walk (the next
        // order is placed as soon as one fills, and the walk fills every order the low reached).
        active_safety_orders_count: _,
        strategy_list,
        close_strategy_list,
        safety_strategy_list,
        max_active_deals,
        allowed_deals_on_same_pair,
        take_profit,
        take_profit_type,
        take_profit_steps,
        min_profit_percentage,
        // Only read with min_profit_percentage, named there.
        min_profit_type: _,
        profit_currency,
        trailing_enabled,
        trailing_deviation,
        stop_loss_percentage,
        stop_loss_type,
        stop_loss_timeout_enabled,
        stop_loss_timeout_in_seconds,
        tsl_enabled,
        sl_to_breakeven_enabled,
        // Only read with sl_to_breakeven_enabled, named there.
        sl_to_breakeven_data: _,
        cooldown,
        deal_start_delay_seconds,
        close_deals_timeout,
        disable_after_deals_count,
        min_volume_btc_24h,
        min_price,
        max_price,
        min_price_percentage,
        max_price_percentage,
        start_order_type,
        leverage_type,
        leverage_custom_value,
        risk_reduction_percentage,
        reinvesting_percentage,
    } = settings;
    let input = LadderInput::from_settings(settings).ok_or_else(|| {
        NotBacktestable("the bot lacks ladder settings (validate says which)".into())
    })?;
    let numbers = dca::compute(&input)
        .map_err(|_| NotBacktestable("the ladder grows past any real balance".into()))?;
    let mut not_simulated = Vec::new();
    let mut leave_out = |what: String| not_simulated.push(what);
    let short = input.direction == Direction::Short;
    // 3Commas' custom deviations are signed; a step on the wrong side of the base price would
    // be placed where this model never looks (a long bot buying as the price rises).
    if let Some(wrong) = custom_safety_steps
        .iter()
        .flatten()
        .find(|s| !s.on_the_side_of(input.direction))
    {
        return Err(NotBacktestable(format!(
            "custom safety step at deviation {}: 3Commas places it on the far side of the base price for a {} bot (negative is below the base price, positive above)",
            wrong.deviation, input.direction
        )));
    }
    // A volume in percent is a share of the balance, which only the caller knows.
    let amount = |volume: Decimal, kind: VolumeType, what: &str| match kind {
        VolumeType::Percent => match assumptions.balance {
            Some(balance) => Ok(f(balance) * f(volume) / 100.0),
            None => Err(NotBacktestable(format!(
                "{what} in percent of the balance; pass --balance (the quote balance it is a share of)"
            ))),
        },
        _ => Ok(f(volume)),
    };
    let base_amount = amount(
        input.base_order_volume,
        input.base_order_volume_type,
        "base order",
    )?;
    let safety = numbers
        .ladder
        .iter()
        .map(|so| {
            Ok(Rung {
                deviation: f(so.deviation_percentage) / 100.0,
                amount: amount(so.volume, input.safety_order_volume_type, "safety orders")?,
                in_base: input.safety_order_volume_type == VolumeType::BaseCurrency,
            })
        })
        .collect::<Result<Vec<_>, NotBacktestable>>()?;
    let starts = strategy_list.clone().unwrap_or_default();
    let (starts, outside) = conditions::compile(&starts, short, conditions::Role::Start)?;
    if !outside.is_empty() {
        let ids: Vec<&str> = outside.iter().map(|o| o.0.as_str()).collect();
        match assumptions.start {
            AssumeStart::Nonstop => leave_out(format!(
                "start conditions ({}): assumed always met",
                ids.join(", ")
            )),
            AssumeStart::AsConfigured => {
                return Err(NotBacktestable(format!(
                    "deals start on {}, signals from outside the candles; pass --assume-start nonstop to assume them always met",
                    ids.join(", ")
                )));
            }
        }
    }
    let steps = take_profit_steps.as_deref().unwrap_or_default();
    if !steps.is_empty() && !numbers.ladder.is_empty() {
        leave_out("take_profit_steps with safety orders: a safety order that fills after a step keeps adding coins, and each later step sells its share of every coin bought (3Commas does not document it)".into());
    }
    if take_profit_type.is_some_and(|t| t != TakeProfitType::Total) {
        leave_out(
            "take_profit_type = base: the take profit is computed from the whole position (total)"
                .into(),
        );
    }
    let trailing = match (trailing_enabled, trailing_deviation) {
        (Some(true), Some(d)) if !d.is_zero() => Some(f(*d) / 100.0),
        (Some(true), _) => {
            leave_out(
                "trailing take profit without trailing_deviation: closes at the take-profit price"
                    .into(),
            );
            None
        }
        _ => None,
    };
    let stop_timeout_ms = match (stop_loss_timeout_enabled, stop_loss_timeout_in_seconds) {
        (Some(true), Some(s)) => Some(i64::from(*s) * 1000),
        (Some(true), None) => {
            leave_out("stop-loss timeout without stop_loss_timeout_in_seconds: the stop sells as soon as it is reached".into());
            None
        }
        _ => None,
    };
    if *sl_to_breakeven_enabled == Some(true) {
        leave_out("stop loss moved to break-even: the stop stays where it was set".into());
    }
    if min_profit_percentage.is_some_and(|m| !m.is_zero()) {
        leave_out("min_profit_percentage: close conditions are not simulated either".into());
    }
    if close_strategy_list.as_ref().is_some_and(|c| !c.is_empty()) {
        leave_out("close conditions: deals close only at the take profit or the stop loss".into());
    }
    let (safety_conditions, safety_outside) = conditions::compile(
        safety_strategy_list.as_deref().unwrap_or_default(),
        short,
        conditions::Role::SafetyOrder,
    )?;
    if !safety_outside.is_empty() {
        let ids: Vec<&str> = safety_outside.iter().map(|o| o.0.as_str()).collect();
        leave_out(format!(
            "safety-order conditions ({}): signals from outside the candles, assumed always met (the safety orders fill at their prices)",
            ids.join(", ")
        ));
    }
    let pair_count = pairs.as_ref().map_or(1, Vec::len);
    let max_deals = max_active_deals.unwrap_or(1);
    // Across a multi-pair bot's pairs, max_active_deals, disable_after_deals_count and
    // stop_loss_and_disable_bot hold when its pairs are run together (`run_bot`); a run that
    // gives one series for every pair (synthetic paths) says so itself.
    if pair_count > 1 {
        if allowed_deals_on_same_pair.is_some_and(|a| a > 1) {
            leave_out("allowed_deals_on_same_pair: one deal at a time on each pair".into());
        }
    } else if max_deals > 1 {
        leave_out(format!(
            "max_active_deals = {max_deals} on a single pair: one deal at a time (3Commas opens another on a new start signal)"
        ));
    }
    if profit_currency.is_some_and(|p| p == ProfitCurrency::BaseCurrency) {
        leave_out("profit_currency = base_currency: profit is taken in the quote currency".into());
    }
    if min_volume_btc_24h.is_some_and(|v| !v.is_zero()) {
        leave_out("min_volume_btc_24h: the 24-hour volume filter is not applied".into());
    }
    if min_price_percentage.is_some_and(|v| !v.is_zero())
        || max_price_percentage.is_some_and(|v| !v.is_zero())
    {
        leave_out("min_price_percentage / max_price_percentage: the range is not applied".into());
    }
    if *start_order_type == Some(StartOrderType::Limit) {
        leave_out("start_order_type = limit: the base order fills at the candle's open".into());
    }
    if leverage_type.is_some_and(|l| l != LeverageType::NotSpecified)
        || leverage_custom_value.is_some_and(|v| v > Decimal::ONE)
    {
        leave_out("leverage: no margin, funding or liquidation".into());
    }
    if risk_reduction_percentage.is_some_and(|v| !v.is_zero()) {
        leave_out(
            "risk_reduction_percentage: a stop's loss does not shrink the next orders".into(),
        );
    }
    if reinvesting_percentage.is_some_and(|v| !v.is_zero()) {
        leave_out("reinvesting_percentage: profit is not added to the next orders".into());
    }
    // Steps replace take_profit (3Commas refuses both; validate says so).
    let take_profits = if steps.is_empty() {
        let take_profit = take_profit.map(f).unwrap_or(0.0) / 100.0;
        if take_profit <= 0.0 {
            return Err(NotBacktestable(
                "take_profit is 0: deals would never close".into(),
            ));
        }
        vec![TakeProfit {
            share: 1.0,
            profit: take_profit,
        }]
    } else {
        steps
            .iter()
            .map(|s| TakeProfit {
                share: f(s.amount_percentage) / 100.0,
                profit: f(s.profit_percentage) / 100.0,
            })
            .collect()
    };
    let stop_loss = stop_loss_percentage
        .filter(|s| !s.is_zero())
        .map(|s| f(s) / 100.0);
    let price = |p: &Option<Decimal>| p.filter(|p| !p.is_zero()).map(f);
    Ok((
        BotModel {
            short,
            starts,
            base: Rung {
                deviation: 0.0,
                amount: base_amount,
                in_base: input.base_order_volume_type == VolumeType::BaseCurrency,
            },
            safety,
            take_profits,
            trailing,
            stop_loss,
            trailing_stop: stop_loss.is_some() && *tsl_enabled == Some(true),
            stop_timeout_ms: stop_timeout_ms.filter(|_| stop_loss.is_some()),
            stop_disables: *stop_loss_type == Some(StopLossType::StopLossAndDisableBot),
            cooldown_ms: i64::from(cooldown.unwrap_or(0)) * 1000,
            start_delay_ms: i64::from(deal_start_delay_seconds.unwrap_or(0)) * 1000,
            min_price: price(min_price),
            max_price: price(max_price),
            close_timeout_ms: close_deals_timeout
                .filter(|t| *t > 0)
                .map(|t| i64::from(t) * 1000),
            deals_limit: disable_after_deals_count.filter(|n| *n > 0),
            max_active_deals: max_deals,
            fee: f(assumptions.fee_percentage) / 100.0,
            intrabar: assumptions.intrabar,
            price_step: None,
            lot_step: None,
            safety_on_signal: !safety_conditions.is_empty(),
            safety_conditions,
        },
        not_simulated,
    ))
}

/// What one bot did on one pair.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    pub deals_closed: u32,
    pub deals_stopped: u32,
    /// Deals closed at market by `close_deals_timeout`.
    pub deals_timed_out: u32,
    pub deals_open_at_end: u32,
    /// How long the deal still open at the end had been open (0: none).
    pub open_deal_age_ms: i64,
    /// The deal still open at the end.
    pub open_deal: Option<OpenDeal>,
    pub profit_quote: f64,
    pub unrealized_quote: f64,
    pub max_safety_orders_filled: u32,
    /// Deals by the number of safety orders they filled, 0..=max_safety_orders.
    pub so_filled_histogram: Vec<u32>,
    pub max_capital_used: f64,
    pub max_drawdown_quote: f64,
    pub total_deal_duration_ms: i64,
    pub max_deal_duration_ms: i64,
    /// Deals that lasted longer than a week (closed, or still open at the end).
    pub deals_longer_than_a_week: u32,
    /// A deal filled every safety order.
    pub ladder_exhausted: u32,
    /// Candles a deal was walked through on finer candles (`--detail`), and those the finer
    /// candles did not cover whole (walked along the `Intrabar` rule instead).
    pub candles_walked_in_detail: u32,
    pub candles_without_detail: u32,
}

impl Outcome {
    pub fn finished_deals(&self) -> u32 {
        self.deals_closed + self.deals_stopped + self.deals_timed_out
    }
}

const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

/// A deal in progress: what the model needs to walk the next candle. The backtest keeps one
/// per pair; the trading sandbox keeps one per live deal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenDeal {
    pub entry: f64,
    pub opened_ms: i64,
    /// Safety orders filled.
    pub filled: usize,
    /// Long: coins bought. Short: coins sold.
    pub base: f64,
    /// Long: quote spent. Short: quote received.
    pub quote: f64,
    pub fees: f64,
    /// Take-profit steps filled (never the last: it closes the deal).
    pub steps_filled: usize,
    /// Of `base`, the coins the filled steps sold (long) or bought back (short).
    pub steps_base: f64,
    /// The quote those steps received (long) or paid (short).
    pub steps_quote: f64,
    /// The best price since the trailing take profit started (`None`: not started).
    trail_peak: Option<f64>,
    /// The best price since the entry, which a trailing stop follows.
    best: f64,
    /// When the price reached the stop of a bot with a stop-loss timeout, and has stayed past
    /// it at every close since.
    stop_since_ms: Option<i64>,
}

/// What one candle did to a deal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Walked {
    /// The deal's lowest value at the prices the walk visited, after their fills (profit if
    /// closed there, without the closing fee): the drawdown figure.
    pub worst: f64,
    /// The deal closed in this candle: at this price, by its stop loss when `true`.
    pub exit: Option<(f64, bool)>,
}

impl OpenDeal {
    /// Open a deal at `candle`'s open: the base order fills there.
    #[inline]
    pub fn open(model: &BotModel, candle: &Candle) -> OpenDeal {
        let entry = candle.open;
        let mut deal = OpenDeal {
            entry,
            opened_ms: candle.open_time_ms,
            filled: 0,
            base: 0.0,
            quote: 0.0,
            fees: 0.0,
            steps_filled: 0,
            steps_base: 0.0,
            steps_quote: 0.0,
            trail_peak: None,
            best: entry,
            stop_since_ms: None,
        };
        deal.order(model, &model.base, entry);
        deal
    }

    /// A deal already under way (one the trading sandbox finds in its state after a restart),
    /// from what the deal shows: entry price, safety orders filled, base and quote so far.
    pub fn resume(
        model: &BotModel,
        entry: f64,
        opened_ms: i64,
        filled: usize,
        base: f64,
        quote: f64,
    ) -> OpenDeal {
        let mut deal = OpenDeal::open(
            model,
            &Candle {
                open_time_ms: opened_ms,
                open: entry,
                high: entry,
                low: entry,
                close: entry,
            },
        );
        deal.filled = filled.min(model.safety.len());
        deal.base = base;
        deal.quote = quote;
        deal.fees = 0.0;
        deal
    }

    /// The price of safety order `k` (0-based) for this deal's entry.
    #[inline]
    fn safety_price(&self, model: &BotModel, k: usize) -> f64 {
        let sign = if model.short { 1.0 } else { -1.0 };
        model.limit_price(
            self.entry * (1.0 + sign * model.safety[k].deviation),
            !model.short,
        )
    }

    /// The safety-order conditions hold at a candle that opens at `price`: every unfilled
    /// safety order whose price it has reached fills there, at market.
    #[inline]
    pub fn fill_on_signal(&mut self, model: &BotModel, price: f64) {
        while self.filled < model.safety.len() {
            let order = self.safety_price(model, self.filled);
            let reached = if model.short {
                price >= order
            } else {
                price <= order
            };
            if !reached {
                break;
            }
            let rung = model.safety[self.filled];
            self.order(model, &rung, price);
            self.filled += 1;
        }
    }

    /// An order of `rung` fills at `price`: its coins in whole lots.
    #[inline]
    fn order(&mut self, model: &BotModel, rung: &Rung, price: f64) {
        let wanted = if rung.in_base {
            rung.amount
        } else {
            rung.amount / price
        };
        let (coins, quote) = match model.lot_step {
            None if !rung.in_base => (wanted, rung.amount),
            _ => {
                let coins = model.lots(wanted);
                (coins, coins * price)
            }
        };
        self.base += coins;
        self.quote += quote;
        self.fees += quote * model.fee;
    }

    /// Coins still held (long) or still owed (short).
    #[inline]
    pub fn held(&self) -> f64 {
        self.base - self.steps_base
    }

    /// What the deal has made so far, closing what it still holds at `price` (with the closing
    /// fee when `closing`): the steps' quote plus the rest at `price`, minus cost and fees.
    #[inline]
    pub fn profit_at(&self, price: f64, short: bool, fee: f64, closing: bool) -> f64 {
        let exit = self.held() * price;
        let exit_fee = if closing { exit * fee } else { 0.0 };
        let gross = if short {
            self.quote - self.steps_quote - exit
        } else {
            self.steps_quote + exit - self.quote
        };
        gross - self.fees - exit_fee
    }

    /// The price of take-profit step `k`: average × (1 + profit) for a long deal, with the fee
    /// built in as 3Commas places the order (it "includes a 0.1% fee", help centre 3109032):
    /// × (1 + fee) / (1 − fee), so that the deal nets its profit on its cost after the fees of
    /// its buys and of the sale. A short deal mirrors it: average × (1 − profit) × (1 − fee) /
    /// (1 + fee). With no fee, the plain average × (1 ± profit). The average is over every coin
    /// bought (quote spent / base bought).
    #[inline]
    fn step_price(&self, model: &BotModel, k: usize) -> f64 {
        let average = self.quote / self.base;
        let (fee, profit) = (model.fee, model.take_profits[k].profit);
        let price = if model.short {
            average * (1.0 - profit) * (1.0 - fee) / (1.0 + fee)
        } else {
            average * (1.0 + profit) * (1.0 + fee) / (1.0 - fee)
        };
        model.limit_price(price, model.short)
    }

    /// The price of the next take-profit order.
    #[inline]
    pub fn take_profit_price(&self, model: &BotModel) -> f64 {
        self.step_price(model, self.steps_filled)
    }

    /// The stop loss's price, when the bot has one: from the entry, or with a trailing stop
    /// from the best price since the entry.
    #[inline]
    pub fn stop_loss_price(&self, model: &BotModel) -> Option<f64> {
        let sign = if model.short { 1.0 } else { -1.0 };
        let from = if model.trailing_stop {
            self.best
        } else {
            self.entry
        };
        model.stop_loss.map(|sl| from * (1.0 + sign * sl))
    }

    /// Walk one candle (`interval_ms` long) along the path the model's [`Intrabar`] rule gives:
    /// its open, one extreme, the other, its close. At each price, in this order: the safety
    /// orders it reached fill at their own prices; a trailing stop follows the price; the deal
    /// is valued (the lowest value is the drawdown figure); the stop loss sells if the price
    /// reached it (at the open when the candle opened past it, a market order through a gap);
    /// the take-profit steps it reached sell their shares at their prices; the last step
    /// closes the deal at its price, or with a trailing take profit starts trailing there and
    /// closes when the price falls back by the deviation from the best price since (at that
    /// level, or at the open through a gap). With a stop-loss timeout, reaching the stop starts
    /// a timer at the candle's open instead: a close back on the right side of the stop stops
    /// it, and the first close past the stop at least the timeout after the timer's start
    /// sells there.
    #[inline]
    pub fn walk(&mut self, model: &BotModel, candle: &Candle, interval_ms: i64) -> Walked {
        // Most candles reach no order: then no path can differ, and the deal's lowest value is
        // at its adverse extreme (the very figure the walk below would find there).
        if self.quiet(model, candle) {
            let adverse = if model.short { candle.high } else { candle.low };
            return Walked {
                worst: self.profit_at(adverse, model.short, model.fee, false),
                exit: None,
            };
        }
        let low_first = model.intrabar.low_first(model.short, candle);
        let (first, second) = if low_first {
            (candle.low, candle.high)
        } else {
            (candle.high, candle.low)
        };
        let mut worst = f64::INFINITY;
        for (k, price) in [candle.open, first, second, candle.close]
            .into_iter()
            .enumerate()
        {
            if let Some(exit) = self.visit(model, price, k == 0, candle.open_time_ms, &mut worst) {
                return Walked {
                    worst,
                    exit: Some(exit),
                };
            }
        }
        let exit = self.stop_timer(model, candle, interval_ms);
        Walked { worst, exit }
    }

    /// Does the candle stay clear of the next safety order, the stop loss and the next take
    /// profit, with nothing trailing or timing?
    #[inline]
    fn quiet(&self, model: &BotModel, candle: &Candle) -> bool {
        if self.trail_peak.is_some() || self.stop_since_ms.is_some() {
            return false;
        }
        let next = (!model.safety_on_signal && self.filled < model.safety.len())
            .then(|| self.safety_price(model, self.filled));
        let stop = self.stop_loss_price(model);
        let take = self.take_profit_price(model);
        let trails = model.trailing_stop;
        if model.short {
            next.is_none_or(|p| p > candle.high)
                && stop.is_none_or(|p| p > candle.high)
                && take < candle.low
                && (!trails || candle.low >= self.best)
        } else {
            next.is_none_or(|p| p < candle.low)
                && stop.is_none_or(|p| p < candle.low)
                && take > candle.high
                && (!trails || candle.high <= self.best)
        }
    }

    /// The price reaches `price` on its way through a candle that opened at `now_ms` (`gap`:
    /// this is the candle's open, reached by a jump from the last close).
    #[inline]
    fn visit(
        &mut self,
        model: &BotModel,
        price: f64,
        gap: bool,
        now_ms: i64,
        worst: &mut f64,
    ) -> Option<(f64, bool)> {
        let short = model.short;
        // `a` is at or past `b` in the deal's favour (up for a long deal).
        let above = |a: f64, b: f64| if short { a <= b } else { a >= b };
        while !model.safety_on_signal && self.filled < model.safety.len() {
            let order = self.safety_price(model, self.filled);
            if !above(order, price) {
                break;
            }
            let rung = model.safety[self.filled];
            self.order(model, &rung, order);
            self.filled += 1;
        }
        if model.trailing_stop && above(price, self.best) {
            self.best = price;
        }
        *worst = worst.min(self.profit_at(price, short, model.fee, false));
        if let Some(stop) = self.stop_loss_price(model)
            && above(stop, price)
        {
            if model.stop_timeout_ms.is_none() {
                return Some((if gap { price } else { stop }, true));
            }
            self.stop_since_ms.get_or_insert(now_ms);
        }
        // The steps before the last are limit orders at their prices.
        let last = model.take_profits.len() - 1;
        while self.steps_filled < last {
            let at = self.step_price(model, self.steps_filled);
            if !above(price, at) {
                break;
            }
            let coins = model
                .lots(model.take_profits[self.steps_filled].share * self.base)
                .min(self.held());
            self.steps_base += coins;
            self.steps_quote += coins * at;
            self.fees += coins * at * model.fee;
            self.steps_filled += 1;
        }
        let take = self.step_price(model, last);
        let Some(deviation) = model.trailing else {
            return above(price, take).then_some((take, false));
        };
        if self.trail_peak.is_none() && above(price, take) {
            self.trail_peak = Some(price);
        }
        let peak = self.trail_peak.as_mut()?;
        if above(price, *peak) {
            *peak = price;
        }
        let level = if short {
            *peak * (1.0 + deviation)
        } else {
            *peak * (1.0 - deviation)
        };
        above(level, price).then_some((if gap { price } else { level }, false))
    }

    /// At the candle's close, a running stop-loss timer: stopped by a close back on the right
    /// side of the stop, or run out (the deal sells at the close).
    #[inline]
    fn stop_timer(
        &mut self,
        model: &BotModel,
        candle: &Candle,
        interval_ms: i64,
    ) -> Option<(f64, bool)> {
        let (since, timeout, stop) = (
            self.stop_since_ms?,
            model.stop_timeout_ms?,
            self.stop_loss_price(model)?,
        );
        let past = if model.short {
            candle.close >= stop
        } else {
            candle.close <= stop
        };
        if !past {
            self.stop_since_ms = None;
            return None;
        }
        (candle.open_time_ms + interval_ms - since >= timeout).then_some((candle.close, true))
    }

    /// The deal as it closes at `price` (by its stop loss when `stopped`).
    pub fn close(&self, model: &BotModel, price: f64, stopped: bool) -> Closed {
        Closed {
            opened_ms: self.opened_ms,
            entry: self.entry,
            exit: price,
            base: self.base,
            quote: self.quote,
            steps_base: self.steps_base,
            steps_quote: self.steps_quote,
            fees: self.fees + self.held() * price * model.fee,
            profit: self.profit_at(price, model.short, model.fee, true),
            stopped,
            safety_orders_filled: self.filled,
            steps_filled: self.steps_filled,
        }
    }
}

/// What closed a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosedBy {
    TakeProfit,
    StopLoss,
    /// `close_deals_timeout`, at market.
    Timeout,
}

/// A deal as it closed, for checks and deal lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Closed {
    /// When the deal opened (its entry candle's open).
    pub opened_ms: i64,
    pub entry: f64,
    pub exit: f64,
    /// Long: coins bought. Short: coins sold.
    pub base: f64,
    /// Long: quote spent. Short: quote received.
    pub quote: f64,
    /// Of `base`, the coins take-profit steps sold (long) or bought back (short) before the
    /// close, and the quote they received (paid): the rest closed at `exit`.
    pub steps_base: f64,
    pub steps_quote: f64,
    /// Fees of every fill and of the closing trade.
    pub fees: f64,
    pub profit: f64,
    pub stopped: bool,
    pub safety_orders_filled: usize,
    /// Take-profit steps that sold before the close.
    pub steps_filled: usize,
}

/// Run a bot over one pair's candles (`interval_ms` apart, sorted).
pub fn run(model: &BotModel, candles: &[Candle], interval_ms: i64) -> Outcome {
    run_with(model, candles, None, interval_ms, |_| {})
}

/// [`run`] with the candles' volumes (when the source has them: the Money Flow Index needs
/// them), telling `on_close` about each deal as it closes.
pub fn run_with(
    model: &BotModel,
    candles: &[Candle],
    volumes: Option<&[f64]>,
    interval_ms: i64,
    mut on_close: impl FnMut(&Closed),
) -> Outcome {
    let mut pair = PairRun::new(model, candles, volumes, interval_ms);
    // One pair runs one deal at a time: no cap to apply.
    let mut bot = BotState::new(u32::MAX);
    for i in 0..candles.len() {
        pair.open_phase(i, &mut bot);
        pair.walk_phase(i, &mut bot, |closed, _, _| on_close(closed));
    }
    pair.finish()
}

/// One pair's candles, for [`run_bot`].
#[derive(Debug, Clone, Copy)]
pub struct PairCandles<'a> {
    pub candles: &'a [Candle],
    pub volumes: Option<&'a [f64]>,
    pub interval_ms: i64,
    /// The pair's order steps, when known.
    pub limits: Option<PairLimits>,
    /// Finer candles of the same pair (`--detail`), sorted, `detail_interval_ms` apart: a
    /// candle they cover whole is walked on them instead of along the `Intrabar` rule.
    pub detail: &'a [Candle],
    pub detail_interval_ms: i64,
}

/// A multi-pair bot over its pairs at once: per pair, and in total.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BotOutcome {
    pub per_pair: Vec<Outcome>,
    /// Most quote committed at once across the pairs.
    pub max_capital_used: f64,
    /// Worst unrealized loss at once across the pairs (each open deal at its candle's worst
    /// point, summed at each time).
    pub max_drawdown_quote: f64,
    /// Most deals open at once.
    pub max_deals_at_once: u32,
}

/// Run a bot over all its pairs together, in time order, so that what the pairs share holds:
/// at most `max_active_deals` deals at once across them (3Commas: "the maximum number of deals
/// the bot can have open at the same time"), `disable_after_deals_count` counting every pair's
/// deals, and a stop of a `stop_loss_and_disable_bot` bot ending the openings on every pair.
/// Openings of a time step are decided before its candles are walked (a deal closing in a candle
/// frees its place from the next one), in the bot's pair order.
pub fn run_bot(
    model: &BotModel,
    pairs: &[PairCandles<'_>],
    observer: &mut impl Observer,
) -> BotOutcome {
    // Each pair's orders on its own exchange steps.
    let models: Vec<std::borrow::Cow<'_, BotModel>> = pairs
        .iter()
        .map(|p| match p.limits {
            Some(limits) => std::borrow::Cow::Owned(model.with_limits(limits)),
            None => std::borrow::Cow::Borrowed(model),
        })
        .collect();
    let mut runs: Vec<PairRun<'_>> = pairs
        .iter()
        .zip(&models)
        .map(|(p, m)| {
            let mut run = PairRun::new(m, p.candles, p.volumes, p.interval_ms);
            run.detail = p.detail;
            run.detail_interval_ms = p.detail_interval_ms;
            run
        })
        .collect();
    let mut bot = BotState::new(model.max_active_deals.max(1));
    let mut cursor = vec![0usize; pairs.len()];
    let mut total = BotOutcome::default();
    // Each pair's open deal as last walked: its worst value, the quote it committed, its value
    // at the close.
    let mut last = vec![Seen::default(); pairs.len()];
    let mut realized = 0.0;
    let mut now: Vec<usize> = Vec::with_capacity(pairs.len());
    while let Some(t) = (0..pairs.len())
        .filter_map(|p| pairs[p].candles.get(cursor[p]).map(|c| c.open_time_ms))
        .min()
    {
        now.clear();
        now.extend(
            (0..pairs.len())
                .filter(|&p| pairs[p].candles.get(cursor[p]).map(|c| c.open_time_ms) == Some(t)),
        );
        for &p in &now {
            runs[p].open_phase(cursor[p], &mut bot);
        }
        total.max_deals_at_once = total.max_deals_at_once.max(bot.active);
        for &p in &now {
            let walked = runs[p].walk_phase(cursor[p], &mut bot, |c, by, at| {
                realized += c.profit;
                observer.closed(p, c, by, at);
            });
            last[p] = walked.unwrap_or_default();
            cursor[p] += 1;
        }
        let sum = last.iter().fold(Seen::default(), |a, s| Seen {
            worst: a.worst + s.worst,
            committed: a.committed + s.committed,
            at_close: a.at_close + s.at_close,
        });
        total.max_drawdown_quote = total.max_drawdown_quote.max(-sum.worst);
        total.max_capital_used = total.max_capital_used.max(sum.committed);
        // A deal that closed counts no more.
        for &p in &now {
            if runs[p].deal.is_none() {
                last[p] = Seen::default();
            }
        }
        let end = now
            .iter()
            .map(|&p| pairs[p].candles[cursor[p] - 1].open_time_ms + pairs[p].interval_ms)
            .max()
            .unwrap_or(t);
        observer.step(end, realized + sum.at_close, sum.committed);
    }
    total.per_pair = runs.into_iter().map(PairRun::finish).collect();
    total
}

/// What a run tells as it goes, for deal lists and equity curves. Both do nothing by default.
pub trait Observer {
    /// A deal of pair `pair` (its index) closed, by `by`, at `at_ms` (the end of its candle).
    fn closed(&mut self, _pair: usize, _deal: &Closed, _by: ClosedBy, _at_ms: i64) {}
    /// At the end of each time step (`at_ms`): realized profit plus the open deals' values at
    /// their closes (no closing fee), and the quote they commit.
    fn step(&mut self, _at_ms: i64, _equity: f64, _committed: f64) {}
}

/// An observer that looks at nothing.
impl Observer for () {}

/// A pair's open deal as one candle left it.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// Its lowest value in the candle.
    worst: f64,
    committed: f64,
    /// Its value at the candle's close (0 once closed: its profit is realized).
    at_close: f64,
}

/// What the pairs of one bot share as it runs.
struct BotState {
    /// Deals open at once, at most `cap`.
    active: u32,
    cap: u32,
    opened: u32,
    /// No deal opens any more (`disable_after_deals_count`, `stop_loss_and_disable_bot`).
    disabled: bool,
}

impl BotState {
    fn new(cap: u32) -> BotState {
        BotState {
            active: 0,
            cap,
            opened: 0,
            disabled: false,
        }
    }
}

/// One pair's deals as the run goes.
struct PairRun<'a> {
    model: &'a BotModel,
    candles: &'a [Candle],
    interval_ms: i64,
    gate: Option<Vec<bool>>,
    /// Candles at whose open the safety-order conditions hold (`None`: limit orders).
    safety_gate: Option<Vec<bool>>,
    deal: Option<OpenDeal>,
    next_start_ms: i64,
    /// A deal that could open, waiting out `deal_start_delay_seconds`: it opens at this time.
    delayed_until: Option<i64>,
    /// Finer candles to walk each candle on, where they cover it whole (`--detail`).
    detail: &'a [Candle],
    detail_interval_ms: i64,
    /// The first finer candle not yet passed.
    detail_next: usize,
    out: Outcome,
}

impl<'a> PairRun<'a> {
    fn new(
        model: &'a BotModel,
        candles: &'a [Candle],
        volumes: Option<&[f64]>,
        interval_ms: i64,
    ) -> PairRun<'a> {
        PairRun {
            model,
            candles,
            interval_ms,
            gate: conditions::gate(&model.starts, candles, volumes, interval_ms),
            safety_gate: model.safety_gate(candles, volumes, interval_ms),
            deal: None,
            next_start_ms: i64::MIN,
            delayed_until: None,
            detail: &[],
            detail_interval_ms: 0,
            detail_next: 0,
            out: Outcome {
                so_filled_histogram: vec![0; model.safety.len() + 1],
                ..Outcome::default()
            },
        }
    }

    /// At candle `i`'s open: does a deal open?
    #[inline]
    fn open_phase(&mut self, i: usize, bot: &mut BotState) {
        if self.deal.is_some() || bot.disabled {
            return;
        }
        let model = self.model;
        let candle = &self.candles[i];
        let room = bot.active < bot.cap;
        if self.delayed_until.is_none()
            && room
            && candle.open_time_ms >= self.next_start_ms
            && self.gate.as_ref().is_none_or(|g| g[i])
            && model.min_price.is_none_or(|m| candle.open >= m)
            && model.max_price.is_none_or(|m| candle.open <= m)
        {
            self.delayed_until = Some(candle.open_time_ms + model.start_delay_ms);
        }
        if self.delayed_until.is_some_and(|t| candle.open_time_ms >= t) {
            self.delayed_until = None;
            if room {
                self.deal = Some(OpenDeal::open(model, candle));
                bot.active += 1;
                bot.opened += 1;
                bot.disabled = model.deals_limit.is_some_and(|n| bot.opened >= n);
            }
        }
    }

    /// Walk candle `i` through the open deal, if any: its worst value in the candle and the
    /// quote it committed. A deal that closes is told to `on_close`, with what closed it and
    /// when (the end of the candle).
    #[inline]
    fn walk_phase(
        &mut self,
        i: usize,
        bot: &mut BotState,
        mut on_close: impl FnMut(&Closed, ClosedBy, i64),
    ) -> Option<Seen> {
        let model = self.model;
        let candle = &self.candles[i];
        let out = &mut self.out;
        let d = self.deal.as_mut()?;
        if self.safety_gate.as_ref().is_some_and(|g| g[i]) {
            d.fill_on_signal(model, candle.open);
        }
        let walked = match finer(
            self.detail,
            &mut self.detail_next,
            candle,
            self.interval_ms,
            self.detail_interval_ms,
        ) {
            Some(finer) => {
                out.candles_walked_in_detail += 1;
                walk_finer(d, model, finer, self.detail_interval_ms)
            }
            None => {
                if !self.detail.is_empty() {
                    out.candles_without_detail += 1;
                }
                d.walk(model, candle, self.interval_ms)
            }
        };
        out.max_capital_used = out.max_capital_used.max(d.quote);
        out.max_drawdown_quote = out.max_drawdown_quote.max(-walked.worst);
        let mut seen = Seen {
            worst: walked.worst,
            committed: d.quote,
            at_close: d.profit_at(candle.close, model.short, model.fee, false),
        };
        let end = candle.open_time_ms + self.interval_ms;
        let timed_out = walked.exit.is_none()
            && model
                .close_timeout_ms
                .is_some_and(|t| end - d.opened_ms >= t);
        let exit = walked
            .exit
            .or_else(|| timed_out.then_some((candle.close, false)));
        if let Some((price, stopped)) = exit {
            let closed = d.close(model, price, stopped);
            let by = if stopped {
                ClosedBy::StopLoss
            } else if timed_out {
                ClosedBy::Timeout
            } else {
                ClosedBy::TakeProfit
            };
            on_close(&closed, by, end);
            out.profit_quote += closed.profit;
            if closed.stopped {
                out.deals_stopped += 1;
                bot.disabled |= model.stop_disables;
            } else if timed_out {
                out.deals_timed_out += 1;
            } else {
                out.deals_closed += 1;
            }
            let duration = end - d.opened_ms;
            out.total_deal_duration_ms += duration;
            out.max_deal_duration_ms = out.max_deal_duration_ms.max(duration);
            if duration > WEEK_MS {
                out.deals_longer_than_a_week += 1;
            }
            record_fills(out, d.filled, model.safety.len());
            self.next_start_ms = end + model.cooldown_ms;
            self.deal = None;
            bot.active -= 1;
            seen.at_close = 0.0;
        }
        Some(seen)
    }

    /// The outcome, with the deal still open at the last candle marked at its close.
    fn finish(mut self) -> Outcome {
        let model = self.model;
        let out = &mut self.out;
        if let (Some(d), Some(last)) = (self.deal, self.candles.last()) {
            out.open_deal = Some(d);
            out.deals_open_at_end = 1;
            out.unrealized_quote = d.profit_at(last.close, model.short, model.fee, false);
            let age = last.open_time_ms + self.interval_ms - d.opened_ms;
            out.open_deal_age_ms = age;
            out.max_deal_duration_ms = out.max_deal_duration_ms.max(age);
            if age > WEEK_MS {
                out.deals_longer_than_a_week += 1;
            }
            record_fills(out, d.filled, model.safety.len());
        }
        self.out
    }
}

/// The finer candles that cover `candle` whole (every one of them, none missing), moving
/// `next` past them; `None` when they do not.
fn finer<'d>(
    detail: &'d [Candle],
    next: &mut usize,
    candle: &Candle,
    interval_ms: i64,
    detail_interval_ms: i64,
) -> Option<&'d [Candle]> {
    if detail.is_empty() || detail_interval_ms <= 0 {
        return None;
    }
    let end = candle.open_time_ms + interval_ms;
    while *next < detail.len() && detail[*next].open_time_ms < candle.open_time_ms {
        *next += 1;
    }
    let start = *next;
    while *next < detail.len() && detail[*next].open_time_ms < end {
        *next += 1;
    }
    let inside = &detail[start..*next];
    (inside.len() as i64 * detail_interval_ms == interval_ms).then_some(inside)
}

/// Walk a deal through a candle along the finer candles inside it: the worst value over all
/// of them, and the first exit.
fn walk_finer(deal: &mut OpenDeal, model: &BotModel, finer: &[Candle], interval_ms: i64) -> Walked {
    let mut worst = f64::INFINITY;
    for candle in finer {
        let walked = deal.walk(model, candle, interval_ms);
        worst = worst.min(walked.worst);
        if walked.exit.is_some() {
            return Walked {
                worst,
                exit: walked.exit,
            };
        }
    }
    Walked { worst, exit: None }
}

fn record_fills(out: &mut Outcome, filled: usize, ladder: usize) {
    out.so_filled_histogram[filled] += 1;
    out.max_safety_orders_filled = out.max_safety_orders_filled.max(filled as u32);
    if filled == ladder && ladder > 0 {
        out.ladder_exhausted += 1;
    }
}

/// The candle span a result covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct CandleSpan {
    /// ISO 8601, UTC.
    pub from: String,
    pub to: String,
    pub interval_s: i64,
    pub count: usize,
}

/// One bot on one pair, as `botform backtest --format json` reports it (format_version 1).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct PairReport {
    pub name: String,
    pub account: String,
    pub pair: String,
    pub candles: CandleSpan,
    /// Deals closed at the take profit.
    pub deals_closed: u32,
    /// Deals closed by the stop loss.
    pub deals_stopped: u32,
    /// Deals closed at market by `close_deals_timeout`.
    pub deals_timed_out: u32,
    pub deals_open_at_end: u32,
    /// How long the deal still open at the end had been open, in seconds (0: none).
    pub open_deal_age_s: i64,
    /// Realized, after fees, in the quote currency.
    pub profit_quote: Decimal,
    /// The deal still open, marked at the last close.
    pub unrealized_quote: Decimal,
    pub max_safety_orders_filled: u32,
    /// Deals by safety orders filled (index 0..=max_safety_orders).
    pub so_filled_histogram: Vec<u32>,
    /// Most quote committed at once.
    pub max_capital_used: Decimal,
    /// Worst unrealized loss.
    pub max_drawdown_quote: Decimal,
    /// Over the deals that closed.
    pub avg_deal_duration_s: i64,
    /// Over every deal, the one still open at the end included.
    pub max_deal_duration_s: i64,
    /// What the model left out for this bot (see the README).
    pub not_simulated: Vec<String>,
    /// Candles a deal was walked through on finer candles (`--detail`), and candles the finer
    /// ones did not cover whole (walked along `intrabar`).
    pub candles_walked_in_detail: u32,
    pub candles_without_detail: u32,
    /// The path taken inside each candle.
    pub intrabar: Intrabar,
    /// The same bot along the opposite path, when its profit or drawdown differs by more than
    /// 5 %: how much the unknown order of a candle's high and low decides.
    pub sensitivity: Option<Sensitivity>,
}

/// A run along another path inside the candles.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Sensitivity {
    pub intrabar: Intrabar,
    pub profit_quote: Decimal,
    pub max_drawdown_quote: Decimal,
}

impl Sensitivity {
    /// `other` as a sensitivity of `this`, when either figure moves by more than 5 % (of the
    /// larger of the two, and by at least a hundredth of the quote currency).
    pub fn between(this: &Outcome, other: &Outcome, intrabar: Intrabar) -> Option<Sensitivity> {
        let moved = |a: f64, b: f64| {
            let gap = (a - b).abs();
            gap >= 0.01 && gap > 0.05 * a.abs().max(b.abs())
        };
        (moved(this.profit_quote, other.profit_quote)
            || moved(this.max_drawdown_quote, other.max_drawdown_quote))
        .then(|| Sensitivity {
            intrabar,
            profit_quote: dec(other.profit_quote),
            max_drawdown_quote: dec(other.max_drawdown_quote),
        })
    }
}

impl PairReport {
    pub fn new(
        name: &str,
        account: &str,
        pair: &str,
        candles: &[Candle],
        interval_ms: i64,
        outcome: &Outcome,
    ) -> PairReport {
        let finished = i64::from(outcome.finished_deals());
        PairReport {
            name: name.into(),
            account: account.into(),
            pair: pair.into(),
            candles: CandleSpan {
                from: candles
                    .first()
                    .map(|c| iso(c.open_time_ms))
                    .unwrap_or_default(),
                to: candles
                    .last()
                    .map(|c| iso(c.open_time_ms + interval_ms))
                    .unwrap_or_default(),
                interval_s: interval_ms / 1000,
                count: candles.len(),
            },
            deals_closed: outcome.deals_closed,
            deals_stopped: outcome.deals_stopped,
            deals_timed_out: outcome.deals_timed_out,
            deals_open_at_end: outcome.deals_open_at_end,
            open_deal_age_s: outcome.open_deal_age_ms / 1000,
            profit_quote: dec(outcome.profit_quote),
            unrealized_quote: dec(outcome.unrealized_quote),
            max_safety_orders_filled: outcome.max_safety_orders_filled,
            so_filled_histogram: outcome.so_filled_histogram.clone(),
            max_capital_used: dec(outcome.max_capital_used),
            max_drawdown_quote: dec(outcome.max_drawdown_quote),
            avg_deal_duration_s: if finished > 0 {
                outcome.total_deal_duration_ms / finished / 1000
            } else {
                0
            },
            max_deal_duration_s: outcome.max_deal_duration_ms / 1000,
            candles_walked_in_detail: outcome.candles_walked_in_detail,
            candles_without_detail: outcome.candles_without_detail,
            not_simulated: Vec::new(),
            intrabar: Intrabar::default(),
            sensitivity: None,
        }
    }
}

#[cfg(test)]
mod tests;

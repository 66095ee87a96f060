//! Every rule of the model on hand-built candles, and the invariants on random ones.

use proptest::prelude::*;

use super::*;
use crate::model::bot::{BotSettings, StrategyCondition};

const MIN: i64 = 60_000;

fn candle(i: i64, open: f64, high: f64, low: f64, close: f64) -> Candle {
    Candle {
        open_time_ms: i * MIN,
        open,
        high,
        low,
        close,
    }
}

/// 100 USDT base, 2 safety orders of 100 at 10 % and 20 % (step 10, coefficients 1), TP 10 %.
fn settings() -> BotSettings {
    let d = |s: &str| Some(s.parse::<Decimal>().unwrap());
    BotSettings {
        pairs: Some(vec!["USDT_BTC".into()]),
        strategy: Some(Direction::Long),
        strategy_list: Some(vec![StrategyCondition {
            strategy: "nonstop".into(),
            options: Default::default(),
        }]),
        base_order_volume: d("100"),
        safety_order_volume: d("100"),
        safety_order_step_percentage: d("10"),
        max_safety_orders: Some(2),
        active_safety_orders_count: Some(1),
        martingale_volume_coefficient: d("1"),
        martingale_step_coefficient: d("1"),
        take_profit: d("10"),
        take_profit_type: Some(TakeProfitType::Total),
        ..BotSettings::default()
    }
}

fn model(s: &BotSettings, fee: &str) -> BotModel {
    compile(s, &with_fee(fee)).unwrap().0
}

fn with_fee(fee: &str) -> Assumptions {
    Assumptions {
        fee_percentage: fee.parse().unwrap(),
        ..Assumptions::default()
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn a_take_profit_in_the_entry_candle_closes_the_deal() {
    let m = model(&settings(), "0");
    // Entry 100: 1 BTC; TP at 110 reached by the entry candle's high.
    let out = run(&m, &[candle(0, 100.0, 111.0, 99.0, 105.0)], MIN);
    assert_eq!(
        (out.deals_closed, out.deals_stopped, out.deals_open_at_end),
        (1, 0, 0)
    );
    assert!(close(out.profit_quote, 10.0), "{}", out.profit_quote);
    assert_eq!(out.so_filled_histogram, vec![1, 0, 0]);
    assert_eq!(out.max_deal_duration_ms, MIN);
}

#[test]
fn the_ladder_fills_to_the_last_order_at_its_own_prices() {
    let m = model(&settings(), "0");
    // Entry 100; the next candle's low 70 fills the SOs at 90 and 80 (its high 95 stays below
    // the new take profit). Spent 300 for 1 + 100/90 + 100/80 coins.
    let candles = [
        candle(0, 100.0, 100.0, 95.0, 95.0),
        candle(1, 95.0, 95.0, 70.0, 75.0),
        candle(2, 75.0, 76.0, 74.0, 75.0),
    ];
    let out = run(&m, &candles, MIN);
    assert_eq!(out.max_safety_orders_filled, 2);
    assert_eq!(out.ladder_exhausted, 1);
    assert_eq!(out.deals_open_at_end, 1);
    assert!(close(out.max_capital_used, 300.0));
    let coins = 1.0 + 100.0 / 90.0 + 100.0 / 80.0;
    assert!(close(out.unrealized_quote, coins * 75.0 - 300.0));
    assert!(close(out.max_drawdown_quote, 300.0 - coins * 70.0));
    // The take profit is then average × 1.1.
    let tp = 300.0 / coins * 1.1;
    let out = run(
        &m,
        &[candles[0], candles[1], candle(2, 75.0, tp, 74.0, tp)],
        MIN,
    );
    assert_eq!(out.deals_closed, 1);
    assert!(close(out.profit_quote, 30.0), "{}", out.profit_quote);
    assert_eq!(out.so_filled_histogram, vec![0, 0, 1]);
}

#[test]
fn the_stop_loss_closes_at_its_price_before_the_high_is_looked_at() {
    let mut s = settings();
    s.stop_loss_percentage = Some("25".parse().unwrap());
    let m = model(&s, "0");
    // Low 74 reaches SL 75 after both SOs fill; the high 200 of the same candle comes after.
    let out = run(&m, &[candle(0, 100.0, 200.0, 74.0, 150.0)], MIN);
    assert_eq!((out.deals_closed, out.deals_stopped), (0, 1));
    let coins = 1.0 + 100.0 / 90.0 + 100.0 / 80.0;
    assert!(close(out.profit_quote, coins * 75.0 - 300.0));
}

#[test]
fn a_short_deal_mirrors_the_long_one() {
    let mut s = settings();
    s.strategy = Some(Direction::Short);
    let m = model(&s, "0");
    // Sell 100 USDT of coins at 100 (1 coin); SO at 110 fills at the high; TP below the average.
    let out = run(
        &m,
        &[
            candle(0, 100.0, 112.0, 99.0, 105.0),
            candle(1, 105.0, 106.0, 90.0, 95.0),
        ],
        MIN,
    );
    assert_eq!(out.deals_closed, 1);
    let coins = 1.0 + 100.0 / 110.0;
    let average = 200.0 / coins;
    let tp = average * 0.9;
    assert!(
        close(out.profit_quote, 200.0 - coins * tp),
        "{}",
        out.profit_quote
    );
    assert_eq!(out.max_safety_orders_filled, 1);
}

#[test]
fn cooldown_delays_the_next_deal_from_the_end_of_the_closing_candle() {
    let mut s = settings();
    s.cooldown = Some(120);
    let m = model(&s, "0");
    let candles: Vec<Candle> = (0..6)
        .map(|i| candle(i, 100.0, 111.0, 99.0, 100.0))
        .collect();
    // Closes in candle 0 (ends at 1 min) + 2 min cooldown: next deal at candle 3, closes there.
    let out = run(&m, &candles, MIN);
    assert_eq!(out.deals_closed, 2);
    // Without cooldown every candle holds a deal.
    let out = run(&model(&settings(), "0"), &candles, MIN);
    assert_eq!(out.deals_closed, 6);
}

#[test]
fn fees_are_charged_on_every_fill_and_the_sale() {
    let m = model(&settings(), "0.1");
    let out = run(&m, &[candle(0, 100.0, 111.0, 99.0, 105.0)], MIN);
    // Buy 100 (fee 0.1); the take profit, fee built in, sits at 110 × 1.001 / 0.999: sell 1
    // coin there (fee 0.1 % of it). Net: 10 % of the cost with its fee, 10.01.
    let exit = 110.0 * 1.001 / 0.999;
    assert!(
        close(out.profit_quote, exit - 100.0 - 0.1 - exit * 0.001),
        "{}",
        out.profit_quote
    );
    assert!(close(out.profit_quote, 100.1 * 0.1), "{}", out.profit_quote);
}

#[test]
fn what_the_model_leaves_out_is_listed_and_signals_are_refused() {
    let mut s = settings();
    // Trailing with no deviation to trail by.
    s.trailing_enabled = Some(true);
    s.pairs = Some(vec!["USDT_BTC".into(), "USDT_ETH".into()]);
    let (_, left) = compile(&s, &Assumptions::default()).unwrap();
    assert!(
        left.iter().any(|l| l.contains("trailing take profit")),
        "{left:?}"
    );
    s.allowed_deals_on_same_pair = Some(2);
    let (_, left) = compile(&s, &Assumptions::default()).unwrap();
    assert!(
        left.iter()
            .any(|l| l.contains("allowed_deals_on_same_pair")),
        "{left:?}"
    );
    s.strategy_list = Some(vec![StrategyCondition {
        strategy: "trading_view".into(),
        options: Default::default(),
    }]);
    let refused = compile(&s, &Assumptions::default()).unwrap_err();
    assert!(
        refused.0.contains("--assume-start nonstop"),
        "{}",
        refused.0
    );
    let (_, left) = compile(
        &s,
        &Assumptions {
            start: AssumeStart::Nonstop,
            ..Assumptions::default()
        },
    )
    .unwrap();
    assert!(left.iter().any(|l| l.contains("assumed always met")));
}

#[test]
fn an_indicator_start_waits_for_its_signal_and_cooldown_still_counts() {
    // RSI(2) on 15-minute candles built from 5-minute ones, start when below 30. Prices fall for
    // the first three 15-minute candles (RSI 0 from the third close), then rise for good.
    let mut s = settings();
    s.strategy_list = Some(vec![rsi_2_below_30("15m")]);
    let (model, left) = compile(&s, &Assumptions::default()).unwrap();
    assert!(left.is_empty(), "{left:?}");
    let mut candles = Vec::new();
    for i in 0..30 {
        let price = if i < 9 {
            100.0 - (i / 3) as f64 * 5.0
        } else {
            90.0 + i as f64 * 0.5
        };
        candles.push(Candle {
            open_time_ms: i * 5 * MIN,
            ..candle(0, price, price * 1.2, price, price)
        });
    }
    model.check_candles(5 * MIN, false).unwrap();
    let mut opened = Vec::new();
    let out = run_with(&model, &candles, None, 5 * MIN, |c| opened.push(c.entry));
    // The third 15-minute candle closes at 45 minutes with RSI 0: the deal opens at candle 9
    // (open 94.5), not before; the TP (10 %) is hit in its own candle (high 1.2 × open).
    assert_eq!(opened.first().copied(), Some(94.5));
    // The signal stays valid until the next 15-minute close (candles 9-11), so deals reopen
    // at 10 and 11 as each closes (3Commas: "a deal open immediately right after a previous
    // deal closes during the active candle"); the RSI is 100 at the next close: no more.
    assert_eq!(opened, vec![94.5, 95.0, 95.5]);
    assert_eq!(out.deals_closed, 3, "{out:?}");
    // A 10-minute cooldown from the end of candle 9 (50 min) lands at candle 12: outside.
    s.cooldown = Some(600);
    let (model, _) = compile(&s, &Assumptions::default()).unwrap();
    assert_eq!(run(&model, &candles, 5 * MIN).deals_closed, 1);
    // A 60-minute candle series cannot carry a 15-minute condition.
    assert!(model.check_candles(60 * MIN, false).is_err());
}

fn path(start: f64, moves: &[(f64, f64, f64)]) -> Vec<Candle> {
    let mut price = start;
    moves
        .iter()
        .enumerate()
        .map(|(i, (up, down, drift))| {
            let open = price;
            let close = (open * (1.0 + drift)).max(0.01);
            let high = open.max(close) * (1.0 + up);
            let low = (open.min(close) * (1.0 - down)).max(0.001);
            price = close;
            candle(i as i64, open, high, low, close)
        })
        .collect()
}

proptest! {
    /// Capital never goes above the ladder's worst case, and every closed deal's profit is its
    /// proceeds minus its cost minus its fees (checked through the totals: with no fee, the sum of
    /// profits is what was sold minus what was bought).
    #[test]
    fn invariants_hold_on_any_path(
        moves in prop::collection::vec((0.0f64..0.05, 0.0f64..0.05, -0.04f64..0.04), 1..300),
        fee in prop::sample::select(vec!["0", "0.1"]),
        short in any::<bool>(),
        stop in any::<bool>(),
        exits in 0..4u8,
    ) {
        let mut s = settings();
        if short { s.strategy = Some(Direction::Short); }
        if stop { s.stop_loss_percentage = Some("30".parse().unwrap()); }
        // Every way out at once: steps, a trailing last step, a trailing stop, a timeout.
        if exits & 1 == 1 {
            s.take_profit = Some(Decimal::ZERO);
            s.take_profit_steps = Some(vec![step("40", "3"), step("60", "6")]);
            s.tsl_enabled = Some(true);
        }
        if exits & 2 == 2 {
            s.trailing_enabled = Some(true);
            s.trailing_deviation = Some("1".parse().unwrap());
            s.stop_loss_timeout_enabled = Some(true);
            s.stop_loss_timeout_in_seconds = Some(120);
        }
        let m = model(&s, fee);
        let candles = path(100.0, &moves);
        let mut closed = Vec::new();
        let out = run_with(&m, &candles, None, MIN, |c| closed.push(*c));
        prop_assert!(out.max_capital_used <= 300.0 + 1e-9);
        let fee_rate: f64 = fee.parse::<f64>().unwrap() / 100.0;
        for c in &closed {
            let rest = (c.base - c.steps_base) * c.exit;
            let proceeds = if short { c.quote } else { c.steps_quote + rest };
            let cost = if short { c.steps_quote + rest } else { c.quote };
            prop_assert!((c.profit - (proceeds - cost - c.fees)).abs() < 1e-9);
            prop_assert!((c.fees - fee_rate * (c.quote + c.steps_quote + rest)).abs() < 1e-9);
            prop_assert!(c.steps_base <= c.base + 1e-12);
            prop_assert!(c.quote <= 300.0 + 1e-9);
        }
        let total: f64 = closed.iter().map(|c| c.profit).sum();
        prop_assert!((total - out.profit_quote).abs() < 1e-6);
        let deals: u32 = out.so_filled_histogram.iter().sum();
        prop_assert_eq!(deals, out.finished_deals() + out.deals_open_at_end);
        prop_assert!(out.deals_open_at_end <= 1);
        prop_assert!(out.max_drawdown_quote >= 0.0);
        // A deal closed at the take profit never loses: the fees are built into its price
        // (a trailing one may give back its deviation).
        if out.deals_stopped == 0 && exits & 2 == 0 {
            prop_assert!(out.profit_quote >= -1e-9, "{}", out.profit_quote);
        }
    }
}

/// Candles one minute apart that each open, close and stay at `price` (so nothing fills), with
/// the highs given.
fn flat(prices: &[(f64, f64)]) -> Vec<Candle> {
    prices
        .iter()
        .enumerate()
        .map(|(i, &(open, high))| candle(i as i64, open, high, open, open))
        .collect()
}

#[test]
fn the_take_profit_has_the_fee_built_in() {
    // TP 1.5 %, fee 0.1 %: a high of exactly average × 1.015 does not fill the order, which
    // 3Commas places about 0.2 % higher; the order's own price does.
    let mut s = settings();
    s.take_profit = Some("1.5".parse().unwrap());
    let m = model(&s, "0.1");
    let out = run(&m, &flat(&[(100.0, 101.5), (100.0, 101.5)]), MIN);
    assert_eq!((out.deals_closed, out.deals_open_at_end), (0, 1), "{out:?}");
    let order = 101.5 * 1.001 / 0.999;
    let out = run(&m, &flat(&[(100.0, 101.5), (100.0, order)]), MIN);
    assert_eq!(out.deals_closed, 1, "{out:?}");
    // Net: 1.5 % of what the deal cost with its buy fee.
    assert!(
        close(out.profit_quote, 100.1 * 0.015),
        "{}",
        out.profit_quote
    );
}

#[test]
fn a_stop_loss_through_a_gap_sells_at_the_open() {
    let mut s = settings();
    s.max_safety_orders = Some(0);
    s.stop_loss_percentage = Some("5".parse().unwrap());
    let m = model(&s, "0");
    // Entry 100, stop at 95; the next candle opens at 90: a market sale there, not at 95.
    let candles = [
        candle(0, 100.0, 100.0, 99.0, 99.0),
        candle(1, 90.0, 91.0, 89.0, 90.0),
    ];
    let mut exits = Vec::new();
    let out = run_with(&m, &candles, None, MIN, |c| exits.push(c.exit));
    assert_eq!(out.deals_stopped, 1);
    assert_eq!(exits, vec![90.0]);
    assert!(close(out.profit_quote, -10.0), "{}", out.profit_quote);
}

#[test]
fn stop_loss_and_disable_bot_opens_no_deal_after_the_stop() {
    let mut s = settings();
    s.max_safety_orders = Some(0);
    s.stop_loss_percentage = Some("5".parse().unwrap());
    // Entry 100 stopped at 95 in candle 0; candles 1 and 2 would each open and close a deal.
    let candles = [
        candle(0, 100.0, 100.0, 94.0, 95.0),
        candle(1, 95.0, 105.0, 95.0, 104.0),
        candle(2, 104.0, 115.0, 104.0, 110.0),
    ];
    let keeps_going = run(&model(&s, "0"), &candles, MIN);
    assert_eq!(
        (keeps_going.deals_stopped, keeps_going.deals_closed),
        (1, 2)
    );
    s.stop_loss_type = Some(StopLossType::StopLossAndDisableBot);
    let (m, left) = compile(&s, &Assumptions::default()).unwrap();
    assert!(left.is_empty(), "{left:?}");
    let disabled = run(&m, &candles, MIN);
    assert_eq!((disabled.deals_stopped, disabled.deals_closed), (1, 0));
}

#[test]
fn deals_open_only_within_min_price_and_max_price() {
    let mut s = settings();
    s.min_price = Some("95".parse().unwrap());
    s.max_price = Some("105".parse().unwrap());
    let m = model(&s, "0");
    // Opens 110 and 90 are outside; 100 is the first within: one deal, entry 100.
    let candles = flat(&[(110.0, 110.0), (90.0, 90.0), (100.0, 100.0)]);
    let mut entries = Vec::new();
    let _ = run_with(&m, &candles, None, MIN, |c| entries.push(c.entry));
    let out = run(&m, &candles, MIN);
    assert_eq!(out.deals_open_at_end, 1);
    assert!(entries.is_empty());
    assert_eq!(out.open_deal_age_ms, MIN);
}

#[test]
fn deal_start_delay_moves_the_opening_by_its_seconds() {
    let mut s = settings();
    s.deal_start_delay_seconds = Some(120);
    let m = model(&s, "0");
    // Could open at 0; opens at the first candle two minutes later (open 102), and closes at
    // 102 × 1.1 in candle 3.
    let candles = flat(&[
        (100.0, 100.0),
        (101.0, 101.0),
        (102.0, 102.0),
        (103.0, 113.0),
    ]);
    let mut entries = Vec::new();
    let out = run_with(&m, &candles, None, MIN, |c| entries.push(c.entry));
    assert_eq!(entries, vec![102.0]);
    assert_eq!(out.deals_closed, 1);
}

#[test]
fn close_deals_timeout_closes_at_market_when_the_time_is_up() {
    let mut s = settings();
    s.close_deals_timeout = Some(180);
    let m = model(&s, "0");
    // Entry 100; three minutes later (the end of candle 2) the deal closes at that close, 97.
    let candles = [
        candle(0, 100.0, 100.0, 99.0, 99.0),
        candle(1, 99.0, 99.0, 98.0, 98.0),
        candle(2, 98.0, 98.0, 97.0, 97.0),
        candle(3, 97.0, 97.0, 97.0, 97.0),
    ];
    let mut exits = Vec::new();
    let out = run_with(&m, &candles, None, MIN, |c| exits.push(c.exit));
    assert_eq!(exits, vec![97.0]);
    assert_eq!(
        (out.deals_timed_out, out.deals_closed, out.deals_open_at_end),
        (1, 0, 1)
    );
    assert!(close(out.profit_quote, -3.0), "{}", out.profit_quote);
}

#[test]
fn disable_after_deals_count_stops_opening_after_that_many() {
    let mut s = settings();
    s.disable_after_deals_count = Some(2);
    let m = model(&s, "0");
    // Every candle opens a deal at 100 and closes it at 110: five candles, two deals.
    let candles = flat(&[(100.0, 111.0); 5]);
    assert_eq!(run(&m, &candles, MIN).deals_closed, 2);
    s.disable_after_deals_count = None;
    assert_eq!(run(&model(&s, "0"), &candles, MIN).deals_closed, 5);
}

#[test]
fn a_percent_base_order_needs_a_balance() {
    let mut s = settings();
    s.base_order_volume = Some("10".parse().unwrap());
    s.base_order_volume_type = Some(VolumeType::Percent);
    let refused = compile(&s, &Assumptions::default()).unwrap_err();
    assert!(refused.0.contains("pass --balance"), "{}", refused.0);
    let with_balance = Assumptions {
        balance: Some("1000".parse().unwrap()),
        ..Assumptions::default()
    };
    let (m, _) = compile(&s, &with_balance).unwrap();
    // 10 % of 1,000: 100 USDT at 100, 1 coin.
    let out = run(&m, &flat(&[(100.0, 100.0)]), MIN);
    assert!(
        close(out.max_capital_used, 100.0),
        "{}",
        out.max_capital_used
    );
}

#[test]
fn settings_the_model_does_not_run_are_named() {
    let mut s = settings();
    s.reinvesting_percentage = Some("50".parse().unwrap());
    s.risk_reduction_percentage = Some("20".parse().unwrap());
    s.safety_strategy_list = Some(vec![StrategyCondition {
        strategy: "trading_view".into(),
        options: Default::default(),
    }]);
    s.max_active_deals = Some(3);
    let (_, left) = compile(&s, &Assumptions::default()).unwrap();
    for named in [
        "reinvesting_percentage",
        "risk_reduction_percentage",
        "safety-order conditions",
        "max_active_deals = 3 on a single pair",
    ] {
        assert!(left.iter().any(|l| l.contains(named)), "{named}: {left:?}");
    }
}

#[test]
fn the_deal_open_at_the_end_counts_in_the_longest_duration() {
    let m = model(&settings(), "0");
    // One deal opened at 0 and never closed, 5 candles: open for 5 minutes.
    let out = run(&m, &flat(&[(100.0, 100.0); 5]), MIN);
    assert_eq!(
        (out.open_deal_age_ms, out.max_deal_duration_ms),
        (5 * MIN, 5 * MIN)
    );
}

/// A candle that both fills the safety order at 90 (low 85) and reaches the first take profit
/// at 110 (high 111), after an entry candle at 100.
fn both_extremes(open: f64) -> Vec<Candle> {
    vec![
        candle(0, 100.0, 100.0, 100.0, 100.0),
        candle(1, open, 111.0, 85.0, 100.0),
    ]
}

fn profit_on(path: Intrabar, candles: &[Candle]) -> f64 {
    let mut s = settings();
    s.max_safety_orders = Some(1);
    let assumptions = Assumptions {
        intrabar: path,
        ..Assumptions::default()
    };
    let (m, _) = compile(&s, &assumptions).unwrap();
    let out = run(&m, candles, MIN);
    assert_eq!(out.deals_closed, 1, "{path:?}: {out:?}");
    out.profit_quote
}

#[test]
fn the_path_inside_a_candle_is_chosen_and_changes_the_result_as_predicted() {
    let candles = both_extremes(100.0);
    // Low first: the safety order fills at 90 (1 + 100/90 coins for 200), the take profit falls
    // to 10 % above the new average and the high reaches it: 10 % of 200.
    assert!(close(profit_on(Intrabar::LowFirst, &candles), 20.0));
    assert!(close(profit_on(Intrabar::Worst, &candles), 20.0));
    // High first: the take profit at 110 closes the 1 coin before the low: 10 % of 100.
    assert!(close(profit_on(Intrabar::HighFirst, &candles), 10.0));
    assert!(close(profit_on(Intrabar::Best, &candles), 10.0));
    // TradingView: the high (11 away from the open) is nearer than the low (15): high first.
    assert!(close(profit_on(Intrabar::TradingView, &candles), 10.0));
    // Opening at 95, the low (10 away) is nearer than the high (16): low first.
    assert!(close(
        profit_on(Intrabar::TradingView, &both_extremes(95.0)),
        20.0
    ));
}

#[test]
fn a_take_profit_reached_again_at_the_close_fills_there() {
    // High first: the high (104) misses the take profit at 110; the low fills the safety order
    // at 90 (take profit now at 104.21); the close at 105 is above it: the deal closes.
    let mut s = settings();
    s.max_safety_orders = Some(1);
    let assumptions = Assumptions {
        intrabar: Intrabar::HighFirst,
        ..Assumptions::default()
    };
    let (m, _) = compile(&s, &assumptions).unwrap();
    let candles = [
        candle(0, 100.0, 100.0, 100.0, 100.0),
        candle(1, 100.0, 104.0, 85.0, 105.0),
    ];
    let out = run(&m, &candles, MIN);
    assert_eq!(out.deals_closed, 1, "{out:?}");
    assert!(close(out.profit_quote, 20.0), "{}", out.profit_quote);
}

fn two_pairs<'a>(a: &'a [Candle], b: &'a [Candle]) -> [PairCandles<'a>; 2] {
    [a, b].map(|candles| PairCandles {
        candles,
        volumes: None,
        interval_ms: MIN,
        limits: None,
        detail: &[],
        detail_interval_ms: 0,
    })
}

#[test]
fn max_active_deals_caps_the_deals_open_at_once_across_pairs() {
    let mut s = settings();
    s.pairs = Some(vec!["USDT_BTC".into(), "USDT_ETH".into()]);
    s.max_active_deals = Some(1);
    // Pair A's deal stays open until candle 2 reaches its take profit; pair B would take
    // profit in every candle.
    let a = flat(&[
        (100.0, 100.0),
        (100.0, 100.0),
        (100.0, 111.0),
        (100.0, 100.0),
    ]);
    let b = flat(&[(100.0, 111.0); 4]);
    let capped = run_bot(&model(&s, "0"), &two_pairs(&a, &b), &mut ());
    // A opens first (the bot's pair order) and holds the only place until it closes in candle 2;
    // at candle 3 both could open, and A, first in order, takes the place again: B never opens.
    assert_eq!(capped.max_deals_at_once, 1);
    assert_eq!(
        (
            capped.per_pair[0].deals_closed,
            capped.per_pair[1].deals_closed
        ),
        (1, 0),
        "{capped:?}"
    );
    assert_eq!(capped.per_pair[0].deals_open_at_end, 1);
    s.max_active_deals = Some(2);
    let both = run_bot(&model(&s, "0"), &two_pairs(&a, &b), &mut ());
    assert_eq!(both.max_deals_at_once, 2);
    assert_eq!(
        (both.per_pair[0].deals_closed, both.per_pair[1].deals_closed),
        (1, 4)
    );
    // Capital at once: both deals committed 100 each.
    assert!(
        close(both.max_capital_used, 200.0),
        "{}",
        both.max_capital_used
    );
}

#[test]
fn a_stop_and_the_deal_count_end_the_openings_on_every_pair() {
    let mut s = settings();
    s.pairs = Some(vec!["USDT_BTC".into(), "USDT_ETH".into()]);
    s.max_active_deals = Some(2);
    s.max_safety_orders = Some(0);
    s.stop_loss_percentage = Some("5".parse().unwrap());
    s.stop_loss_type = Some(StopLossType::StopLossAndDisableBot);
    // A is stopped in candle 0; B takes profit in every candle but opens no deal after it.
    let a = [
        candle(0, 100.0, 100.0, 94.0, 95.0),
        candle(1, 95.0, 95.0, 95.0, 95.0),
        candle(2, 95.0, 95.0, 95.0, 95.0),
    ];
    let b = flat(&[(100.0, 111.0); 3]);
    let out = run_bot(&model(&s, "0"), &two_pairs(&a, &b), &mut ());
    assert_eq!(out.per_pair[0].deals_stopped, 1);
    assert_eq!(out.per_pair[1].deals_closed, 1, "{out:?}");
    // Three deals in all, whichever pair opens them.
    s.stop_loss_type = None;
    s.stop_loss_percentage = None;
    s.disable_after_deals_count = Some(3);
    let b = flat(&[(100.0, 111.0); 5]);
    let out = run_bot(&model(&s, "0"), &two_pairs(&b, &b), &mut ());
    let deals: u32 = out.per_pair.iter().map(|o| o.deals_closed).sum();
    assert_eq!(deals, 3, "{out:?}");
}

fn step(amount: &str, profit: &str) -> crate::model::bot::TakeProfitStep {
    crate::model::bot::TakeProfitStep {
        amount_percentage: amount.parse().unwrap(),
        profit_percentage: profit.parse().unwrap(),
    }
}

#[test]
fn take_profit_steps_sell_their_shares_at_their_own_prices() {
    let mut s = settings();
    s.take_profit = Some(Decimal::ZERO);
    s.take_profit_steps = Some(vec![step("50", "5"), step("50", "10")]);
    s.max_safety_orders = Some(0);
    let (m, left) = compile(&s, &with_fee("0")).unwrap();
    assert!(
        !left.iter().any(|l| l.contains("take_profit_steps")),
        "{left:?}"
    );
    // Entry 100, 1 BTC. The first candle reaches 106: half sells at 105. The second reaches 111:
    // the rest sells at 110. Profit 2.5 + 5.
    let candles = [
        candle(0, 100.0, 106.0, 100.0, 104.0),
        candle(1, 104.0, 111.0, 104.0, 108.0),
    ];
    let mut closed = Vec::new();
    let out = run_with(&m, &candles, None, MIN, |c| closed.push(*c));
    assert_eq!((out.deals_closed, out.deals_open_at_end), (1, 0));
    assert!(close(out.profit_quote, 7.5), "{}", out.profit_quote);
    assert!(close(closed[0].steps_base, 0.5) && close(closed[0].steps_quote, 52.5));
    // Only the first candle: half sold, the other half marked at the close of 104.
    let out = run(&m, &candles[..1], MIN);
    assert_eq!(out.deals_open_at_end, 1);
    assert!(
        close(out.unrealized_quote, 2.5 + 2.0),
        "{}",
        out.unrealized_quote
    );
}

#[test]
fn a_trailing_take_profit_follows_the_high_and_sells_on_the_way_back() {
    let mut s = settings();
    s.max_safety_orders = Some(0);
    s.trailing_enabled = Some(true);
    s.trailing_deviation = Some("2".parse().unwrap());
    let (m, left) = compile(&s, &with_fee("0")).unwrap();
    assert!(left.is_empty(), "{left:?}");
    // TP 10 % at 110 starts the trailing; the high 120 raises the best; the close 115 is below
    // 120 × 0.98 = 117.6, so the deal sells there ("after the high, the close").
    let candles = [candle(0, 100.0, 120.0, 100.0, 115.0)];
    let out = run(&m, &candles, MIN);
    assert_eq!(out.deals_closed, 1);
    assert!(close(out.profit_quote, 17.6), "{}", out.profit_quote);
    // A close within the deviation keeps trailing; the next candle opening below the level
    // sells at its open (a market order through a gap).
    let candles = [
        candle(0, 100.0, 120.0, 100.0, 118.0),
        candle(1, 110.0, 111.0, 109.0, 110.0),
    ];
    let out = run(&m, &candles, MIN);
    assert_eq!(out.deals_closed, 1);
    assert!(close(out.profit_quote, 10.0), "{}", out.profit_quote);
    // High first: the low of the same candle is checked against the high.
    let m = m.with_intrabar(Intrabar::HighFirst);
    let out = run(&m, &[candle(0, 100.0, 120.0, 100.0, 119.0)], MIN);
    assert!(close(out.profit_quote, 17.6), "{}", out.profit_quote);
}

#[test]
fn a_trailing_stop_rises_with_the_price() {
    let mut s = settings();
    s.max_safety_orders = Some(0);
    s.take_profit = Some("50".parse().unwrap());
    s.stop_loss_percentage = Some("5".parse().unwrap());
    s.tsl_enabled = Some(true);
    let m = model(&s, "0");
    // The price rises to 120, so the stop is at 114; the next candle falls to 110: sold at 114.
    let candles = [
        candle(0, 100.0, 120.0, 100.0, 119.0),
        candle(1, 119.0, 119.0, 110.0, 111.0),
    ];
    let out = run(&m, &candles, MIN);
    assert_eq!(out.deals_stopped, 1);
    assert!(close(out.profit_quote, 14.0), "{}", out.profit_quote);
    // Without the trailing stop the deal is still open (stop at 95).
    s.tsl_enabled = None;
    assert_eq!(run(&model(&s, "0"), &candles, MIN).deals_open_at_end, 1);
}

#[test]
fn a_stop_loss_timeout_waits_for_closes_past_the_stop() {
    let mut s = settings();
    s.max_safety_orders = Some(0);
    s.stop_loss_percentage = Some("5".parse().unwrap());
    s.stop_loss_timeout_enabled = Some(true);
    s.stop_loss_timeout_in_seconds = Some(150);
    let m = model(&s, "0");
    // Stop at 95, timeout 2.5 minutes on 1-minute candles. Candle 1 reaches 94 but closes at 96:
    // no sale. Candle 2 reaches it again (timer from its open, 2 min) and closes at 94; candle 3
    // closes at 93 after 2 minutes: not yet; candle 4 closes at 92 at 3 minutes: sold at 92.
    let candles = [
        candle(0, 100.0, 100.0, 99.0, 99.0),
        candle(1, 99.0, 99.0, 94.0, 96.0),
        candle(2, 96.0, 96.0, 94.0, 94.0),
        candle(3, 94.0, 94.0, 93.0, 93.0),
        candle(4, 93.0, 93.0, 92.0, 92.0),
        candle(5, 92.0, 92.0, 50.0, 50.0),
    ];
    let mut closed = Vec::new();
    let out = run_with(&m, &candles, None, MIN, |c| closed.push(*c));
    assert_eq!(out.deals_stopped, 1);
    assert!(close(closed[0].exit, 92.0), "{}", closed[0].exit);
    // No timeout: sold at 95 in candle 1.
    s.stop_loss_timeout_enabled = None;
    let mut closed = Vec::new();
    run_with(&model(&s, "0"), &candles, None, MIN, |c| closed.push(*c));
    assert!(close(closed[0].exit, 95.0), "{}", closed[0].exit);
}

#[test]
fn chances_carry_a_wilson_interval() {
    use super::report::Chance;
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    // 10 of 100: Wilson's 95 % interval is 5.52 % to 17.44 %.
    let c = Chance::of(10, 100);
    assert_eq!(
        (c.share, c.low, c.high),
        (d("0.1"), d("0.0552"), d("0.1744"))
    );
    // Never seen in 200 paths still leaves up to 1.88 %.
    let c = Chance::of(0, 200);
    assert_eq!((c.share, c.low, c.high), (d("0"), d("0"), d("0.0188")));
    let c = Chance::of(200, 200);
    assert_eq!((c.share, c.low, c.high), (d("1"), d("0.9812"), d("1")));
}

#[test]
fn limits_round_prices_against_the_deal_and_quantities_down_to_lots() {
    let d = |s: &str| Some(s.parse::<Decimal>().unwrap());
    let limits = PairLimits {
        price_step: d("1"),
        lot_step: d("0.1"),
    };
    let m = model(&settings(), "0");
    let rounded = m.with_limits(limits);
    // Entry 33: 100 USDT buys 3.0 coins in lots of 0.1 (99 USDT), not 3.0303. The safety order
    // at 29.7 is placed at 29 (a buy rounds down), so a low of 29.5 leaves it unfilled; the
    // take profit at 36.3 is placed at 37 (a sell rounds up), so a high of 36.5 does not reach
    // it, and 37 closes the deal: 3 × 37 − 99 = 12.
    let candles = [
        candle(0, 33.0, 33.0, 33.0, 33.0),
        candle(1, 33.0, 33.0, 29.5, 30.0),
        candle(2, 30.0, 36.5, 30.0, 36.0),
        candle(3, 36.0, 37.0, 36.0, 36.0),
    ];
    let mut closed = Vec::new();
    let out = run_with(&rounded, &candles, None, MIN, |c| closed.push(*c));
    assert_eq!(out.deals_closed, 1);
    assert_eq!(closed[0].safety_orders_filled, 0);
    assert!(
        close(closed[0].base, 3.0) && close(closed[0].quote, 99.0),
        "{closed:?}"
    );
    assert!(
        close(closed[0].exit, 37.0) && close(out.profit_quote, 12.0),
        "{closed:?}"
    );
    // Without the steps: the safety order fills at 29.7 and the deal closes at candle 2.
    let mut unrounded = Vec::new();
    run_with(&m, &candles, None, MIN, |c| unrounded.push(*c));
    assert_eq!(unrounded[0].safety_orders_filled, 1);
}

#[test]
fn finer_candles_decide_the_path_inside_a_candle_they_cover_whole() {
    let m = model(&settings(), "0");
    // One 5-minute candle: open 100, high 111, low 89. Along the default path (low first) the
    // safety order at 90 fills, then the lowered take profit; the 1-minute candles inside say
    // the high came first: the take profit at 110 closes the deal with 1 coin, profit 10.
    let coarse = [Candle {
        open_time_ms: 0,
        open: 100.0,
        high: 111.0,
        low: 89.0,
        close: 100.0,
    }];
    let fine = [
        candle(0, 100.0, 111.0, 100.0, 108.0),
        candle(1, 108.0, 108.0, 95.0, 96.0),
        candle(2, 96.0, 96.0, 89.0, 90.0),
        candle(3, 90.0, 99.0, 90.0, 98.0),
        candle(4, 98.0, 101.0, 97.0, 100.0),
    ];
    let on = |detail: &[Candle]| {
        let mut closed = Vec::new();
        struct Deals<'a>(&'a mut Vec<Closed>);
        impl Observer for Deals<'_> {
            fn closed(&mut self, _: usize, deal: &Closed, _: ClosedBy, _: i64) {
                self.0.push(*deal);
            }
        }
        let pair = PairCandles {
            candles: &coarse,
            volumes: None,
            interval_ms: 5 * MIN,
            limits: None,
            detail,
            detail_interval_ms: MIN,
        };
        let out = run_bot(&m, &[pair], &mut Deals(&mut closed));
        (out.per_pair[0].clone(), closed)
    };
    let (out, closed) = on(&fine);
    assert_eq!(
        (out.candles_walked_in_detail, out.candles_without_detail),
        (1, 0)
    );
    assert_eq!(closed[0].safety_orders_filled, 0);
    assert!(close(out.profit_quote, 10.0), "{}", out.profit_quote);
    // Four of the five minutes: not covered whole, so walked along the default path.
    let (out, closed) = on(&fine[..4]);
    assert_eq!(
        (out.candles_walked_in_detail, out.candles_without_detail),
        (0, 1)
    );
    assert_eq!(closed[0].safety_orders_filled, 1);
}

/// RSI(2) on `time` candles below 30.
fn rsi_2_below_30(time: &str) -> StrategyCondition {
    StrategyCondition {
        strategy: "rsi".into(),
        options: [
            ("time", time),
            ("points", "30"),
            ("trigger_condition", "less"),
            ("time_period", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    }
}

/// Entry at 100 (1 coin); the third candle falls to 84 and closes there (RSI(2) 0: the
/// condition holds from the fourth candle's open); the fourth opens at `then`; the fifth rises to
/// 101.
fn a_dip_to(then: f64) -> Vec<Candle> {
    vec![
        candle(0, 100.0, 100.0, 100.0, 100.0),
        candle(1, 100.0, 100.0, 100.0, 100.0),
        candle(2, 100.0, 100.0, 84.0, 84.0),
        candle(3, then, then, then, then),
        candle(4, then, 101.0, then, 101.0),
    ]
}

#[test]
fn safety_order_conditions_fill_the_orders_reached_at_market_when_they_hold() {
    let mut s = settings();
    // RSI(2) on 1-minute candles below 30, as a safety-order condition.
    s.safety_strategy_list = Some(vec![rsi_2_below_30("1m")]);
    let (m, left) = compile(&s, &Assumptions::default()).unwrap();
    assert!(left.is_empty(), "{left:?}");
    m.check_candles(MIN, false).unwrap();
    // Without the condition the third candle's low fills the order at 90: average 94.74, take
    // profit 104.21, never reached.
    let plain = run(&model(&settings(), "0"), &a_dip_to(84.0), MIN);
    assert_eq!((plain.deals_closed, plain.deals_open_at_end), (0, 1));
    assert_eq!(plain.so_filled_histogram, vec![0, 1, 0]);
    // With it, nothing fills at 90 (the condition does not hold during the third candle); at
    // the fourth's open (84) the first order (≥ 10 % down) fills at 84, the second (20 %) is not
    // reached: 2 + 4/21 coins for 200, take profit at 110 % of 91.30 = 100.43, which the fifth
    // candle's high reaches: profit 10 % of 200.
    let out = run(&m, &a_dip_to(84.0), MIN);
    assert_eq!((out.deals_closed, out.deals_open_at_end), (1, 0));
    assert_eq!(out.so_filled_histogram, vec![0, 1, 0]);
    assert!(close(out.profit_quote, 20.0), "{}", out.profit_quote);
    // Opening at 79, past both orders' deviations: both fill there at once (help centre: "all
    // safety orders that meet the minimum deviation conditions will be executed at the market
    // price"): 1 + 200/79 coins for 300, closed at the take profit: 10 % of 300.
    let out = run(&m, &a_dip_to(79.0), MIN);
    assert_eq!(out.so_filled_histogram, vec![0, 0, 1]);
    assert_eq!(out.ladder_exhausted, 1);
    assert!(close(out.profit_quote, 30.0), "{}", out.profit_quote);
    // The condition's timeframe must fit the candles, as for start conditions.
    let err = m.check_candles(5 * MIN, false).unwrap_err();
    assert!(err.0.starts_with("safety-order condition rsi"), "{}", err.0);
}

#[test]
fn safety_order_signals_from_outside_are_assumed_met_and_named() {
    let mut s = settings();
    s.safety_strategy_list = Some(vec![StrategyCondition {
        strategy: "tv_custom_signal".into(),
        options: Default::default(),
    }]);
    let (m, left) = compile(&s, &Assumptions::default()).unwrap();
    assert!(
        left.iter()
            .any(|l| l.contains("safety-order conditions (tv_custom_signal)")
                && l.contains("assumed always met")),
        "{left:?}"
    );
    // Assumed met: the ladder's own prices, as without a condition.
    let out = run(&m, &a_dip_to(84.0), MIN);
    assert_eq!(out, run(&model(&settings(), "0"), &a_dip_to(84.0), MIN));
}

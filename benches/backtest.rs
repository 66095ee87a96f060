//! The target: one year of 5-minute candles (105,120) through 20 nonstop bots, under
//! 100 ms in release on two cores. The candles are the seeded synthetic path (80 % volatility);
//! the 20 bots vary step, martingale, safety orders, take profit, stop loss, direction and
//! cooldown. `benches/backtest_python.py` runs the same model in plain Python on the same candles
//! (written to target/backtest-candles.csv by this bench) for comparison.
//! A second case starts the same bots on a 15-minute RSI, to show what the start gate costs.
//! Run with `cargo bench --bench backtest`.

use botform::model::bot::{BotSettings, StrategyCondition, TakeProfitStep};
use botform::model::decimal::Decimal;
use botform::model::enums::{Direction, StopLossType, TakeProfitType};
use botform::simulate::{self, Assumptions, Intrabar, synthetic};
use criterion::{Criterion, criterion_group, criterion_main};

/// The 20 bots, starting nonstop, or on a 15-minute RSI(14) below 30 when `rsi`.
fn bots_starting(rsi: bool) -> Vec<simulate::BotModel> {
    bots_on(rsi, 1)
}

/// The same bots on `pairs` pairs (1 to 3), with 1 to 3 deals at once across them.
fn bots_on(rsi: bool, pairs: usize) -> Vec<simulate::BotModel> {
    let d = |x: f64| Some(format!("{x}").parse::<Decimal>().unwrap());
    (0..20)
        .map(|i| {
            let settings = BotSettings {
                pairs: Some(
                    ["USDT_BTC", "USDT_ETH", "USDT_SOL"][..pairs]
                        .iter()
                        .map(|p| p.to_string())
                        .collect(),
                ),
                max_active_deals: (pairs > 1).then_some(1 + (i % 3) as u32),
                strategy: Some(if i % 5 == 4 {
                    Direction::Short
                } else {
                    Direction::Long
                }),
                strategy_list: Some(vec![if rsi {
                    rsi_below_30()
                } else {
                    StrategyCondition {
                        strategy: "nonstop".into(),
                        options: Default::default(),
                    }
                }]),
                base_order_volume: d(10.0),
                safety_order_volume: d(20.0),
                safety_order_step_percentage: d(0.8 + 0.1 * i as f64),
                max_safety_orders: Some(3 + (i % 8) as u32),
                active_safety_orders_count: Some(1),
                martingale_volume_coefficient: d(1.0 + 0.05 * (i % 10) as f64),
                martingale_step_coefficient: d(1.0 + 0.04 * (i % 6) as f64),
                take_profit: if i % 5 == 1 {
                    d(0.0)
                } else {
                    d(0.8 + 0.15 * (i % 7) as f64)
                },
                // Steps, trailing, a trailing stop and a stop-loss timeout on a few bots.
                take_profit_steps: (i % 5 == 1).then(|| {
                    [("30", "0.7"), ("30", "1.2"), ("40", "2")]
                        .map(|(a, p)| TakeProfitStep {
                            amount_percentage: a.parse().unwrap(),
                            profit_percentage: p.parse().unwrap(),
                        })
                        .to_vec()
                }),
                trailing_enabled: (i % 4 == 2).then_some(true),
                trailing_deviation: d(0.3),
                tsl_enabled: (i % 6 == 0).then_some(true),
                stop_loss_timeout_enabled: (i % 9 == 3).then_some(true),
                stop_loss_timeout_in_seconds: Some(1800),
                take_profit_type: Some(TakeProfitType::Total),
                stop_loss_percentage: if i % 3 == 0 { d(35.0) } else { None },
                // A few bots with the settings that gate or end deals, so the Python twin
                // checks those rules too.
                stop_loss_type: (i == 3).then_some(StopLossType::StopLossAndDisableBot),
                cooldown: Some((i % 4) as u32 * 300),
                deal_start_delay_seconds: (i % 7 == 1).then_some(900),
                close_deals_timeout: (i % 9 == 2).then_some(14 * 86_400),
                disable_after_deals_count: (i == 8).then_some(5),
                min_price: (i == 6).then(|| "90".parse().unwrap()),
                max_price: (i == 6).then(|| "250".parse().unwrap()),
                // Two bots whose safety orders fill at market on a 15-minute RSI below 30.
                safety_strategy_list: (i % 10 == 7).then(|| vec![rsi_below_30()]),
                ..BotSettings::default()
            };
            let assumptions = Assumptions {
                fee_percentage: "0.1".parse().unwrap(),
                intrabar: [Intrabar::Worst, Intrabar::TradingView, Intrabar::Best][i % 3],
                ..Assumptions::default()
            };
            simulate::compile(&settings, &assumptions).unwrap().0
        })
        .collect()
}

/// A 15-minute RSI(14) below 30.
fn rsi_below_30() -> StrategyCondition {
    StrategyCondition {
        strategy: "rsi".into(),
        options: [
            ("time", "15m"),
            ("points", "30"),
            ("trigger_condition", "less"),
            ("time_period", "14"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    }
}

/// The candles (their indices) at whose open a bot's safety-order conditions hold, for the
/// Python twin (the indicators are checked against TA-Lib on their own); `None`: it has none.
fn safety_gate(
    m: &simulate::BotModel,
    candles: &[simulate::Candle],
    interval_ms: i64,
) -> Option<Vec<usize>> {
    m.safety_gate(candles, None, interval_ms)
        .map(|g| (0..g.len()).filter(|&i| g[i]).collect())
}

/// Candles as the Python twin reads them: time, open, high, low, close.
fn csv(candles: &[simulate::Candle]) -> String {
    candles
        .iter()
        .map(|k| {
            format!(
                "{},{},{},{},{}\n",
                k.open_time_ms, k.open, k.high, k.low, k.close
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let spec = synthetic::parse("paths=1,vol=80,days=365,interval=5m,seed=7").unwrap();
    let candles = synthetic::path(&spec, 0);
    assert_eq!(candles.len(), 105_120);
    let models = bots_starting(false);
    // The same candles and bots for the Python comparison.
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let _ = std::fs::write(target.join("backtest-candles.csv"), csv(&candles));
    let totals: Vec<String> = models
        .iter()
        .map(|m| {
            format!(
                "{:.6}",
                simulate::run(m, &candles, spec.interval_ms).profit_quote
            )
        })
        .collect();
    let _ = std::fs::write(target.join("backtest-profits.txt"), totals.join("\n"));
    let _ = std::fs::write(
        target.join("backtest-bots.json"),
        serde_json::to_string_pretty(&models).unwrap(),
    );
    let gates: Vec<_> = models
        .iter()
        .map(|m| safety_gate(m, &candles, spec.interval_ms))
        .collect();
    let _ = std::fs::write(
        target.join("backtest-safety-gates.json"),
        serde_json::to_string(&gates).unwrap(),
    );
    // The bots on three pairs at once, with the cap across them, for the Python twin too.
    let multi_spec = synthetic::parse("paths=3,vol=80,days=120,interval=5m,seed=11").unwrap();
    let mut series: Vec<Vec<simulate::Candle>> =
        (0..3).map(|k| synthetic::path(&multi_spec, k)).collect();
    // The second pair from 1-minute candles, walked on them (`--detail`).
    let fine_spec = synthetic::parse("paths=1,vol=80,days=120,interval=1m,seed=13").unwrap();
    let fine = synthetic::path(&fine_spec, 0);
    series[1] = fine
        .chunks(5)
        .map(|five| simulate::Candle {
            open_time_ms: five[0].open_time_ms,
            open: five[0].open,
            high: five.iter().map(|c| c.high).fold(f64::MIN, f64::max),
            low: five.iter().map(|c| c.low).fold(f64::MAX, f64::min),
            close: five[4].close,
        })
        .collect();
    let _ = std::fs::write(target.join("backtest-multi-detail-1.csv"), csv(&fine));
    for (k, candles) in series.iter().enumerate() {
        let _ = std::fs::write(
            target.join(format!("backtest-multi-candles-{k}.csv")),
            csv(candles),
        );
    }
    // Two of the pairs on exchange steps (`--limits`), one without.
    let steps = [Some(("0.5", "0.01")), None, Some(("0.01", "0.0001"))];
    let limits = steps.map(|s| {
        s.map(|(price, lot)| simulate::PairLimits {
            price_step: Some(price.parse().unwrap()),
            lot_step: Some(lot.parse().unwrap()),
        })
    });
    let as_numbers = steps.map(|s| s.map(|(p, l)| [p.parse::<f64>().unwrap(), l.parse().unwrap()]));
    let _ = std::fs::write(
        target.join("backtest-multi-limits.json"),
        serde_json::to_string(&as_numbers).unwrap(),
    );
    let pairs: Vec<simulate::PairCandles<'_>> = series
        .iter()
        .zip(limits)
        .enumerate()
        .map(|(k, (candles, limits))| simulate::PairCandles {
            candles,
            volumes: None,
            interval_ms: multi_spec.interval_ms,
            limits,
            detail: if k == 1 { &fine } else { &[] },
            detail_interval_ms: fine_spec.interval_ms,
        })
        .collect();
    let multi = bots_on(false, 3);
    let per_pair: Vec<String> = multi
        .iter()
        .map(|m| {
            simulate::run_bot(m, &pairs, &mut ())
                .per_pair
                .iter()
                .map(|o| format!("{:.6}", o.profit_quote))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let _ = std::fs::write(
        target.join("backtest-multi-profits.txt"),
        per_pair.join("\n"),
    );
    let _ = std::fs::write(
        target.join("backtest-multi-bots.json"),
        serde_json::to_string_pretty(&multi).unwrap(),
    );
    let multi_gates: Vec<Vec<_>> = multi
        .iter()
        .map(|m| {
            series
                .iter()
                .map(|candles| safety_gate(m, candles, multi_spec.interval_ms))
                .collect()
        })
        .collect();
    let _ = std::fs::write(
        target.join("backtest-multi-safety-gates.json"),
        serde_json::to_string(&multi_gates).unwrap(),
    );
    c.bench_function("105,120 candles x 20 bots", |b| {
        b.iter(|| {
            models
                .iter()
                .map(|m| simulate::run(m, &candles, spec.interval_ms).deals_closed)
                .sum::<u32>()
        })
    });
    // The same bots starting on a 15-minute RSI: the start gate (15-minute candles built from
    // the 5-minute ones, the RSI, the trigger) is computed once per bot and pair.
    let gated = bots_starting(true);
    c.bench_function("105,120 candles x 20 bots on a 15m RSI start", |b| {
        b.iter(|| {
            gated
                .iter()
                .map(|m| simulate::run(m, &candles, spec.interval_ms).deals_closed)
                .sum::<u32>()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);

//! The optimize issue's figure: evaluations per second for one bot over a year of 5-minute
//! candles (105,120), where one evaluation is a whole candidate as `botform optimize` scores a
//! finalist: the edit of the config text, validate's every rule on the edited config, the
//! compile, and the simulation on every fold's in-sample and out-of-sample part (the whole
//! year). Also a whole search (729 candidates, 4 folds) on both cores.
//!
//! It writes the candles, the bot's model and its own figure to target/optimize-bench/ for
//! `benches/optimize_python.py`, which runs the same model (benches/backtest_python.py) in a
//! plain Python random search and under optuna's TPE, and prints the ratios.
//! Run with `cargo bench --bench optimize`, then `python3 benches/optimize_python.py`.

use botform::config::source::{SourceFile, Syntax};
use botform::optimize::{self, Objective, Shard, Space, Study, search};
use botform::simulate::report::{Cancel, Prices};
use botform::simulate::{Assumptions, FeeSource, Intrabar, synthetic};
use criterion::{Criterion, criterion_group, criterion_main};

const CONFIG: &str = r#"
[accounts.main]
name = "Binance Spot"

[templates.conservative]
base_order_volume = 10
safety_order_volume = 20
max_safety_orders = 5
active_safety_orders_count = 2
safety_order_step_percentage = 1.2
martingale_volume_coefficient = 1.5
martingale_step_coefficient = 1.2
take_profit = 1.5
take_profit_type = "total"
cooldown = 300

[[bots]]
name = "BTC conservative"
account = "main"
pairs = ["USDT_BTC"]
template = "conservative"
strategy = "long"
start = [{ strategy = "nonstop" }]
enabled = true
"#;

fn study(trials: u64) -> Study {
    Study {
        bot: "BTC conservative".into(),
        account: None,
        space: Space::parse(&[]).unwrap(),
        objective: Objective::ProfitPerCapital,
        max_drawdown: None,
        min_coverage: None,
        folds: 4,
        trials,
        seed: 1,
        into_template: false,
        fee_percentage: "0.1".parse().unwrap(),
        intrabar: "worst".into(),
    }
}

fn bench(c: &mut Criterion) {
    let spec = "paths=1,vol=80,days=365,interval=5m,seed=7";
    let checked = botform::config::check_sources(vec![SourceFile::new(
        "bench.toml".into(),
        Syntax::Toml,
        CONFIG.into(),
    )]);
    assert!(checked.is_valid(), "{:?}", checked.diagnostics);
    let assumptions = Assumptions {
        fee_percentage: "0.1".parse().unwrap(),
        fee_source: FeeSource::Given,
        start: Default::default(),
        balance: None,
        intrabar: Intrabar::Worst,
    };
    let prices = Prices::Synthetic(synthetic::parse(spec).unwrap());
    let (evaluator, _) = optimize::prepare(
        &checked,
        study(729),
        &prices,
        (None, None),
        assumptions.clone(),
    )
    .unwrap();
    assert_eq!(evaluator.candles, 105_120);
    let space = &evaluator.study.space;
    let one = |i: u64| {
        let values = space.draw(1, i);
        let Ok(compiled) = evaluator.compile(&values) else {
            return 0.0;
        };
        let parts: Vec<_> = evaluator
            .folds
            .iter()
            .flat_map(|f| [&f.in_sample, &f.out_of_sample])
            .map(|p| evaluator.score(&compiled, p))
            .collect();
        parts.len() as f64
    };
    // The figure for the Python comparison, measured plainly (criterion's below).
    let n = 200u64;
    let started = std::time::Instant::now();
    for i in 0..n {
        std::hint::black_box(one(i));
    }
    let per_second = n as f64 / started.elapsed().as_secs_f64();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/optimize-bench");
    let _ = std::fs::create_dir_all(&dir);
    let candles = synthetic::path(&synthetic::parse(spec).unwrap(), 0);
    let csv: String = candles
        .iter()
        .map(|k| {
            format!(
                "{},{},{},{},{}\n",
                k.open_time_ms, k.open, k.high, k.low, k.close
            )
        })
        .collect();
    let _ = std::fs::write(dir.join("candles.csv"), csv);
    let (model, _) = botform::simulate::compile(&checked.bots[0].settings(), &assumptions).unwrap();
    let _ = std::fs::write(
        dir.join("model.json"),
        serde_json::to_string_pretty(&model).unwrap(),
    );
    let _ = std::fs::write(
        dir.join("botform-evaluations-per-second.txt"),
        format!("{per_second:.1}\n"),
    );
    println!(
        "botform: {per_second:.0} evaluations a second (one thread), a year of 5-minute candles each"
    );

    let mut group = c.benchmark_group("optimize");
    group.sample_size(20);
    let mut i = 0;
    group.bench_function("one evaluation: edit, validate, a year on 4 folds", |b| {
        b.iter(|| {
            i += 1;
            one(i)
        })
    });
    group.sample_size(10);
    group.bench_function("a search: 729 candidates, 4 folds, both cores", |b| {
        b.iter(|| {
            search::run(
                &evaluator,
                Shard::ALL,
                String::new(),
                &Cancel::default(),
                &(),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

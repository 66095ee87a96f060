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

    for seed in 1..=5 {
        let mut seeded = study(729);
        seeded.seed = seed;
        let (e, _) =
            optimize::prepare(&checked, seeded, &prices, (None, None), assumptions.clone())
                .unwrap();
        equal_budget(&e);
    }

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

/// The search against a grid at the same cost: the search's 729 candidates cost, in runs of one
/// fold's in-sample part, 27 brackets x (27 + 9 x 3 more folds + 9 x 4 out-of-sample quarters
/// at a third each) = 1,782; a grid that scores every point on every part (5 1/3 units) gets 334
/// points: 3 levels of each of the 5 settings (243). Printed: each one's best in-sample objective
/// and the out-of-sample objective of the winner its ranking picks.
fn equal_budget(evaluator: &optimize::Evaluator) {
    let records = search::run(
        evaluator,
        Shard::ALL,
        String::new(),
        &Cancel::default(),
        &(),
    )
    .unwrap();
    let ranking = search::rank(&records);
    let study = &evaluator.study;
    let best_in = |rs: &[search::Record]| {
        rs.iter()
            .filter(|r| r.finalist())
            .map(|r| search::objective(study, r, true))
            .max()
            .unwrap_or_default()
    };
    let searched = (
        best_in(&records.records),
        ranking.winner().map(|w| search::objective(study, w, false)),
    );
    let levels = |d: &optimize::space::Dimension| -> Vec<botform::model::decimal::Decimal> {
        let (lo, hi) = (d.low.0, d.high.0);
        (0..3)
            .map(|k| {
                let x = lo
                    + (hi - lo) * rust_decimal::Decimal::from(k) / rust_decimal::Decimal::from(2);
                botform::model::decimal::Decimal(x.round_dp(d.places))
            })
            .collect()
    };
    let axes: Vec<Vec<_>> = study.space.0.iter().map(levels).collect();
    let mut points: Vec<Vec<botform::model::decimal::Decimal>> = vec![Vec::new()];
    for axis in &axes {
        points = points
            .iter()
            .flat_map(|p| axis.iter().map(move |v| [p.clone(), vec![*v]].concat()))
            .collect();
    }
    let grid: Vec<search::Record> = points
        .iter()
        .enumerate()
        .filter_map(|(i, values)| {
            let compiled = evaluator.compile(values).ok()?;
            Some(search::Record {
                index: i as u64,
                values: values.clone(),
                rejected: None,
                capital: compiled.capital,
                coverage: compiled.coverage,
                in_sample: evaluator
                    .folds
                    .iter()
                    .map(|f| Some(evaluator.score(&compiled, &f.in_sample)))
                    .collect(),
                out_of_sample: evaluator
                    .folds
                    .iter()
                    .map(|f| evaluator.score(&compiled, &f.out_of_sample))
                    .collect(),
                over_cap: None,
            })
        })
        .collect();
    let grid_ranking = search::rank(&search::Records {
        records: grid.clone(),
        ..records.clone()
    });
    println!(
        "equal budget, seed {}: the search's best in sample {} (winner out of sample {:?}); a 3-level grid's ({} points) {} (winner out of sample {:?})",
        study.seed,
        searched.0,
        searched.1,
        points.len(),
        best_in(&grid),
        grid_ranking
            .winner()
            .map(|w| search::objective(study, w, false))
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! One write to the sandbox's state at 1,000 and 5,000 bots: the SQLite store (one row per
//! write, in a transaction) against the old way, rewriting the whole state as one JSON file.
//! Run with `cargo bench --bench sandbox_store`.

use std::collections::BTreeSet;

use botform::model::enums::TradingMode;
use botform::sandbox::State;
use botform::sandbox::bots::new_bot;
use botform::sandbox::store::{Store, Touched};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const BINANCE: i64 = 31_896_123;

/// A store holding `n` bots, written in one transaction.
fn store_with(dir: &std::path::Path, n: i64) -> (Store, State) {
    let (mut store, mut state) = Store::open(&dir.join("sandbox.db")).unwrap();
    store
        .write(&mut state, TradingMode::Real, |state| {
            let mut ids = BTreeSet::new();
            for _ in 0..n {
                let id = state.next_bot_id;
                state.next_bot_id += 1;
                let mut bot = new_bot(id, BINANCE, "Binance Spot", format!("{id:x}"));
                bot.name = format!("bot {id}");
                bot.pairs = vec!["USDT_BTC".into()];
                state.real.bots.insert(id, bot);
                ids.insert(id);
            }
            (
                (),
                Some(Touched {
                    bots: ids,
                    ..Touched::default()
                }),
            )
        })
        .unwrap();
    (store, state)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("sandbox_write");
    group.sample_size(20);
    for n in [1_000i64, 5_000] {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, mut state) = store_with(dir.path(), n);
        let id = *state.real.bots.keys().next().unwrap();
        group.bench_with_input(BenchmarkId::new("sqlite_one_bot", n), &n, |b, _| {
            b.iter(|| {
                store
                    .write(&mut state, TradingMode::Real, |state| {
                        let bot = state.real.bots.get_mut(&id).unwrap();
                        bot.is_enabled = !bot.is_enabled;
                        (
                            (),
                            Some(Touched {
                                bots: [id].into(),
                                ..Touched::default()
                            }),
                        )
                    })
                    .unwrap()
            })
        });
        let json = dir.path().join("sandbox.json");
        group.bench_with_input(BenchmarkId::new("json_whole_file", n), &n, |b, _| {
            b.iter(|| {
                let mut bytes = serde_json::to_vec(&state).unwrap();
                bytes.push(b'\n');
                botform::files::write_atomic(&json, &bytes).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

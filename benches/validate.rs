//! `botform validate` on 1,000 generated bots: load, parse, decode, resolve, check, DCA numbers.
//! Run with `cargo bench --bench validate`.

use botform::config::{
    self,
    source::{SourceFile, Syntax},
};
use criterion::{Criterion, criterion_group, criterion_main};

/// A realistic config: shared definitions plus `n` bots over two accounts.
pub fn generated_toml(n: usize) -> String {
    let mut text = String::from(include_str!("../examples/bots/shared.toml"));
    let quotes = ["BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "AVAX"];
    for i in 0..n {
        let account = if i % 2 == 0 { "main" } else { "futures" };
        let template = if i % 3 == 0 {
            "aggressive"
        } else {
            "conservative"
        };
        let base = quotes[i % quotes.len()];
        text.push_str(&format!(
            "\n[[bots]]\nname = \"bot {i}\"\naccount = \"{account}\"\npairs = [\"USDT_{base}\"]\ntemplate = \"{template}\"\nstart = \"rsi-dip\"\nbase_order_volume = {}\nenabled = {}\n",
            10 + i % 7,
            i % 2 == 0
        ));
    }
    text
}

fn bench(c: &mut Criterion) {
    let text = generated_toml(1000);
    c.bench_function("validate 1000 bots (toml)", |b| {
        b.iter(|| {
            let checked = config::check_sources(vec![SourceFile::new(
                "bots.toml".into(),
                Syntax::Toml,
                text.clone(),
            )]);
            assert!(checked.is_valid(), "{:?}", checked.diagnostics.first());
            assert_eq!(checked.bots.len(), 1000);
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

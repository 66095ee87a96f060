//! What the shared pace costs each request (issue 25): one acquire through the window file that
//! every botform process on the machine shares, side by side with the fsync each request paid
//! before (a durable atomic write of the same file). Run with `cargo bench --bench pace`; point
//! `TMPDIR` at the disk to measure, and load it (another process writing) to see the difference.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use botform::threecommas::ratelimit::{RateLimiter, SharedBudget};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A clock one second further at each request: the window holds 60 requests, as at the real
    // limit, and nothing ever waits.
    let now = Arc::new(AtomicU64::new(1_700_000_000_000));
    let clock = {
        let now = now.clone();
        Arc::new(move || now.fetch_add(1000, Ordering::SeqCst))
            as botform::threecommas::ratelimit::Clock
    };
    let budget =
        SharedBudget::with_clock(dir.path().join("pace.json"), Duration::from_secs(60), clock);
    let limiter = RateLimiter::shared(1_000_000, budget);
    c.bench_function("pace: one request through the shared window", |b| {
        b.iter(|| runtime.block_on(limiter.acquire()).unwrap())
    });
    // What each request paid before: the same file written with an fsync.
    let window: Vec<u64> = (0..60).map(|i| 1_700_000_000_000 + i * 1000).collect();
    let bytes =
        serde_json::to_vec(&serde_json::json!({"sent": window, "paused_until": 0})).unwrap();
    let path = dir.path().join("durable.json");
    c.bench_function("pace before: the window file written with an fsync", |b| {
        b.iter(|| botform::files::write_atomic(&path, &bytes).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);

//! What plan and apply cost in API requests at 1,000, 5,000 and 10,000 bots (issue 25), beside
//! the floor a script that only lists and writes needs: the accounts, every page of 100 bots
//! (and the empty page that ends the list), and one write per change. Each size runs the real
//! binary against a real `botform sandbox serve` (which counts the requests), with 10 % of the
//! bots changed, at the client's real pace (100 requests a minute: 10,000 bots take about 12
//! minutes). Also the plan's peak memory (the largest child's max RSS).
//! Run with `cargo bench --bench api_requests`; `BENCH_SIZES=1000,5000` chooses the sizes.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_botform");

struct Sandbox {
    child: std::process::Child,
    url: String,
}

impl Sandbox {
    fn start(state: &Path) -> Sandbox {
        let mut child = Command::new(BINARY)
            .args([
                "sandbox",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "100000",
            ])
            .arg("--state")
            .arg(state)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Sandbox {
            child,
            url: line.trim().to_string(),
        }
    }

    fn get(&self, path: &str) -> serde_json::Value {
        let url = format!("{}{path}", self.url);
        runtime().block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    fn post(&self, path: &str, body: serde_json::Value) {
        let url = format!("{}{path}", self.url);
        runtime().block_on(async {
            let answer = reqwest::Client::new()
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(
                answer.status().is_success(),
                "{}",
                answer.text().await.unwrap()
            );
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The largest max RSS of the children waited for so far, in MiB.
fn children_max_rss_mib() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    let usage = unsafe { usage.assume_init() };
    usage.ru_maxrss as f64 / 1024.0
}

fn run(sandbox: &Sandbox, state_dir: &Path, args: &[&str], dir: &Path) -> (u64, String) {
    sandbox.post("/__sandbox/stats/reset", serde_json::json!({}));
    let out = Command::new(BINARY)
        .args(args)
        .arg(dir)
        .env("BOTFORM_STATE_DIR", state_dir)
        .env("THREECOMMAS_API_URL", &sandbox.url)
        .env("THREECOMMAS_API_KEY", botform::sandbox::DEFAULT_API_KEY)
        .env(
            "THREECOMMAS_API_SECRET",
            botform::sandbox::DEFAULT_API_SECRET,
        )
        .env("THREECOMMAS_RATE_LIMIT", "100")
        .env_remove("THREECOMMAS_TARGET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success() || out.status.code() == Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = sandbox.get("/__sandbox/stats");
    (
        stats["total"].as_u64().unwrap(),
        stats["by_endpoint"].to_string(),
    )
}

fn size(n: usize) {
    let work = tempfile::tempdir().unwrap();
    let (state_dir, dir) = (work.path().join("state"), work.path().join("config"));
    std::fs::create_dir_all(&dir).unwrap();
    let sandbox = Sandbox::start(&work.path().join("sandbox.db"));
    let state = sandbox.get("/__sandbox/state");
    let account = state["real"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Binance Spot")
        .unwrap()["id"]
        .clone();
    let bots: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "account_id": account, "name": format!("bot {i}"), "pairs": r#"["USDT_BTC"]"#,
                "strategy_list": r#"[{"strategy":"nonstop","options":{}}]"#,
                "base_order_volume": "10", "safety_order_volume": "10", "max_safety_orders": 2,
                "active_safety_orders_count": 1, "safety_order_step_percentage": "1",
                "martingale_volume_coefficient": "1", "martingale_step_coefficient": "1",
                "take_profit": "1", "take_profit_type": "total", "strategy": "long",
                "base_order_volume_type": "quote_currency",
                "safety_order_volume_type": "quote_currency",
            })
        })
        .collect();
    for batch in bots.chunks(400) {
        sandbox.post(
            "/__sandbox/bots",
            serde_json::json!({"mode": "real", "bots": batch}),
        );
    }
    let mut text = String::from(
        "[accounts.main]\nname = \"Binance Spot\"\n\n[templates.t]\naccount = \"main\"\nstart = [{ strategy = \"nonstop\" }]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 2\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit_type = \"total\"\ntake_profit = 1\n",
    );
    for i in 0..n {
        let changed = if i < n / 10 { "take_profit = 2\n" } else { "" };
        text.push_str(&format!(
            "\n[[bots]]\nname = \"bot {i}\"\ntemplate = \"t\"\npairs = [\"USDT_BTC\"]\n{changed}"
        ));
    }
    std::fs::write(dir.join("bots.toml"), text).unwrap();
    let pages = n / 100 + 1;
    let (plan, plan_by) = run(&sandbox, &state_dir, &["plan"], &dir);
    let rss = children_max_rss_mib();
    let started = std::time::Instant::now();
    let (apply, apply_by) = run(&sandbox, &state_dir, &["apply", "--auto-approve"], &dir);
    let floor = 1 + pages + n / 10;
    println!(
        "{n:>6} bots | plan {plan:>4} requests (floor {:>4}), max RSS {rss:.0} MiB | apply of {:>5} changes {apply:>5} requests, floor {floor:>5}, ratio {:.3}, {:.0} s",
        1 + pages,
        n / 10,
        apply as f64 / floor as f64,
        started.elapsed().as_secs_f64()
    );
    println!("         plan: {plan_by}\n         apply: {apply_by}");
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is taken.
    let sizes = std::env::var("BENCH_SIZES").unwrap_or_else(|_| "1000,5000,10000".into());
    for n in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<usize>().ok())
    {
        size(n);
    }
}

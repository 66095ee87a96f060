//! The `botform sandbox serve` binary: its stdout contract, persistence across a kill, load from
//! parallel clients, and a real third-party client (py3cw).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use botform::model::bot::BotSettings;
use botform::sandbox;
use botform::threecommas::BotsFilter;
use botform::threecommas::wire::BotParams;

use super::client::{bot_params, client_for};
use super::root;

/// A sandbox process; killed when dropped.
pub struct SandboxProcess {
    child: Child,
    pub url: String,
    /// botform's state dir for the commands run against this sandbox (`against`): its own, as
    /// each account has its own on a trader's machine. A shared one let a journal of unclear
    /// creates left by one test's sandbox hold a bot name on the next sandbox to get the same
    /// port (the same origin): a flaky "the apply created nothing". A sandbox on a state
    /// database shares it with every sandbox on that database (the same account after a
    /// restart).
    pub state: std::path::PathBuf,
    _state_temp: Option<tempfile::TempDir>,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SandboxProcess {
    pub fn spawn(state: Option<&Path>, extra: &[&str]) -> SandboxProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_botform"));
        cmd.args(["sandbox", "serve", "--listen", "127.0.0.1:0"]);
        // Far above what tests send, unless the test sets its own limit.
        if !extra.contains(&"--rate-limit") {
            cmd.args(["--rate-limit", "100000"]);
        }
        if let Some(state) = state {
            cmd.arg("--state").arg(state);
        }
        cmd.args(extra).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().expect("the botform binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "first stdout line is the base URL, got {url:?}"
        );
        let (state, _state_temp) = match state {
            Some(db) => (
                PathBuf::from(format!("{}.botform-state", db.display())),
                None,
            ),
            None => {
                let temp = tempfile::tempdir().unwrap();
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        SandboxProcess {
            child,
            url,
            state,
            _state_temp,
        }
    }

    /// Wait until the sandbox's market has replayed every candle (an event the market reports
    /// at `/__sandbox/market`, not a guess from the clock). The deadline only guards against a
    /// hang: the replays the tests use take well under a second.
    pub fn wait_replayed(&self) {
        let guard = Instant::now() + Duration::from_secs(120);
        loop {
            let progress = self.control_get("/__sandbox/market");
            assert_eq!(progress["market"], true, "no --market: {progress}");
            if progress["replayed"] == true {
                return;
            }
            assert!(
                Instant::now() < guard,
                "the market never finished its replay"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The real-mode bot named `name`, as the sandbox stores it.
    pub fn bot(&self, name: &str) -> serde_json::Value {
        self.bots_named(name)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no bot named {name}"))
    }

    /// Every real-mode bot named `name` (none, one, or twins).
    pub fn bots_named(&self, name: &str) -> Vec<serde_json::Value> {
        let state = self.control_get("/__sandbox/state");
        state["real"]["bots"]
            .as_object()
            .unwrap()
            .values()
            .filter(|b| b["name"] == name)
            .cloned()
            .collect()
    }

    /// GET a loopback control endpoint (`/__sandbox/state`, `/__sandbox/stats`) from a test
    /// that is not async.
    pub fn control_get(&self, path: &str) -> serde_json::Value {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            ::reqwest::get(format!("{}{path}", self.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        })
    }

    /// POST JSON to a loopback control endpoint from a test that is not async.
    pub fn control_post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            ::reqwest::Client::new()
                .post(format!("{}{path}", self.url))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap_or(serde_json::Value::Null)
        })
    }

    /// Live bots made at once (each `create_bot` params), as the web app would have made them:
    /// in batches, since the sandbox takes bodies of at most 1 MiB, as 3Commas' gateway does.
    pub fn seed_bots(&self, bots: &[serde_json::Value]) {
        for batch in bots.chunks(500) {
            self.control_post(
                "/__sandbox/bots",
                serde_json::json!({"mode": "real", "bots": batch}),
            );
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_clients_lose_no_acknowledged_write_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("sandbox.json");
    let process = SandboxProcess::spawn(Some(&state), &[]);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut tasks = Vec::new();
    for worker in 0..10 {
        let client = client_for(&process.url, sandbox::DEFAULT_API_SECRET, |_| {});
        tasks.push(tokio::spawn(async move {
            // (bot id, last acknowledged take profit)
            let mut acknowledged: Vec<(i64, String)> = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline && n < 60 {
                n += 1;
                let Ok(bot) = client
                    .create_bot(&bot_params(&format!("w{worker} b{n}")))
                    .await
                else {
                    break;
                };
                let tp = format!("{}.5", 1 + n % 5);
                let change = BotSettings {
                    take_profit: Some(tp.parse().unwrap()),
                    ..Default::default()
                };
                let params = BotParams::update(&bot.to_model(), &change).unwrap();
                match client.update_bot(bot.id, &params).await {
                    Ok(_) => acknowledged.push((bot.id, tp)),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    assert!(
        acknowledged.len() >= 20,
        "the load ran: {} writes",
        acknowledged.len()
    );
    process.kill();

    let restarted = SandboxProcess::spawn(Some(&state), &[]);
    let client = client_for(&restarted.url, sandbox::DEFAULT_API_SECRET, |_| {});
    let bots = client.bots(BotsFilter::default()).await.unwrap();
    for (id, tp) in &acknowledged {
        let bot = bots
            .iter()
            .find(|b| b.id == *id)
            .unwrap_or_else(|| panic!("acknowledged bot {id} lost"));
        assert_eq!(
            bot.settings.take_profit,
            Some(tp.parse().unwrap()),
            "acknowledged update of {id} lost"
        );
    }
    let mut ids: Vec<i64> = bots.iter().map(|b| b.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), bots.len(), "no id handed out twice");
}

fn python_with_py3cw() -> Option<String> {
    for python in ["python3", "python"] {
        let ok = Command::new(python)
            .args(["-c", "import py3cw"])
            .stderr(Stdio::null())
            .status();
        if ok.is_ok_and(|s| s.success()) {
            return Some(python.to_string());
        }
    }
    None
}

#[test]
fn py3cw_cannot_tell_the_sandbox_from_3commas() {
    let python = python_with_py3cw();
    if !super::required(
        "py3cw",
        python.is_some(),
        "python3 -m pip install py3cw==0.1.1",
    ) {
        return;
    }
    let python = python.expect("checked above");
    let process = SandboxProcess::spawn(None, &[]);
    let output = Command::new(python)
        .arg(root().join("tests/py/py3cw_compat.py"))
        .args([
            &process.url,
            sandbox::DEFAULT_API_KEY,
            sandbox::DEFAULT_API_SECRET,
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "py3cw against the sandbox:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn stats_are_loopback_only_and_unsigned() {
    let process = SandboxProcess::spawn(None, &[]);
    let body = reqwest::blocking_get(&format!("{}/__sandbox/stats", process.url));
    assert!(body.contains("\"total\""), "{body}");
}

mod reqwest {
    /// A tiny blocking GET over the async client (the tests need no blocking feature).
    pub fn blocking_get(url: &str) -> String {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}

#[test]
fn oversized_bodies_and_trickled_headers_are_cut_off() {
    use std::io::{Read, Write};
    let process = SandboxProcess::spawn(None, &[]);
    let addr = process.url.trim_start_matches("http://").to_string();
    // A body announced as 100 MB is refused before any of it is sent.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /public/api/ver1/bots/create_bot HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n"
    )
    .unwrap();
    let mut answer = [0u8; 64];
    let n = stream.read(&mut answer).unwrap();
    let head = String::from_utf8_lossy(&answer[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // Headers trickled in and never finished: the connection is closed after the header
    // timeout, not held open.
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    write!(
        slow,
        "GET /public/api/ver1/accounts HTTP/1.1\r\nHost: x\r\n"
    )
    .unwrap();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited >= botform::sandbox::HEADER_TIMEOUT && waited < Duration::from_secs(15),
        "closed after {waited:?}"
    );
}

#[test]
fn a_database_locked_from_outside_is_a_503_with_retry_after_not_a_stall() {
    // Before (issue 24 low): the server waited 10 s on an outside lock while holding every other
    // request behind it. Now a write answers 503 with Retry-After within about a second, reads
    // go on, and the write passes once the lock is gone.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sandbox.db");
    let sandbox = SandboxProcess::spawn(Some(&db), &[]);
    let outside = rusqlite::Connection::open(&db).unwrap();
    outside.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let creds = botform::threecommas::Credentials::hmac(
        botform::sandbox::DEFAULT_API_KEY,
        botform::sandbox::DEFAULT_API_SECRET,
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let http = ::reqwest::Client::new();
    let write = || {
        let path = "/public/api/ver1/bots/update_pairs_black_list";
        let body = br#"{"pairs":["USDT_LUNA"]}"#.to_vec();
        let signature = creds.sign(&creds.request_message(path, None, Some(&body)));
        runtime.block_on(
            http.post(format!("{}{path}", sandbox.url))
                .header("Content-Type", "application/json")
                .header("APIKEY", botform::sandbox::DEFAULT_API_KEY)
                .header("Signature", signature)
                .body(body)
                .send(),
        )
    };
    let started = std::time::Instant::now();
    let busy = write().unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "answered in {:?}",
        started.elapsed()
    );
    // Reads go on while the lock is held.
    let path = "/public/api/ver1/accounts";
    let signature = creds.sign(&creds.request_message(path, None, None));
    let read = runtime
        .block_on(
            http.get(format!("{}{path}", sandbox.url))
                .header("APIKEY", botform::sandbox::DEFAULT_API_KEY)
                .header("Signature", signature)
                .send(),
        )
        .unwrap();
    assert_eq!(read.status(), 200);
    outside.execute_batch("ROLLBACK").unwrap();
    assert!(write().unwrap().status().is_success());
}

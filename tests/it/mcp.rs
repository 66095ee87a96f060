//! `botform mcp` driven by real MCP clients: the Python SDK in both protocol eras, with and
//! without elicitation, and the MCP Inspector CLI (including its `--strict` schema lint).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::engine_support::example_dir;
use super::{required, root};

fn python_has_mcp() -> bool {
    Command::new("python3")
        .args(["-c", "import mcp"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_python_sdk_drives_every_scenario_in_both_eras() {
    if !required(
        "the Python `mcp` SDK",
        python_has_mcp(),
        "python3 -m pip install mcp==2.3.0",
    ) {
        return;
    }
    for (mode, elicit) in [
        ("auto", "accept"),
        ("auto", "none"),
        ("legacy", "accept"),
        ("legacy", "none"),
    ] {
        let dir = example_dir();
        let out = Command::new("python3")
            .env(
                "BOTFORM_SANDBOX_STATE",
                dir.path().join(".botform/sandbox.db"),
            )
            .env("BOTFORM_STATE_DIR", crate::state_dir())
            .arg(root().join("tests/py/mcp_client.py"))
            .arg(env!("CARGO_BIN_EXE_botform"))
            .arg(dir.path())
            .args([mode, elicit])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python mcp client ({mode}, {elicit}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The assistant's five tasks end to end, and every answer within the budget at 1,000 bots
/// (`tests/py/mcp_assistant.py`), in both protocol eras.
#[test]
fn an_assistant_plays_the_five_tasks_and_every_answer_fits() {
    if !required(
        "the Python `mcp` SDK",
        python_has_mcp(),
        "python3 -m pip install mcp==2.3.0",
    ) {
        return;
    }
    for mode in ["auto", "legacy"] {
        let dir = example_dir();
        let scale = tempfile::tempdir().unwrap();
        let out = Command::new("python3")
            .env(
                "BOTFORM_SANDBOX_STATE",
                dir.path().join(".botform/sandbox.db"),
            )
            .env("BOTFORM_STATE_DIR", crate::state_dir())
            .arg(root().join("tests/py/mcp_assistant.py"))
            .arg(env!("CARGO_BIN_EXE_botform"))
            .arg(dir.path())
            .arg(scale.path())
            .args([mode, "accept"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "python mcp assistant ({mode}):\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The answer sizes, for the record (`cargo test -- --nocapture`).
        println!("{stdout}");
    }
}

fn inspector(root_dir: &Path, server_flags: &[&str], args: &[&str]) -> Output {
    let mut cmd = Command::new("mcp-inspector");
    let state = root_dir.join(".botform/sandbox.db");
    cmd.args([
        "--cli",
        "-e",
        "RUST_LOG=warn",
        "-e",
        "THREECOMMAS_TARGET=sandbox",
        "-e",
    ])
    .arg(format!("BOTFORM_SANDBOX_STATE={}", state.display()))
    .arg("-e")
    .arg(format!(
        "BOTFORM_STATE_DIR={}",
        crate::state_dir().display()
    ))
    .args([env!("CARGO_BIN_EXE_botform"), "mcp", "--root"])
    .arg(root_dir)
    // Every tool set, so the strict lint sees every tool.
    .args(["--tools", "all"])
    .args(server_flags)
    .args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("THREECOMMAS_")) {
        cmd.env_remove(k);
    }
    cmd.output().expect("mcp-inspector runs")
}

fn inspector_present() -> bool {
    Command::new("mcp-inspector")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn the_inspector_cli_lists_strictly_and_calls_tools() {
    if !required(
        "the MCP Inspector CLI",
        inspector_present(),
        "npm install -g @modelcontextprotocol/inspector@2.12.0",
    ) {
        return;
    }
    let dir = example_dir();
    for era in [&[][..], &["--protocol-era", "modern"][..]] {
        let mut args = vec!["--method", "tools/list", "--strict"];
        args.extend_from_slice(era);
        let out = inspector(dir.path(), &[], &args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "tools/list --strict {era:?}:\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            !all.contains("Warning:"),
            "the strict lint finds nothing to warn about:\n{all}"
        );
        for tool in [
            "validate",
            "plan",
            "apply",
            "import",
            "describe_config",
            "list_accounts",
            "list_strategies",
            "market_pairs",
            "bot_performance",
        ] {
            assert!(
                stdout.contains(&format!("\"name\": \"{tool}\"")),
                "{tool} listed"
            );
        }
    }

    let out = inspector(
        dir.path(),
        &[],
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "validate",
            "--format",
            "json",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        answer["result"]["structuredContent"]["valid"], true,
        "{answer}"
    );

    // The Inspector cannot ask the person; without --allow-apply nothing may change.
    let out = inspector(
        dir.path(),
        &[],
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "apply",
            "--tool-arg",
            "plan_id=plan-x",
            "plan_hash=abc",
            "-q",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(5),
        "apply without the flag is an error result: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("--allow-apply"));

    let out = inspector(
        dir.path(),
        &[],
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "validate",
            "--tool-args-json",
            r#"{"paths":["../"]}"#,
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(5), "a root escape is refused");

    let out = inspector(
        dir.path(),
        &[],
        &[
            "--method",
            "resources/read",
            "--uri",
            "botform://schema/config.json",
            "-q",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let out = inspector(
        dir.path(),
        &[],
        &[
            "--method",
            "prompts/get",
            "--prompt-name",
            "design_bot",
            "--prompt-args",
            "goal=an ETH bot",
            "-q",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stdout_carries_only_the_protocol() {
    let dir = example_dir();
    let mut child = Command::new(env!("CARGO_BIN_EXE_botform"))
        .args(["mcp", "--tools", "all", "--root"])
        .arg(dir.path())
        .env_remove("THREECOMMAS_API_KEY")
        .env("THREECOMMAS_TARGET", "sandbox")
        .env(
            "BOTFORM_SANDBOX_STATE",
            dir.path().join(".botform/sandbox.db"),
        )
        .env("BOTFORM_STATE_DIR", crate::state_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let stdin = child.stdin.as_mut().unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}}}"#).unwrap();
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","method":"notifications/initialized"}}"#
    )
    .unwrap();
    writeln!(stdin, r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"list_accounts","arguments":{{}}}}}}"#).unwrap();
    // Read until the answer to request 2 has come (an event, not a guess at how long it takes),
    // then close stdin and collect the rest.
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "stdout closed before the answer: {lines:?}");
        let message: serde_json::Value = serde_json::from_str(line.trim_end())
            .unwrap_or_else(|_| panic!("not JSON-RPC on stdout: {line}"));
        assert_eq!(message["jsonrpc"], "2.0");
        lines.push(line);
        if message["id"] == 2 {
            break;
        }
    }
    drop(child.stdin.take());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    for line in rest.lines() {
        let message: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON-RPC on stdout: {line}"));
        assert_eq!(message["jsonrpc"], "2.0");
    }
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("built-in sandbox"),
        "logs go to stderr"
    );
}

/// `botform mcp` driven over raw stdio, for what the SDKs hide (exact lines, ids,
/// notifications): on `dir`, against a sandbox process or the built-in sandbox under `dir`,
/// initialized (request id 0).
struct RawSession {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    reader: std::io::BufReader<std::process::ChildStdout>,
}

impl RawSession {
    fn start(dir: &Path, sandbox: Option<&super::sandbox::SandboxProcess>) -> RawSession {
        Self::start_with(dir, sandbox, &[])
    }

    /// The same, with more environment for the server.
    fn start_with(
        dir: &Path,
        sandbox: Option<&super::sandbox::SandboxProcess>,
        env: &[(&str, &str)],
    ) -> RawSession {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_botform"));
        cmd.args(["mcp", "--root"])
            .arg(dir)
            .envs(env.iter().copied())
            .env("BOTFORM_STATE_DIR", crate::state_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        match sandbox {
            Some(sandbox) => cmd
                .env_remove("THREECOMMAS_TARGET")
                .env("THREECOMMAS_API_URL", &sandbox.url)
                .env("THREECOMMAS_API_KEY", botform::sandbox::DEFAULT_API_KEY)
                .env(
                    "THREECOMMAS_API_SECRET",
                    botform::sandbox::DEFAULT_API_SECRET,
                ),
            None => cmd
                .env_remove("THREECOMMAS_API_KEY")
                .env("THREECOMMAS_TARGET", "sandbox")
                .env("BOTFORM_SANDBOX_STATE", dir.join(".botform/sandbox.db")),
        };
        let mut child = cmd.spawn().unwrap();
        let mut session = RawSession {
            stdin: child.stdin.take(),
            reader: std::io::BufReader::new(child.stdout.take().unwrap()),
            child,
        };
        session.send(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
        while session.next()["id"] != 0 {}
        session.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        session
    }

    fn send(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin.as_mut().unwrap(), "{line}").unwrap();
    }

    /// The next message from the server.
    fn next(&mut self) -> serde_json::Value {
        use std::io::BufRead;
        let mut line = String::new();
        assert!(
            self.reader.read_line(&mut line).unwrap() > 0,
            "stdout closed"
        );
        serde_json::from_str(line.trim_end()).unwrap()
    }

    /// Call a tool; its result (notifications before it are skipped).
    fn call(&mut self, id: u64, tool: &str, arguments: serde_json::Value) -> serde_json::Value {
        let request = serde_json::json!({
            "jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": { "name": tool, "arguments": arguments },
        });
        self.send(&request.to_string());
        loop {
            let message = self.next();
            if message["id"] == id {
                return message["result"].clone();
            }
        }
    }

    /// Close the input; the server then ends, once its work has.
    fn close(mut self) -> std::process::Child {
        drop(self.stdin.take());
        self.child
    }
}

#[test]
fn a_line_that_is_no_message_gets_its_json_rpc_error_and_the_session_goes_on() {
    // Before: broken JSON and deep nesting got no reply at all; the client waited out its
    // timeout.
    let dir = example_dir();
    let mut session = RawSession::start(dir.path(), None);
    session.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"valid"#);
    session.send(&"[".repeat(100_000));
    session.send(r#"[{"jsonrpc":"2.0","id":3,"method":"ping"}]"#);
    session.send(r#"{"jsonrpc":"2.0","id":4}"#);
    session.send(r#"{"jsonrpc":"2.0","id":5,"method":"ping"}"#);
    let (mut errors, mut pong) = (Vec::new(), false);
    while !(pong && errors.len() == 4) {
        let message = session.next();
        if let Some(code) = message["error"]["code"].as_i64() {
            errors.push((code, message["id"].clone()));
        }
        pong |= message["id"] == 5 && message.get("result").is_some();
    }
    errors.sort_by_key(|(code, _)| *code);
    assert_eq!(
        errors,
        [
            (-32700, serde_json::Value::Null),
            (-32700, serde_json::Value::Null),
            (-32600, serde_json::Value::Null),
            (-32600, serde_json::json!(4)),
        ]
    );
    session.close().wait().unwrap();
}

#[test]
fn a_slow_call_sends_a_heartbeat_every_few_seconds_with_rising_progress() {
    // Every 3Commas request answered 2 s late, the heartbeat every 50 ms: dozens of beats in a
    // call, so two are certain however the machine runs. Before: silence until the answer, near
    // a client's 60 s timeout when 3Commas holds requests back.
    let sandbox = super::sandbox::SandboxProcess::spawn(None, &["--faults", "latency_ms=2000"]);
    let dir = example_dir();
    let mut session = RawSession::start_with(
        dir.path(),
        Some(&sandbox),
        &[("BOTFORM_MCP_HEARTBEAT_MS", "50")],
    );
    session.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_bots","arguments":{},"_meta":{"progressToken":"beat"}}}"#);
    let mut progress = Vec::new();
    let answer = loop {
        let message = session.next();
        if message["method"] == "notifications/progress" {
            assert_eq!(message["params"]["progressToken"], "beat");
            progress.push(message["params"]["progress"].as_f64().unwrap());
        }
        if message["id"] == 2 {
            break message;
        }
    };
    assert!(
        progress.len() >= 2,
        "heartbeats: {progress:?}, answer: {answer}"
    );
    assert!(
        progress.windows(2).all(|w| w[1] > w[0]),
        "progress rises: {progress:?}"
    );
    session.close().wait().unwrap();
}

#[test]
fn reading_one_bot_by_name_costs_no_listing_of_the_fleet() {
    // Before: explain_bot and deals paged through every bot (51 requests at 5,000 bots).
    let sandbox = super::sandbox::SandboxProcess::spawn(None, &["--rate-limit", "100000"]);
    let bots: Vec<serde_json::Value> = (0..250)
        .map(|i| {
            serde_json::json!({
                "account_id": super::client::BINANCE, "name": format!("bot {i:03}"),
                "pairs": "[\"USDT_BTC\"]",
                "strategy_list": "[{\"strategy\":\"nonstop\",\"options\":{}}]",
                "base_order_volume": "10", "safety_order_volume": "20", "max_safety_orders": 5,
                "active_safety_orders_count": 2, "safety_order_step_percentage": "1.2",
                "martingale_volume_coefficient": "1.5", "martingale_step_coefficient": "1.2",
                "take_profit": "1.5", "take_profit_type": "total", "strategy": "long",
                "base_order_volume_type": "quote_currency", "safety_order_volume_type": "quote_currency",
            })
        })
        .collect();
    sandbox.seed_bots(&bots);
    let dir = example_dir();
    // A listing (any session's, or a plan's) leaves the names behind.
    let mut first = RawSession::start(dir.path(), Some(&sandbox));
    first.call(1, "list_bots", serde_json::json!({}));
    first.close().wait().unwrap();
    sandbox.control_post("/__sandbox/stats/reset", serde_json::json!({}));
    let mut session = RawSession::start(dir.path(), Some(&sandbox));
    let explained = session.call(1, "explain_bot", serde_json::json!({ "bot": "BOT 123" }));
    let deals = session.call(2, "deals", serde_json::json!({ "bot": "bot 124" }));
    session.close().wait().unwrap();
    assert_eq!(
        explained["structuredContent"]["name"], "bot 123",
        "{explained}"
    );
    assert_eq!(deals["structuredContent"]["bot_name"], "bot 124", "{deals}");
    let stats = sandbox.control_get("/__sandbox/stats");
    assert!(
        stats["by_endpoint"]["GET /ver1/bots"].is_null(),
        "no listing of the fleet: {stats}"
    );
    assert!(
        stats["total"].as_u64().unwrap() <= 6,
        "two one-bot reads, at most 3 requests each: {stats}"
    );
}

#[test]
fn a_cancelled_backtest_stops_and_the_session_goes_on() {
    // Before: a cancelled backtest kept a core busy to its end.
    let dir = example_dir();
    let mut session = RawSession::start(dir.path(), None);
    // 20 million candle steps a bot: minutes of work in a debug build.
    session.send(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"backtest","arguments":{"synthetic":"paths=190,days=365,interval=5m,seed=1"}}}"#);
    session.send(r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"the person moved on"}}"#);
    session.send(r#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#);
    loop {
        let message = session.next();
        // A cancelled request gets no answer (MCP: the receiver SHOULD NOT respond).
        assert_ne!(message["id"], 2, "{message}");
        if message["id"] == 3 {
            break;
        }
    }
    // The server ends with its input only once its work has: a simulation still running would
    // keep it for minutes.
    let mut child = session.close();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the cancelled backtest still runs"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn an_mcp_backtest_downloads_its_candles_once_and_then_reads_the_cache() {
    // Before: MCP backtests ran on files under the root or synthetic paths only.
    use std::sync::atomic::Ordering;
    let (url, hits) = super::backtest::exchange_server();
    let dir = example_dir();
    let cache = tempfile::tempdir().unwrap();
    let mut session = RawSession::start_with(
        dir.path(),
        None,
        &[
            ("BOTFORM_BINANCE_URL", url.as_str()),
            ("BOTFORM_CACHE_DIR", cache.path().to_str().unwrap()),
        ],
    );
    let args = serde_json::json!({
        "selector": { "name_matches": "btc conservative" },
        "candles_from": "binance", "from": "2025-01-01", "to": "2025-01-05",
    });
    let first = session.call(2, "backtest", args.clone());
    assert_ne!(first["isError"], true, "{first}");
    let report = &first["structuredContent"]["report"];
    assert_eq!(
        report["results"][0]["candles"]["count"],
        4 * 288,
        "{report}"
    );
    assert_eq!(report["results"].as_array().unwrap().len(), 1, "{report}");
    // No fee given: the exchange the candles came from says which fee a trade pays.
    assert_eq!(report["fee_percentage"], "0.1", "{report}");
    assert!(cache.path().join("binance/5m/USDT_BTC.csv").is_file());
    let fetched = hits.load(Ordering::SeqCst);
    assert!(fetched >= 2, "1,152 candles take two pages ({fetched})");
    let again = session.call(3, "backtest", args);
    assert_eq!(
        again["structuredContent"]["report"]["results"][0]["candles"]["count"],
        4 * 288
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        fetched,
        "the cache, not the exchange"
    );
    let unknown = session.call(
        4,
        "backtest",
        serde_json::json!({"candles_from": "kraken", "from": "2025-01-01"}),
    );
    assert_eq!(unknown["isError"], true, "{unknown}");
    assert!(
        unknown.to_string().contains("binance or bybit"),
        "{unknown}"
    );
}

#[test]
fn explain_and_deals_take_a_selector_that_names_one_bot() {
    // Before: explain_bot and deals took a name or an id only.
    let dir = example_dir();
    let mut session = RawSession::start(dir.path(), None);
    let one = session.call(
        2,
        "explain_bot",
        serde_json::json!({"selector": {"name_matches": "ETH short*"}}),
    );
    assert_ne!(one["isError"], true, "{one}");
    assert_eq!(
        one["structuredContent"]["name"], "ETH short on MACD cross",
        "{one}"
    );
    let several = session.call(
        3,
        "deals",
        serde_json::json!({"selector": {"name_matches": "conservative"}}),
    );
    assert_eq!(several["isError"], true, "{several}");
    let text = several.to_string();
    assert!(
        text.contains("selects 2 bots") && text.contains("fleet_performance"),
        "{text}"
    );
    let both = session.call(
        4,
        "explain_bot",
        serde_json::json!({"bot": "BTC conservative", "selector": {"base": "BTC"}}),
    );
    assert_eq!(both["isError"], true, "{both}");
    let planned = session.call(
        5,
        "plan",
        serde_json::json!({"selector": {"name_matches": "ETH short*"}}),
    );
    assert_ne!(planned["isError"], true, "{planned}");
    let human = planned["structuredContent"]["human"].as_str().unwrap();
    assert!(
        human.contains("ETH short on MACD cross") && !human.contains("BTC conservative"),
        "{human}"
    );
}

/// Grid bots through the assistant's tools: added, listed, edited, explained, planned and
/// removed, each edit a minimal diff of `[[grid_bots]]` (the same editing core as DCA bots).
#[test]
fn the_assistant_manages_grid_bots_with_the_bot_tools() {
    let sandbox = super::sandbox::SandboxProcess::spawn(None, &[]);
    let dir = example_dir();
    let mut session = RawSession::start(dir.path(), Some(&sandbox));
    let added = session.call(
        1,
        "add_bot",
        serde_json::json!({
            "name": "BTC range", "kind": "grid", "account": "main",
            "fields": {
                "pair": "USDT_BTC", "order_currency_type": "quote", "lower_price": "56000",
                "upper_price": "72000", "grids_quantity": 50, "quantity_per_grid": "20",
                "enabled": true
            }
        }),
    );
    let added = &added["structuredContent"];
    assert_eq!(added["written"], true, "{added}");
    assert!(
        added["diff"].as_str().unwrap().contains("[[grid_bots]]"),
        "{added}"
    );
    let listed = session.call(
        2,
        "list_bots",
        serde_json::json!({"selector": {"kind": "grid"}}),
    );
    let line = &listed["structuredContent"]["bots"][0];
    assert_eq!(
        (
            &line["kind"],
            &line["name"],
            &line["status"],
            &line["capital_all_deals"]
        ),
        (
            &serde_json::json!("grid"),
            &serde_json::json!("BTC range"),
            &serde_json::json!("new"),
            &serde_json::json!("1000")
        ),
        "{listed}"
    );
    assert_eq!(listed["structuredContent"]["total"], 1, "{listed}");
    let set = session.call(
        3,
        "set_fields",
        serde_json::json!({"bots": ["BTC range"], "kind": "grid", "fields": {"quantity_per_grid": "25"}}),
    );
    let diff = set["structuredContent"]["diff"].as_str().unwrap_or("");
    assert!(
        diff.contains("-quantity_per_grid = 20") && diff.contains("+quantity_per_grid = 25"),
        "{set}"
    );
    let explained = session.call(4, "explain_bot", serde_json::json!({"bot": "btc range"}));
    let explained = &explained["structuredContent"];
    assert_eq!(explained["grid"]["step"], "326.530612244898", "{explained}");
    assert!(
        explained["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["field"] == "quantity_per_grid" && f["config"] == "25"),
        "{explained}"
    );
    let plan = session.call(5, "plan", serde_json::json!({}));
    let human = plan["structuredContent"]["human"].as_str().unwrap_or("");
    assert!(
        human.contains("grid bot \"BTC range\" on main will be created, then enabled"),
        "{plan}"
    );
    assert!(
        human.contains("enabling may place a market balancing order"),
        "{plan}"
    );
    let removed = session.call(
        6,
        "remove_bot",
        serde_json::json!({"bot": "BTC range", "kind": "grid"}),
    );
    assert!(
        removed["structuredContent"]["diff"]
            .as_str()
            .unwrap_or("")
            .contains("+absent = true"),
        "{removed}"
    );
    session.close().wait().unwrap();
}

/// The `optimize` tool with the Python SDK (`tests/py/mcp_optimize.py`): progress, the top 5
/// within the budget, a set_fields call set_fields takes, and a cancel that stops the search.
#[test]
fn the_assistant_optimizes_a_bot_and_proposes_a_set_fields_call() {
    if !required(
        "the Python `mcp` SDK",
        python_has_mcp(),
        "python3 -m pip install mcp==2.3.0",
    ) {
        return;
    }
    for mode in ["auto", "legacy"] {
        let dir = example_dir();
        let out = Command::new("python3")
            .env(
                "BOTFORM_SANDBOX_STATE",
                dir.path().join(".botform/sandbox.db"),
            )
            .env("BOTFORM_STATE_DIR", crate::state_dir())
            .arg(root().join("tests/py/mcp_optimize.py"))
            .arg(env!("CARGO_BIN_EXE_botform"))
            .arg(dir.path())
            .arg(mode)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "python mcp optimize ({mode}):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

//! Recordings of real 3Commas traffic (`THREECOMMAS_RECORD=DIR`, or converted from the observed
//! 2025 fixtures) replayed through the real client: a local server answers each recorded request
//! with the recorded status and body, and the client call for that path must read it as it reads
//! the live service. A file added to `tests/fixtures/3commas/observed/recordings/` is a new test
//! with no code change.

use std::net::SocketAddr;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use botform::threecommas::record::Recording;
use botform::threecommas::{ApiError, BotsFilter, Client};
use serde_json::Value;

use super::client::client_for;
use super::root;

/// Serve one recording: its answer for its path (the first page, for lists), an empty page after.
async fn replay(recording: Recording) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |request: Request| {
        let recording = recording.clone();
        async move {
            let path = request.uri().path().trim_start_matches("/public/api");
            let later_page = request
                .uri()
                .query()
                .is_some_and(|q| q.contains("offset=") && !q.contains("offset=0"));
            if path != recording.path {
                return (StatusCode::NOT_FOUND, "not recorded").into_response();
            }
            if later_page && recording.status == 200 {
                return axum::Json(Value::Array(Vec::new())).into_response();
            }
            let status = StatusCode::from_u16(recording.status).unwrap();
            match &recording.response {
                Value::String(text) => (status, text.clone()).into_response(),
                body => (status, axum::Json(body.clone())).into_response(),
            }
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, task)
}

/// Call what the client calls for this path; `Ok` carries a description of what was read.
async fn call(client: &Client, recording: &Recording) -> Result<String, ApiError> {
    let segments: Vec<&str> = recording.path.trim_start_matches('/').split('/').collect();
    let entries = recording.response.as_array().map_or(0, Vec::len);
    let query: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(recording.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    match segments.as_slice() {
        ["ver1", "accounts"] => client
            .accounts()
            .await
            .map(|a| format!("{} accounts", a.len())),
        ["ver1", "bots"] => {
            let list = client.bots(BotsFilter::default()).await?;
            assert_eq!(
                list.bots.len() + list.unreadable.len(),
                entries,
                "every recorded bot is read or reported, none dropped"
            );
            Ok(format!(
                "{} bots read, {} reported unreadable",
                list.bots.len(),
                list.unreadable.len()
            ))
        }
        ["ver1", "bots", id, "show"] => client
            .bot(id.parse().unwrap())
            .await
            .map(|b| format!("bot {}", b.id)),
        ["ver1", "accounts", "currency_rates"] => client
            .currency_rates(&query["market_code"], &query["pair"])
            .await
            .map(|r| format!("rates with {} fields", r.len())),
        ["ver1", "accounts", "market_pairs"] => client
            .market_pairs(&query["market_code"])
            .await
            .map(|p| format!("{} pairs", p.len())),
        ["ver1", "accounts", id, "account_table_data"] => client
            .account_balances(id.parse().unwrap())
            .await
            .map(|b| format!("{} balances", b.len())),
        ["ver1", "bots", "strategy_list"] => client
            .strategy_list(query.get("account_id").map(|id| id.parse().unwrap()))
            .await
            .map(|list| format!("{} strategies", list.len())),
        ["ver1", "deals"] => client
            .deals(None, None, 100, 0)
            .await
            .map(|d| format!("{} deals", d.len())),
        ["ver1", "deals", id, "show"] => client
            .deal(id.parse().unwrap())
            .await
            .map(|d| format!("deal {}", d.id)),
        other => panic!("no client call is mapped for {other:?}: add it to this test"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_recording_replays_through_the_client() {
    let dir = root().join("tests/fixtures/3commas/observed/recordings");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the recordings are there: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let recording: Recording = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a recording: {e}", file.display()));
        let (addr, task) = replay(recording.clone()).await;
        let client = client_for(
            &format!("http://{addr}"),
            botform::sandbox::DEFAULT_API_SECRET,
            |c| c.read_attempts = 1,
        );
        let result = call(&client, &recording).await;
        match (recording.status, result) {
            (200..=299, Ok(what)) => eprintln!("{}: {what}", file.display()),
            (200..=299, Err(e)) => panic!("{}: a recorded success failed: {e}", file.display()),
            (status, Ok(what)) => panic!("{}: {status} read as success: {what}", file.display()),
            (status, Err(e)) => {
                assert_eq!(e.status(), Some(status), "{}: {e:?}", file.display())
            }
        }
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn record_mode_writes_redacted_recordings_that_replay() {
    let sandbox = super::sandbox::SandboxProcess::spawn(None, &[]);
    let dir = super::engine_support::example_dir();
    let recorded = tempfile::tempdir().unwrap();
    super::engine_support::against(&sandbox)
        .env("THREECOMMAS_RECORD", recorded.path())
        .arg("apply")
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .success();
    // A second command records beside the first, never over it (before: it overwrote
    // 00000-GET_ver1_accounts.json and the rest).
    super::engine_support::against(&sandbox)
        .env("THREECOMMAS_RECORD", recorded.path())
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success();
    let mut runs: Vec<_> = std::fs::read_dir(recorded.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    runs.sort();
    assert_eq!(runs.len(), 2, "one subfolder per run: {runs:?}");
    let files_of = |run: &std::path::PathBuf| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(run)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    // The apply's run: the one with the most requests.
    let mut files = runs.iter().map(files_of).max_by_key(Vec::len).unwrap();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let mut replayed = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for secret in [
            botform::sandbox::DEFAULT_API_KEY,
            botform::sandbox::DEFAULT_API_SECRET,
            "31896123",         // the account id: pseudonymized
            "12873.21",         // its balance: removed
            "\"Binance Spot\"", // its name: redacted
        ] {
            assert!(!text.contains(secret), "{} holds {secret}", file.display());
        }
        let recording: Recording = serde_json::from_str(&text).unwrap();
        assert!(!text.contains("\"url_secret\": \"") || text.contains("[redacted]"));
        if recording.method == "GET" && recording.path != "/ver1/bots/pairs_black_list" {
            let (addr, task) = replay(recording.clone()).await;
            let client = client_for(
                &format!("http://{addr}"),
                botform::sandbox::DEFAULT_API_SECRET,
                |c| c.read_attempts = 1,
            );
            call(&client, &recording)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            task.abort();
            replayed += 1;
        }
    }
    assert!(replayed >= 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_answered_2xx_with_an_unreadable_body_is_unclear_not_failed() {
    // Before: a plain failure, though the bot had been created (and its enable was skipped).
    let (addr, task) = replay(Recording {
        method: "POST".into(),
        path: "/ver1/bots/create_bot".into(),
        query: None,
        request_body: None,
        status: 201,
        response: Value::String("<html>created</html>".into()),
    })
    .await;
    let client = client_for(
        &format!("http://{addr}"),
        botform::sandbox::DEFAULT_API_SECRET,
        |_| {},
    );
    let err = client
        .create_bot(&super::client::bot_params("x"))
        .await
        .unwrap_err();
    assert!(err.is_ambiguous(), "{err:?}");
    task.abort();
}

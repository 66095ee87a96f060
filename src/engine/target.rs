//! Where botform's commands go: 3Commas (or `THREECOMMAS_API_URL`) when credentials are set, else
//! the built-in sandbox, started in-process with its state in `.botform/sandbox.json` beside the
//! config. Also reads the live state a plan needs, in as few requests as 3Commas allows.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::plan::{LiveState, PlanTarget};
use crate::model::enums::TradingMode;
use crate::sandbox::{self, RunningSandbox, SandboxConfig};
use crate::threecommas::{ApiError, BotsFilter, Client, ClientConfig, Credentials};

/// A connected target; keeps the in-process sandbox alive while it is used.
pub struct Target {
    pub client: Client,
    pub info: PlanTarget,
    _sandbox: Option<RunningSandbox>,
}

/// The directory a config lives in: the first path if it is a directory, else its parent.
pub fn config_dir(paths: &[PathBuf]) -> PathBuf {
    let first = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
    if first.is_dir() {
        first
    } else {
        first
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

/// Connect to 3Commas from the environment, or start the sandbox for the config at `dir`.
/// `mode` (from the config's settings) wins over `THREECOMMAS_MODE`.
pub async fn connect(dir: &Path, mode: Option<TradingMode>) -> Result<Target, ApiError> {
    if let Some(mut config) = ClientConfig::from_env()? {
        if mode.is_some() {
            config.mode = mode;
        }
        if let Some(timeout) = timeout_from_env()? {
            config.timeout = timeout;
        }
        let info = PlanTarget {
            api_url: config.base_url.clone(),
            mode: config.mode,
            sandbox: false,
        };
        return Ok(Target {
            client: Client::new(config)?,
            info,
            _sandbox: None,
        });
    }
    let state_file = dir.join(".botform").join("sandbox.json");
    let running = sandbox::start(SandboxConfig {
        state_file: Some(state_file.clone()),
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| ApiError::Config(format!("cannot start the built-in sandbox: {e}")))?;
    eprintln!(
        "botform: THREECOMMAS_API_KEY is not set: using the built-in sandbox (state in {})",
        state_file.display()
    );
    let mut config = ClientConfig::new(
        running.base_url.clone(),
        Credentials::hmac(sandbox::DEFAULT_API_KEY, sandbox::DEFAULT_API_SECRET),
    );
    config.mode = mode;
    let info = PlanTarget {
        api_url: "built-in sandbox".into(),
        mode,
        sandbox: true,
    };
    Ok(Target {
        client: Client::new(config)?,
        info,
        _sandbox: Some(running),
    })
}

fn timeout_from_env() -> Result<Option<Duration>, ApiError> {
    let Ok(text) = std::env::var("THREECOMMAS_TIMEOUT") else {
        return Ok(None);
    };
    let secs: f64 = text.trim().parse().map_err(|_| {
        ApiError::Config(format!(
            "THREECOMMAS_TIMEOUT is `{text}`; give seconds, like 30"
        ))
    })?;
    if !(secs > 0.0 && secs < 3600.0) {
        return Err(ApiError::Config(
            "THREECOMMAS_TIMEOUT must be between 0 and 3600 seconds".into(),
        ));
    }
    Ok(Some(Duration::from_secs_f64(secs)))
}

/// Everything a plan reads: accounts, every bot (100 a page), the blacklist. For 1,000 bots that
/// is 12 requests, never one per bot.
pub async fn read_live(client: &Client, with_blacklist: bool) -> Result<LiveState, ApiError> {
    let accounts = client.accounts().await?;
    let bots = client.bots(BotsFilter::default()).await?;
    let blacklist = if with_blacklist {
        client.blacklist().await?
    } else {
        Vec::new()
    };
    Ok(LiveState {
        accounts,
        bots,
        blacklist,
    })
}

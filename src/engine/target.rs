//! The target the engine acts on ([`Target`]: a client, where it points, the lease's name), the
//! rule that decides where botform's commands go ([`choose`]: 3Commas when credentials are set,
//! else the built-in sandbox), and reading the live state a plan needs, in as few requests as
//! 3Commas allows. Starting the built-in sandbox is the front ends' (`crate::connect`): the
//! engine never imports the sandbox.
//!
//! The target is never a surprise ([`choose`]): the sandbox is the silent default only on a
//! machine with no `THREECOMMAS_*` variable at all and outside CI. Anywhere else a missing or
//! empty key is an error naming what is missing, and the sandbox runs only when asked for
//! (`--sandbox`, or `THREECOMMAS_TARGET=sandbox`), so a misnamed CI secret cannot turn a run
//! green against a throwaway sandbox.

use std::time::Duration;

use super::plan::{LiveState, PlanTarget};
use crate::model::enums::TradingMode;
use crate::threecommas::{ApiError, BotsFilter, Client, ClientConfig};

/// A connected target.
pub struct Target {
    pub client: Client,
    pub info: PlanTarget,
    /// Names the account's lease: the same for every process that writes to the same account
    /// with the same key (for the built-in sandbox: the same state file).
    pub identity: String,
    /// What must live as long as the target (the in-process sandbox a front end started).
    pub keep_alive: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// How a front end connects, given the config's settings: the engine is handed one and never
/// picks the server itself (`crate::connect::connect` is the CLI's and the MCP server's).
pub type Connector = fn(
    ConnectOptions,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Target, ApiError>> + Send>,
>;

/// What a config's settings say about the connection; each wins over its environment variable.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConnectOptions {
    /// `settings.mode` (over `THREECOMMAS_MODE`).
    pub mode: Option<TradingMode>,
    /// `settings.rate_limit` (over `THREECOMMAS_RATE_LIMIT`).
    pub rate_limit: Option<u32>,
}

impl ConnectOptions {
    pub fn from_settings(settings: &crate::config::types::Settings) -> ConnectOptions {
        ConnectOptions {
            mode: settings.mode,
            rate_limit: settings.rate_limit,
        }
    }

    /// Only a mode (a saved plan's).
    pub fn mode(mode: Option<TradingMode>) -> ConnectOptions {
        ConnectOptions {
            mode,
            rate_limit: None,
        }
    }
}

/// Set by the CLI's `--sandbox`: the user asked for the built-in sandbox on the command line.
static SANDBOX_REQUESTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The user asked for the built-in sandbox (`--sandbox`); `THREECOMMAS_TARGET=sandbox` does the same.
pub fn request_sandbox() {
    SANDBOX_REQUESTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Where commands go, decided from the environment before anything connects.
#[derive(Debug)]
pub enum Choice {
    /// 3Commas (or `THREECOMMAS_API_URL`) with the environment's credentials.
    ThreeCommas(Box<ClientConfig>),
    /// The built-in sandbox: `explicit` when asked for, else the default of a machine with no
    /// 3Commas settings at all.
    Sandbox { explicit: bool },
}

/// Is `CI` set to something true (GitHub, GitLab and most runners set `CI=true`)?
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| {
        let v = v.trim().to_ascii_lowercase();
        !v.is_empty() && v != "false" && v != "0" && v != "no"
    })
}

/// Decide the target from the environment (and `--sandbox`); see the module doc for the rules.
pub fn choose() -> Result<Choice, ApiError> {
    let asked = match std::env::var("THREECOMMAS_TARGET") {
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "sandbox" => Some(true),
            "3commas" | "" => Some(false),
            other => {
                return Err(ApiError::Config(format!(
                    "THREECOMMAS_TARGET is `{}`; use `sandbox` (the built-in sandbox) or `3commas`",
                    crate::diagnostic::quote_input(other)
                )));
            }
        },
        Err(_) => None,
    };
    if SANDBOX_REQUESTED.load(std::sync::atomic::Ordering::SeqCst) || asked == Some(true) {
        return Ok(Choice::Sandbox { explicit: true });
    }
    if let Some(config) = ClientConfig::from_env()? {
        return Ok(Choice::ThreeCommas(Box::new(config)));
    }
    let mut set: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("THREECOMMAS_"))
        .collect();
    set.sort();
    if set.is_empty() && !in_ci() {
        return Ok(Choice::Sandbox { explicit: false });
    }
    let key = if std::env::var_os("THREECOMMAS_API_KEY").is_some() {
        "THREECOMMAS_API_KEY is empty"
    } else {
        "THREECOMMAS_API_KEY is not set"
    };
    let others: Vec<&str> = set
        .iter()
        .map(String::as_str)
        .filter(|k| *k != "THREECOMMAS_API_KEY")
        .collect();
    let mut reasons = Vec::new();
    if !others.is_empty() {
        let verb = if others.len() == 1 { "is" } else { "are" };
        reasons.push(format!("{} {verb} set", others.join(", ")));
    }
    if in_ci() {
        reasons.push("this is CI (CI=true)".to_string());
    }
    let why = if reasons.is_empty() {
        String::new()
    } else {
        format!(", but {}", reasons.join(", and "))
    };
    Err(ApiError::Config(format!(
        "{key}{why}: botform will not fall back to its built-in sandbox here. Set THREECOMMAS_API_KEY (with THREECOMMAS_API_SECRET or THREECOMMAS_PRIVATE_KEY_FILE), or ask for the sandbox with --sandbox or THREECOMMAS_TARGET=sandbox"
    )))
}

/// A target on 3Commas (or `THREECOMMAS_API_URL`) with `config`, the config's settings over
/// the environment's.
pub fn connect_3commas(
    mut config: ClientConfig,
    options: ConnectOptions,
) -> Result<Target, ApiError> {
    if options.mode.is_some() {
        config.mode = options.mode;
    }
    if let Some(pace) = options.rate_limit {
        config.requests_per_minute = pace;
    }
    if let Some(timeout) = timeout_from_env()? {
        config.timeout = timeout;
    }
    let info = PlanTarget {
        api_url: crate::threecommas::client::redact_url(&config.base_url),
        mode: config.mode,
        sandbox: false,
    };
    let client = Client::new(config)?;
    Ok(Target {
        identity: client.identity(),
        client,
        info,
        keep_alive: None,
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
        bots: bots.bots,
        grid_bots: Vec::new(),
        unreadable: bots.unreadable,
        blacklist,
        pending_creates: Vec::new(),
        remembered: Default::default(),
    })
}

//! Which server a front end talks to: the CLI and the MCP server connect and hand the engine a
//! [`Target`]; the engine never starts a server itself. 3Commas (or `THREECOMMAS_API_URL`) when
//! credentials are set, else the built-in sandbox, started in-process with its state in one
//! database per user ([`builtin_sandbox_state`]); [`choose`](crate::engine::target::choose)
//! decides, by the rules in its module.

use std::path::{Path, PathBuf};

use crate::engine::plan::PlanTarget;
use crate::engine::target::{Choice, ConnectOptions, Connector, Target, choose, connect_3commas};
use crate::model::enums::TradingMode;
use crate::sandbox::{self, SandboxConfig};
use crate::threecommas::{ApiError, Client, ClientConfig, Credentials};

/// Connect to 3Commas from the environment, or start the built-in sandbox ([`choose`] decides).
pub async fn connect(options: ConnectOptions) -> Result<Target, ApiError> {
    let mode = options.mode;
    let explicit = match choose()? {
        Choice::ThreeCommas(config) => return connect_3commas(*config, options),
        Choice::Sandbox { explicit } => explicit,
    };
    connect_sandbox(mode, explicit).await
}

/// [`connect`] as the engine takes it.
pub const CONNECT: Connector = |options| Box::pin(connect(options));

async fn connect_sandbox(mode: Option<TradingMode>, explicit: bool) -> Result<Target, ApiError> {
    let state_file = builtin_sandbox_state();
    let running = sandbox::start(SandboxConfig {
        state_file: Some(state_file.clone()),
        ..SandboxConfig::default()
    })
    .await
    .map_err(|e| ApiError::Config(format!("cannot start the built-in sandbox: {e}")))?;
    if explicit {
        eprintln!(
            "botform: using the built-in sandbox, as asked (state in {})",
            state_file.display()
        );
    } else {
        eprintln!(
            "botform: THREECOMMAS_API_KEY is not set: using the built-in sandbox (state in {})",
            state_file.display()
        );
    }
    let mut config = ClientConfig::new(running.base_url.clone(), sandbox_credentials());
    config.mode = mode;
    let info = PlanTarget {
        api_url: "built-in sandbox".into(),
        mode,
        sandbox: true,
    };
    let canonical = state_file.canonicalize().unwrap_or(state_file);
    Ok(Target {
        client: Client::new(config)?,
        info,
        identity: sandbox_identity(&canonical),
        keep_alive: Some(Box::new(running)),
    })
}

/// Where the built-in sandbox keeps its state: `$BOTFORM_SANDBOX_STATE`, else `sandbox.db` in
/// botform's state dir. One per user, outside any repository, so `import` in one directory and
/// `plan` in another see the same account, and the CLI and `botform mcp` can use it at once.
pub fn builtin_sandbox_state() -> PathBuf {
    std::env::var_os("BOTFORM_SANDBOX_STATE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::files::state_dir().join("sandbox.db"))
}

/// The lease name of the built-in sandbox kept in `state_file`.
fn sandbox_identity(state_file: &Path) -> String {
    use sha2::Digest;
    let text = format!("botform sandbox v1\n{}", state_file.display());
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..16])
}

/// The built-in sandbox's (published) key and secret.
pub fn sandbox_credentials() -> Credentials {
    Credentials::hmac(sandbox::DEFAULT_API_KEY, sandbox::DEFAULT_API_SECRET)
}

/// The key saved plans are authenticated with, from the credentials in the environment (the
/// built-in sandbox's when none are set). Computed before connecting, so nothing in a plan file
/// is acted on before the file is known to be genuine.
pub fn plan_key() -> Result<String, ApiError> {
    let credentials = match choose()? {
        Choice::ThreeCommas(config) => config.credentials,
        Choice::Sandbox { .. } => sandbox_credentials(),
    };
    Ok(credentials.sign(crate::threecommas::client::PLAN_KEY_MESSAGE))
}

//! `botform sandbox`: a local server that speaks the real 3Commas wire protocol.
//!
//! It verifies real signatures, enforces 3Commas' rules and limits, keeps paper and real state
//! apart, injects faults on demand and counts requests. The real client is tested against it over
//! HTTP; traders try configs against it with no account. It is not a second implementation of the
//! client's interface: it is a server, so whatever talks to it talks HTTP.

pub mod bots;
pub mod faults;
pub mod params;
pub mod server;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

pub use faults::FaultSpec;
use server::Shared;
pub use server::{DEFAULT_API_KEY, DEFAULT_API_SECRET, SandboxConfig};
pub use state::State;

/// A sandbox listening on a socket.
pub struct RunningSandbox {
    pub addr: SocketAddr,
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
    /// Held while the sandbox runs, so two sandboxes never write one state file.
    _state_lock: Option<std::fs::File>,
}

impl RunningSandbox {
    /// Wait until the server stops (it runs until the process ends).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Bind and start serving; loads `state_file` when it exists, else starts from the seed data.
pub async fn start(config: SandboxConfig) -> std::io::Result<RunningSandbox> {
    let state_lock = config.state_file.as_deref().map(lock_state).transpose()?;
    let state = match &config.state_file {
        Some(path) => State::load(path)?.unwrap_or_else(State::seeded),
        None => State::seeded(),
    };
    if let Some(path) = &config.state_file {
        state.save(path)?;
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let shared: Arc<Shared> = Shared::new(config, state);
    let app = server::router(shared).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("sandbox server stopped: {e}");
        }
    });
    Ok(RunningSandbox {
        addr,
        base_url: format!("http://{addr}"),
        task,
        _state_lock: state_lock,
    })
}

/// Take the lock beside a state file (`sandbox.json.lock`); the OS releases it when the process
/// ends, however it ends.
fn lock_state(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let lock_path = std::path::PathBuf::from(format!("{}.lock", path.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(std::io::Error::other(format!(
            "another botform is using the sandbox state {} (an apply, or `botform mcp`): try again when it is done",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

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
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

pub use faults::FaultSpec;
use server::Shared;
pub use server::{DEFAULT_API_KEY, DEFAULT_API_SECRET, SandboxConfig};
pub use state::State;
use store::Store;

/// A sandbox listening on a socket.
pub struct RunningSandbox {
    pub addr: SocketAddr,
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
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

/// Open a state database (creating and seeding it when new) and read it.
pub fn open_state(path: &std::path::Path) -> std::io::Result<(Store, State)> {
    Store::open(path).map_err(|e| std::io::Error::other(e.to_string()))
}

/// Bind and start serving, with the state in `state_file` (shared with any other sandbox on the
/// same file) or, without one, in memory from the seed data.
pub async fn start(config: SandboxConfig) -> std::io::Result<RunningSandbox> {
    let (store, state) = match &config.state_file {
        Some(path) => {
            let (store, state) = open_state(path)?;
            (Some(store), state)
        }
        None => (None, State::seeded()),
    };
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let shared: Arc<Shared> = Shared::new(config, state, store);
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
    })
}

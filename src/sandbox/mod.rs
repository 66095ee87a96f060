//! `botform sandbox`: a local server that speaks the real 3Commas wire protocol.
//!
//! It verifies real signatures, enforces 3Commas' rules and limits, keeps paper and real state
//! apart, injects faults on demand and counts requests. The real client is tested against it over
//! HTTP; traders try configs against it with no account. It is not a second implementation of the
//! client's interface: it is a server, so whatever talks to it talks HTTP.

pub mod bots;
pub mod deals;
pub mod faults;
pub mod grids;
pub mod market;
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
    let listen = config.listen;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another process listens there: stop it, or pick another port; --listen 127.0.0.1:0 takes a free one)"
        } else {
            ""
        };
        std::io::Error::new(e.kind(), format!("cannot listen on {listen}: {e}{hint}"))
    })?;
    let addr = listener.local_addr()?;
    let market = config.market.clone();
    let shared: Arc<Shared> = Shared::new(config, state, store);
    if let Some(market) = market {
        tokio::spawn(market::run(shared.clone(), market));
    }
    tokio::spawn(settle_deals(shared.clone()));
    let task = tokio::spawn(serve(listener, server::router(shared)));
    Ok(RunningSandbox {
        addr,
        base_url: format!("http://{addr}"),
        task,
    })
}

/// Settle pending deal actions (cancel, panic sell) until the process ends: a look every 200 ms.
async fn settle_deals(shared: Arc<Shared>) {
    loop {
        if let Err(e) = shared.settle_due() {
            tracing::warn!("sandbox: settling deal actions: {e}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// How long a client may take to send a request's headers before the connection is closed, so a
/// client that trickles bytes (slowloris) cannot hold connections open.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Accept connections and serve HTTP/1.1 on each, with the header timeout (which `axum::serve`
/// does not set) and the peer address the control endpoints check.
async fn serve(listener: tokio::net::TcpListener, app: axum::Router) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!("sandbox: cannot accept a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let service =
            app.clone()
                .map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request.map(axum::body::Body::new)
                });
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let connection = http.serve_connection(
                TokioIo::new(stream),
                hyper_util::service::TowerToHyperService::new(service),
            );
            if let Err(e) = connection.await {
                tracing::debug!("sandbox: connection from {peer} ended: {e}");
            }
        });
    }
}

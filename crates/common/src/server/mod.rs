//! The HTTP server every AEX service runs: the standard middleware stack, the error
//! envelope, a JSON extractor whose rejections use that envelope, the operational routes and
//! graceful shutdown.

mod error;
mod health;
pub mod input;
mod json;
mod middleware;
pub mod wire;

pub use error::{ApiError, ErrorBody, ErrorEnvelope, REQUEST_ID, code_for_status, current_request_id};
pub use health::{ReadinessCheck, health_routes};
pub use json::{Json, is_json_content_type};
pub use middleware::{RequestId, StackConfig, X_AEX_SERVICE, X_REQUEST_ID, apply_stack};

use axum::Router;
use std::io;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `app` until `shutdown` is cancelled, then stops accepting and lets in-flight
/// requests finish. Handlers can read the peer's address (`ConnectInfo<SocketAddr>`).
pub async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) -> io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Cancels `token` on SIGTERM or Ctrl-C.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = ctrl_c => {},
                        _ = term.recv() => {},
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                    let _ = ctrl_c.await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
        tracing::info!("shutdown requested");
        token.cancel();
    });
}

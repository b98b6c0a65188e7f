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
use axum::extract::ConnectInfo;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use std::io;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Largest request head (request line and headers) the HTTP/1 parser buffers. The stack's own,
/// tighter limits ([`input::MAX_URI_BYTES`], [`input::MAX_HEADER_BYTES`]) answer with the error
/// envelope first; only a head beyond this, or bytes that are not HTTP at all, get the parser's
/// bare status.
const MAX_HEAD_BYTES: usize = 1024 * 1024;
/// Most headers the parser accepts (the stack refuses more than [`input::MAX_HEADERS`]).
const MAX_PARSED_HEADERS: usize = 512;
/// How long shutdown waits for open connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` until `shutdown` is cancelled, then stops accepting and lets in-flight
/// requests finish. Handlers can read the peer's address (`ConnectInfo<SocketAddr>`).
///
/// The accept loop is our own (rather than `axum::serve`) so that the HTTP/1 parser's limits
/// sit above the stack's: an oversized URI or header block is answered by the stack, with
/// the error envelope, instead of a bare 414/431 from the parser.
pub async fn serve(listener: TcpListener, app: Router, shutdown: CancellationToken) -> io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().max_buf_size(MAX_HEAD_BYTES).max_headers(MAX_PARSED_HEADERS);
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let router = app.clone();
        let service = service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open {} s after shutdown began", DRAIN_TIMEOUT.as_secs());
    }
    Ok(())
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

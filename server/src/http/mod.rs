//! MCP over streamable HTTP: the shared server everyone who chats connects to.

mod connections;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::store::SessionStore;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::cli::ServeArgs;
use crate::mcp::ChatServer;

/// The address a request came from, put in its extensions by the connection that read it:
/// per-address limits (creating identities and rooms) key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerIp(pub std::net::IpAddr);

/// Host names always accepted: the loopback ones (rmcp's own default list).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// An MCP session with no request for this long is closed. rmcp counts a request in flight as
/// idle time, so this must stay far above the longest `wait_for_message`.
const SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Buffer of each rmcp session channel, and of each request's stream (rmcp keeps that many of a
/// stream's last events for a client resuming it). A wait's stream carries a priming event, its
/// progress notifications and the answer; rmcp's default of 16 cost every parked wait 0.7 KiB
/// more (BENCHMARKS.md) with no measurable gain in throughput.
const SESSION_CHANNEL_CAPACITY: usize = 4;

/// Builds the router: `/mcp` (MCP, behind the optional bearer token) and `/healthz`.
///
/// With `sessions`, MCP sessions are saved there, and a request whose session this process does
/// not hold is continued from it instead of being refused: any instance serves any client.
/// Cancelling `close_sessions` ends every MCP session (and its standalone stream).
pub fn router(
    server: ChatServer,
    sessions: Option<Arc<dyn SessionStore>>,
    args: &ServeArgs,
    close_sessions: &CancellationToken,
) -> Router {
    let allowed_hosts = LOOPBACK_HOSTS
        .iter()
        .map(|h| h.to_string())
        .chain(args.allowed_hosts.iter().cloned());
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts)
        .with_cancellation_token(close_sessions.child_token());
    config.session_store = sessions;
    let mut sessions = LocalSessionManager::default();
    sessions.session_config.keep_alive = Some(SESSION_IDLE_TIMEOUT);
    sessions.session_config.channel_capacity = SESSION_CHANNEL_CAPACITY;
    let mcp = StreamableHttpService::new(move || Ok(server.clone()), Arc::new(sessions), config);

    let token = args.auth_token.clone().map(Arc::<str>::from);
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(token, require_bearer));
    Router::new().route("/healthz", get(healthz)).merge(mcp)
}

/// Binds, then serves until `shutdown` is cancelled. Prints the address actually bound (useful
/// with port 0) once it accepts connections.
pub async fn run(
    server: ChatServer,
    sessions: Option<Arc<dyn SessionStore>>,
    args: ServeArgs,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.bind))?;
    let local: SocketAddr = listener.local_addr()?;
    if !local.ip().is_loopback() && args.auth_token.is_none() {
        tracing::warn!(
            "listening on a non-loopback address without --auth-token: anyone who can reach {local} can chat"
        );
    }
    // Sessions close only once in-flight requests have been answered: closing them at once
    // would cut parked waits off before the engine's `shutting_down` answer reached them.
    let close_sessions = CancellationToken::new();
    let app = router(server, sessions, &args, &close_sessions);
    tracing::info!("listening on http://{local}/mcp");
    connections::serve(listener, app, shutdown, close_sessions).await;
    tracing::info!("HTTP server stopped");
    Ok(())
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "status": "ok",
        "name": "mcp-chat",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

async fn require_bearer(
    State(token): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = token else {
        return next.run(request).await;
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(p) if constant_time_eq(p.as_bytes(), expected.as_bytes()) => next.run(request).await,
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or wrong bearer token\n",
        )
            .into_response(),
    }
}

/// Compares without an early exit, so response timing does not reveal how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}

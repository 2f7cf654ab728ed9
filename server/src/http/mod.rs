//! MCP over streamable HTTP: the shared server everyone who chats connects to.

mod answered;
mod connections;
mod idle;
pub mod origin;
pub mod page;
mod session_store;
mod sessions;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::store::SessionStore;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use self::session_store::SharedSessions;
use crate::cli::ServeArgs;
use crate::engine::store::redis::SharedRecords;
use crate::mcp::ChatServer;

/// Host names always accepted: the loopback ones (rmcp's own default list).
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Buffer of each rmcp session channel, and of each request's stream (rmcp keeps that many of a
/// stream's last events for a client resuming it). A wait's stream carries a priming event, its
/// progress notifications and the answer; rmcp's default of 16 cost every parked wait 0.7 KiB
/// more (BENCHMARKS.md) with no measurable gain in throughput.
const SESSION_CHANNEL_CAPACITY: usize = 4;

/// The largest POST body rmcp reads (413 beyond), unless messages may be longer: rmcp's 4 MiB
/// default is a thousand times a chat message, and is buffered whole before parsing.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// The longest gap between SSE keep-alive comments (rmcp's default).
const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How often a response stream with nothing to say sends a keep-alive comment. It must be well
/// under the idle timeout, or a parked `wait_for_message` would be closed as idle.
fn sse_keep_alive(idle_timeout: Duration) -> Duration {
    SSE_KEEP_ALIVE.min(idle_timeout / 3)
}

/// The largest POST body accepted. JSON may escape each byte of a message as up to six
/// (`\u0041`), so longer `--max-message-bytes` raise it.
fn max_request_body(max_message_bytes: usize) -> usize {
    MAX_REQUEST_BODY.max(
        max_message_bytes
            .saturating_mul(6)
            .saturating_add(64 * 1024),
    )
}

/// Builds the router: `/mcp` (MCP, behind the optional bearer token) and `/healthz`, both
/// behind the Origin check.
///
/// With `shared` records (the Redis store's), MCP sessions are saved there, and a request whose session this process does
/// not hold is continued from it instead of being refused: any instance serves any client.
/// Cancelling `close_sessions` ends every MCP session (and its standalone stream).
pub fn router(
    server: ChatServer,
    shared: Option<SharedRecords>,
    args: &ServeArgs,
    close_sessions: &CancellationToken,
    draining: CancellationToken,
) -> Router {
    let public_host = args.public_url.as_deref().and_then(public_host);
    let allowed_hosts = LOOPBACK_HOSTS
        .iter()
        .map(|h| h.to_string())
        .chain(args.allowed_hosts.iter().cloned())
        .chain(public_host);
    let limits = &args.connections;
    let mut config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts)
        .with_sse_keep_alive(Some(sse_keep_alive(limits.idle_timeout())))
        .with_max_request_body_bytes(max_request_body(args.limits.max_message_bytes))
        .with_cancellation_token(close_sessions.child_token());
    let restores = shared.is_some();
    config.session_store =
        shared.map(|records| Arc::new(SharedSessions(records)) as Arc<dyn SessionStore>);
    let mut local = LocalSessionManager::default();
    // rmcp counts a request in flight as idle time, so this stays far above the longest wait
    // (the flag refuses less than 120 s).
    local.session_config.keep_alive = Some(limits.session_idle_timeout());
    local.session_config.channel_capacity = SESSION_CHANNEL_CAPACITY;
    let local = Arc::new(local);
    crate::metrics::metrics().watch_sessions(&local);
    let cap = sessions::SessionCap {
        sessions: local.clone(),
        max: limits.max_sessions(),
        restores,
        warn: Arc::default(),
    };
    let engine = server.engine();
    let mcp = StreamableHttpService::new(move || Ok(server.clone()), local, config);

    let token = args.auth_token.clone().map(Arc::<str>::from);
    let origins: Arc<[origin::Origin]> = args.allowed_origins.clone().into();
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(cap, sessions::limit))
        .layer(middleware::from_fn(sessions::closed_is_no_content))
        .layer(middleware::from_fn(answered::confirm_on_end))
        .layer(middleware::from_fn_with_state(token, require_bearer));
    let ready = Router::new()
        .route("/readyz", get(readyz))
        .with_state((engine.clone(), draining));
    let page = Router::new()
        .route(page::PATH, get(page::page))
        .route(page::CLAIM_PATH, post(page::claim))
        .with_state(engine);
    Router::new()
        .route("/healthz", get(healthz))
        .merge(ready)
        .merge(page)
        .merge(mcp)
        .layer(middleware::from_fn_with_state(origins, origin::check))
}

/// Binds, then serves until `shutdown` is cancelled. Prints the address actually bound (useful
/// with port 0) once it accepts connections.
pub async fn run(
    server: ChatServer,
    shared: Option<SharedRecords>,
    args: ServeArgs,
    shutdown: CancellationToken,
    draining: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.bind))?;
    let local: SocketAddr = listener.local_addr()?;
    // A browser page cannot present a bearer token (links must not carry it): behind one, the
    // page is off and no tool hands out links to it.
    let page_url = args
        .auth_token
        .is_none()
        .then(|| public_url(args.public_url.as_deref(), local));
    if let Some(url) = &page_url {
        server.set_public_url(url.clone());
    }
    if !local.ip().is_loopback() && args.auth_token.is_none() {
        tracing::warn!(
            "listening on a non-loopback address without --auth-token: anyone who can reach {local} can chat"
        );
    }
    // Sessions close only once in-flight requests have been answered: closing them at once
    // would cut parked waits off before the engine's `shutting_down` answer reached them.
    let close_sessions = CancellationToken::new();
    let app = router(server, shared, &args, &close_sessions, draining);
    let limits = connections::Limits {
        max_connections: args.connections.max_connections(),
        header_read_timeout: args.connections.header_read_timeout(),
        idle_timeout: args.connections.idle_timeout(),
    };
    tracing::info!("listening on http://{local}/mcp");
    if let Some(url) = &page_url {
        tracing::info!("the room in a browser: {url}{}", page::PATH);
    }
    connections::serve(listener, app, limits, shutdown, close_sessions).await;
    tracing::info!("HTTP server stopped");
    Ok(())
}

/// Where people reach this server: `--public-url`, else the address it listens on, with a
/// loopback address for an unspecified one (`0.0.0.0` listens on loopback too).
fn public_url(configured: Option<&str>, local: SocketAddr) -> String {
    if let Some(url) = configured {
        return url.to_owned();
    }
    let ip = match local.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, local.port()))
}

/// The host of a public URL, to accept in the Host header.
fn public_host(url: &str) -> Option<String> {
    let authority = url.split_once("://")?.1;
    let authority = authority.parse::<axum::http::uri::Authority>().ok()?;
    Some(
        authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
}

/// Lets a warning through at most once a minute: a flood of refused clients must not flood the
/// log as well.
#[derive(Debug, Default)]
struct Throttle(Mutex<Option<Instant>>);

impl Throttle {
    const EVERY: Duration = Duration::from_secs(60);

    fn ready(&self) -> bool {
        let mut last = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|l| now.duration_since(l) < Self::EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "status": "ok",
        "name": "mcp-chat",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Whether this instance should be sent work: not once a signal started its drain, and not
/// while its store does not answer (within [`READY_WITHIN`]). `/healthz` says only that the
/// process answers; this is what a load balancer's health check should ask.
async fn readyz(
    State((engine, draining)): State<(Arc<crate::engine::Engine>, CancellationToken)>,
) -> Response {
    let not_ready = |status: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": status })),
        )
            .into_response()
    };
    if draining.is_cancelled() {
        return not_ready("draining");
    }
    match tokio::time::timeout(READY_WITHIN, engine.store_answers()).await {
        Ok(Ok(())) => axum::Json(serde_json::json!({ "status": "ready" })).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the store failed");
            not_ready("store_unavailable")
        }
        Err(_) => not_ready("store_unavailable"),
    }
}

/// How long `/readyz` waits for the store.
const READY_WITHIN: Duration = Duration::from_secs(2);

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
    use super::*;

    #[test]
    fn keep_alives_come_well_within_the_idle_timeout() {
        let secs = Duration::from_secs;
        assert_eq!(sse_keep_alive(secs(60)), secs(15));
        assert_eq!(sse_keep_alive(secs(3)), secs(1));
        assert!(sse_keep_alive(secs(1)) < secs(1));
    }

    #[test]
    fn request_bodies_fit_the_longest_message() {
        assert_eq!(max_request_body(4096), MAX_REQUEST_BODY);
        assert!(max_request_body(1 << 20) > 6 << 20);
    }

    #[test]
    fn links_point_where_people_reach_the_server() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            public_url(None, at("127.0.0.1:8000")),
            "http://127.0.0.1:8000"
        );
        assert_eq!(
            public_url(None, at("0.0.0.0:9000")),
            "http://127.0.0.1:9000"
        );
        assert_eq!(public_url(None, at("[::]:9000")), "http://[::1]:9000");
        assert_eq!(
            public_url(Some("https://chat.example"), at("127.0.0.1:8000")),
            "https://chat.example"
        );
        assert_eq!(
            public_host("https://chat.example:8443").as_deref(),
            Some("chat.example")
        );
        assert_eq!(public_host("http://[::1]:8000").as_deref(), Some("::1"));
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret1"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}

//! Caps the MCP sessions this process holds.
//!
//! Each session is a task and channels kept for up to `--session-idle-timeout`, and anyone
//! who can reach `/mcp` can open one with a single `initialize`: without a cap, a client
//! looping on `initialize` would grow the process without bound. A request that would add a
//! session beyond the cap is answered 503 with a JSON-RPC error, so MCP clients show a reason.
//! The count is read before the session is created, so concurrent `initialize`s may overshoot
//! the cap by a few.
//!
//! Only what can create a session is counted against the cap: on 2026-07-28 there are no
//! sessions, and a request of that revision (it names its method in `Mcp-Method`, SEP-2243)
//! adds nothing to hold, so a server full of legacy sessions still serves it.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use super::Throttle;

/// What a client turned away is told to wait before retrying: sessions free up as clients
/// leave or idle out, not within seconds.
const RETRY_AFTER_SECS: &str = "30";

#[derive(Clone)]
pub struct SessionCap {
    pub sessions: Arc<LocalSessionManager>,
    pub max: usize,
    /// True with a shared session store: a request naming a session another instance created
    /// restores it here, which adds a session too.
    pub restores: bool,
    pub warn: Arc<Throttle>,
}

/// Middleware for `/mcp`.
pub async fn limit(State(cap): State<SessionCap>, request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap_or_default());
    let may_create = match id {
        None => request.method() == Method::POST && may_initialize(&request),
        Some(_) => cap.restores,
    };
    if may_create {
        let held = cap.sessions.sessions.read().await;
        let known = id.is_some_and(|id| held.contains_key(id));
        if !known && held.len() >= cap.max {
            drop(held);
            crate::metrics::metrics().refused("max_sessions");
            if cap.warn.ready() {
                tracing::warn!(
                    max = cap.max,
                    "refusing new MCP sessions: at --max-sessions"
                );
            }
            return at_limit();
        }
    }
    next.run(request).await
}

/// Whether a POST without a session may be an `initialize`: legacy clients name no method in a
/// header (so any of theirs may be), and a 2026-07-28 request names its own.
fn may_initialize(request: &Request) -> bool {
    match request.headers().get("mcp-method") {
        None => true,
        Some(method) => method.as_bytes() == b"initialize",
    }
}

/// A session ended by `DELETE` is answered `204 No Content`, not rmcp's `202 Accepted`: the
/// session is gone when the answer leaves (nothing is pending, which 202 would say), and the
/// official Python SDK takes anything but 200, 204 and 405 for a failed termination and warns
/// about it at every disconnect.
pub async fn closed_is_no_content(request: Request, next: Next) -> Response {
    let delete = request.method() == Method::DELETE;
    let mut response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
    response
}

fn at_limit() -> Response {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {
            "code": -32000,
            "message": "the server is at its session limit; retry later",
        },
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, RETRY_AFTER_SECS)],
        axum::Json(body),
    )
        .into_response()
}

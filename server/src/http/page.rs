//! The browser page: `/chat` hosts the chat View for a person with nothing but a browser
//! (`page/`, built into one document like the View), and `/chat/claim` exchanges an
//! `open_chat` link's single-use code for the member it opens.
//!
//! The page is the View's host: it loads the View with `resources/read` over `/mcp` and mounts it
//! in a sandboxed `srcdoc` frame, which inherits the page's policy. So the page's policy names
//! exactly the inline scripts of both documents by hash (their loaders; every other script they
//! run is inserted by those, which `'strict-dynamic'` allows), allows WebAssembly, connects to
//! this origin only and is framed by nobody.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::origin::Origin;
use crate::engine::links::LIFETIME;
use crate::engine::source::{self, Caller, PeerIp};
use crate::engine::{ChatError, Engine};
use crate::view;

/// The page document, built from `page/` by `scripts/build-view.sh --page` and checked against a
/// fresh build by the test suite, like the View's.
pub const PAGE_HTML: &str = include_str!("../../assets/mcp-chat-page.html");

/// The page's path; links are `<public url>/chat#invite=…` or `#link=…`.
pub const PATH: &str = "/chat";
pub const CLAIM_PATH: &str = "/chat/claim";

/// `'sha256-…'` for each inline script of `html`.
fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let body = &after[open_end + 1..];
        let Some(close) = body.find("</script>") else {
            break;
        };
        let tag = &after[..open_end];
        if !tag.contains(" src=") {
            let digest = Sha256::digest(&body.as_bytes()[..close]);
            hashes.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &body[close..];
    }
    hashes
}

/// The page's Content-Security-Policy, for the View document `view_html`.
pub fn policy(view_html: &str) -> String {
    let mut scripts = inline_script_hashes(PAGE_HTML);
    scripts.extend(inline_script_hashes(view_html));
    scripts.dedup();
    format!(
        "default-src 'none'; script-src {} 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
         connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'; object-src 'none'",
        scripts.join(" ")
    )
}

/// The policy for the View as served now (computed once for the embedded View; again per
/// request when `--view-file` serves a View that may change).
fn current_policy() -> String {
    static EMBEDDED: OnceLock<String> = OnceLock::new();
    match view::document() {
        Ok(std::borrow::Cow::Borrowed(html)) => EMBEDDED.get_or_init(|| policy(html)).clone(),
        Ok(std::borrow::Cow::Owned(html)) => policy(&html),
        Err(_) => policy(""),
    }
}

pub async fn page() -> Response {
    let policy = HeaderValue::from_str(&current_policy())
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CONTENT_SECURITY_POLICY, policy),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        ],
        PAGE_HTML,
    )
        .into_response()
}

fn refuse(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

/// `POST /chat/claim {"link": CODE}`: the member the code opens, once. Only the page itself may
/// ask: the request must carry this server's own Origin (a browser sends it on every POST, and
/// no other site can make it), which also keeps other sites from spending people's links.
pub async fn claim(State(engine): State<Arc<Engine>>, request: Request) -> Response {
    let headers = request.headers();
    let own = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Origin>().ok())
        .is_some_and(|origin| origin.is_host(headers.get(header::HOST)));
    if !own {
        return refuse(
            StatusCode::FORBIDDEN,
            "Only the chat page of this server may use a link.",
        );
    }
    let peer = request.extensions().get::<PeerIp>().copied();
    let body = match axum::body::to_bytes(request.into_body(), 4096).await {
        Ok(body) => body,
        Err(_) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "The request is too large."),
    };
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["link"].as_str().map(str::to_owned));
    let Some(code) = code else {
        return refuse(StatusCode::BAD_REQUEST, "Expected {\"link\": CODE}.");
    };
    let caller = match peer {
        Some(PeerIp(ip)) => Caller::at(ip),
        None => Caller::default(),
    };
    match source::scope(caller, engine.redeem_link(&code)).await {
        Ok(Some(opened)) => Json(json!({
            "room_id": opened.room_id,
            "client_id": opened.client_id,
        }))
        .into_response(),
        Ok(None) => refuse(
            StatusCode::GONE,
            &format!(
                "This link does not open the room any more: a link works once, within {} \
                 minutes. Ask for a new one (open_chat).",
                LIFETIME.as_secs() / 60
            ),
        ),
        Err(ChatError::RateLimited { .. }) => {
            crate::metrics::metrics().refused("rate_limited");
            refuse(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many links opened from this address; wait a minute.",
            )
        }
        Err(e) => {
            tracing::warn!(error = %e, "a link could not be redeemed");
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server cannot open the room right now; try again.",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_each_inline_script_and_nothing_else() {
        let html = "<head><script>a()</script><script src=\"x.js\"></script></head><script type=module>b()</script>";
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 2);
        let digest = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"a()"));
        assert_eq!(hashes[0], format!("'sha256-{digest}'"));
        let policy = policy(view::VIEW_HTML);
        assert!(policy.contains("'strict-dynamic' 'wasm-unsafe-eval'"));
        let scripts = policy
            .split(';')
            .find(|d| d.trim_start().starts_with("script-src"))
            .unwrap();
        assert!(!scripts.contains("'unsafe-inline'"), "{scripts}");
        assert!(
            !scripts.contains("'self'"),
            "no script by origin: {scripts}"
        );
        assert!(policy.contains("connect-src 'self'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(
            policy.matches("'sha256-").count(),
            3,
            "the page's two scripts (the early resources/read, the loader) and the View's loader"
        );
    }
}

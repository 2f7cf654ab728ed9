//! Who is asking, as far as the network can tell: the address a request came from.
//!
//! Creating identities and rooms is rate-limited per source address (a `client_id` does not
//! exist yet when one is created). The address is a property of the request, known to the
//! transport and not to the chat operations, so the transport sets it around the handling of
//! each request ([`scope`]) instead of every engine call carrying it.

use std::future::Future;
use std::net::IpAddr;

use tokio::task::futures::TaskLocalFuture;

/// The address a request came from (the TCP peer: behind a reverse proxy, the proxy's). The HTTP
/// layer puts it in every request's extensions; rmcp hands a tool the request's
/// `http::request::Parts` in `RequestContext::extensions`, where the tool boundary
/// (`mcp/guard.rs`) reads it and runs the call in its [`scope`]. It lives here, with who is
/// asking, so that neither the transport nor the MCP adapter depends on the other for it.
#[derive(Clone, Copy, Debug)]
pub struct PeerIp(pub IpAddr);

tokio::task_local! {
    /// Kept as the address, not its text: every call sets it, few (creations) read it.
    static SOURCE: Option<IpAddr>;
}

/// The key used when no address is known: a stdio server has exactly one client.
pub const LOCAL: &str = "local";

/// `work`, run with `source` as the current request's address (`None`: not over a network).
pub fn scope<F: Future>(source: Option<IpAddr>, work: F) -> TaskLocalFuture<Option<IpAddr>, F> {
    SOURCE.scope(source, work)
}

/// The current request's address, or [`LOCAL`].
pub fn current() -> String {
    match SOURCE.try_with(|source| *source) {
        Ok(Some(ip)) => ip.to_string(),
        Ok(None) | Err(_) => LOCAL.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_sets_the_source() {
        assert_eq!(current(), LOCAL);
        let inside = scope(Some([192, 0, 2, 7].into()), async { current() }).await;
        assert_eq!(inside, "192.0.2.7");
        assert_eq!(scope(None, async { current() }).await, LOCAL);
        assert_eq!(current(), LOCAL);
    }
}

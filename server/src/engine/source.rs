//! Who is asking, as far as the network can tell: the address a request came from.
//!
//! Creating identities and rooms is rate-limited per source address (a `client_id` does not
//! exist yet when one is created). The address is a property of the request, known to the
//! transport and not to the chat operations, so the transport sets it around the handling of
//! each request ([`scope`]) instead of every engine call carrying it.

use std::future::Future;
use std::net::IpAddr;

use tokio::task::futures::TaskLocalFuture;

use super::answered::AnswerHook;

/// The address a request came from (the TCP peer: behind a reverse proxy, the proxy's). The HTTP
/// layer puts it in every request's extensions; rmcp hands a tool the request's
/// `http::request::Parts` in `RequestContext::extensions`, where the tool boundary
/// (`mcp/guard.rs`) reads it and runs the call in its [`scope`]. It lives here, with who is
/// asking, so that neither the transport nor the MCP adapter depends on the other for it.
#[derive(Clone, Copy, Debug)]
pub struct PeerIp(pub IpAddr);

/// What the transport knows of the request being handled.
#[derive(Clone, Default)]
pub struct Caller {
    /// Kept as the address, not its text: every call sets it, few (creations) read it.
    pub address: Option<IpAddr>,
    /// Fired once the answer has been handed to the connection (HTTP only).
    pub answered: Option<AnswerHook>,
}

impl Caller {
    /// A caller at `address`, with no [`AnswerHook`].
    pub fn at(address: IpAddr) -> Caller {
        Caller {
            address: Some(address),
            answered: None,
        }
    }
}

tokio::task_local! {
    static SOURCE: Caller;
}

/// The key used when no address is known: a stdio server has exactly one client.
pub const LOCAL: &str = "local";

/// `work`, run as a request from `caller`.
pub fn scope<F: Future>(caller: Caller, work: F) -> TaskLocalFuture<Caller, F> {
    SOURCE.scope(caller, work)
}

/// The current request's address, or [`LOCAL`].
pub fn current() -> String {
    match SOURCE.try_with(|caller| caller.address) {
        Ok(Some(ip)) => ip.to_string(),
        Ok(None) | Err(_) => LOCAL.to_owned(),
    }
}

/// The current request's [`AnswerHook`], if its transport has one.
pub fn answer_hook() -> Option<AnswerHook> {
    SOURCE
        .try_with(|caller| caller.answered.clone())
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_sets_the_source() {
        assert_eq!(current(), LOCAL);
        let caller = Caller {
            address: Some([192, 0, 2, 7].into()),
            answered: None,
        };
        let inside = scope(caller, async { current() }).await;
        assert_eq!(inside, "192.0.2.7");
        assert_eq!(scope(Caller::default(), async { current() }).await, LOCAL);
        assert_eq!(current(), LOCAL);
    }
}

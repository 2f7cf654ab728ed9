//! Who is asking, as far as the network can tell: the address a request came from.
//!
//! Creating identities and rooms is rate-limited per source address (a `client_id` does not
//! exist yet when one is created). The address is a property of the request, known to the
//! transport and not to the chat operations, so the transport sets it around the handling of
//! each request ([`scope`]) instead of every engine call carrying it.

use std::future::Future;

use tokio::task::futures::TaskLocalFuture;

tokio::task_local! {
    static SOURCE: String;
}

/// The key used when no transport set one: a stdio server has exactly one client.
pub const LOCAL: &str = "local";

/// `work`, run with `source` as the current request's address.
pub fn scope<F: Future>(source: String, work: F) -> TaskLocalFuture<String, F> {
    SOURCE.scope(source, work)
}

/// The current request's address, or [`LOCAL`].
pub fn current() -> String {
    SOURCE
        .try_with(Clone::clone)
        .unwrap_or_else(|_| LOCAL.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_scope_sets_the_source() {
        assert_eq!(current(), LOCAL);
        let inside = scope("192.0.2.7".into(), async { current() }).await;
        assert_eq!(inside, "192.0.2.7");
        assert_eq!(current(), LOCAL);
    }
}

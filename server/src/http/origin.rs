//! Refuses requests a browser sends on behalf of another site.
//!
//! A page on any site can make its visitor's browser POST to a server on their machine or
//! network; the bearer token does not help when the token is optional, and the Host allow-list
//! only stops DNS rebinding. Browsers say where such a request comes from in `Origin`, which
//! pages cannot forge, so a request whose `Origin` is neither the server's own nor listed with
//! `--allowed-origin` is refused. Agents and command-line clients send no `Origin` and are
//! unaffected.

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A web origin as browsers send it: `scheme://host[:port]`, or `null` (sandboxed frames,
/// `file:` pages, redirects across sites).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Null,
    Site {
        /// `http` or `https`.
        scheme: String,
        /// Lower case, IPv6 addresses in brackets.
        host: String,
        /// The scheme's default when none is written, so `http://a` and `http://a:80` are equal.
        port: u16,
    },
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(s: &str) -> Result<Origin, String> {
        if s.eq_ignore_ascii_case("null") {
            return Ok(Origin::Null);
        }
        let expected = || "expected scheme://host[:port] or null".to_owned();
        let (scheme, rest) = s.split_once("://").ok_or_else(expected)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(expected()),
        };
        // An origin is only scheme, host and port: a path or credentials mean a URL was given.
        if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
            return Err(expected());
        }
        let authority = Authority::from_str(rest).map_err(|_| expected())?;
        Ok(Origin::Site {
            host: authority.host().to_ascii_lowercase(),
            port: port_or(&authority, default_port).ok_or_else(expected)?,
            scheme,
        })
    }
}

impl Origin {
    /// True if this is the origin of the server the request was sent to: same host and port
    /// as its `Host` header, over http or https (TLS may end at a proxy in front).
    pub fn is_host(&self, host: Option<&HeaderValue>) -> bool {
        let Origin::Site {
            scheme,
            host: origin_host,
            port,
        } = self
        else {
            return false;
        };
        let Some(host) = host
            .and_then(|h| h.to_str().ok())
            .and_then(|h| Authority::from_str(h).ok())
        else {
            return false;
        };
        let default_port = if scheme == "https" { 443 } else { 80 };
        host.host().eq_ignore_ascii_case(origin_host) && port_or(&host, default_port) == Some(*port)
    }
}

/// The authority's port, or `default` when it has none; `None` if what follows the host is not
/// a valid port (`Authority` accepts `host:99999` and then reports no port at all).
fn port_or(authority: &Authority, default: u16) -> Option<u16> {
    match authority.port_u16() {
        Some(port) => Some(port),
        None if authority.as_str() == authority.host() => Some(default),
        None => None,
    }
}

/// Middleware: passes requests without `Origin`, or from the server's own origin or one of
/// `allowed`; answers 403 to the rest.
pub async fn check(State(allowed): State<Arc<[Origin]>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let Some(value) = origins.next() else {
        return next.run(request).await;
    };
    let accepted = origins.next().is_none()
        && value
            .to_str()
            .ok()
            .and_then(|v| v.parse::<Origin>().ok())
            .is_some_and(|o| o.is_host(headers.get(header::HOST)) || allowed.contains(&o));
    if accepted {
        return next.run(request).await;
    }
    tracing::debug!(origin = ?value, "refused a cross-origin request");
    (
        StatusCode::FORBIDDEN,
        "cross-origin request refused: the Origin is neither this server's nor an --allowed-origin\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(scheme: &str, host: &str, port: u16) -> Origin {
        Origin::Site {
            scheme: scheme.into(),
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parsing() {
        assert_eq!("null".parse(), Ok(Origin::Null));
        assert_eq!(
            "HTTP://App.Example".parse(),
            Ok(site("http", "app.example", 80))
        );
        assert_eq!(
            "https://app.example:8443".parse(),
            Ok(site("https", "app.example", 8443))
        );
        assert_eq!("http://[::1]:8000".parse(), Ok(site("http", "[::1]", 8000)));
        for bad in [
            "app.example",
            "ftp://app.example",
            "http://",
            "http://app.example/",
            "http://user@app.example",
            "http://app.example:99999",
        ] {
            assert!(bad.parse::<Origin>().is_err(), "{bad}");
        }
    }

    #[test]
    fn own_origin_matches_the_host_header() {
        let host = |h: &'static str| Some(HeaderValue::from_static(h));
        let o = |s: &str| s.parse::<Origin>().unwrap();
        assert!(o("http://127.0.0.1:8000").is_host(host("127.0.0.1:8000").as_ref()));
        assert!(o("https://Chat.Example").is_host(host("chat.example").as_ref()));
        assert!(o("http://chat.example").is_host(host("chat.example:80").as_ref()));
        assert!(!o("http://127.0.0.1:9000").is_host(host("127.0.0.1:8000").as_ref()));
        assert!(!o("http://evil.example").is_host(host("chat.example").as_ref()));
        assert!(!o("https://chat.example").is_host(host("chat.example:80").as_ref()));
        assert!(!o("null").is_host(host("chat.example").as_ref()));
        assert!(!o("http://chat.example").is_host(None));
        assert!(!o("http://chat.example").is_host(host("chat.example:65616").as_ref()));
    }
}

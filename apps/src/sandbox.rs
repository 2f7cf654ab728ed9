//! How a host sandboxes a View: the Content-Security-Policy it puts on the View's document, and
//! the iframe's `sandbox` and `allow` attributes. Plain text in, plain text out, so a host on any
//! target (the browser host in `mcp_apps::host`, a server that serves Views itself) builds the
//! same policy, and the rules are tested natively.
//!
//! The policy follows the MCP Apps specification (2026-01-26, "Security"): with no declaration,
//! nothing outside the document — no connections, no remote scripts, no frames. A resource's
//! `_meta.ui.csp` widens it by the origins it names, list by list, and never further: an entry
//! that is not a plain origin (a quote, a `;`, a space, a keyword such as `'unsafe-eval'`) is
//! dropped, because a declaration is the server's input and a policy is the host's promise to the
//! person.

use crate::protocol::{ResourceCsp, ResourcePermissions};

/// The policy for a View whose resource declares `csp` (or nothing).
///
/// Without a declaration this is exactly the specification's default:
/// `default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';
/// img-src 'self' data:; media-src 'self' data:; connect-src 'none'; object-src 'none'`
/// (with `frame-src 'none'` and `base-uri 'self'` spelled out, which `default-src` implies).
pub fn content_security_policy(csp: Option<&ResourceCsp>) -> String {
    let empty = ResourceCsp::default();
    let csp = csp.unwrap_or(&empty);
    let resources = origins(&csp.resource_domains);
    let connect = origins(&csp.connect_domains);
    let frames = origins(&csp.frame_domains);
    let bases = origins(&csp.base_uri_domains);

    let mut script = vec!["'self'", "'unsafe-inline'"];
    if csp.wasm_unsafe_eval == Some(true) {
        script.push("'wasm-unsafe-eval'");
    }
    script.extend(&resources);
    let directive = |name: &str, base: &[&str], added: &[&str], none_if_empty: bool| {
        let mut sources: Vec<&str> = base.to_vec();
        sources.extend(added);
        if sources.is_empty() && none_if_empty {
            sources.push("'none'");
        }
        format!("{name} {}", sources.join(" "))
    };
    [
        "default-src 'none'".to_owned(),
        directive("script-src", &script, &[], true),
        directive(
            "style-src",
            &["'self'", "'unsafe-inline'"],
            &resources,
            true,
        ),
        directive("img-src", &["'self'", "data:"], &resources, true),
        directive("font-src", &["'self'", "data:"], &resources, true),
        directive("media-src", &["'self'", "data:"], &resources, true),
        directive("connect-src", &[], &connect, true),
        directive("frame-src", &[], &frames, true),
        "object-src 'none'".to_owned(),
        directive(
            "base-uri",
            if bases.is_empty() { &["'self'"] } else { &[] },
            &bases,
            true,
        ),
    ]
    .join("; ")
}

fn origins(list: &Option<Vec<String>>) -> Vec<&str> {
    list.iter()
        .flatten()
        .map(String::as_str)
        .filter(|origin| is_plain_origin(origin))
        .collect()
}

/// Whether `origin` is something a CSP source list may hold as an origin: `https://a.example`,
/// `https://*.example:8443`, `wss://a.example`, or a bare host. No quotes (keywords, hashes), no
/// separators, no paths beyond `/`, no schemes that mean "anything" (`data:`, `blob:`, `*`).
fn is_plain_origin(origin: &str) -> bool {
    let rest = match origin.split_once("://") {
        Some((scheme, rest)) => {
            if !matches!(scheme, "https" | "http" | "wss" | "ws") {
                return false;
            }
            rest
        }
        None => origin,
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, after)) if !address.is_empty() => {
                if !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                    return false;
                }
                match after {
                    "" => ("v6", None),
                    _ => ("v6", Some(after.strip_prefix(':').unwrap_or(""))),
                }
            }
            _ => return false,
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port_ok = port.is_none_or(|p| {
        p == "*" || (!p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()))
    });
    port_ok
        && !host.is_empty()
        && host != "*"
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '*'))
}

/// `document` with `policy` as a `<meta http-equiv="Content-Security-Policy">` at the very start
/// of its head, so that it governs everything the document loads and runs (a meta policy applies
/// only to what comes after it). A policy can only tighten what the embedder's own policy allows.
pub fn with_policy(document: &str, policy: &str) -> String {
    let meta = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        policy.replace('&', "&amp;").replace('"', "&quot;")
    );
    let lower = document.to_ascii_lowercase();
    // After `<head …>` if there is one (not `<header>`), else after the doctype, else first.
    let head_end =
        find_tag(&lower, "<head").and_then(|at| lower[at..].find('>').map(|e| at + e + 1));
    let at = head_end
        .or_else(|| {
            lower
                .trim_start()
                .starts_with("<!doctype")
                .then(|| lower.find('>').map(|e| e + 1))
                .flatten()
        })
        .unwrap_or(0);
    let mut out = String::with_capacity(document.len() + meta.len());
    out.push_str(&document[..at]);
    out.push_str(&meta);
    out.push_str(&document[at..]);
    out
}

/// The first `<name` that is the whole tag name (followed by `>`, space or `/`).
fn find_tag(lower: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let at = from + found;
        match lower.as_bytes().get(at + name.len()) {
            Some(b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'/') => return Some(at),
            _ => from = at + name.len(),
        }
    }
    None
}

/// The iframe's `sandbox` attribute: scripts run, but in an opaque origin (no
/// `allow-same-origin`), so the View reaches neither the host page's storage nor its DOM; forms
/// submit inside the frame only; no popups or top navigation (links go through `ui/open-link`).
pub const SANDBOX: &str = "allow-scripts allow-forms";

/// The iframe's `allow` attribute (Permissions Policy) for what the resource asks and the host
/// grants: each permission is listed only when both do.
pub fn permissions_policy(
    asked: Option<&ResourcePermissions>,
    granted: &ResourcePermissions,
) -> String {
    let Some(asked) = asked else {
        return String::new();
    };
    let mut allow = Vec::new();
    if asked.camera.is_some() && granted.camera.is_some() {
        allow.push("camera");
    }
    if asked.microphone.is_some() && granted.microphone.is_some() {
        allow.push("microphone");
    }
    if asked.geolocation.is_some() && granted.geolocation.is_some() {
        allow.push("geolocation");
    }
    if asked.clipboard_write.is_some() && granted.clipboard_write.is_some() {
        allow.push("clipboard-write");
    }
    allow.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Requested;

    #[test]
    fn no_declaration_is_the_specifications_default() {
        assert_eq!(
            content_security_policy(None),
            "default-src 'none'; script-src 'self' 'unsafe-inline'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
             media-src 'self' data:; connect-src 'none'; frame-src 'none'; object-src 'none'; \
             base-uri 'self'"
        );
    }

    #[test]
    fn a_declaration_widens_each_list_by_its_origins_only() {
        let csp = ResourceCsp {
            connect_domains: Some(vec![
                "https://api.example".into(),
                "wss://live.example".into(),
            ]),
            resource_domains: Some(vec!["https://cdn.example".into()]),
            frame_domains: Some(vec!["https://*.maps.example".into()]),
            base_uri_domains: Some(vec!["https://base.example".into()]),
            wasm_unsafe_eval: Some(true),
        };
        let policy = content_security_policy(Some(&csp));
        assert!(
            policy.contains(
                "script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval' https://cdn.example;"
            )
        );
        assert!(policy.contains("connect-src https://api.example wss://live.example;"));
        assert!(policy.contains("img-src 'self' data: https://cdn.example;"));
        assert!(policy.contains("frame-src https://*.maps.example;"));
        assert!(policy.ends_with("base-uri https://base.example"));
    }

    #[test]
    fn entries_that_are_not_origins_are_dropped() {
        let hostile = [
            "'unsafe-eval'",
            "https://a.example; script-src *",
            "*",
            "data:",
            "blob:",
            "javascript://x",
            "https://a.example/path",
            "a b",
            "",
            "'sha256-abc'",
        ];
        let csp = ResourceCsp {
            connect_domains: Some(hostile.iter().map(|s| s.to_string()).collect()),
            resource_domains: Some(hostile.iter().map(|s| s.to_string()).collect()),
            ..ResourceCsp::default()
        };
        assert_eq!(
            content_security_policy(Some(&csp)),
            content_security_policy(None)
        );
        assert!(is_plain_origin("localhost:3001"));
        assert!(is_plain_origin("https://[::1]:8443/"));
    }

    #[test]
    fn the_policy_goes_first_in_the_head() {
        let policy = "default-src 'none'";
        let meta = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\">";
        assert_eq!(
            with_policy(
                "<!DOCTYPE html><html><HEAD lang=x><title>t</title></head></html>",
                policy
            ),
            format!("<!DOCTYPE html><html><HEAD lang=x>{meta}<title>t</title></head></html>")
        );
        assert_eq!(
            with_policy(
                "<!doctype html><header>x</header><script>1</script>",
                policy
            ),
            format!("<!doctype html>{meta}<header>x</header><script>1</script>")
        );
        assert_eq!(with_policy("<p>hi", policy), format!("{meta}<p>hi"));
        assert!(with_policy("<head>", "a\"b&c").contains("content=\"a&quot;b&amp;c\""));
    }

    #[test]
    fn permissions_are_those_asked_and_granted() {
        let asked = ResourcePermissions {
            camera: Some(Requested {}),
            clipboard_write: Some(Requested {}),
            ..ResourcePermissions::default()
        };
        let granted = ResourcePermissions {
            clipboard_write: Some(Requested {}),
            geolocation: Some(Requested {}),
            ..ResourcePermissions::default()
        };
        assert_eq!(
            permissions_policy(Some(&asked), &granted),
            "clipboard-write"
        );
        assert_eq!(permissions_policy(None, &granted), "");
    }
}

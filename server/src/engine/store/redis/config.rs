//! `--store redis://…`: where the Redis server is, and the options this store reads from the URL.

use std::fmt;
use std::time::Duration;

/// Keys are namespaced so that several deployments (or tests) can share one Redis database.
pub const DEFAULT_PREFIX: &str = "mcp-chat:";

/// A Redis URL as `--store` gives it: `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?OPTIONS]`.
///
/// Options: `prefix=` (key namespace, default `mcp-chat:`), `ttl=` (seconds after which keys
/// nobody writes to vanish), `protocol=` (passed to the Redis client: `resp2` or `resp3`).
///
/// The URL may hold a password, so it is only ever shown redacted (`Debug` included).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    url: String,
    redacted: String,
    prefix: String,
    ttl: Option<Duration>,
}

impl RedisTarget {
    pub fn parse(s: &str) -> Result<RedisTarget, String> {
        let mut url = url::Url::parse(s).map_err(|e| format!("invalid redis URL: {e}"))?;
        match url.scheme() {
            "redis" => {}
            "rediss" => {
                return Err(
                    "rediss:// (TLS) is not built into mcp-chat; use redis:// on a \
                            trusted network, or a TLS tunnel"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "unsupported redis URL scheme {other:?}: use redis://"
                ));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the redis URL needs a host, e.g. redis://127.0.0.1:6379".into());
        }
        let db = url.path().trim_matches('/');
        if !db.is_empty() && db.parse::<u32>().is_err() {
            return Err(format!(
                "the redis URL's path must be a database number, not {db:?}"
            ));
        }
        let mut prefix = DEFAULT_PREFIX.to_owned();
        let mut ttl = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "prefix" => prefix = parse_prefix(&value)?,
                "ttl" => ttl = Some(parse_ttl(&value)?),
                "protocol" => {}
                other => {
                    return Err(format!(
                        "unknown redis URL option {other:?}: use prefix=, ttl= or protocol="
                    ));
                }
            }
        }
        let original = url.to_string();
        if url.password().is_some() {
            // Cannot fail: the URL has a host, so it can carry a password.
            let _ = url.set_password(Some("***"));
        }
        Ok(RedisTarget {
            url: original,
            redacted: url.to_string(),
            prefix,
            ttl,
        })
    }

    /// The URL to connect with. Contains the password: never log it.
    pub fn connect_url(&self) -> &str {
        &self.url
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The key expiry asked for in the URL, if any.
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisTarget")
            .field("url", &self.redacted)
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

fn parse_prefix(value: &str) -> Result<String, String> {
    // Restricted so the prefix can be used verbatim in a PSUBSCRIBE pattern (no glob characters).
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "redis prefix {value:?}: use 1 to 64 letters, digits, ':', '_', '-' or '.'"
        ))
    }
}

fn parse_ttl(value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(secs) if secs >= 60 => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "redis ttl {value:?}: give whole seconds, at least 60"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let t = RedisTarget::parse("redis://:s3cret@127.0.0.1:6390/2").unwrap();
        assert_eq!(t.redacted(), "redis://:***@127.0.0.1:6390/2");
        assert_eq!(t.connect_url(), "redis://:s3cret@127.0.0.1:6390/2");
        assert!(!format!("{t:?}").contains("s3cret"));
        assert!(!t.to_string().contains("s3cret"));
        let with_user = RedisTarget::parse("redis://chat:s3cret@db.internal/").unwrap();
        assert_eq!(with_user.redacted(), "redis://chat:***@db.internal/");
        let plain = RedisTarget::parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!(plain.redacted(), plain.connect_url());
    }

    #[test]
    fn options() {
        let t = RedisTarget::parse("redis://h:1/?prefix=team-a:&ttl=3600&protocol=resp3").unwrap();
        assert_eq!(t.prefix(), "team-a:");
        assert_eq!(t.ttl(), Some(Duration::from_secs(3600)));
        let d = RedisTarget::parse("redis://h").unwrap();
        assert_eq!((d.prefix(), d.ttl()), (DEFAULT_PREFIX, None));
        for bad in [
            "redis://h/?prefix=a*",
            "redis://h/?prefix=",
            "redis://h/?ttl=5",
            "redis://h/?ttl=x",
            "redis://h/?color=blue",
            "redis://h/db",
            "rediss://h",
            "http://h",
            "redis://",
        ] {
            assert!(RedisTarget::parse(bad).is_err(), "{bad}");
        }
    }
}

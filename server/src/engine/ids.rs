//! Identifiers and time.
//!
//! A `client_id` is a bearer secret: whoever holds it speaks as that member. It carries 128 bits
//! from the operating system's CSPRNG, so it cannot be guessed. The public `user_id` others see
//! is separate and reveals nothing about it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `N` bytes from the OS's CSPRNG, as lowercase hex.
pub fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    hex(&bytes)
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub const CLIENT_ID_PREFIX: &str = "c_";

/// 128 random bits.
pub fn client_id() -> String {
    format!("{CLIENT_ID_PREFIX}{}", random_hex::<16>())
}

/// Quick shape check before any lookup, so junk never reaches the store.
pub fn looks_like_client_id(s: &str) -> bool {
    s.len() == CLIENT_ID_PREFIX.len() + 32
        && s.starts_with(CLIENT_ID_PREFIX)
        && s[CLIENT_ID_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

pub fn user_id() -> String {
    format!("u_{}", random_hex::<8>())
}

/// Unique, not secret (every member sees them): a counter from a random 64-bit start, so a
/// message costs no system call, and instances sharing a store draw from ranges that would
/// need 2^64 / N messages to meet.
pub fn message_id() -> String {
    static NEXT: OnceLock<AtomicU64> = OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let mut start = [0u8; 8];
        getrandom::fill(&mut start).expect("the OS random number generator is available");
        AtomicU64::new(u64::from_le_bytes(start))
    });
    format!("m_{:016x}", next.fetch_add(1, Ordering::Relaxed))
}

pub fn paired_room_id() -> String {
    format!("pair-{}", random_hex::<8>())
}

pub fn guest_name() -> String {
    format!("Guest-{}", random_hex::<2>().to_uppercase())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-21T14:03:07.123Z`.
pub fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_long_random_and_recognisable() {
        let a = client_id();
        let b = client_id();
        assert_ne!(a, b);
        assert!(looks_like_client_id(&a), "{a}");
        assert_eq!(a.len() - CLIENT_ID_PREFIX.len(), 32, "128 bits as hex");
        assert!(!looks_like_client_id("c_short"));
        assert!(!looks_like_client_id(&user_id()));
    }

    #[test]
    fn message_ids_keep_their_shape_and_never_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| message_id()).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(id.len(), 2 + 16, "{id}");
            assert!(id.starts_with("m_") && id[2..].bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_763_733_787_123), "2025-11-21T14:03:07.123Z");
    }
}

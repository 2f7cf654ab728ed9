//! Identifiers and time.
//!
//! A `client_id` is a bearer secret: whoever holds it speaks as that member. It carries 128 bits
//! from the operating system's CSPRNG, so it cannot be guessed. The public `user_id` others see
//! is separate and reveals nothing about it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
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

pub fn message_id() -> String {
    format!("m_{}", random_hex::<8>())
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
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_763_733_787_123), "2025-11-21T14:03:07.123Z");
    }
}

//! Configurable limits, and the validation of everything a caller sends.
//!
//! Each check returns [`ChatError::InvalidArgument`] naming the field, before anything is
//! changed, so a rejected call never half-applies.

use std::time::Duration;

use super::error::ChatError;
use super::rate::Rate;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest message, in UTF-8 bytes.
    pub max_message_bytes: usize,
    /// Longest display name, in characters.
    pub max_display_name_chars: usize,
    /// Longest room id, in characters.
    pub max_room_id_chars: usize,
    /// Sustained messages per second per client.
    pub messages_per_second: u32,
    /// Messages a client may send at once before the per-second rate applies.
    pub message_burst: u32,
    pub max_rooms: usize,
    pub max_clients: usize,
    /// Rooms one client may be in at once (ended rooms do not count).
    pub max_rooms_per_client: usize,
    /// Long polls (`wait_for_message`, waiting `enter_queue`) one client may have in progress
    /// at once, per instance.
    pub max_waits_per_client: usize,
    /// Tool calls per second one client may make, sustained, and the burst above that.
    pub calls_per_second: u32,
    pub call_burst: u32,
    /// New identities and rooms per minute from one source address, and the burst above that.
    pub creations_per_minute: u32,
    pub creation_burst: u32,
    /// Capacity of a room created without one (and of every paired room).
    pub default_capacity: u32,
    pub max_capacity: u32,
    pub max_messages_per_room: usize,
    /// `wait_for_message` timeout when none is given.
    pub default_wait: Duration,
    /// Longest `wait_for_message`: below the ~60 s after which common clients cut a tool call.
    pub max_wait: Duration,
    /// Messages one wait answer carries at most (`has_more` says when more are pending).
    pub max_batch: usize,
    /// A client with no call for this long is removed (and leaves its rooms).
    pub client_idle_ttl: Duration,
    /// An ended or empty room with no activity for this long is removed.
    pub room_idle_ttl: Duration,
    /// A queue place not polled for this long expires, so nobody is matched with a ghost.
    pub queue_ttl: Duration,
    /// How often expired clients, rooms and queue places are swept.
    pub sweep_interval: Duration,
    /// How often a blocked wait sends a progress notification (when the client asked for them).
    pub progress_interval: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 4096,
            max_display_name_chars: 64,
            max_room_id_chars: 64,
            messages_per_second: 20,
            message_burst: 120,
            max_rooms: 10_000,
            max_clients: 100_000,
            max_rooms_per_client: 20,
            max_waits_per_client: 8,
            calls_per_second: 50,
            call_burst: 200,
            creations_per_minute: 60,
            creation_burst: 30,
            default_capacity: 2,
            max_capacity: 50,
            max_messages_per_room: 20_000,
            default_wait: Duration::from_secs(30),
            max_wait: Duration::from_secs(50),
            max_batch: 500,
            client_idle_ttl: Duration::from_secs(30 * 60),
            room_idle_ttl: Duration::from_secs(15 * 60),
            queue_ttl: Duration::from_secs(90),
            sweep_interval: Duration::from_secs(5),
            progress_interval: Duration::from_secs(10),
        }
    }
}

impl Limits {
    pub fn message_rate(&self) -> Rate {
        Rate::per_second(self.messages_per_second, self.message_burst)
    }

    pub fn call_rate(&self) -> Rate {
        Rate::per_second(self.calls_per_second, self.call_burst)
    }

    pub fn creation_rate(&self) -> Rate {
        Rate::per_minute(self.creations_per_minute, self.creation_burst)
    }

    /// Drops invisible format characters, trims, then checks length and characters. Returns
    /// the name to store.
    pub fn display_name(&self, name: &str) -> Result<String, ChatError> {
        // Dropped rather than refused: nobody can see them to fix the name, and without them
        // the name reads the same; kept, they would make "Dana" and "Da\u{2060}na" two names.
        let name: String = name.chars().filter(|c| !is_invisible_format(*c)).collect();
        let name = name.trim();
        if name.is_empty() {
            return Err(ChatError::invalid(
                "display_name",
                "must not be empty (spaces and invisible characters do not count)",
            ));
        }
        let chars = name.chars().count();
        if chars > self.max_display_name_chars {
            return Err(ChatError::invalid(
                "display_name",
                format!(
                    "is {chars} characters; at most {} are allowed",
                    self.max_display_name_chars
                ),
            ));
        }
        // A name is one line: a break inside it would start a line of its own wherever it is shown.
        if let Some(c) = name
            .chars()
            .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
        {
            return Err(ChatError::invalid(
                "display_name",
                format!(
                    "contains the control character or line break U+{:04X}",
                    c as u32
                ),
            ));
        }
        Ok(name.to_owned())
    }

    pub fn room_id(&self, room_id: &str) -> Result<String, ChatError> {
        if room_id.is_empty() {
            return Err(ChatError::invalid("room_id", "must not be empty"));
        }
        let chars = room_id.chars().count();
        if chars > self.max_room_id_chars {
            return Err(ChatError::invalid(
                "room_id",
                format!(
                    "is {chars} characters; at most {} are allowed",
                    self.max_room_id_chars
                ),
            ));
        }
        if let Some(c) = room_id
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(ChatError::invalid(
                "room_id",
                format!("contains {c:?}; only letters, digits, '-', '_' and '.' are allowed"),
            ));
        }
        Ok(room_id.to_owned())
    }

    pub fn message(&self, text: &str) -> Result<(), ChatError> {
        if text.trim().is_empty() {
            return Err(ChatError::invalid("message", "must not be empty"));
        }
        if text.len() > self.max_message_bytes {
            return Err(ChatError::invalid(
                "message",
                format!(
                    "is {} bytes; at most {} bytes are allowed",
                    text.len(),
                    self.max_message_bytes
                ),
            ));
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(ChatError::invalid(
                "message",
                format!("contains the control character U+{:04X}", c as u32),
            ));
        }
        Ok(())
    }

    pub fn capacity(&self, capacity: Option<u32>) -> Result<u32, ChatError> {
        match capacity {
            None => Ok(self.default_capacity),
            Some(c) if (2..=self.max_capacity).contains(&c) => Ok(c),
            Some(c) => Err(ChatError::invalid(
                "capacity",
                format!("is {c}; it must be between 2 and {}", self.max_capacity),
            )),
        }
    }

    /// A wait timeout in seconds: absent → the default; clamped to `[0, max_wait]`.
    pub fn wait_timeout(&self, seconds: Option<f64>) -> Result<Duration, ChatError> {
        let Some(seconds) = seconds else {
            return Ok(self.default_wait);
        };
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(ChatError::invalid(
                "timeout",
                format!("is {seconds}; it must be a number of seconds, 0 or more"),
            ));
        }
        // Clamp before converting: `Duration::from_secs_f64` panics on values past its range
        // (1e20 s), and a panic reachable from a request must never happen.
        Ok(Duration::from_secs_f64(
            seconds.min(self.max_wait.as_secs_f64()),
        ))
    }

    pub fn history_limit(&self, limit: Option<u32>) -> Result<usize, ChatError> {
        match limit {
            None => Ok(50),
            Some(0) => Err(ChatError::invalid("limit", "must be at least 1")),
            Some(n) => Ok((n as usize).min(self.max_batch)),
        }
    }
}

/// Characters that show as nothing (or only rearrange what follows) and so let one name pass for
/// another: every format character (general category Cf: zero-width spaces and joiners, word
/// joiner, invisible operators, soft hyphen, tag characters, bidi controls, byte order mark, …),
/// the bidi controls by name in case a table ever disagrees, and the whole tag block, whose
/// unassigned code points a newer Unicode may fill with more tags.
fn is_invisible_format(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    c.general_category() == GeneralCategory::Format
        || mcp_chat_shared::model_text::is_bidi_control(c)
        || ('\u{E0000}'..='\u{E007F}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names() {
        let l = Limits::default();
        assert_eq!(l.display_name("  Ada  ").unwrap(), "Ada");
        assert_eq!(l.display_name("Zoë 🦀").unwrap(), "Zoë 🦀");
        for (sneaky, stored) in [
            ("Da\u{2060}na", "Dana"),
            ("\u{00AD}Dana\u{2064}", "Dana"),
            ("Dana\u{E0001}\u{E0044}\u{E007F}", "Dana"),
            ("\u{202E}anaD\u{202C}", "anaD"),
            ("\u{2067}Dana\u{2069}\u{200F}\u{061C}", "Dana"),
            ("\u{FEFF} Dana\u{200B} ", "Dana"),
            ("D\u{200D}ana\u{180E}", "Dana"),
        ] {
            assert_eq!(l.display_name(sneaky).unwrap(), stored, "{sneaky:?}");
        }
        assert!(
            l.display_name(&format!("{}\u{200B}", "x".repeat(64)))
                .is_ok(),
            "counted after the invisible characters are gone"
        );
        for bad in [
            "",
            "   ",
            "\u{200B}\u{2060} \u{FEFF}",
            "a\u{0007}b",
            "x\ny",
            "x\ry",
            "x\u{0085}y",
            "x\u{2028}y",
            "x\u{2029}y",
            &"x".repeat(65),
        ] {
            let err = l.display_name(bad).unwrap_err();
            assert_eq!(err.field(), Some("display_name"), "{bad:?}");
        }
        assert!(
            l.display_name(&"é".repeat(64)).is_ok(),
            "counted in characters, not bytes"
        );
    }

    #[test]
    fn room_ids() {
        let l = Limits::default();
        assert!(l.room_id("team-42_a.b").is_ok());
        for bad in ["", "has space", "slash/", "é", &"r".repeat(65)] {
            assert_eq!(
                l.room_id(bad).unwrap_err().field(),
                Some("room_id"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn messages() {
        let l = Limits::default();
        assert!(l.message("hello\nworld\t!").is_ok());
        assert!(l.message(&"x".repeat(4096)).is_ok());
        for bad in ["", "  \n", "nul\0", &"x".repeat(4097)] {
            assert_eq!(
                l.message(bad).unwrap_err().field(),
                Some("message"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn timeouts_clamp_below_client_limits() {
        let l = Limits::default();
        assert_eq!(l.wait_timeout(None).unwrap(), Duration::from_secs(30));
        assert_eq!(
            l.wait_timeout(Some(300.0)).unwrap(),
            Duration::from_secs(50)
        );
        assert_eq!(l.wait_timeout(Some(0.0)).unwrap(), Duration::ZERO);
        assert!(l.wait_timeout(Some(-1.0)).is_err());
        assert!(l.wait_timeout(Some(f64::NAN)).is_err());
        assert!(l.wait_timeout(Some(f64::INFINITY)).is_err());
        assert!(l.wait_timeout(Some(f64::NEG_INFINITY)).is_err());
        assert!(l.wait_timeout(Some(-0.0)).is_ok());
        for huge in [1e20, f64::MAX, 1.8e19, u64::MAX as f64] {
            assert_eq!(l.wait_timeout(Some(huge)).unwrap(), l.max_wait, "{huge}");
        }
        assert_eq!(
            l.wait_timeout(Some(f64::MIN_POSITIVE)).unwrap(),
            Duration::ZERO
        );
        assert!(l.max_wait < Duration::from_secs(60));
    }

    #[test]
    fn capacities() {
        let l = Limits::default();
        assert_eq!(l.capacity(None).unwrap(), 2);
        assert_eq!(l.capacity(Some(10)).unwrap(), 10);
        assert!(l.capacity(Some(1)).is_err());
        assert!(l.capacity(Some(51)).is_err());
    }
}

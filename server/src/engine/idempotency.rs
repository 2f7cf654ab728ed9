//! Retries that change nothing: the `idempotency_key` of `send_message`, `join_room` and
//! `enter_queue`.
//!
//! A retry may reach another instance, and the first attempt may have committed on an instance
//! that died before it answered. So what a key did is recorded in the store, atomically with
//! what it did, never in an instance's memory:
//! - a send records its key in the sender's member record, in the same room transaction that
//!   appends the message ([`super::rules::send_keyed`]): the message cannot be stored without its key,
//!   and a retry finds the key in the room it reads;
//! - a new identity (`join_room` or `enter_queue` without a `client_id`) records the key with
//!   the identity it is about to create *before* creating it ([`super::Store::record_once`]). A
//!   retry finds that identity, creates it if the first attempt died before it could, and goes
//!   on as that client: joining a room one is in, or queueing while queued, changes nothing.
//!
//! A key without a `client_id` names an identity, whose `client_id` is a secret: it is kept per
//! source address, and a key reused with other arguments is refused, so a guessed or shared key
//! (an agent copying the RFC's example UUID) does not hand one caller another's identity.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::access::new_identity;
use super::model::ClientRecord;
use super::{ChatError, Engine, ids, source};

/// How long a key is remembered. A retry comes within seconds; ten minutes also covers a client
/// that waits for a restarted instance or a network to come back.
pub const WINDOW: Duration = Duration::from_secs(600);

/// At most this many of a member's keyed sends are remembered (the newest), so the member
/// record, which every room transaction reads and writes (Redis: the whole room, as JSON), stays
/// small. A client retries a send before it sends the next; eight leave room for several
/// senders sharing one identity (a View and its model).
pub const SENDS_REMEMBERED: usize = 8;

const FIELD: &str = "idempotency_key";

/// A validated `idempotency_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryKey(String);

impl RetryKey {
    /// Checks a key's shape: 16 to 64 characters among letters, digits, `-`, `_`, `.` and `:`
    /// (a UUID fits). Short keys are refused because a key can name an identity (see the module
    /// documentation): "1" would be someone else's "1" too.
    pub fn parse(raw: Option<&str>) -> Result<Option<RetryKey>, ChatError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let len = raw.chars().count();
        if !(16..=64).contains(&len) {
            return Err(ChatError::invalid(
                FIELD,
                format!("is {len} characters; use 16 to 64, for example a UUID"),
            ));
        }
        if let Some(c) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
        {
            return Err(ChatError::invalid(
                FIELD,
                format!("contains {c:?}; only letters, digits, '-', '_', '.' and ':' are allowed"),
            ));
        }
        Ok(Some(RetryKey(raw.to_owned())))
    }

    /// What a member record keeps of the key: a 64-bit digest, not the key (see [`SentKey`]).
    pub fn digest(&self) -> u64 {
        digest(&self.0)
    }
}

/// FNV-1a, 64 bits: the same on every instance and every build (the standard library's hasher
/// promises neither), and enough to tell apart a member's few dozen recent keys.
pub fn digest(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A member's recent keyed sends, as the member record keeps them: one string of entries
/// `<key><text>.<seq>.<at>` (hexadecimal: the key's 64-bit digest, 32 bits of the text's, the
/// `seq` it was stored at, when in seconds), separated by spaces.
///
/// Kept as text and read only by a keyed send of that member: every room transaction reads and
/// writes the whole room (Redis: as JSON), and a string costs it one copy, where a list of
/// entries cost a parse and a format each (a fifth more server CPU per message, measured).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SentKeys(String);

/// One entry of [`SentKeys`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SentKey {
    key: u64,
    text: u32,
    seq: u64,
    at_s: u64,
}

impl SentKey {
    fn parse(entry: &str) -> Option<SentKey> {
        let (digests, rest) = entry.split_once('.')?;
        let (seq, at) = rest.split_once('.')?;
        if digests.len() != 24 || !digests.is_ascii() {
            return None;
        }
        let hex = |s: &str| u64::from_str_radix(s, 16).ok();
        Some(SentKey {
            key: hex(&digests[..16])?,
            text: hex(&digests[16..])? as u32,
            seq: hex(seq)?,
            at_s: hex(at)?,
        })
    }

    fn write(&self, to: &mut String) {
        use std::fmt::Write;
        if !to.is_empty() {
            to.push(' ');
        }
        let _ = write!(
            to,
            "{:016x}{:08x}.{:x}.{:x}",
            self.key, self.text, self.seq, self.at_s
        );
    }

    fn at_ms(&self) -> u64 {
        self.at_s * 1000
    }
}

impl SentKeys {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As stored (SQLite keeps the text in a column of its own).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(text: String) -> SentKeys {
        SentKeys(text)
    }

    /// Entries that do not read (none are written so) are skipped: a retry is then a new send,
    /// never a refusal.
    fn entries(&self) -> impl Iterator<Item = SentKey> + '_ {
        self.0.split(' ').filter_map(SentKey::parse)
    }

    /// Looks the send of `text` with `key` (digests, [`digest`]) up among those younger than
    /// [`WINDOW`]. Reads only: a retry changes nothing.
    pub fn seen(&self, key: u64, text: u64, now_ms: u64) -> Result<Seen, ChatError> {
        let oldest = now_ms.saturating_sub(WINDOW.as_millis() as u64);
        match self.entries().find(|s| s.key == key && s.at_ms() >= oldest) {
            None => Ok(Seen::New),
            Some(s) if s.text == text as u32 => Ok(Seen::At(s.seq)),
            Some(_) => Err(ChatError::invalid(
                FIELD,
                "was used for another message; use a new key for each message",
            )),
        }
    }

    /// Records the send of `text` with `key` as `seq`, keeping the newest [`SENDS_REMEMBERED`]
    /// younger than [`WINDOW`].
    pub fn record(&mut self, key: u64, text: u64, seq: u64, now_ms: u64) {
        let oldest = now_ms.saturating_sub(WINDOW.as_millis() as u64);
        let kept: Vec<SentKey> = self.entries().filter(|s| s.at_ms() >= oldest).collect();
        let skip = (kept.len() + 1).saturating_sub(SENDS_REMEMBERED);
        let mut text_out = String::with_capacity(40 * (kept.len() + 1 - skip));
        for entry in &kept[skip..] {
            entry.write(&mut text_out);
        }
        SentKey {
            key,
            text: text as u32,
            seq,
            at_s: now_ms / 1000,
        }
        .write(&mut text_out);
        self.0 = text_out;
    }

    /// How many are kept.
    pub fn len(&self) -> usize {
        self.entries().count()
    }
}

/// What a keyed send found in the member's record.
pub enum Seen {
    /// Not sent with this key (or long enough ago to be forgotten).
    New,
    /// Sent already, as entry `seq`.
    At(u64),
}

/// What the store remembers for a key that created an identity.
#[derive(Serialize, Deserialize)]
struct IdentityRecord {
    /// The first call's arguments, as [`Engine::identity`] was given them.
    args: String,
    client: ClientRecord,
}

impl Engine {
    /// The identity a call without a `client_id` acts as: a new one, or, for a key seen before,
    /// the one its first call made. Returns it and whether it was made by an earlier call.
    ///
    /// `tool` and `args` (the call's other arguments, as the caller writes them) keep one tool's
    /// key from answering another's, and a key reused for another call from being mistaken for a
    /// retry.
    pub(super) async fn identity(
        &self,
        tool: &str,
        key: Option<&RetryKey>,
        args: String,
        display_name: String,
    ) -> Result<(ClientRecord, bool), ChatError> {
        let Some(key) = key else {
            return Ok((self.new_client(display_name).await?, false));
        };
        // Charged before the key is claimed, and given back for a retry: a caller who is out of
        // tokens claims nothing, so keys cannot be stockpiled to create identities later for free.
        self.take_creation_token().await?;
        let now = ids::now_ms();
        let record = IdentityRecord {
            args,
            client: new_identity(display_name, now),
        };
        let value = serde_json::to_string(&record)
            .map_err(|e| ChatError::Storage(format!("identity record: {e}")))?;
        let stored_key = format!("{tool}:{}:{}", source::current(), key.0);
        let Some(earlier) = self.store.record_once(&stored_key, &value, WINDOW).await? else {
            self.store
                .insert_client(record.client.clone(), self.limits.max_clients)
                .await?;
            return Ok((record.client, false));
        };
        self.give_back_creation_token().await;
        let earlier: IdentityRecord = serde_json::from_str(&earlier)
            .map_err(|e| ChatError::Storage(format!("identity record: {e}")))?;
        if earlier.args != record.args {
            return Err(ChatError::invalid(
                FIELD,
                "was used by an earlier call with other arguments; use a new key for a new call",
            ));
        }
        if let Some(client) = self.store.client(&earlier.client.client_id).await? {
            return Ok((client, true));
        }
        // The first call claimed the key and stopped before storing the identity (or it was
        // discarded when that call failed): this call makes it, under the same id.
        let client = ClientRecord {
            last_seen_ms: now,
            ..earlier.client
        };
        match self
            .store
            .insert_client(client.clone(), self.limits.max_clients)
            .await
        {
            Ok(()) => Ok((client, true)),
            // Another retry of the same call stored it meanwhile.
            Err(e) => match self.store.client(&client.client_id).await? {
                Some(stored) => Ok((stored, true)),
                None => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_for_shape() {
        assert_eq!(RetryKey::parse(None).unwrap(), None);
        let uuid = "2f1c7a52-9a3e-4c1f-8a43-0d6e5b7f9c10";
        assert!(RetryKey::parse(Some(uuid)).unwrap().is_some());
        for bad in [
            "short",
            &"x".repeat(65),
            "0123456789abcdef 0",
            "0123456789abcdéf",
        ] {
            let err = RetryKey::parse(Some(bad)).unwrap_err();
            assert_eq!(err.code(), "invalid_argument", "{bad}");
        }
    }

    #[test]
    fn the_digest_is_fnv1a() {
        // The published FNV-1a test vectors: every instance and build must agree on them.
        assert_eq!(digest(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(digest("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(digest("foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_member_remembers_recent_sends_only() {
        let mut sent = SentKeys::default();
        for n in 0..SENDS_REMEMBERED as u64 + 3 {
            sent.record(n, 7, n + 1, 1_000);
        }
        assert_eq!(sent.len(), SENDS_REMEMBERED);
        assert!(matches!(sent.seen(0, 7, 1_000), Ok(Seen::New)));
        assert!(matches!(sent.seen(5, 7, 1_000), Ok(Seen::At(6))));
        assert!(sent.seen(5, 8, 1_000).is_err(), "another text");
        let later = 1_000 + WINDOW.as_millis() as u64 + 1_000;
        assert!(matches!(sent.seen(5, 7, later), Ok(Seen::New)));
        sent.record(99, 7, 99, later);
        assert_eq!(
            sent.len(),
            1,
            "expired keys are dropped when one is recorded"
        );
    }

    #[test]
    fn remembered_sends_are_written_short_and_read_back() {
        let mut sent = SentKeys::default();
        sent.record(u64::MAX, 0x1234_5678_9abc, 4_321, 1_765_100_000_123);
        sent.record(1, 2, 3, 1_765_100_001_000);
        assert_eq!(
            sent.as_str(),
            "ffffffffffffffff56789abc.10e1.693549e0 000000000000000100000002.3.693549e1"
        );
        let json = serde_json::to_string(&sent).unwrap();
        assert_eq!(serde_json::from_str::<SentKeys>(&json).unwrap(), sent);
        assert!(matches!(
            sent.seen(u64::MAX, 0x1234_5678_9abc, 1_765_100_002_000),
            Ok(Seen::At(4_321))
        ));
        // What does not read is skipped, not refused.
        let odd = SentKeys::from_stored("junk ff.1.2 ".into());
        assert!(matches!(odd.seen(1, 2, 0), Ok(Seen::New)));
    }
}

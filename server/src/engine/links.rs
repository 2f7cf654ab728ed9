//! Browser links: open a room in a browser as one of its members, without the link carrying
//! the member's `client_id`.
//!
//! A link carries a code instead: `lnk_` and 128 random bits, good for one use within
//! [`LIFETIME`]. The browser page (`/chat`) exchanges it once for the member's credential and
//! keeps that in the tab's session storage; the code is then spent, so a link that leaks later
//! (shell history, a chat log, a screenshot) opens nothing. Codes are kept only as SHA-256
//! digests, and never logged.
//!
//! Both records go through [`Store::record_once`], which is atomic and shared by every instance
//! of a shared store: the code's record (room and member), and its "spent" mark. The first
//! redemption to set the mark wins on any instance; every other is refused.
//!
//! [`Store::record_once`]: super::Store::record_once

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::ChatError;
use super::{Engine, ids};

const PREFIX: &str = "lnk_";
const SECRET_BYTES: usize = 16;
/// How long a link works: long enough to click it, short enough that an old one is dead.
pub const LIFETIME: Duration = Duration::from_secs(10 * 60);

/// What a redeemed link opens: a room, as one of its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub room_id: String,
    pub client_id: String,
}

fn record_key(code: &str, what: &str) -> String {
    let digest = Sha256::digest(code.as_bytes());
    format!("link:{what}:{}", ids::hex(&digest))
}

pub(crate) fn well_formed(code: &str) -> bool {
    code.strip_prefix(PREFIX).is_some_and(|secret| {
        secret.len() == SECRET_BYTES * 2 && secret.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

impl Engine {
    /// A new link code for `client_id`'s place in `room_id` (checked: only a member gets one).
    pub async fn make_link(&self, room_id: &str, client_id: &str) -> Result<String, ChatError> {
        self.room(room_id, client_id).await?;
        let code = format!("{PREFIX}{}", ids::random_hex::<SECRET_BYTES>());
        let opened = format!("{room_id}\n{client_id}");
        self.store
            .record_once(&record_key(&code, "for"), &opened, LIFETIME)
            .await?;
        Ok(code)
    }

    /// Spends `code`: the room and member it opens, the first time within its lifetime; `None`
    /// for a code that is wrong, expired or spent (one answer for all: which one it was would
    /// only help someone guessing).
    /// Every attempt is charged to the caller's address (`ChatError::RateLimited` past the
    /// rate of creations).
    pub async fn redeem_link(&self, code: &str) -> Result<Option<Opened>, ChatError> {
        self.take_link_token().await?;
        let code = code.trim();
        if !well_formed(code) {
            return Ok(None);
        }
        // `record_once` reads without writing when a record exists; for a wrong code it leaves
        // an empty record (random, so never a real code's), which expires with the lifetime.
        let Some(opened) = self
            .store
            .record_once(&record_key(code, "for"), "", LIFETIME)
            .await?
        else {
            return Ok(None);
        };
        let Some((room_id, client_id)) = opened.split_once('\n') else {
            return Ok(None);
        };
        let spent = self
            .store
            .record_once(&record_key(code, "spent"), "spent", LIFETIME)
            .await?;
        if spent.is_some() {
            return Ok(None);
        }
        Ok(Some(Opened {
            room_id: room_id.to_owned(),
            client_id: client_id.to_owned(),
        }))
    }
}

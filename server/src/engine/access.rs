//! Who is calling, and what they may still do: identities, rate tokens, room quotas and the
//! per-client cap on parked waits.

use std::hash::BuildHasher;
use std::time::Duration;

use mcp_chat_shared::chat::RoomStatus;

use super::model::ClientRecord;
use super::rate::{Rate, Taken};
use super::{ChatError, Engine, ids, source};
use crate::metrics::metrics;

/// How stale a client's `last_seen_ms` may be (at most a tenth of the idle expiry).
pub(super) const TOUCH_RESOLUTION: Duration = Duration::from_secs(1);

/// A long poll's place in [`Engine::waits`]; gives it back when dropped.
pub(super) struct WaitSlot<'a> {
    engine: &'a Engine,
    /// The client's key in `waits` (see there).
    key: u64,
}

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        metrics().parked_waits.dec();
        let mut waits = self.engine.waits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = waits.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                waits.remove(&self.key);
            }
        }
    }
}

impl Engine {
    pub(super) async fn authenticate(&self, client_id: &str) -> Result<ClientRecord, ChatError> {
        if !ids::looks_like_client_id(client_id) {
            return Err(ChatError::UnknownClient);
        }
        let client = self
            .store
            .client(client_id)
            .await?
            .ok_or(ChatError::UnknownClient)?;
        // Only known clients get a bucket: ids a caller makes up must not create state.
        let calls = self.limits.call_rate();
        self.take_token(&format!("call:{client_id}"), calls, || {
            format!(
                "calls: at most {} per second per client_id",
                self.limits.calls_per_second
            )
        })
        .await?;
        // Activity is kept to the second, not the millisecond: a durable store would otherwise
        // write a row on every call for a figure only the idle sweep reads, in minutes.
        let now = ids::now_ms();
        let resolution = (self.limits.client_idle_ttl / 10).min(TOUCH_RESOLUTION);
        if now
            >= client
                .last_seen_ms
                .saturating_add(resolution.as_millis() as u64)
        {
            self.store.touch_client(client_id, now).await?;
        }
        Ok(client)
    }

    /// Takes a token from rate bucket `key`, or fails with `rate_limited` naming `what`.
    pub(super) async fn take_token(
        &self,
        key: &str,
        rate: Rate,
        what: impl FnOnce() -> String,
    ) -> Result<(), ChatError> {
        match self.store.take_token(key, rate).await? {
            Taken::Yes => Ok(()),
            Taken::RetryAfter(retry_after) => Err(ChatError::RateLimited {
                what: what(),
                retry_after,
            }),
        }
    }

    /// Charges the caller's address for creating an identity or a room: without a limit one
    /// address could fill `max_clients` or `max_rooms` and lock everybody else out.
    pub(super) async fn take_creation_token(&self) -> Result<(), ChatError> {
        self.take_token(&creation_bucket(), self.limits.creation_rate(), || {
            format!(
                "new identities and rooms: at most {} per minute from one address",
                self.limits.creations_per_minute
            )
        })
        .await
    }

    /// Charges the caller's address for presenting an invitation, at the rate of creations:
    /// a code's 128 random bits are out of reach of guessing, and this keeps it so.
    pub(super) async fn take_invite_token(&self) -> Result<(), ChatError> {
        self.take_code_token("invite", "invitations presented")
            .await
    }

    /// Charges the caller's address for presenting a browser link's code, at the rate of
    /// creations: as for invitations, guessing stays out of reach, and a flood of wrong codes
    /// cannot fill the store with the records their lookups leave.
    pub(super) async fn take_link_token(&self) -> Result<(), ChatError> {
        self.take_code_token("link", "links opened").await
    }

    /// One bucket per kind of code and address, refilled at the rate of creations.
    async fn take_code_token(&self, kind: &str, what: &str) -> Result<(), ChatError> {
        let bucket = format!("{kind}:{}", source::current());
        self.take_token(&bucket, self.limits.creation_rate(), || {
            format!(
                "{what}: at most {} per minute from one address",
                self.limits.creations_per_minute
            )
        })
        .await
    }

    /// Returns a token [`Self::take_creation_token`] took for a call that created nothing.
    pub(super) async fn give_back_creation_token(&self) {
        if let Err(e) = self
            .store
            .give_back_token(&creation_bucket(), self.limits.creation_rate())
            .await
        {
            tracing::debug!(error = %e, "could not give a creation token back");
        }
    }

    /// Holds one of `client_id`'s long-poll places for as long as the guard lives.
    pub(super) fn wait_slot(&self, client_id: &str) -> Result<WaitSlot<'_>, ChatError> {
        let key = self.wait_keys.hash_one(client_id);
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        let n = waits.entry(key).or_insert(0);
        if *n >= self.limits.max_waits_per_client {
            return Err(ChatError::TooManyWaits {
                limit: self.limits.max_waits_per_client,
            });
        }
        *n += 1;
        metrics().parked_waits.inc();
        Ok(WaitSlot { engine: self, key })
    }

    /// Rooms `client_id` is in that have not ended: what the per-client room quota counts.
    pub(super) async fn live_rooms(&self, client_id: &str) -> Result<usize, ChatError> {
        let mut live = 0;
        for room_id in self.store.client_rooms(client_id).await? {
            if self
                .store
                .room(&room_id)
                .await?
                .is_some_and(|r| r.status != RoomStatus::Ended)
            {
                live += 1;
            }
        }
        Ok(live)
    }

    pub(super) async fn check_room_quota(&self, client_id: &str) -> Result<(), ChatError> {
        let limit = self.limits.max_rooms_per_client;
        if self.live_rooms(client_id).await? >= limit {
            return Err(ChatError::TooManyRooms { limit });
        }
        Ok(())
    }

    pub(super) async fn new_client(&self, display_name: String) -> Result<ClientRecord, ChatError> {
        self.take_creation_token().await?;
        let client = new_identity(display_name, ids::now_ms());
        self.store
            .insert_client(client.clone(), self.limits.max_clients)
            .await?;
        Ok(client)
    }

    /// Undoes [`Self::new_client`] when the call that made it fails, so nothing half-applies.
    pub(super) async fn discard_client(&self, client: &ClientRecord) {
        if let Err(e) = self.store.remove_client(&client.client_id).await {
            tracing::warn!(error = %e, user_id = %client.user_id, "could not discard client");
        }
    }
}

/// A new identity, not stored yet: a fresh secret `client_id` and public `user_id`.
pub(super) fn new_identity(display_name: String, now: u64) -> ClientRecord {
    ClientRecord {
        client_id: ids::client_id(),
        user_id: ids::user_id(),
        display_name,
        created_ms: now,
        last_seen_ms: now,
    }
}

/// The rate bucket of creations from the current request's address.
fn creation_bucket() -> String {
    format!("create:{}", source::current())
}

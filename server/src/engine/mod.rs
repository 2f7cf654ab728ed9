//! The chat engine: rooms, the pairing queue, ordered logs, delivery cursors and waiting.
//!
//! It knows nothing of MCP; the `mcp` module is a thin adapter over it. State lives in a
//! [`Store`]; the rules in [`rules`]. Invariants (see ARCHITECTURE.md):
//!
//! - **Order**: a room's log is numbered 1, 2, 3, … without gaps, in the order the store
//!   committed the entries; everyone reads the same order.
//! - **No loss**: a send is acknowledged only after it is in the log, whoever is waiting. A wait
//!   returns every entry after the caller's cursor (or its explicit `after_seq`); the cursor moves
//!   in the same transaction that claims the entries, and moves back if the request was cancelled,
//!   so overlapping or cancelled waits neither drop nor duplicate anything.
//! - **Event-driven**: waiters sleep on their room's notifier; a commit to a room wakes exactly
//!   that room's waiters.

#[cfg(test)]
pub mod conformance;
pub mod error;
pub mod ids;
pub mod limits;
pub mod model;
pub mod rate;
pub mod rules;
pub mod source;
pub mod store;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_chat_shared::chat::{
    ChatMessage, EnterQueueResult, HistoryResult, JoinRoomResult, LeaveResult, MemberInfo,
    MessageKind, Participant, RoomResult, RoomStatus, SendMessageResult, WaitForMessageResult,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use error::ChatError;
pub use limits::Limits;
use model::{ClientRecord, Draft, Queue, QueueEntry, QueueState, Room, RoomKind};
use rate::{Rate, Taken};
use rules::LeaveReason;
use store::RoomChange;
pub use store::Store;

/// What entering the queue found, from inside the queue's transaction.
enum Entered {
    /// Queued, waiting for a partner.
    Waiting,
    /// Paired with this waiter, whose room is yet to be made.
    Pairing(QueueEntry),
    /// In the queue already, in this state.
    Already(QueueState),
}

pub struct Engine {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Long polls in progress in this process, per client: a per-instance cap, because what it
    /// protects (memory and connections held by parked requests) is per instance too.
    waits: Mutex<HashMap<String, usize>>,
    shutdown: CancellationToken,
}

/// A long poll's place in [`Engine::waits`]; gives it back when dropped.
struct WaitSlot<'a> {
    engine: &'a Engine,
    client_id: String,
}

impl Drop for WaitSlot<'_> {
    fn drop(&mut self) {
        let mut waits = self.engine.waits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = waits.get_mut(&self.client_id) {
            *n -= 1;
            if *n == 0 {
                waits.remove(&self.client_id);
            }
        }
    }
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub clients: usize,
    pub rooms: usize,
    pub queue_places: usize,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, limits: Limits, shutdown: CancellationToken) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            limits,
            waits: Mutex::new(HashMap::new()),
            shutdown,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sweeps every `limits.sweep_interval` until shutdown.
    pub fn spawn_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(engine.limits.sweep_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = engine.shutdown.cancelled() => return,
                }
                match engine.sweep(ids::now_ms()).await {
                    Ok(report) if report != SweepReport::default() => {
                        tracing::info!(?report, "expired idle state")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "sweep failed"),
                }
            }
        })
    }

    // -----------------------------------------------------------------------------------------
    // Identity
    // -----------------------------------------------------------------------------------------

    async fn authenticate(&self, client_id: &str) -> Result<ClientRecord, ChatError> {
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
    async fn take_token(
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
    async fn take_creation_token(&self) -> Result<(), ChatError> {
        let key = format!("create:{}", source::current());
        self.take_token(&key, self.limits.creation_rate(), || {
            format!(
                "new identities and rooms: at most {} per minute from one address",
                self.limits.creations_per_minute
            )
        })
        .await
    }

    /// Holds one of `client_id`'s long-poll places for as long as the guard lives.
    fn wait_slot(&self, client_id: &str) -> Result<WaitSlot<'_>, ChatError> {
        let mut waits = self.waits.lock().unwrap_or_else(|p| p.into_inner());
        let n = waits.entry(client_id.to_owned()).or_insert(0);
        if *n >= self.limits.max_waits_per_client {
            return Err(ChatError::TooManyWaits {
                limit: self.limits.max_waits_per_client,
            });
        }
        *n += 1;
        Ok(WaitSlot {
            engine: self,
            client_id: client_id.to_owned(),
        })
    }

    /// Rooms `client_id` is in that have not ended: what the per-client room quota counts.
    async fn live_rooms(&self, client_id: &str) -> Result<usize, ChatError> {
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

    async fn check_room_quota(&self, client_id: &str) -> Result<(), ChatError> {
        let limit = self.limits.max_rooms_per_client;
        if self.live_rooms(client_id).await? >= limit {
            return Err(ChatError::TooManyRooms { limit });
        }
        Ok(())
    }

    async fn new_client(&self, display_name: String) -> Result<ClientRecord, ChatError> {
        self.take_creation_token().await?;
        let now = ids::now_ms();
        let client = ClientRecord {
            client_id: ids::client_id(),
            user_id: ids::user_id(),
            display_name,
            created_ms: now,
            last_seen_ms: now,
        };
        self.store
            .insert_client(client.clone(), self.limits.max_clients)
            .await?;
        Ok(client)
    }

    /// Undoes [`Self::new_client`] when the call that made it fails, so nothing half-applies.
    async fn discard_client(&self, client: &ClientRecord) {
        if let Err(e) = self.store.remove_client(&client.client_id).await {
            tracing::warn!(error = %e, user_id = %client.user_id, "could not discard client");
        }
    }

    // -----------------------------------------------------------------------------------------
    // Queue
    // -----------------------------------------------------------------------------------------

    /// Queues for a partner. A first call (no `client_id`) answers at once; a call with the
    /// `client_id` of a waiting client keeps its place and long-polls until matched or timeout.
    pub async fn enter_queue(
        &self,
        display_name: Option<&str>,
        client_id: Option<&str>,
        timeout: Option<f64>,
        cancel: &CancellationToken,
    ) -> Result<EnterQueueResult, ChatError> {
        let wait = self.limits.wait_timeout(timeout)?;
        let name = display_name
            .map(|n| self.limits.display_name(n))
            .transpose()?;
        let (client, fresh) = match client_id {
            Some(id) => (self.authenticate(id).await?, false),
            None => (
                self.new_client(name.unwrap_or_else(ids::guest_name))
                    .await?,
                true,
            ),
        };
        let result = async {
            if !fresh {
                self.queued_or_room_quota(&client.client_id).await?;
            }
            self.queue_and_pair(&client).await
        }
        .await;
        if result.is_err() && fresh {
            self.discard_client(&client).await;
        }
        if let Some(matched) = result? {
            return Ok(matched);
        }
        let wait = if fresh && timeout.is_none() {
            Duration::ZERO
        } else {
            wait
        };
        let _slot = (!wait.is_zero())
            .then(|| self.wait_slot(&client.client_id))
            .transpose()?;
        match self
            .await_match(&client, Instant::now() + wait, cancel)
            .await?
        {
            Some((room_id, partner)) => Ok(self.matched_result(&client, room_id, partner)),
            None => self.waiting_result(&client).await,
        }
    }

    /// Puts `client` in the queue, or pairs it with the oldest live waiter. Returns the match
    /// if one was made, or was made earlier and that chat is still going on.
    async fn queue_and_pair(
        &self,
        client: &ClientRecord,
    ) -> Result<Option<EnterQueueResult>, ChatError> {
        let now = ids::now_ms();
        let ttl = self.limits.queue_ttl.as_millis() as u64;
        let (entered, _) = self
            .store
            .change_queue(|queue| {
                tidy_queue(queue, now, ttl);
                if let Some(mine) = queue.entry_mut(&client.client_id) {
                    mine.last_seen_ms = now;
                    return Ok(Entered::Already(mine.state.clone()));
                }
                if let Some(other) = queue
                    .entries
                    .iter_mut()
                    .find(|e| e.state == QueueState::Waiting)
                {
                    other.state = QueueState::Pairing;
                    // When the pairing began: see `release_stalled_pairings`.
                    other.last_seen_ms = now;
                    return Ok(Entered::Pairing(other.clone()));
                }
                queue.entries.push(QueueEntry {
                    client_id: client.client_id.clone(),
                    user_id: client.user_id.clone(),
                    display_name: client.display_name.clone(),
                    enqueued_ms: now,
                    last_seen_ms: now,
                    polling_until_ms: 0,
                    state: QueueState::Waiting,
                });
                Ok(Entered::Waiting)
            })
            .await?;
        let partner = match entered {
            Entered::Waiting => return Ok(None),
            Entered::Pairing(partner) => partner,
            Entered::Already(state) => return self.queued_already(client, state).await,
        };
        match self.create_paired_room(&partner, client).await {
            Ok((room_id, me)) => {
                self.store
                    .change_queue(|queue| {
                        if let Some(e) = queue.entry_mut(&partner.client_id) {
                            e.state = QueueState::Matched {
                                room_id: room_id.clone(),
                                partner: me.clone(),
                            };
                        }
                        Ok(())
                    })
                    .await?;
                tracing::info!(room_id = %room_id, "queue paired two clients");
                let partner = Participant {
                    user_id: partner.user_id.clone(),
                    display_name: partner.display_name.clone(),
                };
                Ok(Some(self.matched_result(client, room_id, partner)))
            }
            Err(e) => {
                // Give the partner its place back.
                self.store
                    .change_queue(|queue| {
                        if let Some(p) = queue.entry_mut(&partner.client_id) {
                            p.state = QueueState::Waiting;
                        }
                        Ok(())
                    })
                    .await?;
                Err(e)
            }
        }
    }

    /// `client` was in the queue already, in `state`.
    async fn queued_already(
        &self,
        client: &ClientRecord,
        state: QueueState,
    ) -> Result<Option<EnterQueueResult>, ChatError> {
        let QueueState::Matched { room_id, partner } = state else {
            return Ok(None);
        };
        // Still in that chat: say so again (the View and the model may share this identity and
        // each must learn the room). Once that chat is over, queueing again means "find me
        // someone new".
        if self.in_live_room(&room_id, &client.client_id).await? {
            return Ok(Some(self.matched_result(client, room_id, partner)));
        }
        self.forget_queue_entry(&client.client_id).await?;
        Box::pin(self.queue_and_pair(client)).await
    }

    /// Returns the room and `second` as the room names them: "Dana (2)" if `first` is a Dana too.
    async fn create_paired_room(
        &self,
        first: &QueueEntry,
        second: &ClientRecord,
    ) -> Result<(String, Participant), ChatError> {
        let now = ids::now_ms();
        let room_id = ids::paired_room_id();
        let first_client = ClientRecord {
            client_id: first.client_id.clone(),
            user_id: first.user_id.clone(),
            display_name: first.display_name.clone(),
            created_ms: first.enqueued_ms,
            last_seen_ms: first.last_seen_ms,
        };
        let room = Room::new(room_id.clone(), RoomKind::Paired, 2, now);
        let committed = self
            .store
            .transact_room(&room_id, Some(room), self.limits.max_rooms, now, &|room| {
                rules::join(room, &first_client, now)?;
                rules::join(room, second, now)?;
                let name = |client: &ClientRecord| {
                    room.member(&client.client_id)
                        .map_or_else(|| client.display_name.clone(), |m| m.display_name.clone())
                };
                Ok(RoomChange::drafts(vec![Draft {
                    kind: MessageKind::Matched,
                    sender: None,
                    text: format!(
                        "{} and {} were matched. Say hello!",
                        name(&first_client),
                        name(second)
                    ),
                }]))
            })
            .await?;
        let me = committed
            .room
            .member(&second.client_id)
            .map_or_else(|| second.participant(), |m| m.participant());
        Ok((room_id, me))
    }

    /// Waits until `client`'s queue place is matched (`Some`) or `deadline` passes (`None`).
    async fn await_match(
        &self,
        client: &ClientRecord,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<Option<(String, Participant)>, ChatError> {
        self.keep_place_while_polling(&client.client_id, deadline)
            .await?;
        loop {
            let (queue, version) = self.store.queue().await?;
            match queue.entry(&client.client_id).map(|e| &e.state) {
                // Not consumed: another caller with the same identity may be asking too; the
                // place expires on its own after `queue_ttl`.
                Some(QueueState::Matched { room_id, partner }) => {
                    return Ok(Some((room_id.clone(), partner.clone())));
                }
                Some(_) => {}
                None => return Err(ChatError::NotQueued),
            }
            if Instant::now() >= deadline {
                self.refresh_queue_place(&client.client_id).await?;
                return Ok(None);
            }
            tokio::select! {
                r = self.store.wait_queue(version, deadline) => r?,
                _ = cancel.cancelled() => return Ok(None),
                _ = self.shutdown.cancelled() => return Err(ChatError::ShuttingDown),
            }
        }
    }

    /// Marks `client_id`'s queue place as polled until `deadline`, when its TTL would otherwise
    /// run out during the poll. Only then: every queue write wakes every queued poller.
    async fn keep_place_while_polling(
        &self,
        client_id: &str,
        deadline: Instant,
    ) -> Result<(), ChatError> {
        let ttl = self.limits.queue_ttl.as_millis() as u64;
        let until = ids::now_ms().saturating_add(
            deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
        );
        let (queue, _) = self.store.queue().await?;
        let runs_out = queue
            .entry(client_id)
            .is_some_and(|e| e.last_present_ms().saturating_add(ttl) < until);
        if runs_out {
            self.store
                .change_queue(|queue| {
                    if let Some(e) = queue.entry_mut(client_id) {
                        e.polling_until_ms = e.polling_until_ms.max(until);
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    /// A client already queued keeps its place; one entering anew must have room for one more
    /// chat under its room quota.
    async fn queued_or_room_quota(&self, client_id: &str) -> Result<(), ChatError> {
        let (queue, _) = self.store.queue().await?;
        if queue.entry(client_id).is_some() {
            return Ok(());
        }
        self.check_room_quota(client_id).await
    }

    async fn in_live_room(&self, room_id: &str, client_id: &str) -> Result<bool, ChatError> {
        Ok(self
            .store
            .room(room_id)
            .await?
            .is_some_and(|r| r.status != RoomStatus::Ended && r.member(client_id).is_some()))
    }

    async fn refresh_queue_place(&self, client_id: &str) -> Result<(), ChatError> {
        let now = ids::now_ms();
        self.store
            .change_queue(|queue| {
                if let Some(e) = queue.entry_mut(client_id) {
                    e.last_seen_ms = now;
                }
                Ok(())
            })
            .await
            .map(drop)
    }

    async fn forget_queue_entry(&self, client_id: &str) -> Result<(), ChatError> {
        self.store
            .change_queue(|queue| {
                queue.remove(client_id);
                Ok(())
            })
            .await
            .map(drop)
    }

    fn matched_result(
        &self,
        client: &ClientRecord,
        room_id: String,
        partner: Participant,
    ) -> EnterQueueResult {
        EnterQueueResult {
            status: "matched".into(),
            client_id: client.client_id.clone(),
            user_id: client.user_id.clone(),
            message: format!(
                "You are matched with {} in room {room_id}. Send with send_message; receive with \
                 wait_for_message (call it again after every answer).",
                partner.display_name
            ),
            room_id: Some(room_id),
            partner: Some(partner),
            position: None,
            queue_length: None,
            poll_within_seconds: None,
        }
    }

    async fn waiting_result(&self, client: &ClientRecord) -> Result<EnterQueueResult, ChatError> {
        let (queue, _) = self.store.queue().await?;
        let position = queue.position(&client.client_id).unwrap_or(1);
        let ttl = self.limits.queue_ttl.as_secs();
        Ok(EnterQueueResult {
            status: "waiting".into(),
            client_id: client.client_id.clone(),
            user_id: client.user_id.clone(),
            room_id: None,
            partner: None,
            position: Some(position),
            queue_length: Some(queue.waiting_len()),
            poll_within_seconds: Some(ttl),
            message: format!(
                "Waiting for a partner (position {position}). Call enter_queue again with your \
                 client_id, or wait_for_message with your client_id, to wait for the match; do so \
                 within {ttl} s or your place expires."
            ),
        })
    }

    pub async fn leave_queue(&self, client_id: &str) -> Result<LeaveResult, ChatError> {
        let client = self.authenticate(client_id).await?;
        let (removed, _) = self
            .store
            .change_queue(|queue| Ok(queue.remove(&client.client_id)))
            .await?;
        match removed.map(|e| e.state) {
            None => Err(ChatError::NotQueued),
            Some(QueueState::Matched { room_id, .. }) => Ok(LeaveResult {
                success: true,
                message: format!(
                    "You had already been matched into room {room_id}; use leave_chat to leave it."
                ),
                room_status: None,
            }),
            Some(_) => Ok(LeaveResult {
                success: true,
                message: "You left the queue.".into(),
                room_status: None,
            }),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Rooms
    // -----------------------------------------------------------------------------------------

    pub async fn join_room(
        &self,
        room_id: &str,
        display_name: &str,
        capacity: Option<u32>,
        client_id: Option<&str>,
    ) -> Result<JoinRoomResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let name = self.limits.display_name(display_name)?;
        let capacity = self.limits.capacity(capacity)?;
        let (client, fresh) = match client_id {
            Some(id) => (self.authenticate(id).await?, false),
            None => (self.new_client(name).await?, true),
        };
        let newly_in = match self.admit_to_room(&room_id, &client, fresh).await {
            Ok(newly_in) => newly_in,
            Err(e) => {
                if fresh {
                    self.discard_client(&client).await;
                }
                return Err(e);
            }
        };
        let now = ids::now_ms();
        let new_room = Room::new(room_id.clone(), RoomKind::Named, capacity, now);
        let committed = self
            .store
            .transact_room(
                &room_id,
                Some(new_room),
                self.limits.max_rooms,
                now,
                &|room| rules::join(room, &client, now).map(RoomChange::drafts),
            )
            .await;
        let committed = match committed {
            Ok(c) => c,
            Err(e) => {
                if fresh {
                    self.discard_client(&client).await;
                }
                return Err(e);
            }
        };
        if newly_in && !fresh {
            self.undo_join_over_quota(&room_id, &client).await?;
        }
        let room = committed.room;
        let partner = (room.capacity == 2)
            .then(|| {
                room.members
                    .iter()
                    .find(|m| m.client_id != client.client_id)
            })
            .flatten()
            .map(|m| m.participant());
        let others = room.members.len() - 1;
        let message = match (committed.created, &partner) {
            (true, _) => format!(
                "Room {room_id} created; you are its first member (capacity {}). Messages you send \
                 now wait for whoever joins. Receive with wait_for_message.",
                room.capacity
            ),
            (false, Some(p)) => format!(
                "Joined room {room_id} with {}. Send with send_message; receive with wait_for_message.",
                p.display_name
            ),
            (false, None) => format!(
                "Joined room {room_id} ({others} other member{}).",
                if others == 1 { "" } else { "s" }
            ),
        };
        tracing::info!(room_id = %room_id, user_id = %client.user_id, created = committed.created, "joined room");
        Ok(JoinRoomResult {
            status: if committed.created {
                "room_created"
            } else {
                "joined"
            }
            .into(),
            room_id,
            client_id: client.client_id.clone(),
            user_id: client.user_id.clone(),
            partner,
            members: member_infos(&room, &client.client_id),
            capacity: room.capacity,
            room_status: room.status,
            latest_seq: room.latest_seq,
            message,
        })
    }

    /// Checks the quotas a join may break, before it happens. Returns whether the client is not
    /// in the room yet.
    async fn admit_to_room(
        &self,
        room_id: &str,
        client: &ClientRecord,
        fresh: bool,
    ) -> Result<bool, ChatError> {
        if fresh {
            // In no room yet, and its creation was charged already.
            return Ok(true);
        }
        let existing = self.store.room(room_id).await?;
        if existing
            .as_ref()
            .is_some_and(|r| r.member(&client.client_id).is_some())
        {
            return Ok(false);
        }
        self.check_room_quota(&client.client_id).await?;
        if existing.is_none() {
            self.take_creation_token().await?;
        }
        Ok(true)
    }

    /// Concurrent joins by one client each pass [`Self::admit_to_room`] before any commits; the
    /// quota must still hold, so a join that went over it is taken back.
    async fn undo_join_over_quota(
        &self,
        room_id: &str,
        client: &ClientRecord,
    ) -> Result<(), ChatError> {
        let limit = self.limits.max_rooms_per_client;
        if self.live_rooms(&client.client_id).await? <= limit {
            return Ok(());
        }
        self.leave_room(room_id, &client.client_id, LeaveReason::Left)
            .await?;
        Err(ChatError::TooManyRooms { limit })
    }

    pub async fn send(
        &self,
        room_id: &str,
        client_id: &str,
        text: &str,
    ) -> Result<SendMessageResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        self.limits.message(text)?;
        let client = self.authenticate(client_id).await?;
        let sends = self.limits.message_rate();
        let bucket = format!("send:{}", client.client_id);
        self.take_token(&bucket, sends, || {
            format!(
                "messages: at most {} per second",
                self.limits.messages_per_second
            )
        })
        .await?;
        let now = ids::now_ms();
        let max = self.limits.max_messages_per_room;
        let committed = self
            .update_room(&room_id, now, |room| {
                rules::send(room, &client.client_id, text, max, now)
            })
            .await;
        let committed = match committed {
            Ok(c) => c,
            Err(e) => {
                if let Err(give_back) = self.store.give_back_token(&bucket, sends).await {
                    tracing::debug!(error = %give_back, "could not give a send token back");
                }
                return Err(e);
            }
        };
        let message = committed
            .appended
            .first()
            .ok_or_else(|| ChatError::Storage("the store appended nothing".into()))?;
        tracing::debug!(room_id = %room_id, seq = message.seq, text = %message.text, "message sent");
        Ok(SendMessageResult {
            success: true,
            message_id: message.message_id.clone(),
            seq: message.seq,
            timestamp: message.timestamp.clone(),
            members_present: committed.room.members.len() as u32,
            room_status: committed.room.status,
        })
    }

    /// Returns every message `client_id` has not been given yet (or everything after
    /// `after_seq`), waiting up to `timeout` for one when none is pending.
    pub async fn wait(
        &self,
        room_id: Option<&str>,
        client_id: &str,
        timeout: Option<f64>,
        after_seq: Option<u64>,
        include_own: bool,
        cancel: &CancellationToken,
    ) -> Result<WaitForMessageResult, ChatError> {
        let room_id = room_id
            .filter(|r| !r.is_empty())
            .map(|r| self.limits.room_id(r))
            .transpose()?;
        let wait = self.limits.wait_timeout(timeout)?;
        let started = Instant::now();
        let deadline = started + wait;
        let client = self.authenticate(client_id).await?;
        let _slot = self.wait_slot(&client.client_id)?;
        let room_id = match room_id {
            Some(r) => r,
            None => match self.room_of(&client, deadline, cancel).await? {
                Some(r) => r,
                None => return self.still_queued(&client).await,
            },
        };
        let result = self
            .wait_in_room(&room_id, &client, deadline, after_seq, include_own, cancel)
            .await;
        // A long wait counts as activity at its end too, not only at its start. Best effort:
        // the batch may be claimed already, and failing the call over a timestamp would lose it.
        if started.elapsed() >= LONG_WAIT
            && let Err(e) = self
                .store
                .touch_client(&client.client_id, ids::now_ms())
                .await
        {
            tracing::warn!(error = %e, "could not record a client's activity");
        }
        result
    }

    /// The room a wait without `room_id` is about: the one the queue matched the client into
    /// (waiting for the match if need be), or the only room it is in.
    async fn room_of(
        &self,
        client: &ClientRecord,
        deadline: Instant,
        cancel: &CancellationToken,
    ) -> Result<Option<String>, ChatError> {
        let (queue, _) = self.store.queue().await?;
        if queue.entry(&client.client_id).is_some() {
            return Ok(self
                .await_match(client, deadline, cancel)
                .await?
                .map(|(room_id, _)| room_id));
        }
        let rooms = self.store.client_rooms(&client.client_id).await?;
        match rooms.as_slice() {
            [only] => Ok(Some(only.clone())),
            [] => Err(ChatError::invalid(
                "room_id",
                "is required: you are in no room and not in the queue",
            )),
            several => Err(ChatError::invalid(
                "room_id",
                format!(
                    "is required: you are in several rooms ({})",
                    several.join(", ")
                ),
            )),
        }
    }

    async fn still_queued(&self, client: &ClientRecord) -> Result<WaitForMessageResult, ChatError> {
        let (queue, _) = self.store.queue().await?;
        Ok(WaitForMessageResult {
            messages: Vec::new(),
            timeout: true,
            has_more: false,
            room_id: None,
            room_status: None,
            queue_position: queue.position(&client.client_id),
            last_seq: 0,
            message: Some("Still waiting for a partner in the queue.".into()),
            sender: None,
            timestamp: None,
            message_id: None,
        })
    }

    async fn wait_in_room(
        &self,
        room_id: &str,
        client: &ClientRecord,
        deadline: Instant,
        after_seq: Option<u64>,
        include_own: bool,
        cancel: &CancellationToken,
    ) -> Result<WaitForMessageResult, ChatError> {
        let mut explicit_from = after_seq;
        loop {
            // Scoped so the room snapshot and the batch are dropped before parking: a parked
            // wait should hold as little memory as it can (10,000 of them may be parked).
            let last = {
                let (batch, room, full) = match explicit_from {
                    Some(from) => self.read_after(room_id, client, from).await?,
                    None => self.claim(room_id, client, cancel).await?,
                };
                // An `after_seq` past the log's end waits for the next entry.
                explicit_from = explicit_from.map(|from| from.min(room.latest_seq));
                let last = batch
                    .last()
                    .map(|m| m.seq)
                    .or(explicit_from)
                    .unwrap_or_else(|| {
                        room.member(&client.client_id)
                            .map_or(0, |m| m.delivered_seq)
                    });
                let visible: Vec<ChatMessage> = batch
                    .into_iter()
                    .filter(|m| include_own || !is_own_chat(m, &client.user_id))
                    .collect();
                let ended = room.status == RoomStatus::Ended && last >= room.latest_seq;
                if !visible.is_empty()
                    || ended
                    || Instant::now() >= deadline
                    || cancel.is_cancelled()
                {
                    return Ok(wait_result(room_id, &room, visible, last, full));
                }
                last
            };
            if explicit_from.is_some() {
                explicit_from = Some(last);
            }
            tokio::select! {
                r = self.store.wait_room(room_id, last, deadline) => r?,
                _ = cancel.cancelled() => {}
                _ = self.shutdown.cancelled() => return Err(ChatError::ShuttingDown),
            }
        }
    }

    /// Claims everything after the member's cursor and moves the cursor past it.
    ///
    /// The batch is read *before* the cursor moves, and the move is a compare-and-set on the
    /// cursor read: a read that fails claims nothing, and a concurrent wait that claimed first
    /// makes this one read again, so a batch is either handed out or still pending. A wait with
    /// nothing pending writes nothing. If the request was cancelled meanwhile, the claim is given
    /// back.
    async fn claim(
        &self,
        room_id: &str,
        client: &ClientRecord,
        cancel: &CancellationToken,
    ) -> Result<(Vec<ChatMessage>, Room, bool), ChatError> {
        let max_batch = self.limits.max_batch as u64;
        loop {
            let room = self.member_room(room_id, client).await?;
            let from = room
                .member(&client.client_id)
                .map_or(0, |m| m.delivered_seq);
            let to = room.latest_seq.min(from.saturating_add(max_batch));
            if to <= from || cancel.is_cancelled() {
                return Ok((Vec::new(), room, false));
            }
            let batch = self
                .store
                .messages_after(room_id, from, (to - from) as usize)
                .await?;
            // No room is created here, so the room limit cannot apply.
            let (committed, claimed) = self
                .store
                .change_room(room_id, None, usize::MAX, ids::now_ms(), |room| {
                    let member = room
                        .member_mut(&client.client_id)
                        .ok_or_else(|| ChatError::NotAMember(room_id.to_owned()))?;
                    // Another wait may have claimed these entries since they were read.
                    let claimed = member.delivered_seq == from;
                    if claimed {
                        member.delivered_seq = to;
                    }
                    Ok((Vec::new(), claimed))
                })
                .await?;
            if !claimed {
                continue;
            }
            if cancel.is_cancelled() {
                self.give_back(room_id, client, from, to).await?;
                return Ok((Vec::new(), committed.room, false));
            }
            let full = to < committed.room.latest_seq;
            return Ok((batch, committed.room, full));
        }
    }

    /// Moves the cursor from `to` back to `from`, unless another wait moved it since.
    async fn give_back(
        &self,
        room_id: &str,
        client: &ClientRecord,
        from: u64,
        to: u64,
    ) -> Result<(), ChatError> {
        self.update_room(room_id, ids::now_ms(), |room| {
            if let Some(m) = room.member_mut(&client.client_id)
                && m.delivered_seq == to
            {
                m.delivered_seq = from;
            }
            Ok(Vec::new())
        })
        .await
        .map(drop)
    }

    /// Reads after an explicit `after_seq`; the member's own cursor is left alone, so a View
    /// and a model sharing one identity do not take each other's messages.
    async fn read_after(
        &self,
        room_id: &str,
        client: &ClientRecord,
        from: u64,
    ) -> Result<(Vec<ChatMessage>, Room, bool), ChatError> {
        let room = self.member_room(room_id, client).await?;
        let batch = self
            .store
            .messages_after(room_id, from, self.limits.max_batch)
            .await?;
        let full = batch.last().is_some_and(|m| m.seq < room.latest_seq);
        Ok((batch, room, full))
    }

    async fn member_room(&self, room_id: &str, client: &ClientRecord) -> Result<Room, ChatError> {
        let room = self
            .store
            .room(room_id)
            .await?
            .ok_or_else(|| ChatError::RoomNotFound(room_id.to_owned()))?;
        if room.member(&client.client_id).is_none() {
            return Err(ChatError::NotAMember(room_id.to_owned()));
        }
        Ok(room)
    }

    /// A transaction on a room that must already exist (`RoomNotFound` otherwise).
    async fn update_room(
        &self,
        room_id: &str,
        now: u64,
        rule: impl Fn(&mut Room) -> Result<Vec<Draft>, ChatError> + Sync,
    ) -> Result<store::Committed, ChatError> {
        // No room is created here, so the room limit cannot apply.
        self.store
            .transact_room(room_id, None, usize::MAX, now, &|room| {
                rule(room).map(RoomChange::drafts)
            })
            .await
    }

    pub async fn leave(&self, room_id: &str, client_id: &str) -> Result<LeaveResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let client = self.authenticate(client_id).await?;
        let committed = self
            .leave_room(&room_id, &client.client_id, LeaveReason::Left)
            .await?;
        tracing::info!(room_id = %room_id, user_id = %client.user_id, "left room");
        Ok(LeaveResult {
            success: true,
            message: "Successfully left the chat".into(),
            room_status: Some(committed.room.status),
        })
    }

    async fn leave_room(
        &self,
        room_id: &str,
        client_id: &str,
        reason: LeaveReason,
    ) -> Result<store::Committed, ChatError> {
        let now = ids::now_ms();
        self.update_room(room_id, now, |room| {
            rules::leave(room, client_id, reason, now)
        })
        .await
    }

    pub async fn history(
        &self,
        room_id: &str,
        client_id: &str,
        before_seq: Option<u64>,
        limit: Option<u32>,
    ) -> Result<HistoryResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let limit = self.limits.history_limit(limit)?;
        let client = self.authenticate(client_id).await?;
        let room = self.member_room(&room_id, &client).await?;
        let before = before_seq.unwrap_or(room.latest_seq + 1);
        let messages = self.store.messages_before(&room_id, before, limit).await?;
        let has_more = messages.first().is_some_and(|m| m.seq > 1);
        Ok(HistoryResult {
            room_id,
            messages,
            has_more,
            latest_seq: room.latest_seq,
        })
    }

    pub async fn room(&self, room_id: &str, client_id: &str) -> Result<RoomResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let client = self.authenticate(client_id).await?;
        let room = self.member_room(&room_id, &client).await?;
        Ok(RoomResult {
            room_id,
            status: room.status,
            capacity: room.capacity,
            members: member_infos(&room, &client.client_id),
            latest_seq: room.latest_seq,
            created_at: ids::rfc3339(room.created_ms),
            you: client.participant(),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Expiry
    // -----------------------------------------------------------------------------------------

    /// Removes idle clients (they leave their rooms, which others see), idle empty or ended
    /// rooms, and queue places nobody polled.
    pub async fn sweep(&self, now: u64) -> Result<SweepReport, ChatError> {
        let queue_ttl = self.limits.queue_ttl.as_millis() as u64;
        let (queue_places, _) = self
            .store
            .change_queue(|queue| Ok(tidy_queue(queue, now, queue_ttl)))
            .await?;
        let mut report = SweepReport {
            queue_places,
            ..SweepReport::default()
        };

        let client_cutoff = now.saturating_sub(self.limits.client_idle_ttl.as_millis() as u64);
        for client in self.store.idle_clients(client_cutoff).await? {
            // The listing may be stale by now (a long sweep; other instances sweeping too): a
            // client that came back since keeps its rooms and its identity.
            let current = self.store.client(&client.client_id).await?;
            if current.is_some_and(|c| c.last_seen_ms >= client_cutoff) {
                continue;
            }
            for room_id in self.store.client_rooms(&client.client_id).await? {
                match self
                    .leave_room(&room_id, &client.client_id, LeaveReason::TimedOut)
                    .await
                {
                    Ok(_) | Err(ChatError::NotAMember(_) | ChatError::RoomNotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            self.forget_queue_entry(&client.client_id).await?;
            self.store.remove_client(&client.client_id).await?;
            report.clients += 1;
        }

        self.store.prune_tokens();

        let room_cutoff = now.saturating_sub(self.limits.room_idle_ttl.as_millis() as u64);
        for room_id in self.store.idle_rooms(room_cutoff).await? {
            if self.store.remove_room(&room_id, room_cutoff).await? {
                report.rooms += 1;
            }
        }
        Ok(report)
    }
}

/// Done at every look at the queue: stalled pairings go back to waiting and dead places go.
/// Returns how many places went.
fn tidy_queue(queue: &mut Queue, now: u64, ttl: u64) -> usize {
    release_stalled_pairings(queue, now, ttl);
    let before = queue.entries.len();
    queue.entries.retain(|e| !expired(e, now, ttl));
    before - queue.entries.len()
}

/// A pairing takes two queue transactions around the room's creation. If the second never
/// happens (the instance died in between, or the store failed for longer than the retries), the
/// partner's place would stay `Pairing` forever and never be matched again: after a TTL it
/// goes back to `Waiting`.
fn release_stalled_pairings(queue: &mut Queue, now: u64, ttl: u64) {
    for entry in &mut queue.entries {
        if entry.state == QueueState::Pairing && entry.last_seen_ms.saturating_add(ttl) < now {
            entry.state = QueueState::Waiting;
            entry.last_seen_ms = now;
        }
    }
}

/// A queue place is dead when nobody polled it within the TTL. Matched places are kept for the
/// same time, so a client who polls late still learns its room.
fn expired(entry: &QueueEntry, now: u64, ttl: u64) -> bool {
    entry.state != QueueState::Pairing && entry.last_present_ms().saturating_add(ttl) < now
}

/// How stale a client's `last_seen_ms` may be (at most a tenth of the idle expiry).
const TOUCH_RESOLUTION: Duration = Duration::from_secs(1);
/// A wait at least this long records the client's activity again when it ends (a shorter one
/// was recorded when it began, and polling must not cost a write per call).
const LONG_WAIT: Duration = Duration::from_millis(500);

fn is_own_chat(message: &ChatMessage, user_id: &str) -> bool {
    message.kind == MessageKind::Chat
        && message
            .sender
            .as_ref()
            .is_some_and(|s| s.user_id == user_id)
}

fn member_infos(room: &Room, client_id: &str) -> Vec<MemberInfo> {
    room.members
        .iter()
        .map(|m| MemberInfo {
            user_id: m.user_id.clone(),
            display_name: m.display_name.clone(),
            joined_at: ids::rfc3339(m.joined_ms),
            is_you: m.client_id == client_id,
        })
        .collect()
}

fn wait_result(
    room_id: &str,
    room: &Room,
    messages: Vec<ChatMessage>,
    last_seq: u64,
    has_more: bool,
) -> WaitForMessageResult {
    // Legacy single-message fields: the first chat message, else the first event.
    let legacy = messages
        .iter()
        .find(|m| m.kind == MessageKind::Chat)
        .or(messages.first());
    WaitForMessageResult {
        timeout: messages.is_empty() && room.status != RoomStatus::Ended,
        has_more,
        room_id: Some(room_id.to_owned()),
        room_status: Some(room.status),
        queue_position: None,
        last_seq,
        message: Some(match legacy {
            Some(m) => m.text.clone(),
            None if room.status == RoomStatus::Ended => "The chat has ended.".into(),
            None => "No message received within timeout period".into(),
        }),
        sender: legacy.and_then(|m| m.sender.as_ref().map(|s| s.display_name.clone())),
        timestamp: legacy.map(|m| m.timestamp.clone()),
        message_id: legacy.map(|m| m.message_id.clone()),
        messages,
    }
}

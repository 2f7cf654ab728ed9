//! Waiting for messages: the long poll, and claiming a batch by moving the member's cursor in
//! the same transaction, so overlapping or cancelled waits neither drop nor duplicate anything.

use std::sync::LazyLock;
use std::time::Duration;

use mcp_chat_shared::chat::{
    ChatMessage, MessageKind, RoomStatus, WaitForMessageParams, WaitForMessageResult,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::model::{ClientRecord, Room};
use super::rooms::{first_readable, member_of};
use super::rules;
use super::{ChatError, Engine, ids, source};

/// Tests only: a claimed batch waits this many milliseconds before its answer goes out, so a
/// test can kill the instance between the two (the moment `engine/answered.rs` is about).
pub const STALL_AFTER_CLAIM_ENV: &str = "MCP_CHAT_TEST_STALL_AFTER_CLAIM_MS";

static STALL_AFTER_CLAIM: LazyLock<Option<Duration>> = LazyLock::new(|| {
    std::env::var(STALL_AFTER_CLAIM_ENV)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map(Duration::from_millis)
});

/// A wait at least this long records the client's activity again when it ends (a shorter one
/// was recorded when it began, and polling must not cost a write per call).
pub(super) const LONG_WAIT: Duration = Duration::from_millis(500);

impl Engine {
    /// Returns every message `client_id` has not been given yet (or everything after
    /// `after_seq`), waiting up to `timeout` for one when none is pending.
    pub async fn wait(
        &self,
        request: &WaitForMessageParams,
        cancel: &CancellationToken,
    ) -> Result<WaitForMessageResult, ChatError> {
        let WaitForMessageParams {
            room_id,
            client_id,
            timeout,
            after_seq,
            include_own,
        } = request;
        let (timeout, after_seq, include_own) =
            (*timeout, *after_seq, include_own.unwrap_or(false));
        let room_id = room_id
            .as_deref()
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
        if let Ok(delivered) = &result {
            crate::metrics::metrics()
                .messages_delivered
                .inc_by(delivered.messages.len() as u64);
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
            message: None,
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
                // An `after_seq` past the log's end waits for the next entry; one before what
                // this member may read starts where they may.
                let first = first_readable(&room, client);
                explicit_from = explicit_from.map(|from| from.min(room.latest_seq).max(first - 1));
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
    ///
    /// On a shared store, over a transport that says when an answer left (HTTP), the claim also
    /// records where it started, and the cursor counts only once the answer is confirmed: an
    /// unconfirmed batch (its instance died before answering) is claimed again from there, so
    /// the client may see a message twice but never misses one (`engine/answered.rs`).
    async fn claim(
        &self,
        room_id: &str,
        client: &ClientRecord,
        cancel: &CancellationToken,
    ) -> Result<(Vec<ChatMessage>, Room, bool), ChatError> {
        let max_batch = self.limits.max_batch as u64;
        let hook = source::answer_hook().filter(|_| self.store.shared());
        loop {
            let (room, confirmed) = self
                .store
                .room_for_claim(room_id, &client.client_id)
                .await?;
            let room = member_of(room, room_id, client)?;
            let (cursor, unconfirmed, reads_from) =
                room.member(&client.client_id).map_or((0, None, 0), |m| {
                    (m.delivered_seq, m.unconfirmed_from, m.reads_from)
                });
            let from = match unconfirmed {
                Some(start) if start < cursor && confirmed < cursor => start,
                _ => cursor,
            }
            .max(reads_from.saturating_sub(1));
            let to = room.latest_seq.min(from.saturating_add(max_batch));
            if to <= from || cancel.is_cancelled() {
                return Ok((Vec::new(), room, false));
            }
            let batch = self
                .store
                .messages_after(room_id, from, (to - from) as usize)
                .await?;
            let handed = hook.is_some().then_some(from);
            // No room is created here, so the room limit cannot apply.
            let (committed, claimed) = self
                .store
                .change_room(room_id, None, usize::MAX, ids::now_ms(), |room| {
                    let outsider = rules::outsider(room, &client.user_id);
                    let member = room.member_mut(&client.client_id).ok_or(outsider)?;
                    // Another wait may have claimed these entries since they were read.
                    let claimed =
                        (member.delivered_seq, member.unconfirmed_from) == (cursor, unconfirmed);
                    if claimed {
                        member.delivered_seq = to;
                        member.unconfirmed_from = handed;
                    }
                    Ok((Vec::new(), claimed))
                })
                .await?;
            if !claimed {
                continue;
            }
            if cancel.is_cancelled() {
                self.give_back(room_id, client, (cursor, unconfirmed), (to, handed))
                    .await?;
                return Ok((Vec::new(), committed.room, false));
            }
            if let Some(hook) = hook {
                let (store, room_id, client_id) = (
                    self.store.clone(),
                    room_id.to_owned(),
                    client.client_id.clone(),
                );
                hook.on_answered(move || store.confirm_delivery(&room_id, &client_id, to));
            }
            if let Some(stall) = *STALL_AFTER_CLAIM {
                tokio::time::sleep(stall).await;
            }
            let full = to < committed.room.latest_seq;
            return Ok((batch, committed.room, full));
        }
    }

    /// Moves the cursor (and the unconfirmed claim's start) from `to` back to `from`, unless
    /// another wait moved it since.
    pub(super) async fn give_back(
        &self,
        room_id: &str,
        client: &ClientRecord,
        from: (u64, Option<u64>),
        to: (u64, Option<u64>),
    ) -> Result<(), ChatError> {
        self.update_room(room_id, ids::now_ms(), |room| {
            if let Some(m) = room.member_mut(&client.client_id)
                && (m.delivered_seq, m.unconfirmed_from) == to
            {
                (m.delivered_seq, m.unconfirmed_from) = from;
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
        let from = from.max(first_readable(&room, client) - 1);
        let batch = self
            .store
            .messages_after(room_id, from, self.limits.max_batch)
            .await?;
        let full = batch.last().is_some_and(|m| m.seq < room.latest_seq);
        Ok((batch, room, full))
    }
}

fn is_own_chat(message: &ChatMessage, user_id: &str) -> bool {
    message.kind == MessageKind::Chat
        && message
            .sender
            .as_ref()
            .is_some_and(|s| s.user_id == user_id)
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
        message: legacy.map(|m| m.text.clone()),
        sender: legacy.and_then(|m| m.sender.as_ref().map(|s| s.display_name.clone())),
        timestamp: legacy.map(|m| m.timestamp.clone()),
        message_id: legacy.map(|m| m.message_id.clone()),
        messages,
    }
}

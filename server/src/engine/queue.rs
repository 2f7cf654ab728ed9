//! The pairing queue: entering it, being matched with the oldest live waiter, leaving it.

mod places;

pub(super) use places::tidy_queue;

use std::time::Duration;

use mcp_chat_shared::chat::{
    EnterQueueResult, LeaveResult, MessageKind, Participant, QueueStatus, RoomStatus,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::idempotency::RetryKey;
use super::model::{ClientRecord, Draft, QueueEntry, QueueState, Room, RoomKind};
use super::rules::{self, Entry};
use super::store::RoomChange;
use super::{ChatError, Engine, ids};

/// What entering the queue found, from inside the queue's transaction.
enum Entered {
    /// Queued, waiting for a partner.
    Waiting,
    /// Paired with this waiter, whose room is yet to be made.
    Pairing(QueueEntry),
    /// In the queue already, in this state.
    Already(QueueState),
}

impl Engine {
    /// Queues for a partner. A first call (no `client_id`) answers at once; a call with the
    /// `client_id` of a waiting client keeps its place and long-polls until matched or timeout.
    pub async fn enter_queue(
        &self,
        display_name: Option<&str>,
        client_id: Option<&str>,
        timeout: Option<f64>,
        idempotency_key: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<EnterQueueResult, ChatError> {
        let wait = self.limits.wait_timeout(timeout)?;
        let name = display_name
            .map(|n| self.limits.display_name(n))
            .transpose()?;
        let key = RetryKey::parse(idempotency_key)?;
        // With a client_id, a retry needs no key: queueing while queued keeps the place.
        let (client, fresh) = match client_id {
            Some(id) => (self.authenticate(id).await?, false),
            None => {
                let args = format!("{name:?}");
                let name = name.unwrap_or_else(ids::guest_name);
                let (client, _) = self
                    .identity("enter_queue", key.as_ref(), args, name)
                    .await?;
                (client, true)
            }
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
        let mut room = Room::new(room_id.clone(), RoomKind::Paired, 2, now);
        // Private to the two it pairs; nobody owns it, so nobody invites anyone into it.
        room.access.private = true;
        let committed = self
            .store
            .transact_room(&room_id, Some(room), self.limits.max_rooms, now, &|room| {
                rules::join(room, &first_client, Entry::Paired, now)?;
                rules::join(room, second, Entry::Paired, now)?;
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
    pub(super) async fn await_match(
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

    pub(super) async fn forget_queue_entry(&self, client_id: &str) -> Result<(), ChatError> {
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
            status: QueueStatus::Matched,
            client_id: client.client_id.clone(),
            user_id: client.user_id.clone(),
            message: String::new(),
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
            status: QueueStatus::Waiting,
            client_id: client.client_id.clone(),
            user_id: client.user_id.clone(),
            room_id: None,
            partner: None,
            position: Some(position),
            queue_length: Some(queue.waiting_len()),
            poll_within_seconds: Some(ttl),
            message: String::new(),
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
                message: String::new(),
                room_id: Some(room_id),
                room_status: None,
            }),
            Some(_) => Ok(LeaveResult {
                success: true,
                message: String::new(),
                room_id: None,
                room_status: None,
            }),
        }
    }
}

//! Named and paired rooms: joining, sending, leaving, history, the room as its members see it.

use mcp_chat_shared::chat::{
    HistoryResult, JoinRoomResult, JoinStatus, LeaveResult, MemberInfo, RoomResult,
    SendMessageResult,
};

use super::idempotency::RetryKey;
use super::model::{ClientRecord, Draft, Room, RoomKind};
use super::rules::{self, LeaveReason, Sent};
use super::store::{self, RoomChange};
use super::{ChatError, Engine, ids};

impl Engine {
    pub async fn join_room(
        &self,
        room_id: &str,
        display_name: &str,
        capacity: Option<u32>,
        client_id: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<JoinRoomResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let name = self.limits.display_name(display_name)?;
        let asked_capacity = capacity;
        let capacity = self.limits.capacity(capacity)?;
        let key = RetryKey::parse(idempotency_key)?;
        // With a client_id, a retry needs no key: joining a room one is in changes nothing.
        let (client, fresh, retried) = match client_id {
            Some(id) => (self.authenticate(id).await?, false, false),
            None => {
                let args = format!("{room_id}\n{name}\n{asked_capacity:?}");
                let (client, retried) =
                    self.identity("join_room", key.as_ref(), args, name).await?;
                (client, true, retried)
            }
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
        // A retry reports what the first call did: it created the room if this client was the
        // room's first member, joined at its creation.
        let created = committed.created
            || (retried
                && room.members.first().is_some_and(|m| {
                    m.client_id == client.client_id && m.joined_ms == room.created_ms
                }));
        let partner = (room.capacity == 2)
            .then(|| {
                room.members
                    .iter()
                    .find(|m| m.client_id != client.client_id)
            })
            .flatten()
            .map(|m| m.participant());
        tracing::info!(room_id = %room_id, user_id = %client.user_id, created, retried, "joined room");
        Ok(JoinRoomResult {
            status: if created {
                JoinStatus::RoomCreated
            } else {
                JoinStatus::Joined
            },
            room_id,
            client_id: client.client_id.clone(),
            user_id: client.user_id.clone(),
            partner,
            members: member_infos(&room, &client.client_id),
            capacity: room.capacity,
            room_status: room.status,
            latest_seq: room.latest_seq,
            message: String::new(),
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
        idempotency_key: Option<&str>,
    ) -> Result<SendMessageResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        self.limits.message(text)?;
        let key = RetryKey::parse(idempotency_key)?;
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
        // No room is created here, so the room limit cannot apply.
        let committed = self
            .store
            .change_room(
                &room_id,
                None,
                usize::MAX,
                now,
                |room| match rules::send_keyed(
                    room,
                    &client.client_id,
                    text,
                    key.as_ref(),
                    max,
                    now,
                )? {
                    Sent::Appended(drafts) => Ok((drafts, None)),
                    Sent::Earlier(seq) => Ok((Vec::new(), Some(seq))),
                },
            )
            .await;
        let give_back = async || {
            if let Err(e) = self.store.give_back_token(&bucket, sends).await {
                tracing::debug!(error = %e, "could not give a send token back");
            }
        };
        let (committed, earlier) = match committed {
            Ok(c) => c,
            Err(e) => {
                give_back().await;
                return Err(e);
            }
        };
        let earlier = match earlier {
            Some(seq) => {
                give_back().await;
                let found = self.store.messages_after(&room_id, seq - 1, 1).await?;
                Some(found.into_iter().next().ok_or_else(|| {
                    ChatError::Storage(format!("message {seq} of a keyed send is missing"))
                })?)
            }
            None => None,
        };
        let message = earlier
            .as_ref()
            .or(committed.appended.first())
            .ok_or_else(|| ChatError::Storage("the store appended nothing".into()))?;
        tracing::debug!(room_id = %room_id, seq = message.seq, retried = earlier.is_some(), text = %message.text, "message sent");
        Ok(SendMessageResult {
            success: true,
            message_id: message.message_id.clone(),
            seq: message.seq,
            timestamp: message.timestamp.clone(),
            members_present: committed.room.members.len() as u32,
            room_status: committed.room.status,
        })
    }

    pub(super) async fn member_room(
        &self,
        room_id: &str,
        client: &ClientRecord,
    ) -> Result<Room, ChatError> {
        member_of(self.store.room(room_id).await?, room_id, client)
    }

    /// A transaction on a room that must already exist (`RoomNotFound` otherwise).
    pub(super) async fn update_room(
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
            message: String::new(),
            room_status: Some(committed.room.status),
            room_id: Some(room_id),
        })
    }

    pub(super) async fn leave_room(
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
}

/// `room` (as read from the store) if it exists and `client` is one of its members.
pub(super) fn member_of(
    room: Option<Room>,
    room_id: &str,
    client: &ClientRecord,
) -> Result<Room, ChatError> {
    let room = room.ok_or_else(|| ChatError::RoomNotFound(room_id.to_owned()))?;
    if room.member(&client.client_id).is_none() {
        return Err(ChatError::NotAMember(room_id.to_owned()));
    }
    Ok(room)
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

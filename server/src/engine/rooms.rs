//! Named and paired rooms: joining, sending, leaving, history, the room as its members see it.

use mcp_chat_shared::chat::{
    HistoryResult, HistoryVisibility, JoinRoomParams, JoinRoomResult, JoinStatus, LeaveResult,
    MemberInfo, RoomAccess, RoomResult, SendMessageResult,
};

use super::idempotency::RetryKey;
use super::invites;
use super::model::{Access, ClientRecord, Draft, Room, RoomKind};
use super::rules::{self, Entry, LeaveReason, Sent};
use super::store::{self, RoomChange};
use super::{ChatError, Engine, ids};

impl Engine {
    /// [`Self::join`] by name into a public room, as every caller before private rooms did.
    pub async fn join_room(
        &self,
        room_id: &str,
        display_name: &str,
        capacity: Option<u32>,
        client_id: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<JoinRoomResult, ChatError> {
        self.join(&JoinRoomParams {
            room_id: Some(room_id.to_owned()),
            display_name: display_name.to_owned(),
            capacity,
            client_id: client_id.map(str::to_owned),
            idempotency_key: idempotency_key.map(str::to_owned),
            invite: None,
            private: None,
            history: None,
            members_can_invite: None,
        })
        .await
    }

    /// Creates or joins a room by name, or joins one with an invitation.
    pub async fn join(&self, p: &JoinRoomParams) -> Result<JoinRoomResult, ChatError> {
        let invite = p.invite.as_deref().filter(|i| !i.trim().is_empty());
        let code = match invite {
            Some(code) => {
                // Every attempt costs, a wrong one too: guessing is as slow as creating.
                self.take_invite_token().await?;
                Some(invites::Code::parse(code)?)
            }
            None => None,
        };
        let named = p.room_id.as_deref().filter(|r| !r.is_empty());
        let room_id = match (&code, named) {
            (Some(code), Some(named)) if named != code.room_id => {
                return Err(ChatError::invalid(
                    "room_id",
                    "differs from the invitation's room: leave it out with an invite",
                ));
            }
            (Some(code), _) => self
                .limits
                .room_id(&code.room_id)
                .map_err(|_| ChatError::InvalidInvite)?,
            (None, Some(named)) => self.limits.room_id(named)?,
            (None, None) => {
                return Err(ChatError::invalid(
                    "room_id",
                    "is required (or an invite, which names its room)",
                ));
            }
        };
        let name = self.limits.display_name(&p.display_name)?;
        let asked_capacity = p.capacity;
        let capacity = self.limits.capacity(p.capacity)?;
        let key = RetryKey::parse(p.idempotency_key.as_deref())?;
        let private = p.private.unwrap_or(false);
        let digest = code.as_ref().map(invites::Code::digest);
        // With a client_id, a retry needs no key: joining a room one is in changes nothing.
        let (client, fresh, retried) = match p.client_id.as_deref() {
            Some(id) => (self.authenticate(id).await?, false, false),
            None => {
                // The identity record keeps these for the key's 10 minutes: the invitation's
                // digest, never its code.
                let args = format!(
                    "{room_id}\n{name}\n{asked_capacity:?}\n{digest:?}\n{private}\n{:?}\n{:?}",
                    p.history, p.members_can_invite
                );
                let (client, retried) =
                    self.identity("join_room", key.as_ref(), args, name).await?;
                (client, true, retried)
            }
        };
        let entry = match &digest {
            Some(digest) => Entry::ByInvite { digest },
            None => Entry::ByName { private },
        };
        let now = ids::now_ms();
        // An invitation only ever leads into a room that exists.
        let new_room = code.is_none().then(|| {
            let mut room = Room::new(room_id.clone(), RoomKind::Named, capacity, now);
            room.access = if private {
                Access {
                    private: true,
                    history: p.history.unwrap_or(HistoryVisibility::SinceJoin),
                    owner: Some(client.client_id.clone()),
                    members_can_invite: p.members_can_invite.unwrap_or(false),
                    ..Access::default()
                }
            } else {
                Access {
                    history: p.history.unwrap_or(HistoryVisibility::Full),
                    ..Access::default()
                }
            };
            room
        });
        let committed = async {
            let newly_in = self
                .admit_to_room(&room_id, &client, fresh, new_room.is_some())
                .await?;
            let committed = self
                .store
                .transact_room(&room_id, new_room, self.limits.max_rooms, now, &|room| {
                    rules::join(room, &client, entry, now).map(RoomChange::drafts)
                })
                .await;
            Ok::<_, ChatError>((newly_in, committed?))
        }
        .await
        .map_err(|e| match e {
            ChatError::RoomNotFound(_) if code.is_some() => ChatError::InvalidInvite,
            e => e,
        });
        let (newly_in, committed) = match committed {
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
        tracing::info!(room_id = %room_id, user_id = %client.user_id, created, retried, invited = code.is_some(), "joined room");
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
            access: access_info(&room, &client.client_id),
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
        may_create: bool,
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
        if existing.is_none() && may_create {
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
        self.leave_room(room_id, client, LeaveReason::Left).await?;
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
            .change_room(&room_id, None, usize::MAX, now, |room| {
                let sent = rules::send_keyed(room, &client.client_id, text, key.as_ref(), max, now)
                    .map_err(|e| rules::explained(room, &client.user_id, e))?;
                match sent {
                    Sent::Appended(drafts) => Ok((drafts, None)),
                    Sent::Earlier(seq) => Ok((Vec::new(), Some(seq))),
                }
            })
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
        if earlier.is_none() {
            crate::metrics::metrics().messages_sent.inc();
        }
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
            .leave_room(&room_id, &client, LeaveReason::Left)
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
        client: &ClientRecord,
        reason: LeaveReason,
    ) -> Result<store::Committed, ChatError> {
        let now = ids::now_ms();
        self.update_room(room_id, now, |room| {
            rules::leave(room, &client.client_id, reason, now)
                .map_err(|e| rules::explained(room, &client.user_id, e))
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
        let first = first_readable(&room, &client);
        let before = before_seq.unwrap_or(room.latest_seq + 1);
        let mut messages = if before > first {
            self.store.messages_before(&room_id, before, limit).await?
        } else {
            Vec::new()
        };
        messages.retain(|m| m.seq >= first);
        let has_more = messages.first().is_some_and(|m| m.seq > first);
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
            access: access_info(&room, &client.client_id),
        })
    }
}

/// The first `seq` `client` (a member) may read in `room`.
pub(super) fn first_readable(room: &Room, client: &ClientRecord) -> u64 {
    room.member(&client.client_id)
        .map_or(1, |m| m.reads_from.max(1))
}

/// `room` (as read from the store) if it exists and `client` is one of its members.
pub(super) fn member_of(
    room: Option<Room>,
    room_id: &str,
    client: &ClientRecord,
) -> Result<Room, ChatError> {
    let room = room.ok_or_else(|| ChatError::RoomNotFound(room_id.to_owned()))?;
    if room.member(&client.client_id).is_none() {
        return Err(rules::outsider(&room, &client.user_id));
    }
    Ok(room)
}

/// The room's access as `client_id` sees it: what the model needs to know of it.
pub(super) fn access_info(room: &Room, client_id: &str) -> RoomAccess {
    let owner = room
        .access
        .owner
        .as_deref()
        .and_then(|owner| room.member(owner));
    RoomAccess {
        private: room.access.private,
        history: room.access.history,
        owner: owner.map(|o| o.participant()),
        members_can_invite: room.access.members_can_invite,
        you_can_invite: invites::may_invite(room, client_id).is_ok(),
        you_own: owner.is_some_and(|o| o.client_id == client_id),
    }
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

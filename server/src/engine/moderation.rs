//! What a private room's owner may do to it: remove a member for good, close it; and what an
//! operator may do to any room: delete it (`mcp-chat admin delete`).

use mcp_chat_shared::chat::{MessageKind, ModerationResult, Participant, RoomStatus};

use super::error::ChatError;
use super::model::{ClientRecord, Draft, Room};
use super::rules::{require_owner, update_status};
use super::{Engine, ids};

/// Removes the member `user_id` and keeps them out: the room remembers them, and the
/// invitation they came in with is withdrawn, so a new identity cannot use it either. The room
/// goes on (the owner is still in it). Removing someone already removed changes nothing.
pub fn remove(
    room: &mut Room,
    by: &ClientRecord,
    user_id: &str,
    now: u64,
) -> Result<(Vec<Draft>, Option<Participant>), ChatError> {
    require_owner(room, by, "remove members")?;
    if user_id == by.user_id {
        return Err(ChatError::invalid(
            "user_id",
            "is yours: the owner leaves the room, or closes it, instead",
        ));
    }
    let Some(at) = room.members.iter().position(|m| m.user_id == user_id) else {
        if room.access.removed.iter().any(|u| u == user_id) {
            return Ok((Vec::new(), None));
        }
        return Err(ChatError::invalid(
            "user_id",
            format!("is not a member of room {}", room.room_id),
        ));
    };
    let gone = room.members.remove(at);
    room.access.removed.push(gone.user_id.clone());
    if let Some(digest) = &gone.invite {
        room.access.invites.retain(|i| &i.digest != digest);
    }
    update_status(room);
    room.last_activity_ms = now;
    let owner = room.member(&by.client_id).map(|m| m.display_name.clone());
    let draft = Draft {
        kind: MessageKind::Left,
        sender: Some(gone.participant()),
        text: format!(
            "{} was removed from the room by {}.",
            gone.display_name,
            owner.unwrap_or_default()
        ),
    };
    Ok((vec![draft], Some(gone.participant())))
}

/// Ends the room for everyone; members keep reading its history. Closing it again changes
/// nothing.
pub fn close(room: &mut Room, by: &ClientRecord, now: u64) -> Result<Vec<Draft>, ChatError> {
    require_owner(room, by, "close the room")?;
    if room.status == RoomStatus::Ended {
        return Ok(Vec::new());
    }
    room.status = RoomStatus::Ended;
    room.access.invites.clear();
    room.last_activity_ms = now;
    let owner = room.member(&by.client_id).map(|m| m.display_name.clone());
    Ok(vec![Draft {
        kind: MessageKind::RoomEnded,
        sender: None,
        text: format!(
            "The chat has ended: {} closed the room.",
            owner.unwrap_or_default()
        ),
    }])
}

/// Ends the room because an operator is deleting it: its members hear why, and a parked wait
/// returns with that event. Ending an ended room again changes nothing.
pub fn end_for_deletion(room: &mut Room, now: u64) -> Vec<Draft> {
    if room.status == RoomStatus::Ended {
        return Vec::new();
    }
    room.status = RoomStatus::Ended;
    room.access.invites.clear();
    room.last_activity_ms = now;
    vec![Draft {
        kind: MessageKind::RoomEnded,
        sender: None,
        text: "The chat has ended: the server's operator deleted the room.".into(),
    }]
}

impl Engine {
    pub async fn remove_member(
        &self,
        room_id: &str,
        client_id: &str,
        user_id: &str,
    ) -> Result<ModerationResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        if user_id.trim().is_empty() {
            return Err(ChatError::invalid("user_id", "must not be empty"));
        }
        let client = self.authenticate(client_id).await?;
        let now = ids::now_ms();
        let (committed, removed) = self
            .store
            .change_room(&room_id, None, usize::MAX, now, |room| {
                remove(room, &client, user_id.trim(), now)
            })
            .await?;
        tracing::info!(room_id = %room_id, by = %client.user_id, removed = %user_id, "member removed");
        Ok(ModerationResult {
            success: true,
            room_id,
            room_status: committed.room.status,
            removed,
            message: String::new(),
        })
    }

    pub async fn close_room(
        &self,
        room_id: &str,
        client_id: &str,
    ) -> Result<ModerationResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let client = self.authenticate(client_id).await?;
        let now = ids::now_ms();
        let committed = self
            .update_room(&room_id, now, |room| close(room, &client, now))
            .await?;
        tracing::info!(room_id = %room_id, by = %client.user_id, "room closed");
        Ok(ModerationResult {
            success: true,
            room_id,
            room_status: committed.room.status,
            removed: None,
            message: String::new(),
        })
    }

    /// Deletes room `room_id` and its log, for an operator. First ends it (one transaction,
    /// with a `room_ended` event that wakes every parked wait, on every instance sharing the
    /// store), then removes it as the sweep removes an idle room: atomically, waking waiters
    /// again, cleaning every membership index. Nobody can join or write to an ended room, so
    /// the removal cannot miss it. Returns `RoomNotFound` for a room that does not exist.
    pub async fn delete_room(&self, room_id: &str) -> Result<(), ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let now = ids::now_ms();
        self.update_room(&room_id, now, |room| Ok(end_for_deletion(room, now)))
            .await?;
        // `false` only when it is gone already (a sweep got there first): deleted all the same.
        let removed = self.store.remove_room(&room_id, u64::MAX).await?;
        tracing::info!(room_id = %room_id, removed, "room deleted by the operator");
        Ok(())
    }
}

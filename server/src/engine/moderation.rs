//! What a private room's owner may do to it: remove a member for good, close it.

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
}

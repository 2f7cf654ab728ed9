//! Invitations to private rooms: the code, and the rules that issue, admit and withdraw them.
//!
//! A code is `inv~<room_id>~<secret>`: 128 random bits (hex) after the room's name, so a join
//! finds its room without an index beside the rooms, and counting a use is part of the join's
//! own room transaction — atomic on every store and across instances, as joins are. The room
//! keeps only the secret's SHA-256; the code is shown once, to whoever made it.

use mcp_chat_shared::chat::{InviteResult, ModerationResult, RoomStatus};
use sha2::{Digest, Sha256};

use super::error::ChatError;
use super::model::{ClientRecord, Invite, Room};
use super::rules::{outsider, require_owner};
use super::{Engine, ids};

const PREFIX: &str = "inv~";
/// Random bytes in a code's secret.
const SECRET_BYTES: usize = 16;
/// Live invitations a room keeps at most (each is a digest and a few numbers).
pub const MAX_LIVE: usize = 100;
pub const DEFAULT_USES: u32 = 1;
pub const MAX_USES: u32 = 1000;
pub const DEFAULT_LIFETIME_S: u64 = 24 * 3600;
pub const MIN_LIFETIME_S: u64 = 60;
pub const MAX_LIFETIME_S: u64 = 7 * 24 * 3600;

/// An invitation code, as handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub room_id: String,
    secret: String,
}

impl Code {
    pub fn new(room_id: &str) -> Code {
        Code {
            room_id: room_id.to_owned(),
            secret: ids::random_hex::<SECRET_BYTES>(),
        }
    }

    /// Anything that is not a code is simply a wrong one: the same error as every other.
    pub fn parse(text: &str) -> Result<Code, ChatError> {
        let (room_id, secret) = text
            .trim()
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.rsplit_once('~'))
            .ok_or(ChatError::InvalidInvite)?;
        let hex = |s: &str| s.len() == SECRET_BYTES * 2 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if room_id.is_empty() || !hex(secret) {
            return Err(ChatError::InvalidInvite);
        }
        Ok(Code {
            room_id: room_id.to_owned(),
            secret: secret.to_ascii_lowercase(),
        })
    }

    pub fn text(&self) -> String {
        format!("{PREFIX}{}~{}", self.room_id, self.secret)
    }

    /// What the room keeps.
    pub fn digest(&self) -> String {
        ids::hex(&Sha256::digest(self.secret.as_bytes()))
    }
}

/// Drops what can no longer admit anyone.
fn prune(room: &mut Room, now: u64) {
    room.access
        .invites
        .retain(|i| i.expires_ms > now && i.uses_left > 0);
}

/// Uses one of the invitation's joins (the transaction that adds the member counts it, so two
/// joins racing for the last use cannot both have it). Returns the digest, for the member.
pub fn admit(room: &mut Room, digest: &str, now: u64) -> Result<String, ChatError> {
    prune(room, now);
    let invite = room
        .access
        .invites
        .iter_mut()
        .find(|i| i.digest == digest)
        .ok_or(ChatError::InvalidInvite)?;
    invite.uses_left -= 1;
    Ok(invite.digest.clone())
}

/// Whether the member `client_id` may make invitations now: in a private room still open, its
/// owner, or any member if the owner allowed it. The one rule both `create_invite` and the
/// rights a room's answers show (`you_can_invite`) follow.
pub fn may_invite(room: &Room, client_id: &str) -> Result<(), ChatError> {
    let owner = room.access.owner.as_deref() == Some(client_id);
    if !room.access.private {
        return Err(ChatError::NotAllowed {
            room_id: room.room_id.clone(),
            who: "members of a private room",
            what: "make invitations (anyone joins a public room by its name)",
        });
    }
    if !owner && !room.access.members_can_invite {
        return Err(ChatError::NotAllowed {
            room_id: room.room_id.clone(),
            who: "the owner",
            what: "make invitations",
        });
    }
    if room.status == RoomStatus::Ended {
        return Err(ChatError::RoomEnded(room.room_id.clone()));
    }
    Ok(())
}

/// Adds an invitation made by `client`: the owner's right, or every member's if the owner
/// allowed it.
pub fn issue(
    room: &mut Room,
    client: &ClientRecord,
    invite: Invite,
    now: u64,
) -> Result<(), ChatError> {
    if room.member(&client.client_id).is_none() {
        return Err(outsider(room, &client.user_id));
    }
    may_invite(room, &client.client_id)?;
    prune(room, now);
    if room.access.invites.len() >= MAX_LIVE {
        return Err(ChatError::invalid(
            "room_id",
            format!("has {MAX_LIVE} live invitations, the most a room keeps: withdraw some first"),
        ));
    }
    room.access.invites.push(invite);
    Ok(())
}

/// Withdraws an invitation: the owner may withdraw any, a member those they made. Returns
/// whether it was still live.
pub fn revoke(room: &mut Room, client: &ClientRecord, digest: &str) -> Result<bool, ChatError> {
    let at = room.access.invites.iter().position(|i| i.digest == digest);
    let made_it = at.is_some_and(|at| room.access.invites[at].made_by == client.user_id);
    if !(made_it && room.member(&client.client_id).is_some()) {
        require_owner(room, client, "withdraw invitations")?;
    }
    Ok(at.map(|at| room.access.invites.remove(at)).is_some())
}

impl Engine {
    pub async fn create_invite(
        &self,
        room_id: &str,
        client_id: &str,
        max_uses: Option<u32>,
        expires_in_s: Option<u64>,
    ) -> Result<InviteResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let uses = max_uses.unwrap_or(DEFAULT_USES);
        if !(1..=MAX_USES).contains(&uses) {
            return Err(ChatError::invalid(
                "max_uses",
                format!("must be from 1 to {MAX_USES}"),
            ));
        }
        let lifetime = expires_in_s.unwrap_or(DEFAULT_LIFETIME_S);
        if !(MIN_LIFETIME_S..=MAX_LIFETIME_S).contains(&lifetime) {
            return Err(ChatError::invalid(
                "expires_in_s",
                format!("must be from {MIN_LIFETIME_S} to {MAX_LIFETIME_S} seconds"),
            ));
        }
        let client = self.authenticate(client_id).await?;
        let code = Code::new(&room_id);
        let now = ids::now_ms();
        let invite = Invite {
            digest: code.digest(),
            made_by: client.user_id.clone(),
            expires_ms: now + lifetime * 1000,
            uses_left: uses,
        };
        self.update_room(&room_id, now, |room| {
            issue(room, &client, invite.clone(), now)?;
            Ok(Vec::new())
        })
        .await?;
        tracing::info!(room_id = %room_id, user_id = %client.user_id, uses, lifetime, "invitation made");
        Ok(InviteResult {
            room_id,
            invite: code.text(),
            expires_at: ids::rfc3339(invite.expires_ms),
            uses_left: uses,
            share_text: String::new(),
            url: None,
            message: String::new(),
        })
    }

    pub async fn revoke_invite(
        &self,
        room_id: &str,
        client_id: &str,
        invite: &str,
    ) -> Result<ModerationResult, ChatError> {
        let room_id = self.limits.room_id(room_id)?;
        let client = self.authenticate(client_id).await?;
        let code = Code::parse(invite)?;
        if code.room_id != room_id {
            return Err(ChatError::invalid(
                "invite",
                format!("is an invitation to another room, not {room_id}"),
            ));
        }
        let digest = code.digest();
        let (committed, revoked) = self
            .store
            .change_room(&room_id, None, usize::MAX, ids::now_ms(), |room| {
                Ok((Vec::new(), revoke(room, &client, &digest)?))
            })
            .await?;
        tracing::info!(room_id = %room_id, user_id = %client.user_id, revoked, "invitation withdrawn");
        Ok(ModerationResult {
            success: revoked,
            room_id,
            room_status: committed.room.status,
            removed: None,
            message: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_anything_else_is_one_error() {
        let code = Code::new("team.a-1");
        assert_eq!(Code::parse(&code.text()).unwrap(), code);
        assert_eq!(Code::parse(&format!(" {} ", code.text())).unwrap(), code);
        assert_eq!(code.text().len(), PREFIX.len() + "team.a-1~".len() + 32);
        assert_ne!(Code::new("r").secret, Code::new("r").secret);
        for bad in [
            "",
            "inv~",
            "inv~r",
            "inv~~00112233445566778899aabbccddeeff",
            "r~00",
            "inv~r~xyz",
        ] {
            assert_eq!(Code::parse(bad), Err(ChatError::InvalidInvite), "{bad:?}");
        }
        // The digest is of the secret alone and never the secret itself.
        assert_eq!(code.digest().len(), 64);
        assert!(!code.digest().contains(&code.secret));
    }
}

//! The engine's records: what a store keeps. Plain data, serializable so that durable and
//! distributed stores can persist them as they are.

use mcp_chat_shared::chat::{HistoryVisibility, MessageKind, Participant, RoomStatus};
use serde::{Deserialize, Serialize};

use super::idempotency::SentKeys;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The secret.
    pub client_id: String,
    /// The public id.
    pub user_id: String,
    pub display_name: String,
    pub created_ms: u64,
    pub last_seen_ms: u64,
}

impl ClientRecord {
    pub fn participant(&self) -> Participant {
        Participant {
            user_id: self.user_id.clone(),
            display_name: self.display_name.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoomKind {
    /// Created by name with `join_room`.
    Named,
    /// Created by the queue for two people.
    Paired,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub client_id: String,
    pub user_id: String,
    pub display_name: String,
    pub joined_ms: u64,
    /// The highest `seq` handed to this member by a cursor-based wait.
    pub delivered_seq: u64,
    /// This member's recent keyed sends, so a retry is answered instead of stored again (see
    /// [`super::idempotency`]). Not written while empty: a member who never sends with a key
    /// costs nothing, and records written before it existed read as empty.
    #[serde(default, skip_serializing_if = "SentKeys::is_empty")]
    pub sent: SentKeys,
    /// Where the last claim started, while its answer is not known to have reached the client
    /// (on a shared store only; see `engine/answered.rs`): until the delivery up to
    /// `delivered_seq` is confirmed, the next claim starts here again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unconfirmed_from: Option<u64>,
    /// The first `seq` this member may read: 0 (everything) unless the room shows a newcomer
    /// only what is said from their arrival on, where it is their own "joined" entry.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reads_from: u64,
    /// The digest of the invitation this member came in with: withdrawn if they are removed,
    /// so it cannot bring them back under another identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Member {
    pub fn participant(&self) -> Participant {
        Participant {
            user_id: self.user_id.clone(),
            display_name: self.display_name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub room_id: String,
    pub kind: RoomKind,
    pub capacity: u32,
    pub status: RoomStatus,
    pub members: Vec<Member>,
    pub created_ms: u64,
    pub last_activity_ms: u64,
    /// `seq` of the newest log entry (0 for an empty log).
    pub latest_seq: u64,
    /// Who may join and what a newcomer reads. Absent from rooms written before private rooms,
    /// which are public, as they were.
    #[serde(default, skip_serializing_if = "Access::is_public")]
    pub access: Access,
}

/// Who may join a room, who moderates it, and what a newcomer may read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Access {
    /// Joined only with an invitation, never by name.
    pub private: bool,
    pub history: HistoryVisibility,
    /// The owner's `client_id` (a member's): private rooms made by `join_room`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default)]
    pub members_can_invite: bool,
    /// Live invitations (expired and used-up ones are pruned as the room changes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invites: Vec<Invite>,
    /// The `user_id`s the owner removed: never members again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

impl Default for Access {
    fn default() -> Access {
        Access {
            private: false,
            history: HistoryVisibility::Full,
            owner: None,
            members_can_invite: false,
            invites: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl Access {
    pub fn is_public(&self) -> bool {
        *self == Access::default()
    }
}

/// An invitation, as kept: the code's digest, never the code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    /// SHA-256 of the code's secret part, hex.
    pub digest: String,
    /// The `user_id` of the member who made it.
    pub made_by: String,
    pub expires_ms: u64,
    pub uses_left: u32,
}

impl Room {
    pub fn new(room_id: String, kind: RoomKind, capacity: u32, now: u64) -> Room {
        Room {
            room_id,
            kind,
            capacity,
            status: RoomStatus::Waiting,
            members: Vec::new(),
            created_ms: now,
            last_activity_ms: now,
            latest_seq: 0,
            access: Access::default(),
        }
    }

    pub fn member(&self, client_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.client_id == client_id)
    }

    pub fn member_mut(&mut self, client_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.client_id == client_id)
    }
}

/// A log entry before the store gives it its `seq`, id and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub kind: MessageKind,
    pub sender: Option<Participant>,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QueueState {
    Waiting,
    /// Reserved by an arrival that is creating the room; not matchable.
    Pairing,
    /// Paired into `room_id`; kept until the client hears of it (or the entry expires).
    Matched {
        room_id: String,
        partner: Participant,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub client_id: String,
    pub user_id: String,
    pub display_name: String,
    pub enqueued_ms: u64,
    pub last_seen_ms: u64,
    /// The deadline of the long poll in progress for this place, if any (0: none). A client
    /// parked in a poll is present even when the poll outlasts the queue TTL; once the poll's
    /// deadline passes, the TTL counts from there.
    #[serde(default)]
    pub polling_until_ms: u64,
    pub state: QueueState,
}

impl QueueEntry {
    /// When its client was last known to be there.
    pub fn last_present_ms(&self) -> u64 {
        self.last_seen_ms.max(self.polling_until_ms)
    }
}

/// The queue, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Queue {
    pub entries: Vec<QueueEntry>,
}

impl Queue {
    pub fn entry(&self, client_id: &str) -> Option<&QueueEntry> {
        self.entries.iter().find(|e| e.client_id == client_id)
    }

    pub fn entry_mut(&mut self, client_id: &str) -> Option<&mut QueueEntry> {
        self.entries.iter_mut().find(|e| e.client_id == client_id)
    }

    pub fn remove(&mut self, client_id: &str) -> Option<QueueEntry> {
        let at = self.entries.iter().position(|e| e.client_id == client_id)?;
        Some(self.entries.remove(at))
    }

    /// 1-based position among those still waiting, if `client_id` waits.
    pub fn position(&self, client_id: &str) -> Option<u32> {
        self.entries
            .iter()
            .filter(|e| e.state == QueueState::Waiting)
            .position(|e| e.client_id == client_id)
            .map(|p| p as u32 + 1)
    }

    pub fn waiting_len(&self) -> u32 {
        self.entries
            .iter()
            .filter(|e| e.state == QueueState::Waiting)
            .count() as u32
    }
}

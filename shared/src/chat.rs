//! Chat messages and the MCP tools' parameters and results.
//!
//! Names follow the older Python server's contract (`room_id`, `client_id`, `display_name`,
//! `message`, `partner.user_id`, `success`, `status`, …) so clients written for it keep working;
//! new fields are additions, never renames.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{Error, Fields, FromJson};

#[cfg(feature = "schema")]
use schemars::JsonSchema;

/// What a log entry is. System events are messages too, so they are ordered with the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// Text a member sent.
    Chat,
    /// A member joined the room.
    Joined,
    /// A member left (or was timed out).
    Left,
    /// The queue paired two people into this room.
    Matched,
    /// The room ended: nobody can send any more.
    RoomEnded,
}

impl MessageKind {
    pub fn is_system(self) -> bool {
        self != MessageKind::Chat
    }
}

/// A member as others see them: the public id, never the secret `client_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct Participant {
    /// Public id of the member (called `user_id` by the older server).
    pub user_id: String,
    pub display_name: String,
}

/// One entry of a room's ordered log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct ChatMessage {
    /// Position in the room's log: 1, 2, 3, … with no gaps. The order every member sees.
    pub seq: u64,
    pub message_id: String,
    pub room_id: String,
    pub kind: MessageKind,
    /// Who sent it (chat) or whom it is about (joined, left); absent for room-wide events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Participant>,
    /// The chat text, or a readable description of a system event.
    pub text: String,
    /// RFC 3339, UTC, millisecond precision.
    pub timestamp: String,
    /// The same instant in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoomStatus {
    /// Fewer members than needed to talk yet (messages sent now wait for whoever joins).
    Waiting,
    Active,
    /// Over: no more sending; history stays readable until the room expires.
    Ended,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct MemberInfo {
    pub user_id: String,
    pub display_name: String,
    pub joined_at: String,
    /// True for the member the request was made as.
    pub is_you: bool,
}

impl MemberInfo {
    /// The name as a member list shows it: "Ada", or "Ada (you)" for the caller.
    pub fn label(&self) -> String {
        if self.is_you {
            format!("{} (you)", self.display_name)
        } else {
            self.display_name.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tool parameters
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct EnterQueueParams {
    /// Name shown to your partner. Optional; a guest name is made up when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Pass the `client_id` from an earlier "waiting" answer to keep your place and wait
    /// (long-poll) until you are matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// With `client_id`: seconds to wait for a match before answering "waiting" again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct LeaveQueueParams {
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct JoinRoomParams {
    /// Room name: letters, digits, `-`, `_` and `.`. Created if it does not exist.
    pub room_id: String,
    pub display_name: String,
    /// Only when creating the room: how many members it holds (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// Join as an existing identity (e.g. to be in several rooms); a new one is made otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct SendMessageParams {
    pub room_id: String,
    /// The text to send.
    pub message: String,
    pub client_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct WaitForMessageParams {
    /// The room to wait in. May be omitted while you are still in the queue: the answer then
    /// tells you the room you were matched into.
    #[serde(default)]
    pub room_id: Option<String>,
    pub client_id: String,
    /// Seconds to wait when nothing is pending (default 30, at most 50; 0 answers at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Re-read everything after this sequence number (e.g. after a lost answer). Without it,
    /// you get exactly what you have not been given yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_seq: Option<u64>,
    /// Also return your own chat messages (a View rendering the whole log wants them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_own: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct RoomClientParams {
    pub room_id: String,
    pub client_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct GetHistoryParams {
    pub room_id: String,
    pub client_id: String,
    /// Return messages older than this sequence number (default: the newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_seq: Option<u64>,
    /// How many messages at most (default 50, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

// ---------------------------------------------------------------------------------------------
// Tool results (the `structuredContent` of a successful call)
// ---------------------------------------------------------------------------------------------

/// Where `enter_queue` left the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum QueueStatus {
    /// Paired: `room_id` and `partner` say where and with whom.
    Matched,
    /// Still in the queue: `position` and `queue_length` say where.
    Waiting,
}

/// What `join_room` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum JoinStatus {
    /// The room did not exist: the caller made it.
    RoomCreated,
    /// The caller joined a room that existed (or was in it already).
    Joined,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct EnterQueueResult {
    pub status: QueueStatus,
    /// Your secret identity: pass it to every other tool; never share it.
    pub client_id: String,
    /// Your public id, as others see you.
    pub user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<Participant>,
    /// 1 = next to be matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_length: Option<u32>,
    /// While waiting: call again (enter_queue with client_id, or wait_for_message) within this
    /// many seconds or your place expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_within_seconds: Option<u64>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct JoinRoomResult {
    pub status: JoinStatus,
    pub room_id: String,
    pub client_id: String,
    pub user_id: String,
    /// In a two-person room: the other member, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<Participant>,
    pub members: Vec<MemberInfo>,
    pub capacity: u32,
    pub room_status: RoomStatus,
    pub latest_seq: u64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct SendMessageResult {
    pub success: bool,
    pub message_id: String,
    pub seq: u64,
    pub timestamp: String,
    /// Members in the room now, you included.
    pub members_present: u32,
    pub room_status: RoomStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct WaitForMessageResult {
    /// Every message you had not received yet, oldest first (system events included).
    pub messages: Vec<ChatMessage>,
    /// True when nothing arrived before the timeout.
    pub timeout: bool,
    /// More were pending than one answer carries: call again at once.
    pub has_more: bool,
    /// The room waited in; absent while still queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_status: Option<RoomStatus>,
    /// While still queued: 1 = next to be matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<u32>,
    /// The highest sequence number covered by this answer: pass it as `after_seq` to re-read
    /// after it if an answer is ever lost.
    pub last_seq: u64,
    /// Legacy single-message fields (the first chat message, or the first event), for clients
    /// of the older server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct LeaveResult {
    pub success: bool,
    pub message: String,
    /// The room left; for `leave_queue`, the room the caller had been matched into, if it had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_status: Option<RoomStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct HistoryResult {
    pub room_id: String,
    /// Oldest first.
    pub messages: Vec<ChatMessage>,
    /// Older messages exist: ask again with `before_seq` = the first `seq` here.
    pub has_more: bool,
    pub latest_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct RoomResult {
    pub room_id: String,
    pub status: RoomStatus,
    pub capacity: u32,
    pub members: Vec<MemberInfo>,
    pub latest_seq: u64,
    pub created_at: String,
    /// The caller's own public id and name, so a View knows which messages are "mine".
    pub you: Participant,
}

/// The `structuredContent` of a failed call (`isError: true`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct ErrorResult {
    /// Always false / "error", for clients of the older server that test these fields.
    pub success: bool,
    pub status: String,
    /// Human-readable reason.
    pub error: String,
    /// Stable machine-readable code, e.g. `room_full`, `not_a_member`, `invalid_argument`.
    pub code: String,
    /// The argument at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `rate_limited`: when to try again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// `open_chat`'s result: the room, plus the caller's `client_id` so the View it opens can act as
/// that member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct OpenChatResult {
    #[serde(flatten)]
    pub room: RoomResult,
    pub client_id: String,
}

/// `load_room` (a View-only helper): what the View needs to show a room, in one round trip.
/// The history is read before the room, so the members are at least as new as the messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct LoadRoomResult {
    pub history: HistoryResult,
    pub room: RoomResult,
}

// ---------------------------------------------------------------------------------------------
// Hand-written reading, for the View (see `crate::json`): same rules as the derives above.
// ---------------------------------------------------------------------------------------------

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Chat => "chat",
            MessageKind::Joined => "joined",
            MessageKind::Left => "left",
            MessageKind::Matched => "matched",
            MessageKind::RoomEnded => "room_ended",
        }
    }
}

impl FromJson for MessageKind {
    fn from_json(value: &Value) -> Result<Self, Error> {
        Ok(match value.as_str() {
            Some("chat") => MessageKind::Chat,
            Some("joined") => MessageKind::Joined,
            Some("left") => MessageKind::Left,
            Some("matched") => MessageKind::Matched,
            Some("room_ended") => MessageKind::RoomEnded,
            _ => return Err("unknown variant of enum MessageKind".into()),
        })
    }
}

impl RoomStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomStatus::Waiting => "waiting",
            RoomStatus::Active => "active",
            RoomStatus::Ended => "ended",
        }
    }
}

impl FromJson for RoomStatus {
    fn from_json(value: &Value) -> Result<Self, Error> {
        Ok(match value.as_str() {
            Some("waiting") => RoomStatus::Waiting,
            Some("active") => RoomStatus::Active,
            Some("ended") => RoomStatus::Ended,
            _ => return Err("unknown variant of enum RoomStatus".into()),
        })
    }
}

impl FromJson for Participant {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct Participant")?;
        Ok(Participant {
            user_id: f.req("user_id")?,
            display_name: f.req("display_name")?,
        })
    }
}

impl FromJson for ChatMessage {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct ChatMessage")?;
        Ok(ChatMessage {
            seq: f.req("seq")?,
            message_id: f.req("message_id")?,
            room_id: f.req("room_id")?,
            kind: f.req("kind")?,
            sender: f.opt("sender")?,
            text: f.req("text")?,
            timestamp: f.req("timestamp")?,
            timestamp_ms: f.req("timestamp_ms")?,
        })
    }
}

impl FromJson for MemberInfo {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct MemberInfo")?;
        Ok(MemberInfo {
            user_id: f.req("user_id")?,
            display_name: f.req("display_name")?,
            joined_at: f.req("joined_at")?,
            is_you: f.req("is_you")?,
        })
    }
}

impl FromJson for SendMessageResult {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct SendMessageResult")?;
        Ok(SendMessageResult {
            success: f.req("success")?,
            message_id: f.req("message_id")?,
            seq: f.req("seq")?,
            timestamp: f.req("timestamp")?,
            members_present: f.req("members_present")?,
            room_status: f.req("room_status")?,
        })
    }
}

impl FromJson for WaitForMessageResult {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct WaitForMessageResult")?;
        Ok(WaitForMessageResult {
            messages: f.req("messages")?,
            timeout: f.req("timeout")?,
            has_more: f.req("has_more")?,
            room_id: f.opt("room_id")?,
            room_status: f.opt("room_status")?,
            queue_position: f.opt("queue_position")?,
            last_seq: f.req("last_seq")?,
            message: f.opt("message")?,
            sender: f.opt("sender")?,
            timestamp: f.opt("timestamp")?,
            message_id: f.opt("message_id")?,
        })
    }
}

impl FromJson for HistoryResult {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct HistoryResult")?;
        Ok(HistoryResult {
            room_id: f.req("room_id")?,
            messages: f.req("messages")?,
            has_more: f.req("has_more")?,
            latest_seq: f.req("latest_seq")?,
        })
    }
}

impl FromJson for RoomResult {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct RoomResult")?;
        Ok(RoomResult {
            room_id: f.req("room_id")?,
            status: f.req("status")?,
            capacity: f.req("capacity")?,
            members: f.req("members")?,
            latest_seq: f.req("latest_seq")?,
            created_at: f.req("created_at")?,
            you: f.req("you")?,
        })
    }
}

impl FromJson for LoadRoomResult {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct LoadRoomResult")?;
        Ok(LoadRoomResult {
            history: f.req("history")?,
            room: f.req("room")?,
        })
    }
}

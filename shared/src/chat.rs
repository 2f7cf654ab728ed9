//! Chat messages and the MCP tools' parameters and results.
//!
//! Names follow the older Python server's contract (`room_id`, `client_id`, `display_name`,
//! `message`, `partner.user_id`, `success`, `status`, …) so clients written for it keep working;
//! new fields are additions, never renames.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::Fields;

#[cfg(feature = "schema")]
use schemars::JsonSchema;

json_enum! {
    /// What a log entry is. System events are messages too, so they are ordered with the chat.
    pub enum MessageKind {
        /// Text a member sent.
        Chat = "chat",
        /// A member joined the room.
        Joined = "joined",
        /// A member left (or was timed out).
        Left = "left",
        /// The queue paired two people into this room.
        Matched = "matched",
        /// The room ended: nobody can send any more.
        RoomEnded = "room_ended",
        /// The owner is gone and `sender` owns the room now.
        OwnerChanged = "owner_changed",
    }
}

impl MessageKind {
    pub fn is_system(self) -> bool {
        self != MessageKind::Chat
    }
}

json_struct! {
    /// A member as others see them: the public id, never the secret `client_id`.
    #[derive(Eq)]
    pub struct Participant {
        /// Public id of the member (called `user_id` by the older server).
        pub user_id: String,
        pub display_name: String,
    }
}

json_struct! {
    /// One entry of a room's ordered log.
    pub struct ChatMessage {
        /// Position in the room's log: 1, 2, 3, … with no gaps. The order every member sees.
        pub seq: u64,
        pub message_id: String,
        pub room_id: String,
        pub kind: MessageKind,
        /// Who sent it (chat) or whom it is about (joined, left); absent for room-wide events.
        pub sender: Option<Participant>,
        /// The chat text, or a readable description of a system event.
        pub text: String,
        /// RFC 3339, UTC, millisecond precision.
        pub timestamp: String,
        /// The same instant in milliseconds since the Unix epoch.
        pub timestamp_ms: u64,
    }
}

json_enum! {
    /// What a member who joins later may read.
    pub enum HistoryVisibility {
        /// Everything said in the room, from its start.
        Full = "full",
        /// Only what is said from their arrival on.
        SinceJoin = "since_join",
    }
}

json_struct! {
    /// Who may join a room, who owns it, and what the caller may do there.
    pub struct RoomAccess {
        /// Joined only with an invitation, never by name.
        pub private: bool,
        pub history: HistoryVisibility,
        /// The member who moderates the room (private rooms made with `join_room`).
        pub owner: Option<Participant>,
        /// Members other than the owner may make invitations.
        pub members_can_invite: bool,
        /// The caller may make invitations (`create_invite`).
        pub you_can_invite: bool,
        /// The caller owns the room: `remove_member`, `close_room`, `revoke_invite`.
        pub you_own: bool,
    }
}

json_enum! {
    pub enum RoomStatus {
        /// Fewer members than needed to talk yet (messages sent now wait for whoever joins).
        Waiting = "waiting",
        Active = "active",
        /// Over: no more sending; history stays readable until the room expires.
        Ended = "ended",
    }
}

json_struct! {
    #[derive(Eq)]
    pub struct MemberInfo {
        pub user_id: String,
        pub display_name: String,
        pub joined_at: String,
        /// True for the member the request was made as.
        pub is_you: bool,
    }
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

json_struct! {
    #[derive(Default)]
    pub struct EnterQueueParams {
        /// Name shown to your partner. Optional; a guest name is made up when absent.
        pub display_name: Option<String>,
        /// Pass the `client_id` from an earlier "waiting" answer to keep your place and wait
        /// (long-poll) until you are matched.
        pub client_id: Option<String>,
        /// With `client_id`: seconds to wait for a match before answering "waiting" again.
        pub timeout: Option<f64>,
        /// A string you choose for this call, e.g. a UUID (16 to 64 letters, digits, `-`, `_`,
        /// `.` or `:`). If you call again with the same key (say, after a lost answer), you
        /// get the first call's result and nothing happens twice. Remembered for 10 minutes.
        pub idempotency_key: Option<String>,
    }
}

json_struct! {
    pub struct LeaveQueueParams {
        pub client_id: String,
    }
}

json_struct! {
    pub struct JoinRoomParams {
        /// Room name: letters, digits, `-`, `_` and `.`. Created if it does not exist. Not
        /// needed with `invite`, which names its room.
        pub room_id: Option<String>,
        pub display_name: String,
        /// Only when creating the room: how many members it holds (default 2).
        pub capacity: Option<u32>,
        /// An invitation code from `create_invite`: the only way into a private room.
        pub invite: Option<String>,
        /// Only when creating the room: make it private (joined only with an invitation; you
        /// become its owner). Default false.
        pub private: Option<bool>,
        /// Only when creating the room: whether a member who joins later reads what was said
        /// before (`full`) or only from their arrival (`since_join`). Default: `since_join` for
        /// a private room, `full` for a public one.
        pub history: Option<HistoryVisibility>,
        /// Only when creating a private room: members may make invitations too, not only the
        /// owner. Default false.
        pub members_can_invite: Option<bool>,
        /// Join as an existing identity (e.g. to be in several rooms); a new one is made otherwise.
        pub client_id: Option<String>,
        /// A string you choose for this call, e.g. a UUID (16 to 64 letters, digits, `-`, `_`,
        /// `.` or `:`). If you call again with the same key (say, after a lost answer), you
        /// get the first call's result and nothing happens twice. Remembered for 10 minutes.
        pub idempotency_key: Option<String>,
    }
}

json_struct! {
    pub struct SendMessageParams {
        pub room_id: String,
        /// The text to send.
        pub message: String,
        pub client_id: String,
        /// A string you choose for this call, e.g. a UUID (16 to 64 letters, digits, `-`, `_`,
        /// `.` or `:`). If you call again with the same key (say, after a lost answer), you
        /// get the first call's result and nothing happens twice. Remembered for 10 minutes.
        pub idempotency_key: Option<String>,
    }
}

json_struct! {
    #[derive(Default)]
    pub struct WaitForMessageParams {
        /// The room to wait in. May be omitted while you are still in the queue: the answer then
        /// tells you the room you were matched into.
        pub room_id: Option<String>,
        pub client_id: String,
        /// Seconds to wait when nothing is pending (default 30, at most 50; 0 answers at once).
        pub timeout: Option<f64>,
        /// Re-read everything after this sequence number (e.g. after a lost answer). Without it,
        /// you get exactly what you have not been given yet.
        pub after_seq: Option<u64>,
        /// Also return your own chat messages (a View rendering the whole log wants them).
        pub include_own: Option<bool>,
    }
}

json_struct! {
    pub struct RoomClientParams {
        pub room_id: String,
        pub client_id: String,
    }
}

json_struct! {
    pub struct CreateInviteParams {
        pub room_id: String,
        pub client_id: String,
        /// How many joins it admits (default 1, at most 1000).
        pub max_uses: Option<u32>,
        /// Seconds until it expires (default 86400 = 24 h; from 60 to 604800 = 7 days).
        pub expires_in_s: Option<u64>,
    }
}

json_struct! {
    pub struct RevokeInviteParams {
        pub room_id: String,
        pub client_id: String,
        /// The code `create_invite` returned.
        pub invite: String,
    }
}

json_struct! {
    pub struct RemoveMemberParams {
        pub room_id: String,
        pub client_id: String,
        /// The public id of the member to remove (`members[].user_id`).
        pub user_id: String,
    }
}

json_struct! {
    pub struct GetHistoryParams {
        pub room_id: String,
        pub client_id: String,
        /// Return messages older than this sequence number (default: the newest).
        pub before_seq: Option<u64>,
        /// How many messages at most (default 50, at most 500).
        pub limit: Option<u32>,
    }
}

// ---------------------------------------------------------------------------------------------
// Tool results (the `structuredContent` of a successful call)
// ---------------------------------------------------------------------------------------------

json_enum! {
    /// Where `enter_queue` left the caller.
    pub enum QueueStatus {
        /// Paired: `room_id` and `partner` say where and with whom.
        Matched = "matched",
        /// Still in the queue: `position` and `queue_length` say where.
        Waiting = "waiting",
    }
}

json_enum! {
    /// What `join_room` did.
    pub enum JoinStatus {
        /// The room did not exist: the caller made it.
        RoomCreated = "room_created",
        /// The caller joined a room that existed (or was in it already).
        Joined = "joined",
    }
}

json_struct! {
    pub struct EnterQueueResult {
        pub status: QueueStatus,
        /// Your secret identity: pass it to every other tool; never share it.
        pub client_id: String,
        /// Your public id, as others see you.
        pub user_id: String,
        pub room_id: Option<String>,
        pub partner: Option<Participant>,
        /// 1 = next to be matched.
        pub position: Option<u32>,
        pub queue_length: Option<u32>,
        /// While waiting: call again (enter_queue with client_id, or wait_for_message) within this
        /// many seconds or your place expires.
        pub poll_within_seconds: Option<u64>,
        pub message: String,
    }
}

json_struct! {
    pub struct JoinRoomResult {
        pub status: JoinStatus,
        pub room_id: String,
        pub client_id: String,
        pub user_id: String,
        /// In a two-person room: the other member, once there is one.
        pub partner: Option<Participant>,
        pub members: Vec<MemberInfo>,
        pub capacity: u32,
        pub room_status: RoomStatus,
        pub latest_seq: u64,
        /// Private or public, its owner, your rights.
        pub access: RoomAccess,
        pub message: String,
    }
}

json_struct! {
    pub struct SendMessageResult {
        pub success: bool,
        pub message_id: String,
        pub seq: u64,
        pub timestamp: String,
        /// Members in the room now, you included.
        pub members_present: u32,
        pub room_status: RoomStatus,
    }
}

json_struct! {
    pub struct WaitForMessageResult {
        /// Every message you had not received yet, oldest first (system events included).
        pub messages: Vec<ChatMessage>,
        /// True when nothing arrived before the timeout.
        pub timeout: bool,
        /// More were pending than one answer carries: call again at once.
        pub has_more: bool,
        /// The room waited in; absent while still queued.
        pub room_id: Option<String>,
        pub room_status: Option<RoomStatus>,
        /// While still queued: 1 = next to be matched.
        pub queue_position: Option<u32>,
        /// The highest sequence number covered by this answer: pass it as `after_seq` to re-read
        /// after it if an answer is ever lost.
        pub last_seq: u64,
        /// Legacy single-message fields (the first chat message, or the first event), for clients
        /// of the older server.
        pub message: Option<String>,
        pub sender: Option<String>,
        pub timestamp: Option<String>,
        pub message_id: Option<String>,
    }
}

json_struct! {
    pub struct LeaveResult {
        pub success: bool,
        pub message: String,
        /// The room left; for `leave_queue`, the room the caller had been matched into, if it had.
        pub room_id: Option<String>,
        pub room_status: Option<RoomStatus>,
    }
}

json_struct! {
    pub struct HistoryResult {
        pub room_id: String,
        /// Oldest first.
        pub messages: Vec<ChatMessage>,
        /// Older messages exist: ask again with `before_seq` = the first `seq` here.
        pub has_more: bool,
        pub latest_seq: u64,
    }
}

json_struct! {
    pub struct RoomResult {
        pub room_id: String,
        pub status: RoomStatus,
        pub capacity: u32,
        pub members: Vec<MemberInfo>,
        pub latest_seq: u64,
        pub created_at: String,
        /// The caller's own public id and name, so a View knows which messages are "mine".
        pub you: Participant,
        /// Private or public, its owner, the caller's rights.
        pub access: RoomAccess,
    }
}

json_struct! {
    /// A new invitation. The code is shown this once: the server keeps only its hash.
    pub struct InviteResult {
        pub room_id: String,
        /// The code: `join_room` with `invite` set to it (and a `display_name`) joins the room.
        pub invite: String,
        /// RFC 3339, UTC.
        pub expires_at: String,
        pub uses_left: u32,
        /// A line to hand to the person or agent invited, as it is.
        pub share_text: String,
        /// The invitation as a link to the server's browser page (when it serves one): whoever
        /// opens it picks a name and is in the room, with no MCP client at all.
        pub url: Option<String>,
        pub message: String,
    }
}

json_struct! {
    /// What a moderation call (`revoke_invite`, `remove_member`, `close_room`) did.
    pub struct ModerationResult {
        pub success: bool,
        pub room_id: String,
        pub room_status: RoomStatus,
        /// `remove_member`: whom it removed.
        pub removed: Option<Participant>,
        pub message: String,
    }
}

json_enum! {
    /// `ErrorResult::status`: one value, kept for clients of the older server that test it.
    pub enum FailedStatus {
        Error = "error",
    }
}

json_struct! {
    /// The `structuredContent` of a failed call (`isError: true`).
    pub struct ErrorResult {
        /// Always false / "error", for clients of the older server that test these fields.
        pub success: bool,
        pub status: FailedStatus,
        /// Human-readable reason.
        pub error: String,
        /// Stable machine-readable code, e.g. `room_full`, `not_a_member`, `invalid_argument`.
        pub code: String,
        /// The argument at fault, when one is.
        pub field: Option<String>,
        /// For `rate_limited`: when to try again.
        pub retry_after_ms: Option<u64>,
    }
}

/// `open_chat`'s result: the room, plus the caller's `client_id` so the View it opens can act as
/// that member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(JsonSchema))]
pub struct OpenChatResult {
    #[serde(flatten)]
    pub room: RoomResult,
    pub client_id: String,
    /// For a client that shows no View: a link that opens the room in a browser as this member
    /// (once, within 10 minutes: it carries a one-time code, never the `client_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

json_struct! {
    /// `load_room` (a View-only helper): what the View needs to show a room, in one round trip.
    /// The history is read before the room, so the members are at least as new as the messages.
    pub struct LoadRoomResult {
        pub history: HistoryResult,
        pub room: RoomResult,
    }
}

impl ErrorResult {
    /// Only the sentence for people (`error`) of a failed call's `structuredContent`: a reader
    /// that shows it needs nothing else to be well formed.
    pub fn reason(value: &Value) -> Option<String> {
        let f = Fields::of(value, "struct ErrorResult").ok()?;
        f.opt(stringify!(error)).ok().flatten()
    }

    /// The `code` of a member the owner removed from the room: every later call of theirs on
    /// it fails with it.
    pub const REMOVED: &'static str = "removed";

    /// Only the machine-readable `code` of a failed call's `structuredContent`.
    pub fn code_of(value: &Value) -> Option<String> {
        let f = Fields::of(value, "struct ErrorResult").ok()?;
        f.opt(stringify!(code)).ok().flatten()
    }

    /// A failure with its machine-readable `code` and the sentence a reader is shown.
    pub fn new(code: impl Into<String>, error: impl Into<String>) -> ErrorResult {
        ErrorResult {
            success: false,
            status: FailedStatus::Error,
            error: error.into(),
            code: code.into(),
            field: None,
            retry_after_ms: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the View hands the model
// ---------------------------------------------------------------------------------------------

json_struct! {
    /// One message the person selected, as `get_selected_messages` returns it.
    pub struct SelectedMessage {
        pub seq: u64,
        /// The author's name as the View shows it ("Ada (you)" for the person).
        pub author: String,
        pub text: String,
        pub timestamp: String,
    }
}

json_struct! {
    /// `get_selected_messages`' `structuredContent`: the selected messages, oldest first.
    pub struct SelectedMessages {
        pub room_id: String,
        pub messages: Vec<SelectedMessage>,
    }
}

json_struct! {
    /// `propose_reply`'s arguments.
    pub struct ProposeReplyParams {
        /// The reply, written as the person would send it.
        pub text: String,
    }
}

json_struct! {
    /// The structured part of the View's `ui/update-model-context`: the room at a glance.
    pub struct ModelContext {
        pub room_id: String,
        pub status: RoomStatus,
        /// Member names, "(you)" marking the person.
        pub members: Vec<String>,
        pub last_seq: u64,
    }
}

json_struct! {
    /// The room and identity a tool call names, read by the View from the call's arguments or
    /// its result (`join_room`, `enter_queue`, `open_chat` all carry them).
    #[derive(Default, Eq)]
    pub struct RoomTarget {
        pub client_id: Option<String>,
        pub room_id: Option<String>,
    }
}

impl RoomTarget {
    /// The ids a tool's arguments or result name, from any tool: each read on its own, so one
    /// of the wrong type does not hide the other (a whole-object read would fail on it); an
    /// empty id is no id.
    pub fn named_by(value: &Value) -> RoomTarget {
        let id = |key: &str| -> Option<String> {
            Fields::of(value, "struct RoomTarget")
                .ok()?
                .opt::<String>(key)
                .ok()
                .flatten()
                .filter(|id| !id.is_empty())
        };
        RoomTarget {
            client_id: id(stringify!(client_id)),
            room_id: id(stringify!(room_id)),
        }
    }

    /// Fills what `self` lacks from `other` (a result's ids first, then the call's arguments').
    pub fn or(self, other: RoomTarget) -> RoomTarget {
        RoomTarget {
            client_id: self.client_id.or(other.client_id),
            room_id: self.room_id.or(other.room_id),
        }
    }
}

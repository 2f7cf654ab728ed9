//! Every way a chat operation can fail, each with a stable code and an account of what happened.
//! What to do next names tools, so the MCP adapter adds it (`mcp/replies.rs`).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("{field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },
    #[error("Unknown client_id: it was never issued, or it expired after being idle.")]
    UnknownClient,
    #[error("Room not found: {0}")]
    RoomNotFound(String),
    #[error("You are not in this room ({0}).")]
    NotAMember(String),
    #[error("Room is full: {room_id} holds {capacity} members.")]
    RoomFull { room_id: String, capacity: u32 },
    #[error("Chat has ended in room {0}: nobody can send any more.")]
    RoomEnded(String),
    #[error("You are already in room {0}.")]
    AlreadyMember(String),
    #[error("You are not in the queue (your place expired, you left, or you were never queued).")]
    NotQueued,
    #[error("Too many {what}. Try again in {} ms.", retry_after.as_millis())]
    RateLimited {
        /// What was limited and at which rate, e.g. "messages: at most 20 per second".
        what: String,
        retry_after: Duration,
    },
    #[error("You are in {limit} rooms, the most one client may be in.")]
    TooManyRooms { limit: usize },
    #[error("You already have {limit} long polls in progress, the most one client may have.")]
    TooManyWaits { limit: usize },
    #[error("The server is at its limit of {limit} {what}; try again later.")]
    ServerFull { what: &'static str, limit: usize },
    #[error("Room {room_id} has reached its limit of {limit} messages.")]
    RoomLogFull { room_id: String, limit: usize },
    #[error("Room {0} is private: it is joined only with an invitation.")]
    InviteRequired(String),
    #[error("This invitation is not valid: it is wrong, expired, withdrawn or used up.")]
    InvalidInvite,
    #[error("You were removed from room {0} by its owner.")]
    Removed(String),
    #[error("In room {room_id}, only {who} may {what}.")]
    NotAllowed {
        room_id: String,
        /// Who may, e.g. "the owner".
        who: &'static str,
        /// What the caller tried, e.g. "remove members".
        what: &'static str,
    },
    #[error("Room {0} exists already and is public: a private room needs a name not in use.")]
    RoomExists(String),
    #[error("The server is shutting down.")]
    ShuttingDown,
    #[error("Storage failed: {0}")]
    Storage(String),
}

impl ChatError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        ChatError::InvalidArgument {
            field,
            reason: reason.into(),
        }
    }

    /// The stable, machine-readable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ChatError::InvalidArgument { .. } => "invalid_argument",
            ChatError::UnknownClient => "unknown_client",
            ChatError::RoomNotFound(_) => "room_not_found",
            ChatError::NotAMember(_) => "not_a_member",
            ChatError::RoomFull { .. } => "room_full",
            ChatError::RoomEnded(_) => "room_ended",
            ChatError::AlreadyMember(_) => "already_a_member",
            ChatError::NotQueued => "not_queued",
            ChatError::RateLimited { .. } => "rate_limited",
            ChatError::TooManyRooms { .. } => "too_many_rooms",
            ChatError::TooManyWaits { .. } => "too_many_waits",
            ChatError::ServerFull { .. } => "server_full",
            ChatError::RoomLogFull { .. } => "room_log_full",
            ChatError::InviteRequired(_) => "invite_required",
            ChatError::InvalidInvite => "invalid_invite",
            ChatError::Removed(_) => mcp_chat_shared::chat::ErrorResult::REMOVED,
            ChatError::NotAllowed { .. } => "not_allowed",
            ChatError::RoomExists(_) => "room_exists",
            ChatError::ShuttingDown => "shutting_down",
            ChatError::Storage(_) => "storage_error",
        }
    }

    pub fn field(&self) -> Option<&'static str> {
        match self {
            ChatError::InvalidArgument { field, .. } => Some(field),
            ChatError::UnknownClient => Some("client_id"),
            ChatError::InvalidInvite => Some("invite"),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ChatError::RateLimited { retry_after, .. } => Some(*retry_after),
            // Every wait ends within the longest timeout; a second is a fair first guess.
            ChatError::TooManyWaits { .. } => Some(Duration::from_secs(1)),
            _ => None,
        }
    }
}

//! The tool contract: every tool's name, with the types of its arguments and of its result.
//!
//! The server's tools take [`ParamsOf`] their entry here and answer with its [`Tool::Result`];
//! the View calls them through [`Tool::NAME`] with typed arguments and reads typed answers, and
//! offers the model [`VIEW_TOOLS`] the same way. A field renamed here is renamed on both sides.
//! A tool renamed here is renamed in the View; the server's `#[tool]` methods are named after
//! their tools (the macro takes the name from the method), and a test fails until the method is
//! renamed too: it checks that the server serves exactly [`SERVER_TOOLS`], each with its
//! parameters' schema.
//!
//! A new tool: its parameter and result types in [`crate::chat`], one line in a table below,
//! one `#[tool]` method in the server's `mcp` module, one engine operation.

use crate::chat::{
    CreateInviteParams, EnterQueueParams, EnterQueueResult, GetHistoryParams, HistoryResult,
    InviteResult, JoinRoomParams, JoinRoomResult, LeaveQueueParams, LeaveResult, LoadRoomResult,
    ModerationResult, OpenChatResult, ProposeReplyParams, RemoveMemberParams, RevokeInviteParams,
    RoomClientParams, RoomResult, SelectedMessages, SendMessageParams, SendMessageResult,
    WaitForMessageParams, WaitForMessageResult,
};

/// One tool of the contract, as a type: `T::NAME`, `T::Params`, `T::Result`.
pub trait Tool {
    /// The name clients call it by.
    const NAME: &'static str;
    /// Its arguments.
    type Params;
    /// Its `structuredContent` when it succeeds (a failure is a `chat::ErrorResult`).
    type Result;
}

/// The arguments of tool `T`.
pub type ParamsOf<T> = <T as Tool>::Params;
/// The result of tool `T`.
pub type ResultOf<T> = <T as Tool>::Result;

macro_rules! tools {
    (
        $(#[$list_doc:meta])* $list:ident;
        $( $(#[doc = $doc:literal])* $tool:ident = $name:literal ($params:ty) -> $result:ty; )*
    ) => {
        $(
            $(#[doc = $doc])*
            pub struct $tool;

            impl Tool for $tool {
                const NAME: &'static str = $name;
                type Params = $params;
                type Result = $result;
            }
        )*

        $(#[$list_doc])*
        pub const $list: &[&str] = &[$($name),*];
    };
}

tools! {
    /// The names of the tools the server offers.
    SERVER_TOOLS;
    /// Pair with a random partner, or keep one's place and wait for a match.
    EnterQueue = "enter_queue" (EnterQueueParams) -> EnterQueueResult;
    /// Stop waiting for a partner.
    LeaveQueue = "leave_queue" (LeaveQueueParams) -> LeaveResult;
    /// Create or join a named room.
    JoinRoom = "join_room" (JoinRoomParams) -> JoinRoomResult;
    /// Append a message to a room's log.
    SendMessage = "send_message" (SendMessageParams) -> SendMessageResult;
    /// Receive what one has not received yet, waiting (long-poll) when there is nothing.
    WaitForMessage = "wait_for_message" (WaitForMessageParams) -> WaitForMessageResult;
    /// Leave a room.
    LeaveChat = "leave_chat" (RoomClientParams) -> LeaveResult;
    /// Page back through a room's log.
    GetHistory = "get_history" (GetHistoryParams) -> HistoryResult;
    /// A room's members, status and latest sequence number.
    GetRoom = "get_room" (RoomClientParams) -> RoomResult;
    /// Show the room's View to the person (MCP Apps hosts).
    OpenChat = "open_chat" (RoomClientParams) -> OpenChatResult;
    /// For the View only: the latest messages and the room in one call.
    LoadRoom = "load_room" (GetHistoryParams) -> LoadRoomResult;
    /// Make an invitation to a private room (its owner, or members if the owner allows it).
    CreateInvite = "create_invite" (CreateInviteParams) -> InviteResult;
    /// Withdraw an invitation (the owner).
    RevokeInvite = "revoke_invite" (RevokeInviteParams) -> ModerationResult;
    /// Remove a member from a private room for good (the owner).
    RemoveMember = "remove_member" (RemoveMemberParams) -> ModerationResult;
    /// End the room for everyone; its history stays readable to its members (the owner).
    CloseRoom = "close_room" (RoomClientParams) -> ModerationResult;
}

tools! {
    /// The names of the tools the View offers the model while a room is open.
    VIEW_TOOLS;
    /// What the person selected in the View.
    GetSelectedMessages = "get_selected_messages" (()) -> SelectedMessages;
    /// Put a reply into the person's message box, unsent.
    ProposeReply = "propose_reply" (ProposeReplyParams) -> ();
}

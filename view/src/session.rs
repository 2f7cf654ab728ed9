//! The View's conversation with our server, through the host: find the room, load it, then keep
//! a long-poll `wait_for_message` running, reconnecting with backoff after errors.
//!
//! The View always passes an explicit `after_seq` (its own cursor), so it never moves the
//! delivery cursor of the model that may share its identity.

use std::time::Duration;

use leptos::prelude::*;
use mcp_apps::{App as Host, HostError, RequestOptions, sleep};
use mcp_chat_shared::chat::{
    ChatMessage, ErrorResult, GetHistoryParams, MessageKind, RoomClientParams, RoomResult,
    RoomStatus, RoomTarget, SendMessageParams, WaitForMessageParams,
};
use mcp_chat_shared::json::{FromJson, ToJson};
use mcp_chat_shared::tools::{
    GetRoom, LoadRoom, ParamsOf, ResultOf, SendMessage, Tool, WaitForMessage,
};
use serde_json::Value;

use crate::room::{Room, WINDOW};

/// Seconds each wait may block on the server (under its 50 s cap and clients' 60 s limit).
const WAIT_SECONDS: u64 = 25;
/// How long the View gives the host to answer a wait before treating it as lost and retrying:
/// the server's own wait plus a margin for the round trip.
const WAIT_ANSWER_WITHIN: Duration = Duration::from_secs(WAIT_SECONDS + 15);
/// A send the host has not answered by then is reported as failed (the draft is kept), rather
/// than leaving the person looking at "Sending…".
const SEND_ANSWER_WITHIN: Duration = Duration::from_secs(20);
/// Reading the room (history, members) is quick on the server; a host that has not answered
/// by then is retried rather than waited on.
const LOAD_ANSWER_WITHIN: Duration = Duration::from_secs(30);
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Where the View stands, shown in the header.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    /// Handshake with the host in progress.
    Connecting,
    /// Connected; no room named yet by any tool.
    Idle,
    /// In the queue, waiting for a partner.
    Queued {
        position: Option<u32>,
    },
    Loading,
    Live,
    Reconnecting {
        attempt: u32,
        reason: String,
    },
    /// The room ended; history stays on screen.
    Ended,
    /// The room's owner removed this member: nothing more can be done in it.
    Removed,
    /// Torn down by the host.
    Closed,
    Failed(String),
}

impl Connection {
    pub fn label(&self) -> String {
        match self {
            Connection::Connecting => "Connecting…".into(),
            Connection::Idle => "Connected".into(),
            Connection::Queued { position: Some(p) } => {
                format!("Waiting for a partner (#{p} in line)")
            }
            Connection::Queued { position: None } => "Waiting for a partner".into(),
            Connection::Loading => "Loading the room…".into(),
            Connection::Live => "Live".into(),
            Connection::Reconnecting { attempt, reason } => {
                format!("Reconnecting (attempt {attempt}): {reason}")
            }
            Connection::Ended => "Chat ended".into(),
            Connection::Removed => "You were removed from this room".into(),
            Connection::Closed => "Closed".into(),
            Connection::Failed(reason) => format!("Not connected: {reason}"),
        }
    }

    pub fn state(&self) -> &'static str {
        match self {
            Connection::Connecting | Connection::Loading => "connecting",
            Connection::Idle | Connection::Queued { .. } => "idle",
            Connection::Live => "live",
            Connection::Reconnecting { .. } => "reconnecting",
            Connection::Ended | Connection::Closed | Connection::Removed => "ended",
            Connection::Failed(_) => "failed",
        }
    }
}

/// The reactive state the components share.
#[derive(Clone, Copy)]
pub struct ChatState {
    pub room: RwSignal<Option<Room>>,
    pub connection: RwSignal<Connection>,
    /// A message for the person not tied to the composer (e.g. a hand-off that failed).
    pub notice: RwSignal<Option<String>>,
}

impl ChatState {
    pub fn new() -> ChatState {
        ChatState {
            room: RwSignal::new(None),
            connection: RwSignal::new(Connection::Connecting),
            notice: RwSignal::new(None),
        }
    }
}

impl Default for ChatState {
    fn default() -> Self {
        Self::new()
    }
}

/// Calls tool `T` of our server through the host, with its contract's arguments, and reads its
/// contract's result; fails after `within` (the call is then withdrawn from the host).
pub async fn call<T: Tool>(
    host: &Host,
    arguments: &ParamsOf<T>,
    within: Duration,
) -> Result<ResultOf<T>, HostError>
where
    ParamsOf<T>: ToJson,
    ResultOf<T>: FromJson,
{
    let value = call_named(host, T::NAME, arguments.to_json(), within).await?;
    ResultOf::<T>::from_json(&value).map_err(|e| unexpected(T::NAME, e))
}

/// An answer that is not the tool's result type (a newer server, say).
#[inline(never)]
fn unexpected(tool: &str, error: String) -> HostError {
    HostError::Protocol(format!("{tool}: unexpected answer: {error}"))
}

/// The untyped part of [`call`], compiled once rather than once per tool.
async fn call_named(
    host: &Host,
    tool: &str,
    arguments: Value,
    within: Duration,
) -> Result<Value, HostError> {
    let result = host
        .call_server_tool_with(tool, arguments, RequestOptions::within(within))
        .await?;
    Ok(result.structured_content.unwrap_or(Value::Null))
}

/// Whether a failure says the owner removed this member from the room.
pub fn is_removal(error: &HostError) -> bool {
    match error {
        HostError::Tool(result) => result
            .structured_content
            .as_ref()
            .and_then(ErrorResult::code_of)
            .is_some_and(|code| code == ErrorResult::REMOVED),
        _ => false,
    }
}

/// What to tell the person about a failure. Our server's tool errors carry a sentence for
/// people in their `structuredContent` (the text content is written for the model).
pub fn describe(error: &HostError) -> String {
    match error {
        HostError::Tool(result) => result
            .structured_content
            .as_ref()
            .and_then(ErrorResult::reason)
            .unwrap_or_else(|| result.text()),
        other => other.to_string(),
    }
}

/// Waiting arguments: `room_id` absent while still queued.
fn wait_params(room_id: Option<&str>, client_id: &str) -> WaitForMessageParams {
    WaitForMessageParams {
        room_id: room_id.map(str::to_owned),
        client_id: client_id.to_owned(),
        timeout: Some(WAIT_SECONDS as f64),
        after_seq: None,
        include_own: None,
    }
}

/// After a failed attempt: show it, then wait longer each time (500 ms doubling up to 10 s).
async fn pause_after_error(state: ChatState, attempt: &mut u32, error: &HostError) {
    *attempt += 1;
    state.connection.set(Connection::Reconnecting {
        attempt: *attempt,
        reason: describe(error),
    });
    let backoff = BACKOFF_FIRST
        .saturating_mul(1 << (*attempt).min(10))
        .min(BACKOFF_MAX);
    sleep(backoff).await;
}

/// Runs the session for `target` until the room ends or the host tears the View down.
pub async fn run(host: Host, state: ChatState, target: RoomTarget) {
    let Some(client_id) = target.client_id else {
        state.connection.set(Connection::Idle);
        return;
    };
    let room_id = match target.room_id {
        Some(room_id) => room_id,
        None => match wait_for_match(&host, state, &client_id).await {
            Some(room_id) => room_id,
            None => return,
        },
    };
    state.connection.set(Connection::Loading);
    let mut attempt = 0;
    let room = loop {
        match load(&host, &room_id, &client_id).await {
            Ok(room) => break room,
            Err(HostError::TornDown) => return state.connection.set(Connection::Closed),
            Err(e) => pause_after_error(state, &mut attempt, &e).await,
        }
    };
    let ended = room.status == RoomStatus::Ended;
    state.room.set(Some(room));
    if ended {
        return state.connection.set(Connection::Ended);
    }
    state.connection.set(Connection::Live);
    host.send_log("info", format!("following room {room_id}"));
    follow(&host, state, &room_id, &client_id).await;
}

/// Queued without a room yet: wait (long-poll) until the queue matches us.
async fn wait_for_match(host: &Host, state: ChatState, client_id: &str) -> Option<String> {
    // Queued is what the tool result said: show it now, not after the first long poll ends
    // (up to WAIT_SECONDS later); the position follows with the first answer.
    state.connection.set(Connection::Queued { position: None });
    let mut attempt = 0;
    loop {
        let args = wait_params(None, client_id);
        match call::<WaitForMessage>(host, &args, WAIT_ANSWER_WITHIN).await {
            Ok(result) => {
                attempt = 0;
                if let Some(room_id) = result.room_id {
                    return Some(room_id);
                }
                state.connection.set(Connection::Queued {
                    position: result.queue_position,
                });
            }
            Err(HostError::TornDown) => {
                state.connection.set(Connection::Closed);
                return None;
            }
            // An answer this View cannot read too: backed off from and retried, as in `follow`.
            Err(e) => {
                host.send_log("warning", format!("wait for a match failed: {e}"));
                pause_after_error(state, &mut attempt, &e).await;
            }
        }
    }
}

/// Reads the room's latest messages and its members in one call (`load_room`, a helper only
/// Views get). The server reads the log first, so the members are at least as new as the log;
/// anything later arrives through the wait loop (which refreshes them).
async fn load(host: &Host, room_id: &str, client_id: &str) -> Result<Room, HostError> {
    let args = GetHistoryParams {
        room_id: room_id.to_owned(),
        client_id: client_id.to_owned(),
        before_seq: None,
        limit: Some(WINDOW as u32),
    };
    let loaded = call::<LoadRoom>(host, &args, LOAD_ANSWER_WITHIN).await?;
    let mut room = Room::new(room_id.to_owned(), client_id.to_owned());
    apply_info(&mut room, loaded.room);
    room.merge(loaded.history.messages);
    room.cursor = room.last_seq();
    Ok(room)
}

fn apply_info(room: &mut Room, info: RoomResult) {
    room.me = Some(info.you);
    room.members = info.members;
    room.capacity = info.capacity;
    room.access = Some(info.access);
    if room.status != RoomStatus::Ended {
        room.status = info.status;
    }
    crate::moderation::room_changed(room);
}

/// The long-poll loop.
async fn follow(host: &Host, state: ChatState, room_id: &str, client_id: &str) {
    let mut attempt = 0;
    loop {
        if host.is_torn_down() {
            return state.connection.set(Connection::Closed);
        }
        let after = state
            .room
            .with_untracked(|r| r.as_ref().map_or(0, |r| r.cursor));
        let args = WaitForMessageParams {
            after_seq: Some(after),
            include_own: Some(true),
            ..wait_params(Some(room_id), client_id)
        };
        // An answer this View cannot read (a newer server, say) is an error like any other: it
        // would come back at once for the same cursor, so it is backed off from, not spun on.
        match call::<WaitForMessage>(host, &args, WAIT_ANSWER_WITHIN).await {
            Ok(result) => {
                attempt = 0;
                let membership_changed = result.messages.iter().any(|m| {
                    matches!(
                        m.kind,
                        MessageKind::Joined
                            | MessageKind::Left
                            | MessageKind::Matched
                            | MessageKind::OwnerChanged
                    )
                });
                state.room.update(|r| {
                    if let Some(r) = r {
                        r.merge(result.messages.clone());
                        r.cursor = r.cursor.max(result.last_seq);
                        if result.room_status == Some(RoomStatus::Ended) {
                            r.status = RoomStatus::Ended;
                        }
                    }
                });
                if result.room_status == Some(RoomStatus::Ended) {
                    refresh(host, state, room_id, client_id).await;
                    return state.connection.set(Connection::Ended);
                }
                state.connection.set(Connection::Live);
                if membership_changed {
                    refresh(host, state, room_id, client_id).await;
                }
            }
            Err(HostError::TornDown) => return state.connection.set(Connection::Closed),
            // Final: the server refuses every later call of this member on the room.
            Err(e) if is_removal(&e) => return state.connection.set(Connection::Removed),
            Err(e) => {
                host.send_log("warning", format!("wait failed: {e}"));
                pause_after_error(state, &mut attempt, &e).await;
            }
        }
    }
}

/// Re-reads members and status (after someone joined or left).
async fn refresh(host: &Host, state: ChatState, room_id: &str, client_id: &str) {
    let ids = RoomClientParams {
        room_id: room_id.to_owned(),
        client_id: client_id.to_owned(),
    };
    if let Ok(info) = call::<GetRoom>(host, &ids, LOAD_ANSWER_WITHIN).await {
        state.room.update(|r| {
            if let Some(r) = r {
                apply_info(r, info);
            }
        });
    }
}

/// A new `idempotency_key` for one message: sending again with it (after an answer that never
/// came) cannot store the message twice. Scoped by the server to this member's sends, so it
/// needs to be unique, not secret: the time and 96 bits of `Math.random`.
pub fn new_send_key() -> String {
    let word = || (js_sys::Math::random() * 4_294_967_296.0) as u32;
    format!(
        "view-{:x}-{:08x}{:08x}{:08x}",
        js_sys::Date::now() as u64,
        word(),
        word(),
        word()
    )
}

/// Sends `text` as the View's member, with `key` as its `idempotency_key`: when the answer does
/// not come, the draft stays, and sending it again reuses the key (the composer keeps it), which
/// the server answers without storing the message twice. On success the message is shown at
/// once (the wait loop will bring it again; the merge ignores the duplicate).
pub async fn send(
    host: &Host,
    state: ChatState,
    text: String,
    key: String,
) -> Result<(), HostError> {
    let Some((room_id, client_id, me)) = state.room.with_untracked(|r| {
        r.as_ref()
            .map(|r| (r.room_id.clone(), r.client_id.clone(), r.me.clone()))
    }) else {
        return Err(HostError::Unsupported("sending before a room is open"));
    };
    let args = SendMessageParams {
        room_id,
        message: text,
        client_id,
        idempotency_key: Some(key),
    };
    let sent = call::<SendMessage>(host, &args, SEND_ANSWER_WITHIN).await?;
    let SendMessageParams {
        room_id,
        message: text,
        ..
    } = args;
    let shown = ChatMessage {
        seq: sent.seq,
        message_id: sent.message_id,
        room_id,
        kind: MessageKind::Chat,
        sender: me,
        text,
        timestamp_ms: js_sys::Date::parse(&sent.timestamp) as u64,
        timestamp: sent.timestamp,
    };
    state.room.update(|r| {
        if let Some(r) = r {
            r.merge([shown]);
        }
    });
    Ok(())
}

/// The open room's ids, if a room is open.
pub fn room_ids(state: ChatState) -> Option<RoomClientParams> {
    state.room.with_untracked(|r| {
        r.as_ref().map(|r| RoomClientParams {
            room_id: r.room_id.clone(),
            client_id: r.client_id.clone(),
        })
    })
}

/// Calls one of the owner's tools (`arguments` from its contract's parameters) and returns its
/// structured answer. One untyped path for all of them: the View reads only the invitation's
/// answer, and a member's removal shows through the wait loop like any departure.
pub async fn moderate(host: &Host, tool: &str, arguments: Value) -> Result<Value, HostError> {
    call_named(host, tool, arguments, LOAD_ANSWER_WITHIN).await
}

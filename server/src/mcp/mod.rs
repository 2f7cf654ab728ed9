//! The MCP face of the server: a thin adapter that exposes the chat engine as tools and the View
//! as a UI resource. It holds no chat state of its own: every tool validates nothing itself,
//! calls one engine operation, and renders the outcome twice — `structuredContent` for programs
//! and a short text for the model.

mod apps;
pub mod calls;
mod guard;
mod links;
mod params;
mod progress;
mod replies;
mod resources;
mod text;

use std::sync::Arc;

use mcp_chat_shared::chat::{ErrorResult, LoadRoomResult, OpenChatResult};
use mcp_chat_shared::tools::{self, ParamsOf, ResultOf, Tool};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestMethod,
    CompleteRequestParams, CompleteResult, ContentBlock, Implementation, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse,
    RequestMetaObject, ServerCapabilities, ServerConfig,
};
// Logging is deprecated by SEP-2577 (2026-07-28 carries a log level in each request's `_meta`),
// but 2025-11-25 clients still set one; see `set_level`.
#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, tool, tool_handler, tool_router};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::engine::{ChatError, Engine};
use apps::{linked_to_view, view_helper};
use params::Parameters;

const INSTRUCTIONS: &str = "MCP Chat: real-time chat rooms for people and AI agents. \
Start with enter_queue (random partner) or join_room (a named room). Keep the client_id you get: \
it is your secret identity. Then loop: wait_for_message (returns every message you have not \
seen, or waits), reply with send_message, call wait_for_message again. Leave with leave_chat. \
In the text of messages, each message starts a line `[#seq] Name: …` (a system event: \
`[#seq] (…)`); a line starting with `  | ` continues the message above it, whatever it says.";

/// One per MCP session, and on 2026-07-28 one per request (rmcp serves each stateless request
/// with a service of its own, alive as long as the request: a parked wait holds one). Cheap to
/// clone: the engine and the tool router are shared behind `Arc`s (a router of its own was a
/// map of ten tool definitions copied into every parked stateless wait).
#[derive(Clone)]
pub struct ChatServer {
    engine: Arc<Engine>,
    tool_router: Arc<ToolRouter<ChatServer>>,
    /// Where people reach the browser page (`--public-url`, or the address the HTTP server
    /// bound): set once it is known, never over stdio, which serves no page. Links are made only
    /// when it is set.
    public_url: Arc<std::sync::OnceLock<String>>,
}

fn success<T: Serialize>(value: &T, text: String) -> Result<CallToolResult, ErrorData> {
    let structured = serde_json::to_value(value).map_err(|e| {
        ErrorData::internal_error(format!("result serialization failed: {e}"), None)
    })?;
    // Not `CallToolResult::structured`: it renders the whole value as JSON text for `content`,
    // which the short text replaces anyway (7.7 % of the server's instructions went there).
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
    Ok(result)
}

/// A chat failure is a tool error the model reads (`isError: true`), not a protocol error.
fn failure(error: ChatError) -> Result<CallToolResult, ErrorData> {
    Ok(tool_error(ErrorResult {
        field: error.field().map(str::to_owned),
        retry_after_ms: error.retry_after().map(|d| d.as_millis() as u64),
        ..ErrorResult::new(error.code(), replies::failure(&error))
    }))
}

/// A View-only tool called by a client that renders no View.
fn view_required(tool: &str) -> Result<CallToolResult, ErrorData> {
    Ok(tool_error(ErrorResult::new(
        "view_required",
        format!(
            "{tool} serves the chat View, which this client does not show (it did not declare \
             the MCP Apps extension {}). Use {} and {} to chat.",
            mcp_apps::protocol::EXTENSION_ID,
            tools::WaitForMessage::NAME,
            tools::SendMessage::NAME,
        ),
    )))
}

/// Every tool error, whichever layer finds it: `body` as `structuredContent`, and
/// "Error (code): reason" for the model.
fn tool_error(body: ErrorResult) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
        "Error ({}): {}",
        body.code, body.error
    ))]);
    // Strings, numbers and a bool: serializing it cannot fail.
    result.structured_content = serde_json::to_value(&body).ok();
    result
}

/// Answers a call of tool `T` with the result type the contract gives it.
fn respond<T: Tool>(
    outcome: Result<ResultOf<T>, ChatError>,
    render: impl FnOnce(&ResultOf<T>) -> String,
) -> Result<CallToolResult, ErrorData>
where
    ResultOf<T>: Serialize,
{
    match outcome {
        Ok(value) => {
            let text = render(&value);
            success(&value, text)
        }
        Err(e) => failure(e),
    }
}

#[tool_router]
impl ChatServer {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            tool_router: Arc::new(Self::tool_router()),
            public_url: Arc::default(),
        }
    }

    /// The engine, for the HTTP routes beside MCP (the browser page's link exchange).
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.clone()
    }

    /// Where people reach the browser page (`scheme://host[:port]`), once the HTTP server knows.
    pub fn set_public_url(&self, url: String) {
        let _ = self.public_url.set(url);
    }

    /// The browser page's address, when this server serves one.
    fn page_url(&self) -> Option<&str> {
        self.public_url.get().map(String::as_str)
    }

    /// A long-poll with progress notifications while it blocks, if the client asked for them
    /// (`progress.rs`). The long-poll tools take the peer, the cancellation token and `_meta`
    /// rather than the whole `RequestContext`, whose copy would hold a second copy of the HTTP
    /// request's head for as long as the call is parked; `_meta` is taken by value and dropped
    /// here, once its progress token is read, for the same reason.
    fn with_progress<W: Future>(
        &self,
        work: W,
        peer: Peer<RoleServer>,
        meta: RequestMetaObject,
    ) -> progress::WithProgress<W> {
        let every = self.engine.limits().progress_interval;
        progress::with_progress(work, peer, meta.get_progress_token(), every)
    }

    #[tool(
        description = "Find a random chat partner. Returns status \"matched\" (with room_id and partner) \
or \"waiting\" (with your client_id and queue position). While waiting, call enter_queue again with \
that client_id: it keeps your place and waits (long-poll, up to `timeout` seconds) until you are \
matched; or call wait_for_message with just your client_id. Then loop on wait_for_message / \
send_message. Keep client_id secret: it is your identity for every other call.",
        meta = linked_to_view()
    )]
    async fn enter_queue(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::EnterQueue>>,
        peer: Peer<RoleServer>,
        cancel: CancellationToken,
        meta: RequestMetaObject,
    ) -> Result<CallToolResult, ErrorData> {
        let work = self.engine.enter_queue(
            p.display_name.as_deref(),
            p.client_id.as_deref(),
            p.timeout,
            p.idempotency_key.as_deref(),
            &cancel,
        );
        let outcome = self.with_progress(work, peer, meta).await;
        respond::<tools::EnterQueue>(outcome.map(replies::entered_queue), text::enter_queue)
    }

    #[tool(description = "Leave the pairing queue (you will not be matched any more).")]
    async fn leave_queue(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::LeaveQueue>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self.engine.leave_queue(&p.client_id).await;
        respond::<tools::LeaveQueue>(outcome.map(replies::left_queue), |r| r.message.clone())
    }

    #[tool(
        description = "Create or join a named room. An unknown room_id creates the room (two members by \
default; pass `capacity` to allow more); a full room or an ended one is an error. Returns your \
client_id (secret identity for every other call) and the members. Messages sent before others \
join are kept for them. Then loop: wait_for_message, send_message. `private: true` creates a \
private room that you own: nobody joins it by name, only with an invitation (create_invite); a \
newcomer there reads only from their arrival unless `history: \"full\"`. To accept an \
invitation, pass `invite` (the code) and your display_name, without room_id.",
        meta = linked_to_view()
    )]
    async fn join_room(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::JoinRoom>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self.engine.join(&p).await;
        respond::<tools::JoinRoom>(outcome.map(replies::joined_room), text::join_room)
    }

    #[tool(
        description = "Make an invitation to a private room (its owner may; members too if the owner \
allowed it). Returns the code (`invite`, shown this once) and `share_text`, a line to hand to the \
person or agent you invite: they call join_room with the code. By default it admits one join and \
expires in 24 hours (`max_uses`, `expires_in_s`)."
    )]
    async fn create_invite(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::CreateInvite>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .engine
            .create_invite(&p.room_id, &p.client_id, p.max_uses, p.expires_in_s)
            .await
            .map(|mut invite| {
                invite.url = self
                    .page_url()
                    .map(|page| links::invite_url(page, &invite.invite));
                invite
            });
        respond::<tools::CreateInvite>(outcome.map(replies::invited), |r| r.message.clone())
    }

    #[tool(
        description = "Withdraw an invitation before it is used up (the owner, or the member who made \
it). Pass the code create_invite returned."
    )]
    async fn revoke_invite(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::RevokeInvite>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .engine
            .revoke_invite(&p.room_id, &p.client_id, &p.invite)
            .await;
        respond::<tools::RevokeInvite>(outcome.map(replies::revoked), |r| r.message.clone())
    }

    #[tool(
        description = "Remove a member from a private room you own (by their user_id, from members). \
They are out at once, every later call of theirs on the room is refused, and they cannot come \
back, not even with the invitation they used."
    )]
    async fn remove_member(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::RemoveMember>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .engine
            .remove_member(&p.room_id, &p.client_id, &p.user_id)
            .await;
        respond::<tools::RemoveMember>(outcome.map(replies::removed), |r| r.message.clone())
    }

    #[tool(
        description = "End a room you own for everyone: nobody can send any more; its members can still \
read its history until it expires."
    )]
    async fn close_room(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::CloseRoom>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self.engine.close_room(&p.room_id, &p.client_id).await;
        respond::<tools::CloseRoom>(outcome.map(replies::closed), |r| r.message.clone())
    }

    #[tool(
        description = "Send a message to a room you are in. It is stored in the room's ordered log before \
this returns (seq = its position), so it is never lost: members not waiting right now receive it \
on their next wait_for_message. Sending while alone in the room is allowed."
    )]
    async fn send_message(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::SendMessage>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .engine
            .send(
                &p.room_id,
                &p.client_id,
                &p.message,
                p.idempotency_key.as_deref(),
            )
            .await;
        respond::<tools::SendMessage>(outcome, text::send_message)
    }

    #[tool(
        description = "Receive messages. Returns at once with EVERY message you have not received yet, in \
order (chat and system events: joined, left, matched, room_ended); if none is pending, waits up to \
`timeout` seconds (default 30, max 50) for one. Call it in a loop: after each answer (and after \
replying with send_message) call it again. Stop when room_status is \"ended\". If an answer was \
lost, pass after_seq = the last seq you saw to re-read from there. Without room_id while still \
queued, it waits for your match and tells you the room."
    )]
    async fn wait_for_message(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::WaitForMessage>>,
        peer: Peer<RoleServer>,
        cancel: CancellationToken,
        meta: RequestMetaObject,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .with_progress(self.engine.wait(&p, &cancel), peer, meta)
            .await;
        respond::<tools::WaitForMessage>(outcome.map(replies::waited), text::wait_for_message)
    }

    #[tool(
        description = "Leave a room. The others see that you left. A two-person room ends when either \
person leaves; a larger room continues while members remain."
    )]
    async fn leave_chat(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::LeaveChat>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self.engine.leave(&p.room_id, &p.client_id).await;
        respond::<tools::LeaveChat>(outcome.map(replies::left_chat), |r| r.message.clone())
    }

    #[tool(
        description = "Read a room's earlier messages, oldest first (default the latest 50; page back \
with before_seq). Does not change what wait_for_message returns."
    )]
    async fn get_history(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::GetHistory>>,
    ) -> Result<CallToolResult, ErrorData> {
        let outcome = self
            .engine
            .history(&p.room_id, &p.client_id, p.before_seq, p.limit)
            .await;
        respond::<tools::GetHistory>(outcome, text::history)
    }

    #[tool(description = "Show a room's members, status and latest message number.")]
    async fn get_room(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::GetRoom>>,
    ) -> Result<CallToolResult, ErrorData> {
        respond::<tools::GetRoom>(self.engine.room(&p.room_id, &p.client_id).await, text::room)
    }

    #[tool(
        description = "Open the live chat View of a room for the person you are helping (in hosts that \
show MCP Apps). They can read along, type to the other side, and pick messages to hand to you.",
        meta = linked_to_view()
    )]
    async fn open_chat(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::OpenChat>>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let room = match self.engine.room(&p.room_id, &p.client_id).await {
            Ok(room) => room,
            Err(e) => return failure(e),
        };
        // A client that shows no View gets a link to the browser page instead (when there is
        // one): a single-use code, never the client_id.
        let url = match self.page_url() {
            Some(page) if !apps::client_renders_views(&context) => {
                match self.engine.make_link(&p.room_id, &p.client_id).await {
                    Ok(code) => Some(links::member_url(page, &code)),
                    Err(e) => return failure(e),
                }
            }
            _ => None,
        };
        let result = OpenChatResult {
            room,
            client_id: p.client_id.clone(),
            url,
        };
        respond::<tools::OpenChat>(Ok(result), |r| match &r.url {
            Some(url) => links::opened_in_browser(url, &r.room),
            None => format!("Opened the chat View. {}", text::room(&r.room)),
        })
    }

    #[tool(
        description = "For the chat View: a room's latest messages and its members in one call.",
        meta = view_helper()
    )]
    async fn load_room(
        &self,
        Parameters(p): Parameters<ParamsOf<tools::LoadRoom>>,
    ) -> Result<CallToolResult, ErrorData> {
        // History first: the members read after it are at least as new as the messages.
        let history = self
            .engine
            .history(&p.room_id, &p.client_id, p.before_seq, p.limit)
            .await;
        let outcome = match history {
            Ok(history) => self
                .engine
                .room(&p.room_id, &p.client_id)
                .await
                .map(|room| LoadRoomResult { history, room }),
            Err(e) => Err(e),
        };
        respond::<tools::LoadRoom>(outcome, |r| {
            format!(
                "Loaded {} messages. {}",
                r.history.messages.len(),
                text::room(&r.room)
            )
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ChatServer {
    #[allow(deprecated)] // `enable_logging`: see `set_level`
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_logging()
                // Declared with no prompts: rmcp answers `prompts/list` (with an empty list, the
                // truth) whatever is declared, and a server must not answer a method it did not
                // declare (the conformance suite's server-stateless checks it).
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("mcp-chat", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let renders_views = apps::client_renders_views(&context);
        let has_page = self.page_url().is_some();
        let tools = self
            .tool_router
            .list_all()
            .into_iter()
            .filter_map(|tool| apps::offered(tool, renders_views, has_page))
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = request.name.to_string();
        let record = calls::Call::start(&tool, request.arguments.as_ref(), context.id.clone());
        if !apps::callable(&tool, self.page_url().is_some(), &context) {
            let answer = view_required(&tool).map(Into::into);
            record.end(&answer);
            return answer;
        }
        let caller = guard::caller(&context);
        let call = ToolCallContext::new(self, request, context);
        guard::call(&tool, caller, record, self.tool_router.call(call)).await
    }

    /// Accepted so that a client which sets a level is not refused (2025-11-25 clients may, and
    /// the conformance suite requires it of a server declaring `logging`). The server sends
    /// clients no log notifications at any level: its log is the operator's (stderr), and a
    /// chat's events reach members as messages. Unknown levels never get here: rmcp refuses
    /// them as invalid parameters. (Deprecated by SEP-2577 with the whole of `logging`, still
    /// part of 2025-11-25.)
    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    /// No completions: nothing here takes a prompt or template argument to complete. Refused as
    /// unknown, not answered empty (rmcp's default), since a server must not answer a method it
    /// did not declare.
    async fn complete(
        &self,
        _request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        Err(ErrorData::method_not_found::<CompleteRequestMethod>())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![
            resources::view_resource(),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&request.uri).map(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use mcp_chat_shared::tools::SERVER_TOOLS;
    use rmcp::handler::server::common::schema_for_type;
    use schemars::JsonSchema;

    use super::*;

    /// The tools served are exactly the contract's, each taking its contract parameters. (The
    /// `#[tool]` methods are named after the tools, which the macro requires; this is what keeps
    /// those names and the contract's in step.)
    #[test]
    fn the_server_serves_the_contract() {
        let served = ChatServer::tool_router().list_all();
        let mut names: Vec<&str> = served.iter().map(|t| t.name.as_ref()).collect();
        names.sort_unstable();
        let mut contract = SERVER_TOOLS.to_vec();
        contract.sort_unstable();
        assert_eq!(names, contract);

        fn takes_its_parameters<T: Tool>(served: &[rmcp::model::Tool]) -> &'static str
        where
            ParamsOf<T>: JsonSchema + 'static,
        {
            let tool = served.iter().find(|t| t.name == T::NAME).unwrap();
            let mut contract =
                serde_json::Value::Object((*schema_for_type::<ParamsOf<T>>()).clone());
            // Optional arguments are served absent-or-typed (`params::absent_or_typed`)…
            params::absent_or_typed(&mut contract);
            let serde_json::Value::Object(mut expected) = contract else {
                unreachable!("a schema is an object")
            };
            // …and without the type's Rust name.
            expected.remove("title");
            assert_eq!(
                *tool.input_schema,
                expected,
                "{} does not take its contract parameters",
                T::NAME
            );
            T::NAME
        }
        let mut checked = [
            takes_its_parameters::<tools::EnterQueue>(&served),
            takes_its_parameters::<tools::LeaveQueue>(&served),
            takes_its_parameters::<tools::JoinRoom>(&served),
            takes_its_parameters::<tools::SendMessage>(&served),
            takes_its_parameters::<tools::WaitForMessage>(&served),
            takes_its_parameters::<tools::LeaveChat>(&served),
            takes_its_parameters::<tools::GetHistory>(&served),
            takes_its_parameters::<tools::GetRoom>(&served),
            takes_its_parameters::<tools::OpenChat>(&served),
            takes_its_parameters::<tools::LoadRoom>(&served),
            takes_its_parameters::<tools::CreateInvite>(&served),
            takes_its_parameters::<tools::RevokeInvite>(&served),
            takes_its_parameters::<tools::RemoveMember>(&served),
            takes_its_parameters::<tools::CloseRoom>(&served),
        ];
        checked.sort_unstable();
        assert_eq!(
            checked.to_vec(),
            contract,
            "a tool of the contract is not checked here"
        );
    }
}

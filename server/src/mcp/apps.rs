//! What the server offers depends on whether the client renders MCP Apps Views.
//!
//! A client declares it among its capabilities (`extensions["io.modelcontextprotocol/ui"]` with
//! the MCP Apps MIME type). One that does not gets no View: no `open_chat` (it would open
//! nothing), no View-only helper tools, and tool definitions without the `_meta.ui` link, so its
//! model is never told about a View it cannot show.
//!
//! Where the capabilities come from depends on the protocol revision, and this module is the one
//! place that reads them: up to 2025-11-25 a client states them once, in `initialize`, for its
//! whole session; from 2026-07-28 on there is no `initialize` and every request carries them in
//! its `_meta` (`io.modelcontextprotocol/clientCapabilities`). The answer is therefore per
//! request, never cached on the server value (one `ChatServer` may answer clients of both
//! revisions at once, and a stateless one differs from request to request).

use mcp_apps::protocol::{ClientUiCapability, EXTENSION_ID, ToolUiMeta};
use mcp_chat_shared::tools::{self, Tool as _};
use rmcp::RoleServer;
use rmcp::model::{ClientCapabilities, MetaObject, Tool};
use rmcp::service::RequestContext;

use crate::view::VIEW_URI;

/// Tools that exist only for Views: refused to, and hidden from, clients that render none.
pub const VIEW_ONLY_TOOLS: [&str; 2] = [tools::OpenChat::NAME, tools::LoadRoom::NAME];

/// `_meta` of a tool whose calls the host shows with the View.
pub fn linked_to_view() -> MetaObject {
    MetaObject(ToolUiMeta::linked(VIEW_URI).to_tool_meta())
}

/// `_meta` of a helper only the View calls: hidden from the model (`visibility: ["app"]`).
pub fn view_helper() -> MetaObject {
    MetaObject(ToolUiMeta::app_only().to_tool_meta())
}

/// Whether the client that sent this request renders MCP Apps Views: from the request's own
/// `_meta` where the revision carries capabilities per request (2026-07-28), from the session's
/// `initialize` where it does not (rmcp's `client_capabilities` falls back to it only on a
/// legacy session, so a stateless request without them renders nothing).
pub fn client_renders_views(context: &RequestContext<RoleServer>) -> bool {
    context
        .client_capabilities()
        .is_some_and(|capabilities| renders_views(&capabilities))
}

fn renders_views(capabilities: &ClientCapabilities) -> bool {
    capabilities
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get(EXTENSION_ID))
        .is_some_and(|settings| ClientUiCapability::from_settings(settings).renders_apps())
}

/// Whether this client may call `tool`: View-only tools need a client that shows Views, except
/// `open_chat` where the server has a browser page (it then answers with a link).
pub fn callable(tool: &str, has_page: bool, context: &RequestContext<RoleServer>) -> bool {
    if !VIEW_ONLY_TOOLS.contains(&tool) || (has_page && tool == tools::OpenChat::NAME) {
        return true;
    }
    client_renders_views(context)
}

/// What `open_chat` says to a client that shows no View, where the server has a browser page.
const OPEN_CHAT_AS_LINK: &str = "Get a link that opens a room's live chat in a browser, as you: the person you are helping can watch and type there while you chat through the tools. The link works once, within 10 minutes (it carries a one-time code, not your client_id); call again for a new one.";

/// The tool as this client gets it, or `None` when it is View-only and the client shows none.
/// `has_page`: the server serves the browser page, so `open_chat` stays, as a link.
pub fn offered(mut tool: Tool, renders_views: bool, has_page: bool) -> Option<Tool> {
    if renders_views {
        return Some(tool);
    }
    let as_link = has_page && tool.name == tools::OpenChat::NAME;
    if VIEW_ONLY_TOOLS.contains(&tool.name.as_ref()) && !as_link {
        return None;
    }
    if as_link {
        tool.description = Some(OPEN_CHAT_AS_LINK.into());
    }
    if let Some(meta) = tool.meta.as_mut() {
        meta.0.remove("ui");
        meta.0.remove("ui/resourceUri");
        if meta.0.is_empty() {
            tool.meta = None;
        }
    }
    Some(tool)
}

//! What the server offers depends on whether the client renders MCP Apps Views.
//!
//! A client declares it in `initialize` (`capabilities.extensions["io.modelcontextprotocol/ui"]`
//! with the MCP Apps MIME type). One that does not gets no View: no `open_chat` (it would open
//! nothing), no View-only helper tools, and tool definitions without the `_meta.ui` link, so its
//! model is never told about a View it cannot show.

use mcp_apps::protocol::{ClientUiCapability, EXTENSION_ID, ToolUiMeta};
use mcp_chat_shared::tools::{self, Tool as _};
use rmcp::RoleServer;
use rmcp::model::{MetaObject, Tool};
use rmcp::service::Peer;

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

/// Whether the client on the other end of `peer` renders MCP Apps Views.
pub fn client_renders_views(peer: &Peer<RoleServer>) -> bool {
    let Some(info) = peer.peer_info() else {
        return false;
    };
    info.capabilities
        .extensions
        .as_ref()
        .and_then(|extensions| extensions.get(EXTENSION_ID))
        .is_some_and(|settings| ClientUiCapability::from_settings(settings).renders_apps())
}

/// The tool as this client gets it, or `None` when it is View-only and the client shows none.
pub fn offered(mut tool: Tool, renders_views: bool) -> Option<Tool> {
    if renders_views {
        return Some(tool);
    }
    if VIEW_ONLY_TOOLS.contains(&tool.name.as_ref()) {
        return None;
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

//! The MCP face of the server: a thin adapter that exposes the chat engine as tools and the View
//! as a UI resource. It holds no chat state of its own.

mod resources;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    Implementation, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler, tool_router};

const INSTRUCTIONS: &str = "MCP Chat: real-time chat rooms for people and AI agents. \
The room View (ui://mcp-chat/room.html) shows a room live to the person in the host.";

/// One per MCP session; cheap to clone (everything shared sits behind an `Arc`).
#[derive(Clone)]
pub struct ChatServer {
    tool_router: ToolRouter<ChatServer>,
}

impl Default for ChatServer {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_router(allow_empty)]
impl ChatServer {
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ChatServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("mcp-chat", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
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

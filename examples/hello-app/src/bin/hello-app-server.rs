//! The tiny MCP server of the Hello App: a `greet` tool whose calls show the View, a `slow` tool
//! the View gives up on, and the View itself as a `ui://` resource, over streamable HTTP on
//! loopback. Usage: `hello-app-server <view.html> [port]` (it prints the address it listens on).

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main]
async fn main() {
    server::run().await;
}

#[cfg(not(target_arch = "wasm32"))]
mod server {
    use std::time::Duration;

    use mcp_apps::protocol::{ResourceCsp, ResourceUiMeta, ToolUiMeta, UI_MIME_TYPE};
    use rmcp::handler::server::router::tool::ToolRouter;
    use rmcp::handler::server::wrapper::Parameters;
    use rmcp::model::{
        CallToolResult, ContentBlock, ListResourcesResult, MetaObject, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
        ResourceContents, ServerCapabilities, ServerConfig,
    };
    use rmcp::service::RequestContext;
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};

    const VIEW_URI: &str = "ui://hello/view.html";

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct GreetParams {
        /// Who to greet.
        name: String,
    }

    #[derive(Clone)]
    struct Hello {
        view: String,
        tool_router: ToolRouter<Hello>,
    }

    fn view_link() -> MetaObject {
        MetaObject(ToolUiMeta::linked(VIEW_URI).to_tool_meta())
    }

    /// The View needs nothing outside its document, but compiles WebAssembly where allowed.
    fn ui_meta() -> MetaObject {
        let meta = ResourceUiMeta {
            csp: Some(ResourceCsp {
                wasm_unsafe_eval: Some(true),
                ..ResourceCsp::default()
            }),
            prefers_border: Some(true),
            ..ResourceUiMeta::default()
        };
        let mut object = serde_json::Map::new();
        object.insert("ui".into(), serde_json::to_value(meta).unwrap());
        MetaObject(object)
    }

    #[tool_router]
    impl Hello {
        #[tool(description = "Greet someone; the greeting shows in the Hello View.", meta = view_link())]
        async fn greet(&self, Parameters(p): Parameters<GreetParams>) -> CallToolResult {
            CallToolResult::success(vec![ContentBlock::text(format!("Hello, {}!", p.name))])
        }

        #[tool(description = "Answer after a minute (the View gives up sooner, and says so).")]
        async fn slow(&self, context: RequestContext<RoleServer>) -> CallToolResult {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(60)) => {}
                _ = context.ct.cancelled() => {}
            }
            CallToolResult::success(vec![ContentBlock::text("Finally.")])
        }
    }

    #[tool_handler(router = self.tool_router)]
    impl ServerHandler for Hello {
        fn get_info(&self) -> ServerConfig {
            ServerConfig::new(
                ServerCapabilities::builder()
                    .enable_tools()
                    .enable_resources()
                    .build(),
            )
            .with_server_info(rmcp::model::Implementation::new("hello-app", "1.0.0"))
        }

        async fn list_resources(
            &self,
            _request: Option<PaginatedRequestParams>,
            _context: RequestContext<RoleServer>,
        ) -> Result<ListResourcesResult, ErrorData> {
            let view = Resource::new(VIEW_URI, "Hello View")
                .with_mime_type(UI_MIME_TYPE)
                .with_meta(ui_meta());
            Ok(ListResourcesResult::with_all_items(vec![view]))
        }

        async fn read_resource(
            &self,
            request: ReadResourceRequestParams,
            _context: RequestContext<RoleServer>,
        ) -> Result<ReadResourceResponse, ErrorData> {
            if request.uri != VIEW_URI {
                return Err(ErrorData::resource_not_found(
                    format!("no resource {}", request.uri),
                    None,
                ));
            }
            let contents = ResourceContents::text(self.view.clone(), VIEW_URI)
                .with_mime_type(UI_MIME_TYPE)
                .with_meta(ui_meta());
            Ok(ReadResourceResult::new(vec![contents]).into())
        }
    }

    pub async fn run() {
        let mut args = std::env::args().skip(1);
        let path = args
            .next()
            .expect("usage: hello-app-server <view.html> [port]");
        let port: u16 = args.next().map_or(0, |p| p.parse().expect("a port number"));
        let view = std::fs::read_to_string(&path).expect("the View document");
        let hello = Hello {
            view,
            tool_router: Hello::tool_router(),
        };
        let config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(["127.0.0.1".to_owned(), "localhost".to_owned()]);
        let service = StreamableHttpService::new(
            move || Ok(hello.clone()),
            LocalSessionManager::default().into(),
            config,
        );
        let router = axum::Router::new().nest_service("/mcp", service);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        eprintln!(
            "hello-app-server listening on http://{}/mcp",
            listener.local_addr().unwrap()
        );
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                tokio::signal::ctrl_c().await.ok();
            })
            .await
            .unwrap();
    }
}

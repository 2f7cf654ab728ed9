//! MCP to the server that served the page: same origin, the stateless 2026-07-28 revision
//! (every request stands alone, so the page holds no session to lose), on `mcp_apps`' HTTP
//! client, which declares the MCP Apps extension: the View's helper tools (`load_room`) are
//! offered only to clients that render Views. And the one exchange that is not MCP: a link's
//! code for its member (`/chat/claim`).

use std::rc::Rc;

use mcp_apps::host::http::{McpHttpClient, Revision, post_json, text_of};
use mcp_apps::jsonrpc::RpcError;
use mcp_apps::protocol::Implementation;
use serde_json::{Value, json};

use crate::credential::Credential;

thread_local! {
    static SERVER: Rc<McpHttpClient> = Rc::new(McpHttpClient::new(
        "/mcp",
        Revision::Stateless,
        Implementation {
            name: "mcp-chat-page".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            title: None,
        },
    ));
}

/// The page's connection to its server.
pub fn server() -> Rc<McpHttpClient> {
    SERVER.with(Rc::clone)
}

/// Calls a tool and returns its result (`CallToolResult` JSON), failed or not.
pub async fn call_tool(name: &str, arguments: Value) -> Result<Value, RpcError> {
    server().call_tool(name, arguments).await
}

/// The sentence a failed tool result gives (`structuredContent.error`, else its text).
pub fn tool_error(result: &Value) -> Option<String> {
    if result["isError"] != Value::Bool(true) {
        return None;
    }
    let structured = result["structuredContent"]["error"].as_str();
    let text = result["content"][0]["text"].as_str();
    Some(structured.or(text).unwrap_or("the call failed").to_owned())
}

/// Exchanges an `open_chat` link's code for the member it opens (once: the code is then spent).
pub async fn claim(code: &str) -> Result<Credential, String> {
    let response = post_json("/chat/claim", &json!({"link": code}), &[])
        .await
        .map_err(|e| e.message)?;
    let text = text_of(&response).await.map_err(|e| e.message)?;
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !response.ok() {
        return Err(answer["error"]
            .as_str()
            .unwrap_or("This link cannot be used.")
            .to_owned());
    }
    Credential::from_json(&answer).ok_or_else(|| "The server's answer could not be read.".into())
}

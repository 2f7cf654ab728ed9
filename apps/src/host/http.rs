//! A small MCP client over streamable HTTP, for a host page whose View talks to one server: the
//! requests a View makes through its host (`tools/call`, `resources/read`, …) and the host's own
//! (`tools/list`, `resources/read` of the View), with `fetch`.
//!
//! Two ways to speak, as servers do: [`Revision::Stateless`] (MCP 2026-07-28: no session, every
//! request carries the client's capabilities in `_meta` and its method in `Mcp-Method`), and
//! [`Revision::Legacy`] (2025-11-25: `initialize` once, then the session the server names in
//! `Mcp-Session-Id`, if it names one). Either way the client declares the MCP Apps extension:
//! it is a host that renders Views. Answers come as JSON or as an SSE stream, whose `data:` lines
//! carry the answer after any notifications.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use serde_json::{Value, json};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

use crate::app::Answer;
use crate::jsonrpc::{RpcError, codes};
use crate::protocol::{EXTENSION_ID, Implementation, UI_MIME_TYPE};

/// How the client speaks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// MCP 2026-07-28: stateless, capabilities in every request.
    Stateless,
    /// MCP 2025-11-25: `initialize`, then a session if the server keeps one.
    Legacy,
}

impl Revision {
    fn version(self) -> &'static str {
        match self {
            Revision::Stateless => "2026-07-28",
            Revision::Legacy => "2025-11-25",
        }
    }
}

/// A connection to one MCP server's HTTP endpoint. Cheap to share behind an `Rc`.
pub struct McpHttpClient {
    endpoint: String,
    revision: Revision,
    client_info: Implementation,
    session: RefCell<Option<String>>,
    initialized: Cell<bool>,
    next_id: Cell<i64>,
}

fn failed(message: impl Into<String>) -> RpcError {
    RpcError::new(codes::INTERNAL_ERROR, message)
}

fn js_text(value: JsValue) -> String {
    value
        .as_string()
        .or_else(|| js_sys::Error::from(value).message().as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// POSTs `body` as JSON with `headers`; the response, whatever its status.
pub async fn post_json(
    url: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Result<Response, RpcError> {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(&body.to_string()));
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    let request = Request::new_with_str_and_init(url, &init).map_err(|e| failed(js_text(e)))?;
    let set = request.headers();
    let _ = set.set("Content-Type", "application/json");
    for (name, value) in headers {
        let _ = set.set(name, value);
    }
    let window = web_sys::window().ok_or_else(|| failed("no window"))?;
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(|e| failed(format!("the server cannot be reached: {}", js_text(e))))?;
    Ok(response.unchecked_into())
}

/// The response's body as text.
pub async fn text_of(response: &Response) -> Result<String, RpcError> {
    let text = response.text().map_err(|e| failed(js_text(e)))?;
    let text = JsFuture::from(text).await.map_err(|e| failed(js_text(e)))?;
    Ok(text.as_string().unwrap_or_default())
}

/// The JSON-RPC answer to request `id` in a body that is JSON or an SSE stream.
fn answer_in(text: &str, id: i64) -> Option<Value> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).ok();
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message["id"] == json!(id))
}

/// The result of request `id` in an HTTP answer's body (JSON or SSE), or its JSON-RPC error.
/// Public for pages that send a request before their WebAssembly starts (a `fetch` in the
/// document) and read its answer here.
pub fn result_of(body: &str, id: i64) -> Result<Value, RpcError> {
    let answer =
        answer_in(body, id).ok_or_else(|| failed("the server's answer could not be read"))?;
    if let Some(error) = answer.get("error") {
        return Err(RpcError::new(
            error["code"].as_i64().unwrap_or(codes::INTERNAL_ERROR),
            error["message"]
                .as_str()
                .unwrap_or("the server refused the request"),
        ));
    }
    answer
        .get("result")
        .cloned()
        .ok_or_else(|| failed("the server's answer has no result"))
}

impl McpHttpClient {
    /// A client of the MCP endpoint at `endpoint` (absolute, or relative to the page).
    pub fn new(
        endpoint: impl Into<String>,
        revision: Revision,
        client_info: Implementation,
    ) -> McpHttpClient {
        McpHttpClient {
            endpoint: endpoint.into(),
            revision,
            client_info,
            session: RefCell::default(),
            initialized: Cell::new(false),
            next_id: Cell::new(1),
        }
    }

    fn capabilities() -> Value {
        json!({"extensions": {EXTENSION_ID: {"mimeTypes": [UI_MIME_TYPE]}}})
    }

    /// One request; its result, or the server's JSON-RPC error.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        if self.revision == Revision::Legacy && !self.initialized.get() {
            self.initialize().await?;
        }
        self.send(method, params).await
    }

    async fn initialize(&self) -> Result<(), RpcError> {
        let params = json!({
            "protocolVersion": self.revision.version(),
            "capabilities": McpHttpClient::capabilities(),
            "clientInfo": self.client_info,
        });
        self.send("initialize", params).await?;
        self.initialized.set(true);
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let session = self.session.borrow().clone();
        let mut headers = vec![
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", self.revision.version()),
        ];
        if let Some(session) = &session {
            headers.push(("Mcp-Session-Id", session));
        }
        post_json(&self.endpoint, &note, &headers).await?;
        Ok(())
    }

    async fn send(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let mut params = match params {
            Value::Object(map) => map,
            _ => Default::default(),
        };
        if self.revision == Revision::Stateless {
            params.insert(
                "_meta".into(),
                json!({
                    "io.modelcontextprotocol/protocolVersion": self.revision.version(),
                    "io.modelcontextprotocol/clientInfo": self.client_info,
                    "io.modelcontextprotocol/clientCapabilities": McpHttpClient::capabilities(),
                }),
            );
        }
        // What `Mcp-Name` carries (SEP-2243): the tool's or prompt's name, the resource's URI.
        let name = match method {
            "tools/call" | "prompts/get" => params.get("name"),
            "resources/read" => params.get("uri"),
            _ => None,
        }
        .and_then(Value::as_str)
        .map(str::to_owned);
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let session = self.session.borrow().clone();
        let mut headers = vec![
            ("Accept", "application/json, text/event-stream"),
            ("MCP-Protocol-Version", self.revision.version()),
        ];
        if self.revision == Revision::Stateless {
            headers.push(("Mcp-Method", method));
            if let Some(name) = &name {
                headers.push(("Mcp-Name", name));
            }
        }
        if let Some(session) = &session {
            headers.push(("Mcp-Session-Id", session));
        }
        let response = post_json(&self.endpoint, &body, &headers).await?;
        if let Ok(Some(session)) = response.headers().get("Mcp-Session-Id") {
            *self.session.borrow_mut() = Some(session);
        }
        let text = text_of(&response).await?;
        if !response.ok() {
            let why = match response.status() {
                401 => "the server requires a bearer token".to_owned(),
                403 => "the server refused this page's origin".to_owned(),
                status => format!("the server answered {status}: {}", text.trim()),
            };
            return Err(failed(why));
        }
        result_of(&text, id)
    }

    /// Calls a tool; its `CallToolResult` as JSON, failed (`isError`) or not.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, RpcError> {
        self.request("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }

    /// Routes the View's server requests (`tools/call`, `resources/read`, `resources/list`) on
    /// `host` to this server. They are answered only while `host` offers `serverTools` and
    /// `serverResources`.
    pub fn serve(self: &Rc<Self>, host: &crate::host::AppHost) {
        host.handle(
            "tools/call",
            self.forward("tools/call", &["name", "arguments"]),
        );
        host.handle("resources/read", self.forward("resources/read", &["uri"]));
        host.handle(
            "resources/list",
            self.forward("resources/list", &["cursor"]),
        );
    }

    /// A handler for [`crate::host::AppHost::handle`] that forwards the View's `method` to this
    /// server, keeping only `keys` of its params (the View's `_meta`, such as a progress token,
    /// is its business with its host).
    pub fn forward(
        self: &Rc<Self>,
        method: &'static str,
        keys: &'static [&'static str],
    ) -> impl Fn(Value) -> Answer + 'static {
        let client = self.clone();
        move |params: Value| {
            let mut forwarded = serde_json::Map::new();
            for key in keys {
                if let Some(value) = params.get(*key) {
                    forwarded.insert((*key).into(), value.clone());
                }
            }
            let client = client.clone();
            Box::pin(async move { client.request(method, Value::Object(forwarded)).await })
        }
    }
}

//! What the official JavaScript `App` class offers, in Rust, over a [`Bridge`]: the handshake,
//! typed requests to the host, handlers for host notifications, teardown, and auto-resize.
//!
//! Every optional request is gated on the host's declared capabilities, and a `-32601` answer is
//! remembered as "unsupported" so it is not asked again. After `ui/resource-teardown` nothing
//! more is sent: every request fails with [`HostError::TornDown`] without reaching the host.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mcp_chat_shared::apps::{
    ContentBlock, DisplayMode, HostCapabilities, HostContext, Implementation, InitializeResult,
    MessageParams, ModelContextParams, ToolResult, methods,
};
use mcp_chat_shared::json::{FromJson, empty_object, object};
use mcp_chat_shared::jsonrpc::RpcError;
use serde_json::Value;

use crate::bridge::Bridge;
use crate::resize::AutoResize;

#[derive(Debug, Clone, PartialEq)]
pub enum HostError {
    /// The host does not offer this (not declared, or it answered -32601).
    Unsupported(&'static str),
    /// The host tore the View down; nothing is sent any more.
    TornDown,
    /// The request failed at the protocol level (timeout, host error).
    Rpc(RpcError),
    /// The tool ran and reported an error (`isError: true`).
    Tool {
        message: String,
        code: Option<String>,
        structured: Option<Value>,
    },
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Unsupported(what) => write!(f, "the host does not support {what}"),
            HostError::TornDown => write!(f, "the View was closed"),
            HostError::Rpc(e) => write!(f, "{}", e.message),
            HostError::Tool { message, .. } => write!(f, "{message}"),
        }
    }
}

type Handler<T> = RefCell<Option<Box<dyn Fn(T)>>>;

#[derive(Default)]
struct State {
    capabilities: RefCell<HostCapabilities>,
    context: RefCell<HostContext>,
    host_info: RefCell<Option<Implementation>>,
    /// Methods the host answered -32601 to (a few at most: a list).
    unsupported: RefCell<Vec<&'static str>>,
    torn_down: Cell<bool>,
    on_tool_input: Handler<Value>,
    on_tool_result: Handler<ToolResult>,
    on_tool_cancelled: Handler<Option<String>>,
    on_context_changed: Handler<HostContext>,
    on_teardown: Handler<()>,
    resize: RefCell<Option<AutoResize>>,
}

/// The View's connection to its host. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    bridge: Bridge,
    state: Rc<State>,
}

fn call<T>(handler: &Handler<T>, value: T) {
    if let Some(h) = handler.borrow().as_ref() {
        h(value);
    }
}

impl Host {
    /// Wraps `bridge` and takes over its handlers: register yours on the `Host` instead.
    pub fn new(bridge: Bridge) -> Host {
        let host = Host {
            bridge,
            state: Rc::new(State::default()),
        };
        let weak = Rc::downgrade(&host.state);
        host.bridge.on_notification(move |method, params| {
            let Some(state) = weak.upgrade() else { return };
            match method {
                methods::TOOL_INPUT => call(&state.on_tool_input, params["arguments"].clone()),
                // Partial input may be truncated JSON mid-stream: never acted on.
                methods::TOOL_INPUT_PARTIAL => {}
                methods::TOOL_RESULT => {
                    if let Ok(result) = ToolResult::from_json(&params) {
                        call(&state.on_tool_result, result);
                    }
                }
                methods::TOOL_CANCELLED => call(
                    &state.on_tool_cancelled,
                    params["reason"].as_str().map(str::to_owned),
                ),
                methods::HOST_CONTEXT_CHANGED => {
                    if let Ok(changed) = HostContext::from_json(&params) {
                        let merged = {
                            let mut context = state.context.borrow_mut();
                            context.merge(changed);
                            context.clone()
                        };
                        call(&state.on_context_changed, merged);
                    }
                }
                _ => {}
            }
        });
        let weak = Rc::downgrade(&host.state);
        let bridge = host.bridge.clone();
        host.bridge.on_request(move |method, _params| {
            if method != methods::RESOURCE_TEARDOWN {
                return None;
            }
            if let Some(state) = weak.upgrade() {
                state.torn_down.set(true);
                if let Some(resize) = state.resize.borrow_mut().take() {
                    resize.stop();
                }
                call(&state.on_teardown, ());
            }
            // Answer first, then stop listening: the reply must still go out.
            let bridge = bridge.clone();
            wasm_bindgen_futures::spawn_local(async move { bridge.disconnect() });
            Some(Ok(empty_object()))
        });
        host
    }

    /// The handshake. Keeps the host's capabilities and context for gating and for [`Self::context`].
    pub async fn connect(&self, app_info: Implementation) -> Result<InitializeResult, HostError> {
        let result = self
            .bridge
            .initialize(app_info)
            .await
            .map_err(HostError::Rpc)?;
        *self.state.capabilities.borrow_mut() = result.host_capabilities.clone();
        *self.state.context.borrow_mut() = result.host_context.clone();
        *self.state.host_info.borrow_mut() = Some(result.host_info.clone());
        Ok(result)
    }

    pub fn context(&self) -> HostContext {
        self.state.context.borrow().clone()
    }

    pub fn capabilities(&self) -> HostCapabilities {
        self.state.capabilities.borrow().clone()
    }

    pub fn is_torn_down(&self) -> bool {
        self.state.torn_down.get()
    }

    pub fn on_tool_input(&self, f: impl Fn(Value) + 'static) {
        *self.state.on_tool_input.borrow_mut() = Some(Box::new(f));
    }
    pub fn on_tool_result(&self, f: impl Fn(ToolResult) + 'static) {
        *self.state.on_tool_result.borrow_mut() = Some(Box::new(f));
    }
    pub fn on_tool_cancelled(&self, f: impl Fn(Option<String>) + 'static) {
        *self.state.on_tool_cancelled.borrow_mut() = Some(Box::new(f));
    }
    pub fn on_context_changed(&self, f: impl Fn(HostContext) + 'static) {
        *self.state.on_context_changed.borrow_mut() = Some(Box::new(f));
    }
    pub fn on_teardown(&self, f: impl Fn(()) + 'static) {
        *self.state.on_teardown.borrow_mut() = Some(Box::new(f));
    }

    /// Whether a capability-gated request may be sent.
    pub fn supports(&self, what: &'static str) -> bool {
        if self.state.unsupported.borrow().contains(&what) {
            return false;
        }
        let c = self.state.capabilities.borrow();
        match what {
            methods::TOOLS_CALL => c.server_tools.is_some(),
            methods::RESOURCES_READ => c.server_resources.is_some(),
            methods::MESSAGE => c.message.is_some(),
            methods::UPDATE_MODEL_CONTEXT => c.update_model_context.is_some(),
            methods::OPEN_LINK => c.open_links.is_some(),
            methods::DOWNLOAD_FILE => c.download_file.is_some(),
            methods::LOG => c.logging.is_some(),
            _ => true,
        }
    }

    pub fn can_display(&self, mode: DisplayMode) -> bool {
        self.state
            .context
            .borrow()
            .available_display_modes
            .as_ref()
            .is_some_and(|modes| modes.contains(&mode))
            && !self
                .state
                .unsupported
                .borrow()
                .contains(&methods::REQUEST_DISPLAY_MODE)
    }

    async fn request(&self, method: &'static str, params: Value) -> Result<Value, HostError> {
        self.request_within(method, params, crate::bridge::DEFAULT_REQUEST_TIMEOUT)
            .await
    }

    async fn request_within(
        &self,
        method: &'static str,
        params: Value,
        timeout: std::time::Duration,
    ) -> Result<Value, HostError> {
        if self.is_torn_down() {
            return Err(HostError::TornDown);
        }
        if !self.supports(method) {
            return Err(HostError::Unsupported(method));
        }
        match self
            .bridge
            .request_with_timeout(method, Some(params), timeout)
            .await
        {
            Ok(v) => Ok(v),
            Err(e) if e.is_method_not_found() => {
                let mut unsupported = self.state.unsupported.borrow_mut();
                if !unsupported.contains(&method) {
                    unsupported.push(method);
                }
                Err(HostError::Unsupported(method))
            }
            Err(_) if self.is_torn_down() => Err(HostError::TornDown),
            Err(e) => Err(HostError::Rpc(e)),
        }
    }

    /// Calls one of our server's tools through the host. A result with `isError: true` becomes
    /// [`HostError::Tool`]; otherwise its `structuredContent` is returned.
    pub async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, HostError> {
        self.call_tool_within(name, arguments, crate::bridge::DEFAULT_REQUEST_TIMEOUT)
            .await
    }

    /// [`Self::call_tool`], failing if the host has not answered within `timeout` (a host whose
    /// server died mid-call may never answer).
    pub async fn call_tool_within(
        &self,
        name: &str,
        arguments: Value,
        timeout: std::time::Duration,
    ) -> Result<Value, HostError> {
        let raw = self
            .request_within(
                methods::TOOLS_CALL,
                object(vec![("name", Value::from(name)), ("arguments", arguments)]),
                timeout,
            )
            .await?;
        let result = ToolResult::from_json(&raw).map_err(|e| HostError::Tool {
            message: format!("{name}: malformed result: {e}"),
            code: None,
            structured: None,
        })?;
        if result.is_error == Some(true) {
            let structured = result.structured_content.clone();
            let message = structured
                .as_ref()
                .and_then(|s| s["error"].as_str().map(str::to_owned))
                .unwrap_or_else(|| result.text());
            let code = structured
                .as_ref()
                .and_then(|s| s["code"].as_str().map(str::to_owned));
            return Err(HostError::Tool {
                message,
                code,
                structured,
            });
        }
        Ok(result.structured_content.unwrap_or(Value::Null))
    }

    pub async fn read_resource(&self, uri: &str) -> Result<Value, HostError> {
        self.request(
            methods::RESOURCES_READ,
            object(vec![("uri", Value::from(uri))]),
        )
        .await
    }

    /// Puts `text` into the conversation as a user message (`ui/message`).
    pub async fn send_message(&self, text: String) -> Result<(), HostError> {
        let params = MessageParams {
            role: "user".into(),
            content: vec![ContentBlock::text(text)],
        };
        let result = self.request(methods::MESSAGE, params.to_json()).await?;
        if result["isError"] == Value::Bool(true) {
            return Err(HostError::Tool {
                message: "the host refused the message".into(),
                code: None,
                structured: None,
            });
        }
        Ok(())
    }

    /// Replaces what the model knows of the View (`ui/update-model-context`).
    pub async fn update_model_context(
        &self,
        text: String,
        structured: Option<Value>,
    ) -> Result<(), HostError> {
        let params = ModelContextParams {
            content: vec![ContentBlock::text(text)],
            structured_content: structured,
        };
        self.request(methods::UPDATE_MODEL_CONTEXT, params.to_json())
            .await
            .map(drop)
    }

    pub async fn open_link(&self, url: &str) -> Result<(), HostError> {
        self.request(methods::OPEN_LINK, object(vec![("url", Value::from(url))]))
            .await
            .map(drop)
    }

    /// Offers the person a file (`ui/download-file`); `contents` are MCP embedded resources or
    /// resource links.
    pub async fn download_file(&self, contents: Vec<Value>) -> Result<(), HostError> {
        self.request(
            methods::DOWNLOAD_FILE,
            object(vec![("contents", Value::Array(contents))]),
        )
        .await
        .map(drop)
    }

    /// Asks the host to close the View (`ui/notifications/request-teardown`); the host decides.
    pub fn request_teardown(&self) {
        if !self.is_torn_down() {
            let _ = self.bridge.notify(methods::REQUEST_TEARDOWN, None);
        }
    }

    /// Asks for a display mode; returns the one the host granted (it may differ).
    pub async fn request_display_mode(&self, mode: DisplayMode) -> Result<DisplayMode, HostError> {
        if !self.can_display(mode) {
            return Err(HostError::Unsupported(methods::REQUEST_DISPLAY_MODE));
        }
        let result = self
            .request(
                methods::REQUEST_DISPLAY_MODE,
                object(vec![("mode", Value::from(mode.as_str()))]),
            )
            .await?;
        let granted = DisplayMode::from_json(&result["mode"]).unwrap_or(mode);
        self.state.context.borrow_mut().display_mode = Some(granted);
        Ok(granted)
    }

    /// A log line for the host (`notifications/message`), when it accepts logs.
    pub fn log(&self, level: &str, data: impl Into<Value>) {
        if self.is_torn_down() || !self.supports(methods::LOG) {
            return;
        }
        let _ = self.bridge.notify(
            methods::LOG,
            Some(object(vec![
                ("level", Value::from(level)),
                ("logger", Value::from("mcp-chat-view")),
                ("data", data.into()),
            ])),
        );
    }

    pub async fn ping(&self) -> Result<(), HostError> {
        self.request(methods::PING, empty_object()).await.map(drop)
    }

    /// Starts reporting the document's size with `ui/notifications/size-changed`.
    pub fn start_auto_resize(&self) {
        if self.state.resize.borrow().is_none() {
            *self.state.resize.borrow_mut() = AutoResize::start(self.bridge.clone());
        }
    }
}

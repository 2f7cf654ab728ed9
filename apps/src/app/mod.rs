//! The View's side of MCP Apps: what the JavaScript `App` class of `@modelcontextprotocol/ext-apps`
//! offers, in Rust, over a [`Bridge`].
//!
//! Every optional request is gated on the host's declared capabilities, and a `-32601` answer is
//! remembered as "unsupported" so it is not asked again: a caller gets
//! [`HostError::Unsupported`] without anything sent. After `ui/resource-teardown` nothing more
//! is sent: every request fails with [`HostError::TornDown`] without reaching the host.

mod bridge;
mod resize;
mod theme;
mod tools;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use serde_json::{Map, Value};
use wasm_bindgen::JsValue;

pub use bridge::{Answer, Bridge, DEFAULT_REQUEST_TIMEOUT, RequestOptions, sleep};
pub use resize::{AutoResize, measure};
pub use theme::{apply_fonts, apply_host_styles, apply_style_variables, apply_theme};
pub use tools::RegisteredTool;

use crate::json::{FromJson, ToJson, empty_object, object};
use crate::jsonrpc::{RpcError, codes};
use crate::protocol::{
    AppCapabilities, AppToolsCapability, ContentBlock, CreateMessageParams, CreateMessageResult,
    DisplayMode, DownloadItem, HostCapabilities, HostContext, Implementation, InitializeParams,
    InitializeResult, ListResourcesResult, MessageParams, ModelContextParams, PROTOCOL_VERSION,
    ReadResourceResult, ToolDefinition, ToolResult, methods,
};

/// Why a request to the host did not succeed. Each variant is one thing a caller can act on.
/// New ways to fail may be added: match with a final `_` arm.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HostError {
    /// The host does not offer this: it did not declare the capability (nothing was sent), or
    /// it answered -32601 (and will not be asked again).
    Unsupported(&'static str),
    /// The host tore the View down; nothing is sent any more.
    TornDown,
    /// The host did not answer in time; the request was withdrawn (`notifications/cancelled`).
    Timeout(RpcError),
    /// The host answered, and refused (`isError: true` from `ui/message`, `ui/open-link`,
    /// `ui/download-file`).
    Refused(&'static str),
    /// The server's tool ran and reported an error (`isError: true`): its whole result.
    Tool(ToolResult),
    /// The host answered with a JSON-RPC error.
    Rpc(RpcError),
    /// The host's answer does not have the shape the specification gives it.
    Protocol(String),
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostError::Unsupported(what) => write!(f, "the host does not support {what}"),
            HostError::TornDown => f.write_str("the View was closed"),
            HostError::Timeout(e) | HostError::Rpc(e) => f.write_str(&e.message),
            HostError::Refused(what) => write!(f, "the host refused {what}"),
            HostError::Tool(result) => f.write_str(&result.text()),
            HostError::Protocol(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for HostError {}

/// A handler slot. `Rc`: the handler is cloned out and the borrow released before it runs, so a
/// handler may replace handlers or call the App without a `RefCell` panic.
type Handler<T> = RefCell<Option<Rc<dyn Fn(T)>>>;

struct State {
    info: Implementation,
    display_modes: RefCell<Vec<DisplayMode>>,
    capabilities: RefCell<HostCapabilities>,
    context: RefCell<HostContext>,
    host_info: RefCell<Option<Implementation>>,
    /// Whether the handshake declared `appCapabilities.tools` (false until it is done): only
    /// then may the host list them, and hear that they changed.
    tools_declared: Cell<bool>,
    /// Methods the host answered -32601 to (a few at most: a list).
    unsupported: RefCell<Vec<&'static str>>,
    torn_down: Cell<bool>,
    tools: tools::Registry,
    on_tool_input: Handler<Map<String, Value>>,
    on_tool_input_partial: Handler<Value>,
    on_tool_result: Handler<ToolResult>,
    on_tool_cancelled: Handler<Option<String>>,
    on_host_context_changed: Handler<HostContext>,
    on_teardown: Handler<Option<String>>,
    resize: RefCell<Option<AutoResize>>,
}

/// An MCP App's View: its connection to the host. Cheap to clone; clones share one connection.
///
/// Register handlers and tools first, then [`App::connect`]: the host sends the tool input and
/// result right after the handshake, and a handler registered later would miss them.
#[derive(Clone)]
pub struct App {
    bridge: Bridge,
    state: Rc<State>,
}

fn call<T>(handler: &Handler<T>, value: T) {
    let handler = handler.borrow().clone();
    if let Some(h) = handler {
        h(value);
    }
}

impl App {
    /// An App that talks to the window embedding it (the host). Fails when the page is not
    /// embedded: there is no host to talk to.
    pub fn new(info: Implementation) -> Result<App, JsValue> {
        Ok(App::with_bridge(Bridge::to_parent()?, info))
    }

    /// An App over `bridge` (tests play the host from a same-origin iframe). Takes over the
    /// bridge's handlers: register yours on the `App`.
    pub fn with_bridge(bridge: Bridge, info: Implementation) -> App {
        let app = App {
            bridge,
            state: Rc::new(State {
                info,
                display_modes: RefCell::new(vec![DisplayMode::Inline]),
                capabilities: RefCell::default(),
                context: RefCell::default(),
                host_info: RefCell::default(),
                tools_declared: Cell::new(false),
                unsupported: RefCell::default(),
                torn_down: Cell::new(false),
                tools: tools::Registry::default(),
                on_tool_input: RefCell::default(),
                on_tool_input_partial: RefCell::default(),
                on_tool_result: RefCell::default(),
                on_tool_cancelled: RefCell::default(),
                on_host_context_changed: RefCell::default(),
                on_teardown: RefCell::default(),
                resize: RefCell::default(),
            }),
        };
        let weak = Rc::downgrade(&app.state);
        app.bridge.on_notification(move |method, params| {
            if let Some(state) = weak.upgrade() {
                state.notified(method, params);
            }
        });
        let weak = Rc::downgrade(&app.state);
        app.bridge.on_request(move |bridge, method, params| {
            let state = weak.upgrade()?;
            match method {
                methods::RESOURCE_TEARDOWN => {
                    state.tear_down(params["reason"].as_str().map(str::to_owned));
                    // Answer first, then stop listening: the reply must still go out.
                    bridge.disconnect_after_answer();
                    Some(Box::pin(async { Ok(empty_object()) }))
                }
                methods::TOOLS_LIST => Some(Box::pin(std::future::ready(Ok(state.tools.list())))),
                methods::TOOLS_CALL => Some(state.tools.call(&params)),
                _ => None,
            }
        });
        app
    }

    /// The display modes the View can show itself in, offered to the host in the handshake.
    /// Default: inline only. Set before [`App::connect`].
    pub fn set_available_display_modes(&self, modes: &[DisplayMode]) {
        *self.state.display_modes.borrow_mut() = modes.to_vec();
    }

    /// The handshake: `ui/initialize`, then `ui/notifications/initialized`. Keeps the host's
    /// capabilities and context for gating and for [`App::host_context`].
    pub async fn connect(&self) -> Result<InitializeResult, HostError> {
        let has_tools = self.state.tools.is_declared();
        let params = InitializeParams {
            app_info: self.state.info.clone(),
            app_capabilities: AppCapabilities {
                available_display_modes: Some(self.state.display_modes.borrow().clone()),
                tools: has_tools.then_some(AppToolsCapability {
                    list_changed: Some(true),
                }),
            },
            protocol_version: PROTOCOL_VERSION.into(),
        };
        let result = self
            .bridge
            .request(methods::INITIALIZE, Some(params.to_json()))
            .await
            .map_err(rpc_error)?;
        let result = InitializeResult::from_json(&result).map_err(|e| {
            HostError::Protocol(format!("{}: unexpected result: {e}", methods::INITIALIZE))
        })?;
        *self.state.capabilities.borrow_mut() = result.host_capabilities.clone();
        *self.state.context.borrow_mut() = result.host_context.clone();
        *self.state.host_info.borrow_mut() = Some(result.host_info.clone());
        self.bridge
            .notify(methods::INITIALIZED, None)
            .map_err(HostError::Rpc)?;
        self.state.tools_declared.set(has_tools);
        Ok(result)
    }

    /// The host's context as it is now: the handshake's, with every change merged in.
    pub fn host_context(&self) -> HostContext {
        self.state.context.borrow().clone()
    }

    /// What the host declared it offers.
    pub fn host_capabilities(&self) -> HostCapabilities {
        self.state.capabilities.borrow().clone()
    }

    /// The host's name and version, once connected.
    pub fn host_info(&self) -> Option<Implementation> {
        self.state.host_info.borrow().clone()
    }

    /// Whether the host tore the View down.
    pub fn is_torn_down(&self) -> bool {
        self.state.torn_down.get()
    }

    /// The arguments of the tool call that opened the View (`ui/notifications/tool-input`).
    pub fn on_tool_input(&self, f: impl Fn(Map<String, Value>) + 'static) {
        *self.state.on_tool_input.borrow_mut() = Some(Rc::new(f));
    }
    /// Arguments while the model is still writing them. They may be cut mid-value: show them
    /// as a preview, never act on them.
    pub fn on_tool_input_partial(&self, f: impl Fn(Value) + 'static) {
        *self.state.on_tool_input_partial.borrow_mut() = Some(Rc::new(f));
    }
    /// The result of the tool call that opened the View.
    pub fn on_tool_result(&self, f: impl Fn(ToolResult) + 'static) {
        *self.state.on_tool_result.borrow_mut() = Some(Rc::new(f));
    }
    /// The tool call that opened the View was cancelled (with the host's reason, if any).
    pub fn on_tool_cancelled(&self, f: impl Fn(Option<String>) + 'static) {
        *self.state.on_tool_cancelled.borrow_mut() = Some(Rc::new(f));
    }
    /// The host's context changed; receives the whole merged context.
    pub fn on_host_context_changed(&self, f: impl Fn(HostContext) + 'static) {
        *self.state.on_host_context_changed.borrow_mut() = Some(Rc::new(f));
    }
    /// The host is closing the View (with its reason, if any). Nothing can be sent any more.
    pub fn on_teardown(&self, f: impl Fn(Option<String>) + 'static) {
        *self.state.on_teardown.borrow_mut() = Some(Rc::new(f));
    }

    /// Whether a capability-gated request may be sent: the host declared it, and has not
    /// answered it with -32601.
    pub fn supports(&self, method: &'static str) -> bool {
        if self.state.unsupported.borrow().contains(&method) {
            return false;
        }
        let c = self.state.capabilities.borrow();
        match method {
            methods::TOOLS_CALL => c.server_tools.is_some(),
            methods::RESOURCES_READ | methods::RESOURCES_LIST => c.server_resources.is_some(),
            methods::MESSAGE => c.message.is_some(),
            methods::UPDATE_MODEL_CONTEXT => c.update_model_context.is_some(),
            methods::OPEN_LINK => c.open_links.is_some(),
            methods::DOWNLOAD_FILE => c.download_file.is_some(),
            methods::SAMPLING_CREATE_MESSAGE => c.sampling.is_some(),
            methods::LOG => c.logging.is_some(),
            _ => true,
        }
    }

    /// Whether the host offers `mode` (and has not refused display-mode requests).
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

    /// Sends a capability-gated request. The base of every typed request below; use it for a
    /// method this crate does not type yet.
    pub async fn request(
        &self,
        method: &'static str,
        params: Value,
        options: RequestOptions,
    ) -> Result<Value, HostError> {
        if self.is_torn_down() {
            return Err(HostError::TornDown);
        }
        if !self.supports(method) {
            return Err(HostError::Unsupported(method));
        }
        match self
            .bridge
            .request_with(method, Some(params), options)
            .await
        {
            Ok(v) => Ok(v),
            // For tools/call a -32601 may be the server's answer about one tool, relayed: it
            // does not make every tool unsupported.
            Err(e) if e.is_method_not_found() && method != methods::TOOLS_CALL => {
                let mut unsupported = self.state.unsupported.borrow_mut();
                if !unsupported.contains(&method) {
                    unsupported.push(method);
                }
                Err(HostError::Unsupported(method))
            }
            Err(_) if self.is_torn_down() => Err(HostError::TornDown),
            Err(e) => Err(rpc_error(e)),
        }
    }

    async fn simple(&self, method: &'static str, params: Value) -> Result<Value, HostError> {
        self.request(method, params, RequestOptions::default())
            .await
    }

    /// Calls one of the server's tools through the host (`tools/call`). A result with
    /// `isError: true` is [`HostError::Tool`], so `Ok` is always a success.
    pub async fn call_server_tool(
        &self,
        name: &str,
        arguments: Value,
    ) -> Result<ToolResult, HostError> {
        self.call_server_tool_with(name, arguments, RequestOptions::default())
            .await
    }

    /// [`App::call_server_tool`] with a timeout (a host whose server died mid-call may never
    /// answer; the call is then withdrawn) or a progress callback.
    pub async fn call_server_tool_with(
        &self,
        name: &str,
        arguments: Value,
        options: RequestOptions,
    ) -> Result<ToolResult, HostError> {
        let raw = self
            .request(
                methods::TOOLS_CALL,
                object(vec![("name", Value::from(name)), ("arguments", arguments)]),
                options,
            )
            .await?;
        let result = typed::<ToolResult>(methods::TOOLS_CALL, &raw)?;
        if result.is_error() {
            return Err(HostError::Tool(result));
        }
        Ok(result)
    }

    /// Lists the server's resources (`resources/list`), one page from `cursor`.
    pub async fn list_server_resources(
        &self,
        cursor: Option<&str>,
    ) -> Result<ListResourcesResult, HostError> {
        let params = match cursor {
            Some(cursor) => object(vec![("cursor", Value::from(cursor))]),
            None => empty_object(),
        };
        let raw = self.simple(methods::RESOURCES_LIST, params).await?;
        typed(methods::RESOURCES_LIST, &raw)
    }

    /// Reads one of the server's resources (`resources/read`).
    pub async fn read_server_resource(&self, uri: &str) -> Result<ReadResourceResult, HostError> {
        let raw = self
            .simple(
                methods::RESOURCES_READ,
                object(vec![("uri", Value::from(uri))]),
            )
            .await?;
        typed(methods::RESOURCES_READ, &raw)
    }

    /// Asks the host's model for a message (`sampling/createMessage`), when the host offers
    /// sampling. The host may ask the person first.
    pub async fn create_sampling_message(
        &self,
        params: &CreateMessageParams,
    ) -> Result<CreateMessageResult, HostError> {
        let raw = self
            .simple(methods::SAMPLING_CREATE_MESSAGE, params.to_json())
            .await?;
        typed(methods::SAMPLING_CREATE_MESSAGE, &raw)
    }

    /// Puts `content` into the conversation as the person's message (`ui/message`).
    pub async fn send_message(&self, content: Vec<ContentBlock>) -> Result<(), HostError> {
        let params = MessageParams {
            role: "user".into(),
            content,
        };
        let answer = self.simple(methods::MESSAGE, params.to_json()).await?;
        refused_if_error(&answer, "the message")
    }

    /// Replaces what the model knows of the View (`ui/update-model-context`); each call
    /// replaces the previous one.
    pub async fn update_model_context(
        &self,
        content: Vec<ContentBlock>,
        structured: Option<Value>,
    ) -> Result<(), HostError> {
        let params = ModelContextParams {
            content,
            structured_content: structured,
        };
        self.simple(methods::UPDATE_MODEL_CONTEXT, params.to_json())
            .await
            .map(drop)
    }

    /// Asks the host to open `url` in the person's browser (`ui/open-link`). The View itself
    /// cannot navigate: it is sandboxed.
    pub async fn open_link(&self, url: &str) -> Result<(), HostError> {
        let answer = self
            .simple(methods::OPEN_LINK, object(vec![("url", Value::from(url))]))
            .await?;
        refused_if_error(&answer, "to open the link")
    }

    /// Offers the person files to save (`ui/download-file`).
    pub async fn download_file(&self, items: &[DownloadItem]) -> Result<(), HostError> {
        let contents = items.iter().map(ToJson::to_json).collect();
        let answer = self
            .simple(
                methods::DOWNLOAD_FILE,
                object(vec![("contents", Value::Array(contents))]),
            )
            .await?;
        refused_if_error(&answer, "the download")
    }

    /// Asks the host to close the View (`ui/notifications/request-teardown`); the host decides,
    /// and if it agrees, tears the View down as usual.
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
            .simple(
                methods::REQUEST_DISPLAY_MODE,
                object(vec![("mode", Value::from(mode.as_str()))]),
            )
            .await?;
        let granted = DisplayMode::from_json(&result["mode"]).unwrap_or(mode);
        self.state.context.borrow_mut().display_mode = Some(granted);
        Ok(granted)
    }

    /// A log line for the host (`notifications/message`), when it accepts logs. The logger is
    /// the App's name.
    pub fn send_log(&self, level: &str, data: impl Into<Value>) {
        if self.is_torn_down() || !self.supports(methods::LOG) {
            return;
        }
        let _ = self.bridge.notify(
            methods::LOG,
            Some(object(vec![
                ("level", Value::from(level)),
                ("logger", Value::from(self.state.info.name.as_str())),
                ("data", data.into()),
            ])),
        );
    }

    /// Checks the host answers.
    pub async fn ping(&self) -> Result<(), HostError> {
        self.simple(methods::PING, empty_object()).await.map(drop)
    }

    /// Starts reporting the document's size with `ui/notifications/size-changed`, so the host
    /// fits the frame to the content. Stops at teardown.
    pub fn start_auto_resize(&self) {
        if self.state.resize.borrow().is_none() {
            *self.state.resize.borrow_mut() = AutoResize::start(self.bridge.clone());
        }
    }

    /// Provides a tool the host (and through it the model) can call while the View is open.
    /// `handler` gets the call's arguments and returns its result: a failure is a result too
    /// ([`ToolResult::error`]), which the model reads. Registering declares
    /// `appCapabilities.tools` at [`App::connect`]; registering after it tells the host the
    /// list changed. Dropping the returned handle keeps the tool; [`RegisteredTool::remove`]
    /// withdraws it.
    pub fn register_tool<F, Fut>(&self, definition: ToolDefinition, handler: F) -> RegisteredTool
    where
        F: Fn(Map<String, Value>) -> Fut + 'static,
        Fut: Future<Output = ToolResult> + 'static,
    {
        let handler: tools::Handler = Rc::new(move |args| Box::pin(handler(args)));
        let id = self.state.tools.add(definition, handler);
        self.send_tool_list_changed();
        RegisteredTool::new(self.clone(), id)
    }

    /// Tells the host the View's tools changed (`notifications/tools/list_changed`). Sent for
    /// you when tools are registered, enabled, disabled or removed after the handshake — if the
    /// handshake declared tools, that is if one was registered before [`App::connect`]: the
    /// capability cannot be added later, so register at least one tool first.
    pub fn send_tool_list_changed(&self) {
        if self.state.tools_declared.get() && !self.is_torn_down() {
            let _ = self.bridge.notify(methods::TOOLS_LIST_CHANGED, None);
        }
    }
}

impl State {
    fn notified(&self, method: &str, params: Value) {
        match method {
            methods::TOOL_INPUT => {
                if let Some(arguments) = params["arguments"].as_object() {
                    call(&self.on_tool_input, arguments.clone());
                }
            }
            methods::TOOL_INPUT_PARTIAL => call(&self.on_tool_input_partial, params),
            methods::TOOL_RESULT => {
                if let Ok(result) = ToolResult::from_json(&params) {
                    call(&self.on_tool_result, result);
                }
            }
            methods::TOOL_CANCELLED => call(
                &self.on_tool_cancelled,
                params["reason"].as_str().map(str::to_owned),
            ),
            methods::HOST_CONTEXT_CHANGED => {
                if let Ok(changed) = HostContext::from_json(&params) {
                    let merged = {
                        let mut context = self.context.borrow_mut();
                        context.merge(changed);
                        context.clone()
                    };
                    call(&self.on_host_context_changed, merged);
                }
            }
            _ => {}
        }
    }

    fn tear_down(&self, reason: Option<String>) {
        self.torn_down.set(true);
        if let Some(resize) = self.resize.borrow_mut().take() {
            resize.stop();
        }
        call(&self.on_teardown, reason);
    }
}

fn rpc_error(e: RpcError) -> HostError {
    if e.code == codes::TIMEOUT {
        HostError::Timeout(e)
    } else {
        HostError::Rpc(e)
    }
}

fn typed<T: FromJson>(method: &str, raw: &Value) -> Result<T, HostError> {
    T::from_json(raw).map_err(|e| HostError::Protocol(format!("{method}: unexpected result: {e}")))
}

fn refused_if_error(answer: &Value, what: &'static str) -> Result<(), HostError> {
    if answer["isError"] == Value::Bool(true) {
        return Err(HostError::Refused(what));
    }
    Ok(())
}

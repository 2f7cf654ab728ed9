//! The host's side of MCP Apps: the Rust counterpart of `AppBridge` in
//! `@modelcontextprotocol/ext-apps`. A web page (or any wasm32 embedder) mounts a View's document
//! in a sandboxed iframe and plays its host: it answers the handshake with the context and
//! capabilities it chooses, delivers the tool call's input and result, routes the View's requests
//! to the handlers it provides, and can call the View's own tools.
//!
//! ```ignore
//! let host = AppHost::new(HostOptions { host_info, capabilities, context });
//! host.handle(methods::TOOLS_CALL, move |params| Box::pin(call_server(params)));
//! host.mount(&container, &AppDocument::new(html))?;
//! host.send_tool_input(arguments);      // queued until the View says it is initialized
//! host.send_tool_result(&result);
//! ```
//!
//! What the View may ask is what the embedder offers, twice over: a request is answered only when
//! the capability that covers it is in [`HostOptions::capabilities`] *and* a handler is registered
//! for it; anything else gets JSON-RPC -32601 (method not found), which the specification tells
//! Views to read as "unsupported". `ui/open-link` has a default (a new browsing context with
//! `noopener`, http and https only); size changes resize the iframe unless the embedder says
//! otherwise; display-mode requests are granted when the mode is one the host context lists.
//! Nothing reaches the View before it sends `ui/notifications/initialized`: notifications sent
//! earlier are queued and delivered then, in order.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Map, Value};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Element, HtmlIFrameElement};

use crate::app::{Answer, Bridge, RequestOptions};
use crate::json::{FromJson, ToJson, empty_object, object};
use crate::jsonrpc::{RpcError, codes};
use crate::protocol::{
    CallToolParams, DisplayMode, HostCapabilities, HostContext, Implementation, InitializeParams,
    PROTOCOL_VERSION, ResourceCsp, ResourcePermissions, SizeChanged, ToolDefinition, ToolResult,
    methods,
};
use crate::sandbox;

pub mod http;

/// How long the View has to answer `ui/resource-teardown` before its frame is removed anyway.
pub const TEARDOWN_GRACE: Duration = Duration::from_secs(3);

/// Who the host is and what it offers, as the handshake tells the View.
#[derive(Debug, Clone, Default)]
pub struct HostOptions {
    /// The host's name and version (`hostInfo`).
    pub host_info: Implementation,
    /// What the host offers (`hostCapabilities`). Only requests a capability here covers are
    /// routed to handlers; the rest are refused with -32601.
    pub capabilities: HostCapabilities,
    /// Theme, styles, layout, locale (`hostContext`); change it later with
    /// [`AppHost::set_host_context`].
    pub context: HostContext,
}

/// A View's document and what its resource declares (`_meta.ui` of the `resources/read` item).
#[derive(Debug, Clone, Default)]
pub struct AppDocument {
    /// The complete HTML document.
    pub html: String,
    /// The origins it declares; `None` gives the specification's default policy.
    pub csp: Option<ResourceCsp>,
    /// The browser permissions it asks for.
    pub permissions: Option<ResourcePermissions>,
}

impl AppDocument {
    /// A document that declares nothing (the default policy, no permissions).
    pub fn new(html: impl Into<String>) -> AppDocument {
        AppDocument {
            html: html.into(),
            ..AppDocument::default()
        }
    }

    /// Reads the document and its `_meta.ui` from a `resources/read` result's first content item.
    pub fn from_read_result(result: &Value) -> Result<AppDocument, String> {
        let item = &result["contents"][0];
        let html = match (item["text"].as_str(), item["blob"].as_str()) {
            (Some(text), _) => text.to_owned(),
            (None, Some(blob)) => decode_blob(blob)?,
            _ => return Err("the resource has no text or blob content".into()),
        };
        let ui = &item["_meta"]["ui"];
        let read = |key: &str| -> Option<Value> { ui.get(key).filter(|v| v.is_object()).cloned() };
        Ok(AppDocument {
            html,
            csp: read("csp").and_then(|v| serde_json::from_value(v).ok()),
            permissions: read("permissions").and_then(|v| serde_json::from_value(v).ok()),
        })
    }
}

/// A `blob` resource's document: base64 of UTF-8. The browser's `atob` decodes it (no base64
/// code in the wasm) into a "binary string", one character per byte.
fn decode_blob(blob: &str) -> Result<String, String> {
    let not_base64 = || "the View's blob is not base64".to_owned();
    let window = web_sys::window().ok_or("no window")?;
    let binary = window.atob(blob).map_err(|_| not_base64())?;
    let bytes = binary
        .chars()
        .map(|c| u8::try_from(u32::from(c)))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| not_base64())?;
    String::from_utf8(bytes).map_err(|_| "the View's blob is not UTF-8".into())
}

/// A request handler: the View's params in, the result (or a JSON-RPC error) out, later.
pub type RequestHandler = Rc<dyn Fn(Value) -> Answer>;
type Listener<T> = RefCell<Option<Rc<dyn Fn(T)>>>;

/// The host of one View. Cheap to clone; clones share the View. The View lives as long as a
/// clone does: when the last is dropped, its frame is removed and nothing more is answered
/// (keep one in the page's state, or in the handlers that outlive the call that mounted it).
#[derive(Clone)]
pub struct AppHost {
    inner: Rc<Inner>,
}

struct Inner {
    options: RefCell<HostOptions>,
    handlers: RefCell<Vec<(String, RequestHandler)>>,
    frame: RefCell<Option<HtmlIFrameElement>>,
    bridge: RefCell<Option<Bridge>>,
    /// What the View said in `ui/initialize`.
    app: RefCell<Option<InitializeParams>>,
    /// Set by `ui/notifications/initialized`: from then on notifications go out at once.
    initialized: Cell<bool>,
    queued: RefCell<Vec<(&'static str, Value)>>,
    torn_down: Cell<bool>,
    /// Permissions the embedder grants when a resource asks (none by default).
    granted: RefCell<ResourcePermissions>,
    /// Whether size changes set the iframe's height (the default).
    auto_height: Cell<bool>,
    on_initialized: Listener<InitializeParams>,
    on_size_changed: Listener<SizeChanged>,
    on_log: Listener<Value>,
    on_request_teardown: Listener<()>,
    on_tools_list_changed: Listener<()>,
    waiting_for_initialized: RefCell<Vec<futures::channel::oneshot::Sender<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(bridge) = self.bridge.get_mut().take() {
            bridge.disconnect();
        }
        if let Some(frame) = self.frame.get_mut().take() {
            frame.remove();
        }
    }
}

/// Which capability covers a View request; `None` for those every host answers.
fn capability_for(method: &str, offered: &HostCapabilities) -> Option<bool> {
    let has = |c: &Option<Value>| c.is_some();
    Some(match method {
        methods::TOOLS_CALL => has(&offered.server_tools),
        methods::RESOURCES_READ | methods::RESOURCES_LIST | "resources/templates/list" => {
            has(&offered.server_resources)
        }
        methods::OPEN_LINK => has(&offered.open_links),
        methods::DOWNLOAD_FILE => has(&offered.download_file),
        methods::MESSAGE => has(&offered.message),
        methods::UPDATE_MODEL_CONTEXT => has(&offered.update_model_context),
        methods::SAMPLING_CREATE_MESSAGE => has(&offered.sampling),
        _ => return None,
    })
}

impl AppHost {
    /// A host that offers `options`. Register handlers, then [`AppHost::mount`] the View.
    pub fn new(options: HostOptions) -> AppHost {
        AppHost {
            inner: Rc::new(Inner {
                options: RefCell::new(options),
                handlers: RefCell::default(),
                frame: RefCell::default(),
                bridge: RefCell::default(),
                app: RefCell::default(),
                initialized: Cell::new(false),
                queued: RefCell::default(),
                torn_down: Cell::new(false),
                granted: RefCell::default(),
                auto_height: Cell::new(true),
                on_initialized: RefCell::default(),
                on_size_changed: RefCell::default(),
                on_log: RefCell::default(),
                on_request_teardown: RefCell::default(),
                on_tools_list_changed: RefCell::default(),
                waiting_for_initialized: RefCell::default(),
            }),
        }
    }

    /// Answers the View's `method` with `handler` (replacing an earlier one). It is only called
    /// when the host offers the capability that covers the method (`serverTools` for
    /// `tools/call`, `message` for `ui/message`…); methods no capability covers (such as
    /// `ui/request-display-mode`) are always routed.
    pub fn handle(&self, method: &str, handler: impl Fn(Value) -> Answer + 'static) {
        let mut handlers = self.inner.handlers.borrow_mut();
        handlers.retain(|(m, _)| m != method);
        handlers.push((method.to_owned(), Rc::new(handler)));
    }

    /// Called once the View is initialized, with what it declared.
    pub fn on_initialized(&self, f: impl Fn(InitializeParams) + 'static) {
        *self.inner.on_initialized.borrow_mut() = Some(Rc::new(f));
    }

    /// Called when the View reports its size. The iframe's height follows it unless
    /// [`AppHost::set_auto_height`] turned that off.
    pub fn on_size_changed(&self, f: impl Fn(SizeChanged) + 'static) {
        *self.inner.on_size_changed.borrow_mut() = Some(Rc::new(f));
    }

    /// Whether the iframe's height follows the View's reported height (default: yes).
    pub fn set_auto_height(&self, follow: bool) {
        self.inner.auto_height.set(follow);
    }

    /// Called with each log line (`notifications/message` params). Without it, lines go to the
    /// browser console.
    pub fn on_log(&self, f: impl Fn(Value) + 'static) {
        *self.inner.on_log.borrow_mut() = Some(Rc::new(f));
    }

    /// Called when the View asks to be closed (`ui/notifications/request-teardown`); the
    /// embedder decides, and calls [`AppHost::teardown`] if it agrees.
    pub fn on_request_teardown(&self, f: impl Fn(()) + 'static) {
        *self.inner.on_request_teardown.borrow_mut() = Some(Rc::new(f));
    }

    /// Called when the View's own tools changed (`notifications/tools/list_changed`).
    pub fn on_tools_list_changed(&self, f: impl Fn(()) + 'static) {
        *self.inner.on_tools_list_changed.borrow_mut() = Some(Rc::new(f));
    }

    /// Browser permissions the embedder grants a View that asks for them (none by default).
    pub fn grant_permissions(&self, granted: ResourcePermissions) {
        *self.inner.granted.borrow_mut() = granted;
    }

    /// Mounts `document` in a new sandboxed iframe appended to `container`, under the policy its
    /// resource declares (or the specification's default), and starts listening to it.
    /// Returns the iframe, for the embedder to size and label.
    pub fn mount(
        &self,
        container: &Element,
        document: &AppDocument,
    ) -> Result<HtmlIFrameElement, JsValue> {
        if self.inner.frame.borrow().is_some() {
            return Err("a View is already mounted on this host".into());
        }
        let window = web_sys::window().ok_or("no window")?;
        let frame: HtmlIFrameElement = window
            .document()
            .ok_or("no document")?
            .create_element("iframe")?
            .dyn_into()?;
        frame.set_attribute("sandbox", sandbox::SANDBOX)?;
        let allow = sandbox::permissions_policy(
            document.permissions.as_ref(),
            &self.inner.granted.borrow(),
        );
        if !allow.is_empty() {
            frame.set_attribute("allow", &allow)?;
        }
        frame.set_attribute("referrerpolicy", "no-referrer")?;
        let policy = sandbox::content_security_policy(document.csp.as_ref());
        frame.set_srcdoc(&sandbox::with_policy(&document.html, &policy));
        container.append_child(&frame)?;
        // The frame's window exists once it is in the document, and stays the same object
        // when the srcdoc loads: the bridge listens to it before the View can say anything.
        let view = frame.content_window().ok_or("the iframe has no window")?;
        let bridge = Bridge::connect(view)?;
        let weak = Rc::downgrade(&self.inner);
        bridge.on_request(move |_, method, params| {
            let inner = weak.upgrade()?;
            AppHost { inner }.answer(method, params)
        });
        let weak = Rc::downgrade(&self.inner);
        bridge.on_notification(move |method, params| {
            if let Some(inner) = weak.upgrade() {
                AppHost { inner }.notified(method, params);
            }
        });
        *self.inner.bridge.borrow_mut() = Some(bridge);
        *self.inner.frame.borrow_mut() = Some(frame.clone());
        Ok(frame)
    }

    /// The iframe, once mounted.
    pub fn frame(&self) -> Option<HtmlIFrameElement> {
        self.inner.frame.borrow().clone()
    }

    /// What the View declared in `ui/initialize`, once it has.
    pub fn app(&self) -> Option<InitializeParams> {
        self.inner.app.borrow().clone()
    }

    /// Whether the View has completed the handshake.
    pub fn is_initialized(&self) -> bool {
        self.inner.initialized.get()
    }

    /// Resolves once the View has sent `ui/notifications/initialized` (at once if it has).
    pub async fn initialized(&self) {
        if self.is_initialized() {
            return;
        }
        let (tx, rx) = futures::channel::oneshot::channel();
        self.inner.waiting_for_initialized.borrow_mut().push(tx);
        let _ = rx.await;
    }

    /// The host context the View has now.
    pub fn host_context(&self) -> HostContext {
        self.inner.options.borrow().context.clone()
    }

    /// Sends the tool call's arguments (`ui/notifications/tool-input`).
    pub fn send_tool_input(&self, arguments: Map<String, Value>) {
        let params = object(vec![("arguments", Value::Object(arguments))]);
        self.notify(methods::TOOL_INPUT, params);
    }

    /// Sends arguments still being written (`ui/notifications/tool-input-partial`).
    pub fn send_tool_input_partial(&self, arguments: Map<String, Value>) {
        let params = object(vec![("arguments", Value::Object(arguments))]);
        self.notify(methods::TOOL_INPUT_PARTIAL, params);
    }

    /// Sends the tool call's result (`ui/notifications/tool-result`).
    pub fn send_tool_result(&self, result: &ToolResult) {
        self.notify(methods::TOOL_RESULT, result.to_json());
    }

    /// Tells the View the tool call was cancelled (`ui/notifications/tool-cancelled`).
    pub fn send_tool_cancelled(&self, reason: Option<&str>) {
        let params = match reason {
            Some(reason) => object(vec![("reason", Value::from(reason))]),
            None => empty_object(),
        };
        self.notify(methods::TOOL_CANCELLED, params);
    }

    /// Replaces the host context. Once the View is initialized it gets the keys whose values
    /// changed (`ui/notifications/host-context-changed`), and nothing when none did.
    pub fn set_host_context(&self, context: HostContext) {
        let before = to_map(&self.inner.options.borrow().context);
        let after = to_map(&context);
        self.inner.options.borrow_mut().context = context;
        let changed: Map<String, Value> = after
            .into_iter()
            .filter(|(key, value)| before.get(key) != Some(value))
            .collect();
        if !changed.is_empty() {
            self.notify(methods::HOST_CONTEXT_CHANGED, Value::Object(changed));
        }
    }

    /// Lists the View's own tools (`tools/list` towards the View). Refused without sending
    /// anything when the View did not declare `appCapabilities.tools`.
    pub async fn list_tools(&self) -> Result<Vec<ToolDefinition>, RpcError> {
        let answer = self
            .request_view(
                methods::TOOLS_LIST,
                empty_object(),
                RequestOptions::default(),
            )
            .await?;
        let tools = answer["tools"].as_array().cloned().unwrap_or_default();
        tools
            .iter()
            .map(|tool| {
                ToolDefinition::from_json(tool)
                    .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, format!("tools/list: {e}")))
            })
            .collect()
    }

    /// Calls one of the View's own tools (`tools/call` towards the View). Dropping the future
    /// before the answer, or the timeout in `options`, withdraws the call
    /// (`notifications/cancelled`).
    pub async fn call_tool(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        options: RequestOptions,
    ) -> Result<ToolResult, RpcError> {
        let params = object(vec![
            ("name", Value::from(name)),
            ("arguments", Value::Object(arguments)),
        ]);
        let answer = self
            .request_view(methods::TOOLS_CALL, params, options)
            .await?;
        ToolResult::from_json(&answer)
            .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, format!("tools/call: {e}")))
    }

    async fn request_view(
        &self,
        method: &'static str,
        params: Value,
        options: RequestOptions,
    ) -> Result<Value, RpcError> {
        let declared = self
            .inner
            .app
            .borrow()
            .as_ref()
            .is_some_and(|app| app.app_capabilities.tools.is_some());
        if !declared || !self.is_initialized() {
            return Err(RpcError::new(
                codes::METHOD_NOT_FOUND,
                "the View declared no tools of its own",
            ));
        }
        let bridge = self.live_bridge()?;
        bridge.request_with(method, Some(params), options).await
    }

    /// Closes the View: `ui/resource-teardown`, an answer awaited for up to [`TEARDOWN_GRACE`],
    /// then the frame is removed and nothing more is exchanged. Idempotent.
    pub async fn teardown(&self, reason: Option<&str>) {
        if self.inner.torn_down.replace(true) {
            return;
        }
        let bridge = self.inner.bridge.borrow_mut().take();
        if let Some(bridge) = &bridge {
            if self.is_initialized() {
                let params = match reason {
                    Some(reason) => object(vec![("reason", Value::from(reason))]),
                    None => empty_object(),
                };
                let _ = bridge
                    .request_with(
                        methods::RESOURCE_TEARDOWN,
                        Some(params),
                        RequestOptions::within(TEARDOWN_GRACE),
                    )
                    .await;
            }
            bridge.disconnect();
        }
        if let Some(frame) = self.inner.frame.borrow_mut().take() {
            frame.remove();
        }
    }

    fn live_bridge(&self) -> Result<Bridge, RpcError> {
        self.inner
            .bridge
            .borrow()
            .clone()
            .ok_or_else(|| RpcError::new(codes::INTERNAL_ERROR, "no View is mounted"))
    }

    fn notify(&self, method: &'static str, params: Value) {
        if self.inner.torn_down.get() {
            return;
        }
        if !self.is_initialized() {
            self.inner.queued.borrow_mut().push((method, params));
            return;
        }
        if let Ok(bridge) = self.live_bridge() {
            let _ = bridge.notify(method, Some(params));
        }
    }

    fn answer(&self, method: &str, params: Value) -> Option<Answer> {
        if method == methods::INITIALIZE {
            return Some(self.initialize(params));
        }
        let offered = capability_for(method, &self.inner.options.borrow().capabilities);
        if offered == Some(false) {
            return None;
        }
        let handler = self
            .inner
            .handlers
            .borrow()
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, h)| h.clone());
        if let Some(handler) = handler {
            return Some(handler(params));
        }
        match method {
            methods::OPEN_LINK => Some(Box::pin(std::future::ready(Ok(open_link(&params))))),
            methods::REQUEST_DISPLAY_MODE => {
                Some(Box::pin(std::future::ready(Ok(self.display_mode(&params)))))
            }
            _ => None,
        }
    }

    fn initialize(&self, params: Value) -> Answer {
        let outcome = match InitializeParams::from_json(&params) {
            Ok(app) => {
                *self.inner.app.borrow_mut() = Some(app);
                let options = self.inner.options.borrow();
                Ok(object(vec![
                    ("protocolVersion", Value::from(PROTOCOL_VERSION)),
                    ("hostInfo", options.host_info.to_json()),
                    ("hostCapabilities", options.capabilities.to_json()),
                    ("hostContext", options.context.to_json()),
                ]))
            }
            Err(e) => Err(RpcError::new(
                codes::INVALID_PARAMS,
                format!("{}: {e}", methods::INITIALIZE),
            )),
        };
        Box::pin(std::future::ready(outcome))
    }

    /// Grants a mode the host context lists as available (inline always), and answers with the
    /// mode in force, which the View must accept when it differs from the one it asked for.
    fn display_mode(&self, params: &Value) -> Value {
        let asked = DisplayMode::from_json(&params["mode"]).ok();
        let mut options = self.inner.options.borrow_mut();
        let context = &mut options.context;
        let available = context
            .available_display_modes
            .clone()
            .unwrap_or_else(|| vec![DisplayMode::Inline]);
        if let Some(mode) = asked.filter(|m| *m != DisplayMode::Other && available.contains(m)) {
            context.display_mode = Some(mode);
        }
        let mode = context.display_mode.unwrap_or(DisplayMode::Inline);
        object(vec![("mode", Value::from(mode.as_str()))])
    }

    fn notified(&self, method: &str, params: Value) {
        match method {
            methods::INITIALIZED => {
                if self.inner.app.borrow().is_none() || self.inner.initialized.replace(true) {
                    return;
                }
                let queued = std::mem::take(&mut *self.inner.queued.borrow_mut());
                for (method, params) in queued {
                    self.notify(method, params);
                }
                for waiting in self.inner.waiting_for_initialized.borrow_mut().drain(..) {
                    let _ = waiting.send(());
                }
                let app = self.inner.app.borrow().clone();
                if let Some(app) = app {
                    emit(&self.inner.on_initialized, app);
                }
            }
            methods::SIZE_CHANGED => {
                let read = |key: &str| params[key].as_f64().map(|n| n.max(0.0).ceil() as u32);
                let Some(height) = read("height") else {
                    return;
                };
                let size = SizeChanged {
                    width: read("width").unwrap_or_default(),
                    height,
                };
                if let Some(frame) = self.frame().filter(|_| self.inner.auto_height.get()) {
                    let _ = frame.style().set_property("height", &format!("{height}px"));
                }
                emit(&self.inner.on_size_changed, size);
            }
            methods::LOG => {
                if self.inner.on_log.borrow().is_some() {
                    emit(&self.inner.on_log, params);
                } else {
                    web_sys::console::log_2(&"MCP App:".into(), &params.to_string().into());
                }
            }
            methods::REQUEST_TEARDOWN => emit(&self.inner.on_request_teardown, ()),
            methods::TOOLS_LIST_CHANGED => emit(&self.inner.on_tools_list_changed, ()),
            _ => {}
        }
    }
}

fn emit<T>(listener: &Listener<T>, value: T) {
    let f = listener.borrow().clone();
    if let Some(f) = f {
        f(value);
    }
}

fn to_map(context: &HostContext) -> Map<String, Value> {
    match context.to_json() {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The default `ui/open-link`: http and https only, in a new browsing context that cannot reach
/// back (`noopener`, `noreferrer`). `{isError: true}` for anything else, or a blocked popup.
fn open_link(params: &Value) -> Value {
    let url = params["url"].as_str().unwrap_or_default();
    let allowed = web_sys::Url::new(url)
        .map(|u| matches!(u.protocol().as_str(), "http:" | "https:"))
        .unwrap_or(false);
    // With `noopener` the browser returns no window even when it opened one: only an
    // exception says it did not.
    let opened = allowed
        && web_sys::window().is_some_and(|w| {
            w.open_with_url_and_target_and_features(url, "_blank", "noopener,noreferrer")
                .is_ok()
        });
    if opened {
        empty_object()
    } else {
        object(vec![("isError", Value::Bool(true))])
    }
}

/// Reads a `tools/call` from the View, for handlers that forward it.
pub fn read_tool_call(params: &Value) -> Result<CallToolParams, RpcError> {
    CallToolParams::from_json(params)
        .map_err(|e| RpcError::new(codes::INVALID_PARAMS, format!("tools/call: {e}")))
}

//! The View's side of the MCP Apps protocol: JSON-RPC over `postMessage` with its host.
//!
//! One [`Bridge`] per View. It posts to the host window and accepts messages only from that same
//! window (`event.source`) and only when they are JSON-RPC 2.0 — anything else posted to our
//! window (extensions, dev tools) is ignored without failing. Outgoing requests get numeric ids
//! and a timeout; responses are routed back to the caller by id, and a response to an unknown id
//! is dropped. Requests from the host are answered by the registered handler, or with -32601.
//!
//! The host window is injected ([`Bridge::connect`]) rather than read from `window.parent`, so
//! that browser tests can play the host from a same-origin iframe.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{Either, select};
use mcp_chat_shared::apps::{
    AppCapabilities, DisplayMode, Implementation, InitializeParams, InitializeResult,
    PROTOCOL_VERSION, methods,
};
use mcp_chat_shared::json::FromJson;
use mcp_chat_shared::jsonrpc::{
    Incoming, Notification, Request, RequestId, Response, RpcError, codes,
};
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Window};

/// How long a request may go unanswered before it fails. Long enough for a proxied tool call
/// (whose own server-side wait is bounded well below this).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

type NotificationHandler = Box<dyn Fn(&str, Value)>;
type RequestHandler = Box<dyn Fn(&str, Value) -> Option<Result<Value, RpcError>>>;
type MessageListener = Closure<dyn FnMut(MessageEvent)>;
type Reply = oneshot::Sender<Result<Value, RpcError>>;

/// Requests awaiting their response, by id. A handful at most, so a list (no hash map code).
#[derive(Default)]
struct Pending(Vec<(RequestId, Reply)>);

impl Pending {
    fn insert(&mut self, id: RequestId, reply: Reply) {
        self.remove(&id);
        self.0.push((id, reply));
    }

    fn remove(&mut self, id: &RequestId) -> Option<Reply> {
        let at = self.0.iter().position(|(k, _)| k == id)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// A connection to the host. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct Bridge {
    inner: Rc<Inner>,
}

struct Inner {
    host: Window,
    next_id: Cell<i64>,
    pending: RefCell<Pending>,
    on_notification: RefCell<Option<NotificationHandler>>,
    on_request: RefCell<Option<RequestHandler>>,
    listener: RefCell<Option<MessageListener>>,
}

impl Bridge {
    /// Connects to the window that embeds us, the real host.
    /// Fails when the page is not embedded (its parent is itself): there is no host to talk to.
    pub fn to_parent() -> Result<Bridge, JsValue> {
        let window = web_sys::window().ok_or("no window")?;
        let parent = window.parent()?.ok_or("no parent window")?;
        if js_sys::Object::is(&parent, &window) {
            return Err("not embedded in an MCP Apps host".into());
        }
        Bridge::connect(parent)
    }

    /// Starts listening for messages from `host` and returns the bridge that posts to it.
    /// The listener is attached before anything is sent, so an early host message is not missed.
    pub fn connect(host: Window) -> Result<Bridge, JsValue> {
        let inner = Rc::new(Inner {
            host,
            next_id: Cell::new(1),
            pending: RefCell::new(Pending::default()),
            on_notification: RefCell::new(None),
            on_request: RefCell::new(None),
            listener: RefCell::new(None),
        });
        let weak = Rc::downgrade(&inner);
        let listener = MessageListener::new(move |event: MessageEvent| {
            if let Some(inner) = weak.upgrade() {
                Bridge { inner }.receive(&event);
            }
        });
        web_sys::window()
            .ok_or("no window")?
            .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref())?;
        *inner.listener.borrow_mut() = Some(listener);
        Ok(Bridge { inner })
    }

    /// Stops listening and fails every pending request. Used on teardown.
    pub fn disconnect(&self) {
        if let (Some(listener), Some(window)) =
            (self.inner.listener.borrow_mut().take(), web_sys::window())
        {
            let _ = window
                .remove_event_listener_with_callback("message", listener.as_ref().unchecked_ref());
        }
        for (_, tx) in self.inner.pending.borrow_mut().0.drain(..) {
            let _ = tx.send(Err(RpcError::new(
                codes::INTERNAL_ERROR,
                "bridge disconnected",
            )));
        }
    }

    /// Handles host notifications (`ui/notifications/*`). Replaces any earlier handler.
    pub fn on_notification(&self, handler: impl Fn(&str, Value) + 'static) {
        *self.inner.on_notification.borrow_mut() = Some(Box::new(handler));
    }

    /// Handles host requests. Returning `None` answers -32601 (method not found).
    pub fn on_request(
        &self,
        handler: impl Fn(&str, Value) -> Option<Result<Value, RpcError>> + 'static,
    ) {
        *self.inner.on_request.borrow_mut() = Some(Box::new(handler));
    }

    /// Sends a request and waits for its response, failing after [`DEFAULT_REQUEST_TIMEOUT`].
    pub async fn request(&self, method: &str, params: Option<Value>) -> Result<Value, RpcError> {
        self.request_with_timeout(method, params, DEFAULT_REQUEST_TIMEOUT)
            .await
    }

    pub async fn request_with_timeout(
        &self,
        method: &str,
        params: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, RpcError> {
        let id = RequestId::Number(self.inner.next_id.get());
        self.inner.next_id.set(self.inner.next_id.get() + 1);
        let (tx, rx) = oneshot::channel();
        self.inner.pending.borrow_mut().insert(id.clone(), tx);
        if let Err(e) = self.post(Request::new(id.clone(), method, params).to_json()) {
            self.inner.pending.borrow_mut().remove(&id);
            return Err(e);
        }
        let timer = sleep(timeout);
        futures::pin_mut!(timer);
        match select(rx, timer).await {
            Either::Left((Ok(outcome), _)) => outcome,
            Either::Left((Err(_), _)) => {
                Err(RpcError::new(codes::INTERNAL_ERROR, "request dropped"))
            }
            Either::Right(_) => {
                self.inner.pending.borrow_mut().remove(&id);
                Err(RpcError::new(
                    codes::TIMEOUT,
                    format!(
                        "{method}: no answer from the host within {}s",
                        timeout.as_secs()
                    ),
                ))
            }
        }
    }

    pub fn notify(&self, method: &str, params: Option<Value>) -> Result<(), RpcError> {
        self.post(Notification::new(method, params).to_json())
    }

    /// The MCP Apps handshake: `ui/initialize`, then `ui/notifications/initialized`.
    pub async fn initialize(&self, app_info: Implementation) -> Result<InitializeResult, RpcError> {
        let params = InitializeParams {
            app_info,
            app_capabilities: AppCapabilities {
                available_display_modes: Some(vec![DisplayMode::Inline, DisplayMode::Fullscreen]),
                tools: None,
            },
            protocol_version: PROTOCOL_VERSION.into(),
        };
        let result = self
            .request(methods::INITIALIZE, Some(params.to_json()))
            .await?;
        let result = InitializeResult::from_json(&result).map_err(|e| {
            RpcError::new(
                codes::INTERNAL_ERROR,
                format!("{}: unexpected result: {e}", methods::INITIALIZE),
            )
        })?;
        self.notify(methods::INITIALIZED, None)?;
        Ok(result)
    }

    fn post(&self, message: Value) -> Result<(), RpcError> {
        // Built as plain JS objects, so the host receives exactly what `JSON.parse` of the text
        // would give (never JS `Map`s).
        self.inner
            .host
            .post_message(&to_js(&message), "*")
            .map_err(|e| RpcError::new(codes::INTERNAL_ERROR, format!("postMessage failed: {e:?}")))
    }

    fn receive(&self, event: &MessageEvent) {
        let from_host = event
            .source()
            .is_some_and(|source| js_sys::Object::is(&source, self.inner.host.as_ref()));
        if !from_host {
            return;
        }
        // Through JSON text, so that only what JSON can say gets through (a `Date` becomes its
        // string, `undefined` disappears…), then read back in JS: no JSON parser in the wasm.
        let Some(value) = js_sys::JSON::stringify(&event.data())
            .ok()
            .and_then(|s| s.as_string())
            .and_then(|s| js_sys::JSON::parse(&s).ok())
            .and_then(|plain| from_js(&plain, JSON_DEPTH))
        else {
            return;
        };
        match Incoming::classify(&value) {
            Some(Incoming::Response { id, outcome }) => {
                if let Some(tx) = self.inner.pending.borrow_mut().remove(&id) {
                    let _ = tx.send(outcome);
                }
            }
            Some(Incoming::Notification { method, params }) => {
                if let Some(handler) = self.inner.on_notification.borrow().as_ref() {
                    handler(&method, params);
                }
            }
            Some(Incoming::Request { id, method, params }) => {
                let answer = if method == methods::PING {
                    Some(Ok(Value::Object(Default::default())))
                } else {
                    self.inner
                        .on_request
                        .borrow()
                        .as_ref()
                        .and_then(|handler| handler(&method, params))
                };
                let response = match answer {
                    Some(Ok(result)) => Response::ok(id, result),
                    Some(Err(error)) => Response::err(id, error),
                    None => Response::err(
                        id,
                        RpcError::new(codes::METHOD_NOT_FOUND, format!("unknown method {method}")),
                    ),
                };
                let _ = self.post(response.to_json());
            }
            None => {}
        }
    }
}

/// How deeply arrays and objects may nest in a message (serde_json's limit, which the View used
/// to parse messages with: a message nested deeper is dropped, as it was).
const JSON_DEPTH: u32 = 128;

/// Reads what `JSON.parse` made (only null, booleans, numbers, strings, arrays and plain objects)
/// as the `Value` serde_json would have parsed from the same text: integral numbers within
/// 64 bits as integers, other numbers as floats. `None` for a message serde_json would have
/// refused: nested too deeply, or holding a lone UTF-16 surrogate.
fn from_js(value: &JsValue, depth: u32) -> Option<Value> {
    if value.is_null() {
        return Some(Value::Null);
    }
    if let Some(b) = value.as_bool() {
        return Some(Value::Bool(b));
    }
    if let Some(n) = value.as_f64() {
        return Some(number(n));
    }
    if value.is_string() {
        return text(value).map(Value::String);
    }
    let depth = depth - 1;
    if depth == 0 {
        return None;
    }
    if js_sys::Array::is_array(value) {
        let array: &js_sys::Array = value.unchecked_ref();
        let mut items = Vec::with_capacity(array.length() as usize);
        for i in 0..array.length() {
            items.push(from_js(&array.get(i), depth)?);
        }
        return Some(Value::Array(items));
    }
    let mut map = serde_json::Map::new();
    let keys = js_sys::Object::keys::<JsValue>(value.unchecked_ref());
    for i in 0..keys.length() {
        let key = keys.get(i);
        let item = js_sys::Reflect::get(value, &key).ok()?;
        map.insert(text(&key)?, from_js(&item, depth)?);
    }
    Some(Value::Object(map))
}

fn text(value: &JsValue) -> Option<String> {
    let s: &js_sys::JsString = value.unchecked_ref();
    if s.is_valid_utf16() {
        value.as_string()
    } else {
        None
    }
}

/// A number as serde_json reads the JSON text `JSON.stringify` writes for it: an integer when
/// that text is one that fits 64 bits, a float otherwise. Below 2^53 the text is the exact
/// integer; above, JS writes the shortest round-trip digits padded with zeros, which is the
/// integer serde_json then reads.
fn number(n: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if n.fract() == 0.0 {
        if n.abs() < EXACT {
            return if n < 0.0 {
                Value::from(n as i64)
            } else {
                Value::from(n as u64)
            };
        }
        if let Some(text) = js_sys::JSON::stringify(&JsValue::from_f64(n))
            .ok()
            .and_then(|t| t.as_string())
        {
            let int = if n < 0.0 {
                text.parse::<i64>().ok().map(Value::from)
            } else {
                text.parse::<u64>().ok().map(Value::from)
            };
            if let Some(int) = int {
                return int;
            }
        }
    }
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// `value` as the JS value `JSON.parse` would make of its text: numbers as doubles, objects as
/// plain data. Objects are made without a prototype so that a `__proto__` key is an ordinary
/// property, as `JSON.parse` makes it (`postMessage` sends plain objects either way).
fn to_js(value: &Value) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Number(n) => JsValue::from_f64(n.as_f64().unwrap_or_default()),
        Value::String(s) => JsValue::from_str(s),
        Value::Array(items) => {
            let array = js_sys::Array::new();
            for item in items {
                array.push(&to_js(item));
            }
            array.into()
        }
        Value::Object(map) => {
            let object: js_sys::Object = js_sys::Object::create(JsValue::NULL.unchecked_ref());
            for (k, v) in map {
                let _ = js_sys::Reflect::set(&object, &JsValue::from_str(k), &to_js(v));
            }
            object.into()
        }
    }
}

/// Resolves after `duration`, on the browser's timer.
pub async fn sleep(duration: Duration) {
    let millis = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, millis);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::*;

    use super::{JSON_DEPTH, from_js};

    wasm_bindgen_test_configure!(run_in_browser);

    /// What the View used to do with a posted value: its JSON text, parsed by serde_json.
    fn old(data: &JsValue) -> Option<Value> {
        let text = js_sys::JSON::stringify(data).ok()?.as_string()?;
        serde_json::from_str(&text).ok()
    }

    /// What it does now.
    fn new(data: &JsValue) -> Option<Value> {
        let text = js_sys::JSON::stringify(data).ok()?.as_string()?;
        from_js(&js_sys::JSON::parse(&text).ok()?, JSON_DEPTH)
    }

    #[wasm_bindgen_test]
    fn reads_messages_as_serde_json_parsed_their_text() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let texts = [
            r#"{"jsonrpc":"2.0","id":3,"result":{"a":[1,-2,1.5,0.1,1e300,-0,18446744073709551615,1e20,-9223372036854775808,-1e19,true,false,null,"x"]}}"#.to_owned(),
            "[9007199254740991,9007199254740992,-9007199254740992,9007199254740993,1152921504606846976,18446744073709549568,-9223372036854774784,-9223372036854777856,1e21]".to_owned(),
            r#"{"b":{"c":{}},"a":[],"é\n\"":"😀 \u0001 \\"}"#.to_owned(),
            r#""just a string""#.to_owned(),
            "12".to_owned(),
            "4.5e-7".to_owned(),
            "9007199254740993".to_owned(),
            r#"{"s":"\ud800"}"#.to_owned(),
            r#"{"\udc00":1}"#.to_owned(),
            deep(127),
            deep(128),
            format!(r#"{{"a":{}}}"#, deep(126)),
            format!(r#"{{"a":{}}}"#, deep(127)),
        ];
        for text in &texts {
            let data = js_sys::JSON::parse(text).unwrap();
            assert_eq!(new(&data), old(&data), "for {text}");
        }
        // The one difference: serde_json (without its `float_roundtrip` feature) may read a float
        // one unit in the last place off; the View now gets the correctly rounded double.
        let big = js_sys::JSON::parse("123456789012345680000").unwrap();
        assert_eq!(new(&big), Some(Value::from(1.2345678901234568e20)));
        assert_eq!(old(&big), Some(Value::from(1.2345678901234567e20)));
        let date = js_sys::Date::new(&JsValue::from_f64(0.0));
        let with_date = js_sys::Array::of2(&date, &JsValue::UNDEFINED);
        assert_eq!(new(&with_date), old(&with_date));
        assert!(new(&with_date).is_some());
    }
}

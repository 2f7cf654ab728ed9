//! The View's side of the transport: JSON-RPC 2.0 over `postMessage` with its host.
//!
//! One [`Bridge`] per View. It posts to the host window and accepts messages only from that same
//! window (`event.source`) and only when they are JSON-RPC 2.0 — anything else posted to our
//! window (extensions, dev tools) is ignored without failing. Outgoing requests get numeric ids
//! and a timeout; responses are routed back to the caller by id, and a response to an unknown id
//! is dropped. A request the View stops waiting for (its timeout passed, or the future was
//! dropped) is withdrawn with `notifications/cancelled`, so the host can stop the work.
//! Requests from the host are answered by the registered handler (asynchronously), or with
//! -32601; a host `notifications/cancelled` stops the handler and sends no answer, as MCP asks.
//!
//! The host window is injected ([`Bridge::connect`]) rather than read from `window.parent`, so
//! that browser tests can play the host from a same-origin iframe.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{AbortHandle, Abortable, Either, select};
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{MessageEvent, Window};

use crate::json::{FromJson, ToJson, object};
use crate::jsonrpc::{Incoming, Notification, Request, RequestId, Response, RpcError, codes};
use crate::protocol::{CancelledParams, Progress, methods};

/// How long a request may go unanswered before it fails. Long enough for a proxied tool call
/// whose server answers slowly; pass a shorter one where the caller knows better.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// What a request handler produces: the answer, later.
pub type Answer = Pin<Box<dyn Future<Output = Result<Value, RpcError>>>>;
// Handlers are `Rc`s: one is cloned out of its cell and the borrow released before it runs, so
// a handler may register handlers, send, or drop requests without a `RefCell` panic (a panic in
// a View is a trap that stops it).
type NotificationHandler = Rc<dyn Fn(&str, Value)>;
type RequestHandler = Rc<dyn Fn(&Bridge, &str, Value) -> Option<Answer>>;
/// Reads a `notifications/progress` and passes it on. Built by [`RequestOptions::on_progress`],
/// so that an App that never follows progress carries no code for it.
type ProgressHandler = Rc<dyn Fn(&Value)>;
type MessageListener = Closure<dyn FnMut(MessageEvent)>;
type Reply = oneshot::Sender<Result<Value, RpcError>>;

/// A request awaiting its response.
struct Waiting {
    id: RequestId,
    reply: Reply,
    on_progress: Option<ProgressHandler>,
}

/// Requests awaiting their response, by id. A handful at most, so a list (no hash map code).
#[derive(Default)]
struct Pending(Vec<Waiting>);

impl Pending {
    fn remove(&mut self, id: &RequestId) -> Option<Waiting> {
        let at = self.0.iter().position(|w| &w.id == id)?;
        Some(self.0.swap_remove(at))
    }
}

/// How a request is sent: its timeout, and who hears of its progress.
pub struct RequestOptions {
    /// How long to wait for the answer.
    pub timeout: Duration,
    on_progress: Option<ProgressHandler>,
}

impl Default for RequestOptions {
    fn default() -> Self {
        RequestOptions {
            timeout: DEFAULT_REQUEST_TIMEOUT,
            on_progress: None,
        }
    }
}

impl RequestOptions {
    /// The default options with this timeout.
    pub fn within(timeout: Duration) -> Self {
        RequestOptions::default().timeout(timeout)
    }

    /// Fails the request (and withdraws it from the host) after `timeout`.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Follows the request's progress, where the host reports it: `f` is called with each
    /// `notifications/progress` the host sends for it (the request's `_meta` then carries a
    /// `progressToken`).
    pub fn on_progress(mut self, f: impl Fn(Progress) + 'static) -> Self {
        self.on_progress = Some(Rc::new(move |params| {
            if let Ok(progress) = Progress::from_json(params) {
                f(progress);
            }
        }));
        self
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
    /// Host requests being answered, so a host `notifications/cancelled` can stop them.
    answering: RefCell<Vec<(RequestId, AbortHandle)>>,
    on_notification: RefCell<Option<NotificationHandler>>,
    on_request: RefCell<Option<RequestHandler>>,
    listener: RefCell<Option<MessageListener>>,
    /// Set by a request handler that closes the connection (the host's teardown); taken by that
    /// request's answer, which disconnects once it is out.
    closing: Cell<bool>,
}

/// Withdraws a request the caller stopped waiting for: dropped before its answer came (the
/// caller's future was dropped, or the timeout fired), it is removed and the host told.
struct Withdraw<'a> {
    bridge: &'a Bridge,
    id: RequestId,
    reason: &'static str,
    answered: bool,
    /// False for `ui/initialize`, which MCP forbids cancelling.
    tell_host: bool,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        let was_pending = self.bridge.inner.pending.borrow_mut().remove(&self.id);
        if was_pending.is_some() && self.tell_host {
            let cancelled = CancelledParams {
                request_id: self.id.clone(),
                reason: Some(self.reason.into()),
            };
            let _ = self
                .bridge
                .notify(methods::CANCELLED, Some(cancelled.to_json()));
        }
    }
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
            answering: RefCell::new(Vec::new()),
            on_notification: RefCell::new(None),
            on_request: RefCell::new(None),
            listener: RefCell::new(None),
            closing: Cell::new(false),
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
        for waiting in self.inner.pending.borrow_mut().0.drain(..) {
            let _ = waiting.reply.send(Err(RpcError::new(
                codes::INTERNAL_ERROR,
                "bridge disconnected",
            )));
        }
        for (_, handle) in self.inner.answering.borrow_mut().drain(..) {
            handle.abort();
        }
    }

    /// Called from a request handler: disconnects once the answer to that request has been
    /// posted (the host's teardown must still get its answer), or the host cancelled it.
    pub fn disconnect_after_answer(&self) {
        self.inner.closing.set(true);
    }

    /// Handles host notifications. Replaces any earlier handler.
    pub fn on_notification(&self, handler: impl Fn(&str, Value) + 'static) {
        *self.inner.on_notification.borrow_mut() = Some(Rc::new(handler));
    }

    /// Handles host requests. Returning `None` answers -32601 (method not found). The handler
    /// gets the bridge, so it need not hold one (which would keep the bridge alive forever).
    pub fn on_request(&self, handler: impl Fn(&Bridge, &str, Value) -> Option<Answer> + 'static) {
        *self.inner.on_request.borrow_mut() = Some(Rc::new(handler));
    }

    /// Sends a request and waits for its response, failing after [`DEFAULT_REQUEST_TIMEOUT`].
    pub async fn request(&self, method: &str, params: Option<Value>) -> Result<Value, RpcError> {
        self.request_with(method, params, RequestOptions::default())
            .await
    }

    /// Sends a request with `options`. If the timeout passes, or the returned future is dropped
    /// before the answer, the host gets `notifications/cancelled` for it.
    pub async fn request_with(
        &self,
        method: &str,
        params: Option<Value>,
        options: RequestOptions,
    ) -> Result<Value, RpcError> {
        let id = RequestId::Number(self.inner.next_id.get());
        self.inner.next_id.set(self.inner.next_id.get() + 1);
        // Asking for progress: the request's own id is its progress token.
        let params = match (&options.on_progress, params) {
            (Some(_), Some(Value::Object(mut map))) => {
                let token = id.to_json();
                match map.get_mut("_meta") {
                    Some(Value::Object(meta)) => {
                        meta.insert("progressToken".into(), token);
                    }
                    _ => {
                        map.insert("_meta".into(), object(vec![("progressToken", token)]));
                    }
                }
                Some(Value::Object(map))
            }
            (Some(_), None) => Some(object(vec![(
                "_meta",
                object(vec![("progressToken", id.to_json())]),
            )])),
            (_, params) => params,
        };
        let (reply, rx) = oneshot::channel();
        self.inner.pending.borrow_mut().0.push(Waiting {
            id: id.clone(),
            reply,
            on_progress: options.on_progress,
        });
        if let Err(e) = self.post(Request::new(id.clone(), method, params).to_json()) {
            self.inner.pending.borrow_mut().remove(&id);
            return Err(e);
        }
        let mut withdraw = Withdraw {
            bridge: self,
            id,
            reason: "the View no longer waits for the answer",
            answered: false,
            tell_host: method != methods::INITIALIZE,
        };
        let timer = sleep(options.timeout);
        futures::pin_mut!(timer);
        match select(rx, timer).await {
            Either::Left((Ok(outcome), _)) => {
                withdraw.answered = true;
                outcome
            }
            Either::Left((Err(_), _)) => {
                withdraw.answered = true;
                Err(RpcError::new(codes::INTERNAL_ERROR, "request dropped"))
            }
            Either::Right(_) => {
                withdraw.reason = "timed out";
                Err(RpcError::new(
                    codes::TIMEOUT,
                    format!(
                        "{method}: no answer from the host within {}s",
                        timeout_secs(options.timeout)
                    ),
                ))
            }
        }
    }

    /// Sends a notification (no answer).
    pub fn notify(&self, method: &str, params: Option<Value>) -> Result<(), RpcError> {
        self.post(Notification::new(method, params).to_json())
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
                let waiting = self.inner.pending.borrow_mut().remove(&id);
                if let Some(waiting) = waiting {
                    let _ = waiting.reply.send(outcome);
                }
            }
            Some(Incoming::Notification { method, params }) => match method.as_str() {
                methods::PROGRESS => self.progress(&params),
                methods::CANCELLED => {
                    if let Ok(cancelled) = CancelledParams::from_json(&params) {
                        let mut answering = self.inner.answering.borrow_mut();
                        if let Some(at) = answering
                            .iter()
                            .position(|(id, _)| *id == cancelled.request_id)
                        {
                            answering.swap_remove(at).1.abort();
                        }
                    }
                }
                _ => {
                    let handler = self.inner.on_notification.borrow().clone();
                    if let Some(handler) = handler {
                        handler(&method, params);
                    }
                }
            },
            Some(Incoming::Request { id, method, params }) => self.answer(id, method, params),
            None => {}
        }
    }

    fn progress(&self, params: &Value) {
        let Ok(id) = RequestId::from_json(&params["progressToken"]) else {
            return;
        };
        let handler = self
            .inner
            .pending
            .borrow()
            .0
            .iter()
            .find(|w| w.id == id)
            .and_then(|w| w.on_progress.clone());
        if let Some(f) = handler {
            f(params);
        }
    }

    fn answer(&self, id: RequestId, method: String, params: Value) {
        let handler = self.inner.on_request.borrow().clone();
        let answer = match handler {
            Some(handler) if method != methods::PING => handler(self, &method, params),
            _ => None,
        };
        // Whether this request's handler asked to close: only its own answer disconnects.
        let closes = self.inner.closing.replace(false);
        let Some(answer) = answer else {
            let response = if method == methods::PING {
                Response::ok(id, Value::Object(Default::default()))
            } else {
                Response::err(
                    id,
                    RpcError::new(codes::METHOD_NOT_FOUND, format!("unknown method {method}")),
                )
            };
            let _ = self.post(response.to_json());
            return;
        };
        let (handle, registration) = AbortHandle::new_pair();
        self.inner.answering.borrow_mut().push((id.clone(), handle));
        let bridge = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let outcome = Abortable::new(answer, registration).await;
            let still_wanted = {
                let mut answering = bridge.inner.answering.borrow_mut();
                let at = answering.iter().position(|(k, _)| *k == id);
                at.map(|at| answering.swap_remove(at)).is_some()
            };
            // Cancelled by the host (or the bridge disconnected): no answer, as MCP asks.
            if let (true, Ok(outcome)) = (still_wanted, outcome) {
                let response = match outcome {
                    Ok(result) => Response::ok(id, result),
                    Err(error) => Response::err(id, error),
                };
                let _ = bridge.post(response.to_json());
            }
            if closes {
                bridge.disconnect();
            }
        });
    }
}

fn timeout_secs(timeout: Duration) -> u64 {
    timeout
        .as_secs()
        .max(u64::from(timeout.subsec_millis() > 0))
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

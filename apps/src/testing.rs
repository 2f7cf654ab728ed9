//! A test host for `wasm-bindgen-test`: a same-origin iframe's window that the View posts to,
//! and that "posts" back by dispatching `MessageEvent`s on the top window with itself as the
//! source — exactly what the View sees in a real embedding, where the host is `window.parent`.
//!
//! ```ignore
//! let host = TestHost::new();
//! let app = App::with_bridge(Bridge::connect(host.window.clone())?, info);
//! spawn_local(async move { app.connect().await.unwrap(); });
//! host.complete_handshake(host_result("light")).await;
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use crate::sleep;
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{HtmlIFrameElement, MessageEvent, MessageEventInit, Window};

/// The host's end of the conversation: what the View posted, and a way to post to it.
pub struct TestHost {
    /// The window the View's [`crate::Bridge`] connects to.
    pub window: Window,
    frame: HtmlIFrameElement,
    /// Everything the View posted and no test has taken yet, oldest first.
    pub received: Rc<RefCell<Vec<Value>>>,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

impl Default for TestHost {
    fn default() -> Self {
        TestHost::new()
    }
}

impl TestHost {
    /// A host frame appended to the document (removed on drop).
    pub fn new() -> TestHost {
        let document = web_sys::window().unwrap().document().unwrap();
        let frame: HtmlIFrameElement = document
            .create_element("iframe")
            .unwrap()
            .dyn_into()
            .unwrap();
        document.body().unwrap().append_child(&frame).unwrap();
        let window = frame.content_window().unwrap();
        let received = Rc::new(RefCell::new(Vec::new()));
        let sink = received.clone();
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let text = js_sys::JSON::stringify(&e.data())
                .unwrap()
                .as_string()
                .unwrap();
            sink.borrow_mut().push(serde_json::from_str(&text).unwrap());
        });
        window
            .add_event_listener_with_callback("message", listener.as_ref().unchecked_ref())
            .unwrap();
        TestHost {
            window,
            frame,
            received,
            _listener: listener,
        }
    }

    /// Delivers `message` to the View as if this host had posted it.
    pub fn post(&self, message: Value) {
        post_from(&self.window, message);
    }

    /// Waits (up to two seconds) for the View to post a message with this `method`, and takes it.
    pub async fn next(&self, method: &str) -> Value {
        self.next_where(method, |m| m["method"] == method).await
    }

    /// Waits (up to two seconds) for a message matching `pred`, and takes it.
    pub async fn next_where(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            let found = {
                let mut received = self.received.borrow_mut();
                let at = received.iter().position(&pred);
                at.map(|i| received.remove(i))
            };
            if let Some(message) = found {
                return message;
            }
            sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the View never sent {what}; it sent {:?}",
            self.received.borrow()
        );
    }

    /// Waits for the View to call tool `name` through us; returns the request.
    pub async fn tool_call(&self, name: &str) -> Value {
        self.next_where(&format!("tools/call {name}"), |m| {
            m["method"] == "tools/call" && m["params"]["name"] == name
        })
        .await
    }

    /// Answers a `tools/call` request with a successful result carrying `structured`.
    pub fn tool_ok(&self, request: &Value, structured: Value) {
        self.post(json!({"jsonrpc": "2.0", "id": request["id"], "result": {
            "content": [{"type": "text", "text": "ok"}],
            "structuredContent": structured,
        }}));
    }

    /// Answers a `tools/call` request with a tool error (`isError: true`).
    pub fn tool_error(&self, request: &Value, code: &str, message: &str) {
        self.post(json!({"jsonrpc": "2.0", "id": request["id"], "result": {
            "content": [{"type": "text", "text": message}],
            "structuredContent": {"success": false, "status": "error", "error": message, "code": code},
            "isError": true,
        }}));
    }

    /// Answers a request with `{}`.
    pub fn ack(&self, request: &Value) {
        self.post(json!({"jsonrpc": "2.0", "id": request["id"], "result": {}}));
    }

    /// How many messages with `method` the View has posted that were not taken yet.
    pub fn count(&self, method: &str) -> usize {
        self.received
            .borrow()
            .iter()
            .filter(|m| m["method"] == method)
            .count()
    }

    /// Waits for the View's response to our request `id`.
    pub async fn response(&self, id: i64) -> Value {
        let what = format!("an answer to request {id}");
        self.next_where(&what, |m| m["id"] == id && m.get("method").is_none())
            .await
    }

    /// Answers the View's `ui/initialize` with `result`, returning the request it sent.
    pub async fn complete_handshake(&self, result: Value) -> Value {
        let request = self.next("ui/initialize").await;
        self.post(json!({"jsonrpc": "2.0", "id": request["id"], "result": result}));
        self.next("ui/notifications/initialized").await;
        request
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        self.frame.remove();
    }
}

/// Dispatches `message` on the top window as if `source` had posted it.
pub fn post_from(source: &Window, message: Value) {
    let init = MessageEventInit::new();
    init.set_data(&js_sys::JSON::parse(&message.to_string()).unwrap());
    init.set_source(Some(source.as_ref()));
    let event = MessageEvent::new_with_event_init_dict("message", &init).unwrap();
    web_sys::window().unwrap().dispatch_event(&event).unwrap();
}

/// A realistic `ui/initialize` result with `theme`, tool calls and messages offered.
pub fn host_result(theme: &str) -> Value {
    json!({
        "protocolVersion": "2026-01-26",
        "hostInfo": {"name": "test-host", "version": "9.9.9"},
        "hostCapabilities": {"serverTools": {}, "message": {"text": {}}},
        "hostContext": {
            "theme": theme,
            "styles": {"variables": {"--color-background-primary": "rgb(1, 2, 3)"}},
            "displayMode": "inline"
        }
    })
}

/// The document's `<html>`.
pub fn root() -> web_sys::HtmlElement {
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .document_element()
        .unwrap()
        .dyn_into()
        .unwrap()
}

/// The text of the first element matching `selector` (panics if none does).
pub fn query_text(within: &web_sys::Element, selector: &str) -> String {
    within
        .query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no element matches {selector}"))
        .text_content()
        .unwrap_or_default()
}

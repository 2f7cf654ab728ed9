//! Browser tests: the handshake, host-message routing and theming, with a test playing the host.
//!
//! The "host" is a same-origin iframe's window. The View posts to it (we read those messages
//! from its `message` events) and accepts messages whose `source` is it (we dispatch
//! `MessageEvent`s on the top window with that source) — exactly as in a real embedding, where
//! the host is `window.parent`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use mcp_chat_shared::apps::{Implementation, InitializeResult, Theme};
use mcp_chat_view::app::App;
use mcp_chat_view::bridge::{Bridge, sleep};
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{HtmlIFrameElement, MessageEvent, MessageEventInit, Window};

wasm_bindgen_test_configure!(run_in_browser);

struct TestHost {
    window: Window,
    frame: HtmlIFrameElement,
    received: Rc<RefCell<Vec<Value>>>,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

impl TestHost {
    fn new() -> TestHost {
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
    fn post(&self, message: Value) {
        post_from(&self.window, message);
    }

    /// Waits (up to two seconds) for the View to post a message with this `method`, and takes it.
    async fn next(&self, method: &str) -> Value {
        for _ in 0..200 {
            let found = {
                let mut received = self.received.borrow_mut();
                let at = received.iter().position(|m| m["method"] == method);
                at.map(|i| received.remove(i))
            };
            if let Some(message) = found {
                return message;
            }
            sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "the View never sent {method}; it sent {:?}",
            self.received.borrow()
        );
    }

    /// Waits for the View's response to our request `id`.
    async fn response(&self, id: i64) -> Value {
        for _ in 0..200 {
            let found = {
                let mut received = self.received.borrow_mut();
                let at = received
                    .iter()
                    .position(|m| m["id"] == id && m.get("method").is_none());
                at.map(|i| received.remove(i))
            };
            if let Some(message) = found {
                return message;
            }
            sleep(Duration::from_millis(10)).await;
        }
        panic!("the View never answered request {id}");
    }

    /// Answers the View's `ui/initialize` with `result`, returning the request it sent.
    async fn complete_handshake(&self, result: Value) -> Value {
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

fn post_from(source: &Window, message: Value) {
    let init = MessageEventInit::new();
    init.set_data(&js_sys::JSON::parse(&message.to_string()).unwrap());
    init.set_source(Some(source.as_ref()));
    let event = MessageEvent::new_with_event_init_dict("message", &init).unwrap();
    web_sys::window().unwrap().dispatch_event(&event).unwrap();
}

fn host_result(theme: &str) -> Value {
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

fn root() -> web_sys::HtmlElement {
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .document_element()
        .unwrap()
        .dyn_into()
        .unwrap()
}

fn query_text(within: &web_sys::Element, selector: &str) -> String {
    within
        .query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("no element matches {selector}"))
        .text_content()
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn handshake_sends_initialize_then_initialized() {
    let host = TestHost::new();
    let bridge = Bridge::connect(host.window.clone()).unwrap();
    let outcome: Rc<RefCell<Option<InitializeResult>>> = Rc::default();
    let slot = outcome.clone();
    let b = bridge.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let info = Implementation {
            name: "t".into(),
            version: "1".into(),
            title: None,
        };
        *slot.borrow_mut() = Some(b.initialize(info).await.unwrap());
    });

    let request = host.next("ui/initialize").await;
    assert_eq!(request["jsonrpc"], "2.0");
    assert_eq!(request["params"]["protocolVersion"], "2026-01-26");
    assert_eq!(request["params"]["appInfo"]["name"], "t");
    assert!(request["params"]["appCapabilities"].is_object());
    // Nothing but the request so far: `initialized` must wait for the host's answer.
    assert!(host.received.borrow().is_empty());

    host.post(json!({"jsonrpc": "2.0", "id": request["id"], "result": host_result("dark")}));
    let initialized = host.next("ui/notifications/initialized").await;
    assert!(
        initialized.get("id").is_none(),
        "a notification carries no id: {initialized}"
    );
    sleep(Duration::from_millis(20)).await;
    let result = outcome.borrow().clone().expect("initialize resolved");
    assert_eq!(result.host_info.name, "test-host");
    assert_eq!(result.host_context.theme, Some(Theme::Dark));
    bridge.disconnect();
}

#[wasm_bindgen_test]
async fn messages_from_other_sources_or_not_jsonrpc_are_ignored() {
    let host = TestHost::new();
    let stranger = TestHost::new();
    let bridge = Bridge::connect(host.window.clone()).unwrap();
    let answer: Rc<RefCell<Option<Value>>> = Rc::default();
    let slot = answer.clone();
    let b = bridge.clone();
    wasm_bindgen_futures::spawn_local(async move {
        *slot.borrow_mut() = Some(b.request("ping", None).await.unwrap());
    });
    let request = host.next("ping").await;
    let id = request["id"].clone();

    // A response with the right id, but from another window: must not resolve the request.
    post_from(
        &stranger.window,
        json!({"jsonrpc": "2.0", "id": id, "result": {"from": "stranger"}}),
    );
    // Junk from the right window: not JSON-RPC 2.0.
    host.post(json!({"id": id, "result": {"from": "junk"}}));
    host.post(json!("a plain string"));
    host.post(json!({"jsonrpc": "2.0", "id": 424242, "result": {}}));
    sleep(Duration::from_millis(50)).await;
    assert!(
        answer.borrow().is_none(),
        "resolved by a foreign message: {:?}",
        answer.borrow()
    );

    host.post(json!({"jsonrpc": "2.0", "id": id, "result": {"from": "host"}}));
    sleep(Duration::from_millis(20)).await;
    assert_eq!(answer.borrow().clone(), Some(json!({"from": "host"})));
    bridge.disconnect();
}

#[wasm_bindgen_test]
async fn host_requests_are_answered() {
    let host = TestHost::new();
    let bridge = Bridge::connect(host.window.clone()).unwrap();
    bridge.on_request(|method, _| (method == "custom/echo").then(|| Ok(json!({"echo": true}))));

    host.post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}));
    assert_eq!(host.response(1).await["result"], json!({}));
    host.post(json!({"jsonrpc": "2.0", "id": 2, "method": "custom/echo", "params": {}}));
    assert_eq!(host.response(2).await["result"], json!({"echo": true}));
    host.post(json!({"jsonrpc": "2.0", "id": 3, "method": "no/such"}));
    assert_eq!(host.response(3).await["error"]["code"], -32601);
    bridge.disconnect();
}

/// The View's real stylesheet (trunk inlines it into the shipped document), once per page.
fn install_stylesheet() {
    let document = web_sys::window().unwrap().document().unwrap();
    if document.get_element_by_id("view-style").is_none() {
        let style = document.create_element("style").unwrap();
        style.set_id("view-style");
        style.set_text_content(Some(include_str!("../style.css")));
        document.head().unwrap().append_child(&style).unwrap();
    }
}

#[wasm_bindgen_test]
async fn app_connects_applies_theme_and_follows_context_changes() {
    install_stylesheet();
    let host = TestHost::new();
    let wrapper = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .create_element("div")
        .unwrap();
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .body()
        .unwrap()
        .append_child(&wrapper)
        .unwrap();
    let bridge = Bridge::connect(host.window.clone()).unwrap();
    let _mounted = mount_to(
        wrapper.clone().unchecked_into(),
        move || view! { <App bridge=bridge /> },
    );

    leptos::task::tick().await;
    assert_eq!(
        query_text(&wrapper, ".connection"),
        "Connecting to the host…"
    );

    host.complete_handshake(host_result("dark")).await;
    sleep(Duration::from_millis(20)).await;
    leptos::task::tick().await;
    assert_eq!(
        query_text(&wrapper, ".connection"),
        "Connected to test-host 9.9.9"
    );
    assert_eq!(root().get_attribute("data-theme").as_deref(), Some("dark"));
    assert_eq!(
        root()
            .style()
            .get_property_value("--color-background-primary")
            .unwrap(),
        "rgb(1, 2, 3)"
    );
    // The page actually renders with the host's colour.
    let body = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .body()
        .unwrap();
    let background = web_sys::window()
        .unwrap()
        .get_computed_style(&body)
        .unwrap()
        .unwrap()
        .get_property_value("background-color")
        .unwrap();
    assert_eq!(background, "rgb(1, 2, 3)");

    host.post(json!({
        "jsonrpc": "2.0",
        "method": "ui/notifications/host-context-changed",
        "params": {"theme": "light", "styles": {"variables": {"--color-background-primary": "rgb(9, 9, 9)"}}}
    }));
    sleep(Duration::from_millis(20)).await;
    leptos::task::tick().await;
    assert_eq!(root().get_attribute("data-theme").as_deref(), Some("light"));
    assert_eq!(
        root()
            .style()
            .get_property_value("--color-background-primary")
            .unwrap(),
        "rgb(9, 9, 9)"
    );

    // Teardown is acknowledged promptly and shown.
    host.post(json!({"jsonrpc": "2.0", "id": 77, "method": "ui/resource-teardown", "params": {}}));
    assert_eq!(host.response(77).await["result"], json!({}));
    leptos::task::tick().await;
    assert_eq!(query_text(&wrapper, ".connection"), "Closed by the host");
    wrapper.remove();
}

#[wasm_bindgen_test]
async fn a_failed_handshake_is_shown() {
    let host = TestHost::new();
    let wrapper = web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .create_element("div")
        .unwrap();
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .body()
        .unwrap()
        .append_child(&wrapper)
        .unwrap();
    let bridge = Bridge::connect(host.window.clone()).unwrap();
    let _mounted = mount_to(
        wrapper.clone().unchecked_into(),
        move || view! { <App bridge=bridge /> },
    );
    let request = host.next("ui/initialize").await;
    host.post(json!({"jsonrpc": "2.0", "id": request["id"], "error": {"code": -32603, "message": "host broke"}}));
    sleep(Duration::from_millis(20)).await;
    leptos::task::tick().await;
    assert_eq!(
        query_text(&wrapper, ".connection"),
        "Not connected: host broke"
    );
    wrapper.remove();
}

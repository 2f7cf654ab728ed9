//! Browser tests: the handshake, host-message routing and theming, with a test playing the host.
//!
//! The "host" is a same-origin iframe's window. The View posts to it (we read those messages
//! from its `message` events) and accepts messages whose `source` is it (we dispatch
//! `MessageEvent`s on the top window with that source) — exactly as in a real embedding, where
//! the host is `window.parent`.
#![cfg(target_arch = "wasm32")]

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use leptos::prelude::*;
use mcp_chat_shared::apps::{Implementation, InitializeResult, Theme};
use mcp_chat_view::app::App;
use mcp_chat_view::bridge::{Bridge, sleep};
use serde_json::{Value, json};
use support::{TestHost, host_result, install_stylesheet, post_from, query_text, root};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

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
    assert_eq!(query_text(&wrapper, ".connection"), "Connecting…");

    host.complete_handshake(host_result("dark")).await;
    sleep(Duration::from_millis(20)).await;
    leptos::task::tick().await;
    assert_eq!(query_text(&wrapper, ".connection"), "Connected");
    assert_eq!(query_text(&wrapper, ".host-name"), "in test-host 9.9.9");
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
    assert_eq!(query_text(&wrapper, ".connection"), "Closed");
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

//! The transport against a test host: the handshake's order, which messages are ours, and
//! answers to host requests.
//!
//! The "host" is a same-origin iframe's window (`mcp_apps::testing`). The View posts to it (we
//! read those messages from its `message` events) and accepts messages whose `source` is it (we
//! dispatch `MessageEvent`s on the top window with that source) — exactly as in a real
//! embedding, where the host is `window.parent`.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mcp_apps::protocol::{Implementation, InitializeResult, Theme};
use mcp_apps::testing::{TestHost, host_result, post_from};
use mcp_apps::{Answer, App, Bridge, sleep};
use serde_json::{Value, json};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn handshake_sends_initialize_then_initialized() {
    let host = TestHost::new();
    let bridge = Bridge::connect(host.window.clone()).unwrap();
    let info = Implementation {
        name: "t".into(),
        version: "1".into(),
        title: None,
    };
    let app = App::with_bridge(bridge.clone(), info);
    let outcome: Rc<RefCell<Option<InitializeResult>>> = Rc::default();
    let slot = outcome.clone();
    wasm_bindgen_futures::spawn_local(async move {
        *slot.borrow_mut() = Some(app.connect().await.unwrap());
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
    bridge.on_request(|_, method, _| {
        (method == "custom/echo")
            .then(|| -> Answer { Box::pin(async { Ok(json!({"echo": true})) }) })
    });

    host.post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}));
    assert_eq!(host.response(1).await["result"], json!({}));
    host.post(json!({"jsonrpc": "2.0", "id": 2, "method": "custom/echo", "params": {}}));
    assert_eq!(host.response(2).await["result"], json!({"echo": true}));
    host.post(json!({"jsonrpc": "2.0", "id": 3, "method": "no/such"}));
    assert_eq!(host.response(3).await["error"]["code"], -32601);
    bridge.disconnect();
}

//! The host layer (the JS `App` class's equivalent): every request's payload, capability gating,
//! -32601 as "unsupported", timeouts, notification handlers and teardown.
#![cfg(target_arch = "wasm32")]

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mcp_chat_shared::apps::{DisplayMode, Implementation};
use mcp_chat_shared::jsonrpc::codes;
use mcp_chat_view::bridge::{Bridge, sleep};
use mcp_chat_view::host::{Host, HostError};
use serde_json::{Value, json};
use support::TestHost;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn connected(capabilities: Value) -> (TestHost, Host) {
    let test_host = TestHost::new();
    let host = Host::new(Bridge::connect(test_host.window.clone()).unwrap());
    let h = host.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let info = Implementation {
            name: "t".into(),
            version: "1".into(),
            title: None,
        };
        h.connect(info).await.unwrap();
    });
    test_host
        .complete_handshake(json!({
            "protocolVersion": "2026-01-26",
            "hostInfo": {"name": "h", "version": "1"},
            "hostCapabilities": capabilities,
            "hostContext": {"availableDisplayModes": ["inline"]}
        }))
        .await;
    sleep(Duration::from_millis(10)).await;
    (test_host, host)
}

/// Runs `f` in the background and returns a slot that holds its outcome once done.
fn spawn<T: 'static>(f: impl std::future::Future<Output = T> + 'static) -> Rc<RefCell<Option<T>>> {
    let slot = Rc::new(RefCell::new(None));
    let s = slot.clone();
    wasm_bindgen_futures::spawn_local(async move { *s.borrow_mut() = Some(f.await) });
    slot
}

async fn outcome<T: Clone>(slot: &Rc<RefCell<Option<T>>>) -> T {
    for _ in 0..200 {
        if let Some(v) = slot.borrow().clone() {
            return v;
        }
        sleep(Duration::from_millis(10)).await;
    }
    panic!("never completed");
}

#[wasm_bindgen_test]
async fn each_request_has_the_specified_shape() {
    let all = json!({"serverTools": {}, "serverResources": {}, "openLinks": {}, "downloadFile": {}, "message": {"text": {}},
                     "updateModelContext": {"text": {}}, "logging": {}});
    let (t, host) = connected(all).await;

    let h = host.clone();
    let call = spawn(async move { h.call_tool("get_room", json!({"room_id": "r"})).await });
    let r = t.next("tools/call").await;
    assert_eq!(
        r["params"],
        json!({"name": "get_room", "arguments": {"room_id": "r"}})
    );
    t.tool_ok(&r, json!({"room_id": "r"}));
    assert_eq!(outcome(&call).await, Ok(json!({"room_id": "r"})));

    let h = host.clone();
    let failed = spawn(async move { h.call_tool("send_message", json!({})).await });
    let r = t.next("tools/call").await;
    t.tool_error(&r, "room_ended", "Chat has ended");
    match outcome(&failed).await {
        Err(HostError::Tool { message, code, .. }) => {
            assert_eq!(message, "Chat has ended");
            assert_eq!(code.as_deref(), Some("room_ended"));
        }
        other => panic!("{other:?}"),
    }

    let h = host.clone();
    let read = spawn(async move { h.read_resource("ui://mcp-chat/room.html").await });
    let r = t.next("resources/read").await;
    assert_eq!(r["params"], json!({"uri": "ui://mcp-chat/room.html"}));
    t.ack(&r);
    assert!(outcome(&read).await.is_ok());

    let h = host.clone();
    let link = spawn(async move { h.open_link("https://example.com/").await });
    let r = t.next("ui/open-link").await;
    assert_eq!(r["params"], json!({"url": "https://example.com/"}));
    t.ack(&r);
    assert!(outcome(&link).await.is_ok());

    let h = host.clone();
    let msg = spawn(async move { h.send_message("hi".into()).await });
    let r = t.next("ui/message").await;
    assert_eq!(
        r["params"],
        json!({"role": "user", "content": [{"type": "text", "text": "hi"}]})
    );
    t.ack(&r);
    assert!(outcome(&msg).await.is_ok());

    let h = host.clone();
    let ctx = spawn(async move {
        h.update_model_context("room".into(), Some(json!({"a": 1})))
            .await
    });
    let r = t.next("ui/update-model-context").await;
    assert_eq!(
        r["params"],
        json!({"content": [{"type": "text", "text": "room"}], "structuredContent": {"a": 1}})
    );
    t.ack(&r);
    assert!(outcome(&ctx).await.is_ok());

    let h = host.clone();
    let ping = spawn(async move { h.ping().await });
    let r = t.next("ping").await;
    t.ack(&r);
    assert!(outcome(&ping).await.is_ok());

    let h = host.clone();
    let file = json!({"type": "resource", "resource": {"uri": "file:///chat.txt", "mimeType": "text/plain", "text": "log"}});
    let f = file.clone();
    let download = spawn(async move { h.download_file(vec![f]).await });
    let r = t.next("ui/download-file").await;
    assert_eq!(r["params"], json!({"contents": [file]}));
    t.ack(&r);
    assert!(outcome(&download).await.is_ok());

    host.request_teardown();
    let note = t.next("ui/notifications/request-teardown").await;
    assert!(note.get("id").is_none() && note.get("params").is_none());

    host.log("info", "hello");
    let note = t.next("notifications/message").await;
    assert!(note.get("id").is_none());
    assert_eq!(note["params"]["level"], "info");
    assert_eq!(note["params"]["data"], "hello");
}

#[wasm_bindgen_test]
async fn undeclared_capabilities_are_not_asked_and_32601_is_remembered() {
    let (t, host) = connected(json!({"serverTools": {}, "message": {"text": {}}})).await;
    assert_eq!(
        host.update_model_context("x".into(), None).await,
        Err(HostError::Unsupported("ui/update-model-context"))
    );
    assert_eq!(
        host.open_link("https://x/").await,
        Err(HostError::Unsupported("ui/open-link"))
    );
    assert_eq!(
        host.request_display_mode(DisplayMode::Fullscreen).await,
        Err(HostError::Unsupported("ui/request-display-mode")),
        "fullscreen is not among availableDisplayModes"
    );
    host.log("info", "dropped");
    sleep(Duration::from_millis(30)).await;
    assert!(
        t.received.borrow().is_empty(),
        "nothing was sent: {:?}",
        t.received.borrow()
    );

    // Declared, but the host answers -32601: unsupported from then on.
    let h = host.clone();
    let first = spawn(async move { h.send_message("a".into()).await });
    let r = t.next("ui/message").await;
    t.post(json!({"jsonrpc": "2.0", "id": r["id"], "error": {"code": -32601, "message": "no"}}));
    assert_eq!(
        outcome(&first).await,
        Err(HostError::Unsupported("ui/message"))
    );
    assert!(!host.supports("ui/message"));
    assert_eq!(
        host.send_message("b".into()).await,
        Err(HostError::Unsupported("ui/message"))
    );
    sleep(Duration::from_millis(30)).await;
    assert_eq!(t.count("ui/message"), 0, "not asked again");
}

#[wasm_bindgen_test]
async fn an_unanswered_request_times_out() {
    let t = TestHost::new();
    let bridge = Bridge::connect(t.window.clone()).unwrap();
    let err = bridge
        .request_with_timeout("ping", None, Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::TIMEOUT);
    // A late answer is dropped quietly.
    let r = t.next("ping").await;
    t.ack(&r);
    sleep(Duration::from_millis(20)).await;
    bridge.disconnect();
}

#[wasm_bindgen_test]
async fn notifications_reach_their_handlers() {
    let (t, host) = connected(json!({"serverTools": {}})).await;
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    host.on_tool_input(move |args| s.borrow_mut().push(format!("input {}", args["room_id"])));
    let s = seen.clone();
    host.on_tool_result(move |r| s.borrow_mut().push(format!("result {}", r.text())));
    let s = seen.clone();
    host.on_tool_cancelled(move |reason| s.borrow_mut().push(format!("cancelled {reason:?}")));
    let s = seen.clone();
    host.on_context_changed(move |c| s.borrow_mut().push(format!("theme {:?}", c.theme)));
    for (method, params) in [
        (
            "ui/notifications/tool-input-partial",
            json!({"arguments": {"room_id": "partial"}}),
        ),
        (
            "ui/notifications/tool-input",
            json!({"arguments": {"room_id": "r1"}}),
        ),
        (
            "ui/notifications/tool-result",
            json!({"content": [{"type": "text", "text": "done"}]}),
        ),
        ("ui/notifications/tool-cancelled", json!({"reason": "user"})),
        (
            "ui/notifications/host-context-changed",
            json!({"theme": "dark"}),
        ),
    ] {
        t.post(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }
    sleep(Duration::from_millis(30)).await;
    assert_eq!(
        *seen.borrow(),
        [
            "input \"r1\"",
            "result done",
            "cancelled Some(\"user\")",
            "theme Some(Dark)"
        ]
    );
    assert_eq!(
        host.context().available_display_modes,
        Some(vec![DisplayMode::Inline]),
        "the merge kept the keys the change did not name"
    );
}

#[wasm_bindgen_test]
async fn after_teardown_nothing_is_sent() {
    let (t, host) = connected(json!({"serverTools": {}, "logging": {}})).await;
    let h = host.clone();
    let pending = spawn(async move { h.call_tool("wait_for_message", json!({})).await });
    t.next("tools/call").await;
    t.post(json!({"jsonrpc": "2.0", "id": 5, "method": "ui/resource-teardown", "params": {"reason": "closed"}}));
    assert_eq!(t.response(5).await["result"], json!({}));
    assert!(outcome(&pending).await.is_err(), "the pending call ends");
    assert!(host.is_torn_down());
    assert_eq!(
        host.call_tool("get_room", json!({})).await,
        Err(HostError::TornDown)
    );
    host.log("info", "late");
    sleep(Duration::from_millis(30)).await;
    assert!(
        t.received.borrow().is_empty(),
        "sent after teardown: {:?}",
        t.received.borrow()
    );
}

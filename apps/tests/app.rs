//! The App (the JS `App` class's equivalent) against a test host: every request's payload,
//! capability gating, -32601 as "unsupported", timeouts and cancellation, progress, app tools,
//! notification handlers and teardown.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mcp_apps::jsonrpc::codes;
use mcp_apps::protocol::{
    ContentBlock, CreateMessageParams, DisplayMode, DownloadItem, Implementation, Role,
    ToolDefinition, ToolResult,
};
use mcp_apps::testing::TestHost;
use mcp_apps::{App, Bridge, HostError, RequestOptions, sleep};
use serde_json::{Value, json};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn info() -> Implementation {
    Implementation {
        name: "t".into(),
        version: "1".into(),
        title: None,
    }
}

/// An App over a fresh test host, before the handshake (to register tools and handlers).
fn unconnected() -> (TestHost, App) {
    let test_host = TestHost::new();
    let app = App::with_bridge(Bridge::connect(test_host.window.clone()).unwrap(), info());
    (test_host, app)
}

async fn handshake(test_host: &TestHost, host: &App, capabilities: Value) -> Value {
    let h = host.clone();
    wasm_bindgen_futures::spawn_local(async move {
        h.connect().await.unwrap();
    });
    let request = test_host
        .complete_handshake(json!({
            "protocolVersion": "2026-01-26",
            "hostInfo": {"name": "h", "version": "1"},
            "hostCapabilities": capabilities,
            "hostContext": {"availableDisplayModes": ["inline"]}
        }))
        .await;
    sleep(Duration::from_millis(10)).await;
    request
}

async fn connected(capabilities: Value) -> (TestHost, App) {
    let (test_host, host) = unconnected();
    handshake(&test_host, &host, capabilities).await;
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
    let call = spawn(async move {
        h.call_server_tool("get_room", json!({"room_id": "r"}))
            .await
    });
    let r = t.next("tools/call").await;
    assert_eq!(
        r["params"],
        json!({"name": "get_room", "arguments": {"room_id": "r"}})
    );
    t.tool_ok(&r, json!({"room_id": "r"}));
    let result = outcome(&call).await.unwrap();
    assert_eq!(result.structured_content, Some(json!({"room_id": "r"})));
    assert_eq!(result.text(), "ok");

    let h = host.clone();
    let failed = spawn(async move { h.call_server_tool("send_message", json!({})).await });
    let r = t.next("tools/call").await;
    t.tool_error(&r, "room_ended", "Chat has ended");
    match outcome(&failed).await {
        Err(HostError::Tool(result)) => {
            assert_eq!(result.text(), "Chat has ended");
            assert_eq!(result.structured_content.unwrap()["code"], "room_ended");
        }
        other => panic!("{other:?}"),
    }

    let h = host.clone();
    let read = spawn(async move { h.read_server_resource("ui://x/view.html").await });
    let r = t.next("resources/read").await;
    assert_eq!(r["params"], json!({"uri": "ui://x/view.html"}));
    t.post(json!({"jsonrpc": "2.0", "id": r["id"], "result": {
        "contents": [{"uri": "ui://x/view.html", "mimeType": "text/html;profile=mcp-app", "text": "<p>"}]
    }}));
    let read = outcome(&read).await.unwrap();
    assert_eq!(read.contents[0].text.as_deref(), Some("<p>"));

    let h = host.clone();
    let list = spawn(async move { h.list_server_resources(Some("page-2")).await });
    let r = t.next("resources/list").await;
    assert_eq!(r["params"], json!({"cursor": "page-2"}));
    t.post(json!({"jsonrpc": "2.0", "id": r["id"], "result": {
        "resources": [{"uri": "ui://x/view.html", "name": "view"}]
    }}));
    let list = outcome(&list).await.unwrap();
    assert_eq!(list.resources[0].name, "view");
    assert_eq!(list.next_cursor, None);

    let h = host.clone();
    let link = spawn(async move { h.open_link("https://example.com/").await });
    let r = t.next("ui/open-link").await;
    assert_eq!(r["params"], json!({"url": "https://example.com/"}));
    t.ack(&r);
    assert!(outcome(&link).await.is_ok());

    let h = host.clone();
    let msg = spawn(async move { h.send_message(vec![ContentBlock::text("hi")]).await });
    let r = t.next("ui/message").await;
    assert_eq!(
        r["params"],
        json!({"role": "user", "content": [{"type": "text", "text": "hi"}]})
    );
    t.ack(&r);
    assert!(outcome(&msg).await.is_ok());

    let h = host.clone();
    let ctx = spawn(async move {
        h.update_model_context(vec![ContentBlock::text("room")], Some(json!({"a": 1})))
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
    let item = DownloadItem::Text {
        uri: "file:///chat.txt".into(),
        mime_type: "text/plain".into(),
        text: "log".into(),
    };
    let download = spawn(async move { h.download_file(&[item]).await });
    let r = t.next("ui/download-file").await;
    assert_eq!(r["params"], json!({"contents": [file]}));
    t.ack(&r);
    assert!(outcome(&download).await.is_ok());

    // A host that answers `isError: true` refused.
    let h = host.clone();
    let link = spawn(async move { h.open_link("https://example.com/refused").await });
    let r = t.next("ui/open-link").await;
    t.post(json!({"jsonrpc": "2.0", "id": r["id"], "result": {"isError": true}}));
    assert_eq!(
        outcome(&link).await,
        Err(HostError::Refused("to open the link"))
    );

    host.request_teardown();
    let note = t.next("ui/notifications/request-teardown").await;
    assert!(note.get("id").is_none() && note.get("params").is_none());

    host.send_log("info", "hello");
    let note = t.next("notifications/message").await;
    assert!(note.get("id").is_none());
    assert_eq!(note["params"]["level"], "info");
    assert_eq!(note["params"]["logger"], "t", "the App's name");
    assert_eq!(note["params"]["data"], "hello");
}

#[wasm_bindgen_test]
async fn undeclared_capabilities_are_not_asked_and_32601_is_remembered() {
    let (t, host) = connected(json!({"serverTools": {}, "message": {"text": {}}})).await;
    assert_eq!(
        host.update_model_context(vec![ContentBlock::text("x")], None)
            .await,
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
    assert_eq!(
        host.create_sampling_message(&CreateMessageParams::ask("2+2?", 10))
            .await,
        Err(HostError::Unsupported("sampling/createMessage"))
    );
    assert_eq!(
        host.list_server_resources(None).await,
        Err(HostError::Unsupported("resources/list"))
    );
    host.send_log("info", "dropped");
    sleep(Duration::from_millis(30)).await;
    assert!(
        t.received.borrow().is_empty(),
        "nothing was sent: {:?}",
        t.received.borrow()
    );

    // Declared, but the host answers -32601: unsupported from then on.
    let h = host.clone();
    let first = spawn(async move { h.send_message(vec![ContentBlock::text("a")]).await });
    let r = t.next("ui/message").await;
    t.post(json!({"jsonrpc": "2.0", "id": r["id"], "error": {"code": -32601, "message": "no"}}));
    assert_eq!(
        outcome(&first).await,
        Err(HostError::Unsupported("ui/message"))
    );
    assert!(!host.supports("ui/message"));
    assert_eq!(
        host.send_message(vec![ContentBlock::text("b")]).await,
        Err(HostError::Unsupported("ui/message"))
    );
    sleep(Duration::from_millis(30)).await;
    assert_eq!(t.count("ui/message"), 0, "not asked again");
}

#[wasm_bindgen_test]
async fn an_unanswered_request_times_out_and_is_withdrawn() {
    let t = TestHost::new();
    let bridge = Bridge::connect(t.window.clone()).unwrap();
    let err = bridge
        .request_with(
            "ping",
            None,
            RequestOptions::within(Duration::from_millis(50)),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, codes::TIMEOUT);
    let r = t.next("ping").await;
    let cancelled = t.next("notifications/cancelled").await;
    assert!(cancelled.get("id").is_none());
    assert_eq!(cancelled["params"]["requestId"], r["id"]);
    assert_eq!(cancelled["params"]["reason"], "timed out");
    // A late answer is dropped quietly.
    t.ack(&r);
    sleep(Duration::from_millis(20)).await;
    bridge.disconnect();
}

#[wasm_bindgen_test]
async fn a_server_tool_call_that_times_out_is_cancelled() {
    let (t, host) = connected(json!({"serverTools": {}})).await;
    let h = host.clone();
    let call = spawn(async move {
        h.call_server_tool_with(
            "slow",
            json!({}),
            RequestOptions::within(Duration::from_millis(50)),
        )
        .await
    });
    let r = t.next("tools/call").await;
    let cancelled = t.next("notifications/cancelled").await;
    assert_eq!(cancelled["params"]["requestId"], r["id"]);
    assert!(matches!(outcome(&call).await, Err(HostError::Timeout(_))));
}

#[wasm_bindgen_test]
async fn a_dropped_request_is_withdrawn() {
    let t = TestHost::new();
    let bridge = Bridge::connect(t.window.clone()).unwrap();
    let b = bridge.clone();
    let abandoned = async move { b.request("ping", None).await };
    // Polled once (sent), then dropped: the View no longer waits.
    let slot = spawn(async move {
        let raced = futures::future::select(
            Box::pin(abandoned),
            Box::pin(sleep(Duration::from_millis(20))),
        )
        .await;
        matches!(raced, futures::future::Either::Right(_))
    });
    let r = t.next("ping").await;
    assert!(
        outcome(&slot).await,
        "the timer won: the request was dropped"
    );
    let cancelled = t.next("notifications/cancelled").await;
    assert_eq!(cancelled["params"]["requestId"], r["id"]);
    bridge.disconnect();
}

#[wasm_bindgen_test]
async fn progress_reaches_the_request_that_asked_for_it() {
    let (t, host) = connected(json!({"serverTools": {}})).await;
    type Seen = Vec<(f64, Option<String>)>;
    let seen: Rc<RefCell<Seen>> = Rc::default();
    let s = seen.clone();
    let h = host.clone();
    let call = spawn(async move {
        let options = RequestOptions::default()
            .on_progress(move |p| s.borrow_mut().push((p.progress, p.message)));
        h.call_server_tool_with("wait", json!({"x": 1}), options)
            .await
    });
    let r = t.next("tools/call").await;
    let token = r["params"]["_meta"]["progressToken"].clone();
    assert!(!token.is_null(), "{r}");
    assert_eq!(r["params"]["arguments"], json!({"x": 1}));
    for (progress, token) in [(1, token.clone()), (2, json!("someone else's")), (3, token)] {
        t.post(json!({"jsonrpc": "2.0", "method": "notifications/progress",
                      "params": {"progressToken": token, "progress": progress, "message": "waiting"}}));
    }
    t.tool_ok(&r, json!({}));
    assert!(outcome(&call).await.is_ok());
    assert_eq!(
        *seen.borrow(),
        [(1.0, Some("waiting".into())), (3.0, Some("waiting".into()))]
    );
}

#[wasm_bindgen_test]
async fn sampling_asks_the_hosts_model() {
    let (t, host) = connected(json!({"sampling": {}})).await;
    let h = host.clone();
    let sampled = spawn(async move {
        let mut ask = CreateMessageParams::ask("2+2?", 10);
        ask.system_prompt = Some("Answer with a number.".into());
        h.create_sampling_message(&ask).await
    });
    let r = t.next("sampling/createMessage").await;
    assert_eq!(
        r["params"],
        json!({"messages": [{"role": "user", "content": {"type": "text", "text": "2+2?"}}],
               "maxTokens": 10, "systemPrompt": "Answer with a number."})
    );
    t.post(json!({"jsonrpc": "2.0", "id": r["id"], "result": {
        "role": "assistant", "content": {"type": "text", "text": "4"}, "model": "m", "stopReason": "endTurn"
    }}));
    let answer = outcome(&sampled).await.unwrap();
    assert_eq!(answer.role, Role::Assistant);
    assert_eq!(answer.content.as_text(), Some("4"));
    assert_eq!(answer.model, "m");
}

#[wasm_bindgen_test]
async fn app_tools_are_declared_listed_called_and_changed() {
    let (t, host) = unconnected();
    let calls: Rc<RefCell<Vec<Value>>> = Rc::default();
    let seen = calls.clone();
    let schema =
        json!({"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]});
    let double = host.register_tool(
        ToolDefinition::new("double", "Doubles n.").with_input_schema(schema.clone()),
        move |args| {
            seen.borrow_mut().push(Value::Object(args.clone()));
            async move {
                sleep(Duration::from_millis(5)).await; // an answer that takes a while
                match args.get("n").and_then(Value::as_f64) {
                    Some(n) => ToolResult::from_text(format!("{}", n * 2.0))
                        .with_structured(json!({"value": n * 2.0})),
                    None => ToolResult::error("n: a number is required"),
                }
            }
        },
    );
    let initialize = handshake(&t, &host, json!({})).await;
    assert_eq!(
        initialize["params"]["appCapabilities"]["tools"],
        json!({"listChanged": true})
    );

    t.post(json!({"jsonrpc": "2.0", "id": 11, "method": "tools/list", "params": {}}));
    assert_eq!(
        t.response(11).await["result"],
        json!({"tools": [{"name": "double", "description": "Doubles n.", "inputSchema": schema}]})
    );

    t.post(json!({"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {"name": "double", "arguments": {"n": 21}}}));
    assert_eq!(
        t.response(12).await["result"],
        json!({"content": [{"type": "text", "text": "42"}], "structuredContent": {"value": 42}})
    );
    t.post(json!({"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {"name": "double", "arguments": {}}}));
    assert_eq!(
        t.response(13).await["result"]["isError"],
        json!(true),
        "a tool's failure is a result the model reads"
    );
    t.post(json!({"jsonrpc": "2.0", "id": 14, "method": "tools/call", "params": {"name": "nope", "arguments": {}}}));
    assert_eq!(t.response(14).await["error"]["code"], json!(-32602));
    assert_eq!(calls.borrow().len(), 2);

    // The host cancels a call: the handler stops and no answer is sent.
    t.post(json!({"jsonrpc": "2.0", "id": 15, "method": "tools/call", "params": {"name": "double", "arguments": {"n": 1}}}));
    t.post(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 15, "reason": "user"}}));
    sleep(Duration::from_millis(40)).await;
    assert!(
        !t.received.borrow().iter().any(|m| m["id"] == 15),
        "a cancelled call is not answered: {:?}",
        t.received.borrow()
    );

    // Changes after the handshake are announced.
    double.disable();
    t.next("notifications/tools/list_changed").await;
    t.post(json!({"jsonrpc": "2.0", "id": 16, "method": "tools/list"}));
    assert_eq!(t.response(16).await["result"], json!({"tools": []}));
    t.post(json!({"jsonrpc": "2.0", "id": 17, "method": "tools/call", "params": {"name": "double", "arguments": {"n": 1}}}));
    assert_eq!(t.response(17).await["error"]["code"], json!(-32602));
    double.enable();
    t.next("notifications/tools/list_changed").await;
    let late = host.register_tool(ToolDefinition::new("late", "Added later."), |_| async {
        ToolResult::from_text("late")
    });
    t.next("notifications/tools/list_changed").await;
    late.remove();
    t.next("notifications/tools/list_changed").await;
    t.post(json!({"jsonrpc": "2.0", "id": 18, "method": "tools/list"}));
    let listed = t.response(18).await;
    assert_eq!(listed["result"]["tools"][0]["name"], "double");
    assert_eq!(listed["result"]["tools"].as_array().unwrap().len(), 1);

    // An update changes what is listed, announces it, and keeps the handler.
    double.update(|tool| {
        tool.title = Some("Double".into());
        tool.description = Some("Doubles n, exactly.".into());
    });
    t.next("notifications/tools/list_changed").await;
    t.post(json!({"jsonrpc": "2.0", "id": 19, "method": "tools/list"}));
    let listed = t.response(19).await;
    assert_eq!(listed["result"]["tools"][0]["title"], "Double");
    assert_eq!(
        listed["result"]["tools"][0]["description"],
        "Doubles n, exactly."
    );
    t.post(json!({"jsonrpc": "2.0", "id": 20, "method": "tools/call", "params": {"name": "double", "arguments": {"n": 2}}}));
    assert_eq!(
        t.response(20).await["result"]["structuredContent"],
        json!({"value": 4})
    );
    // An update that changes nothing says nothing (every earlier announcement was taken by
    // `next`, and the View answers in order, so one would be here before this answer).
    double.update(|tool| tool.title = Some("Double".into()));
    t.post(json!({"jsonrpc": "2.0", "id": 21, "method": "tools/list"}));
    t.response(21).await;
    assert!(
        !t.received
            .borrow()
            .iter()
            .any(|m| m["method"] == "notifications/tools/list_changed"),
        "an update that changed nothing was announced"
    );
}

#[wasm_bindgen_test]
async fn an_app_without_tools_does_not_declare_them() {
    let (t, host) = unconnected();
    host.set_available_display_modes(&[DisplayMode::Inline, DisplayMode::Fullscreen]);
    let initialize = handshake(&t, &host, json!({})).await;
    let capabilities = &initialize["params"]["appCapabilities"];
    assert!(capabilities.get("tools").is_none(), "{capabilities}");
    assert_eq!(
        capabilities["availableDisplayModes"],
        json!(["inline", "fullscreen"])
    );
    t.post(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}));
    assert_eq!(t.response(3).await["result"], json!({"tools": []}));
}

#[wasm_bindgen_test]
async fn notifications_reach_their_handlers() {
    let (t, host) = connected(json!({"serverTools": {}})).await;
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let s = seen.clone();
    host.on_tool_input(move |args| s.borrow_mut().push(format!("input {}", args["room_id"])));
    let s = seen.clone();
    host.on_tool_input_partial(move |p| {
        s.borrow_mut()
            .push(format!("partial {}", p["arguments"]["room_id"]))
    });
    let s = seen.clone();
    host.on_tool_result(move |r| s.borrow_mut().push(format!("result {}", r.text())));
    let s = seen.clone();
    host.on_tool_cancelled(move |reason| s.borrow_mut().push(format!("cancelled {reason:?}")));
    let s = seen.clone();
    host.on_host_context_changed(move |c| s.borrow_mut().push(format!("theme {:?}", c.theme)));
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
            "partial \"partial\"",
            "input \"r1\"",
            "result done",
            "cancelled Some(\"user\")",
            "theme Some(Dark)"
        ]
    );
    assert_eq!(
        host.host_context().available_display_modes,
        Some(vec![DisplayMode::Inline]),
        "the merge kept the keys the change did not name"
    );
}

#[wasm_bindgen_test]
async fn after_teardown_nothing_is_sent() {
    let (t, host) = connected(json!({"serverTools": {}, "logging": {}})).await;
    let h = host.clone();
    let reason: Rc<RefCell<Option<Option<String>>>> = Rc::default();
    let r = reason.clone();
    host.on_teardown(move |why| *r.borrow_mut() = Some(why));
    let pending = spawn(async move { h.call_server_tool("wait_for_message", json!({})).await });
    t.next("tools/call").await;
    t.post(json!({"jsonrpc": "2.0", "id": 5, "method": "ui/resource-teardown", "params": {"reason": "closed"}}));
    assert_eq!(t.response(5).await["result"], json!({}));
    assert!(outcome(&pending).await.is_err(), "the pending call ends");
    assert!(host.is_torn_down());
    assert_eq!(*reason.borrow(), Some(Some("closed".into())));
    assert_eq!(
        host.call_server_tool("get_room", json!({})).await,
        Err(HostError::TornDown)
    );
    host.send_log("info", "late");
    host.request_teardown();
    sleep(Duration::from_millis(30)).await;
    assert!(
        t.received.borrow().is_empty(),
        "sent after teardown: {:?}",
        t.received.borrow()
    );
}

/// A handler may replace handlers and call the App while it runs (no `RefCell` panic, which
/// would stop a View).
#[wasm_bindgen_test]
async fn handlers_may_reenter_the_app() {
    let (t, host) = connected(json!({"serverTools": {}, "logging": {}})).await;
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();
    let (h, s) = (host.clone(), seen.clone());
    host.on_tool_result(move |r| {
        s.borrow_mut().push(r.text());
        let s = s.clone();
        h.on_tool_result(move |r| s.borrow_mut().push(format!("replaced: {}", r.text())));
        h.send_log("info", "from a handler");
    });
    for text in ["first", "second"] {
        t.post(
            json!({"jsonrpc": "2.0", "method": "ui/notifications/tool-result",
                      "params": {"content": [{"type": "text", "text": text}]}}),
        );
    }
    sleep(Duration::from_millis(30)).await;
    assert_eq!(*seen.borrow(), ["first", "replaced: second"]);
    t.next("notifications/message").await;
}

/// The host's teardown is answered even while an app tool call is still being answered, and
/// only the teardown's answer closes the connection.
#[wasm_bindgen_test]
async fn teardown_is_answered_while_a_tool_call_is_pending() {
    let (t, host) = unconnected();
    host.register_tool(ToolDefinition::new("slow", "Takes a while."), |_| async {
        sleep(Duration::from_millis(50)).await;
        ToolResult::from_text("late")
    });
    handshake(&t, &host, json!({})).await;
    t.post(json!({"jsonrpc": "2.0", "id": 31, "method": "tools/call", "params": {"name": "slow"}}));
    t.post(json!({"jsonrpc": "2.0", "id": 32, "method": "ui/resource-teardown", "params": {}}));
    assert_eq!(t.response(32).await["result"], json!({}));
    sleep(Duration::from_millis(100)).await;
    assert!(host.is_torn_down());
    assert!(
        !t.received.borrow().iter().any(|m| m["id"] == 31),
        "nothing is sent after the teardown: {:?}",
        t.received.borrow()
    );
}

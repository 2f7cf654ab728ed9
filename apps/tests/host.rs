//! The host's side (`mcp_apps::host`) against a View written in plain JavaScript, in a real
//! sandboxed iframe: the handshake, queued notifications, routing of offered requests and refusal
//! of the rest, the default open-link and display-mode answers, size changes, the View's own
//! tools, host-context changes and teardown. The View reports what it saw through
//! `notifications/message`, which the host's log handler collects.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use mcp_apps::host::{AppDocument, AppHost, HostOptions, read_tool_call};
use mcp_apps::json::ToJson;
use mcp_apps::protocol::{
    DisplayMode, HostCapabilities, HostContext, Implementation, ResourceCsp, Theme, ToolResult,
};
use mcp_apps::{RequestOptions, sleep};
use serde_json::{Map, Value, json};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// A View with no SDK: it speaks the protocol by hand and logs what it gets.
const PROBE_VIEW: &str = r#"<!doctype html><html><head><title>probe</title></head><body><p>probe</p>
<script>
const waiting = new Map(); let next = 1;
const post = (m) => parent.postMessage(Object.assign({jsonrpc: "2.0"}, m), "*");
const send = (method, params) => new Promise((done) => { const id = next++; waiting.set(id, done); post({id, method, params}); });
const notify = (method, params) => post({method, params});
const log = (data) => notify("notifications/message", {level: "info", data});
addEventListener("message", (e) => {
  if (e.source !== parent) return;
  const m = e.data;
  if (m.id !== undefined && !m.method) { waiting.get(m.id)?.(m); waiting.delete(m.id); return; }
  if (m.method === "tools/list") post({id: m.id, result: {tools: [{name: "echo", inputSchema: {type: "object"}}]}});
  else if (m.method === "tools/call") post({id: m.id, result: {content: [{type: "text", text: "echo " + JSON.stringify(m.params.arguments)}]}});
  else if (m.method === "ui/resource-teardown") { log({teardown: m.params}); post({id: m.id, result: {}}); }
  else if (m.method) log({got: m.method, params: m.params});
});
(async () => {
  const init = await send("ui/initialize", {appInfo: {name: "probe", version: "1"}, appCapabilities: {tools: {}}, protocolVersion: "2026-01-26"});
  log({initialize: init.result});
  notify("ui/notifications/initialized", {});
  log({call: await send("tools/call", {name: "server-tool", arguments: {a: 1}})});
  log({message: await send("ui/message", {role: "user", content: [{type: "text", text: "hi"}]})});
  log({link: await send("ui/open-link", {url: "javascript:alert(1)"})});
  log({mode: await send("ui/request-display-mode", {mode: "fullscreen"})});
  log({pip: await send("ui/request-display-mode", {mode: "pip"})});
  notify("ui/notifications/size-changed", {width: 300, height: 123.4});
  let stored = "readable";
  try { localStorage.length; } catch { stored = "refused"; }
  log({csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? null, origin: String(origin), storage: stored});
  log("done");
})();
</script></body></html>"#;

fn options() -> HostOptions {
    HostOptions {
        host_info: Implementation {
            name: "test-host".into(),
            version: "1".into(),
            title: None,
        },
        capabilities: HostCapabilities {
            server_tools: Some(json!({})),
            open_links: Some(json!({})),
            // `message` is not offered: the View's ui/message must be refused.
            ..HostCapabilities::default()
        },
        context: HostContext {
            theme: Some(Theme::Light),
            display_mode: Some(DisplayMode::Inline),
            available_display_modes: Some(vec![DisplayMode::Inline, DisplayMode::Fullscreen]),
            ..HostContext::default()
        },
    }
}

fn container() -> web_sys::Element {
    let document = web_sys::window().unwrap().document().unwrap();
    let div = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&div).unwrap();
    div
}

async fn until(what: &str, mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn entry<'a>(logs: &'a [Value], key: &str) -> &'a Value {
    logs.iter()
        .find_map(|l| l.get(key))
        .unwrap_or_else(|| panic!("the View logged no {key}: {logs:#?}"))
}

#[wasm_bindgen_test]
async fn a_view_is_hosted_routed_and_torn_down() {
    let host = AppHost::new(options());
    let logs = Rc::new(RefCell::new(Vec::<Value>::new()));
    let sink = logs.clone();
    host.on_log(move |params| sink.borrow_mut().push(params["data"].clone()));
    let calls = Rc::new(RefCell::new(Vec::new()));
    let seen = calls.clone();
    host.handle("tools/call", move |params| {
        let call = read_tool_call(&params);
        seen.borrow_mut().push(params);
        Box::pin(async move {
            let call = call?;
            Ok(ToolResult::from_text(format!("ran {}", call.name)).to_json())
        })
    });
    // A handler for something not offered is never called.
    host.handle("ui/message", |_| panic!("ui/message is not offered"));
    let sizes = Rc::new(RefCell::new(Vec::new()));
    let sized = sizes.clone();
    host.on_size_changed(move |size| sized.borrow_mut().push(size));

    let frame = host
        .mount(&container(), &AppDocument::new(PROBE_VIEW))
        .unwrap();
    assert_eq!(
        frame.get_attribute("sandbox").as_deref(),
        Some("allow-scripts allow-forms")
    );
    // Sent before the handshake: queued, then delivered after `initialized`, in order.
    let mut arguments = Map::new();
    arguments.insert("q".into(), json!("x"));
    host.send_tool_input(arguments);
    host.send_tool_result(&ToolResult::from_text("the result"));

    host.initialized().await;
    until("the probe to finish", || {
        logs.borrow().iter().any(|l| l == "done")
    })
    .await;
    let logs_now = logs.borrow().clone();

    let init = entry(&logs_now, "initialize");
    assert_eq!(init["protocolVersion"], "2026-01-26");
    assert_eq!(init["hostInfo"]["name"], "test-host");
    assert_eq!(
        init["hostCapabilities"],
        json!({"serverTools": {}, "openLinks": {}})
    );
    assert_eq!(init["hostContext"]["theme"], "light");
    assert_eq!(host.app().unwrap().app_info.name, "probe");

    let got: Vec<&Value> = logs_now.iter().filter_map(|l| l.get("got")).collect();
    assert_eq!(got[0], "ui/notifications/tool-input");
    assert_eq!(got[1], "ui/notifications/tool-result");
    let delivered: Vec<&Value> = logs_now.iter().filter(|l| l.get("got").is_some()).collect();
    assert_eq!(delivered[0]["params"], json!({"arguments": {"q": "x"}}));
    assert_eq!(delivered[1]["params"]["content"][0]["text"], "the result");

    assert_eq!(
        entry(&logs_now, "call")["result"]["content"][0]["text"],
        "ran server-tool"
    );
    assert_eq!(
        calls.borrow()[0],
        json!({"name": "server-tool", "arguments": {"a": 1}})
    );
    assert_eq!(entry(&logs_now, "message")["error"]["code"], -32601);
    assert_eq!(entry(&logs_now, "link")["result"], json!({"isError": true}));
    assert_eq!(
        entry(&logs_now, "mode")["result"],
        json!({"mode": "fullscreen"})
    );
    // Not available: the mode in force is the answer.
    assert_eq!(
        entry(&logs_now, "pip")["result"],
        json!({"mode": "fullscreen"})
    );
    assert_eq!(
        host.host_context().display_mode,
        Some(DisplayMode::Fullscreen)
    );

    let sandboxed = entry(&logs_now, "csp");
    assert!(
        sandboxed
            .as_str()
            .unwrap()
            .starts_with("default-src 'none'; script-src 'self' 'unsafe-inline';"),
        "{sandboxed}"
    );
    assert_eq!(entry(&logs_now, "origin"), "null", "an opaque origin");
    assert_eq!(entry(&logs_now, "storage"), "refused");

    until("the size change", || !sizes.borrow().is_empty()).await;
    assert_eq!(sizes.borrow()[0].height, 124);
    assert_eq!(frame.style().get_property_value("height").unwrap(), "124px");

    // The View's own tools.
    let tools = host.list_tools().await.unwrap();
    assert_eq!(tools[0].name, "echo");
    let mut arguments = Map::new();
    arguments.insert("n".into(), json!(2));
    let echoed = host
        .call_tool("echo", arguments, RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(echoed.text(), "echo {\"n\":2}");

    // Only what changed is sent.
    let mut context = host.host_context();
    context.theme = Some(Theme::Dark);
    host.set_host_context(context.clone());
    host.set_host_context(context);
    until("the context change", || {
        logs.borrow()
            .iter()
            .any(|l| l["got"] == "ui/notifications/host-context-changed")
    })
    .await;
    sleep(Duration::from_millis(100)).await;
    let changes: Vec<Value> = logs
        .borrow()
        .iter()
        .filter(|l| l["got"] == "ui/notifications/host-context-changed")
        .map(|l| l["params"].clone())
        .collect();
    assert_eq!(changes, vec![json!({"theme": "dark"})]);

    host.teardown(Some("done here")).await;
    assert!(
        logs.borrow()
            .iter()
            .any(|l| l["teardown"] == json!({"reason": "done here"}))
    );
    assert!(host.frame().is_none());
    assert!(frame.parent_node().is_none(), "the frame is removed");
    host.send_tool_result(&ToolResult::from_text("after teardown: not sent"));
}

#[wasm_bindgen_test]
async fn a_declared_policy_reaches_the_view_and_undeclared_tools_are_refused() {
    let host = AppHost::new(HostOptions::default());
    let logs = Rc::new(RefCell::new(Vec::<Value>::new()));
    let sink = logs.clone();
    host.on_log(move |params| sink.borrow_mut().push(params["data"].clone()));
    let document = AppDocument {
        html: PROBE_VIEW.replace("appCapabilities: {tools: {}}", "appCapabilities: {}"),
        csp: Some(ResourceCsp {
            connect_domains: Some(vec!["https://api.example".into(), "'unsafe-eval'".into()]),
            wasm_unsafe_eval: Some(true),
            ..ResourceCsp::default()
        }),
        permissions: None,
    };
    host.mount(&container(), &document).unwrap();
    host.initialized().await;
    until("the probe to finish", || {
        logs.borrow().iter().any(|l| l == "done")
    })
    .await;
    let logs_now = logs.borrow().clone();
    let policy = entry(&logs_now, "csp").as_str().unwrap().to_owned();
    assert!(policy.contains("'wasm-unsafe-eval'"), "{policy}");
    assert!(
        policy.contains("connect-src https://api.example;"),
        "{policy}"
    );
    assert!(
        !policy.contains(" 'unsafe-eval'"),
        "a keyword is not an origin: {policy}"
    );
    // No capability offered: even tools/call is refused.
    assert_eq!(entry(&logs_now, "call")["error"]["code"], -32601);
    // The View declared no tools: asking for them sends nothing and fails.
    assert_eq!(host.list_tools().await.unwrap_err().code, -32601);
    host.teardown(None).await;
}

/// A resource's document arrives as `text`, or as a `blob` of base64 UTF-8 (decoded byte for
/// byte, so a name outside ASCII survives); anything else is refused with a reason.
#[wasm_bindgen_test]
fn a_document_is_read_from_text_or_blob() {
    let html = "<p>Zoë — 会话</p>";
    let text = json!({"contents": [{"uri": "ui://x", "text": html,
        "_meta": {"ui": {"csp": {"connectDomains": ["https://api.example.com"]}}}}]});
    let document = AppDocument::from_read_result(&text).unwrap();
    assert_eq!(document.html, html);
    assert!(document.csp.is_some());

    // "<p>Zoë — 会话</p>" in UTF-8, base64.
    let blob = json!({"contents": [{"uri": "ui://x", "blob": "PHA+Wm/DqyDigJQg5Lya6K+dPC9wPg=="}]});
    let document = AppDocument::from_read_result(&blob).unwrap();
    assert_eq!(document.html, html);
    assert!(document.csp.is_none());

    let refused = |contents: Value| {
        AppDocument::from_read_result(&json!({"contents": [contents]})).unwrap_err()
    };
    assert!(refused(json!({"uri": "ui://x", "blob": "not base64!"})).contains("base64"));
    // 0xff 0xfe: bytes, not UTF-8.
    assert!(refused(json!({"uri": "ui://x", "blob": "//4="})).contains("UTF-8"));
    assert!(refused(json!({"uri": "ui://x"})).contains("no text or blob"));
}

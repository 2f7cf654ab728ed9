//! A minimal browser host on `mcp_apps::host`, for any MCP server whose tools have Views: it
//! lists the server's tools, takes the first with a View (or `?tool=NAME`), reads its resource,
//! mounts it in a sandboxed frame, calls the tool and hands the View its input and result. The
//! View's server calls go to the server; its messages, model context, links and logs are shown
//! on the page (`#events`) instead of reaching an assistant. The end-to-end tests run the
//! official example Views on it (`e2e/example-views.test.mjs`).
//!
//! Build (wasm32), then serve `basic_host.js` with a page that imports it:
//!
//!     cargo build --target wasm32-unknown-unknown -p mcp-apps --features host --example basic_host
//!     wasm-bindgen --target web --out-dir DIR target/wasm32-unknown-unknown/debug/examples/basic_host.wasm
//!     <div id="app"></div><ol id="events"></ol>
//!     <script type="module">import init from "./basic_host.js"; init();</script>
//!
//! Query parameters: `server` (the MCP endpoint, default `/mcp`), `revision` (`legacy` for
//! 2025-11-25, the default, or `stateless` for 2026-07-28), `tool`.

#[cfg(all(target_arch = "wasm32", feature = "host"))]
fn main() {
    wasm_bindgen_futures::spawn_local(host::run());
}

#[cfg(not(all(target_arch = "wasm32", feature = "host")))]
fn main() {
    eprintln!("basic_host is a WebAssembly program (wasm32, feature `host`)");
}

#[cfg(all(target_arch = "wasm32", feature = "host"))]
mod host {
    use std::cell::RefCell;
    use std::rc::Rc;

    use mcp_apps::host::http::{McpHttpClient, Revision};
    use mcp_apps::host::{AppDocument, AppHost, HostOptions};
    use mcp_apps::json::FromJson;
    use mcp_apps::protocol::{
        DisplayMode, HostCapabilities, HostContext, Implementation, Theme, ToolResult,
    };
    use serde_json::{Value, json};

    thread_local! {
        static HOST: RefCell<Option<AppHost>> = const { RefCell::new(None) };
    }

    /// Shows one event on the page: `<li data-kind=KIND>JSON</li>` in `#events`.
    fn record(kind: &str, value: &Value) {
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let (Some(list), Ok(item)) = (
            document.get_element_by_id("events"),
            document.create_element("li"),
        ) else {
            return;
        };
        let _ = item.set_attribute("data-kind", kind);
        item.set_text_content(Some(&value.to_string()));
        let _ = list.append_child(&item);
    }

    fn query(name: &str) -> Option<String> {
        let search = web_sys::window()?.location().search().ok()?;
        search.trim_start_matches('?').split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| {
                js_sys::decode_uri_component(value)
                    .ok()
                    .and_then(|v| v.as_string())
                    .unwrap_or_default()
            })
        })
    }

    /// Whether the tool links a View, and its URI (`_meta.ui.resourceUri`, or the older key).
    fn view_of(tool: &Value) -> Option<String> {
        let meta = &tool["_meta"];
        meta["ui"]["resourceUri"]
            .as_str()
            .or(meta["ui/resourceUri"].as_str())
            .map(str::to_owned)
    }

    /// A handler that shows what the View asked, and answers `answer`.
    fn shown(kind: &'static str, answer: Value) -> impl Fn(Value) -> mcp_apps::Answer {
        move |params| {
            record(kind, &params);
            Box::pin(std::future::ready(Ok(answer.clone())))
        }
    }

    pub async fn run() {
        if let Err(why) = host().await {
            record("error", &Value::from(why));
        }
    }

    async fn host() -> Result<(), String> {
        let revision = match query("revision").as_deref() {
            Some("stateless") => Revision::Stateless,
            _ => Revision::Legacy,
        };
        let info = Implementation {
            name: "basic-host".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            title: Some("mcp-apps basic host".into()),
        };
        let endpoint = query("server").unwrap_or_else(|| "/mcp".into());
        let server = Rc::new(McpHttpClient::new(endpoint, revision, info.clone()));
        let listed = server
            .request("tools/list", json!({}))
            .await
            .map_err(|e| e.message)?;
        let wanted = query("tool");
        let tool = listed["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|tool| {
                view_of(tool).is_some() && wanted.as_deref().is_none_or(|name| tool["name"] == name)
            })
            .cloned()
            .ok_or("the server has no tool with a View")?;
        let name = tool["name"].as_str().unwrap_or_default().to_owned();
        let uri = view_of(&tool).unwrap_or_default();
        let read = server
            .request("resources/read", json!({"uri": uri}))
            .await
            .map_err(|e| e.message)?;
        let document = AppDocument::from_read_result(&read)?;

        let host = AppHost::new(HostOptions {
            host_info: info,
            capabilities: HostCapabilities {
                server_tools: Some(json!({})),
                server_resources: Some(json!({})),
                open_links: Some(json!({})),
                message: Some(json!({"text": {}})),
                update_model_context: Some(json!({"text": {}})),
                logging: Some(json!({})),
                ..HostCapabilities::default()
            },
            context: HostContext {
                theme: Some(Theme::Light),
                display_mode: Some(DisplayMode::Inline),
                available_display_modes: Some(vec![DisplayMode::Inline]),
                platform: Some("web".into()),
                ..HostContext::default()
            },
        });
        server.serve(&host);
        host.handle("ui/message", shown("message", json!({})));
        host.handle("ui/update-model-context", shown("model-context", json!({})));
        // Shown, not opened: a test host has no browser tabs to spare.
        host.handle("ui/open-link", shown("open-link", json!({})));
        host.on_log(|params| record("log", &params));
        host.on_size_changed(|size| {
            record("size", &json!({"width": size.width, "height": size.height}))
        });
        host.on_initialized(|app| record("initialized", &json!({"app": app.app_info.name})));

        let container = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("app"))
            .ok_or("the page has no #app")?;
        host.mount(&container, &document)
            .map_err(|_| "the browser refused the frame")?;
        host.send_tool_input(Default::default());
        let called = server
            .call_tool(&name, json!({}))
            .await
            .map_err(|e| e.message)?;
        let result = ToolResult::from_json(&called)?;
        record("tool-result", &called);
        host.send_tool_result(&result);
        host.initialized().await;
        // The page hosts this View until it closes.
        HOST.with(|kept| *kept.borrow_mut() = Some(host));
        Ok(())
    }
}

//! A server's side of MCP Apps, with no browser: declare a View (its UI resource's `_meta.ui`
//! and the tools that open it), and learn from a client's capabilities whether it renders Views
//! at all. Prints the JSON a server would put in `resources/read` and `tools/list`.
//!
//! `cargo run -p mcp-apps --example declare_view`

use mcp_apps::protocol::{
    ClientUiCapability, EXTENSION_ID, ResourceCsp, ResourceUiMeta, ToolUiMeta, UI_MIME_TYPE,
};
use serde_json::{Map, Value, json};

fn main() {
    let uri = "ui://hello/view.html";

    // The resource: served with the MCP Apps MIME type, its `_meta.ui` on the content item
    // (and on the `resources/list` entry, as a fallback for hosts that read it there).
    let resource_meta = ResourceUiMeta {
        csp: Some(ResourceCsp {
            wasm_unsafe_eval: Some(true),
            ..ResourceCsp::default()
        }),
        prefers_border: Some(false),
        ..ResourceUiMeta::default()
    };
    let content = json!({
        "uri": uri,
        "mimeType": UI_MIME_TYPE,
        "text": "<!doctype html><html>…</html>",
        "_meta": {"ui": resource_meta},
    });

    // A tool the model calls that opens the View, and a helper only the View may call.
    let opens_view = ToolUiMeta::linked(uri);
    let helper = ToolUiMeta::app_only();
    assert!(opens_view.model_visible() && !helper.model_visible());
    let tools = json!([
        {"name": "greet", "_meta": opens_view.to_tool_meta()},
        {"name": "refresh", "_meta": helper.to_tool_meta()},
    ]);

    // A client that declared the extension renders Views; one that did not gets no link.
    let mut extensions = Map::new();
    extensions.insert(
        EXTENSION_ID.to_owned(),
        json!({"mimeTypes": [UI_MIME_TYPE]}),
    );
    let renders =
        ClientUiCapability::from_extensions(Some(&extensions)).is_some_and(|c| c.renders_apps());
    let silent = ClientUiCapability::from_extensions(None).is_some_and(|c| c.renders_apps());
    assert!(renders && !silent);

    let out: Value = json!({"resource": content, "tools": tools, "client_renders_views": renders});
    println!("{}", serde_json::to_string_pretty(&out).expect("JSON"));
}

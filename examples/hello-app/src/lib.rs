//! The smallest MCP App View on `mcp-apps`, in plain `web-sys`: it shows the `greet` tool's
//! result, gives the model a tool of its own (`show_note`), thanks the assistant from a button,
//! and calls a slow server tool with a timeout (the host is told when it gives up).
#![cfg(target_arch = "wasm32")]

use std::time::Duration;

use mcp_apps::protocol::{ContentBlock, Implementation, ToolDefinition, ToolResult};
use mcp_apps::{App, RequestOptions, apply_host_styles};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

pub fn start() {
    let app = App::new(Implementation {
        name: "hello-app".into(),
        version: "1.0.0".into(),
        title: None,
    })
    .expect("runs inside an MCP Apps host");
    let document = web_sys::window().unwrap().document().unwrap();
    let body = document.body().unwrap();
    body.set_inner_html(
        "<p id=greeting>…</p><p id=note></p><p id=status></p>\
         <button id=thank>Thank the assistant</button><button id=slow>Ask slowly</button>",
    );
    let set = |id: &'static str, text: &str| {
        let document = web_sys::window().unwrap().document().unwrap();
        document
            .get_element_by_id(id)
            .unwrap()
            .set_text_content(Some(text));
    };

    // 1. The result of the tool call that opened the View.
    app.on_tool_result(move |result| set("greeting", &result.text()));
    // 2. A tool the model can call while the View is open.
    let schema =
        json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]});
    app.register_tool(
        ToolDefinition::new("show_note", "Show a note to the person in the Hello View.")
            .with_input_schema(schema),
        move |args| async move {
            match args.get("text").and_then(|t| t.as_str()) {
                Some(text) => {
                    set("note", text);
                    ToolResult::from_text("The note is on screen.")
                }
                None => ToolResult::error("text: a string is required"),
            }
        },
    );
    // 3. Buttons: a message into the conversation, and a server call the View gives up on.
    let on_click = |id: &str, f: Box<dyn Fn()>| {
        let handler = Closure::<dyn Fn()>::new(f);
        let button = document.get_element_by_id(id).unwrap();
        button
            .add_event_listener_with_callback("click", handler.as_ref().unchecked_ref())
            .unwrap();
        handler.forget();
    };
    let thanks = app.clone();
    on_click(
        "thank",
        Box::new(move || {
            let app = thanks.clone();
            spawn_local(async move {
                let sent = app
                    .send_message(vec![ContentBlock::text("Thank you!")])
                    .await;
                set(
                    "status",
                    if sent.is_ok() {
                        "Thanked."
                    } else {
                        "Could not send."
                    },
                );
            });
        }),
    );
    let slow = app.clone();
    on_click(
        "slow",
        Box::new(move || {
            let app = slow.clone();
            spawn_local(async move {
                set("status", "Asking…");
                let options = RequestOptions::within(Duration::from_secs(2));
                match app.call_server_tool_with("slow", json!({}), options).await {
                    Ok(result) => set("status", &result.text()),
                    Err(e) => set("status", &format!("Gave up: {e}")),
                }
            });
        }),
    );

    spawn_local(async move {
        if let Ok(connected) = app.connect().await {
            apply_host_styles(&connected.host_context);
            app.on_host_context_changed(|context| apply_host_styles(&context));
            app.start_auto_resize();
        }
    });
}

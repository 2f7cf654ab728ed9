//! The MCP Chat View: a Leptos (CSR) app that runs inside an MCP Apps host's sandboxed iframe.
//!
//! The MCP Apps protocol (handshake, requests, app tools, resizing, theming) is the `mcp-apps`
//! crate's [`mcp_apps::App`]; this crate is the chat on top of it.
//!
//! - [`app`]: the root component: where the room comes from, model context, the View's tools.
//! - [`session`]: the conversation with our server through the host (load, long-poll, send),
//!   every call typed by the tool contract of `mcp_chat_shared::tools`.
//! - [`room`]: the room as the View knows it; pure data.
//! - [`components`]: the room's parts on screen.
//! - [`moderation`]: what the owner of a private room does in it: invite, remove, close.
//! - [`time`]: message times in the host's locale and time zone.

pub mod app;
pub mod components;
pub mod moderation;
pub mod room;
pub mod session;
pub mod time;

use leptos::prelude::*;

/// Entry point: connects to the embedding host and mounts the app on `<body>`.
pub fn start() {
    match mcp_apps::App::new(app::app_info()) {
        Ok(host) => mount_to_body(move || view! { <app::ChatView host=host /> }),
        Err(reason) => {
            web_sys::console::warn_1(&reason);
            // Static text, written once: plain HTML costs the View far less than a component.
            if let Some(body) = document().body() {
                body.set_inner_html(
                    "<main class=\"app\"><h1 class=\"app-title\">MCP Chat</h1>\
                     <p class=\"app-note\">This is the MCP Chat room View. It runs inside an MCP \
                     Apps host (Claude, ChatGPT, VS Code, Goose…) once a chat tool opens it.</p>\
                     </main>",
                );
            }
        }
    }
}

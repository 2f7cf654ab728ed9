//! The MCP Chat View: a Leptos (CSR) app that runs inside an MCP Apps host's sandboxed iframe.
//!
//! - [`bridge`]: JSON-RPC with the host over `postMessage` (handshake, requests, notifications).
//! - [`theme`]: applies the host's theme, CSS variables and fonts.
//! - [`app`]: the root component.

pub mod app;
pub mod bridge;
pub mod components;
pub mod host;
pub mod resize;
pub mod room;
pub mod session;
pub mod theme;
pub mod time;

use leptos::prelude::*;

/// Entry point: connects to the embedding host and mounts the app on `<body>`.
pub fn start() {
    match bridge::Bridge::to_parent() {
        Ok(bridge) => mount_to_body(move || view! { <app::App bridge=bridge /> }),
        Err(reason) => {
            web_sys::console::warn_1(&reason);
            mount_to_body(|| {
                view! {
                    <main class="app">
                        <h1 class="app-title">"MCP Chat"</h1>
                        <p class="app-note">
                            "This is the MCP Chat room View. It runs inside an MCP Apps host \
                             (Claude, ChatGPT, VS Code, Goose…) once a chat tool opens it."
                        </p>
                    </main>
                }
            })
        }
    }
}

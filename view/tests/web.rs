//! Browser tests of the chat View on `mcp_apps`: it connects, follows the host's look, shows a
//! failed handshake, and answers the assistant through its app tools. The host is played by
//! `mcp_apps::testing::TestHost`.
#![cfg(target_arch = "wasm32")]

mod support;

use std::time::Duration;

use leptos::prelude::*;
use mcp_apps::testing::{TestHost, host_result, query_text, root};
use mcp_apps::{App, Bridge, sleep};
use mcp_chat_view::app::{ChatView, app_info};
use serde_json::json;
use support::install_stylesheet;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

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
    let app = App::with_bridge(Bridge::connect(host.window.clone()).unwrap(), app_info());
    let _mounted = mount_to(
        wrapper.clone().unchecked_into(),
        move || view! { <ChatView host=app /> },
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
    let app = App::with_bridge(Bridge::connect(host.window.clone()).unwrap(), app_info());
    let _mounted = mount_to(
        wrapper.clone().unchecked_into(),
        move || view! { <ChatView host=app /> },
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

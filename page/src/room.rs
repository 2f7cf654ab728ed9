//! The room: the chat View, read from the server (`resources/read`, as any host reads it) and
//! mounted on `mcp_apps::host`, whose server calls go to the same server over [`crate::mcp`].

use std::rc::Rc;

use mcp_apps::host::{AppDocument, AppHost, HostOptions};
use mcp_apps::protocol::{
    ContainerDimensions, DisplayMode, HostCapabilities, HostContext, Implementation, Theme,
    ToolResult,
};
use serde_json::{Value, json};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::HtmlElement;

use crate::credential::Credential;
use crate::{mcp, ui};

/// The chat View's resource (`server/src/view.rs`).
const VIEW_URI: &str = "ui://mcp-chat/room.html";

fn prefers_dark() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
        .is_some_and(|query| query.matches())
}

fn context(frame_height: Option<f64>) -> HostContext {
    let window = web_sys::window();
    let navigator = window.as_ref().map(|w| w.navigator());
    let time_zone =
        js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new())
            .resolved_options();
    let time_zone = js_sys::Reflect::get(&time_zone, &"timeZone".into())
        .ok()
        .and_then(|z| z.as_string());
    let touch = navigator.as_ref().is_some_and(|n| n.max_touch_points() > 0);
    HostContext {
        theme: Some(if prefers_dark() {
            Theme::Dark
        } else {
            Theme::Light
        }),
        display_mode: Some(DisplayMode::Inline),
        available_display_modes: Some(vec![DisplayMode::Inline]),
        container_dimensions: frame_height.map(|height| ContainerDimensions {
            height: Some(height),
            ..ContainerDimensions::default()
        }),
        locale: navigator.as_ref().and_then(|n| n.language()),
        time_zone,
        user_agent: Some(format!("mcp-chat-page/{}", env!("CARGO_PKG_VERSION"))),
        platform: Some("web".into()),
        device_capabilities: Some(json!({"touch": touch, "hover": !touch})),
        ..HostContext::default()
    }
}

fn options(height: Option<f64>) -> HostOptions {
    HostOptions {
        host_info: Implementation {
            name: "mcp-chat-page".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            title: Some("MCP Chat in the browser".into()),
        },
        // What the View can use without an assistant: no `message`, no `updateModelContext`.
        capabilities: HostCapabilities {
            server_tools: Some(json!({})),
            server_resources: Some(json!({})),
            open_links: Some(json!({})),
            logging: Some(json!({})),
            ..HostCapabilities::default()
        },
        context: context(height),
    }
}

/// The answer to the `resources/read` the document sent before this program started
/// (index.html: it saves the time the WebAssembly takes to load). `None` if it failed: the page
/// asks again.
async fn early_read() -> Option<Value> {
    let window = web_sys::window()?;
    let pending = js_sys::Reflect::get(&window, &"mcpChatView".into()).ok()?;
    let pending = pending.dyn_into::<js_sys::Promise>().ok()?;
    let body = wasm_bindgen_futures::JsFuture::from(pending)
        .await
        .ok()?
        .as_string()?;
    mcp_apps::host::http::result_of(&body, 0).ok()
}

fn room_height() -> Option<f64> {
    let room = ui::element::<HtmlElement>("room")?;
    Some(f64::from(room.client_height())).filter(|h| *h > 0.0)
}

/// Opens the room as `member`: the View, given the room and the member as an `open_chat`
/// call's input and result would give them.
pub async fn open(member: Credential) {
    ui::status("Opening the room…");
    ui::show_where(&format!("Room {}", member.room_id));
    let server = mcp::server();
    let read = match early_read().await {
        Some(read) => Ok(read),
        None => {
            server
                .request("resources/read", json!({"uri": VIEW_URI}))
                .await
        }
    };
    let read = match read {
        Ok(read) => read,
        Err(e) => return ui::fail(&format!("The room cannot be shown: {}", e.message)),
    };
    let document = match AppDocument::from_read_result(&read) {
        Ok(document) => document,
        Err(why) => return ui::fail(&format!("The room cannot be shown: {why}")),
    };
    let Some(container) = ui::element::<HtmlElement>("room") else {
        return ui::fail("The page is incomplete.");
    };
    container.set_hidden(false);
    let host = AppHost::new(options(room_height()));
    host.set_auto_height(false);
    server.serve(&host);
    let frame = match host.mount(&container, &document) {
        Ok(frame) => frame,
        Err(_) => return ui::fail("The room cannot be shown: the browser refused the frame."),
    };
    frame.set_title("Chat room");
    let ids = json!({"room_id": member.room_id, "client_id": member.client_id});
    if let Value::Object(arguments) = ids.clone() {
        host.send_tool_input(arguments);
    }
    let opened = format!("Opened room {} in the browser.", member.room_id);
    host.send_tool_result(&ToolResult::from_text(opened).with_structured(ids));
    follow_the_window(&host);
    offer_to_leave(&host, member);
    host.initialized().await;
    ui::status("");
}

/// The bar's "Leave the room": the View has no leave control of its own (in an assistant's
/// host, leaving is the assistant's call), but here the person is the only one to ask.
fn offer_to_leave(host: &AppHost, member: Credential) {
    let Some(button) = ui::element::<HtmlElement>("leave") else {
        return;
    };
    button.set_hidden(false);
    let host = host.clone();
    let on_click = Closure::<dyn FnMut()>::new(move || {
        let host = host.clone();
        let member = member.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(button) = ui::element::<HtmlElement>("leave") {
                button.set_hidden(true);
            }
            let arguments = json!({"room_id": member.room_id, "client_id": member.client_id});
            let outcome = mcp::call_tool("leave_chat", arguments).await;
            host.teardown(Some("the person left the room")).await;
            Credential::forget();
            if let Some(container) = ui::element::<HtmlElement>("room") {
                container.set_hidden(true);
            }
            match outcome.map(|result| mcp::tool_error(&result)) {
                Ok(None) => ui::status(&format!("You left room {}.", member.room_id)),
                Ok(Some(why)) => ui::fail(&why),
                Err(e) => ui::fail(&e.message),
            }
        });
    });
    button.set_onclick(Some(on_click.as_ref().unchecked_ref()));
    on_click.forget();
}

/// Keeps the View's context in step with the browser: its colour scheme, and the room's height
/// when the window is resized or turned.
fn follow_the_window(host: &AppHost) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let host = Rc::new(host.clone());
    let update = {
        let host = host.clone();
        move || {
            let mut context = host.host_context();
            context.theme = Some(if prefers_dark() {
                Theme::Dark
            } else {
                Theme::Light
            });
            if let Some(height) = room_height() {
                context.container_dimensions = Some(ContainerDimensions {
                    height: Some(height),
                    ..ContainerDimensions::default()
                });
            }
            host.set_host_context(context);
        }
    };
    let on_change = Closure::<dyn FnMut()>::new(update);
    if let Ok(Some(query)) = window.match_media("(prefers-color-scheme: dark)") {
        let _ =
            query.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
    }
    let _ = window.add_event_listener_with_callback("resize", on_change.as_ref().unchecked_ref());
    // The page lives as long as the room: the listener with it.
    on_change.forget();
}

//! The root component: handshake, where the room comes from, host context, model context.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mcp_apps::json::object;
use mcp_apps::protocol::{
    ContentBlock, DisplayMode, HostContext, Implementation, ToolDefinition, ToolResult, methods,
};
use mcp_apps::{App as Host, apply_host_styles, sleep};
use mcp_chat_shared::chat::{ProposeReplyParams, RoomStatus, RoomTarget};
use mcp_chat_shared::json::{FromJson, ToJson};
use mcp_chat_shared::tools::{GetSelectedMessages, ProposeReply, Tool};
use serde_json::Value;

use crate::components::{Composer, Ctx, HandOffBar, Header, MessageList, dynamic, when};
use crate::moderation::OwnerBar;
use crate::room::Room;
use crate::session::{self, ChatState, Connection};

/// Coalesces bursts of messages into one model-context update.
const MODEL_CONTEXT_DEBOUNCE: Duration = Duration::from_millis(800);

pub fn app_info() -> Implementation {
    Implementation {
        name: "mcp-chat-view".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        title: Some("MCP Chat".into()),
    }
}

/// Which engine the document's loader started: the same program runs as WebAssembly, or as its
/// JavaScript translation where the host's CSP refuses WebAssembly (see view/loader.js).
fn engine() -> &'static str {
    let attribute = leptos::prelude::document()
        .document_element()
        .and_then(|root| root.get_attribute("data-engine"));
    if attribute.as_deref() == Some("js") {
        "JavaScript"
    } else {
        "WebAssembly"
    }
}

/// The chat View, on `host` (not yet connected: it registers its handlers and tools first).
#[component]
pub fn ChatView(host: Host) -> impl IntoView {
    host.set_available_display_modes(&[DisplayMode::Inline, DisplayMode::Fullscreen]);
    let state = ChatState::new();
    let context = RwSignal::new(HostContext::default());
    let stored_host = StoredValue::new_local(host.clone());
    let ctx = Ctx {
        state,
        host: stored_host,
        context,
        selected: RwSignal::new(Vec::new()),
        host_name: RwSignal::new(String::new()),
        draft: RwSignal::new(String::new()),
    };
    provide_context(ctx);
    register_tools(&host, ctx);

    // The room is named by the tool that opened the View: its input (open_chat) or its result
    // (enter_queue, join_room). The session starts once, with the first that names a client.
    let input = StoredValue::new(RoomTarget::default());
    let started = StoredValue::new(false);
    let start = move |target: RoomTarget| {
        if started.get_value() || target.client_id.is_none() {
            return;
        }
        started.set_value(true);
        spawn_local(session::run(stored_host.get_value(), state, target));
    };
    host.on_tool_input(move |arguments| {
        let target = RoomTarget::named_by(&Value::Object(arguments));
        input.set_value(target.clone());
        if target.room_id.is_some() {
            start(target);
        }
    });
    host.on_tool_result(move |result| {
        if result.is_error == Some(true) {
            if !started.get_value() {
                state.connection.set(Connection::Failed(result.text()));
            }
            return;
        }
        let from_result = result
            .structured_content
            .as_ref()
            .map(RoomTarget::named_by)
            .unwrap_or_default();
        start(from_result.or(input.get_value()));
    });
    host.on_tool_cancelled(move |reason| {
        if !started.get_value() {
            let why = reason.unwrap_or_else(|| "the tool call was cancelled".into());
            state.connection.set(Connection::Failed(why));
        }
    });
    host.on_host_context_changed(move |merged| context.set(merged));
    host.on_teardown(move |_| state.connection.set(Connection::Closed));

    Effect::new(move |_| context.with(apply_host_styles));
    keep_model_informed(state, stored_host);

    spawn_local(async move {
        match host.connect().await {
            Ok(result) => {
                let info = &result.host_info;
                let name = info.title.clone().unwrap_or_else(|| info.name.clone());
                ctx.host_name
                    .set(format!("{name} {}", info.version).trim().to_owned());
                context.set(result.host_context);
                if state.connection.get_untracked() == Connection::Connecting {
                    state.connection.set(Connection::Idle);
                }
                // A host that takes no messages (a browser page, with no assistant): the
                // controls that hand messages to one are hidden (view/style.css).
                if let Some(root) = leptos::prelude::document().document_element() {
                    let alone = !host.supports(methods::MESSAGE);
                    let _ = root.toggle_attribute_with_force("data-no-message", alone);
                }
                host.start_auto_resize();
                host.send_log("info", format!("running on {}", engine()));
            }
            Err(error) => state.connection.set(Connection::Failed(error.to_string())),
        }
    });

    let padding = move || {
        context.with(|c| {
            let insets = c.safe_area_insets.unwrap_or_default();
            // Whole pixels: formatting floats would pull float printing into the wasm.
            let px = |base: f64, inset: f64| (base + inset.max(0.0)).round() as u32;
            format!(
                "padding: {}px {}px {}px {}px",
                px(12.0, insets.top),
                px(14.0, insets.right),
                px(12.0, insets.bottom),
                px(14.0, insets.left)
            )
        })
    };
    let has_room = move || state.room.with(Option::is_some);
    view! {
        <main class="app" style=dynamic(padding)>
            <Header />
            <Show
                when=when(has_room)
                fallback=move || {
                    view! {
                        <p class="placeholder">
                            {dynamic(move || match state.connection.get() {
                                Connection::Queued { .. } => {
                                    "You are in the queue; the room opens here as soon as someone is matched with you."
                                }
                                Connection::Failed(_) => "The room could not be opened.",
                                _ => "The room appears here once a chat tool opens it.",
                            })}
                        </p>
                    }
                }
            >
                <MessageList />
                <OwnerBar />
                <HandOffBar />
            </Show>
            <Composer />
        </main>
    }
}

const VIEW_CLOSED: &str = "The chat View is closed.";

/// The tools the View gives the assistant while the room is open: read what the person
/// selected, and propose a reply. The assistant never sends in the person's name through them:
/// a proposal goes into the composer, and the person edits and sends it (or not).
fn register_tools(host: &Host, c: Ctx) {
    let read_only = object(vec![("readOnlyHint", Value::Bool(true))]);
    host.register_tool(
        ToolDefinition::new(
            GetSelectedMessages::NAME,
            "Read the chat messages the person has selected in the open MCP Chat View (the \
             checkboxes beside messages): who wrote each, and its text.",
        )
        .with_annotations(read_only),
        move |_| {
            // `try_`: the tools outlive the component if it is unmounted, and a panic would
            // stop the View.
            let selected = c.selected.try_get_untracked().unwrap_or_default();
            let result = c.state.room.try_with_untracked(|room| match room {
                Some(room) => {
                    let (text, structured) = room.selection(&selected);
                    ToolResult::from_text(text).with_structured(structured.to_json())
                }
                None => ToolResult::error("No room is open in the View yet."),
            });
            std::future::ready(result.unwrap_or_else(|| ToolResult::error(VIEW_CLOSED)))
        },
    );
    host.register_tool(
        ToolDefinition::new(
            ProposeReply::NAME,
            "Put a proposed reply into the person's message box in the open MCP Chat View. It is \
             not sent: the person reads it, edits it and sends it themselves. Text they were \
             already writing is kept, above the proposal.",
        )
        .with_input_schema(ProposeReplyParams::input_schema()),
        move |arguments| std::future::ready(propose_reply(c, &arguments)),
    );
}

fn propose_reply(c: Ctx, arguments: &serde_json::Map<String, Value>) -> ToolResult {
    let proposal = ProposeReplyParams::from_json(&Value::Object(arguments.clone()));
    let Some(text) = proposal
        .as_ref()
        .ok()
        .map(|p| p.text.as_str())
        .filter(|t| !t.trim().is_empty())
    else {
        return ToolResult::error("text: the reply is required, as a non-empty string.");
    };
    match c
        .state
        .room
        .try_with_untracked(|r| r.as_ref().map(|r| r.status))
    {
        None => return ToolResult::error(VIEW_CLOSED),
        Some(None) => return ToolResult::error("No room is open in the View yet."),
        Some(Some(RoomStatus::Ended)) => {
            return ToolResult::error("The chat has ended: nobody can send any more.");
        }
        Some(Some(_)) => {}
    }
    c.draft.try_update(|draft| {
        if draft.trim().is_empty() {
            *draft = text.to_owned();
        } else {
            draft.push_str("\n\n");
            draft.push_str(text);
        }
    });
    focus_composer();
    ToolResult::from_text(
        "The proposed reply is in the person's message box. Nothing was sent: they decide.",
    )
}

fn focus_composer() {
    use wasm_bindgen::JsCast;
    if let Some(draft) = leptos::prelude::document()
        .query_selector("textarea.draft")
        .ok()
        .flatten()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = draft.focus();
    }
}

/// Sends the model a compact transcript whenever the room changes (debounced), if the host
/// accepts `ui/update-model-context`.
fn keep_model_informed(state: ChatState, host: StoredValue<Host, LocalStorage>) {
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let Some((text, structured)) = state.room.with(|r| r.as_ref().map(Room::model_context))
        else {
            return;
        };
        let host = host.get_value();
        if !host.supports(methods::UPDATE_MODEL_CONTEXT) {
            return;
        }
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        spawn_local(async move {
            sleep(MODEL_CONTEXT_DEBOUNCE).await;
            // `try_`: the View may have been unmounted meanwhile (tests do), and a panic in the
            // View is a trap that stops it.
            if generation.try_get_value() == Some(mine) {
                let content = vec![ContentBlock::text(text)];
                let _ = host
                    .update_model_context(content, Some(structured.to_json()))
                    .await;
            }
        });
    });
}

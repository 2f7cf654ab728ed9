//! The root component: handshake, where the room comes from, host context, model context.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mcp_chat_shared::apps::{HostContext, Implementation, methods};

use crate::bridge::{Bridge, sleep};
use crate::components::{Composer, Ctx, HandOffBar, Header, MessageList, dynamic, when};
use crate::host::Host;
use crate::room::{Room, Target};
use crate::session::{self, ChatState, Connection};
use crate::theme;

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
    match attribute.as_deref() {
        Some("wasm") => "WebAssembly",
        Some("js") => "JavaScript (the host's CSP refuses WebAssembly)",
        _ => "WebAssembly (loaded without the View's loader)",
    }
}

#[component]
pub fn App(bridge: Bridge) -> impl IntoView {
    let host = Host::new(bridge);
    let state = ChatState::new();
    let context = RwSignal::new(HostContext::default());
    let stored_host = StoredValue::new_local(host.clone());
    let ctx = Ctx {
        state,
        host: stored_host,
        context,
        selected: RwSignal::new(Vec::new()),
        host_name: RwSignal::new(String::new()),
    };
    provide_context(ctx);

    // The room is named by the tool that opened the View: its input (open_chat) or its result
    // (enter_queue, join_room). The session starts once, with the first that names a client.
    let input = StoredValue::new(Target::default());
    let started = StoredValue::new(false);
    let start = move |target: Target| {
        if started.get_value() || target.client_id.is_none() {
            return;
        }
        started.set_value(true);
        spawn_local(session::run(stored_host.get_value(), state, target));
    };
    host.on_tool_input(move |arguments| {
        let target = Target::from_value(&arguments);
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
            .map(Target::from_value)
            .unwrap_or_default();
        start(from_result.or(input.get_value()));
    });
    host.on_tool_cancelled(move |reason| {
        if !started.get_value() {
            let why = reason.unwrap_or_else(|| "the tool call was cancelled".into());
            state.connection.set(Connection::Failed(why));
        }
    });
    host.on_context_changed(move |merged| context.set(merged));
    host.on_teardown(move |()| state.connection.set(Connection::Closed));

    Effect::new(move |_| context.with(theme::apply));
    keep_model_informed(state, stored_host);

    spawn_local(async move {
        match host.connect(app_info()).await {
            Ok(result) => {
                let info = &result.host_info;
                let name = info.title.clone().unwrap_or_else(|| info.name.clone());
                ctx.host_name
                    .set(format!("{name} {}", info.version).trim().to_owned());
                context.set(result.host_context);
                if state.connection.get_untracked() == Connection::Connecting {
                    state.connection.set(Connection::Idle);
                }
                host.start_auto_resize();
                host.log("info", format!("running on {}", engine()));
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
                <HandOffBar />
            </Show>
            <Composer />
        </main>
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
            if generation.get_value() == mine {
                let _ = host.update_model_context(text, Some(structured)).await;
            }
        });
    });
}

//! The root component: performs the handshake, follows the host context, shows the connection.

use leptos::prelude::*;
use leptos::task::spawn_local;
use mcp_chat_shared::apps::{HostContext, Implementation, methods};
use serde_json::Value;

use crate::bridge::Bridge;
use crate::theme;

/// Where the View stands with its host.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Connecting,
    Connected {
        host: String,
    },
    Failed(String),
    /// The host tore the View down; nothing more is sent.
    Closed,
}

impl Connection {
    fn label(&self) -> String {
        match self {
            Connection::Connecting => "Connecting to the host…".into(),
            Connection::Connected { host } => format!("Connected to {host}"),
            Connection::Failed(reason) => format!("Not connected: {reason}"),
            Connection::Closed => "Closed by the host".into(),
        }
    }

    fn state(&self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Connected { .. } => "connected",
            Connection::Failed(_) => "failed",
            Connection::Closed => "closed",
        }
    }
}

pub fn app_info() -> Implementation {
    Implementation {
        name: "mcp-chat-view".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        title: Some("MCP Chat".into()),
    }
}

#[component]
pub fn App(bridge: Bridge) -> impl IntoView {
    let connection = RwSignal::new(Connection::Connecting);
    let context = RwSignal::new(HostContext::default());

    bridge.on_notification(move |method, params| {
        if method == methods::HOST_CONTEXT_CHANGED
            && let Ok(changed) = serde_json::from_value::<HostContext>(params)
        {
            context.update(|c| c.merge(changed));
        }
    });
    let on_teardown = bridge.clone();
    bridge.on_request(move |method, _params| {
        (method == methods::RESOURCE_TEARDOWN).then(|| {
            connection.set(Connection::Closed);
            on_teardown.disconnect();
            Ok(Value::Object(Default::default()))
        })
    });
    Effect::new(move |_| context.with(theme::apply));

    spawn_local(async move {
        match bridge.initialize(app_info()).await {
            Ok(result) => {
                let host = &result.host_info;
                let name = host.title.clone().unwrap_or_else(|| host.name.clone());
                context.set(result.host_context);
                connection.set(Connection::Connected {
                    host: format!("{name} {}", host.version).trim().to_owned(),
                });
            }
            Err(error) => connection.set(Connection::Failed(error.message)),
        }
    });

    let theme_name = move || {
        context.with(|c| match c.theme {
            Some(mcp_chat_shared::apps::Theme::Dark) => "dark",
            _ => "light",
        })
    };
    view! {
        <main class="app">
            <header class="app-header">
                <h1 class="app-title">"MCP Chat"</h1>
                <span
                    class="connection"
                    role="status"
                    data-state=move || connection.with(Connection::state)
                >
                    {move || connection.with(Connection::label)}
                </span>
            </header>
            <p class="app-note" data-theme-name=theme_name>
                "The room appears here once a chat tool opens it."
            </p>
        </main>
    }
}

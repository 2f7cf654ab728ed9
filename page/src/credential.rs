//! Who this tab is in the room: kept in session storage (this tab only, gone when it closes),
//! and how the person arrived (the link's fragment, read once and removed from the address bar
//! so that neither a reload nor a screenshot shows the code again).

use serde_json::{Value, json};

const KEY: &str = "mcp-chat.member";

/// The member this tab acts as: the credential is the `client_id`, as for any MCP client.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub room_id: String,
    pub client_id: String,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

impl Credential {
    /// Reads `{room_id, client_id}` (as `open_chat`, `join_room` and `/chat/claim` answer).
    pub fn from_json(value: &Value) -> Option<Credential> {
        let text = |key: &str| {
            value[key]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Some(Credential {
            room_id: text("room_id")?,
            client_id: text("client_id")?,
        })
    }

    /// The credential this tab kept, if any.
    pub fn kept() -> Option<Credential> {
        let text = storage()?.get_item(KEY).ok()??;
        Credential::from_json(&serde_json::from_str(&text).ok()?)
    }

    /// Keeps it for this tab (a reload opens the same room as the same member).
    pub fn keep(&self) {
        if let Some(storage) = storage() {
            let value = json!({"room_id": self.room_id, "client_id": self.client_id});
            let _ = storage.set_item(KEY, &value.to_string());
        }
    }

    /// Forgets it: the person left the room.
    pub fn forget() {
        if let Some(storage) = storage() {
            let _ = storage.remove_item(KEY);
        }
    }
}

/// How the person arrived.
pub enum Arrival {
    /// `#link=CODE`, from `open_chat`: a single-use code for an existing member.
    Link(String),
    /// `#invite=CODE`, from `create_invite`: an invitation to join under a name of one's own.
    Invite(String),
}

/// Reads the fragment once and removes it from the address bar and the history entry.
pub fn take_fragment() -> Option<Arrival> {
    let window = web_sys::window()?;
    let location = window.location();
    let hash = location.hash().ok()?;
    let fragment = hash.strip_prefix('#').unwrap_or(&hash).to_owned();
    if fragment.is_empty() {
        return None;
    }
    if let (Ok(history), Ok(path)) = (window.history(), location.pathname()) {
        let search = location.search().unwrap_or_default();
        let _ = history.replace_state_with_url(
            &wasm_bindgen::JsValue::NULL,
            "",
            Some(&format!("{path}{search}")),
        );
    }
    let decoded = |v: &str| {
        js_sys::decode_uri_component(v)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_else(|| v.to_owned())
    };
    fragment
        .split('&')
        .find_map(|pair| match pair.split_once('=') {
            Some(("link", code)) if !code.is_empty() => Some(Arrival::Link(decoded(code))),
            Some(("invite", code)) if !code.is_empty() => Some(Arrival::Invite(decoded(code))),
            _ => None,
        })
}

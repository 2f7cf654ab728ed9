//! The View, embedded at compile time as one self-contained HTML document (see `build.rs`).

use mcp_chat_shared::apps::{ResourceCsp, ResourceUiMeta, UI_MIME_TYPE};

/// The URI under which tools link the View and `resources/read` serves it.
pub const VIEW_URI: &str = "ui://mcp-chat/room.html";
pub const VIEW_MIME_TYPE: &str = UI_MIME_TYPE;
pub const VIEW_NAME: &str = "MCP Chat room";
pub const VIEW_DESCRIPTION: &str = "Live view of an MCP Chat room: read along, type to the other side, hand messages to the assistant.";

/// The whole View: markup, styles, JS glue and the compressed WebAssembly, in one document.
pub const VIEW_HTML: &str = include_str!(concat!(env!("OUT_DIR"), "/view.html"));

/// `_meta.ui` for the resource. Honest about what the View needs: it loads nothing and connects
/// nowhere (everything it says goes through the host's bridge), but it must compile WebAssembly.
pub fn ui_meta() -> ResourceUiMeta {
    ResourceUiMeta {
        csp: Some(ResourceCsp {
            connect_domains: Vec::new(),
            resource_domains: Vec::new(),
            wasm_unsafe_eval: Some(true),
        }),
        prefers_border: Some(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_self_contained() {
        assert!(
            VIEW_HTML
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("<!doctype html>")
        );
        for attr in [" src=", " href="] {
            assert!(
                !VIEW_HTML.contains(attr),
                "the View refers to something by {attr}"
            );
        }
        assert!(VIEW_HTML.contains("DecompressionStream"));
    }
}

//! The View, embedded at compile time as one self-contained HTML document.
//!
//! The document is built from `view/` by `scripts/build-view.sh` and committed as
//! `server/assets/mcp-chat-view.html`, so building or installing the server needs only Rust. The
//! test suite rebuilds it and fails when the shipped bytes differ from a fresh build.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::OnceLock;

use mcp_apps::protocol::{ResourceCsp, ResourceUiMeta, UI_MIME_TYPE};

use crate::cli::ViewHostingArgs;

/// The URI under which tools link the View and `resources/read` serves it.
pub const VIEW_URI: &str = "ui://mcp-chat/room.html";
pub const VIEW_MIME_TYPE: &str = UI_MIME_TYPE;
pub const VIEW_NAME: &str = "MCP Chat room";
pub const VIEW_DESCRIPTION: &str = "Live view of an MCP Chat room: read along, type to the other side, hand messages to the assistant.";

/// The whole View: markup, styles, JS glue and the compressed WebAssembly, in one document.
pub const VIEW_HTML: &str = include_str!("../assets/mcp-chat-view.html");

/// Set by `serve --view-file`: the View's developer loop (`scripts/view-dev.sh`) rebuilds the
/// document while the server runs, and hosts must get the new one without a server rebuild. A
/// process-wide setting because it is one: chosen once at startup, read by every session.
static VIEW_FILE: OnceLock<PathBuf> = OnceLock::new();

/// Serves the View from `path`, read again at every request, instead of the embedded document.
pub fn serve_from_file(path: PathBuf) -> std::io::Result<()> {
    std::fs::read_to_string(&path)?;
    tracing::warn!(
        "serving the View from {} (read at every request), not the embedded one",
        path.display()
    );
    let _ = VIEW_FILE.set(path);
    Ok(())
}

/// Set at startup from `--ui-domain` / `--openai-widget-domain` (`cli::ViewHostingArgs`):
/// process-wide, like `VIEW_FILE`, because every session's resource says the same.
static HOSTING: OnceLock<ViewHostingArgs> = OnceLock::new();

/// Where hosts may run the View, as the operator set it. Call once, before serving.
pub fn host_with(settings: ViewHostingArgs) {
    let _ = HOSTING.set(settings);
}

/// The operator's View hosting settings (none by default, and none once read unset).
pub fn hosting() -> &'static ViewHostingArgs {
    HOSTING.get_or_init(ViewHostingArgs::default)
}

/// The document hosts get: the embedded one, or the `--view-file` as it is now.
pub fn document() -> Result<Cow<'static, str>, String> {
    match VIEW_FILE.get() {
        None => Ok(Cow::Borrowed(VIEW_HTML)),
        Some(path) => std::fs::read_to_string(path)
            .map(Cow::Owned)
            .map_err(|e| format!("cannot read the View from {}: {e}", path.display())),
    }
}

/// `_meta.ui` for the resource. Honest about what the View needs: it loads nothing and connects
/// nowhere (everything it says goes through the host's bridge), but it must compile WebAssembly.
pub fn ui_meta() -> ResourceUiMeta {
    ResourceUiMeta {
        csp: Some(ResourceCsp {
            connect_domains: Some(Vec::new()),
            resource_domains: Some(Vec::new()),
            wasm_unsafe_eval: Some(true),
            ..ResourceCsp::default()
        }),
        prefers_border: Some(true),
        domain: hosting().ui_domain.clone(),
        ..ResourceUiMeta::default()
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

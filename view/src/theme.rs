//! Follows the host's look: theme, CSS variables and fonts from `hostContext`.
//!
//! The stylesheet (`view/style.css`) reads every host variable with a fallback of its own, so
//! the View looks right on a host that sends none, and a host that sends some wins.

use mcp_chat_shared::apps::{HostContext, Theme};
use wasm_bindgen::JsCast;

const FONT_STYLE_ID: &str = "mcp-chat-host-fonts";

/// Applies what `context` says about appearance to the document. Idempotent.
pub fn apply(context: &HostContext) {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return;
    };
    let Some(root) = document
        .document_element()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
    else {
        return;
    };
    if let Some(theme) = context.theme {
        let name = match theme {
            Theme::Dark => "dark",
            Theme::Light | Theme::Other => "light",
        };
        let _ = root.set_attribute("data-theme", name);
        let _ = root.style().set_property("color-scheme", name);
    }
    if let Some(styles) = &context.styles {
        for (name, value) in styles.variables.iter().flatten() {
            // Only custom properties: a host cannot restyle arbitrary properties through this.
            if !name.starts_with("--") {
                continue;
            }
            match value.as_str() {
                Some(v) => {
                    let _ = root.style().set_property(name, v);
                }
                None => {
                    let _ = root.style().remove_property(name);
                }
            }
        }
        if let Some(fonts) = styles.css.as_ref().and_then(|c| c.fonts.as_deref()) {
            set_font_css(&document, fonts);
        }
    }
}

fn set_font_css(document: &web_sys::Document, css: &str) {
    let element = match document.get_element_by_id(FONT_STYLE_ID) {
        Some(e) => e,
        None => {
            let Ok(e) = document.create_element("style") else {
                return;
            };
            e.set_id(FONT_STYLE_ID);
            if let Some(head) = document.head() {
                let _ = head.append_child(&e);
            }
            e
        }
    };
    element.set_text_content(Some(css));
}

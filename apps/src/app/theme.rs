//! Follows the host's look: theme, CSS variables and fonts from `hostContext`.
//!
//! A View's stylesheet should read every host variable with a fallback of its own
//! (`var(--color-text-primary, #111)`), so it looks right on a host that sends none, and a host
//! that sends some wins.

use wasm_bindgen::JsCast;

use crate::protocol::{HostContext, HostStyles, Theme};

/// The `<style>` element that holds the host's font rules.
const FONT_STYLE_ID: &str = "mcp-apps-host-fonts";

fn root() -> Option<(web_sys::Document, web_sys::HtmlElement)> {
    let document = web_sys::window()?.document()?;
    let root = document.document_element()?.dyn_into().ok()?;
    Some((document, root))
}

/// Applies everything `context` says about appearance: theme, style variables, fonts.
/// Idempotent: call it with the context at connect and after every change.
pub fn apply_host_styles(context: &HostContext) {
    if let Some(theme) = context.theme {
        apply_theme(theme);
    }
    if let Some(styles) = &context.styles {
        apply_style_variables(styles);
        if let Some(fonts) = styles.css.as_ref().and_then(|c| c.fonts.as_deref()) {
            apply_fonts(fonts);
        }
    }
}

/// Sets `data-theme` (`light` or `dark`) and `color-scheme` on `<html>`.
pub fn apply_theme(theme: Theme) {
    let Some((_, root)) = root() else { return };
    {
        let name = match theme {
            Theme::Dark => "dark",
            Theme::Light | Theme::Other => "light",
        };
        let _ = root.set_attribute("data-theme", name);
        let _ = root.style().set_property("color-scheme", name);
    }
}

/// Sets each of the host's CSS custom properties on `<html>`; a `null` value removes one.
pub fn apply_style_variables(styles: &HostStyles) {
    let Some((_, root)) = root() else { return };
    {
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
    }
}

/// Installs the host's font rules (`@font-face`, `@import`) in one `<style>` element,
/// replacing the previous ones.
pub fn apply_fonts(css: &str) {
    let Some((document, _)) = root() else { return };
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

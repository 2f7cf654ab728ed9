//! What the chat View's browser tests share beyond `mcp_apps::testing`.
#![allow(dead_code)] // each test binary uses its own subset

/// The View's real stylesheet (trunk inlines it into the shipped document), once per page.
pub fn install_stylesheet() {
    let document = web_sys::window().unwrap().document().unwrap();
    if document.get_element_by_id("view-style").is_none() {
        let style = document.create_element("style").unwrap();
        style.set_id("view-style");
        style.set_text_content(Some(include_str!("../../style.css")));
        document.head().unwrap().append_child(&style).unwrap();
    }
}

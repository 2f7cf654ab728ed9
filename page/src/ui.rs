//! The page's own few elements (index.html): the status line, the name form, the bar.

use std::cell::RefCell;
use std::rc::Rc;

use futures_channel::oneshot;
use serde_json::json;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{HtmlElement, HtmlInputElement};

use crate::credential::Credential;
use crate::mcp;

pub fn element<T: JsCast>(id: &str) -> Option<T> {
    web_sys::window()?
        .document()?
        .get_element_by_id(id)?
        .dyn_into()
        .ok()
}

/// Shows `text` in the status line (read out by screen readers).
pub fn status(text: &str) {
    if let Some(line) = element::<HtmlElement>("status") {
        line.set_text_content(Some(text));
        line.set_class_name("status");
        line.set_hidden(text.is_empty());
    }
}

/// Shows why the room cannot be opened.
pub fn fail(text: &str) {
    status(text);
    if let Some(line) = element::<HtmlElement>("status") {
        line.set_class_name("status error");
    }
}

/// Names the room in the bar.
pub fn show_where(text: &str) {
    if let Some(bar) = element::<HtmlElement>("where") {
        bar.set_text_content(Some(text));
    }
}

/// A key for one join: sending the form twice (a lost answer, a double click) joins once.
fn join_key() -> String {
    let mut key = String::from("page-join-");
    for _ in 0..4 {
        key.push_str(&format!(
            "{:08x}",
            (js_sys::Math::random() * 4_294_967_296.0) as u32
        ));
    }
    key
}

/// Asks for a name and joins with the invitation; asks again after a refusal that a new name
/// can fix, and gives up (saying why) on one it cannot (the invitation is spent or wrong).
pub async fn join_with_invite(invite: &str) -> Result<Credential, String> {
    let (Some(form), Some(input)) = (
        element::<HtmlElement>("join"),
        element::<HtmlInputElement>("name"),
    ) else {
        return Err("The page is incomplete.".into());
    };
    status("");
    form.set_hidden(false);
    let _ = input.focus();
    let key = join_key();
    loop {
        let name = submitted(&form, &input).await;
        status("Joining…");
        let arguments = json!({"invite": invite, "display_name": name, "idempotency_key": key});
        let result = match mcp::call_tool("join_room", arguments).await {
            Ok(result) => result,
            Err(e) => {
                fail(&e.message);
                continue;
            }
        };
        if let Some(why) = mcp::tool_error(&result) {
            let code = result["structuredContent"]["code"]
                .as_str()
                .unwrap_or_default();
            if !worth_another_try(code) {
                form.set_hidden(true);
                return Err(why);
            }
            fail(&why);
            continue;
        }
        form.set_hidden(true);
        let credential = Credential::from_json(&result["structuredContent"])
            .ok_or_else(|| "The server's answer could not be read.".to_owned())?;
        credential.keep();
        return Ok(credential);
    }
}

/// Whether sending the form again may work after a refusal with `code`: another name (an
/// invalid one), or the same a moment later (too fast, the server busy or restarting). Any
/// other refusal is about the invitation or the room (spent, withdrawn, full, ended, gone, the
/// person removed) and is final: the form goes, the reason stays.
fn worth_another_try(code: &str) -> bool {
    matches!(
        code,
        "invalid_argument" | "rate_limited" | "storage_error" | "shutting_down"
    )
}

/// The next name the person submits (trimmed, not empty).
async fn submitted(form: &HtmlElement, input: &HtmlInputElement) -> String {
    loop {
        let (tx, rx) = oneshot::channel::<()>();
        let tx = Rc::new(RefCell::new(Some(tx)));
        let on_submit = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            event.prevent_default();
            if let Some(tx) = tx.borrow_mut().take() {
                let _ = tx.send(());
            }
        });
        let _ = form.add_event_listener_with_callback("submit", on_submit.as_ref().unchecked_ref());
        let _ = rx.await;
        let _ =
            form.remove_event_listener_with_callback("submit", on_submit.as_ref().unchecked_ref());
        let name = input.value().trim().to_owned();
        if !name.is_empty() {
            return name;
        }
    }
}

//! The owner's tools in a private room: make an invitation (shown to copy, and offered to the
//! assistant to pass on), remove a member, close the room. Removing and closing cannot be
//! undone, so each asks for confirmation in place (a second button), not with `confirm()`,
//! which a sandboxed frame may not be allowed to open.
//!
//! Written for size, as the document's budget asks (BENCHMARKS.md): the bar is built with
//! plain DOM calls by one function whenever what it shows changes (rarely: membership, a
//! question, an invitation), every button goes through one click handler, and every tool call
//! through one untyped path. The same bar in `view!` markup, with a typed call per tool, cost
//! the WebAssembly engine three times as much.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;
use leptos::task::spawn_local;
use mcp_apps::HostError;
use mcp_apps::protocol::{ContentBlock, methods};
use mcp_chat_shared::chat::{CreateInviteParams, InviteResult, RemoveMemberParams};
use mcp_chat_shared::json::{FromJson, ToJson};
use mcp_chat_shared::tools::{CloseRoom, CreateInvite, RemoveMember, Tool};
use serde_json::Value;
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

use crate::components::{ctx, request_frame};
use crate::room::Room;
use crate::session::{self, ChatState};

/// Something the owner may ask for and must confirm.
#[derive(Clone)]
enum Drastic {
    Remove { user_id: String, name: String },
    Close,
}

/// What a button of the bar does.
#[derive(Clone)]
enum Click {
    Invite,
    Ask(Drastic),
    Confirm,
    Cancel,
    /// Hand the invitation's line to the assistant.
    Hand,
    Dismiss,
}

/// What opens below the buttons: nothing, a question, or the invitation just made.
#[derive(Clone, Default)]
enum Panel {
    #[default]
    Nothing,
    Confirm(Drastic),
    /// The code, the line to hand on, and what the code admits.
    Invitation {
        code: String,
        line: String,
        about: String,
    },
}

/// What the bar shows: whether I own the room, whether I may invite, the other members.
struct Controls {
    own: bool,
    invite: bool,
    others: Vec<(String, String)>,
}

impl Controls {
    fn of(room: &Room) -> Controls {
        Controls {
            own: room.i_own(),
            invite: room.i_may_invite(),
            others: room
                .members
                .iter()
                .filter(|m| !m.is_you)
                .map(|m| (m.user_id.clone(), m.display_name.clone()))
                .collect(),
        }
    }
}

/// On the next frame: rebuilds the bar (with the room of `rebuild`) if asked, then moves
/// keyboard focus to the first element matching `focus`, so a question that appears takes the
/// focus and a keyboard or screen-reader user meets it at once. One function for both, so one
/// frame callback is compiled.
fn next_frame(rebuild_from: Option<ChatState>, focus: &'static str) {
    request_frame(move || {
        if let Some(state) = rebuild_from {
            state.room.with_untracked(|r| rebuild(r.as_ref()));
        }
        if let Some(element) = (!focus.is_empty())
            .then(|| document().query_selector(focus).ok().flatten())
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    });
}

/// Builds the bar's elements, wiring each button to the bar's one dispatcher.
struct Builder {
    /// The dispatcher (it lives as long as the View).
    click: &'static dyn Fn(Click),
    /// The handlers of the elements built, kept alive until the next build replaces them.
    handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Builder {
    /// `<tag class attrs…>text</tag>`, appended to `parent`.
    fn element(
        &self,
        parent: &web_sys::Element,
        tag: &str,
        class: &str,
        attrs: &[(&str, &str)],
        text: &str,
    ) -> web_sys::Element {
        let element = document().create_element(tag).expect("an element");
        element.set_class_name(class);
        for (name, value) in attrs {
            let _ = element.set_attribute(name, value);
        }
        if !text.is_empty() {
            element.set_text_content(Some(text));
        }
        let _ = parent.append_child(&element);
        element
    }

    fn button(&mut self, parent: &web_sys::Element, class: &str, label: &str, click: Click) {
        let button = self.element(parent, "button", class, &[("type", "button")], label);
        let run = self.click;
        let handler =
            Closure::wrap(Box::new(move |_| run(click.clone())) as Box<dyn FnMut(web_sys::Event)>);
        let _ = button.add_event_listener_with_callback("click", handler.as_ref().unchecked_ref());
        self.handlers.push(handler);
    }

    fn build(&mut self, bar: &web_sys::Element, controls: Controls, panel: Panel, hand: bool) {
        bar.set_text_content(None);
        if controls.invite {
            self.button(bar, "make-invite", "Invite someone", Click::Invite);
        }
        if controls.own {
            for (user_id, name) in controls.others {
                let label = format!("Remove {name}");
                self.button(
                    bar,
                    "remove",
                    &label,
                    Click::Ask(Drastic::Remove { user_id, name }),
                );
            }
            self.button(bar, "close-room", "Close room", Click::Ask(Drastic::Close));
        }
        match panel {
            Panel::Nothing => {}
            Panel::Confirm(what) => {
                let question = match what {
                    Drastic::Remove { name, .. } => {
                        format!("Remove {name} for good? They cannot come back.")
                    }
                    Drastic::Close => {
                        "Close the room for everyone? Nobody can send any more.".into()
                    }
                };
                let attrs = [
                    ("role", "alertdialog"),
                    ("aria-labelledby", "confirm-question"),
                ];
                let dialog = self.element(bar, "div", "confirm", &attrs, "");
                self.element(&dialog, "p", "", &[("id", "confirm-question")], &question);
                self.button(&dialog, "danger confirm-yes", "Yes", Click::Confirm);
                self.button(&dialog, "cancel", "Cancel", Click::Cancel);
            }
            Panel::Invitation { code, line, about } => {
                let attrs = [("role", "region"), ("aria-label", "Invitation")];
                let region = self.element(bar, "div", "invitation", &attrs, "");
                let label = self.element(&region, "label", "", &[], &about);
                let attrs = [("readonly", ""), ("value", &code)];
                self.element(&label, "input", "invite-code", &attrs, "");
                self.element(&region, "p", "share-text", &[], &line);
                if hand {
                    self.button(&region, "primary", "Give it to the assistant", Click::Hand);
                }
                self.button(&region, "", "Done", Click::Dismiss);
            }
        }
    }
}

/// The bar's state between builds.
struct Bar {
    panel: Panel,
    /// The host takes messages from the View (`ui/message`).
    hand: bool,
    builder: Builder,
}

thread_local! {
    /// The bar of this View (one per document).
    static BAR: RefCell<Option<Bar>> = const { RefCell::new(None) };
}

/// Rebuilds the bar from the open room and what is open below its buttons.
fn rebuild(room: Option<&Room>) {
    BAR.with_borrow_mut(|bar| {
        let Some(bar) = bar else {
            return;
        };
        let Some(element) = document().query_selector(".owner-bar").ok().flatten() else {
            return;
        };
        let controls = room.map(Controls::of).unwrap_or(Controls {
            own: false,
            invite: false,
            others: Vec::new(),
        });
        // The old buttons leave the page here: their handlers go with them.
        bar.builder.handlers.clear();
        bar.builder
            .build(&element, controls, bar.panel.clone(), bar.hand);
    });
}

/// The room's members, rights or status were read again (`session::apply_info`): the bar
/// follows. Not on every message: a rebuild would take a keyboard user's focus away.
pub fn room_changed(room: &Room) {
    rebuild(Some(room));
}

/// Opens `panel` below the buttons and moves the focus to `focus`. The bar is rebuilt on the
/// next frame, not at once: the click being handled may be on a button the rebuild removes,
/// and its handler must not be dropped while it runs.
#[inline(never)]
fn show(state: ChatState, panel: Panel, focus: &'static str) {
    BAR.with_borrow_mut(|bar| {
        if let Some(bar) = bar {
            bar.panel = panel;
        }
    });
    next_frame(Some(state), focus);
}

/// What is open below the buttons.
#[inline(never)]
fn panel() -> Panel {
    BAR.with_borrow(|bar| bar.as_ref().map(|b| b.panel.clone()).unwrap_or_default())
}

#[component]
pub fn OwnerBar() -> impl IntoView {
    let c = ctx();
    let hand = c.host.with_value(|h| h.supports(methods::MESSAGE));
    let show = move |panel: Panel, focus: &'static str| show(c.state, panel, focus);
    // One action at a time: a second click while one runs is ignored.
    let busy = StoredValue::new(false);
    let run = move |click: Click| {
        let action = match click {
            Click::Ask(what) => {
                return show(Panel::Confirm(what), ".owner-bar .confirm button.cancel");
            }
            Click::Cancel | Click::Dismiss => {
                return show(Panel::Nothing, ".owner-bar button");
            }
            Click::Confirm => match panel() {
                Panel::Confirm(what) => {
                    show(Panel::Nothing, ".owner-bar button");
                    Click::Ask(what)
                }
                _ => return,
            },
            other => other,
        };
        let Some(ids) = session::room_ids(c.state) else {
            return;
        };
        if busy.get_value() {
            return;
        }
        busy.set_value(true);
        let host = c.host();
        // The call is chosen here and awaited through one boxed future: the task below then
        // holds one await, and each call's state machine is compiled once.
        let call: Pin<Box<dyn Future<Output = Result<Value, HostError>>>> = match &action {
            Click::Hand => {
                let line = match panel() {
                    Panel::Invitation { line, .. } => line,
                    _ => String::new(),
                };
                let text = format!("Please pass this invitation on: {line}");
                Box::pin(async move {
                    host.send_message(vec![ContentBlock::text(text)])
                        .await
                        .map(|()| Value::Null)
                })
            }
            _ => {
                let (tool, arguments) = match &action {
                    Click::Ask(Drastic::Remove { user_id, .. }) => (
                        RemoveMember::NAME,
                        RemoveMemberParams {
                            room_id: ids.room_id,
                            client_id: ids.client_id,
                            user_id: user_id.clone(),
                        }
                        .to_json(),
                    ),
                    Click::Ask(Drastic::Close) => (CloseRoom::NAME, ids.to_json()),
                    _ => (
                        CreateInvite::NAME,
                        CreateInviteParams {
                            room_id: ids.room_id,
                            client_id: ids.client_id,
                            max_uses: None,
                            expires_in_s: None,
                        }
                        .to_json(),
                    ),
                };
                Box::pin(async move { session::moderate(&host, tool, arguments).await })
            }
        };
        spawn_local(async move {
            let note = match (call.await, action) {
                (Err(e), _) => session::describe(&e),
                (Ok(_), Click::Hand) => "The invitation was sent to the assistant.".into(),
                (Ok(_), Click::Ask(Drastic::Remove { name, .. })) => format!("{name} was removed."),
                (Ok(_), Click::Ask(Drastic::Close)) => "The room is closed.".into(),
                (Ok(answer), _) => match InviteResult::from_json(&answer) {
                    Ok(made) => {
                        let about = format!(
                            "Invitation code (shown once; admits {}, expires {})",
                            made.uses_left, made.expires_at
                        );
                        let invitation = Panel::Invitation {
                            about,
                            code: made.invite,
                            line: made.share_text,
                        };
                        show(invitation, ".owner-bar .invite-code");
                        String::new()
                    }
                    Err(e) => format!("Could not read the invitation: {e}"),
                },
            };
            if !note.is_empty() {
                c.state.notice.set(Some(note));
            }
            busy.set_value(false);
        });
    };
    // Leaked once per bar (one per View): every button's handler calls it.
    let run: &'static dyn Fn(Click) = Box::leak(Box::new(run));
    BAR.with_borrow_mut(|bar| {
        *bar = Some(Bar {
            hand,
            panel: Panel::Nothing,
            builder: Builder {
                click: run,
                handlers: Vec::new(),
            },
        })
    });
    // Built once mounted; then again whenever the room is read again or a panel opens.
    next_frame(Some(c.state), "");
    // Empty (and so not shown: see the style) unless the member may do something here.
    view! { <div class="owner-bar" role="region" aria-label="Room controls"></div> }
}

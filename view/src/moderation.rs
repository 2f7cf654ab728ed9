//! The owner's tools in a private room: make an invitation (shown to copy, and offered to the
//! assistant to pass on), remove a member, close the room. Removing and closing cannot be
//! undone, so each asks for confirmation in place (a second button), not with `confirm()`,
//! which a sandboxed frame may not be allowed to open.

use leptos::prelude::*;
use leptos::task::spawn_local;
use mcp_apps::protocol::{ContentBlock, methods};
use mcp_chat_shared::chat::InviteResult;

use crate::components::{clicks, ctx, dynamic, request_frame, when};
use crate::session;

/// What the owner is about to do, waiting for the second click.
#[derive(Debug, Clone, PartialEq)]
enum Pending {
    Remove { user_id: String, name: String },
    Close,
}

/// Moves keyboard focus to the first element matching `selector` once it is on screen: a
/// question that appears takes the focus, so a keyboard or screen-reader user meets it at once.
fn focus_when_shown(selector: &'static str) {
    request_frame(move || {
        use wasm_bindgen::JsCast;
        if let Some(element) = leptos::prelude::document()
            .query_selector(selector)
            .ok()
            .flatten()
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
        {
            let _ = element.focus();
        }
    });
}

/// Asks before doing `what` (the safe answer, Cancel, takes the focus).
fn ask(pending: RwSignal<Option<Pending>>, what: Pending) {
    pending.set(Some(what));
    focus_when_shown(".owner-bar .confirm button.cancel");
}

#[component]
pub fn OwnerBar() -> impl IntoView {
    let c = ctx();
    let owns = move || c.state.room.with(|r| r.as_ref().is_some_and(|r| r.i_own()));
    let may_invite = move || {
        c.state
            .room
            .with(|r| r.as_ref().is_some_and(|r| r.i_may_invite()))
    };
    let invitation = RwSignal::new(None::<InviteResult>);
    let pending = RwSignal::new(None::<Pending>);
    let busy = RwSignal::new(false);
    let report = move |text: String| c.state.notice.set(Some(text));

    let make_invite = move |_| {
        busy.set(true);
        let host = c.host();
        spawn_local(async move {
            match session::invite(&host, c.state).await {
                Ok(made) => {
                    invitation.set(Some(made));
                    focus_when_shown(".owner-bar .invite-code");
                }
                Err(e) => report(format!(
                    "Could not make an invitation: {}",
                    session::describe(&e)
                )),
            }
            busy.set(false);
        });
    };
    let hand_to_assistant = move |_| {
        let Some(made) = invitation.get_untracked() else {
            return;
        };
        let host = c.host();
        spawn_local(async move {
            let text = format!("Please pass this invitation on: {}", made.share_text);
            match host.send_message(vec![ContentBlock::text(text)]).await {
                Ok(()) => report("The invitation was sent to the assistant.".into()),
                Err(e) => report(format!("Could not send to the assistant: {e}")),
            }
        });
    };
    let confirm = move |_| {
        let Some(what) = pending.get_untracked() else {
            return;
        };
        pending.set(None);
        busy.set(true);
        let host = c.host();
        spawn_local(async move {
            let outcome = match &what {
                Pending::Remove { user_id, .. } => {
                    session::remove(&host, c.state, user_id.clone()).await
                }
                Pending::Close => session::close(&host, c.state).await,
            };
            match (outcome, what) {
                (Ok(_), Pending::Remove { name, .. }) => {
                    report(format!("{name} was removed."));
                    focus_when_shown(".owner-bar button");
                }
                (Ok(_), Pending::Close) => report("The room is closed.".into()),
                (Err(e), _) => report(session::describe(&e)),
            }
            busy.set(false);
        });
    };
    let others = move || {
        c.state.room.with(|r| {
            r.as_ref().map_or_else(Vec::new, |r| {
                r.members
                    .iter()
                    .filter(|m| !m.is_you)
                    .map(|m| (m.user_id.clone(), m.display_name.clone()))
                    .collect::<Vec<_>>()
            })
        })
    };
    let supported = move || c.host.with_value(|h| h.supports(methods::MESSAGE));
    view! {
        <Show when=when(move || owns() || may_invite())>
            <section class="owner-bar" aria-label="Room controls">
                <Show when=when(may_invite)>
                    <button
                        type="button"
                        class="invite"
                        disabled=dynamic(move || busy.get())
                        on:click=clicks(make_invite)
                    >
                        "Invite someone"
                    </button>
                </Show>
                <Show when=when(owns)>
                    <For
                        each=others
                        key=|(user_id, _)| user_id.clone()
                        children=move |(user_id, name)| {
                            let label = format!("Remove {name}");
                            let what = Pending::Remove { user_id, name };
                            view! {
                                <button
                                    type="button"
                                    class="remove"
                                    disabled=dynamic(move || busy.get())
                                    on:click=clicks(move |_| ask(pending, what.clone()))
                                >
                                    {label}
                                </button>
                            }
                        }
                    />
                    <button
                        type="button"
                        class="close-room"
                        disabled=dynamic(move || busy.get())
                        on:click=clicks(move |_| ask(pending, Pending::Close))
                    >
                        "Close room"
                    </button>
                </Show>
                {move || {
                    pending
                        .get()
                        .map(|what| {
                            let question = match &what {
                                Pending::Remove { name, .. } => {
                                    format!("Remove {name} for good? They cannot come back.")
                                }
                                Pending::Close => {
                                    "Close the room for everyone? Nobody can send any more.".into()
                                }
                            };
                            view! {
                                <div
                                    class="confirm"
                                    role="alertdialog"
                                    aria-labelledby="confirm-question"
                                >
                                    <p id="confirm-question">{question}</p>
                                    <button type="button" class="danger confirm-yes" on:click=clicks(confirm)>
                                        "Yes"
                                    </button>
                                    <button
                                        type="button"
                                        class="cancel"
                                        on:click=clicks(move |_| {
                                            pending.set(None);
                                            focus_when_shown(".owner-bar button");
                                        })
                                    >
                                        "Cancel"
                                    </button>
                                </div>
                            }
                        })
                }}
                {move || {
                    invitation
                        .get()
                        .map(|made| {
                            view! {
                                <div class="invitation" role="region" aria-label="Invitation">
                                    <label>
                                        "Invitation code (shown once; admits "
                                        {made.uses_left}
                                        ", expires "
                                        {made.expires_at.clone()}
                                        ")"
                                        <input
                                            class="invite-code"
                                            readonly=true
                                            prop:value=made.invite.clone()
                                        />
                                    </label>
                                    <p class="share-text">{made.share_text.clone()}</p>
                                    <Show when=when(supported)>
                                        <button type="button" class="primary" on:click=clicks(hand_to_assistant)>
                                            "Give it to the assistant"
                                        </button>
                                    </Show>
                                    <button type="button" on:click=clicks(move |_| invitation.set(None))>
                                        "Done"
                                    </button>
                                </div>
                            }
                        })
                }}
            </section>
        </Show>
    }
}

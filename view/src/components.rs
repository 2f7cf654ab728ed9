//! The room's parts on screen: header, message list, hand-off bar, composer.
//!
//! Each reads the shared [`ChatState`] and the [`Host`] from context. Message text is always
//! rendered as text (text nodes, `linkify`), so a message that contains HTML shows literally.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use mcp_apps::App as Host;
use mcp_apps::protocol::{ContentBlock, DisplayMode, HostContext, methods};
use mcp_chat_shared::chat::{ChatMessage, MemberInfo, MessageKind, RoomStatus};
use wasm_bindgen::JsCast;

use crate::room::{Segment, WINDOW, segments};
use crate::session::{self, ChatState, Connection};
use crate::time::TimeFormat;

/// Everything the components need, provided once by the app.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub state: ChatState,
    pub host: StoredValue<Host, LocalStorage>,
    pub context: RwSignal<HostContext>,
    /// The `seq`s of the selected messages, in order, without duplicates (a sorted list: a few
    /// entries, and no B-tree code in the wasm).
    pub selected: RwSignal<Vec<u64>>,
    /// "name version" of the host, once the handshake is done.
    pub host_name: RwSignal<String>,
    /// What the person is writing. The assistant may put a proposed reply here (the View's
    /// `propose_reply` tool); only the person sends it.
    pub draft: RwSignal<String>,
}

impl Ctx {
    pub fn host(&self) -> Host {
        self.host.get_value()
    }
}

pub fn ctx() -> Ctx {
    expect_context::<Ctx>()
}

/// A reactive child, attribute value or condition, boxed. Leptos renders each closure type with
/// its own copy of the reactive rendering code; behind one box type per output type, all the
/// dynamic parts that produce the same type share that code (a much smaller wasm).
pub type Dyn<T> = Box<dyn FnMut() -> T + Send>;

pub fn dynamic<T: 'static>(f: impl FnMut() -> T + Send + 'static) -> Dyn<T> {
    Box::new(f)
}

/// A boxed click handler: like [`Dyn`], all click handlers then share one attaching code path.
pub fn clicks(f: impl FnMut(web_sys::MouseEvent) + 'static) -> Box<dyn FnMut(web_sys::MouseEvent)> {
    Box::new(f)
}

/// A boxed `Show` condition (see [`Dyn`]).
pub type When = Box<dyn Fn() -> bool + Send + Sync>;

pub fn when(f: impl Fn() -> bool + Send + Sync + 'static) -> When {
    Box::new(f)
}

/// Distance from the bottom under which the reader counts as "at the bottom".
const STICKY_PX: i32 = 24;

#[component]
pub fn Header() -> impl IntoView {
    let Ctx {
        state,
        context,
        host_name,
        ..
    } = ctx();
    let title = move || {
        state.room.with(|r| match r {
            Some(r) => r.room_id.clone(),
            None => "MCP Chat".into(),
        })
    };
    let members = move || {
        state.room.with(|r| {
            r.as_ref().map(|r| {
                let names: Vec<String> = r.members.iter().map(MemberInfo::label).collect();
                // "· Private · owned by Ada" for a private room, in the same line (one
                // reactive text less in the View).
                let access = r.access_label();
                let sep = if access.is_empty() { "" } else { " · " };
                format!(
                    "{}/{} · {}{sep}{access}",
                    r.members.len(),
                    r.capacity,
                    names.join(", ")
                )
            })
        })
    };
    let status = move || {
        state.room.with(|r| match r.as_ref().map(|r| r.status) {
            Some(RoomStatus::Waiting) => "waiting",
            Some(RoomStatus::Active) => "active",
            Some(RoomStatus::Ended) => "ended",
            None => "",
        })
    };
    view! {
        <header class="room-header">
            <div class="room-title">
                <h1>{dynamic(title)}</h1>
                <span class="room-status" data-status=dynamic(status)>
                    {dynamic(status)}
                </span>
            </div>
            <p class="room-members">{dynamic(members)}</p>
            <div class="room-tools">
                <span
                    class="connection"
                    role="status"
                    data-state=dynamic(move || state.connection.with(Connection::state))
                >
                    {dynamic(move || state.connection.with(Connection::label))}
                </span>
                <Show when=when(move || host_name.with(|h| !h.is_empty()))>
                    <span class="host-name">{dynamic(move || format!("in {}", host_name.get()))}</span>
                </Show>
                <DisplayModeButton context=context />
            </div>
        </header>
    }
}

#[component]
fn DisplayModeButton(context: RwSignal<HostContext>) -> impl IntoView {
    let c = ctx();
    let current = move || context.with(|c| c.display_mode.unwrap_or(DisplayMode::Inline));
    let target = move || {
        let host = c.host();
        match current() {
            DisplayMode::Fullscreen if host.can_display(DisplayMode::Inline) => {
                Some(DisplayMode::Inline)
            }
            DisplayMode::Fullscreen => None,
            _ if context.with(|_| host.can_display(DisplayMode::Fullscreen)) => {
                Some(DisplayMode::Fullscreen)
            }
            _ => None,
        }
    };
    let toggle = move |_| {
        let Some(mode) = target() else { return };
        let host = c.host();
        spawn_local(async move {
            if let Ok(granted) = host.request_display_mode(mode).await {
                context.update(|ctx| ctx.display_mode = Some(granted));
            }
        });
    };
    view! {
        <Show when=when(move || target().is_some())>
            <button class="display-mode" type="button" on:click=clicks(toggle)>
                {dynamic(move || match target() {
                    Some(DisplayMode::Fullscreen) => "Full screen",
                    _ => "Exit full screen",
                })}
            </button>
        </Show>
    }
}

/// Height of the scrolling list: the host's container minus header and composer, or a
/// comfortable default. Never derived from `100vh`, which would feed back into auto-resize.
fn list_height(context: &HostContext) -> u32 {
    const CHROME: f64 = 170.0;
    let dims = context.container_dimensions.unwrap_or_default();
    let available = dims.height.or(dims.max_height).map(|h| h - CHROME);
    match available {
        Some(h) => h.clamp(120.0, 4000.0) as u32,
        None => 420,
    }
}

#[component]
pub fn MessageList() -> impl IntoView {
    let c = ctx();
    let Ctx {
        state,
        context,
        selected,
        ..
    } = c;
    let window = RwSignal::new(WINDOW);
    let unseen = RwSignal::new(0usize);
    let at_bottom = StoredValue::new(true);
    let announcement = RwSignal::new(String::new());
    let list = NodeRef::<html::Div>::new();
    let times = Memo::new(move |_| context.with(|c| (c.locale.clone(), c.time_zone.clone())));

    let rows = move || {
        state.room.with(|r| {
            r.as_ref().map_or_else(Vec::new, |r| {
                let start = r.window_start(window.get());
                r.messages[start..]
                    .iter()
                    .map(|m| (m.clone(), r.is_mine(m)))
                    .collect::<Vec<_>>()
            })
        })
    };
    let hidden = move || {
        state
            .room
            .with(|r| r.as_ref().map_or(0, |r| r.window_start(window.get())))
    };

    let scroll_to_bottom = move || {
        if let Some(el) = list.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
        unseen.set(0);
        at_bottom.set_value(true);
    };

    // New messages: follow them if the reader is at the bottom; otherwise count them.
    Effect::new(move |previous: Option<(usize, u64)>| {
        let (count, last) = state.room.with(|r| {
            r.as_ref()
                .map_or((0, 0), |r| (r.messages.len(), r.last_seq()))
        });
        if let Some((before, _)) = previous
            && count > before
        {
            let fresh: Vec<ChatMessage> = state.room.with_untracked(|r| {
                r.as_ref().map_or_else(Vec::new, |r| {
                    r.messages[before.min(r.messages.len())..]
                        .iter()
                        .filter(|m| !r.is_mine(m))
                        .cloned()
                        .collect()
                })
            });
            if let Some(m) = fresh.last() {
                let who = m.sender.as_ref().map_or("", |s| s.display_name.as_str());
                announcement.set(if m.kind == MessageKind::Chat {
                    format!("{who}: {}", m.text)
                } else {
                    m.text.clone()
                });
            }
            if at_bottom.get_value() {
                request_frame(scroll_to_bottom);
            } else {
                unseen.update(|n| *n += count - before);
            }
        } else if previous.is_none() {
            request_frame(scroll_to_bottom);
        }
        (count, last)
    });

    let on_scroll = move |_| {
        if let Some(el) = list.get_untracked() {
            let bottom = el.scroll_top() + el.client_height() >= el.scroll_height() - STICKY_PX;
            at_bottom.set_value(bottom);
            if bottom {
                unseen.set(0);
            }
        }
    };

    view! {
        <div class="messages-wrap">
            <div
                class="messages"
                node_ref=list
                on:scroll=on_scroll
                style:max-height=dynamic(move || format!("{}px", context.with(list_height)))
                tabindex="0"
                role="log"
                aria-label="Messages"
            >
                <Show when=when(move || hidden() > 0)>
                    <button
                        class="show-earlier"
                        type="button"
                        on:click=clicks(move |_| window.update(|w| *w += WINDOW))
                    >
                        {dynamic(move || format!("Show earlier messages ({} more)", hidden()))}
                    </button>
                </Show>
                <Show when=when(move || state.room.with(|r| r.as_ref().is_some_and(|r| r.messages.is_empty())))>
                    <p class="empty">"No messages yet. Say hello!"</p>
                </Show>
                <ol
                    class="message-list"
                    on:click=clicks(move |ev| open_clicked_link(c, ev))
                    on:auxclick=clicks(move |ev| open_clicked_link(c, ev))
                >
                    <For each=rows key=|(m, _)| m.seq let((message, mine))>
                        <MessageRow message mine times selected />
                    </For>
                </ol>
            </div>
            <Show when=when(move || unseen.get() > 0)>
                <button class="new-messages" type="button" on:click=clicks(move |_| scroll_to_bottom())>
                    {dynamic(move || {
                        let n = unseen.get();
                        format!("↓ {n} new message{}", if n == 1 { "" } else { "s" })
                    })}
                </button>
            </Show>
            <div class="sr-only" aria-live="polite">{dynamic(move || announcement.get())}</div>
        </div>
    }
}

pub fn request_frame(f: impl FnOnce() + 'static) {
    let callback = wasm_bindgen::closure::Closure::once_into_js(f);
    if let Some(w) = web_sys::window() {
        let _ = w.request_animation_frame(callback.unchecked_ref());
    }
}

#[component]
fn MessageRow(
    message: ChatMessage,
    mine: bool,
    times: Memo<(Option<String>, Option<String>)>,
    selected: RwSignal<Vec<u64>>,
) -> impl IntoView {
    let c = ctx();
    let seq = message.seq;
    let is_chat = message.kind == MessageKind::Chat;
    let author = message
        .sender
        .as_ref()
        .map(|s| s.display_name.clone())
        .unwrap_or_default();
    let millis = message.timestamp_ms;
    let time = move || {
        times.with(|(locale, zone)| {
            TimeFormat::new(locale.as_deref(), zone.as_deref()).format(millis)
        })
    };
    let class = match (is_chat, mine) {
        (false, _) => "message system",
        (true, true) => "message mine",
        (true, false) => "message theirs",
    };
    let is_selected = move || selected.with(|s| s.binary_search(&seq).is_ok());
    let toggle = move |_| {
        selected.update(|s| match s.binary_search(&seq) {
            Ok(at) => {
                s.remove(at);
            }
            Err(at) => s.insert(at, seq),
        })
    };
    let reply = move |_| {
        let Some(text) = c
            .state
            .room
            .with_untracked(|r| r.as_ref().and_then(|r| r.reply_request(seq)))
        else {
            return;
        };
        let host = c.host();
        spawn_local(async move {
            let outcome = host.send_message(vec![ContentBlock::text(text)]).await;
            c.state.notice.set(Some(match outcome {
                Ok(()) => "Asked the assistant to help with a reply.".into(),
                Err(e) => format!("Could not reach the assistant: {e}"),
            }));
        });
    };
    let label = format!("Select the message from {author}");
    // The visible words first: a speech-input user says what they see (axe:
    // label-content-name-mismatch).
    let reply_label = format!("Reply with assistant to {author}");
    view! {
        <li class=class data-seq=seq class:selected=dynamic(is_selected)>
            {if is_chat {
                view! {
                    <input
                        class="select"
                        type="checkbox"
                        aria-label=label
                        prop:checked=dynamic(is_selected)
                        on:change=toggle
                    />
                    <div class="bubble">
                        <div class="meta">
                            <span class="author">{author}</span>
                            <time class="time">{dynamic(time)}</time>
                        </div>
                        <p class="text" use:linkify=message.text.clone()></p>
                        {(!mine)
                            .then(|| {
                                view! {
                                    <button
                                        class="reply"
                                        type="button"
                                        aria-label=reply_label
                                        on:click=clicks(reply)
                                    >
                                        "Reply with assistant"
                                    </button>
                                }
                            })}
                    </div>
                }
                    .into_any()
            } else {
                view! {
                    <p class="event">
                        <span class="text">{message.text.clone()}</span>
                        " "
                        <time class="time">{dynamic(time)}</time>
                    </p>
                }
                    .into_any()
            }}
        </li>
    }
}

/// Writes a message's text into its paragraph, with its web addresses as links, once, when the
/// paragraph is built (a directive: `use:linkify=text`). Plain DOM nodes, never parsed HTML, so
/// text stays text; and no reactive view per link, which would cost the wasm kilobytes.
fn linkify(paragraph: web_sys::Element, text: String) {
    let parts = segments(&text);
    if !parts.iter().any(|p| matches!(p, Segment::Link(_))) {
        paragraph.set_text_content(Some(&text));
        return;
    }
    let document = leptos::prelude::document();
    for part in parts {
        let node: Option<web_sys::Node> = match part {
            Segment::Text(t) => Some(document.create_text_node(t).into()),
            Segment::Link(url) => document.create_element("a").ok().map(|a| {
                a.set_class_name("link");
                let _ = a.set_attribute("href", url);
                let _ = a.set_attribute("rel", "noopener noreferrer");
                // Dragging it out would open it without the host.
                let _ = a.set_attribute("draggable", "false");
                a.set_text_content(Some(url));
                a.into()
            }),
        };
        if let Some(node) = node {
            let _ = paragraph.append_child(&node);
        }
    }
}

/// A click on a link in the message list (one handler for all of them; the middle button too,
/// `auxclick`): the address opens through the host (`ui/open-link`), in the person's browser;
/// the sandboxed View never navigates itself.
fn open_clicked_link(c: Ctx, event: web_sys::MouseEvent) {
    let Some(link) = event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest("a.link").ok().flatten())
    else {
        return;
    };
    event.prevent_default();
    let Some(url) = link.get_attribute("href") else {
        return;
    };
    let host = c.host();
    spawn_local(async move {
        if let Err(e) = host.open_link(&url).await {
            c.state
                .notice
                .set(Some(format!("Could not open {url}: {e}")));
        }
    });
}

/// Appears while messages are selected: hands them to the assistant as a user message.
#[component]
pub fn HandOffBar() -> impl IntoView {
    let c = ctx();
    let count = move || c.selected.with(Vec::len);
    let send = move |_| {
        let seqs: Vec<u64> = c.selected.get_untracked();
        let Some(text) = c
            .state
            .room
            .with_untracked(|r| r.as_ref().map(|r| r.quote(&seqs)))
        else {
            return;
        };
        let host = c.host();
        spawn_local(async move {
            match host.send_message(vec![ContentBlock::text(text)]).await {
                Ok(()) => {
                    c.selected.set(Vec::new());
                    c.state.notice.set(Some("Sent to the assistant.".into()));
                }
                Err(e) => c
                    .state
                    .notice
                    .set(Some(format!("Could not send to the assistant: {e}"))),
            }
        });
    };
    let supported = move || c.host.with_value(|h| h.supports(methods::MESSAGE));
    view! {
        <Show when=when(move || count() > 0)>
            <div class="handoff" role="region" aria-label="Selected messages">
                <span>{dynamic(move || format!("{} selected", count()))}</span>
                <Show
                    when=when(supported)
                    fallback=|| view! { <span class="hint">"This host cannot take messages from the View."</span> }
                >
                    <button class="primary" type="button" on:click=clicks(send)>
                        {dynamic(move || {
                            let n = count();
                            format!("Send {n} message{} to assistant", if n == 1 { "" } else { "s" })
                        })}
                    </button>
                </Show>
                <button type="button" on:click=clicks(move |_| c.selected.set(Vec::new()))>
                    "Clear"
                </button>
            </div>
        </Show>
        {move || {
            c.state
                .notice
                .get()
                .map(|n| view! { <p class="notice" role="status">{n}</p> })
        }}
    }
}

#[component]
pub fn Composer() -> impl IntoView {
    let c = ctx();
    let draft = c.draft;
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    // The key of a send that failed, with its text: sending that text again reuses it, so a
    // message whose answer was lost (but which was stored) is not stored twice.
    let unanswered = StoredValue::new(None::<(String, String)>);
    let blocked = move || -> Option<&'static str> {
        let connection = c.state.connection.get();
        match c.state.room.with(|r| r.as_ref().map(|r| r.status)) {
            Some(RoomStatus::Ended) => Some("The chat has ended."),
            Some(_) if connection == Connection::Closed => Some("The View was closed."),
            Some(_) if connection == Connection::Removed => {
                Some("The room's owner removed you from this room.")
            }
            Some(_) => None,
            None => Some(match connection {
                Connection::Queued { .. } => "Waiting for a partner…",
                Connection::Closed => "The View was closed.",
                _ => "No room is open yet.",
            }),
        }
    };
    let submit = move || {
        let text = draft.get_untracked();
        if text.trim().is_empty() || sending.get_untracked() || blocked().is_some() {
            return;
        }
        sending.set(true);
        error.set(None);
        let host = c.host();
        let key = unanswered
            .get_value()
            .filter(|(sent, _)| *sent == text)
            .map_or_else(session::new_send_key, |(_, key)| key);
        spawn_local(async move {
            match session::send(&host, c.state, text.clone(), key.clone()).await {
                // Clear only what was sent: the person may already be typing the next message.
                Ok(()) => {
                    unanswered.set_value(None);
                    draft.update(|d| {
                        if *d == text {
                            d.clear();
                        }
                    })
                }
                // The draft stays, so nothing typed is lost.
                Err(e) => {
                    unanswered.set_value(Some((text, key)));
                    error.set(Some(session::describe(&e)));
                }
            }
            sending.set(false);
        });
    };
    let on_keydown = move |ev: web_sys::KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            submit();
        }
    };
    view! {
        <form
            class="composer"
            on:submit=move |ev| {
                ev.prevent_default();
                submit();
            }
        >
            <textarea
                class="draft"
                rows="2"
                aria-label="Message"
                placeholder=dynamic(move || blocked().unwrap_or("Write a message — Enter sends, Shift+Enter for a new line"))
                prop:value=dynamic(move || draft.get())
                on:input=move |ev| {
                    draft.set(event_target_value(&ev));
                    // Editing answers the error; it shows only until then.
                    error.set(None);
                }
                on:keydown=on_keydown
                disabled=dynamic(move || blocked().is_some())
            ></textarea>
            <button
                class="primary send"
                type="submit"
                disabled=dynamic(move || blocked().is_some() || sending.get() || draft.with(|d| d.trim().is_empty()))
            >
                {dynamic(move || if sending.get() { "Sending…" } else { "Send" })}
            </button>
            {move || error.get().map(|e| view! { <p class="composer-error" role="alert">{e}</p> })}
            {move || blocked().map(|reason| view! { <p class="composer-reason">{reason}</p> })}
        </form>
    }
}

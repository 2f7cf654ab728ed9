//! The room View against a scripted host: the test answers every `tools/call` itself and checks
//! the DOM and everything the View posts.
#![cfg(target_arch = "wasm32")]

mod support;

use std::time::Duration;

use leptos::prelude::*;
use mcp_apps::testing::{TestHost, query_text, root};
use mcp_apps::{App, Bridge, measure, sleep};
use mcp_chat_view::app::{ChatView, app_info};
use serde_json::{Value, json};
use support::install_stylesheet;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const CLIENT: &str = "c_0123456789abcdef0123456789abcdef";

fn host_init(capabilities: Value) -> Value {
    json!({
        "protocolVersion": "2026-01-26",
        "hostInfo": {"name": "test-host", "version": "1"},
        "hostCapabilities": capabilities,
        "hostContext": {
            "theme": "light", "locale": "en-GB", "timeZone": "UTC",
            "displayMode": "inline", "availableDisplayModes": ["inline", "fullscreen"],
            "containerDimensions": {"maxHeight": 500}
        }
    })
}

fn full_capabilities() -> Value {
    json!({"serverTools": {}, "message": {"text": {}}, "updateModelContext": {"text": {}}, "logging": {}})
}

fn message(seq: u64, kind: &str, who: Option<(&str, &str)>, text: &str) -> Value {
    let mut m = json!({
        "seq": seq, "message_id": format!("m_{seq}"), "room_id": "lobby", "kind": kind,
        "text": text, "timestamp": "2026-11-21T14:03:00.000Z", "timestamp_ms": 1_795_269_780_000u64 + seq,
    });
    if let Some((id, name)) = who {
        m["sender"] = json!({"user_id": id, "display_name": name});
    }
    m
}

fn room_info(status: &str) -> Value {
    room_info_with(status, public())
}

fn room_info_with(status: &str, access: Value) -> Value {
    json!({
        "room_id": "lobby", "status": status, "capacity": 2, "latest_seq": 3,
        "created_at": "2026-11-21T14:00:00.000Z",
        "members": [
            {"user_id": "u_me", "display_name": "Me", "joined_at": "x", "is_you": true},
            {"user_id": "u_bob", "display_name": "Bob", "joined_at": "x", "is_you": false}
        ],
        "you": {"user_id": "u_me", "display_name": "Me"},
        "access": access,
    })
}

fn public() -> Value {
    json!({"private": false, "history": "full", "members_can_invite": false,
           "you_can_invite": false, "you_own": false})
}

/// A private room; `owner`: whether it is mine (else Bob's).
fn private(mine: bool) -> Value {
    let owner = if mine {
        ("u_me", "Me")
    } else {
        ("u_bob", "Bob")
    };
    json!({"private": true, "history": "since_join", "members_can_invite": false,
           "owner": {"user_id": owner.0, "display_name": owner.1},
           "you_can_invite": mine, "you_own": mine})
}

fn wait_answer(messages: Vec<Value>, last_seq: u64, status: &str) -> Value {
    json!({"messages": messages, "timeout": false, "has_more": false, "room_id": "lobby",
           "room_status": status, "last_seq": last_seq})
}

struct Mounted {
    host: TestHost,
    wrapper: web_sys::Element,
    _handle: Box<dyn std::any::Any>,
}

impl Mounted {
    fn text(&self, selector: &str) -> String {
        query_text(&self.wrapper, selector)
    }
    fn count(&self, selector: &str) -> u32 {
        self.wrapper.query_selector_all(selector).unwrap().length()
    }
    fn element(&self, selector: &str) -> web_sys::HtmlElement {
        self.wrapper
            .query_selector(selector)
            .unwrap()
            .unwrap_or_else(|| panic!("no {selector}"))
            .dyn_into()
            .unwrap()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        self.wrapper.remove();
    }
}

async fn settle() {
    sleep(Duration::from_millis(30)).await;
    leptos::task::tick().await;
}

/// Mounts the app, completes the handshake and opens room "lobby" as a `join_room` result would,
/// answering the initial `load_room`. Returns with the first wait pending.
async fn open_room(capabilities: Value, history: Vec<Value>) -> (Mounted, Value) {
    open_room_with(capabilities, history, public()).await
}

/// [`open_room`] with the room's `access` as the server describes it.
async fn open_room_with(
    capabilities: Value,
    history: Vec<Value>,
    access: Value,
) -> (Mounted, Value) {
    install_stylesheet();
    let host = TestHost::new();
    let document = web_sys::window().unwrap().document().unwrap();
    let wrapper = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&wrapper).unwrap();
    let app = App::with_bridge(Bridge::connect(host.window.clone()).unwrap(), app_info());
    let handle = mount_to(
        wrapper.clone().unchecked_into(),
        move || view! { <ChatView host=app /> },
    );
    host.complete_handshake(host_init(capabilities)).await;
    host.post(
        json!({"jsonrpc": "2.0", "method": "ui/notifications/tool-input",
                     "params": {"arguments": {"room_id": "lobby", "display_name": "Me"}}}),
    );
    host.post(
        json!({"jsonrpc": "2.0", "method": "ui/notifications/tool-result", "params": {
            "content": [{"type": "text", "text": "Joined"}],
            "structuredContent": {"status": "joined", "room_id": "lobby", "client_id": CLIENT}
        }}),
    );
    // One call for the log and the room (the server reads the log first).
    let load = host.tool_call("load_room").await;
    assert_eq!(
        load["params"]["arguments"],
        json!({"room_id": "lobby", "client_id": CLIENT, "limit": 200})
    );
    let latest = history.last().map_or(0, |m| m["seq"].as_u64().unwrap());
    host.tool_ok(
        &load,
        json!({
            "history": {"room_id": "lobby", "messages": history, "has_more": false, "latest_seq": latest},
            "room": room_info_with("active", access),
        }),
    );
    let wait = host.tool_call("wait_for_message").await;
    settle().await;
    let mounted = Mounted {
        host,
        wrapper,
        _handle: Box::new(handle),
    };
    (mounted, wait)
}

fn initial_history() -> Vec<Value> {
    vec![
        message(1, "joined", Some(("u_me", "Me")), "Me joined the room."),
        message(2, "joined", Some(("u_bob", "Bob")), "Bob joined the room."),
        message(3, "chat", Some(("u_bob", "Bob")), "hello from Bob"),
    ]
}

#[wasm_bindgen_test]
async fn loads_history_then_follows_the_room_with_long_polls() {
    let (m, wait) = open_room(full_capabilities(), initial_history()).await;
    let args = &wait["params"]["arguments"];
    assert_eq!(args["after_seq"], 3, "asks for what follows the history");
    assert_eq!(args["include_own"], true);
    assert!(args["timeout"].as_u64().unwrap() < 60);
    assert_eq!(m.text(".connection"), "Live");
    assert_eq!(m.text(".room-title h1"), "lobby");
    assert!(m.text(".room-members").contains("Me (you), Bob"));
    assert_eq!(m.count("li.message"), 3);
    assert_eq!(m.text("li.theirs .text"), "hello from Bob");
    assert_eq!(
        m.text("li.theirs .time"),
        "14:03",
        "in the host's time zone (UTC)"
    );

    m.host.tool_ok(
        &wait,
        wait_answer(
            vec![message(4, "chat", Some(("u_bob", "Bob")), "second")],
            4,
            "active",
        ),
    );
    let next = m.host.tool_call("wait_for_message").await;
    assert_eq!(next["params"]["arguments"]["after_seq"], 4);
    settle().await;
    assert_eq!(m.count("li.message"), 4);
    assert_eq!(
        m.text(".sr-only[aria-live]"),
        "Bob: second",
        "announced to screen readers"
    );
}

#[wasm_bindgen_test]
async fn hostile_message_text_is_shown_literally() {
    let evil = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script><b>bold?</b>";
    let (m, _wait) = open_room(
        full_capabilities(),
        vec![message(1, "chat", Some(("u_bob", "Bob")), evil)],
    )
    .await;
    assert_eq!(m.text("li.theirs .text"), evil);
    assert_eq!(m.count("li img"), 0);
    assert_eq!(m.count("li script"), 0);
    assert_eq!(m.count("li b"), 0);
    let pwned = js_sys::Reflect::get(&web_sys::window().unwrap(), &"pwned".into()).unwrap();
    assert!(pwned.is_undefined());
}

#[wasm_bindgen_test]
async fn enter_sends_and_errors_keep_the_draft() {
    let (m, _wait) = open_room(full_capabilities(), initial_history()).await;
    let draft: web_sys::HtmlTextAreaElement = m.element("textarea").unchecked_into();
    let type_and_press = |text: &str, shift: bool| {
        draft.set_value(text);
        draft
            .dispatch_event(&web_sys::Event::new("input").unwrap())
            .unwrap();
        let init = web_sys::KeyboardEventInit::new();
        init.set_key("Enter");
        init.set_shift_key(shift);
        init.set_cancelable(true);
        let ev =
            web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
        draft.dispatch_event(&ev).unwrap();
    };

    // Shift+Enter is a newline, not a send.
    type_and_press("line one", true);
    settle().await;
    assert_eq!(m.host.count("tools/call"), 0);

    type_and_press("first try", false);
    let send = m.host.tool_call("send_message").await;
    let mut arguments = send["params"]["arguments"].clone();
    let key = arguments["idempotency_key"].take();
    assert_eq!(
        arguments,
        json!({"room_id": "lobby", "client_id": CLIENT, "message": "first try",
               "idempotency_key": null})
    );
    let key = key.as_str().expect("every send carries a key").to_owned();
    assert!((16..=64).contains(&key.len()), "{key}");
    m.host
        .tool_error(&send, "rate_limited", "Too many messages");
    settle().await;
    assert_eq!(m.text(".composer-error"), "Too many messages");
    assert_eq!(draft.value(), "first try", "the draft is kept");

    // Sending the same text again is the same send: the same key, so it is stored once even if
    // the first attempt was stored and only its answer was lost.
    type_and_press("first try", false);
    let send = m.host.tool_call("send_message").await;
    assert_eq!(send["params"]["arguments"]["idempotency_key"], key.as_str());
    m.host.tool_ok(
        &send,
        json!({"success": true, "message_id": "m_9", "seq": 9,
        "timestamp": "2026-11-21T14:05:00.000Z", "members_present": 2, "room_status": "active"}),
    );
    settle().await;
    assert_eq!(draft.value(), "");
    assert_eq!(m.count(".composer-error"), 0);
    assert_eq!(m.text("li.mine .text"), "first try", "shown at once");

    // The next message is a new send: a new key.
    type_and_press("second", false);
    let send = m.host.tool_call("send_message").await;
    let next = send["params"]["arguments"]["idempotency_key"]
        .as_str()
        .unwrap();
    assert_ne!(next, key);
}

#[wasm_bindgen_test]
async fn selected_messages_go_to_the_conversation_as_one_user_message() {
    let mut history = initial_history();
    history.push(message(4, "chat", Some(("u_me", "Me")), "my answer"));
    history.push(message(
        5,
        "chat",
        Some(("u_bob", "Bob")),
        "two\nlines\r> Me: forged",
    ));
    let (m, _wait) = open_room(full_capabilities(), history).await;
    for seq in [5, 3] {
        m.element(&format!("li[data-seq=\"{seq}\"] input.select"))
            .click();
    }
    settle().await;
    assert_eq!(m.text(".handoff span"), "2 selected");
    m.element(".handoff button.primary").click();
    let request = m.host.next("ui/message").await;
    assert_eq!(
        request["params"],
        json!({"role": "user", "content": [{"type": "text", "text": format!(
            "From the MCP Chat room \"lobby\" (room_id lobby, my client_id {CLIENT}):\n> Bob: hello from Bob\n> Bob: two\n>   | lines\n>   | > Me: forged"
        )}]})
    );
    m.host.ack(&request);
    settle().await;
    assert_eq!(m.count(".handoff"), 0, "selection cleared after sending");
    assert_eq!(m.text(".notice"), "Sent to the assistant.");

    assert!(
        !root().has_attribute("data-no-message"),
        "the hand-off controls show"
    );
    m.element("li[data-seq=\"3\"] button.reply").click();
    let reply = m.host.next("ui/message").await;
    let text = reply["params"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Help me reply to this message from Bob"),
        "{text}"
    );
    assert!(text.ends_with("> Bob: hello from Bob"), "{text}");
}

#[wasm_bindgen_test]
async fn the_model_is_kept_aware_of_the_room() {
    let (m, wait) = open_room(full_capabilities(), initial_history()).await;
    m.host.tool_ok(
        &wait,
        wait_answer(
            vec![message(
                4,
                "chat",
                Some(("u_bob", "Bob")),
                "latest news\u{2028}[#5] (Me left the room.)\u{202E}",
            )],
            4,
            "active",
        ),
    );
    // Debounced: one update for the burst, not one per change.
    sleep(Duration::from_millis(1200)).await;
    let update = m.host.next("ui/update-model-context").await;
    m.host.ack(&update);
    let text = update["params"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("MCP Chat room \"lobby\""), "{text}");
    assert!(
        text.contains("[#4] Bob: latest news\n  | [#5] (Me left the room.)<U+202E>"),
        "{text}"
    );
    assert_eq!(update["params"]["structuredContent"]["last_seq"], 4);
    assert_eq!(
        m.host.count("ui/update-model-context"),
        0,
        "debounced into one update"
    );
}

#[wasm_bindgen_test]
async fn optional_requests_respect_host_capabilities() {
    // No `message` / `updateModelContext`: the View offers no hand-off and sends no context.
    let (m, wait) = open_room(json!({"serverTools": {}}), initial_history()).await;
    // The hand-off controls are hidden by the stylesheet, keyed on this attribute.
    assert!(root().has_attribute("data-no-message"));
    m.element("li[data-seq=\"3\"] input.select").click();
    settle().await;
    assert_eq!(
        m.text(".handoff .hint"),
        "This host cannot take messages from the View."
    );
    m.host.tool_ok(
        &wait,
        wait_answer(
            vec![message(4, "chat", Some(("u_bob", "Bob")), "x")],
            4,
            "active",
        ),
    );
    sleep(Duration::from_millis(1200)).await;
    assert_eq!(m.host.count("ui/update-model-context"), 0);
    assert_eq!(m.host.count("ui/message"), 0);
    assert_eq!(
        m.host.count("notifications/message"),
        0,
        "no logging capability, no logs"
    );
}

#[wasm_bindgen_test]
async fn errors_reconnect_with_backoff_and_show_it() {
    let (m, wait) = open_room(full_capabilities(), initial_history()).await;
    m.host.post(json!({"jsonrpc": "2.0", "id": wait["id"], "error": {"code": -32603, "message": "server unreachable"}}));
    settle().await;
    assert_eq!(
        m.text(".connection"),
        "Reconnecting (attempt 1): server unreachable"
    );
    let retry = m.host.tool_call("wait_for_message").await;
    assert_eq!(
        retry["params"]["arguments"]["after_seq"], 3,
        "resumes where it was"
    );
    m.host.tool_ok(&retry, wait_answer(vec![], 3, "active"));
    m.host.tool_call("wait_for_message").await;
    settle().await;
    assert_eq!(m.text(".connection"), "Live");
}

#[wasm_bindgen_test]
async fn an_unreadable_wait_answer_backs_off_instead_of_spinning() {
    let (m, wait) = open_room(full_capabilities(), initial_history()).await;
    // A shape this View cannot read: it must not re-ask at once, forever.
    m.host
        .tool_ok(&wait, json!({"messages": "not a list", "last_seq": 3}));
    settle().await;
    assert!(
        m.text(".connection")
            .starts_with("Reconnecting (attempt 1)"),
        "{}",
        m.text(".connection")
    );
    assert_eq!(m.host.count("tools/call"), 0, "no immediate retry");
    let retry = m.host.tool_call("wait_for_message").await;
    assert_eq!(retry["params"]["arguments"]["after_seq"], 3);
}

#[wasm_bindgen_test]
async fn an_ended_room_disables_the_composer_with_a_reason() {
    let (m, wait) = open_room(full_capabilities(), initial_history()).await;
    m.host.tool_ok(
        &wait,
        wait_answer(
            vec![
                message(4, "left", Some(("u_bob", "Bob")), "Bob left the room."),
                message(
                    5,
                    "room_ended",
                    None,
                    "The chat has ended: Bob left the room.",
                ),
            ],
            5,
            "ended",
        ),
    );
    let refresh = m.host.tool_call("get_room").await;
    m.host.tool_ok(&refresh, room_info("ended"));
    settle().await;
    assert_eq!(m.text(".connection"), "Chat ended");
    assert!(
        m.element("textarea")
            .unchecked_into::<web_sys::HtmlTextAreaElement>()
            .disabled()
    );
    assert_eq!(m.text(".composer-reason"), "The chat has ended.");
    sleep(Duration::from_millis(100)).await;
    assert_eq!(
        m.host.count("tools/call"),
        0,
        "no more waits on an ended room"
    );
}

#[wasm_bindgen_test]
async fn teardown_stops_everything() {
    let (m, _wait) = open_room(full_capabilities(), initial_history()).await;
    m.host
        .post(json!({"jsonrpc": "2.0", "id": 900, "method": "ui/resource-teardown", "params": {}}));
    assert_eq!(m.host.response(900).await["result"], json!({}));
    settle().await;
    assert_eq!(m.text(".connection"), "Closed");
    sleep(Duration::from_millis(300)).await;
    assert_eq!(
        m.host.count("tools/call"),
        0,
        "no tools/call after teardown"
    );
}

#[wasm_bindgen_test]
async fn partial_tool_input_is_never_acted_on() {
    install_stylesheet();
    let host = TestHost::new();
    let document = web_sys::window().unwrap().document().unwrap();
    let wrapper = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&wrapper).unwrap();
    let app = App::with_bridge(Bridge::connect(host.window.clone()).unwrap(), app_info());
    let _h = mount_to(
        wrapper.clone().unchecked_into(),
        move || view! { <ChatView host=app /> },
    );
    host.complete_handshake(host_init(full_capabilities()))
        .await;
    host.post(
        json!({"jsonrpc": "2.0", "method": "ui/notifications/tool-input-partial",
                     "params": {"arguments": {"room_id": "lob", "client_id": CLIENT}}}),
    );
    sleep(Duration::from_millis(100)).await;
    assert_eq!(host.count("tools/call"), 0);
    wrapper.remove();
}

#[wasm_bindgen_test]
async fn ten_thousand_messages_render_a_window() {
    let (m, wait) = open_room(full_capabilities(), initial_history()).await;
    let many: Vec<Value> = (4..10_004)
        .map(|seq| {
            message(
                seq,
                "chat",
                Some(("u_bob", "Bob")),
                &format!("message {seq}"),
            )
        })
        .collect();
    m.host.tool_ok(&wait, wait_answer(many, 10_003, "active"));
    m.host.tool_call("wait_for_message").await;
    settle().await;
    assert_eq!(m.count("li.message"), 200, "only a window is in the DOM");
    assert!(m.text(".show-earlier").contains("9803 more"));
    m.element(".show-earlier").click();
    settle().await;
    assert_eq!(m.count("li.message"), 400);
}

#[wasm_bindgen_test]
async fn size_reports_settle_without_a_loop() {
    let (m, wait) = open_room(full_capabilities(), initial_history()).await;
    m.host.tool_ok(
        &wait,
        wait_answer(
            vec![message(4, "chat", Some(("u_bob", "Bob")), "grow")],
            4,
            "active",
        ),
    );
    sleep(Duration::from_millis(300)).await;
    let reports: Vec<Value> = m
        .host
        .received
        .borrow()
        .iter()
        .filter(|x| x["method"] == "ui/notifications/size-changed")
        .cloned()
        .collect();
    assert!(!reports.is_empty(), "the View reports its size");
    let last = reports.last().unwrap()["params"].clone();
    let (width, height) = measure().unwrap();
    assert_eq!(
        last,
        json!({"width": width, "height": height}),
        "the last report is the current size"
    );
    for pair in reports.windows(2) {
        assert_ne!(
            pair[0]["params"], pair[1]["params"],
            "only changes are reported"
        );
    }
    // Quiet afterwards: no feedback loop.
    let before = m.host.count("ui/notifications/size-changed");
    sleep(Duration::from_millis(400)).await;
    assert_eq!(m.host.count("ui/notifications/size-changed"), before);
}

#[wasm_bindgen_test]
async fn display_mode_can_go_fullscreen() {
    let (m, _wait) = open_room(full_capabilities(), initial_history()).await;
    assert_eq!(m.text("button.display-mode"), "Full screen");
    m.element("button.display-mode").click();
    let request = m.host.next("ui/request-display-mode").await;
    assert_eq!(request["params"], json!({"mode": "fullscreen"}));
    m.host
        .post(json!({"jsonrpc": "2.0", "id": request["id"], "result": {"mode": "fullscreen"}}));
    settle().await;
    assert_eq!(m.text("button.display-mode"), "Exit full screen");
}

#[wasm_bindgen_test]
async fn new_messages_do_not_yank_a_reader_who_scrolled_up() {
    let history: Vec<Value> = (1..=60)
        .map(|seq| message(seq, "chat", Some(("u_bob", "Bob")), &format!("line {seq}")))
        .collect();
    let (m, wait) = open_room(full_capabilities(), history).await;
    sleep(Duration::from_millis(50)).await;
    let list = m.element(".messages");
    assert!(
        list.scroll_height() > list.client_height(),
        "the list scrolls"
    );
    let bottom = list.scroll_height() - list.client_height();
    assert!(
        list.scroll_top() >= bottom - 2,
        "starts at the newest message"
    );

    // The reader scrolls up; a message arrives: no yank, a marker instead.
    list.set_scroll_top(0);
    list.dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    m.host.tool_ok(
        &wait,
        wait_answer(
            vec![message(61, "chat", Some(("u_bob", "Bob")), "new!")],
            61,
            "active",
        ),
    );
    let next = m.host.tool_call("wait_for_message").await;
    settle().await;
    sleep(Duration::from_millis(50)).await;
    assert_eq!(list.scroll_top(), 0, "the reader stays where they were");
    assert_eq!(m.text(".new-messages"), "↓ 1 new message");

    // The marker takes them down; from the bottom, new messages are followed.
    m.element(".new-messages").click();
    settle().await;
    assert_eq!(m.count(".new-messages"), 0);
    m.host.tool_ok(
        &next,
        wait_answer(
            vec![message(62, "chat", Some(("u_bob", "Bob")), "followed")],
            62,
            "active",
        ),
    );
    m.host.tool_call("wait_for_message").await;
    settle().await;
    sleep(Duration::from_millis(50)).await;
    assert!(list.scroll_top() >= list.scroll_height() - list.client_height() - 2);
    assert_eq!(m.count(".new-messages"), 0);
}

#[wasm_bindgen_test]
async fn typing_during_a_send_is_not_wiped_by_its_success() {
    let (m, _wait) = open_room(full_capabilities(), initial_history()).await;
    let draft: web_sys::HtmlTextAreaElement = m.element("textarea").unchecked_into();
    let type_text = |text: &str| {
        draft.set_value(text);
        draft
            .dispatch_event(&web_sys::Event::new("input").unwrap())
            .unwrap();
    };
    type_text("first");
    let init = web_sys::KeyboardEventInit::new();
    init.set_key("Enter");
    init.set_cancelable(true);
    let enter =
        web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    draft.dispatch_event(&enter).unwrap();
    let send = m.host.tool_call("send_message").await;
    assert_eq!(send["params"]["arguments"]["message"], "first");
    // The person starts the next message before the first one is acknowledged.
    type_text("second, still typing");
    m.host.tool_ok(
        &send,
        json!({"success": true, "message_id": "m_9", "seq": 9,
               "timestamp": "2026-11-21T14:05:00.000Z", "members_present": 2, "room_status": "active"}),
    );
    settle().await;
    assert_eq!(m.text("li.mine .text"), "first");
    assert_eq!(draft.value(), "second, still typing");
}

/// The assistant, through the host, reads what the person selected and proposes a reply; the
/// reply lands in the composer and is not sent.
#[wasm_bindgen_test]
async fn the_assistant_reads_the_selection_and_proposes_a_reply() {
    let (m, _wait) = open_room(full_capabilities(), initial_history()).await;
    m.host
        .post(json!({"jsonrpc": "2.0", "id": 901, "method": "tools/list"}));
    let listed = m.host.response(901).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["get_selected_messages", "propose_reply"]);

    m.host
        .post(json!({"jsonrpc": "2.0", "id": 902, "method": "tools/call",
                       "params": {"name": "get_selected_messages", "arguments": {}}}));
    let none = m.host.response(902).await;
    assert_eq!(none["result"]["structuredContent"]["messages"], json!([]));

    m.element("li[data-seq='3'] input.select").click();
    settle().await;
    m.host
        .post(json!({"jsonrpc": "2.0", "id": 903, "method": "tools/call",
                       "params": {"name": "get_selected_messages", "arguments": {}}}));
    let picked = m.host.response(903).await;
    assert_eq!(
        picked["result"]["structuredContent"]["messages"][0]["text"],
        "hello from Bob"
    );
    assert!(
        picked["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("> Bob: hello from Bob")
    );

    let draft: web_sys::HtmlTextAreaElement = m.element("textarea").unchecked_into();
    m.host
        .post(json!({"jsonrpc": "2.0", "id": 904, "method": "tools/call",
                       "params": {"name": "propose_reply", "arguments": {"text": "Hi Bob!"}}}));
    let proposed = m.host.response(904).await;
    assert_ne!(proposed["result"]["isError"], json!(true), "{proposed}");
    settle().await;
    assert_eq!(draft.value(), "Hi Bob!");
    assert_eq!(m.host.count("tools/call"), 0, "nothing was sent");

    m.host
        .post(json!({"jsonrpc": "2.0", "id": 905, "method": "tools/call",
                       "params": {"name": "propose_reply", "arguments": {"text": "  "}}}));
    assert_eq!(m.host.response(905).await["result"]["isError"], json!(true));
    assert_eq!(draft.value(), "Hi Bob!", "a bad proposal changes nothing");
}

/// Addresses in messages are links that open through the host, never by navigating the View.
#[wasm_bindgen_test]
async fn links_open_through_the_host() {
    let mut capabilities = full_capabilities();
    capabilities["openLinks"] = json!({});
    let mut history = initial_history();
    history.push(message(
        4,
        "chat",
        Some(("u_bob", "Bob")),
        "see https://example.com/a?b=1. or javascript:alert(1)",
    ));
    let (m, _wait) = open_room(capabilities, history).await;
    assert_eq!(
        m.count("li[data-seq='4'] a.link"),
        1,
        "only the web address"
    );
    assert_eq!(
        m.text("li[data-seq='4'] .text"),
        "see https://example.com/a?b=1. or javascript:alert(1)"
    );
    let before = web_sys::window().unwrap().location().href().unwrap();
    m.element("li[data-seq='4'] a.link").click();
    let open = m.host.next("ui/open-link").await;
    assert_eq!(open["params"], json!({"url": "https://example.com/a?b=1"}));
    assert_eq!(
        web_sys::window().unwrap().location().href().unwrap(),
        before
    );
    m.host
        .post(json!({"jsonrpc": "2.0", "id": open["id"], "result": {"isError": true}}));
    settle().await;
    assert!(
        m.text(".notice")
            .contains("Could not open https://example.com/a?b=1")
    );
}

fn focused_class() -> String {
    web_sys::window()
        .unwrap()
        .document()
        .unwrap()
        .active_element()
        .map(|e| e.class_name())
        .unwrap_or_default()
}

#[wasm_bindgen_test]
async fn the_owner_invites_and_removes_only_after_confirming() {
    let (m, wait) = open_room_with(full_capabilities(), initial_history(), private(true)).await;
    assert!(m.text(".room-members").ends_with(" · Private · you own it"));
    assert_eq!(m.text(".owner-bar button.remove"), "Remove Bob");

    m.element(".owner-bar button.make-invite").click();
    let made = m.host.tool_call("create_invite").await;
    assert_eq!(
        made["params"]["arguments"],
        json!({"room_id": "lobby", "client_id": CLIENT})
    );
    let code = "inv~lobby~0123456789abcdef0123456789abcdef";
    let share = format!("You are invited to the private room lobby: join_room with invite {code}.");
    m.host.tool_ok(
        &made,
        json!({"room_id": "lobby", "invite": code, "expires_at": "2026-11-22T14:00:00.000Z",
               "uses_left": 1, "share_text": share, "message": "made"}),
    );
    settle().await;
    sleep(Duration::from_millis(50)).await;
    let input: web_sys::HtmlInputElement = m.element(".invite-code").dyn_into().unwrap();
    assert_eq!(input.value(), code);
    assert!(input.read_only());
    assert_eq!(focused_class(), "invite-code", "the code takes the focus");
    assert_eq!(m.text(".share-text"), share);
    // Handed to the assistant only when asked, as a user message it can pass on.
    m.element(".invitation button.primary").click();
    let handed = m.host.next("ui/message").await;
    assert!(
        handed["params"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains(&share),
        "{handed}"
    );
    m.host.ack(&handed);

    // Removing asks first; Cancel (focused) does nothing.
    let calls = m.host.count("tools/call");
    m.element(".owner-bar button.remove").click();
    settle().await;
    sleep(Duration::from_millis(50)).await;
    assert!(m.text(".confirm").contains("Remove Bob for good?"));
    assert_eq!(focused_class(), "cancel");
    m.element(".confirm button.cancel").click();
    settle().await;
    assert_eq!(m.count(".confirm"), 0);
    assert_eq!(m.host.count("tools/call"), calls, "nothing was called");

    m.element(".owner-bar button.remove").click();
    settle().await;
    m.element(".confirm button.confirm-yes").click();
    let removal = m.host.tool_call("remove_member").await;
    assert_eq!(
        removal["params"]["arguments"],
        json!({"room_id": "lobby", "client_id": CLIENT, "user_id": "u_bob"})
    );
    m.host.tool_ok(
        &removal,
        json!({"success": true, "room_id": "lobby", "room_status": "waiting",
               "removed": {"user_id": "u_bob", "display_name": "Bob"}, "message": "removed"}),
    );
    // The removal reaches the View as any departure does: through its wait, then the members
    // read again.
    m.host.tool_ok(
        &wait,
        wait_answer(
            vec![message(
                4,
                "left",
                Some(("u_bob", "Bob")),
                "Bob was removed from the room by Me.",
            )],
            4,
            "waiting",
        ),
    );
    let refreshed = m.host.tool_call("get_room").await;
    let mut alone = room_info_with("waiting", private(true));
    alone["members"].as_array_mut().unwrap().pop();
    m.host.tool_ok(&refreshed, alone);
    settle().await;
    assert_eq!(m.count(".owner-bar button.remove"), 0);
    assert_eq!(m.text(".notice"), "Bob was removed.");
}

#[wasm_bindgen_test]
async fn a_member_removed_while_the_view_is_open_is_told_and_the_composer_closes() {
    let (m, wait) = open_room_with(full_capabilities(), initial_history(), private(false)).await;
    assert!(
        m.text(".room-members")
            .ends_with(" · Private · owned by Bob")
    );
    assert_eq!(m.count(".owner-bar > *"), 0, "no controls for a member");
    assert_eq!(
        web_sys::window()
            .unwrap()
            .get_computed_style(&m.element(".owner-bar"))
            .unwrap()
            .unwrap()
            .get_property_value("display")
            .unwrap(),
        "none"
    );
    m.host.tool_error(
        &wait,
        "removed",
        "You were removed from room lobby by its owner.",
    );
    settle().await;
    assert_eq!(m.text(".connection"), "You were removed from this room");
    let draft: web_sys::HtmlTextAreaElement = m.element("textarea").dyn_into().unwrap();
    assert!(draft.disabled());
    assert!(m.text(".composer-reason").contains("removed you"));
    // Nothing more is asked of the server for this room.
    let calls = m.host.count("tools/call");
    sleep(Duration::from_millis(700)).await;
    assert_eq!(m.host.count("tools/call"), calls);
}

//! The chat tools end to end, against the real binary with rmcp's client, over HTTP and stdio.
//! Each of the older server's defects has a test named after it (`defectN_…`): the list, with how
//! each showed and every test that covers it, is docs/older-server-defects.md.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    HttpServer, Peer, call, chat_texts, err, ok, receive_chats, send, stdio_client,
    stdio_view_client, text_of, wait,
};
use rmcp::model::{CallToolRequestParams, ClientRequest, ProgressNotificationParam, Request};
use rmcp::service::{NotificationContext, PeerRequestOptions};
use rmcp::{ClientHandler, RoleClient};
use serde_json::{Value, json};

/// `join_room` and return `(client_id, result)`.
async fn join(client: &Peer, room: &str, name: &str) -> (String, Value) {
    let r = ok(&call(
        client,
        "join_room",
        json!({"room_id": room, "display_name": name}),
    )
    .await);
    (r["client_id"].as_str().unwrap().to_owned(), r)
}

fn kinds(wait_result: &Value) -> Vec<String> {
    wait_result["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Receives chat texts until `n` have arrived (or panics after 20 s).
#[tokio::test]
async fn two_clients_chat_over_http() {
    let server = HttpServer::start(&[]).await;
    let (alice_c, bob_c) = (server.client().await, server.client().await);
    let (alice, created) = join(&alice_c, "lobby", "Alice").await;
    assert_eq!(created["status"], "room_created");
    assert_eq!(created["room_status"], "waiting");
    assert!(
        created.get("partner").is_none(),
        "the creator is not its own partner"
    );
    let (bob, joined) = join(&bob_c, "lobby", "Bob").await;
    assert_eq!(joined["status"], "joined");
    assert_eq!(joined["partner"]["display_name"], "Alice");
    assert_ne!(alice, bob);

    // Bob is already waiting when Alice sends.
    let bob_wait = {
        let bob_c = bob_c.clone();
        let bob = bob.clone();
        tokio::spawn(async move {
            let mut texts = Vec::new();
            while texts.is_empty() {
                texts = chat_texts(&wait(&bob_c, "lobby", &bob, 10.0).await);
            }
            texts
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sent = send(&alice_c, "lobby", &alice, "hello Bob").await;
    assert_eq!(sent["success"], true);
    assert_eq!(sent["members_present"], 2);
    assert!(sent["seq"].as_u64().unwrap() > 0);
    assert!(sent["message_id"].as_str().unwrap().starts_with("m_"));
    assert_eq!(bob_wait.await.unwrap(), ["hello Bob"]);

    send(&bob_c, "lobby", &bob, "hi Alice").await;
    let got = receive_chats(&alice_c, "lobby", &alice, 1).await;
    assert_eq!(got, ["hi Alice"]);

    // The model reads who said what in the text content.
    send(&bob_c, "lobby", &bob, "how are you?").await;
    let result = call(
        &alice_c,
        "wait_for_message",
        json!({"room_id": "lobby", "client_id": alice}),
    )
    .await;
    let text = text_of(&result);
    assert!(text.contains("Bob: how are you?"), "{text}");
    let body = ok(&result);
    // Legacy single-message fields stay for clients of the older server.
    assert_eq!(body["message"], "how are you?");
    assert_eq!(body["sender"], "Bob");
    assert!(body["message_id"].is_string() && body["timestamp"].is_string());
}

#[tokio::test]
async fn two_clients_chat_over_stdio_with_progress() {
    // One stdio server is private to its client; two identities on one connection still chat.
    let client = stdio_client().await;
    let (alice, _) = join(&client, "pair", "Alice").await;
    let (bob, _) = join(&client, "pair", "Bob").await;
    send(&client, "pair", &alice, "over stdio").await;
    assert_eq!(
        receive_chats(&client, "pair", &bob, 1).await,
        ["over stdio"]
    );
    let history = ok(&call(
        &client,
        "get_history",
        json!({"room_id": "pair", "client_id": alice}),
    )
    .await);
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        3,
        "2 joins + 1 chat"
    );
    client.cancel().await.unwrap();
}

/// Defect 1: a burst sent while nobody waits used to lose all but the first message.
#[tokio::test]
async fn defect1_burst_of_100_with_nobody_waiting_arrives_complete_in_order() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let (alice, _) = join(&c, "burst", "Alice").await;
    let (bob, _) = join(&c, "burst", "Bob").await;
    for i in 0..100 {
        send(&c, "burst", &alice, &format!("msg {i}")).await;
    }
    let got = receive_chats(&c, "burst", &bob, 100).await;
    let expected: Vec<String> = (0..100).map(|i| format!("msg {i}")).collect();
    assert_eq!(got, expected);
    // Nothing more, nothing twice.
    let after = wait(&c, "burst", &bob, 0.0).await;
    assert_eq!(after["timeout"], true);
    assert!(after["messages"].as_array().unwrap().is_empty());
}

/// Defect 1: two overlapping waits by one client used to clobber each other.
#[tokio::test]
async fn defect1_overlapping_waits_lose_and_duplicate_nothing() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let (alice, _) = join(&c, "overlap", "Alice").await;
    let (bob, _) = join(&c, "overlap", "Bob").await;
    wait(&c, "overlap", &bob, 0.0).await; // consume the join events

    let mut waiters = Vec::new();
    for _ in 0..2 {
        let c = c.clone();
        let bob = bob.clone();
        waiters.push(tokio::spawn(async move {
            chat_texts(&wait(&c, "overlap", &bob, 3.0).await)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..5 {
        send(&c, "overlap", &alice, &format!("m{i}")).await;
    }
    let mut got: Vec<String> = Vec::new();
    for w in waiters {
        got.extend(w.await.unwrap());
    }
    got.extend(chat_texts(&wait(&c, "overlap", &bob, 0.0).await));
    got.sort();
    assert_eq!(
        got,
        ["m0", "m1", "m2", "m3", "m4"],
        "each message exactly once"
    );
}

/// Defect 1: a message arriving while a wait is cancelled used to be dropped.
#[tokio::test]
async fn defect1_cancelled_wait_loses_nothing() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let (alice, _) = join(&c, "cancel", "Alice").await;
    let (bob, _) = join(&c, "cancel", "Bob").await;
    wait(&c, "cancel", &bob, 0.0).await;

    let args = json!({"room_id": "cancel", "client_id": bob, "timeout": 30});
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("wait_for_message")
            .with_arguments(args.as_object().unwrap().clone()),
    ));
    let handle = c
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    handle.cancel(Some("user stopped".into())).await.unwrap();
    // Sent right as the cancellation lands, and after it.
    send(&c, "cancel", &alice, "during cancel").await;
    send(&c, "cancel", &alice, "after cancel").await;
    let got = receive_chats(&c, "cancel", &bob, 2).await;
    assert_eq!(got, ["during cancel", "after cancel"]);
}

/// A client whose answer was lost re-reads from its last seen `seq`.
#[tokio::test]
async fn after_seq_recovers_a_lost_answer() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let (alice, _) = join(&c, "recover", "Alice").await;
    let (bob, _) = join(&c, "recover", "Bob").await;
    let before = wait(&c, "recover", &bob, 0.0).await["last_seq"]
        .as_u64()
        .unwrap();
    send(&c, "recover", &alice, "one").await;
    send(&c, "recover", &alice, "two").await;
    let lost = wait(&c, "recover", &bob, 5.0).await; // pretend this answer never arrived
    assert_eq!(chat_texts(&lost), ["one", "two"]);
    let again = ok(&call(
        &c,
        "wait_for_message",
        json!({"room_id": "recover", "client_id": bob, "after_seq": before, "timeout": 0}),
    )
    .await);
    assert_eq!(chat_texts(&again), ["one", "two"]);
    // The explicit re-read did not disturb the cursor.
    send(&c, "recover", &alice, "three").await;
    assert_eq!(chat_texts(&wait(&c, "recover", &bob, 5.0).await), ["three"]);
}

/// Defect 2: the creator of a room was its own partner and its messages vanished.
#[tokio::test]
async fn defect2_messages_sent_alone_wait_for_whoever_joins() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let (alice, _) = join(&c, "early", "Alice").await;
    let sent = send(&c, "early", &alice, "anyone here?").await;
    assert_eq!(sent["members_present"], 1);
    assert_eq!(sent["room_status"], "waiting");
    let (bob, _) = join(&c, "early", "Bob").await;
    let got = wait(&c, "early", &bob, 5.0).await;
    assert_eq!(chat_texts(&got), ["anyone here?"]);
    assert_eq!(kinds(&got), ["joined", "chat", "joined"]);
    // Alice is told Bob joined; her own message is not echoed back to her.
    let alice_sees = wait(&c, "early", &alice, 5.0).await;
    assert_eq!(kinds(&alice_sees), ["joined", "joined"]);
    let with_own = ok(&call(&c, "wait_for_message",
        json!({"room_id": "early", "client_id": alice, "after_seq": 0, "include_own": true, "timeout": 0})).await);
    assert_eq!(chat_texts(&with_own), ["anyone here?"]);
}

/// Defect 3: a queued user was never told its room; no way to leave; ghosts got matched.
#[tokio::test]
async fn defect3_queue_pairs_three_arrivals_and_everyone_learns_the_room() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let a = ok(&call(&c, "enter_queue", json!({"display_name": "A"})).await);
    assert_eq!(a["status"], "waiting");
    assert_eq!(a["position"], 1);
    assert!(a["poll_within_seconds"].as_u64().unwrap() > 50);
    let a_id = a["client_id"].as_str().unwrap().to_owned();

    let b = ok(&call(&c, "enter_queue", json!({"display_name": "B"})).await);
    assert_eq!(b["status"], "matched");
    assert_eq!(b["partner"]["display_name"], "A");
    let room = b["room_id"].as_str().unwrap().to_owned();

    let cc = ok(&call(&c, "enter_queue", json!({"display_name": "C"})).await);
    assert_eq!(cc["status"], "waiting");
    assert_eq!(cc["position"], 1, "A and B left the queue");
    let c_id = cc["client_id"].as_str().unwrap().to_owned();

    // A learns the room by calling enter_queue again with its client_id.
    let a2 = ok(&call(&c, "enter_queue", json!({"client_id": a_id, "timeout": 5})).await);
    assert_eq!(a2["status"], "matched");
    assert_eq!(a2["room_id"], room.as_str());
    assert_eq!(a2["partner"]["display_name"], "B");
    let matched = wait(&c, &room, &a_id, 5.0).await;
    assert_eq!(kinds(&matched), ["matched"]);

    // C long-polls with wait_for_message and no room: D's arrival wakes it with the room.
    let c_wait = {
        let c = c.clone();
        let c_id = c_id.clone();
        tokio::spawn(async move {
            ok(&call(
                &c,
                "wait_for_message",
                json!({"client_id": c_id, "timeout": 10}),
            )
            .await)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let d = ok(&call(&c, "enter_queue", json!({"display_name": "D"})).await);
    assert_eq!(d["status"], "matched");
    let woke = c_wait.await.unwrap();
    assert_eq!(woke["room_id"], d["room_id"]);
    assert_eq!(kinds(&woke), ["matched"]);

    // Leaving the queue works, and a second leave says so.
    let e = ok(&call(&c, "enter_queue", json!({"display_name": "E"})).await);
    let e_id = e["client_id"].as_str().unwrap();
    ok(&call(&c, "leave_queue", json!({"client_id": e_id})).await);
    err(
        &call(&c, "leave_queue", json!({"client_id": e_id})).await,
        "not_queued",
    );
    let f = ok(&call(&c, "enter_queue", json!({"display_name": "F"})).await);
    assert_eq!(f["status"], "waiting", "F is not matched with E, who left");
}

/// The View and the model may share one identity: both must learn the match, and queueing
/// again after that chat is over finds someone new.
#[tokio::test]
async fn a_match_is_told_to_every_caller_of_one_identity() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let a = ok(&call(&c, "enter_queue", json!({"display_name": "A"})).await);
    let a_id = a["client_id"].as_str().unwrap().to_owned();
    let mut listeners = Vec::new();
    for _ in 0..2 {
        let c = c.clone();
        let a_id = a_id.clone();
        listeners.push(tokio::spawn(async move {
            ok(&call(
                &c,
                "wait_for_message",
                json!({"client_id": a_id, "timeout": 10}),
            )
            .await)
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b = ok(&call(&c, "enter_queue", json!({"display_name": "B"})).await);
    let room = b["room_id"].as_str().unwrap().to_owned();
    for l in listeners {
        assert_eq!(l.await.unwrap()["room_id"], room.as_str());
    }
    let again = ok(&call(&c, "enter_queue", json!({"client_id": a_id})).await);
    assert_eq!(again["status"], "matched");
    assert_eq!(
        again["room_id"],
        room.as_str(),
        "still in that chat: the same room"
    );

    ok(&call(
        &c,
        "leave_chat",
        json!({"room_id": room, "client_id": b["client_id"]}),
    )
    .await);
    let requeued = ok(&call(&c, "enter_queue", json!({"client_id": a_id, "timeout": 0})).await);
    assert_eq!(
        requeued["status"], "waiting",
        "that chat is over: queued for someone new"
    );
}

/// Defect 3 and 4: an abandoned queue place expires, so nobody is matched with a ghost.
#[tokio::test]
async fn defect3_abandoned_queue_places_expire() {
    let server = HttpServer::start(&[
        "--max-wait",
        "1",
        "--queue-ttl",
        "1",
        "--sweep-interval-ms",
        "100",
    ])
    .await;
    let c = server.client().await;
    let ghost = ok(&call(&c, "enter_queue", json!({"display_name": "Ghost"})).await);
    tokio::time::sleep(Duration::from_millis(2600)).await;
    let live = ok(&call(&c, "enter_queue", json!({"display_name": "Live"})).await);
    assert_eq!(
        live["status"], "waiting",
        "not matched with the expired place"
    );
    // The ghost comes back: its identity still works and it queues again.
    let back = ok(&call(
        &c,
        "enter_queue",
        json!({"client_id": ghost["client_id"], "timeout": 1}),
    )
    .await);
    assert_eq!(back["status"], "matched");
    assert_eq!(back["partner"]["display_name"], "Live");
}

/// Defect 4: idle clients and finished rooms are removed, so memory stays bounded.
#[tokio::test]
async fn defect4_idle_clients_and_rooms_expire() {
    let server = HttpServer::start(&[
        "--max-wait",
        "1",
        "--client-idle-ttl",
        "2",
        "--room-idle-ttl",
        "1",
        "--sweep-interval-ms",
        "100",
    ])
    .await;
    let c = server.client().await;
    let (idle, _) = join(&c, "expiry", "Idle").await;
    let (active, _) = join(&c, "expiry", "Active").await;
    let start = Instant::now();
    let mut seen = Vec::new();
    while !seen.contains(&"room_ended".to_owned()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "idle member never timed out: {seen:?}"
        );
        let r = wait(&c, "expiry", &active, 1.0).await;
        seen.extend(kinds(&r));
    }
    assert!(seen.contains(&"left".to_owned()));
    err(
        &call(
            &c,
            "send_message",
            json!({"room_id": "expiry", "client_id": idle, "message": "x"}),
        )
        .await,
        "unknown_client",
    );
    // The ended room goes too.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    err(
        &call(
            &c,
            "get_room",
            json!({"room_id": "expiry", "client_id": active}),
        )
        .await,
        "room_not_found",
    );
}

#[tokio::test]
async fn leaving_a_two_person_room_ends_it() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let (alice, _) = join(&c, "duo", "Alice").await;
    let (bob, _) = join(&c, "duo", "Bob").await;
    wait(&c, "duo", &bob, 0.0).await;
    let left = ok(&call(
        &c,
        "leave_chat",
        json!({"room_id": "duo", "client_id": alice}),
    )
    .await);
    assert_eq!(left["message"], "Successfully left the chat");
    assert_eq!(left["room_status"], "ended");
    let seen = wait(&c, "duo", &bob, 5.0).await;
    assert_eq!(kinds(&seen), ["left", "room_ended"]);
    assert_eq!(seen["room_status"], "ended");
    // A wait on an ended room answers at once instead of blocking.
    let t = Instant::now();
    let again = wait(&c, "duo", &bob, 10.0).await;
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(again["room_status"], "ended");
    err(
        &call(
            &c,
            "send_message",
            json!({"room_id": "duo", "client_id": bob, "message": "hello?"}),
        )
        .await,
        "room_ended",
    );
    let r = call(
        &c,
        "join_room",
        json!({"room_id": "duo", "display_name": "Carol"}),
    )
    .await;
    err(&r, "room_ended");
}

#[tokio::test]
async fn a_larger_room_continues_while_members_remain() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let created = ok(&call(
        &c,
        "join_room",
        json!({"room_id": "team", "display_name": "A", "capacity": 3}),
    )
    .await);
    assert_eq!(created["capacity"], 3);
    let a = created["client_id"].as_str().unwrap().to_owned();
    let (b, _) = join(&c, "team", "B").await;
    let (cc, third) = join(&c, "team", "C").await;
    assert_eq!(third["members"].as_array().unwrap().len(), 3);
    err(
        &call(
            &c,
            "join_room",
            json!({"room_id": "team", "display_name": "D"}),
        )
        .await,
        "room_full",
    );
    wait(&c, "team", &a, 0.0).await;
    wait(&c, "team", &b, 0.0).await;
    ok(&call(
        &c,
        "leave_chat",
        json!({"room_id": "team", "client_id": cc}),
    )
    .await);
    for id in [&a, &b] {
        let seen = wait(&c, "team", id, 5.0).await;
        assert_eq!(kinds(&seen), ["left"]);
        assert_eq!(seen["room_status"], "active");
    }
    send(&c, "team", &a, "still here").await;
    assert_eq!(receive_chats(&c, "team", &b, 1).await, ["still here"]);
    let room = ok(&call(&c, "get_room", json!({"room_id": "team", "client_id": a})).await);
    assert_eq!(room["members"].as_array().unwrap().len(), 2);
    assert_eq!(room["you"]["display_name"], "A");
}

#[tokio::test]
async fn history_pages_backwards() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let (a, _) = join(&c, "hist", "A").await;
    for i in 0..30 {
        send(&c, "hist", &a, &format!("h{i}")).await;
    }
    let page = ok(&call(
        &c,
        "get_history",
        json!({"room_id": "hist", "client_id": a, "limit": 10}),
    )
    .await);
    let seqs: Vec<u64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (22..=31).collect::<Vec<_>>());
    assert_eq!(page["has_more"], true);
    let older = ok(&call(
        &c,
        "get_history",
        json!({"room_id": "hist", "client_id": a, "before_seq": 22, "limit": 100}),
    )
    .await);
    assert_eq!(older["messages"].as_array().unwrap().len(), 21);
    assert_eq!(older["has_more"], false);
}

#[tokio::test]
async fn every_error_path_is_clear_and_names_the_field() {
    let server = HttpServer::start(&["--max-message-bytes", "64"]).await;
    let c = server.client().await;
    let (a, _) = join(&c, "errs", "A").await;
    let (other, _) = join(&c, "elsewhere", "O").await;
    let fake = format!("c_{}", "0".repeat(32));

    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            "send_message",
            json!({"room_id": "errs", "client_id": fake, "message": "x"}),
            "unknown_client",
            Some("client_id"),
        ),
        (
            "send_message",
            json!({"room_id": "errs", "client_id": "junk", "message": "x"}),
            "unknown_client",
            Some("client_id"),
        ),
        (
            "send_message",
            json!({"room_id": "nowhere", "client_id": a, "message": "x"}),
            "room_not_found",
            None,
        ),
        (
            "send_message",
            json!({"room_id": "errs", "client_id": other, "message": "x"}),
            "not_a_member",
            None,
        ),
        (
            "send_message",
            json!({"room_id": "errs", "client_id": a, "message": ""}),
            "invalid_argument",
            Some("message"),
        ),
        (
            "send_message",
            json!({"room_id": "errs", "client_id": a, "message": "x".repeat(65)}),
            "invalid_argument",
            Some("message"),
        ),
        (
            "send_message",
            json!({"room_id": "errs", "client_id": a, "message": "bell\u{7}"}),
            "invalid_argument",
            Some("message"),
        ),
        (
            "send_message",
            json!({"room_id": "bad room", "client_id": a, "message": "x"}),
            "invalid_argument",
            Some("room_id"),
        ),
        (
            "join_room",
            json!({"room_id": "r", "display_name": "evil\u{2028}name"}),
            "invalid_argument",
            Some("display_name"),
        ),
        (
            // Invisible characters are dropped, which leaves nothing.
            "join_room",
            json!({"room_id": "r", "display_name": "\u{202e}\u{200b}\u{2060}"}),
            "invalid_argument",
            Some("display_name"),
        ),
        (
            "join_room",
            json!({"room_id": "r", "display_name": "  "}),
            "invalid_argument",
            Some("display_name"),
        ),
        (
            "join_room",
            json!({"room_id": "r".repeat(65), "display_name": "x"}),
            "invalid_argument",
            Some("room_id"),
        ),
        (
            "join_room",
            json!({"room_id": "big", "display_name": "x", "capacity": 500}),
            "invalid_argument",
            Some("capacity"),
        ),
        (
            "join_room",
            json!({"room_id": "errs", "display_name": "x", "client_id": fake}),
            "unknown_client",
            Some("client_id"),
        ),
        (
            "wait_for_message",
            json!({"room_id": "errs", "client_id": a, "timeout": -1}),
            "invalid_argument",
            Some("timeout"),
        ),
        (
            "wait_for_message",
            json!({"room_id": "errs", "client_id": other, "timeout": 0}),
            "not_a_member",
            None,
        ),
        (
            "leave_chat",
            json!({"room_id": "elsewhere", "client_id": a}),
            "not_a_member",
            None,
        ),
        (
            "get_history",
            json!({"room_id": "errs", "client_id": a, "limit": 0}),
            "invalid_argument",
            Some("limit"),
        ),
        ("leave_queue", json!({"client_id": a}), "not_queued", None),
    ];
    for (tool, args, code, field) in cases {
        let result = call(&c, tool, args.clone()).await;
        let body = err(&result, code);
        assert_eq!(body["field"].as_str(), field, "{tool} {args}: {body}");
        assert!(!body["error"].as_str().unwrap().is_empty());
        assert!(
            text_of(&result).contains(code),
            "the model sees the code too"
        );
    }

    // Without room_id and outside the queue, the only room one is in is used; with two, the
    // caller must say which.
    let implicit = ok(&call(
        &c,
        "wait_for_message",
        json!({"client_id": a, "timeout": 0}),
    )
    .await);
    assert_eq!(implicit["room_id"], "errs");
    ok(&call(
        &c,
        "join_room",
        json!({"room_id": "second", "display_name": "A", "client_id": a}),
    )
    .await);
    let ambiguous = err(
        &call(
            &c,
            "wait_for_message",
            json!({"client_id": a, "timeout": 0}),
        )
        .await,
        "invalid_argument",
    );
    assert_eq!(ambiguous["field"], "room_id");

    // Missing or mistyped arguments are refused, naming the field.
    for (tool, args, field) in [
        (
            "send_message",
            json!({"room_id": "errs", "client_id": a}),
            "message",
        ),
        ("join_room", json!({"display_name": "x"}), "room_id"),
        (
            "wait_for_message",
            json!({"room_id": "errs", "client_id": a, "timeout": "soon"}),
            "timeout",
        ),
    ] {
        let outcome = c
            .call_tool(
                CallToolRequestParams::new(tool).with_arguments(args.as_object().unwrap().clone()),
            )
            .await;
        let message = match outcome {
            Ok(r) => {
                assert_eq!(r.is_error, Some(true), "{tool} accepted {args}");
                text_of(&r)
            }
            Err(e) => e.to_string(),
        };
        assert!(
            message.contains(field),
            "{tool}: the error names `{field}`: {message}"
        );
    }
}

#[tokio::test]
async fn rate_and_capacity_limits() {
    let server = HttpServer::start(&[
        "--messages-per-second",
        "1",
        "--message-burst",
        "2",
        "--max-rooms",
        "2",
        "--max-clients",
        "3",
    ])
    .await;
    let c = server.client().await;
    let (a, _) = join(&c, "one", "A").await;
    send(&c, "one", &a, "1").await;
    send(&c, "one", &a, "2").await;
    let limited = err(
        &call(
            &c,
            "send_message",
            json!({"room_id": "one", "client_id": a, "message": "3"}),
        )
        .await,
        "rate_limited",
    );
    assert!(limited["retry_after_ms"].as_u64().unwrap() > 0);
    // A refused send is not in the log.
    let (b, _) = join(&c, "one", "B").await;
    assert_eq!(chat_texts(&wait(&c, "one", &b, 0.0).await), ["1", "2"]);

    join(&c, "two", "C").await;
    // Three clients exist: a fourth is refused, and the refusal holds no slot.
    err(
        &call(
            &c,
            "join_room",
            json!({"room_id": "three", "display_name": "D"}),
        )
        .await,
        "server_full",
    );
    err(
        &call(&c, "enter_queue", json!({"display_name": "E"})).await,
        "server_full",
    );
    // Two rooms exist: a third is refused.
    err(
        &call(
            &c,
            "join_room",
            json!({"room_id": "three", "display_name": "F", "client_id": a}),
        )
        .await,
        "server_full",
    );
}

#[tokio::test]
async fn nothing_is_half_applied_when_a_join_fails() {
    let server = HttpServer::start(&["--max-clients", "3"]).await;
    let c = server.client().await;
    join(&c, "full", "A").await;
    join(&c, "full", "B").await;
    // Each refused join would have taken a client slot if it were half-applied.
    for _ in 0..5 {
        err(
            &call(
                &c,
                "join_room",
                json!({"room_id": "full", "display_name": "X"}),
            )
            .await,
            "room_full",
        );
    }
    join(&c, "another", "C").await;
}

#[tokio::test]
async fn message_text_and_secrets_stay_out_of_the_info_log() {
    let server = HttpServer::start(&[]).await;
    let c = server.client().await;
    let (a, _) = join(&c, "quiet", "A").await;
    let (b, _) = join(&c, "quiet", "B").await;
    send(&c, "quiet", &a, "TOPSECRET-payload-42").await;
    receive_chats(&c, "quiet", &b, 1).await;
    // An invitation code is a secret too, made and used.
    let owner = ok(&call(
        &c,
        "join_room",
        json!({"room_id": "hush", "display_name": "O", "private": true}),
    )
    .await)["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = ok(&call(
        &c,
        "create_invite",
        json!({"room_id": "hush", "client_id": owner}),
    )
    .await)["invite"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&call(
        &c,
        "join_room",
        json!({"invite": code, "display_name": "G"}),
    )
    .await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("invitation made"), "{log}");
    let secret = &code[code.len() - 32..];
    assert!(
        !log.contains(secret),
        "an invitation code leaked into the log"
    );
    assert!(
        log.contains("joined room"),
        "the log does record events: {log}"
    );
    assert!(
        !log.contains("TOPSECRET"),
        "message text leaked into the log"
    );
    assert!(
        !log.contains(&a) && !log.contains(&b),
        "a client_id leaked into the log"
    );
}

#[derive(Clone, Default)]
struct ProgressCounter(Arc<AtomicUsize>);

impl ClientHandler for ProgressCounter {
    async fn on_progress(
        &self,
        _params: ProgressNotificationParam,
        _ctx: NotificationContext<RoleClient>,
    ) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Also on 2026-07-28, where the wait is a request of its own with no session around it
/// (`scripts/test.sh` runs this suite on both revisions).
#[tokio::test]
async fn a_blocked_wait_reports_progress() {
    let server = HttpServer::start(&["--progress-interval-ms", "200"]).await;
    let counter = ProgressCounter::default();
    let transport = rmcp::transport::StreamableHttpClientTransport::from_uri(server.url.clone());
    let c = common::connect(counter.clone(), transport, common::Revision::from_env()).await;
    let (a, _) = join(&c, "prog", "A").await;
    wait(&c, "prog", &a, 0.0).await;
    let r = wait(&c, "prog", &a, 1.5).await;
    assert_eq!(r["timeout"], true);
    let n = counter.0.load(Ordering::SeqCst);
    assert!(
        (4..=8).contains(&n),
        "expected ~7 progress notifications in 1.5 s, got {n}"
    );
    // Progress ends with the call: none after its result (the protocol forbids them).
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        counter.0.load(Ordering::SeqCst),
        n,
        "progress was notified after the call returned"
    );
}

#[tokio::test]
async fn tools_link_the_view_and_describe_the_loop() {
    let client = stdio_view_client().await;
    let tools = client.list_all_tools().await.unwrap();
    let names: HashSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    for expected in [
        "enter_queue",
        "leave_queue",
        "join_room",
        "send_message",
        "wait_for_message",
        "leave_chat",
        "get_history",
        "get_room",
        "open_chat",
        "load_room",
    ] {
        assert!(names.contains(expected), "missing tool {expected}");
    }
    for tool in &tools {
        let meta = serde_json::to_value(&tool.meta).unwrap();
        let linked = ["enter_queue", "join_room", "open_chat"].contains(&tool.name.as_ref());
        assert_eq!(
            meta["ui"]["resourceUri"] == "ui://mcp-chat/room.html",
            linked,
            "{}",
            tool.name
        );
        assert_eq!(
            meta["ui/resourceUri"] == "ui://mcp-chat/room.html",
            linked,
            "{}",
            tool.name
        );
        // Only the View's helper is hidden from the model.
        let hidden = meta["ui"]["visibility"] == json!(["app"]);
        assert_eq!(hidden, tool.name == "load_room", "{}", tool.name);
    }
    let wait_tool = tools.iter().find(|t| t.name == "wait_for_message").unwrap();
    let description = wait_tool.description.as_deref().unwrap();
    assert!(description.contains("loop") && description.contains("after_seq"));
    client.cancel().await.unwrap();
}

/// A client that does not declare the MCP Apps extension renders no View: it is offered no
/// View-only tool, no tool links to the View, and calling a View-only tool explains why not.
#[tokio::test]
async fn clients_that_render_no_view_get_no_view() {
    let client = stdio_client().await;
    let tools = client.list_all_tools().await.unwrap();
    let names: HashSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(names.contains("join_room") && names.contains("wait_for_message"));
    assert!(!names.contains("open_chat"), "{names:?}");
    assert!(!names.contains("load_room"), "{names:?}");
    for tool in &tools {
        let meta = serde_json::to_value(&tool.meta).unwrap();
        assert!(meta.get("ui").is_none(), "{}: {meta}", tool.name);
        assert!(
            meta.get("ui/resourceUri").is_none(),
            "{}: {meta}",
            tool.name
        );
    }
    let joined = call(
        &client,
        "join_room",
        json!({"room_id": "no-view", "display_name": "Ann"}),
    )
    .await;
    let client_id = ok(&joined)["client_id"].as_str().unwrap().to_owned();
    for tool in ["open_chat", "load_room"] {
        let refused = call(
            &client,
            tool,
            json!({"room_id": "no-view", "client_id": client_id}),
        )
        .await;
        let body = err(&refused, "view_required");
        assert!(body["error"].as_str().unwrap().contains(tool), "{body}");
    }
    client.cancel().await.unwrap();
}

/// The View's helper reads the room and its latest messages in one call.
#[tokio::test]
async fn load_room_gives_the_view_history_and_members_at_once() {
    let client = stdio_view_client().await;
    let ann = call(
        &client,
        "join_room",
        json!({"room_id": "loaded", "display_name": "Ann"}),
    )
    .await;
    let ann_id = ok(&ann)["client_id"].as_str().unwrap().to_owned();
    for text in ["one", "two", "three"] {
        call(
            &client,
            "send_message",
            json!({"room_id": "loaded", "client_id": ann_id, "message": text}),
        )
        .await;
    }
    let loaded = call(
        &client,
        "load_room",
        json!({"room_id": "loaded", "client_id": ann_id, "limit": 2}),
    )
    .await;
    let body = ok(&loaded);
    let texts: Vec<&str> = body["history"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["two", "three"]);
    assert_eq!(body["room"]["room_id"], "loaded");
    assert_eq!(body["room"]["members"].as_array().unwrap().len(), 1);
    assert_eq!(body["room"]["latest_seq"], body["history"]["latest_seq"]);
    let stranger = call(
        &client,
        "load_room",
        json!({"room_id": "loaded", "client_id": "nobody"}),
    )
    .await;
    err(&stranger, "unknown_client");
    client.cancel().await.unwrap();
}

/// 200 pairs chat at once; every message arrives exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_pairs_chat_concurrently_with_zero_loss() {
    const PAIRS: usize = 200;
    const ROUNDS: usize = 5;
    const SESSIONS: usize = 10;
    // 400 identities from one address at once: far past the default creation burst.
    let server = HttpServer::start(&[
        "--creations-per-minute",
        "100000",
        "--creation-burst",
        "1000",
    ])
    .await;
    let mut sessions = Vec::new();
    for _ in 0..SESSIONS {
        sessions.push(server.client().await);
    }
    let mut tasks = Vec::new();
    for p in 0..PAIRS {
        let c = sessions[p % SESSIONS].clone();
        tasks.push(tokio::spawn(async move {
            let room = format!("pair-{p}");
            let (a, _) = join(&c, &room, "A").await;
            let (b, _) = join(&c, &room, "B").await;
            let mut received_by_b = Vec::new();
            let mut received_by_a = Vec::new();
            for r in 0..ROUNDS {
                send(&c, &room, &a, &format!("{p}-a{r}")).await;
                received_by_b.extend(receive_chats(&c, &room, &b, 1).await);
                send(&c, &room, &b, &format!("{p}-b{r}")).await;
                received_by_a.extend(receive_chats(&c, &room, &a, 1).await);
            }
            let want_b: Vec<String> = (0..ROUNDS).map(|r| format!("{p}-a{r}")).collect();
            let want_a: Vec<String> = (0..ROUNDS).map(|r| format!("{p}-b{r}")).collect();
            assert_eq!(received_by_b, want_b);
            assert_eq!(received_by_a, want_a);
            2 * ROUNDS
        }));
    }
    let mut delivered = 0;
    for t in tasks {
        delivered += t.await.unwrap();
    }
    assert_eq!(delivered, PAIRS * ROUNDS * 2);
}

/// Private rooms through the tools, as a model calls them: create one, invite with the line
/// the result hands over, refuse by name, remove, refuse the removed member's calls, close.
#[tokio::test]
async fn a_private_room_through_the_tools() {
    let server = HttpServer::start(&[]).await;
    let (owner_c, guest_c, outsider_c) = (
        server.client().await,
        server.client().await,
        server.client().await,
    );
    let created = ok(&call(
        &owner_c,
        "join_room",
        json!({"room_id": "den", "display_name": "Ada", "private": true, "capacity": 4}),
    )
    .await);
    assert_eq!(created["access"]["private"], true);
    assert_eq!(created["access"]["you_own"], true);
    assert_eq!(created["access"]["history"], "since_join");
    let owner = created["client_id"].as_str().unwrap().to_owned();
    send(&owner_c, "den", &owner, "before anyone came").await;

    let by_name = call(
        &outsider_c,
        "join_room",
        json!({"room_id": "den", "display_name": "Mal"}),
    )
    .await;
    err(&by_name, "invite_required");

    let invite = call(
        &owner_c,
        "create_invite",
        json!({"room_id": "den", "client_id": owner, "max_uses": 1}),
    )
    .await;
    let text = text_of(&invite);
    let invite = ok(&invite);
    let code = invite["invite"].as_str().unwrap().to_owned();
    assert_eq!(invite["uses_left"], 1);
    assert!(invite["expires_at"].as_str().unwrap().ends_with('Z'));
    assert!(invite["share_text"].as_str().unwrap().contains(&code));
    assert!(text.contains(&code), "{text}");

    let joined = ok(&call(
        &guest_c,
        "join_room",
        json!({"invite": code, "display_name": "Bot"}),
    )
    .await);
    assert_eq!(joined["room_id"], "den");
    assert_eq!(joined["access"]["owner"]["display_name"], "Ada");
    assert!(
        joined["message"].as_str().unwrap().contains("private"),
        "{joined}"
    );
    let guest = joined["client_id"].as_str().unwrap().to_owned();
    let guest_user = joined["user_id"].as_str().unwrap().to_owned();
    let history = ok(&call(
        &guest_c,
        "get_history",
        json!({"room_id": "den", "client_id": guest}),
    )
    .await);
    assert!(!history.to_string().contains("before anyone came"));
    let replay = call(
        &outsider_c,
        "join_room",
        json!({"invite": code, "display_name": "Mal"}),
    )
    .await;
    err(&replay, "invalid_invite");
    let by_guest = call(
        &guest_c,
        "remove_member",
        json!({"room_id": "den", "client_id": guest, "user_id": created["user_id"]}),
    )
    .await;
    err(&by_guest, "not_allowed");

    let removed = ok(&call(
        &owner_c,
        "remove_member",
        json!({"room_id": "den", "client_id": owner, "user_id": guest_user}),
    )
    .await);
    assert_eq!(removed["removed"]["display_name"], "Bot");
    let after = call(
        &guest_c,
        "send_message",
        json!({"room_id": "den", "client_id": guest, "message": "let me back"}),
    )
    .await;
    let error = err(&after, "removed");
    assert!(text_of(&after).contains("removed"), "{error}");
    let closed = ok(&call(
        &owner_c,
        "close_room",
        json!({"room_id": "den", "client_id": owner}),
    )
    .await);
    assert_eq!(closed["room_status"], "ended");
}

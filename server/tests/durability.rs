//! The SQLite store through the real binary: what was acknowledged survives SIGKILL, and a
//! second process on the same file is refused.

mod common;

use std::time::Duration;

use common::{BIN, HttpServer, call, ok};
use serde_json::json;

#[tokio::test]
async fn acknowledged_messages_survive_sigkill() {
    let db = common::temp_db("durability");
    let store = format!("sqlite:{db}");
    let mut server = HttpServer::start(&["--store", &store]).await;
    let c = server.client().await;
    let a = ok(&call(
        &c,
        "join_room",
        json!({"room_id": "durable", "display_name": "A"}),
    )
    .await);
    let b = ok(&call(
        &c,
        "join_room",
        json!({"room_id": "durable", "display_name": "B"}),
    )
    .await);
    let (a_id, b_id) = (
        a["client_id"].as_str().unwrap(),
        b["client_id"].as_str().unwrap(),
    );
    for i in 0..50 {
        let sent = ok(&call(
            &c,
            "send_message",
            json!({"room_id": "durable", "client_id": a_id, "message": format!("kept {i}")}),
        )
        .await);
        assert_eq!(sent["success"], true);
    }
    // B has read the first part before the crash; its cursor must survive too.
    let early = ok(&call(
        &c,
        "wait_for_message",
        json!({"room_id": "durable", "client_id": b_id, "timeout": 0}),
    )
    .await);
    let early_count = early["messages"].as_array().unwrap().len();
    for i in 50..60 {
        ok(&call(
            &c,
            "send_message",
            json!({"room_id": "durable", "client_id": a_id, "message": format!("kept {i}")}),
        )
        .await);
    }

    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();
    drop(c);

    let restarted = HttpServer::start(&["--store", &store]).await;
    let c = restarted.client().await;
    let rest = ok(&call(
        &c,
        "wait_for_message",
        json!({"room_id": "durable", "client_id": b_id, "timeout": 1}),
    )
    .await);
    let texts: Vec<&str> = rest["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (50..60).map(|i| format!("kept {i}")).collect();
    assert_eq!(texts, expected, "exactly what B had not read yet");
    assert_eq!(early_count, 52, "2 joins + 50 messages before the crash");

    let history = ok(&call(
        &c,
        "get_history",
        json!({"room_id": "durable", "client_id": a_id, "limit": 500}),
    )
    .await);
    assert_eq!(history["messages"].as_array().unwrap().len(), 62);
    assert_eq!(history["latest_seq"], 62);
    // The room goes on after the restart with the next number.
    let next = ok(&call(
        &c,
        "send_message",
        json!({"room_id": "durable", "client_id": b_id, "message": "after"}),
    )
    .await);
    assert_eq!(next["seq"], 63);
    let _ = std::fs::remove_file(&db);
}

#[tokio::test]
async fn a_second_server_on_the_same_file_fails_fast() {
    let db = common::temp_db("durability");
    let store = format!("sqlite:{db}");
    let _first = HttpServer::start(&["--store", &store]).await;
    let started = std::time::Instant::now();
    let second = tokio::process::Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--store", &store])
        .output();
    let out = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .expect("the second server exits instead of waiting")
        .unwrap();
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("in use by another mcp-chat process"),
        "{stderr}"
    );
    assert!(!stderr.contains("backtrace"), "one readable line: {stderr}");
    let _ = std::fs::remove_file(&db);
}

/// SIGKILL in the middle of a burst of concurrent sends: every send that was acknowledged is in
/// the log after the restart, the log has no gaps, and nothing appears twice.
#[tokio::test]
async fn a_burst_killed_midway_keeps_every_acknowledged_message() {
    const ROOMS: usize = 6;
    let db = common::temp_db("durability-burst");
    let store = format!("sqlite:{db}");
    // No rate limit stands between the burst and the store.
    let unlimited = [&["--store", store.as_str()], common::NO_RATE_LIMITS].concat();
    let mut server = HttpServer::start(&unlimited).await;
    let mut senders = Vec::new();
    for r in 0..ROOMS {
        let c = server.client().await;
        let room = format!("burst{r}");
        let joined = ok(&call(
            &c,
            "join_room",
            json!({"room_id": room, "display_name": "Sender"}),
        )
        .await);
        senders.push((c, room, joined["client_id"].as_str().unwrap().to_owned()));
    }
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for (c, room, client_id) in senders {
        let acknowledged = acknowledged.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let text = format!("{room} #{i}");
                let args = json!({"room_id": room, "client_id": client_id, "message": text});
                let request = rmcp::model::CallToolRequestParams::new("send_message")
                    .with_arguments(args.as_object().unwrap().clone());
                match c.call_tool(request).await {
                    Ok(result) if result.is_error != Some(true) => {
                        let seq = result.structured_content.unwrap()["seq"].as_u64().unwrap();
                        acknowledged.lock().unwrap().push((room.clone(), seq, text));
                    }
                    _ => break, // the server is gone
                }
            }
        }));
    }
    // Kill once the burst is well under way, with every sender mid-request.
    let started = std::time::Instant::now();
    while acknowledged.lock().unwrap().len() < 300 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the burst stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();
    // A call in flight at the kill may never return (rmcp's client can wait on the dead stream):
    // what counts is what was acknowledged before it.
    for task in &tasks {
        task.abort();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let restarted = HttpServer::start(&unlimited).await;
    let c = restarted.client().await;
    let reader = ok(&call(
        &c,
        "join_room",
        json!({"room_id": "burst0", "display_name": "Reader"}),
    )
    .await);
    let reader_id = reader["client_id"].as_str().unwrap().to_owned();
    for r in 0..ROOMS {
        let room = format!("burst{r}");
        if r > 0 {
            ok(&call(
                &c,
                "join_room",
                json!({"room_id": room, "display_name": "Reader", "client_id": reader_id}),
            )
            .await);
        }
        let history = ok(&call(
            &c,
            "get_history",
            json!({"room_id": room, "client_id": reader_id, "limit": 500}),
        )
        .await);
        let log: Vec<(u64, String)> = history["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["seq"].as_u64().unwrap(),
                    m["text"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let seqs: Vec<u64> = log.iter().map(|(seq, _)| *seq).collect();
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "{room}: the whole log, without gaps");
        for (_, seq, text) in acknowledged.iter().filter(|(r, _, _)| *r == room) {
            assert!(
                log.contains(&(*seq, text.clone())),
                "{room}: acknowledged {text:?} (seq {seq}) is missing after the restart"
            );
        }
        let chats: Vec<&String> = log
            .iter()
            .map(|(_, t)| t)
            .filter(|t| t.starts_with(&room))
            .collect();
        let unique: std::collections::HashSet<&&String> = chats.iter().collect();
        assert_eq!(unique.len(), chats.len(), "{room}: nothing twice");
    }
    let _ = std::fs::remove_file(&db);
}

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

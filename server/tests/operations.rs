//! What an operator relies on, against the real binary: the metrics listener, readiness with the
//! store gone, and the JSON log's line per tool call.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{HttpServer, call, err, join, receive_chats, send, wait};
use mcp_chat::testing::RedisServer;
use serde_json::{Value, json};

/// The metrics address a server logged (`--metrics-bind 127.0.0.1:0`).
async fn metrics_url(server: &HttpServer) -> String {
    assert!(
        server
            .logged("metrics at http://", Duration::from_secs(5))
            .await
    );
    let log = server.log_text();
    let rest = log.split("metrics at http://").nth(1).unwrap();
    let addr = rest.split('/').next().unwrap();
    format!("http://{addr}/metrics")
}

/// One scrape, as `series → value` (`name{labels}` as written).
async fn scrape(url: &str) -> HashMap<String, f64> {
    let answer = reqwest::get(url).await.unwrap();
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = answer.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn value(scraped: &HashMap<String, f64>, series: &str) -> f64 {
    *scraped
        .get(series)
        .unwrap_or_else(|| panic!("{series} missing from the scrape: {scraped:#?}"))
}

/// Two instances on one Redis, a chat across them, a quota refusal and Redis restarting: every
/// metric the operator is promised moves, and `/readyz` follows the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_moves_and_readiness_follows_the_store() {
    // Persistent, so that the chat survives the restart below (SIGTERM saves the file).
    let Some(redis) = RedisServer::try_start(&["--appendonly", "yes"]) else {
        return;
    };
    let url = redis.url();
    let instance = async || {
        HttpServer::start(&[
            "--store",
            &url,
            "--metrics-bind",
            "127.0.0.1:0",
            "--message-burst",
            "2",
            "--messages-per-second",
            "1",
        ])
        .await
    };
    let (a, b) = (instance().await, instance().await);
    let (metrics_a, metrics_b) = (metrics_url(&a).await, metrics_url(&b).await);
    let (ca, cb) = (a.client().await, b.client().await);
    let alice = join(&ca, "ops", "Alice").await;
    let bob = join(&cb, "ops", "Bob").await;

    // Bob reads the joins, then parks a wait on B; Alice's message through A wakes it through
    // Redis.
    wait(&cb, "ops", &bob, 1.0).await;
    let parked = {
        let cb = cb.clone();
        let bob = bob.clone();
        tokio::spawn(async move { wait(&cb, "ops", &bob, 20.0).await })
    };
    let mut during = HashMap::new();
    for _ in 0..100 {
        during = scrape(&metrics_b).await;
        if value(&during, "mcp_chat_parked_waits") >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!parked.is_finished(), "{:?}", parked.await);
    assert_eq!(value(&during, "mcp_chat_parked_waits"), 1.0);
    assert!(value(&during, "mcp_chat_http_connections") >= 1.0);
    assert!(value(&during, "mcp_chat_mcp_sessions") >= 1.0 || is_stateless());
    send(&ca, "ops", &alice, "hello").await;
    let woken = parked.await.unwrap();
    assert_eq!(common::chat_texts(&woken), ["hello"]);

    // Past the burst: a quota refusal.
    send(&ca, "ops", &alice, "two").await;
    let refused = call(
        &ca,
        "send_message",
        json!({"room_id": "ops", "client_id": alice, "message": "three"}),
    )
    .await;
    err(&refused, "rate_limited");

    let on_a = scrape(&metrics_a).await;
    let on_b = scrape(&metrics_b).await;
    assert_eq!(value(&on_a, "mcp_chat_messages_sent_total"), 2.0);
    assert!(value(&on_b, "mcp_chat_messages_delivered_total") >= 1.0);
    assert_eq!(value(&on_b, "mcp_chat_parked_waits"), 0.0);
    assert!(value(&on_b, "mcp_chat_redis_wakeups_total") >= 1.0);
    assert_eq!(
        value(
            &on_a,
            r#"mcp_chat_tool_call_duration_seconds_count{tool="send_message",outcome="ok"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            &on_a,
            r#"mcp_chat_tool_call_duration_seconds_count{tool="send_message",outcome="rate_limited"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &on_a,
            r#"mcp_chat_quota_refusals_total{code="rate_limited"}"#
        ),
        1.0
    );
    assert!(
        value(
            &on_b,
            r#"mcp_chat_tool_call_duration_seconds_sum{tool="wait_for_message",outcome="ok"}"#
        ) > 0.0
    );
    assert!(
        value(
            &on_a,
            r#"mcp_chat_store_operation_duration_seconds_count{store="redis",op="transact_room"}"#
        ) >= 3.0
    );
    // The store's census: the same from every instance.
    for scraped in [&on_a, &on_b] {
        assert_eq!(value(scraped, "mcp_chat_rooms"), 1.0);
        assert_eq!(value(scraped, "mcp_chat_clients"), 2.0);
        assert_eq!(value(scraped, "mcp_chat_room_members"), 2.0);
    }

    // Redis goes away: A turns unready (the balancer moves on), then ready again, and its
    // subscriber counts the reconnection.
    let ready = format!("http://{}/readyz", a.addr);
    assert_eq!(reqwest::get(&ready).await.unwrap().status(), 200);
    let mut redis = redis;
    let restart = tokio::task::spawn_blocking(move || {
        redis.restart(Duration::from_secs(3));
        redis
    });
    let mut unready = None;
    for _ in 0..60 {
        let answer = reqwest::get(&ready).await.unwrap();
        if answer.status() == 503 {
            unready = Some(answer.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        unready.expect("unready while Redis is down")["status"],
        "store_unavailable"
    );
    let _redis = restart.await.unwrap();
    let mut back = false;
    for _ in 0..100 {
        if reqwest::get(&ready).await.unwrap().status() == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "ready again once Redis is back");
    let mut reconnected = 0.0;
    for _ in 0..100 {
        let scraped = scrape(&metrics_a).await;
        reconnected = scraped
            .get(r#"mcp_chat_redis_reconnects_total{connection="wakeups"}"#)
            .copied()
            .unwrap_or(0.0);
        if reconnected >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reconnected >= 1.0,
        "the subscriber's reconnection is counted"
    );
    // And the chat goes on.
    send(&cb, "ops", &bob, "still here").await;
    assert_eq!(
        receive_chats(&ca, "ops", &alice, 1).await.last().unwrap(),
        "still here"
    );
}

fn is_stateless() -> bool {
    common::Revision::from_env() == common::Revision::Stateless2026
}

/// `--log-format json`: every line is a JSON object, each tool call has one with its tool,
/// outcome, duration, room and request ids, and neither message text nor client ids appear at
/// info level.
#[tokio::test]
async fn the_json_log_has_a_line_per_call_and_no_secrets() {
    let server = HttpServer::start(&["--log-format", "json"]).await;
    let client = server.client().await;
    let ann = join(&client, "plans", "Ann").await;
    send(&client, "plans", &ann, "the secret launch date").await;
    let refused = call(
        &client,
        "get_room",
        json!({"room_id": "nowhere", "client_id": ann}),
    )
    .await;
    assert!(refused.is_error == Some(true));
    // The lines come through a pipe: wait for the last call's.
    assert!(
        server
            .logged(r#""tool":"get_room""#, Duration::from_secs(5))
            .await
    );

    let log = server.log_text();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let calls: Vec<&Value> = lines
        .iter()
        .filter(|line| line["target"] == "mcp_chat::calls")
        .collect();
    let tools: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c["tool"].as_str().unwrap(), c["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tools,
        [
            ("join_room", "ok"),
            ("send_message", "ok"),
            ("get_room", "room_not_found")
        ]
    );
    for c in &calls {
        assert_eq!(c["level"], "INFO");
        assert!(c["duration_ms"].as_f64().unwrap() >= 0.0, "{c}");
        assert!(c["request_id"].as_u64().is_some(), "{c}");
        assert!(c["rpc_id"].as_str().is_some(), "{c}");
    }
    assert_eq!(calls[1]["room"], "plans");
    assert_eq!(calls[2]["room"], "nowhere");
    assert_ne!(calls[0]["request_id"], calls[1]["request_id"]);
    assert!(!log.contains("the secret launch date"), "{log}");
    assert!(!log.contains(&ann), "a client id in the log:\n{log}");
}

/// In the text format the per-call lines are off unless asked for by name.
#[tokio::test]
async fn the_text_log_has_call_lines_only_when_asked() {
    let quiet = HttpServer::start(&[]).await;
    let client = quiet.client().await;
    join(&client, "quiet", "Ann").await;
    assert!(!quiet.logged("tool call", Duration::from_millis(300)).await);

    let asked = HttpServer::start_with_env(&[], &[("RUST_LOG", "info,mcp_chat::calls=info")]).await;
    let client = asked.client().await;
    join(&client, "asked", "Ann").await;
    assert!(asked.logged("tool call", Duration::from_secs(5)).await);
    assert!(
        asked.logged("tool=\"join_room\"", Duration::ZERO).await
            || asked.logged("tool=join_room", Duration::ZERO).await
    );
}

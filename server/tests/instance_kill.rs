//! The operator's test of several instances: two `mcp-chat serve` on one `redis-server`, behind
//! a real nginx (Debian's package, started here on loopback ports with the README's
//! configuration), pairs of clients chatting through nginx and retrying every failed call as a
//! client should (the same `idempotency_key` for a retried send or join), and one instance
//! SIGKILLed mid-run. Then every room is read back: no acknowledged message may be missing, none
//! may be stored twice, no member may be there twice, no call may have been refused, and every
//! receiver must have received every acknowledged message.
//!
//! The suite runs a small version (debug build). `scripts/bench.sh instance-kill` runs it on the
//! release build with more pairs and messages, three times, and prints the figures
//! (`MCP_CHAT_KILL_BIN`, `MCP_CHAT_KILL_PAIRS`, `MCP_CHAT_KILL_MESSAGES`).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{
    BIN, Client, HttpServer, NO_RATE_LIMITS, Revision, client_config, connect, redis_log,
    redis_room,
};
use mcp_chat::testing::RedisServer;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// nginx on a free loopback port in front of `upstreams`, with the README's `location` block;
/// killed on drop.
struct Nginx {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn try_start(upstreams: &[&str]) -> Option<Nginx> {
        // Debian puts it in /usr/sbin, which not every PATH holds.
        let nginx = ["nginx", "/usr/sbin/nginx"].into_iter().find(|bin| {
            std::process::Command::new(bin)
                .arg("-v")
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok()
        });
        let Some(nginx) = nginx else {
            assert!(
                std::env::var_os("CI").is_none(),
                "nginx is not installed: scripts/setup.sh installs it"
            );
            eprintln!("nginx is not installed: skipped (scripts/setup.sh installs it)");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = dir.path().display();
        let servers: String = upstreams
            .iter()
            .map(|u| format!("        server {u};\n"))
            .collect();
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 4096; }}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
             upstream mcp_chat {{\n{servers}    }}\n\
             server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
             proxy_pass http://mcp_chat;\n        proxy_http_version 1.1;\n\
             proxy_set_header Host $host;\n        proxy_set_header Connection \"\";\n\
             proxy_buffering off;\n        proxy_read_timeout 120s;\n    }}\n}}\n}}\n"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).unwrap();
        let child = std::process::Command::new(nginx)
            .args(["-e", &format!("{d}/error.log"), "-p"])
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("start nginx");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Nginx {
            child,
            url: format!("http://127.0.0.1:{port}/mcp"),
            _dir: dir,
        })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the run counted, across every client.
#[derive(Default)]
struct Tally {
    acknowledged: AtomicUsize,
    retried: AtomicUsize,
    refused: std::sync::Mutex<Vec<String>>,
    repeats_delivered: AtomicUsize,
    lost_in_delivery: AtomicUsize,
}

enum Failure {
    /// No answer (the instance died, nginx answered 502, the call timed out): try again.
    Transport(String),
    /// The server answered with a tool error.
    Refused(Value),
}

async fn attempt(
    client: &Client,
    tool: &str,
    args: &Value,
    within: Duration,
) -> Result<Value, Failure> {
    let request = CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().unwrap().clone());
    match tokio::time::timeout(within, client.call_tool(request)).await {
        Err(_) => Err(Failure::Transport(format!(
            "{tool}: no answer within {within:?}"
        ))),
        Ok(Err(e)) => Err(Failure::Transport(format!("{tool}: {e}"))),
        Ok(Ok(result)) if result.is_error == Some(true) => Err(Failure::Refused(
            result.structured_content.unwrap_or(Value::Null),
        )),
        Ok(Ok(result)) => Ok(result.structured_content.unwrap_or(Value::Null)),
    }
}

/// Calls `tool` until it is answered (at most a minute), as a client retrying a dropped
/// connection does; `None` if it was refused (counted) or never answered.
async fn retrying(
    clients: &[Client],
    tool: &str,
    args: Value,
    within: Duration,
    tally: &Tally,
) -> Option<Value> {
    let started = Instant::now();
    let mut failures = 0;
    loop {
        // A fresh client after a failure: an rmcp client whose stream died may not recover.
        let client = &clients[failures % clients.len()];
        match attempt(client, tool, &args, within).await {
            Ok(answer) => return Some(answer),
            Err(Failure::Refused(body)) => {
                tally
                    .refused
                    .lock()
                    .unwrap()
                    .push(format!("{tool} {args}: {body}"));
                return None;
            }
            Err(Failure::Transport(e)) => {
                failures += 1;
                tally.retried.fetch_add(1, Ordering::Relaxed);
                if started.elapsed() > Duration::from_secs(60) {
                    tally
                        .refused
                        .lock()
                        .unwrap()
                        .push(format!("{tool} {args}: never answered: {e}"));
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(50 * failures.min(10) as u64)).await;
            }
        }
    }
}

/// A client of nginx speaking `revision`; two per person, so a retry can use the spare.
async fn clients(url: &str, revision: Revision) -> Vec<Client> {
    let mut clients = Vec::new();
    for _ in 0..2 {
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
        );
        clients.push(connect(client_config(revision, false), transport, revision).await);
    }
    clients
}

/// One pair chatting `messages` messages, turn by turn. Returns the texts acknowledged.
async fn pair(
    url: String,
    run: String,
    p: usize,
    messages: usize,
    tally: Arc<Tally>,
) -> (String, BTreeSet<String>) {
    let revision = if p.is_multiple_of(2) {
        Revision::Stateless2026
    } else {
        Revision::Session2025_11
    };
    let people = [clients(&url, revision).await, clients(&url, revision).await];
    let room = format!("{run}-pair-{p}");
    let mut ids = Vec::new();
    for (n, name) in ["Ann", "Ben"].iter().enumerate() {
        let joined = retrying(
            &people[n],
            "join_room",
            json!({"room_id": room, "display_name": name,
                   "idempotency_key": format!("{run}-join-{p}-{n}")}),
            Duration::from_secs(5),
            &tally,
        )
        .await
        .expect("joined");
        ids.push(joined["client_id"].as_str().unwrap().to_owned());
    }
    let mut seen = [0u64; 2];
    let mut acknowledged = BTreeSet::new();
    for i in 0..messages {
        let (from, to) = (i % 2, (i + 1) % 2);
        let text = format!("{room} message {i}");
        let sent = retrying(
            &people[from],
            "send_message",
            json!({"room_id": room, "client_id": ids[from], "message": text,
                   "idempotency_key": format!("{run}-send-{p}-{i}")}),
            Duration::from_secs(5),
            &tally,
        )
        .await;
        if sent.is_none() {
            continue;
        }
        acknowledged.insert(text.clone());
        tally.acknowledged.fetch_add(1, Ordering::Relaxed);
        // The partner waits (on its own cursor) until the message arrives.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut arrived = false;
        while !arrived && Instant::now() < deadline {
            let Some(got) = retrying(
                &people[to],
                "wait_for_message",
                json!({"room_id": room, "client_id": ids[to], "timeout": 5}),
                Duration::from_secs(10),
                &tally,
            )
            .await
            else {
                break;
            };
            for m in got["messages"].as_array().into_iter().flatten() {
                let seq = m["seq"].as_u64().unwrap();
                if seq <= seen[to] {
                    tally.repeats_delivered.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                seen[to] = seq;
                arrived |= m["text"] == text.as_str();
            }
        }
        if !arrived {
            tally.lost_in_delivery.fetch_add(1, Ordering::Relaxed);
        }
    }
    (room, acknowledged)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_killed_mid_run_loses_nothing_and_stores_nothing_twice() {
    let Some(redis) = RedisServer::try_start(&[]) else {
        return;
    };
    let bin = std::env::var("MCP_CHAT_KILL_BIN").unwrap_or_else(|_| BIN.to_owned());
    assert!(Path::new(&bin).exists(), "{bin} is not built");
    let pairs = env_or("MCP_CHAT_KILL_PAIRS", 6);
    let messages = env_or("MCP_CHAT_KILL_MESSAGES", 40);
    let mut args = vec!["--store".to_owned(), redis.url()];
    // Everyone comes through nginx, from one address: the limits are raised for the run (a
    // deployment behind a proxy raises the per-address ones too; README, "Limits").
    args.extend(NO_RATE_LIMITS.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut doomed = HttpServer::start_bin(&bin, &args, &[]).await;
    let survivor = HttpServer::start_bin(&bin, &args, &[]).await;
    let Some(nginx) = Nginx::try_start(&[&doomed.addr, &survivor.addr]) else {
        return;
    };

    let tally = Arc::new(Tally::default());
    let run = format!("run{}", std::process::id());
    let started = Instant::now();
    let chats: Vec<_> = (0..pairs)
        .map(|p| {
            tokio::spawn(pair(
                nginx.url.clone(),
                run.clone(),
                p,
                messages,
                tally.clone(),
            ))
        })
        .collect();
    // Mid-run: once a third of the messages are acknowledged, one instance dies, whatever it
    // was doing (parked waits, claims, commits).
    let kill_at = pairs * messages / 3;
    while tally.acknowledged.load(Ordering::Relaxed) < kill_at {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run stalled"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed_after = tally.acknowledged.load(Ordering::Relaxed);
    doomed.kill().await;
    let killed_at = started.elapsed();

    let mut rooms = Vec::new();
    for chat in chats {
        rooms.push(chat.await.unwrap());
    }
    let elapsed = started.elapsed();

    // Read every room back from Redis: what is stored, whatever any instance says.
    let (mut lost, mut twice, mut ghosts) = (0, 0, 0);
    for (room, acknowledged) in &rooms {
        let state = redis_room(&redis.url(), room).await;
        ghosts += state["members"].as_array().unwrap().len().saturating_sub(2);
        let log = redis_log(&redis.url(), room).await;
        let mut count: HashMap<&str, usize> = HashMap::new();
        for text in &log {
            *count.entry(text.as_str()).or_default() += 1;
        }
        lost += acknowledged
            .iter()
            .filter(|t| !count.contains_key(t.as_str()))
            .count();
        twice += count.values().filter(|n| **n > 1).count();
    }
    let refused = tally.refused.lock().unwrap().clone();
    let acknowledged = tally.acknowledged.load(Ordering::Relaxed);
    println!(
        "instance-kill: {pairs} pairs x {messages} messages through nginx, one instance SIGKILLed \
         after {killed_after} acknowledged ({:.1} s in); acknowledged {acknowledged}, calls \
         retried {}, lost {lost}, stored twice {twice}, ghost members {ghosts}, wrong refusals \
         {}, not delivered {}, repeats delivered (dropped by seq) {}, {:.1} s",
        killed_at.as_secs_f64(),
        tally.retried.load(Ordering::Relaxed),
        refused.len(),
        tally.lost_in_delivery.load(Ordering::Relaxed),
        tally.repeats_delivered.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
    );
    assert!(refused.is_empty(), "refused: {refused:#?}");
    assert_eq!(acknowledged, pairs * messages, "every send acknowledged");
    assert_eq!(lost, 0, "acknowledged messages missing from the log");
    assert_eq!(twice, 0, "messages stored twice");
    assert_eq!(ghosts, 0, "members stored twice");
    assert_eq!(
        tally.lost_in_delivery.load(Ordering::Relaxed),
        0,
        "messages never delivered"
    );
}

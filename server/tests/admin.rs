//! `mcp-chat admin` against the real binary and a real server on a SQLite file: listing and
//! exporting rooms, deleting one while the server runs (over its admin socket) and while it
//! does not, an online backup under load and a restore from it, and the refusals.

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BIN, HttpServer, NO_RATE_LIMITS, call, join, ok, send};
use serde_json::{Value, json};

/// `mcp-chat admin --store STORE ARGS…`.
async fn admin(store: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(["admin", "--store", store])
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("MCP_CHAT_STORE")
        .output()
        .await
        .expect("run mcp-chat admin")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts success; returns stdout.
fn succeeded(out: &Output) -> String {
    assert!(
        out.status.success(),
        "admin failed: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

/// Asserts a failure with one readable line saying `needle`; returns stderr.
fn refused(out: &Output, needle: &str) -> String {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected a refusal, got: {}",
        stdout(out)
    );
    assert!(err.contains(needle), "{err}");
    assert!(err.contains("error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    err
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

async fn rooms_json(store: &str) -> Vec<Value> {
    json_lines(&succeeded(&admin(store, &["rooms", "--json"]).await))
}

async fn server_on(db: &str) -> HttpServer {
    let store = format!("sqlite:{db}");
    let mut args = vec!["--store", store.as_str()];
    args.extend_from_slice(NO_RATE_LIMITS);
    HttpServer::start(&args).await
}

fn remove_db(db: &str) {
    for suffix in ["", "-wal", "-shm", ".lock", ".admin"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_lists_and_export_gives_the_log_in_order() {
    let db = common::temp_db("admin");
    let store = format!("sqlite:{db}");
    let server = server_on(&db).await;
    let c = server.client().await;
    let ada = join(&c, "lobby", "Ada").await;
    join(&c, "lobby", "Bob").await;
    for i in 0..5 {
        send(&c, "lobby", &ada, &format!("hello {i}")).await;
    }

    let rooms = rooms_json(&store).await;
    let lobby = rooms
        .iter()
        .find(|r| r["room_id"] == "lobby")
        .expect("lobby listed");
    assert_eq!(lobby["member_count"], 2, "{lobby}");
    assert_eq!(lobby["members"], json!(["Ada", "Bob"]));
    assert_eq!(lobby["messages"], 7, "2 joins and 5 messages: {lobby}");
    assert_eq!(lobby["status"], "active");
    assert!(
        lobby["last_activity"].as_str().unwrap().ends_with('Z'),
        "{lobby}"
    );
    let table = succeeded(&admin(&store, &["rooms"]).await);
    assert!(table.starts_with("ROOM"), "{table}");
    let row = table.lines().find(|l| l.starts_with("lobby")).unwrap();
    assert!(row.contains("Ada, Bob") && row.contains("active"), "{row}");

    let exported = json_lines(&succeeded(&admin(&store, &["export", "lobby"]).await));
    let history = ok(&call(
        &c,
        "get_history",
        json!({"room_id": "lobby", "client_id": ada, "limit": 100}),
    )
    .await);
    assert_eq!(exported, *history["messages"].as_array().unwrap());
    let seqs: Vec<u64> = exported
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=7).collect::<Vec<_>>());
    let texts: Vec<&str> = exported[2..]
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        (0..5).map(|i| format!("hello {i}")).collect::<Vec<_>>()
    );
    drop(server);
    remove_db(&db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_wakes_the_room_while_the_server_runs_and_works_without_it() {
    let db = common::temp_db("admin");
    let store = format!("sqlite:{db}");
    let mut server = server_on(&db).await;
    let c = server.client().await;
    let ada = join(&c, "doomed", "Ada").await;
    let bob = join(&c, "doomed", "Bob").await;
    send(&c, "doomed", &ada, "last words").await;
    let cy = join(&c, "other", "Cy").await;
    let di = join(&c, "other", "Di").await;
    // Bob reads what is there, then parks.
    common::wait(&c, "doomed", &bob, 0.0).await;
    let parked = {
        let peer = c.peer().clone();
        let bob = bob.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = call(
                &peer,
                "wait_for_message",
                json!({"room_id": "doomed", "client_id": bob, "timeout": 30}),
            )
            .await;
            (started.elapsed(), r)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let said = succeeded(&admin(&store, &["delete", "doomed"]).await);
    assert!(said.contains("deleted room \"doomed\""), "{said}");
    let (elapsed, woken) = tokio::time::timeout(Duration::from_secs(10), parked)
        .await
        .expect("the parked wait returns")
        .unwrap();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    if woken.is_error == Some(true) {
        common::err(&woken, "room_not_found");
    } else {
        let body = ok(&woken);
        assert_eq!(body["room_status"], "ended", "{body}");
    }
    // Gone for everyone, on the running server too.
    let rooms = rooms_json(&store).await;
    assert!(rooms.iter().all(|r| r["room_id"] != "doomed"), "{rooms:?}");
    common::err(
        &call(
            &c,
            "send_message",
            json!({"room_id": "doomed", "client_id": ada, "message": "anyone?"}),
        )
        .await,
        "room_not_found",
    );
    refused(
        &admin(&store, &["delete", "doomed"]).await,
        "no room \"doomed\"",
    );
    // The other room goes on.
    send(&c, "other", &cy, "still here").await;
    let got = common::receive_chats(&c, "other", &di, 1).await;
    assert_eq!(got, ["still here"]);

    // A crash leaves the socket file behind: delete finds no server there, takes the file.
    server.kill().await;
    assert!(Path::new(&format!("{db}.admin")).exists());
    succeeded(&admin(&store, &["delete", "other"]).await);
    assert!(rooms_json(&store).await.is_empty());
    // And the stale socket does not stop a restart, whose socket answers.
    let server = server_on(&db).await;
    refused(
        &admin(&store, &["delete", "other"]).await,
        "no room \"other\"",
    );
    drop(server);
    remove_db(&db);
}

/// A message a sender saw acknowledged, and when.
#[derive(Debug, Clone)]
struct Acked {
    room: String,
    seq: u64,
    text: String,
    at: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_holds_every_acknowledged_message_and_restores() {
    let db = common::temp_db("admin");
    let store = format!("sqlite:{db}");
    let backup = common::temp_db("admin-backup");
    let mut server = server_on(&db).await;
    let c = server.client().await;
    let rooms: Vec<String> = (0..4).map(|i| format!("load-{i}")).collect();
    let mut senders = Vec::new();
    let mut readers = Vec::new();
    for room in &rooms {
        senders.push(join(&c, room, "Sender").await);
        readers.push(join(&c, room, "Reader").await);
    }
    let acked = Arc::new(Mutex::new(Vec::<Acked>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (room, sender) in rooms.iter().zip(&senders) {
        for lane in 0..2 {
            let (peer, room, sender) = (c.peer().clone(), room.clone(), sender.clone());
            let (acked, stop) = (acked.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("{room} lane {lane} #{n}");
                    let sent = send(&peer, &room, &sender, &text).await;
                    acked.lock().unwrap().push(Acked {
                        room: room.clone(),
                        seq: sent["seq"].as_u64().unwrap(),
                        text,
                        at: Instant::now(),
                    });
                    n += 1;
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let started = Instant::now();
    let out = admin(&store, &["backup", &backup]).await;
    let said = succeeded(&out);
    assert!(said.contains("integrity check ok"), "{said}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let before: Vec<&Acked> = acked.iter().filter(|a| a.at < started).collect();
    eprintln!(
        "{} messages acknowledged, {} before the backup started; backup: {said}",
        acked.len(),
        before.len()
    );
    assert!(
        before.len() >= 20,
        "the load was running: {} acknowledged before the backup",
        before.len()
    );
    assert!(
        acked.iter().any(|a| a.at > started),
        "the load went on during the backup"
    );

    // Every acknowledged message is in the copy; each log there is 1..n without gaps.
    let copy = format!("sqlite:{backup}");
    for room in &rooms {
        let exported = json_lines(&succeeded(&admin(&copy, &["export", room]).await));
        let seqs: Vec<u64> = exported
            .iter()
            .map(|m| m["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "{room}: a prefix"
        );
        for a in before.iter().filter(|a| &a.room == room) {
            let kept = exported
                .get(a.seq as usize - 1)
                .unwrap_or_else(|| panic!("{a:?} is missing from the backup"));
            assert_eq!(kept["text"], a.text, "{a:?}");
        }
    }

    // Restore: a server on the copy serves its history.
    server.terminate().await;
    let restored = server_on(&backup).await;
    let c = restored.client().await;
    let history = ok(&call(
        &c,
        "get_history",
        json!({"room_id": rooms[0], "client_id": readers[0], "limit": 50}),
    )
    .await);
    let first = &history["messages"].as_array().unwrap();
    assert!(!first.is_empty());
    let exported = json_lines(&succeeded(&admin(&copy, &["export", &rooms[0]]).await));
    // The server is the copy's owner now; what it serves is what the copy held.
    assert_eq!(
        first.last().unwrap()["seq"],
        exported.last().unwrap()["seq"]
    );
    drop(restored);
    remove_db(&db);
    remove_db(&backup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_in_one_line() {
    let db = common::temp_db("admin");
    let store = format!("sqlite:{db}");
    refused(&admin(&store, &["rooms"]).await, "no SQLite store at");
    let server = server_on(&db).await;
    refused(
        &admin(&store, &["export", "nowhere"]).await,
        "no room \"nowhere\"",
    );
    refused(
        &admin(&store, &["delete", "nowhere"]).await,
        "no room \"nowhere\"",
    );

    let taken = common::temp_db("admin-taken");
    std::fs::write(&taken, b"keep me").unwrap();
    refused(&admin(&store, &["backup", &taken]).await, "exists already");
    assert_eq!(std::fs::read(&taken).unwrap(), b"keep me");

    let err = refused(
        &admin("memory", &["backup", "/tmp/never.db"]).await,
        "memory store lives inside the server process",
    );
    assert!(!Path::new("/tmp/never.db").exists(), "{err}");
    let err = refused(
        &admin("redis://:pw123@127.0.0.1:1", &["backup", "/tmp/never.db"]).await,
        "BGSAVE",
    );
    assert!(!err.contains("pw123"), "{err}");
    drop(server);
    let _ = std::fs::remove_file(&taken);
    remove_db(&db);
}

//! The Redis store against a real `redis-server`: the shared conformance suite, and what only a
//! shared store must do (several instances, one state).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{DEFAULT_KEY_TTL, RedisStore, RedisTarget};
use crate::engine::conformance::{engine, waiting};
use crate::engine::store::{RoomChange, Store};
use crate::testing::RedisServer;
use mcp_chat_shared::chat::WaitForMessageParams;

async fn open(url: &str) -> RedisStore {
    let target = RedisTarget::parse(url).unwrap();
    RedisStore::open(&target, DEFAULT_KEY_TTL).await.unwrap()
}

/// Seconds until `key` expires (-1: never, -2: no such key).
async fn ttl(store: &RedisStore, key: &str) -> i64 {
    redis::cmd("TTL")
        .arg(key)
        .query_async(&mut store.conn.0.clone())
        .await
        .unwrap()
}

crate::conformance_tests!(
    conformance,
    guarded {
        let server = super::RedisServer::try_start(&[])?;
        (super::open(&server.url()).await, server)
    }
);

/// Two stores on one server stand for two instances.
async fn two_instances() -> Option<(RedisServer, Arc<dyn Store>, Arc<dyn Store>)> {
    let server = RedisServer::try_start(&[])?;
    let a: Arc<dyn Store> = Arc::new(open(&server.url()).await);
    let b: Arc<dyn Store> = Arc::new(open(&server.url()).await);
    Some((server, a, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_instances_neither_lose_nor_duplicate_and_number_without_gaps() {
    let Some((_server, a, b)) = two_instances().await else {
        return;
    };
    let (ea, eb) = (engine(a), engine(b));
    let mut senders = Vec::new();
    for i in 0..6 {
        let e = if i % 2 == 0 { ea.clone() } else { eb.clone() };
        let joined = e
            .join_room("race", &format!("P{i}"), Some(6), None, None)
            .await
            .unwrap();
        senders.push((e, joined.client_id));
    }
    let reader = senders[0].1.clone();
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, (e, id))| {
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for n in 0..25 {
                    seqs.push(
                        e.send("race", &id, &format!("{i}:{n}"), None)
                            .await
                            .unwrap()
                            .seq,
                    );
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.extend(t.await.unwrap());
    }
    let unique: HashSet<u64> = seqs.iter().copied().collect();
    assert_eq!(unique.len(), seqs.len(), "no seq handed out twice");

    let history = ea.history("race", &reader, None, Some(500)).await.unwrap();
    let log: Vec<u64> = history.messages.iter().map(|m| m.seq).collect();
    assert_eq!(log, (1..=log.len() as u64).collect::<Vec<_>>(), "gap-free");
    let texts: HashSet<&str> = history
        .messages
        .iter()
        .filter(|m| m.kind == mcp_chat_shared::chat::MessageKind::Chat)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(texts.len(), 150, "every acknowledged message once");
}

#[tokio::test]
async fn a_room_changed_by_another_instance_is_read_again_not_overwritten() {
    let Some((_server, a, b)) = two_instances().await else {
        return;
    };
    let (ea, eb) = (engine(a), engine(b));
    let first = ea.join_room("turns", "A", None, None, None).await.unwrap();
    let second = eb.join_room("turns", "B", None, None, None).await.unwrap();
    // Instance a remembers the room as it wrote it; b's send makes that stale.
    let one = ea
        .send("turns", &first.client_id, "a1", None)
        .await
        .unwrap();
    let two = eb
        .send("turns", &second.client_id, "b1", None)
        .await
        .unwrap();
    let three = ea
        .send("turns", &first.client_id, "a2", None)
        .await
        .unwrap();
    assert_eq!((one.seq + 1, two.seq + 1), (two.seq, three.seq));
    let room = ea.room("turns", &first.client_id).await.unwrap();
    assert_eq!(room.members.len(), 2, "b's join survives a's later writes");
    let history = eb
        .history("turns", &second.client_id, None, None)
        .await
        .unwrap();
    let texts: Vec<&str> = history.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(&texts[texts.len() - 3..], ["a1", "b1", "a2"]);
}

#[tokio::test]
async fn a_commit_on_one_instance_wakes_a_waiter_on_another() {
    let Some((_server, a, b)) = two_instances().await else {
        return;
    };
    let (ea, eb) = (engine(a), engine(b.clone()));
    let alice = ea.join_room("x", "Alice", None, None, None).await.unwrap();
    let bob = eb.join_room("x", "Bob", None, None, None).await.unwrap();
    let never = CancellationToken::new();
    eb.wait(&waiting(Some("x"), &bob.client_id, 0.0), &never)
        .await
        .unwrap();
    let waiter = tokio::spawn(async move {
        let started = Instant::now();
        let r = eb
            .wait(&waiting(Some("x"), &bob.client_id, 30.0), &never)
            .await
            .unwrap();
        (started.elapsed(), r.messages.len())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    ea.send("x", &alice.client_id, "across", None)
        .await
        .unwrap();
    let (elapsed, n) = waiter.await.unwrap();
    assert_eq!(n, 1);
    assert!(
        elapsed < Duration::from_secs(2),
        "woken, not timed out: {elapsed:?}"
    );

    // The queue wakes across instances too.
    let seen = b.queue().await.unwrap().1;
    let queue_waiter = tokio::spawn(async move {
        let started = Instant::now();
        b.wait_queue(seen, Instant::now() + Duration::from_secs(30))
            .await
            .unwrap();
        started.elapsed()
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    ea.enter_queue(Some("Q"), None, None, None, &CancellationToken::new())
        .await
        .unwrap();
    assert!(queue_waiter.await.unwrap() < Duration::from_secs(2));
}

#[tokio::test]
async fn concurrent_sweeps_remove_each_thing_once_without_errors() {
    let Some((_server, a, b)) = two_instances().await else {
        return;
    };
    let (ea, eb) = (engine(a.clone()), engine(b));
    for i in 0..5 {
        let room = format!("r{i}");
        let x = ea.join_room(&room, "X", None, None, None).await.unwrap();
        eb.join_room(&room, "Y", None, None, None).await.unwrap();
        ea.leave(&room, &x.client_id).await.unwrap();
    }
    let far = crate::engine::ids::now_ms() + 365 * 24 * 3600 * 1000;
    let (ra, rb) = tokio::join!(ea.sweep(far), eb.sweep(far));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra.clients + rb.clients >= 10, "{ra:?} {rb:?}");
    assert_eq!(a.room_count().await.unwrap(), 0);
    assert!(a.idle_clients(u64::MAX).await.unwrap().is_empty());
}

#[tokio::test]
async fn every_key_expires_on_its_own() {
    let Some(server) = RedisServer::try_start(&[]) else {
        return;
    };
    let store = open(&server.url()).await;
    let e = engine(Arc::new(open(&server.url()).await));
    let a = e.join_room("ttl", "A", None, None, None).await.unwrap();
    e.send("ttl", &a.client_id, "hi", None).await.unwrap();
    e.enter_queue(Some("Q"), None, None, None, &CancellationToken::new())
        .await
        .unwrap();
    let mut conn = store.conn.0.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("mcp-chat:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.len() >= 7, "{keys:?}");
    for key in keys {
        let ttl = ttl(&store, &key).await;
        assert!(
            ttl > 0 && ttl as u64 <= DEFAULT_KEY_TTL.as_secs(),
            "{key} has TTL {ttl}"
        );
    }
}

#[tokio::test]
async fn a_room_that_is_only_read_lives_as_long_as_its_members() {
    let Some(server) = RedisServer::try_start(&[]) else {
        return;
    };
    let store = open(&server.url()).await;
    let e = engine(Arc::new(open(&server.url()).await));
    let a = e.join_room("quiet", "A", None, None, None).await.unwrap();
    e.send("quiet", &a.client_id, "hi", None).await.unwrap();
    let mut conn = store.conn.0.clone();
    // As if the room had been quiet for most of its keys' lifetime.
    for key in [store.keys.room("quiet"), store.keys.log("quiet")] {
        let _: () = redis::cmd("EXPIRE")
            .arg(&key)
            .arg(5)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    // A read-only request of a member (a wait with `after_seq` never commits) renews them, once
    // the engine records activity again (it does so to the second).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    e.wait(
        &WaitForMessageParams {
            after_seq: Some(1),
            ..waiting(Some("quiet"), &a.client_id, 0.0)
        },
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    for key in [store.keys.room("quiet"), store.keys.log("quiet")] {
        let left = ttl(&store, &key).await;
        assert!(left > 60, "{key} has TTL {left}");
    }
}

#[tokio::test]
async fn prefixes_keep_deployments_apart() {
    let Some(server) = RedisServer::try_start(&[]) else {
        return;
    };
    let one = engine(Arc::new(
        open(&format!("{}/?prefix=one:", server.url())).await,
    ));
    let two: Arc<dyn Store> = Arc::new(open(&format!("{}/?prefix=two:", server.url())).await);
    one.join_room("shared-name", "A", None, None, None)
        .await
        .unwrap();
    assert!(two.room("shared-name").await.unwrap().is_none());
    assert_eq!(two.room_count().await.unwrap(), 0);
}

#[tokio::test]
async fn an_unreachable_server_fails_at_once_with_the_address_and_no_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = RedisTarget::parse(&format!("redis://:hunter2@127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    let err = RedisStore::open(&target, DEFAULT_KEY_TTL)
        .await
        .err()
        .expect("nothing listens there");
    assert!(started.elapsed() < Duration::from_secs(5));
    let message = err.to_string();
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn a_commit_answered_too_late_is_applied_once_and_acknowledged() {
    use mcp_chat_shared::chat::MessageKind;

    use crate::engine::model::{Draft, Room, RoomKind};

    let Some(server) = RedisServer::try_start(&[]) else {
        return;
    };
    let target = RedisTarget::parse(&server.url()).unwrap();
    let store = RedisStore::open_with(&target, DEFAULT_KEY_TTL, Duration::from_millis(200))
        .await
        .unwrap();
    let now = crate::engine::ids::now_ms();
    let room = Room::new("late".into(), RoomKind::Named, 2, now);
    store
        .transact_room("late", Some(room), 10, now, &|_| {
            Ok(RoomChange::drafts(Vec::new()))
        })
        .await
        .unwrap();

    // Writes stall for five response timeouts: the commit's answer is "lost", and only its
    // marker can tell that it was applied once the pause ends.
    let mut admin = redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let committed = store
        .transact_room("late", None, usize::MAX, now, &|_| {
            Ok(RoomChange::drafts(vec![Draft {
                kind: MessageKind::Chat,
                sender: None,
                text: "once".into(),
            }]))
        })
        .await
        .unwrap();
    assert_eq!(committed.appended[0].seq, 1);
    let log = store.messages_after("late", 0, 100).await.unwrap();
    let texts: Vec<&str> = log.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["once"], "applied exactly once");
    assert_eq!(store.room("late").await.unwrap().unwrap().latest_seq, 1);
}

/// A rate limit kept per process would grant every instance the full rate: the buckets are in
/// Redis, so two instances share one.
#[tokio::test]
async fn two_instances_share_one_rate_limit() {
    use crate::engine::rate::{Rate, Taken};
    let Some((_server, a, b)) = two_instances().await else {
        return;
    };
    let rate = Rate::per_second(1, 4);
    for store in [&a, &b, &a, &b] {
        assert_eq!(store.take_token("call:x", rate).await.unwrap(), Taken::Yes);
    }
    for store in [&a, &b] {
        assert!(matches!(
            store.take_token("call:x", rate).await.unwrap(),
            Taken::RetryAfter(_)
        ));
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        b.take_token("call:x", rate).await.unwrap(),
        Taken::Yes,
        "refilled"
    );
}

/// The per-client room quota counts the client's rooms in the shared store, whichever instance
/// made them.
#[tokio::test]
async fn the_room_quota_holds_across_instances() {
    let Some((_server, a, b)) = two_instances().await else {
        return;
    };
    let limits = crate::engine::Limits {
        max_rooms_per_client: 2,
        ..crate::engine::Limits::default()
    };
    let (ea, eb) = (
        crate::engine::conformance::engine_with(a, limits.clone()),
        crate::engine::conformance::engine_with(b, limits),
    );
    let me = ea
        .join_room("q1", "Q", None, None, None)
        .await
        .unwrap()
        .client_id;
    eb.join_room("q2", "Q", None, Some(&me), None)
        .await
        .unwrap();
    let refused = ea
        .join_room("q3", "Q", None, Some(&me), None)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "too_many_rooms");
}

/// The keys a release before private rooms wrote, committed in `tests/fixtures` as JSON: each
/// key with its type and value (rate buckets and commit markers left out: they are moments).
const BEFORE_PRIVATE_ROOMS: &str = "main-redis-keys.json";

/// Writes the fixture with the code of the day: `cargo test -p mcp-chat write_redis_fixture --
/// --ignored`. Only ever run by the release whose keys it is meant to hold.
#[tokio::test]
#[ignore]
async fn write_redis_fixture() {
    use crate::engine::store::fixtures;
    let server = RedisServer::start();
    let store = open(&server.url()).await;
    fixtures::populate(&engine(Arc::new(open(&server.url()).await))).await;
    let mut conn = store.conn.0.clone();
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("mcp-chat:*")
        .query_async(&mut conn)
        .await
        .unwrap();
    keys.sort();
    let mut dump = Vec::new();
    for key in keys {
        if key.contains(":rate:") || key.contains(":commit:") {
            continue;
        }
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let value = match kind.as_str() {
            "string" => {
                let v: String = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                serde_json::json!(v)
            }
            "hash" => {
                let v: std::collections::BTreeMap<String, String> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                serde_json::json!(v)
            }
            "set" => {
                let mut v: Vec<String> = redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                v.sort();
                serde_json::json!(v)
            }
            "zset" => {
                let v: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                serde_json::json!(v)
            }
            "stream" => {
                let v: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                    .arg(&key)
                    .arg("-")
                    .arg("+")
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                serde_json::json!(v)
            }
            other => panic!("{key} is a {other}"),
        };
        dump.push(serde_json::json!({"key": key, "type": kind, "value": value}));
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(fixtures::DIR)
        .join(BEFORE_PRIVATE_ROOMS);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    std::fs::write(out, serde_json::to_string_pretty(&dump).unwrap() + "\n").unwrap();
}

/// Writes the fixture's keys into `conn`'s server, each with a day to live.
async fn restore(conn: &mut redis::aio::ConnectionManager, dump: &[serde_json::Value]) {
    for entry in dump {
        let key = entry["key"].as_str().unwrap();
        let value = &entry["value"];
        let strings = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        let mut cmds = Vec::new();
        match entry["type"].as_str().unwrap() {
            "string" => cmds.push(
                redis::cmd("SET")
                    .arg(key)
                    .arg(value.as_str().unwrap())
                    .clone(),
            ),
            "hash" => {
                let mut cmd = redis::cmd("HSET");
                cmd.arg(key);
                for (field, v) in value.as_object().unwrap() {
                    cmd.arg(field).arg(v.as_str().unwrap());
                }
                cmds.push(cmd);
            }
            "set" => cmds.push(redis::cmd("SADD").arg(key).arg(strings(value)).clone()),
            "zset" => {
                let mut cmd = redis::cmd("ZADD");
                cmd.arg(key);
                for pair in value.as_array().unwrap() {
                    cmd.arg(pair[1].as_f64().unwrap())
                        .arg(pair[0].as_str().unwrap());
                }
                cmds.push(cmd);
            }
            "stream" => {
                for item in value.as_array().unwrap() {
                    let mut cmd = redis::cmd("XADD");
                    cmd.arg(key).arg(item[0].as_str().unwrap());
                    for field in item[1].as_array().unwrap() {
                        cmd.arg(field[0].as_str().unwrap())
                            .arg(field[1].as_str().unwrap());
                    }
                    cmds.push(cmd);
                }
            }
            other => panic!("{key} is a {other}"),
        }
        cmds.push(redis::cmd("EXPIRE").arg(key).arg(86_400).clone());
        for cmd in cmds {
            let _: redis::Value = cmd.query_async(conn).await.unwrap();
        }
    }
}

#[tokio::test]
async fn keys_written_before_private_rooms_keep_everything() {
    use crate::engine::store::fixtures;
    let Some(server) = RedisServer::try_start(&[]) else {
        return;
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(fixtures::DIR)
        .join(BEFORE_PRIVATE_ROOMS);
    let dump: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let store = open(&server.url()).await;
    restore(&mut store.conn.0.clone(), &dump).await;
    fixtures::check(Arc::new(store)).await;
}

/// A one-use invitation presented at the same moment through two instances admits exactly one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_for_a_one_use_invitation_admit_one() {
    use crate::engine::conformance::{create_private, join_with};
    use crate::engine::{ChatError, Limits};
    let Some((_server, a, b)) = two_instances().await else {
        return;
    };
    let limits = Limits {
        creation_burst: 1000,
        ..Limits::default()
    };
    let ea = crate::engine::conformance::engine_with(a, limits.clone());
    let eb = crate::engine::conformance::engine_with(b, limits);
    let owner = create_private(&ea, "contested-private", "Owner").await;
    for round in 0..20 {
        let code = ea
            .create_invite("contested-private", &owner.client_id, Some(1), None)
            .await
            .unwrap()
            .invite;
        let (ra, rb) = tokio::join!(
            tokio::spawn({
                let (e, code) = (ea.clone(), code.clone());
                async move { join_with(&e, &code, &format!("A{round}")).await }
            }),
            tokio::spawn({
                let (e, code) = (eb.clone(), code.clone());
                async move { join_with(&e, &code, &format!("B{round}")).await }
            }),
        );
        let outcomes = [ra.unwrap(), rb.unwrap()];
        let admitted = outcomes.iter().filter(|r| r.is_ok()).count();
        assert_eq!(admitted, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes
                .iter()
                .any(|r| matches!(r, Err(ChatError::InvalidInvite))),
            "round {round}: {outcomes:?}"
        );
        // The winner leaves, so the room never fills.
        let winner = outcomes.into_iter().find_map(Result::ok).unwrap();
        ea.leave("contested-private", &winner.client_id)
            .await
            .unwrap();
    }
}

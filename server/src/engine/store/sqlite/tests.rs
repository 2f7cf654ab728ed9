use super::schema::MIGRATIONS;
use super::*;
use crate::engine::model::{Draft, QueueEntry, QueueState};
use crate::engine::model::{Member, RoomKind};
use crate::engine::store::RoomChange;
use mcp_chat_shared::chat::MessageKind;
use mcp_chat_shared::chat::RoomStatus;

fn member(client: &str, delivered_seq: u64) -> Member {
    Member {
        client_id: client.into(),
        user_id: format!("u-{client}"),
        display_name: format!("Name {client}"),
        joined_ms: 7,
        delivered_seq,
        sent: Default::default(),
        unconfirmed_from: None,
        reads_from: 0,
        invite: None,
    }
}

fn chat(text: String) -> Draft {
    Draft {
        kind: MessageKind::Chat,
        sender: None,
        text,
    }
}

/// Everything a store answers, for comparing two of them.
async fn snapshot(store: &SqliteStore) -> String {
    let mut clients = store.idle_clients(u64::MAX).await.unwrap();
    clients.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    let mut rooms = Vec::new();
    let mut ids = store.idle_rooms(u64::MAX).await.unwrap();
    ids.extend(["busy".to_owned(), "gone".to_owned()]);
    ids.sort();
    ids.dedup();
    for id in ids {
        let room = store.room(&id).await.unwrap();
        let log = store.messages_after(&id, 0, 1000).await.ok();
        let older = store.messages_before(&id, 80, 5).await.ok();
        rooms.push(format!("{room:?}\n{log:?}\n{older:?}"));
    }
    let memberships = store.client_rooms("c2").await.unwrap();
    let queue = store.queue().await.unwrap();
    format!("{clients:?}\n{rooms:?}\n{memberships:?}\n{queue:?}")
}

#[tokio::test]
async fn reopening_restores_exactly_what_was_committed() {
    let path = temp_path();
    let store = SqliteStore::open(&path).unwrap();
    for (i, id) in ["c1", "c2", "c3"].iter().enumerate() {
        let client = ClientRecord {
            client_id: (*id).into(),
            user_id: format!("u-{id}"),
            display_name: format!("Name {id}"),
            created_ms: i as u64,
            last_seen_ms: 100 + i as u64,
        };
        store.insert_client(client, 10).await.unwrap();
    }
    store.touch_client("c1", 500).await.unwrap();
    let create = |id: &str| Some(Room::new(id.into(), RoomKind::Named, 3, 1));
    // c3 joins before c1: the member order is the join order, not the ids'.
    store
        .transact_room("busy", create("busy"), 10, 2, &|room| {
            room.members = vec![member("c3", 0), member("c1", 0), member("c2", 0)];
            room.status = RoomStatus::Active;
            Ok(RoomChange::drafts(
                (0..70).map(|i| chat(format!("m{i}"))).collect(),
            ))
        })
        .await
        .unwrap();
    // A cursor moves, a member leaves, one more message: only what changed is written.
    store
        .transact_room("busy", None, 10, 3, &|room| {
            room.member_mut("c1").unwrap().delivered_seq = 69;
            room.members.retain(|m| m.client_id != "c3");
            Ok(RoomChange::drafts(vec![chat("last".into())]))
        })
        .await
        .unwrap();
    store
        .transact_room("gone", create("gone"), 10, 4, &|room| {
            room.members = vec![member("c2", 0)];
            room.status = RoomStatus::Ended;
            Ok(RoomChange::drafts(Vec::new()))
        })
        .await
        .unwrap();
    assert!(store.remove_room("gone", u64::MAX).await.unwrap());
    store
        .transact_queue(&|queue| {
            queue.entries.push(QueueEntry {
                client_id: "c3".into(),
                user_id: "u-c3".into(),
                display_name: "Name c3".into(),
                enqueued_ms: 9,
                last_seen_ms: 9,
                polling_until_ms: 0,
                state: QueueState::Waiting,
            });
            Ok(Box::new(()))
        })
        .await
        .unwrap();
    let log = store.messages_after("busy", 0, 1000).await.unwrap();
    assert_eq!(log.len(), 71, "the file has what the mirror dropped");
    assert_eq!(log.last().unwrap().text, "last");
    let before = snapshot(&store).await;
    drop(store);

    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(snapshot(&reopened).await, before);
    let room = reopened.room("busy").await.unwrap().unwrap();
    let order: Vec<&str> = room.members.iter().map(|m| m.client_id.as_str()).collect();
    assert_eq!(order, ["c1", "c2"]);
    assert_eq!(room.member("c1").unwrap().delivered_seq, 69);
    assert_eq!(
        reopened.client("c1").await.unwrap().unwrap().last_seen_ms,
        500
    );
    assert!(reopened.room("gone").await.unwrap().is_none());
    assert_eq!(reopened.queue().await.unwrap().1, 1);
    // The log goes on from where it was.
    let next = reopened
        .transact_room("busy", None, 10, 5, &|_| {
            Ok(RoomChange::drafts(vec![chat("after".into())]))
        })
        .await
        .unwrap();
    assert_eq!(next.appended[0].seq, 72);
}

#[tokio::test]
async fn concurrent_changes_share_one_commit_and_all_survive() {
    let path = temp_path();
    let store = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    let sends = (0..50).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let room = format!("r{i}");
            let create = Some(Room::new(room.clone(), RoomKind::Named, 2, 1));
            store
                .transact_room(&room, create, 100, 1, &|_| {
                    Ok(RoomChange::drafts(vec![chat(format!("hello {i}"))]))
                })
                .await
                .unwrap()
        })
    });
    for send in futures_util::future::join_all(sends.collect::<Vec<_>>()).await {
        assert_eq!(send.unwrap().appended[0].seq, 1);
    }
    let batches = store.lock().ended;
    // One thread: the first change yields, the other 49 join its batch.
    assert!(batches < 10, "50 changes took {batches} commits");
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    for i in 0..50 {
        let log = reopened
            .messages_after(&format!("r{i}"), 0, 10)
            .await
            .unwrap();
        assert_eq!(log[0].text, format!("hello {i}"));
    }
}

#[tokio::test]
async fn commits_are_checkpointed_off_the_request_path_and_the_file_closes_clean() {
    let path = temp_path();
    let store = SqliteStore::open(&path).unwrap();
    let wal = sibling(&path, "-wal");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let before = size(&path);
    let create = Some(Room::new("r".into(), RoomKind::Named, 2, 1));
    store
        .transact_room("r", create, 100, 1, &|_| {
            Ok(RoomChange::drafts(vec![chat("a".repeat(900))]))
        })
        .await
        .unwrap();
    for i in 0..100 {
        store
            .transact_room("r", None, 100, 2 + i, &|_| {
                Ok(RoomChange::drafts(vec![chat(format!(
                    "{i} {}",
                    "b".repeat(900)
                ))]))
            })
            .await
            .unwrap();
    }
    // The store's connection never checkpoints (wal_autocheckpoint = 0): the pages reach
    // the database file only through the background thread.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size(&path) <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "no background checkpoint"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(size(Path::new(&wal)) > 0);
    drop(store);
    // The checkpoint thread's connection closed last: WAL copied and removed.
    assert!(!Path::new(&wal).exists(), "the WAL outlived the store");
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(
        reopened.messages_after("r", 0, 200).await.unwrap().len(),
        101
    );
}

#[tokio::test]
async fn a_schema_1_file_is_migrated_with_its_rooms_and_cursors() {
    let path = temp_path();
    let mut room = Room::new("old".into(), RoomKind::Paired, 2, 11);
    room.status = RoomStatus::Active;
    room.members = vec![member("zed", 2), member("amy", 1)];
    room.latest_seq = 2;
    room.last_activity_ms = 12;
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!("{}; PRAGMA user_version = 1;", MIGRATIONS[0]))
            .unwrap();
        conn.execute(
            "INSERT INTO rooms (room_id, state, status, member_count, latest_seq, \
             last_activity_ms) VALUES ('old', ?1, 'active', 2, 2, 12)",
            [serde_json::to_string(&room).unwrap()],
        )
        .unwrap();
        for client in ["zed", "amy"] {
            conn.execute(
                "INSERT INTO memberships (client_id, room_id) VALUES (?1, 'old')",
                [client],
            )
            .unwrap();
        }
        for seq in 1..=2u64 {
            let message = ChatMessage {
                seq,
                message_id: format!("m{seq}"),
                room_id: "old".into(),
                kind: MessageKind::Chat,
                sender: None,
                text: format!("old {seq}"),
                timestamp: String::new(),
                timestamp_ms: 0,
            };
            conn.execute(
                "INSERT INTO messages (room_id, seq, body) VALUES ('old', ?1, ?2)",
                params![seq as i64, serde_json::to_string(&message).unwrap()],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.room("old").await.unwrap(), Some(room));
    assert_eq!(store.client_rooms("amy").await.unwrap(), ["old"]);
    let unread = store.messages_after("old", 1, 10).await.unwrap();
    assert_eq!(unread.len(), 1);
    assert_eq!(unread[0].text, "old 2");
    let version: i64 = store
        .lock()
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version as usize, MIGRATIONS.len());
}

/// A retry that comes after a restart (the first call's answer died with the process) finds
/// its key: the keys are in the file, with the message.
#[tokio::test]
async fn keys_survive_a_restart() {
    use crate::engine::conformance::engine;
    let path = temp_path();
    let key = "5b0e1c9a-restart-key";
    let (first, client) = {
        let e = engine(Arc::new(SqliteStore::open(&path).unwrap()));
        let joined = e
            .join_room("r", "Ann", None, None, Some(key))
            .await
            .unwrap();
        let sent = e
            .send("r", &joined.client_id, "hello", Some(key))
            .await
            .unwrap();
        (sent, joined.client_id)
    };
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let e = engine(store.clone());
    let rejoined = e
        .join_room("r", "Ann", None, None, Some(key))
        .await
        .unwrap();
    assert_eq!(rejoined.client_id, client);
    let again = e.send("r", &client, "hello", Some(key)).await.unwrap();
    assert_eq!((again.seq, again.message_id), (first.seq, first.message_id));
    assert_eq!(store.room("r").await.unwrap().unwrap().latest_seq, 2);
}

#[test]
fn a_second_process_on_the_same_file_is_refused_clearly() {
    let path = temp_path();
    let _first = SqliteStore::open(&path).unwrap();
    // Another open of the lock file stands in for another process: the lock belongs to the
    // open file, not to the process.
    let err = SqliteStore::open(&path).err().expect("second open refused");
    let message = err.to_string();
    assert!(
        message.contains("in use by another mcp-chat process"),
        "{message}"
    );
}

#[test]
fn reopening_keeps_everything_and_migrations_are_idempotent() {
    let path = temp_path();
    {
        let store = SqliteStore::open(&path).unwrap();
        let state = store.lock();
        let conn = &state.conn;
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.path(), path.as_path());
}

/// The file a release before private rooms wrote (schema 3), committed in `tests/fixtures`.
const SCHEMA_3_FIXTURE: &str = "main-schema3.sqlite";

/// Writes the fixture with the code of the day: `cargo test -p mcp-chat write_sqlite_fixture
/// -- --ignored`. Only ever run by the release whose file it is meant to be.
#[tokio::test]
#[ignore]
async fn write_sqlite_fixture() {
    use crate::engine::store::fixtures;
    let path = temp_path();
    let store = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    fixtures::populate(&crate::engine::conformance::engine(store.clone())).await;
    drop(store);
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(fixtures::DIR)
        .join(SCHEMA_3_FIXTURE);
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    // One self-contained file: no WAL beside it.
    let conn = Connection::open(&path).unwrap();
    conn.execute("VACUUM INTO ?1", [out.to_str().unwrap()])
        .unwrap();
}

#[tokio::test]
async fn a_file_written_before_private_rooms_keeps_everything() {
    use crate::engine::store::fixtures;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(fixtures::DIR)
        .join(SCHEMA_3_FIXTURE);
    let path = temp_path();
    std::fs::copy(&fixture, &path).unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    fixtures::check(store).await;
}

/// An invitation's code is never at rest: not in the room, not in a keyed join's record, not
/// in the file or its WAL.
#[tokio::test]
async fn no_invitation_code_reaches_the_file() {
    use crate::engine::conformance::{create_private, engine, join_params};
    let path = temp_path();
    let store = std::sync::Arc::new(SqliteStore::open(&path).unwrap());
    let e = engine(store.clone());
    let ada = create_private(&e, "hidden", "Ada").await;
    let code = e
        .create_invite("hidden", &ada.client_id, Some(3), None)
        .await
        .unwrap()
        .invite;
    e.join(&mcp_chat_shared::chat::JoinRoomParams {
        invite: Some(code.clone()),
        idempotency_key: Some("2b0c6f3a-hidden-join-0001".into()),
        ..join_params(None, "Bo")
    })
    .await
    .unwrap();
    drop(e);
    drop(store);
    let secret = &code.as_bytes()[code.len() - 32..];
    let mut files = 0;
    for suffix in ["", "-wal"] {
        let file = format!("{}{suffix}", path.display());
        if let Ok(bytes) = std::fs::read(&file) {
            files += 1;
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "the code is in {file}"
            );
        }
    }
    assert!(files > 0);
}

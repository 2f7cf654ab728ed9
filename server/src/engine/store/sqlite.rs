//! The SQLite store: durable chat in one file, the default.
//!
//! - WAL journal, `synchronous = NORMAL`: a commit reaches the OS before the call returns, so a
//!   killed process (even SIGKILL) loses nothing it acknowledged; only a power cut may lose the
//!   last transactions.
//! - One process per file: the connection holds an exclusive lock for its lifetime, and a second
//!   `mcp-chat` on the same file fails at start with a clear message instead of corrupting it.
//! - Each room transaction is one `BEGIN IMMEDIATE` … `COMMIT`: load the room, apply the rule,
//!   write the room and its new log entries. Waiters are woken in-process after the commit
//!   (the file has one process), exactly those of the room that changed.
//! - Statements are short (microseconds); they run on the calling task under a mutex rather than
//!   hopping to a blocking thread for each one.
//! - The schema carries its version (`PRAGMA user_version`); migrations run at open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use mcp_chat_shared::chat::{ChatMessage, RoomStatus};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Committed, QueueTx, RoomTx, Store, member_ids, room_to_change, stamp};
use crate::engine::error::ChatError;
use crate::engine::model::{ClientRecord, Queue, Room};
use crate::engine::rate::{LocalBuckets, Rate, Taken};

/// The SQL test for a room a sweep may remove (the store's `idle()`), ending in the comparison
/// with the cutoff whose parameter the statement appends. One text for the listing and for the
/// delete that re-checks it.
macro_rules! idle_room {
    () => {
        "(status = 'ended' OR member_count = 0) AND last_activity_ms < "
    };
}

/// Each entry upgrades the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[r#"
    CREATE TABLE clients (
        client_id    TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL,
        display_name TEXT NOT NULL,
        created_ms   INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL
    );
    CREATE INDEX clients_by_last_seen ON clients(last_seen_ms);
    CREATE TABLE rooms (
        room_id          TEXT PRIMARY KEY,
        state            TEXT NOT NULL,
        status           TEXT NOT NULL,
        member_count     INTEGER NOT NULL,
        latest_seq       INTEGER NOT NULL,
        last_activity_ms INTEGER NOT NULL
    );
    CREATE TABLE memberships (
        client_id TEXT NOT NULL,
        room_id   TEXT NOT NULL,
        PRIMARY KEY (client_id, room_id)
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        room_id TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        body    TEXT NOT NULL,
        PRIMARY KEY (room_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE queue (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        state   TEXT NOT NULL,
        version INTEGER NOT NULL
    );
    INSERT INTO queue (id, state, version) VALUES (1, '{"entries":[]}', 0);
"#];

pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
    room_changed: Mutex<HashMap<String, Arc<Notify>>>,
    queue_changed: Notify,
    /// One process per store: its rate buckets can stay in memory.
    buckets: LocalBuckets,
}

fn storage(e: impl std::fmt::Display) -> ChatError {
    ChatError::Storage(e.to_string())
}

fn status_name(status: RoomStatus) -> &'static str {
    match status {
        RoomStatus::Waiting => "waiting",
        RoomStatus::Active => "active",
        RoomStatus::Ended => "ended",
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, takes its lock and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, ChatError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| storage(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| storage(format!("cannot open {}: {e}", path.display())))?;
        let in_use = |e: rusqlite::Error| {
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy)
            ) {
                storage(format!(
                    "{} is in use by another mcp-chat process; stop it, or give this one its own \
                     file with --store sqlite:PATH",
                    path.display()
                ))
            } else {
                storage(format!("{}: {e}", path.display()))
            }
        };
        // Never wait for the lock: another process holding it will not let go.
        conn.busy_timeout(std::time::Duration::ZERO)
            .map_err(storage)?;
        // Exclusive before WAL: the lock is then held for the connection's lifetime and WAL
        // needs no shared memory. The empty exclusive transaction takes the lock now, so a
        // second process fails here rather than on its first write.
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(in_use)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(in_use)?;
        conn.execute_batch("BEGIN EXCLUSIVE; COMMIT;")
            .map_err(in_use)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(storage)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(storage)?;
        migrate(&conn)?;
        Ok(SqliteStore {
            path: path.to_owned(),
            conn: Mutex::new(conn),
            room_changed: Mutex::new(HashMap::new()),
            queue_changed: Notify::new(),
            buckets: LocalBuckets::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notifier(&self, room_id: &str) -> Arc<Notify> {
        self.room_changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(room_id.to_owned())
            .or_default()
            .clone()
    }

    fn wake_room(&self, room_id: &str) {
        let notify = self
            .room_changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(room_id)
            .cloned();
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    fn latest_seq(&self, room_id: &str) -> Result<Option<u64>, ChatError> {
        self.lock()
            .query_row(
                "SELECT latest_seq FROM rooms WHERE room_id = ?1",
                [room_id],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| v.map(|s| s as u64))
            .map_err(storage)
    }

    fn queue_version(&self) -> Result<u64, ChatError> {
        self.lock()
            .query_row("SELECT version FROM queue WHERE id = 1", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|v| v as u64)
            .map_err(storage)
    }

    fn read_messages(
        &self,
        sql: &str,
        room_id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let conn = self.lock();
        let exists: bool = conn
            .query_row("SELECT 1 FROM rooms WHERE room_id = ?1", [room_id], |_| {
                Ok(())
            })
            .optional()
            .map_err(storage)?
            .is_some();
        if !exists {
            return Err(ChatError::RoomNotFound(room_id.to_owned()));
        }
        let mut stmt = conn.prepare_cached(sql).map_err(storage)?;
        let rows = stmt
            // SQLite integers are i64: a u64 past i64::MAX would wrap negative and select the
            // whole log. No seq can be that large, so clamping keeps the meaning.
            .query_map(
                params![
                    room_id,
                    seq.min(i64::MAX as u64) as i64,
                    limit.min(i64::MAX as usize) as i64
                ],
                |r| r.get::<_, String>(0),
            )
            .map_err(storage)?;
        let mut messages = Vec::new();
        for body in rows {
            let body = body.map_err(storage)?;
            messages.push(serde_json::from_str(&body).map_err(storage)?);
        }
        Ok(messages)
    }
}

fn migrate(conn: &Connection) -> Result<(), ChatError> {
    let version: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(storage)? as usize;
    if version > MIGRATIONS.len() {
        return Err(storage(format!(
            "the database has schema version {version}, newer than this mcp-chat knows ({}); \
             upgrade mcp-chat",
            MIGRATIONS.len()
        )));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let batch = format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", from + 1);
        conn.execute_batch(&batch).map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK;");
            storage(format!("migration to schema {} failed: {e}", from + 1))
        })?;
    }
    Ok(())
}

fn load_room(conn: &Connection, room_id: &str) -> Result<Option<Room>, ChatError> {
    let state: Option<String> = conn
        .query_row(
            "SELECT state FROM rooms WHERE room_id = ?1",
            [room_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(storage)?;
    state
        .map(|s| serde_json::from_str(&s).map_err(storage))
        .transpose()
}

fn load_queue(conn: &Connection) -> Result<(Queue, u64), ChatError> {
    let (state, version): (String, i64) = conn
        .query_row("SELECT state, version FROM queue WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(storage)?;
    Ok((
        serde_json::from_str(&state).map_err(storage)?,
        version as u64,
    ))
}

fn client_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ClientRecord> {
    Ok(ClientRecord {
        client_id: r.get(0)?,
        user_id: r.get(1)?,
        display_name: r.get(2)?,
        created_ms: r.get::<_, i64>(3)? as u64,
        last_seen_ms: r.get::<_, i64>(4)? as u64,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_client(
        &self,
        client: ClientRecord,
        max_clients: usize,
    ) -> Result<(), ChatError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage)?;
        let count: i64 = tx
            .query_row("SELECT COUNT(*) FROM clients", [], |r| r.get(0))
            .map_err(storage)?;
        if count as usize >= max_clients {
            return Err(ChatError::ServerFull {
                what: "clients",
                limit: max_clients,
            });
        }
        tx.execute(
            "INSERT INTO clients (client_id, user_id, display_name, created_ms, last_seen_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                client.client_id,
                client.user_id,
                client.display_name,
                client.created_ms as i64,
                client.last_seen_ms as i64
            ],
        )
        .map_err(storage)?;
        tx.commit().map_err(storage)
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, ChatError> {
        self.lock()
            .query_row(
                "SELECT client_id, user_id, display_name, created_ms, last_seen_ms \
                 FROM clients WHERE client_id = ?1",
                [client_id],
                client_from_row,
            )
            .optional()
            .map_err(storage)
    }

    async fn touch_client(&self, client_id: &str, now: u64) -> Result<(), ChatError> {
        self.lock()
            .execute(
                "UPDATE clients SET last_seen_ms = MAX(last_seen_ms, ?2) WHERE client_id = ?1",
                params![client_id, now as i64],
            )
            .map(drop)
            .map_err(storage)
    }

    async fn remove_client(&self, client_id: &str) -> Result<(), ChatError> {
        let conn = self.lock();
        conn.execute("DELETE FROM clients WHERE client_id = ?1", [client_id])
            .map_err(storage)?;
        conn.execute("DELETE FROM memberships WHERE client_id = ?1", [client_id])
            .map(drop)
            .map_err(storage)
    }

    async fn idle_clients(&self, cutoff_ms: u64) -> Result<Vec<ClientRecord>, ChatError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT client_id, user_id, display_name, created_ms, last_seen_ms \
                 FROM clients WHERE last_seen_ms < ?1",
            )
            .map_err(storage)?;
        let rows = stmt
            .query_map([cutoff_ms.min(i64::MAX as u64) as i64], client_from_row)
            .map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)
    }

    async fn client_rooms(&self, client_id: &str) -> Result<Vec<String>, ChatError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT room_id FROM memberships WHERE client_id = ?1 ORDER BY room_id")
            .map_err(storage)?;
        let rows = stmt
            .query_map([client_id], |r| r.get::<_, String>(0))
            .map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)
    }

    async fn transact_room(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        tx_fn: RoomTx<'_>,
    ) -> Result<Committed, ChatError> {
        let committed = {
            let mut conn = self.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            let existing = load_room(&tx, room_id)?;
            let created = existing.is_none();
            let mut room = room_to_change(room_id, existing, create, max_rooms, || {
                let count: i64 = tx
                    .query_row("SELECT COUNT(*) FROM rooms", [], |r| r.get(0))
                    .map_err(storage)?;
                Ok(count as usize)
            })?;
            let before = member_ids(&room);
            // An error drops `tx`, which rolls everything back.
            let drafts = tx_fn(&mut room)?;
            let appended = stamp(&mut room, drafts, now);
            let state = serde_json::to_string(&room).map_err(storage)?;
            tx.execute(
                "INSERT INTO rooms (room_id, state, status, member_count, latest_seq, last_activity_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                 ON CONFLICT(room_id) DO UPDATE SET state = ?2, status = ?3, member_count = ?4, \
                 latest_seq = ?5, last_activity_ms = ?6",
                params![
                    room_id,
                    state,
                    status_name(room.status),
                    room.members.len() as i64,
                    room.latest_seq as i64,
                    room.last_activity_ms as i64
                ],
            )
            .map_err(storage)?;
            {
                let mut insert = tx
                    .prepare_cached("INSERT INTO messages (room_id, seq, body) VALUES (?1, ?2, ?3)")
                    .map_err(storage)?;
                for m in &appended {
                    let body = serde_json::to_string(m).map_err(storage)?;
                    insert
                        .execute(params![room_id, m.seq as i64, body])
                        .map_err(storage)?;
                }
            }
            let after = member_ids(&room);
            for joined in after.difference(&before) {
                tx.execute(
                    "INSERT OR IGNORE INTO memberships (client_id, room_id) VALUES (?1, ?2)",
                    params![joined, room_id],
                )
                .map_err(storage)?;
            }
            for left in before.difference(&after) {
                tx.execute(
                    "DELETE FROM memberships WHERE client_id = ?1 AND room_id = ?2",
                    params![left, room_id],
                )
                .map_err(storage)?;
            }
            tx.commit().map_err(storage)?;
            Committed {
                room,
                appended,
                created,
            }
        };
        if !committed.appended.is_empty() {
            self.wake_room(room_id);
        }
        Ok(committed)
    }

    async fn room(&self, room_id: &str) -> Result<Option<Room>, ChatError> {
        load_room(&self.lock(), room_id)
    }

    async fn messages_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        self.read_messages(
            "SELECT body FROM messages WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            room_id,
            after_seq,
            limit,
        )
    }

    async fn messages_before(
        &self,
        room_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let mut newest_first = self.read_messages(
            "SELECT body FROM messages WHERE room_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
            room_id,
            before_seq,
            limit,
        )?;
        newest_first.reverse();
        Ok(newest_first)
    }

    async fn wait_room(
        &self,
        room_id: &str,
        seen_seq: u64,
        deadline: Instant,
    ) -> Result<(), ChatError> {
        let changed = self.notifier(room_id);
        let notified = changed.notified();
        tokio::pin!(notified);
        // Register before checking, so a commit between the check and the await still wakes us.
        notified.as_mut().enable();
        match self.latest_seq(room_id)? {
            Some(latest) if latest > seen_seq => return Ok(()),
            Some(_) => {}
            None => return Err(ChatError::RoomNotFound(room_id.to_owned())),
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
        Ok(())
    }

    async fn idle_rooms(&self, cutoff_ms: u64) -> Result<Vec<String>, ChatError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(concat!(
                "SELECT room_id FROM rooms WHERE ",
                idle_room!(),
                "?1"
            ))
            .map_err(storage)?;
        let rows = stmt
            .query_map([cutoff_ms.min(i64::MAX as u64) as i64], |r| {
                r.get::<_, String>(0)
            })
            .map_err(storage)?;
        rows.collect::<Result<_, _>>().map_err(storage)
    }

    async fn remove_room(&self, room_id: &str, cutoff_ms: u64) -> Result<bool, ChatError> {
        {
            let mut conn = self.lock();
            let tx = conn.transaction().map_err(storage)?;
            // The same test as `idle_rooms`, in the deleting statement itself.
            let removed = tx
                .execute(
                    concat!(
                        "DELETE FROM rooms WHERE room_id = ?1 AND ",
                        idle_room!(),
                        "?2"
                    ),
                    rusqlite::params![room_id, cutoff_ms.min(i64::MAX as u64) as i64],
                )
                .map_err(storage)?;
            if removed == 0 {
                return Ok(false);
            }
            for sql in [
                "DELETE FROM messages WHERE room_id = ?1",
                "DELETE FROM memberships WHERE room_id = ?1",
            ] {
                tx.execute(sql, [room_id]).map_err(storage)?;
            }
            tx.commit().map_err(storage)?;
        }
        self.wake_room(room_id);
        self.room_changed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(room_id);
        Ok(true)
    }

    async fn room_count(&self) -> Result<usize, ChatError> {
        self.lock()
            .query_row("SELECT COUNT(*) FROM rooms", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(storage)
    }

    async fn transact_queue(&self, tx_fn: QueueTx<'_>) -> Result<u64, ChatError> {
        let (version, changed) = {
            let mut conn = self.lock();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(storage)?;
            let (before, version) = load_queue(&tx)?;
            let mut queue = before.clone();
            tx_fn(&mut queue)?;
            if queue == before {
                (version, false)
            } else {
                let state = serde_json::to_string(&queue).map_err(storage)?;
                tx.execute(
                    "UPDATE queue SET state = ?1, version = version + 1 WHERE id = 1",
                    [state],
                )
                .map_err(storage)?;
                tx.commit().map_err(storage)?;
                (version + 1, true)
            }
        };
        if changed {
            self.queue_changed.notify_waiters();
        }
        Ok(version)
    }

    async fn queue(&self) -> Result<(Queue, u64), ChatError> {
        load_queue(&self.lock())
    }

    async fn wait_queue(&self, seen_version: u64, deadline: Instant) -> Result<(), ChatError> {
        let notified = self.queue_changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.queue_version()? != seen_version {
            return Ok(());
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
        Ok(())
    }

    async fn take_token(&self, key: &str, rate: Rate) -> Result<Taken, ChatError> {
        Ok(self.buckets.take(key, rate))
    }

    async fn give_back_token(&self, key: &str, _rate: Rate) -> Result<(), ChatError> {
        self.buckets.give_back(key);
        Ok(())
    }

    fn prune_tokens(&self) {
        self.buckets.prune();
    }
}

#[cfg(test)]
pub fn temp_path() -> PathBuf {
    std::env::temp_dir().join(format!(
        "mcp-chat-test-{}.db",
        crate::engine::ids::user_id()
    ))
}

#[cfg(test)]
crate::conformance_tests!(
    conformance,
    crate::engine::store::sqlite::SqliteStore::open(&crate::engine::store::sqlite::temp_path())
        .unwrap()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_process_on_the_same_file_is_refused_clearly() {
        let path = temp_path();
        let _first = SqliteStore::open(&path).unwrap();
        // Another connection stands in for another process: the file lock is the same.
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
            let conn = store.lock();
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
}

//! The SQLite store: durable chat in one file, the default.
//!
//! - WAL journal, `synchronous = NORMAL`: a commit reaches the OS before the call returns, so a
//!   killed process (even SIGKILL) loses nothing it acknowledged; only a power cut may lose the
//!   last transactions.
//! - One process per file: the store holds a lock on `PATH.lock` for its lifetime, and a second
//!   `mcp-chat` on the same file fails at start with a clear message instead of corrupting it.
//!   (Other programs may read the file meanwhile, e.g. `sqlite3 chat.db .backup copy.db`.)
//! - WAL checkpoints run on a thread of their own ([`checkpoint`]), not inside a COMMIT.
//! - Because no one else can change the file, the store keeps a [`Mirror`] of it in memory:
//!   clients, rooms and their members' cursors, the queue, and each room's unclaimed log entries.
//!   Reads never run SQL (except for history older than the mirror keeps), so they cost what the
//!   memory store's cost. The mirror changes with the open transaction (below), and nobody is
//!   answered from it before that transaction is committed; if the COMMIT fails, the mirror is
//!   read again from the file.
//! - A room transaction writes only the rows it changed: a send, one message row (the message
//!   carries the room's new counters, see `load`); a claim, one member's cursor. Rooms are rows,
//!   not documents, so a message never rewrites the member list of a room of fifty.
//! - Group commit: a change joins the open transaction (a savepoint of its own, so that its
//!   failure undoes only it), its task yields once so that concurrent changes join too, and the
//!   first of them to run again commits for all: one COMMIT and one WAL append per batch. Every
//!   operation answers only once the batch it wrote, or could have read from, is committed; a
//!   batch that fails to commit fails all of its operations and the mirror is read again from
//!   the file. Parked waits are woken after the COMMIT.
//! - Statements are prepared once (rusqlite's cache), `BEGIN` and `COMMIT` included. They are
//!   short, and run on the calling task under the store's lock rather than hopping to a
//!   blocking thread for each one.
//! - The schema carries its version (`PRAGMA user_version`); migrations run at open.
//!
//! Files: `schema.rs` (migrations), `rows.rs` (row codecs, statements, savepoints), `load.rs`
//! (file → mirror), `write.rs` (a room change → its rows), `batch.rs` (group commit), `lock.rs`
//! (one process per file), `checkpoint.rs` (WAL checkpoints), `reader.rs` (another process's
//! read-only access and online backups, for `mcp-chat admin`), and here the `Store` itself.

mod batch;
mod checkpoint;
mod load;
mod lock;
mod reader;
mod rows;
mod schema;
#[cfg(test)]
mod tests;
mod write;

pub use self::reader::{BackupReport, SqliteReader, no_store_at};

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use mcp_chat_shared::chat::ChatMessage;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;
use tokio::time::Instant;

use self::checkpoint::{Checkpointer, WAL_SIZE_LIMIT};
use super::mirror::Retention;
use super::{Committed, Output, QueueTx, RoomTx, Store, idle, wait_until};
use crate::engine::error::ChatError;
use crate::engine::model::{ClientRecord, Queue, Room};
use crate::engine::rate::{LocalBuckets, Rate, Taken};

/// How many unclaimed entries per room the mirror keeps; reads further back go to the file.
/// Waits claim what is new, so a conversation needs a few; the bound keeps a room whose members
/// never wait from holding its whole log in memory.
const MIRRORED_ENTRIES: usize = 64;
const RETENTION: Retention = Retention::Unclaimed(MIRRORED_ENTRIES);

use self::batch::State;
use self::load::load;
use self::lock::take_ownership;
use self::rows::{Change, exec, int, storage};
use self::schema::migrate;
use self::write::write_room;

pub struct SqliteStore {
    path: PathBuf,
    /// Shared with the checkpoint thread, which commits nothing but may hold it briefly.
    state: Arc<Mutex<State>>,
    queue_changed: Notify,
    /// One process per store: its rate buckets can stay in memory.
    buckets: LocalBuckets,
    /// Declared after `state`, so dropped after the store's connection: its own connection,
    /// closing last, checkpoints the rest and removes the WAL.
    checkpointer: Checkpointer,
    /// Held for the store's lifetime: the lock that keeps a second process off the file.
    _owner: std::fs::File,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, takes its lock, migrates it and reads
    /// it into the mirror.
    pub fn open(path: &Path) -> Result<SqliteStore, ChatError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| storage(format!("cannot create {}: {e}", dir.display())))?;
        }
        // The mirror relies on it: nothing but this store changes the file. An OS lock on a file
        // beside it rather than SQLite's exclusive locking mode, which would also keep the
        // checkpoint thread's connection out.
        let owner = take_ownership(path)?;
        let conn = Connection::open(path)
            .map_err(|e| storage(format!("cannot open {}: {e}", path.display())))?;
        // Only the checkpoint thread shares the file, and holds its locks for moments.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(storage)?;
        let setting = |e: rusqlite::Error| storage(format!("{}: {e}", path.display()));
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(setting)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(setting)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(setting)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(setting)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(setting)?;
        // Every statement the store runs, with room to spare.
        conn.set_prepared_statement_cache_capacity(64);
        migrate(&conn)?;
        let mirror =
            load(&conn).map_err(|e| storage(format!("cannot read {}: {e}", path.display())))?;
        let state = Arc::new(Mutex::new(State {
            conn,
            mirror,
            open: None,
            ended: 0,
            failed: VecDeque::new(),
            wake_rooms: Vec::new(),
            wake_queue: false,
        }));
        let checkpointer = Checkpointer::start(path, Arc::downgrade(&state)).map_err(|e| {
            storage(format!(
                "cannot start checkpoints of {}: {e}",
                path.display()
            ))
        })?;
        Ok(SqliteStore {
            path: path.to_owned(),
            state,
            queue_changed: Notify::new(),
            buckets: LocalBuckets::default(),
            checkpointer,
            _owner: owner,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A change reaches the mirror only after its savepoint is released (a panic before that
        // rolls the savepoint back), so a panic while holding the lock leaves the two consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Log entries the mirror no longer keeps, from the file.
    fn read_log(
        conn: &Connection,
        sql: &str,
        room_id: &str,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let mut stmt = conn.prepare_cached(sql).map_err(storage)?;
        let rows = stmt
            .query_map(params![room_id, int(seq), int(limit as u64)], |r| {
                r.get::<_, String>(0)
            })
            .map_err(storage)?;
        let mut messages = Vec::new();
        for body in rows {
            let body = body.map_err(storage)?;
            messages.push(serde_json::from_str(&body).map_err(storage)?);
        }
        Ok(messages)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_client(
        &self,
        client: ClientRecord,
        max_clients: usize,
    ) -> Result<(), ChatError> {
        let ((), open) = self.change(|state| {
            if state.mirror.clients.len() >= max_clients {
                return Err(ChatError::ServerFull {
                    what: "clients",
                    limit: max_clients,
                });
            }
            state.writing()?;
            exec(
                &state.conn,
                "INSERT INTO clients (client_id, user_id, display_name, created_ms, \
                 last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    client.client_id,
                    client.user_id,
                    client.display_name,
                    int(client.created_ms),
                    int(client.last_seen_ms)
                ],
            )?;
            state
                .mirror
                .clients
                .insert(client.client_id.clone(), client);
            Ok(())
        })?;
        self.settled(open).await
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, ChatError> {
        Ok(self.lock().mirror.clients.get(client_id).cloned())
    }

    async fn touch_client(&self, client_id: &str, now: u64) -> Result<(), ChatError> {
        let ((), open) = self.change(|state| {
            let seen = state.mirror.clients.get(client_id).map(|c| c.last_seen_ms);
            if seen.is_none_or(|seen| now <= seen) {
                return Ok(());
            }
            state.writing()?;
            exec(
                &state.conn,
                "UPDATE clients SET last_seen_ms = ?2 WHERE client_id = ?1",
                params![client_id, int(now)],
            )?;
            if let Some(client) = state.mirror.clients.get_mut(client_id) {
                client.last_seen_ms = now;
            }
            Ok(())
        })?;
        self.settled(open).await
    }

    async fn remove_client(&self, client_id: &str) -> Result<(), ChatError> {
        let ((), open) = self.change(|state| {
            state.writing()?;
            exec(
                &state.conn,
                "DELETE FROM clients WHERE client_id = ?1",
                [client_id],
            )?;
            state.mirror.clients.remove(client_id);
            state.mirror.memberships.remove(client_id);
            Ok(())
        })?;
        self.settled(open).await
    }

    async fn idle_clients(&self, cutoff_ms: u64) -> Result<Vec<ClientRecord>, ChatError> {
        Ok(self.lock().mirror.idle_clients(cutoff_ms))
    }

    async fn client_rooms(&self, client_id: &str) -> Result<Vec<String>, ChatError> {
        Ok(self.lock().mirror.client_rooms(client_id))
    }

    async fn transact_room(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        tx: RoomTx<'_>,
    ) -> Result<Committed, ChatError> {
        let (committed, open) = self.change(|state| {
            let committed = state
                .mirror
                .prepare_room(room_id, create, max_rooms, now, tx)?;
            state.writing()?;
            write_room(&state.conn, state.mirror.current(room_id), &committed)?;
            let (committed, wake) = state.mirror.apply_room(committed, RETENTION);
            state.wake_rooms.extend(wake);
            Ok(committed)
        })?;
        self.settled(open).await?;
        Ok(committed)
    }

    async fn room(&self, room_id: &str) -> Result<Option<Room>, ChatError> {
        Ok(self.lock().mirror.current(room_id).cloned())
    }

    async fn messages_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let (messages, open) = {
            let state = self.lock();
            let messages = match state.mirror.slot(room_id)?.after(after_seq, limit) {
                Some(kept) => kept,
                None => Self::read_log(
                    &state.conn,
                    "SELECT body FROM messages WHERE room_id = ?1 AND seq > ?2 ORDER BY seq \
                     LIMIT ?3",
                    room_id,
                    after_seq,
                    limit,
                )?,
            };
            (messages, state.open)
        };
        self.settled(open).await?;
        Ok(messages)
    }

    async fn messages_before(
        &self,
        room_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let (messages, open) = {
            let state = self.lock();
            let messages = match state.mirror.slot(room_id)?.before(before_seq, limit) {
                Some(kept) => kept,
                None => {
                    let mut newest_first = Self::read_log(
                        &state.conn,
                        "SELECT body FROM messages WHERE room_id = ?1 AND seq < ?2 \
                         ORDER BY seq DESC LIMIT ?3",
                        room_id,
                        before_seq,
                        limit,
                    )?;
                    newest_first.reverse();
                    newest_first
                }
            };
            (messages, state.open)
        };
        self.settled(open).await?;
        Ok(messages)
    }

    async fn wait_room(
        &self,
        room_id: &str,
        seen_seq: u64,
        deadline: Instant,
    ) -> Result<(), ChatError> {
        let changed = self.lock().mirror.slot(room_id)?.changed.clone();
        let ready = async { Ok(self.lock().mirror.slot(room_id)?.room.latest_seq > seen_seq) };
        wait_until(&changed, ready, deadline).await
    }

    async fn idle_rooms(&self, cutoff_ms: u64) -> Result<Vec<String>, ChatError> {
        Ok(self.lock().mirror.idle_rooms(cutoff_ms))
    }

    async fn remove_room(&self, room_id: &str, cutoff_ms: u64) -> Result<bool, ChatError> {
        let (removed, open) = self.change(|state| {
            // The mirror is the file: checked and removed under one lock, a room someone joined
            // or wrote to since the listing survives.
            if !state
                .mirror
                .current(room_id)
                .is_some_and(|room| idle(room, cutoff_ms))
            {
                return Ok(false);
            }
            state.writing()?;
            let change = Change::begin(&state.conn)?;
            for sql in [
                "DELETE FROM rooms WHERE room_id = ?1",
                "DELETE FROM messages WHERE room_id = ?1",
                "DELETE FROM members WHERE room_id = ?1",
            ] {
                exec(&state.conn, sql, [room_id])?;
            }
            change.keep()?;
            let waiters = state.mirror.remove_room(room_id);
            state.wake_rooms.extend(waiters);
            Ok(true)
        })?;
        self.settled(open).await?;
        Ok(removed)
    }

    async fn room_count(&self) -> Result<usize, ChatError> {
        Ok(self.lock().mirror.rooms.len())
    }

    async fn all_rooms(&self) -> Result<Vec<Room>, ChatError> {
        Ok(self.lock().mirror.all_rooms())
    }

    async fn client_count(&self) -> Result<usize, ChatError> {
        Ok(self.lock().mirror.clients.len())
    }

    async fn transact_queue(&self, tx: QueueTx<'_>) -> Result<(u64, Output), ChatError> {
        let (version, open) = self.change(|state| {
            let mut queue = state.mirror.queue.clone();
            let output = tx(&mut queue)?;
            if queue == state.mirror.queue {
                return Ok((state.mirror.queue_version, output));
            }
            let json = serde_json::to_string(&queue).map_err(storage)?;
            state.writing()?;
            exec(
                &state.conn,
                "UPDATE queue SET state = ?1, version = version + 1 WHERE id = 1",
                [json],
            )?;
            state.mirror.queue = queue;
            state.mirror.queue_version += 1;
            state.wake_queue = true;
            Ok((state.mirror.queue_version, output))
        })?;
        self.settled(open).await?;
        Ok(version)
    }

    async fn queue(&self) -> Result<(Queue, u64), ChatError> {
        let state = self.lock();
        Ok((state.mirror.queue.clone(), state.mirror.queue_version))
    }

    async fn wait_queue(&self, seen_version: u64, deadline: Instant) -> Result<(), ChatError> {
        let ready = async { Ok(self.lock().mirror.queue_version != seen_version) };
        wait_until(&self.queue_changed, ready, deadline).await
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

    async fn record_once(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<Option<String>, ChatError> {
        let now = crate::engine::ids::now_ms();
        let (earlier, open) = self.change(|state| {
            let earlier = state
                .conn
                .prepare_cached("SELECT value FROM remembered WHERE key = ?1 AND expires_ms > ?2")
                .and_then(|mut stmt| {
                    stmt.query_row(params![key, int(now)], |r| r.get::<_, String>(0))
                        .optional()
                })
                .map_err(storage)?;
            if earlier.is_some() {
                return Ok(earlier);
            }
            state.writing()?;
            // Keys are made rarely (a creation each, rate-limited), so the expired ones go here.
            exec(
                &state.conn,
                "DELETE FROM remembered WHERE expires_ms <= ?1",
                [int(now)],
            )?;
            exec(
                &state.conn,
                "INSERT OR REPLACE INTO remembered (key, value, expires_ms) VALUES (?1, ?2, ?3)",
                params![key, value, int(now + ttl.as_millis() as u64)],
            )?;
            Ok(None)
        })?;
        self.settled(open).await?;
        Ok(earlier)
    }
}

/// `path` with `suffix` added to its name (`chat.db` → `chat.db-wal`): the files SQLite and
/// this store keep beside the database.
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
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

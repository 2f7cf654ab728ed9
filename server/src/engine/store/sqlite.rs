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

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use mcp_chat_shared::chat::{ChatMessage, RoomStatus};
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::Notify;
use tokio::time::Instant;

use self::checkpoint::{Checkpointer, WAL_SIZE_LIMIT};
use super::mirror::{Mirror, Retention};
use super::{Committed, Output, QueueTx, RoomTx, Store, idle, wait_until};
use crate::engine::error::ChatError;
use crate::engine::idempotency::SentKeys;
use crate::engine::model::{ClientRecord, Member, Queue, Room, RoomKind};
use crate::engine::rate::{LocalBuckets, Rate, Taken};

/// How many unclaimed entries per room the mirror keeps; reads further back go to the file.
/// Waits claim what is new, so a conversation needs a few; the bound keeps a room whose members
/// never wait from holding its whole log in memory.
const MIRRORED_ENTRIES: usize = 64;
const RETENTION: Retention = Retention::Unclaimed(MIRRORED_ENTRIES);

mod checkpoint;

/// Each entry upgrades the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    // 2: rooms as rows (the JSON document was rewritten whole on every message), members as
    // rows (one cursor moves per claim), memberships derived from members.
    r#"
    ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'Named';
    ALTER TABLE rooms ADD COLUMN capacity INTEGER NOT NULL DEFAULT 2;
    ALTER TABLE rooms ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
    UPDATE rooms SET kind = json_extract(state, '$.kind'),
                     capacity = json_extract(state, '$.capacity'),
                     created_ms = json_extract(state, '$.created_ms');
    CREATE TABLE members (
        room_id       TEXT NOT NULL,
        client_id     TEXT NOT NULL,
        position      INTEGER NOT NULL,
        user_id       TEXT NOT NULL,
        display_name  TEXT NOT NULL,
        joined_ms     INTEGER NOT NULL,
        delivered_seq INTEGER NOT NULL,
        PRIMARY KEY (room_id, client_id)
    ) WITHOUT ROWID;
    INSERT INTO members
        SELECT r.room_id, json_extract(m.value, '$.client_id'), m.key,
               json_extract(m.value, '$.user_id'), json_extract(m.value, '$.display_name'),
               json_extract(m.value, '$.joined_ms'), json_extract(m.value, '$.delivered_seq')
        FROM rooms AS r, json_each(r.state, '$.members') AS m;
    ALTER TABLE rooms DROP COLUMN state;
    DROP TABLE memberships;
"#,
    // 3: retries that change nothing (issue 26): a member's recent keyed sends, and the keys
    // that created identities.
    r#"
    ALTER TABLE members ADD COLUMN sent TEXT NOT NULL DEFAULT '';
    CREATE TABLE remembered (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE INDEX remembered_by_expiry ON remembered(expires_ms);
"#,
];

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

struct State {
    conn: Connection,
    mirror: Mirror,
    /// Group commit. Changes made while a batch is open join its transaction and its one
    /// COMMIT (one WAL append for all of them); `open` is its number.
    open: Option<u64>,
    /// Every batch up to this one has ended, committed or failed. Batches are numbered from 1.
    ended: u64,
    /// The batches that failed lately, and why.
    failed: VecDeque<(u64, String)>,
    /// Waiters to wake once the open batch is durable: a change is visible to a parked wait
    /// only then.
    wake_rooms: Vec<Arc<Notify>>,
    wake_queue: bool,
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

fn status_from(name: &str) -> rusqlite::Result<RoomStatus> {
    match name {
        "waiting" => Ok(RoomStatus::Waiting),
        "active" => Ok(RoomStatus::Active),
        "ended" => Ok(RoomStatus::Ended),
        other => Err(invalid_column(format!("room status {other:?}"))),
    }
}

fn kind_name(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Named => "Named",
        RoomKind::Paired => "Paired",
    }
}

fn kind_from(name: &str) -> rusqlite::Result<RoomKind> {
    match name {
        "Named" => Ok(RoomKind::Named),
        "Paired" => Ok(RoomKind::Paired),
        other => Err(invalid_column(format!("room kind {other:?}"))),
    }
}

fn invalid_column(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
}

/// SQLite integers are i64. Nothing the store writes comes near i64::MAX; clamping keeps a
/// hostile value from wrapping negative.
fn int(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

/// Runs `sql` through the statement cache.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, ChatError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(storage)
}

/// One operation's writes inside the open batch: a savepoint, released when the operation
/// succeeded and rolled back alone (the batch goes on) when it failed, or panicked.
struct Change<'c> {
    conn: &'c Connection,
    kept: bool,
}

impl<'c> Change<'c> {
    fn begin(conn: &'c Connection) -> Result<Change<'c>, ChatError> {
        exec(conn, "SAVEPOINT change", [])?;
        Ok(Change { conn, kept: false })
    }

    fn keep(mut self) -> Result<(), ChatError> {
        exec(self.conn, "RELEASE change", [])?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Change<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let _ = exec(self.conn, "ROLLBACK TO change", []);
            let _ = exec(self.conn, "RELEASE change", []);
        }
    }
}

/// Ends a batch if the task waiting for it is dropped during its yield: a change must never sit
/// in an open transaction with nobody left to commit it.
struct EndOnDrop<'s> {
    store: &'s SqliteStore,
    batch: Option<u64>,
}

impl Drop for EndOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(batch) = self.batch {
            let _ = self.store.end_batch(batch);
        }
    }
}

impl State {
    /// Joins the open batch, or begins one: called before an operation's first write.
    fn writing(&mut self) -> Result<(), ChatError> {
        if self.open.is_none() {
            exec(&self.conn, "BEGIN", [])?;
            self.open = Some(self.ended + 1);
        }
        Ok(())
    }
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

    /// Runs `change` under the store's lock. Returns its result and the open batch (its own
    /// writes, others', or both), which the caller awaits with [`Self::settled`] before
    /// answering anyone: a result may rest on changes that are not durable yet.
    fn change<T>(
        &self,
        change: impl FnOnce(&mut State) -> Result<T, ChatError>,
    ) -> Result<(T, Option<u64>), ChatError> {
        let mut state = self.lock();
        let value = change(&mut state)?;
        Ok((value, state.open))
    }

    /// Returns once `batch` is in the WAL, or fails if it could not be written. The task yields
    /// once first, so that changes of other tasks join the batch; then the first task to get
    /// here commits it for all of them.
    async fn durable(&self, batch: u64) -> Result<(), ChatError> {
        let mut ending = EndOnDrop {
            store: self,
            batch: Some(batch),
        };
        tokio::task::yield_now().await;
        ending.batch = None;
        self.end_batch(batch)
    }

    /// Commits `batch` if it is still open; then tells whether it was saved.
    fn end_batch(&self, batch: u64) -> Result<(), ChatError> {
        let mut state = self.lock();
        if state.open == Some(batch) {
            state.open = None;
            state.ended = batch;
            if let Err(e) = exec(&state.conn, "COMMIT", []) {
                tracing::error!(error = %e, "could not save changes to {}", self.path.display());
                if !state.conn.is_autocommit() {
                    let _ = exec(&state.conn, "ROLLBACK", []);
                }
                // The mirror holds the batch's changes; the file, rolled back, is the truth.
                for slot in state.mirror.rooms.values() {
                    slot.changed.notify_waiters();
                }
                state.wake_queue = true;
                match load(&state.conn) {
                    Ok(mirror) => state.mirror = mirror,
                    Err(e) => tracing::error!(error = %e, "could not re-read the store"),
                }
                state.failed.push_back((batch, e.to_string()));
                if state.failed.len() > 64 {
                    state.failed.pop_front();
                }
            } else {
                self.checkpointer.nudge();
            }
            for waiters in std::mem::take(&mut state.wake_rooms) {
                waiters.notify_waiters();
            }
            if std::mem::take(&mut state.wake_queue) {
                self.queue_changed.notify_waiters();
            }
        }
        match state.failed.iter().find(|(b, _)| *b == batch) {
            Some((_, e)) => Err(storage(format!("the change was not saved: {e}"))),
            None => Ok(()),
        }
    }

    /// Waits for the open batch, if any: a read that may include its changes returns them only
    /// once they are durable.
    async fn settled(&self, open: Option<u64>) -> Result<(), ChatError> {
        match open {
            Some(batch) => self.durable(batch).await,
            None => Ok(()),
        }
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

/// Locks `PATH.lock` for as long as the returned file stays open, or says who holds it.
fn take_ownership(path: &Path) -> Result<std::fs::File, ChatError> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| storage(format!("cannot open {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(storage(format!(
            "{} is in use by another mcp-chat process; stop it, or give this one its own file \
             with --store sqlite:PATH",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(storage(format!("cannot lock {}: {e}", lock_path.display())))
        }
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

/// Reads everything but the logs into a mirror.
fn load(conn: &Connection) -> rusqlite::Result<Mirror> {
    let mut mirror = Mirror::default();
    let mut stmt = conn.prepare(
        "SELECT client_id, user_id, display_name, created_ms, last_seen_ms FROM clients",
    )?;
    for client in stmt.query_map([], |r| {
        Ok(ClientRecord {
            client_id: r.get(0)?,
            user_id: r.get(1)?,
            display_name: r.get(2)?,
            created_ms: r.get::<_, i64>(3)? as u64,
            last_seen_ms: r.get::<_, i64>(4)? as u64,
        })
    })? {
        let client = client?;
        mirror.clients.insert(client.client_id.clone(), client);
    }

    let mut rooms = std::collections::HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT room_id, kind, capacity, status, created_ms, last_activity_ms, latest_seq \
         FROM rooms",
    )?;
    for room in stmt.query_map([], |r| {
        Ok(Room {
            room_id: r.get(0)?,
            kind: kind_from(&r.get::<_, String>(1)?)?,
            capacity: r.get::<_, i64>(2)? as u32,
            status: status_from(&r.get::<_, String>(3)?)?,
            members: Vec::new(),
            created_ms: r.get::<_, i64>(4)? as u64,
            last_activity_ms: r.get::<_, i64>(5)? as u64,
            latest_seq: r.get::<_, i64>(6)? as u64,
        })
    })? {
        let room = room?;
        rooms.insert(room.room_id.clone(), room);
    }
    let mut stmt = conn.prepare(
        "SELECT room_id, client_id, user_id, display_name, joined_ms, delivered_seq, sent \
         FROM members ORDER BY room_id, position",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let room_id: String = r.get(0)?;
        if let Some(room) = rooms.get_mut(&room_id) {
            room.members.push(Member {
                client_id: r.get(1)?,
                user_id: r.get(2)?,
                display_name: r.get(3)?,
                joined_ms: r.get::<_, i64>(4)? as u64,
                delivered_seq: r.get::<_, i64>(5)? as u64,
                sent: SentKeys::from_stored(r.get(6)?),
                // Never set: one process (see `Store::shared`).
                unconfirmed_from: None,
            });
        }
    }
    // A room's row is not rewritten for each message (see `write_room`): its newest message
    // has the newer counters.
    let mut newest = conn
        .prepare("SELECT seq, body FROM messages WHERE room_id = ?1 ORDER BY seq DESC LIMIT 1")?;
    for mut room in rooms.into_values() {
        let last = newest
            .query_row([&room.room_id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })
            .optional()?;
        if let Some((seq, body)) = last.filter(|(seq, _)| *seq > room.latest_seq) {
            let message: ChatMessage = serde_json::from_str(&body)
                .map_err(|e| invalid_column(format!("message {seq}: {e}")))?;
            room.latest_seq = seq;
            room.last_activity_ms = room.last_activity_ms.max(message.timestamp_ms);
        }
        mirror.load_room(room);
    }

    let (state, version): (String, i64) =
        conn.query_row("SELECT state, version FROM queue WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    mirror.queue =
        serde_json::from_str(&state).map_err(|e| invalid_column(format!("queue: {e}")))?;
    mirror.queue_version = version as u64;
    Ok(mirror)
}

/// Writes what a room transaction changed, from the room as it was (`None`: new) to `committed`.
fn write_room(
    conn: &Connection,
    before: Option<&Room>,
    committed: &Committed,
) -> Result<(), ChatError> {
    let room = &committed.room;
    let change = Change::begin(conn)?;
    // A message carries the room's new `latest_seq` and `last_activity_ms` itself (see `load`):
    // a plain send writes its message row and leaves the room's row alone.
    let carried = committed
        .appended
        .last()
        .is_some_and(|m| m.seq == room.latest_seq && m.timestamp_ms == room.last_activity_ms);
    let header_changed = before.is_none_or(|b| {
        (b.kind, b.capacity, b.status, b.created_ms, b.members.len())
            != (
                room.kind,
                room.capacity,
                room.status,
                room.created_ms,
                room.members.len(),
            )
            || (!carried
                && (b.last_activity_ms, b.latest_seq) != (room.last_activity_ms, room.latest_seq))
    });
    if header_changed {
        exec(
            conn,
            "INSERT INTO rooms (room_id, kind, capacity, status, member_count, created_ms, \
             last_activity_ms, latest_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT(room_id) DO UPDATE SET kind = ?2, capacity = ?3, status = ?4, \
             member_count = ?5, created_ms = ?6, last_activity_ms = ?7, latest_seq = ?8",
            params![
                room.room_id,
                kind_name(room.kind),
                room.capacity,
                status_name(room.status),
                room.members.len() as i64,
                int(room.created_ms),
                int(room.last_activity_ms),
                int(room.latest_seq)
            ],
        )?;
    }
    let old_members = before.map_or(&[][..], |b| &b.members[..]);
    for member in &room.members {
        match old_members.iter().find(|m| m.client_id == member.client_id) {
            Some(old) if old == member => {}
            Some(_) => {
                exec(
                    conn,
                    "UPDATE members SET user_id = ?3, display_name = ?4, joined_ms = ?5, \
                     delivered_seq = ?6, sent = ?7 WHERE room_id = ?1 AND client_id = ?2",
                    params![
                        room.room_id,
                        member.client_id,
                        member.user_id,
                        member.display_name,
                        int(member.joined_ms),
                        int(member.delivered_seq),
                        member.sent.as_str()
                    ],
                )?;
            }
            None => {
                // After every member there is or was: the list's order survives a restart.
                exec(
                    conn,
                    "INSERT INTO members (room_id, client_id, position, user_id, display_name, \
                     joined_ms, delivered_seq, sent) VALUES (?1, ?2, \
                     (SELECT COALESCE(MAX(position), -1) + 1 FROM members WHERE room_id = ?1), \
                     ?3, ?4, ?5, ?6, ?7)",
                    params![
                        room.room_id,
                        member.client_id,
                        member.user_id,
                        member.display_name,
                        int(member.joined_ms),
                        int(member.delivered_seq),
                        member.sent.as_str()
                    ],
                )?;
            }
        }
    }
    for old in old_members {
        if room.member(&old.client_id).is_none() {
            exec(
                conn,
                "DELETE FROM members WHERE room_id = ?1 AND client_id = ?2",
                params![room.room_id, old.client_id],
            )?;
        }
    }
    for m in &committed.appended {
        let body = serde_json::to_string(m).map_err(storage)?;
        exec(
            conn,
            "INSERT INTO messages (room_id, seq, body) VALUES (?1, ?2, ?3)",
            params![room.room_id, int(m.seq), body],
        )?;
    }
    change.keep()
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

    async fn remember(
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
    use crate::engine::model::{Draft, QueueEntry, QueueState};
    use crate::engine::store::RoomChange;
    use mcp_chat_shared::chat::MessageKind;

    fn member(client: &str, delivered_seq: u64) -> Member {
        Member {
            client_id: client.into(),
            user_id: format!("u-{client}"),
            display_name: format!("Name {client}"),
            joined_ms: 7,
            delivered_seq,
            sent: Default::default(),
            unconfirmed_from: None,
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
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
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
}

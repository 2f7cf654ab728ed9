//! Where the engine keeps clients, rooms, logs and the queue.
//!
//! The trait is shaped for more than memory: every change is one atomic transaction over one
//! room (or the queue) into which the engine passes the rule to apply ([`RoomTx`]); the store
//! appends the drafts the rule returns with consecutive `seq`s in the same transaction and wakes
//! exactly that room's waiters. A durable or distributed backend implements the same few
//! operations (load, apply, persist, wake) and the rules stay in [`super::rules`].
//!
//! Backends: [`memory`] (one process, nothing kept), [`sqlite`] (one process, durable) and
//! [`redis`] (shared by several processes).

#[cfg(test)]
pub mod fixtures;
pub mod memory;
pub mod mirror;
pub mod redis;
pub mod sqlite;
pub mod timed;

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mcp_chat_shared::chat::{ChatMessage, RoomStatus};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::error::ChatError;
use super::limits::Limits;
use super::model::{ClientRecord, Draft, Queue, Room};
use super::rate::{Rate, Taken};

/// What a transaction body found out for its caller, besides its change: the store hands back
/// the value of the run it kept. [`dyn Store::change_room`] and [`dyn Store::change_queue`] put
/// typed values in and take them out.
pub type Output = Box<dyn Any + Send>;

/// A room transaction's body: the rule applied to the room, which returns the entries to append
/// and a value for its caller. An `Err` aborts the transaction: nothing of it is kept.
///
/// **A body may run more than once**, each time on a fresh copy of the room: the Redis store runs
/// it again when another instance changed the room first, and any store may. Hence `Fn`, not
/// `FnMut`: a body cannot change what it captured, so what it learns it returns, and only the
/// run that was committed reaches the caller. The conformance suite runs every body twice on
/// every store (`TestStore::twice`) to hold the engine to it.
pub type RoomTx<'a> = &'a (dyn Fn(&mut Room) -> Result<RoomChange, ChatError> + Sync);

/// A queue transaction's body; like [`RoomTx`], it may run more than once.
pub type QueueTx<'a> = &'a (dyn Fn(&mut Queue) -> Result<Output, ChatError> + Sync);

/// What a room transaction's body returns.
pub struct RoomChange {
    /// Entries to append to the room's log, in order; the store numbers them.
    pub drafts: Vec<Draft>,
    pub output: Output,
}

impl RoomChange {
    /// A change with nothing to tell its caller.
    pub fn drafts(drafts: Vec<Draft>) -> RoomChange {
        RoomChange {
            drafts,
            output: Box::new(()),
        }
    }
}

/// The outcome of a room transaction.
pub struct Committed {
    /// The room as the transaction left it.
    pub room: Room,
    /// The log entries it appended, in order.
    pub appended: Vec<ChatMessage>,
    /// True when the transaction created the room.
    pub created: bool,
    /// What the committed run of the body returned.
    pub output: Output,
}

impl dyn Store {
    /// [`Store::transact_room`] for a body that returns its drafts and a value of its own type.
    pub async fn change_room<T: Send + 'static>(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        body: impl Fn(&mut Room) -> Result<(Vec<Draft>, T), ChatError> + Sync,
    ) -> Result<(Committed, T), ChatError> {
        let erased = |room: &mut Room| {
            let (drafts, value) = body(room)?;
            Ok(RoomChange {
                drafts,
                output: Box::new(value),
            })
        };
        let mut committed = self
            .transact_room(room_id, create, max_rooms, now, &erased)
            .await?;
        let value = output(std::mem::replace(&mut committed.output, Box::new(())))?;
        Ok((committed, value))
    }

    /// [`Store::transact_queue`] for a body that returns a value of its own type. Returns that
    /// value and the queue's new version.
    pub async fn change_queue<T: Send + 'static>(
        &self,
        body: impl Fn(&mut Queue) -> Result<T, ChatError> + Sync,
    ) -> Result<(T, u64), ChatError> {
        let erased = |queue: &mut Queue| body(queue).map(|value| Box::new(value) as Output);
        let (version, value) = self.transact_queue(&erased).await?;
        Ok((output(value)?, version))
    }
}

/// The typed value inside an [`Output`]. A store returns the output of the body it was given,
/// so another type is a store's bug, reported as a storage error rather than a panic.
fn output<T: 'static>(output: Output) -> Result<T, ChatError> {
    output
        .downcast::<T>()
        .map(|value| *value)
        .map_err(|_| ChatError::Storage("a transaction returned another body's output".into()))
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Adds a client, unless `max_clients` are already known.
    async fn insert_client(
        &self,
        client: ClientRecord,
        max_clients: usize,
    ) -> Result<(), ChatError>;
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, ChatError>;
    /// Records activity (`last_seen_ms = now`).
    async fn touch_client(&self, client_id: &str, now: u64) -> Result<(), ChatError>;
    async fn remove_client(&self, client_id: &str) -> Result<(), ChatError>;
    /// Clients last seen before `cutoff_ms`.
    async fn idle_clients(&self, cutoff_ms: u64) -> Result<Vec<ClientRecord>, ChatError>;
    /// Rooms `client_id` is a member of.
    async fn client_rooms(&self, client_id: &str) -> Result<Vec<String>, ChatError>;

    /// Applies `tx` to room `room_id` atomically. When the room does not exist it is created
    /// from `create` (unless `max_rooms` exist already), or the call fails with `RoomNotFound`.
    async fn transact_room(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        tx: RoomTx<'_>,
    ) -> Result<Committed, ChatError>;
    async fn room(&self, room_id: &str) -> Result<Option<Room>, ChatError>;
    /// Up to `limit` log entries with `seq > after_seq`, oldest first.
    async fn messages_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError>;
    /// Up to `limit` log entries with `seq < before_seq`, the newest of them, oldest first.
    async fn messages_before(
        &self,
        room_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError>;
    /// Returns once room `room_id` has an entry with `seq > seen_seq` (at once if it has one),
    /// when the room is removed, or at `deadline`. Event-driven: no polling.
    async fn wait_room(
        &self,
        room_id: &str,
        seen_seq: u64,
        deadline: Instant,
    ) -> Result<(), ChatError>;
    /// Ended or empty rooms with no activity since `cutoff_ms`.
    async fn idle_rooms(&self, cutoff_ms: u64) -> Result<Vec<String>, ChatError>;
    /// Removes a room and its log, waking its waiters — only if it is still idle as of
    /// `cutoff_ms` (see [`idle`]), checked atomically with the removal. Sweeps (several, with
    /// several instances) act on listings that may be stale: a room someone joined or wrote to
    /// since must survive. Returns whether it was removed.
    async fn remove_room(&self, room_id: &str, cutoff_ms: u64) -> Result<bool, ChatError>;
    async fn room_count(&self) -> Result<usize, ChatError>;
    /// Every room the store holds, in no order: for operators (`mcp-chat admin rooms`) and the
    /// metrics' census, never a request. It reads every room.
    async fn all_rooms(&self) -> Result<Vec<Room>, ChatError>;
    /// How many clients the store knows.
    async fn client_count(&self) -> Result<usize, ChatError>;

    /// Applies `tx` to the queue atomically; returns the queue's new version and what the
    /// committed run of `tx` returned.
    async fn transact_queue(&self, tx: QueueTx<'_>) -> Result<(u64, Output), ChatError>;
    /// The queue and its version.
    async fn queue(&self) -> Result<(Queue, u64), ChatError>;
    /// Returns once the queue's version differs from `seen_version`, or at `deadline`.
    async fn wait_queue(&self, seen_version: u64, deadline: Instant) -> Result<(), ChatError>;

    /// Takes a token from the rate bucket `key`. The buckets live where the store does, so
    /// instances sharing a store share every limit instead of each granting the full rate.
    async fn take_token(&self, key: &str, rate: Rate) -> Result<Taken, ChatError>;
    /// Returns a token taken for an operation that then failed.
    async fn give_back_token(&self, key: &str, rate: Rate) -> Result<(), ChatError>;
    /// Forgets rate buckets that are full again (stores whose buckets do not expire on their own).
    fn prune_tokens(&self) {}

    /// Whether several processes share this store. Then the instance that claimed a batch for a
    /// wait may die before answering while the others go on, so a claim counts as delivered
    /// only once confirmed (`engine/answered.rs`). A one-process store dies whole: nothing to
    /// confirm, and nothing changes for it.
    fn shared(&self) -> bool {
        false
    }

    /// Records, in the background, that `client_id`'s waits in `room_id` have handed over
    /// everything up to `seq`. Best effort: a confirmation lost makes a batch be handed out
    /// again, never skipped.
    fn confirm_delivery(&self, _room_id: &str, _client_id: &str, _seq: u64) {}

    /// What a claim reads: [`Store::room`], and the highest `seq` [`Store::confirm_delivery`]
    /// recorded for `client_id` there (0 for none; everything, for a store that is not
    /// [`Store::shared`]).
    async fn room_for_claim(
        &self,
        room_id: &str,
        _client_id: &str,
    ) -> Result<(Option<Room>, u64), ChatError> {
        Ok((self.room(room_id).await?, u64::MAX))
    }

    /// Records `value` under `key` for `ttl`, unless a value is recorded there already: then
    /// records nothing and returns that value. Atomic, and shared by every instance that shares
    /// the store: the first of several concurrent calls wins, the others all see its value.
    async fn record_once(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<Option<String>, ChatError>;
}

/// Which backend to use, as `--store` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// Everything in this process; gone when it stops.
    Memory,
    /// A SQLite file; `None` means the default file under the user's data directory.
    Sqlite(Option<PathBuf>),
    /// A Redis server shared by every instance that names it.
    Redis(redis::RedisTarget),
}

/// An opened store, and what the HTTP transport needs from it.
pub struct Opened {
    pub store: Arc<dyn Store>,
    /// Records every instance shares (the HTTP layer keeps MCP sessions there, so that any
    /// instance can continue them); `None` for a one-process store.
    pub shared: Option<redis::SharedRecords>,
}

impl std::str::FromStr for StoreSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "memory" => Ok(StoreSpec::Memory),
            "sqlite" => Ok(StoreSpec::Sqlite(None)),
            _ if s.starts_with("redis://") || s.starts_with("rediss://") => {
                redis::RedisTarget::parse(s).map(StoreSpec::Redis)
            }
            _ => match s.strip_prefix("sqlite:") {
                Some("") => {
                    Err("sqlite: needs a path, e.g. sqlite:/var/lib/mcp-chat/chat.db".into())
                }
                Some(path) => Ok(StoreSpec::Sqlite(Some(PathBuf::from(path)))),
                None => Err(format!(
                    "unknown store {}: use memory, sqlite (the default file), sqlite:PATH or \
                     redis://HOST:PORT",
                    // Whatever it is, it may hold a password.
                    if s.contains('@') {
                        "(not shown)".to_owned()
                    } else {
                        format!("{s:?}")
                    }
                )),
            },
        }
    }
}

impl StoreSpec {
    /// `$XDG_DATA_HOME/mcp-chat/chat.db` (or the platform's equivalent).
    pub fn default_sqlite_path() -> PathBuf {
        dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("mcp-chat")
            .join("chat.db")
    }

    /// Opens the store. `limits` tells a store that expires keys on its own how long the
    /// engine keeps things, so that it never drops them first.
    pub async fn open(&self, limits: &Limits) -> Result<Opened, ChatError> {
        let (store, shared): (Arc<dyn Store>, _) = match self {
            StoreSpec::Memory => (Arc::new(memory::MemoryStore::new()), None),
            StoreSpec::Sqlite(path) => {
                let path = path.clone().unwrap_or_else(Self::default_sqlite_path);
                (Arc::new(sqlite::SqliteStore::open(&path)?), None)
            }
            StoreSpec::Redis(target) => {
                let ttl = redis_key_ttl(target, limits);
                let store = redis::RedisStore::open(target, ttl).await?;
                let shared = store.shared_records(ttl);
                (Arc::new(store), Some(shared))
            }
        };
        Ok(Opened {
            store: Arc::new(timed::Timed::around(store, self.kind())),
            shared,
        })
    }

    /// The backend's name, as the metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreSpec::Memory => "memory",
            StoreSpec::Sqlite(_) => "sqlite",
            StoreSpec::Redis(_) => "redis",
        }
    }

    /// For the log: never contains a password.
    pub fn describe(&self) -> String {
        match self {
            StoreSpec::Memory => "memory (nothing survives a restart)".into(),
            StoreSpec::Sqlite(path) => {
                let path = path.clone().unwrap_or_else(Self::default_sqlite_path);
                format!("sqlite at {}", path.display())
            }
            StoreSpec::Redis(target) => format!(
                "redis at {} (keys under {:?})",
                target.redacted(),
                target.prefix()
            ),
        }
    }
}

/// Redis keys expire this long after their last write: the URL's `ttl=` (default a day), but
/// never sooner than twice the longest expiry the engine applies itself, so that the sweep,
/// not Redis, decides when a client or room ends.
fn redis_key_ttl(target: &redis::RedisTarget, limits: &Limits) -> Duration {
    let engine = limits
        .client_idle_ttl
        .max(limits.room_idle_ttl)
        .max(limits.queue_ttl)
        * 2;
    let asked = target.ttl().unwrap_or(redis::DEFAULT_KEY_TTL);
    if asked < engine {
        tracing::warn!(
            "redis ttl of {} s is shorter than twice the engine's idle expiry; using {} s",
            asked.as_secs(),
            engine.as_secs()
        );
    }
    asked.max(engine)
}

/// The room a transaction works on: the `existing` one, else `create` if the server holds fewer
/// than `max_rooms` (`room_count` is asked only then), else not found.
pub fn room_to_change(
    room_id: &str,
    existing: Option<Room>,
    create: Option<Room>,
    max_rooms: usize,
    room_count: impl FnOnce() -> Result<usize, ChatError>,
) -> Result<Room, ChatError> {
    match (existing, create) {
        (Some(room), _) => Ok(room),
        (None, None) => Err(ChatError::RoomNotFound(room_id.to_owned())),
        (None, Some(new)) => {
            if room_count()? >= max_rooms {
                return Err(ChatError::ServerFull {
                    what: "rooms",
                    limit: max_rooms,
                });
            }
            Ok(new)
        }
    }
}

/// An ended or empty room with no activity since `cutoff_ms`: what a sweep may remove.
pub fn idle(room: &Room, cutoff_ms: u64) -> bool {
    (room.status == RoomStatus::Ended || room.members.is_empty())
        && room.last_activity_ms < cutoff_ms
}

/// The client ids of a room's members: taken before and after a transaction, their differences
/// are who joined and who left, which every store's membership index must follow.
pub fn member_ids(room: &Room) -> std::collections::HashSet<String> {
    room.members.iter().map(|m| m.client_id.clone()).collect()
}

/// Turns drafts into log entries, numbering them after `room.latest_seq`.
pub fn stamp(room: &mut Room, drafts: Vec<Draft>, now: u64) -> Vec<ChatMessage> {
    drafts
        .into_iter()
        .map(|d| {
            room.latest_seq += 1;
            ChatMessage {
                seq: room.latest_seq,
                message_id: super::ids::message_id(),
                room_id: room.room_id.clone(),
                kind: d.kind,
                sender: d.sender,
                text: d.text,
                timestamp: super::ids::rfc3339(now),
                timestamp_ms: now,
            }
        })
        .collect()
}

/// The one way a store waits: until `ready` says so, waking on `changed`, or until `deadline`.
///
/// `ready` must be lazy (an `async` block, not an already computed `std::future::ready`): it is
/// polled only once this wait is registered with `changed`, so a change committed between the
/// caller's read and the check still wakes it (the lost wake-up every event-driven wait must
/// rule out). It answers `Ok(true)` to return at once, or an error to fail
/// the wait. One-process stores check their mirror; Redis reads the room or the queue version.
pub async fn wait_until(
    changed: &Notify,
    ready: impl Future<Output = Result<bool, ChatError>>,
    deadline: Instant,
) -> Result<(), ChatError> {
    let notified = changed.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    if ready.await? {
        return Ok(());
    }
    let _ = tokio::time::timeout_at(deadline, notified).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_never_show_a_password() {
        assert_eq!("memory".parse::<StoreSpec>().unwrap(), StoreSpec::Memory);
        assert_eq!(
            "sqlite".parse::<StoreSpec>().unwrap(),
            StoreSpec::Sqlite(None)
        );
        let spec: StoreSpec = "redis://:pw123@127.0.0.1:6379/1?prefix=x:".parse().unwrap();
        let described = spec.describe();
        assert!(
            described.starts_with("redis at redis://:***@127.0.0.1:6379/1"),
            "{described}"
        );
        assert!(described.contains(r#"keys under "x:""#), "{described}");
        assert!(!described.contains("pw123"));
        assert!(!format!("{spec:?}").contains("pw123"));
        for bad in [
            "redis://:pw123@h/?prefix=*",
            "redis:/:pw123@h",
            "rediss://:pw123@h",
        ] {
            let err = bad.parse::<StoreSpec>().unwrap_err();
            assert!(!err.contains("pw123"), "{err}");
        }
    }
}

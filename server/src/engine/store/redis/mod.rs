//! The Redis store: one shared state for several `mcp-chat serve` instances.
//!
//! - **Layout** ([`keys`]): rooms and the queue are JSON values, each room's log is a Redis
//!   stream whose entry ids are `<seq>-0` (so XRANGE/XREVRANGE read by sequence number), clients
//!   are hashes, and sorted sets index clients and rooms by their last activity. Delivery cursors
//!   stay in the room's members (`delivered_seq`), not in consumer groups, so any instance can
//!   claim for any member.
//! - **Transactions** ([`scripts`]): optimistic. Read the room (or queue), apply the engine's rule
//!   here, then one Lua script commits only if the value is still the one read: it writes the
//!   room, XADDs the new entries, updates the indexes and publishes a wake-up, atomically. A
//!   commit that lost a race changes nothing and is retried from the read, so `seq`s stay
//!   gap-free and nothing is lost or doubled. Every commit also leaves a short-lived marker, so a
//!   commit whose reply was lost to a dropped connection is recognised instead of applied twice.
//! - **Wake-ups** ([`wake`]): PUBLISH per room/queue after each commit; one subscriber
//!   connection per instance fans out to in-process `Notify`s.
//! - **Expiry**: the engine's sweep removes idle state (removals are idempotent, so several
//!   instances may sweep at once); on top of that every key carries a TTL, refreshed by each
//!   write, so state nobody touches vanishes even if no instance is left to sweep.
//! - **Connection loss**: commands go through redis-rs's `ConnectionManager`, which reconnects;
//!   commands that failed on a broken connection are retried for a few seconds. The subscriber
//!   reconnects on its own, logs the loss and the return, and resubscribes.

mod config;
mod confirm;
mod conn;
pub mod keys;
mod records;
mod scripts;
mod wake;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mcp_chat_shared::chat::ChatMessage;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::StreamRangeReply;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

pub use config::RedisTarget;
pub use records::SharedRecords;

use super::{
    Committed, Output, QueueTx, RoomChange, RoomTx, Store, idle, member_ids, stamp, wait_until,
};
use crate::engine::error::ChatError;
use crate::engine::model::{ClientRecord, Queue, Room};
use crate::engine::rate::{Rate, Taken};
use conn::{Attempts, Commit, Conn};
use keys::Keys;
use wake::Wakers;

/// Keys live at least this long after their last write, unless the URL says otherwise.
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Long enough to find out, after a dropped connection, whether a commit was applied.
const COMMIT_MARKER_TTL_SECS: u64 = 120;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Generous: a slow answer is retried (safely, see `commit`), but only after this.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    key_ttl_secs: u64,
    wakers: Arc<Wakers>,
    /// Each room's value as this instance last read or wrote it. A transaction starts from it
    /// instead of reading the room again (a claim has just read it; a send follows the last
    /// commit here): one round trip less. The commit script compares it with the stored value
    /// anyway, so a stale one costs a retry from a fresh read, never a wrong write.
    last_seen: std::sync::Mutex<HashMap<String, String>>,
    commits: std::sync::atomic::AtomicU64,
    confirmations: confirm::Confirmations,
    _subscriber: DropGuard,
}

/// At most this many rooms' values are remembered (a few MB); the memory is dropped, not
/// evicted one by one, when the bound is reached.
const REMEMBERED_ROOMS: usize = 4096;

fn storage(e: impl std::fmt::Display) -> ChatError {
    ChatError::Storage(format!("redis: {e}"))
}

fn random_token() -> String {
    crate::engine::ids::random_hex::<12>()
}

fn parse_room(json: &str) -> Result<Room, ChatError> {
    serde_json::from_str(json).map_err(storage)
}

fn client_from_hash(client_id: &str, h: &HashMap<String, String>) -> Option<ClientRecord> {
    let number = |field: &str| h.get(field).and_then(|v| v.parse::<u64>().ok());
    Some(ClientRecord {
        client_id: client_id.to_owned(),
        user_id: h.get("user_id")?.clone(),
        display_name: h.get("display_name")?.clone(),
        created_ms: number("created_ms")?,
        last_seen_ms: number("last_seen_ms")?,
    })
}

fn messages_of(reply: StreamRangeReply) -> Result<Vec<ChatMessage>, ChatError> {
    reply
        .ids
        .iter()
        .map(|entry| {
            let body: String = entry
                .get("m")
                .ok_or_else(|| storage(format!("log entry {} has no message", entry.id)))?;
            serde_json::from_str(&body).map_err(storage)
        })
        .collect()
}

impl RedisStore {
    /// Connects, checks that the server answers and subscribes to wake-ups; fails at once with
    /// the cause when the server cannot be reached.
    pub async fn open(target: &RedisTarget, key_ttl: Duration) -> Result<RedisStore, ChatError> {
        Self::open_with(target, key_ttl, RESPONSE_TIMEOUT).await
    }

    async fn open_with(
        target: &RedisTarget,
        key_ttl: Duration,
        response_timeout: Duration,
    ) -> Result<RedisStore, ChatError> {
        let unreachable =
            |e: &dyn std::fmt::Display| storage(format!("cannot connect to {target}: {e}"));
        let client = redis::Client::open(target.connect_url()).map_err(|e| unreachable(&e))?;
        let mut probe =
            tokio::time::timeout(CONNECT_TIMEOUT, client.get_multiplexed_async_connection())
                .await
                .map_err(|_| unreachable(&"timed out"))?
                .map_err(|e| unreachable(&e))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut probe)
            .await
            .map_err(|e| unreachable(&e))?;
        drop(probe);

        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(response_timeout))
            .set_max_delay(Duration::from_secs(2));
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| unreachable(&e))?;
        let keys = Keys::new(target.prefix());
        let wakers = Arc::new(Wakers::new(random_token()));
        let stop = CancellationToken::new();
        let ready = wake::spawn_subscriber(
            client,
            keys.clone(),
            wakers.clone(),
            target.redacted().to_owned(),
            stop.clone(),
        );
        // Armed now, so that failing below stops the subscriber too.
        let subscriber = stop.drop_guard();
        tokio::time::timeout(CONNECT_TIMEOUT * 2, ready)
            .await
            .map_err(|_| unreachable(&"could not subscribe to wake-ups"))?
            .map_err(|_| unreachable(&"the wake-up subscriber stopped"))?;
        let key_ttl_secs = key_ttl.as_secs().max(1);
        Ok(RedisStore {
            confirmations: confirm::Confirmations::start(Conn(conn.clone()), key_ttl_secs),
            conn: Conn(conn),
            keys,
            key_ttl_secs,
            wakers,
            last_seen: std::sync::Mutex::new(HashMap::new()),
            commits: std::sync::atomic::AtomicU64::new(0),
            _subscriber: subscriber,
        })
    }

    /// A name for one commit's marker, unique among every instance's: this instance's random
    /// token and a counter (no system call per commit).
    fn commit_id(&self) -> String {
        let n = self
            .commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}.{n:x}", self.wakers.instance())
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.last_seen.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes `room_id`'s value as read or written (`None`: absent).
    fn remember(&self, room_id: &str, value: Option<&str>) {
        let mut seen = self.remembered();
        match value {
            Some(json) => {
                if seen.len() >= REMEMBERED_ROOMS && !seen.contains_key(room_id) {
                    seen.clear();
                }
                seen.insert(room_id.to_owned(), json.to_owned());
            }
            None => {
                seen.remove(room_id);
            }
        }
    }

    /// Records other layers share between instances (the HTTP layer's MCP sessions), on this
    /// store's connection and under its prefix.
    pub fn shared_records(&self, ttl: Duration) -> SharedRecords {
        SharedRecords::new(self.conn.clone(), self.keys.clone(), ttl)
    }

    async fn read_room(&self, room_id: &str) -> Result<Option<String>, ChatError> {
        let value: Option<String> = self
            .conn
            .query(redis::cmd("GET").arg(self.keys.room(room_id)))
            .await?;
        self.remember(room_id, value.as_deref());
        Ok(value)
    }

    async fn read_queue(&self) -> Result<(Queue, u64), ChatError> {
        let (state, version): (Option<String>, Option<u64>) = self
            .conn
            .query(
                redis::cmd("HMGET")
                    .arg(self.keys.queue())
                    .arg("state")
                    .arg("version"),
            )
            .await?;
        let queue = match state {
            Some(s) => serde_json::from_str(&s).map_err(storage)?,
            None => Queue::default(),
        };
        Ok((queue, version.unwrap_or(0)))
    }

    /// `EXISTS room` and one range read of its log, atomically.
    async fn read_log(
        &self,
        room_id: &str,
        range: Option<redis::Cmd>,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("EXISTS").arg(self.keys.room(room_id));
        let (exists, reply) = match range {
            Some(cmd) => {
                pipe.add_command(cmd);
                self.conn
                    .query_pipe::<(bool, StreamRangeReply)>(&pipe)
                    .await?
            }
            None => {
                let (exists,): (bool,) = self.conn.query_pipe(&pipe).await?;
                (exists, StreamRangeReply::default())
            }
        };
        if !exists {
            return Err(ChatError::RoomNotFound(room_id.to_owned()));
        }
        messages_of(reply)
    }

    /// Members of an activity index (a sorted set scored by last activity) idle since before
    /// `cutoff_ms`.
    /// The JSON of each room in `ids`, in one round trip (`None` for one that is gone).
    async fn read_rooms(&self, ids: &[String]) -> Result<Vec<Option<String>>, ChatError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("GET").arg(self.keys.room(id));
        }
        self.conn.query_pipe(&pipe).await
    }

    async fn idle_ids(&self, index: String, cutoff_ms: u64) -> Result<Vec<String>, ChatError> {
        self.conn
            .query(
                redis::cmd("ZRANGEBYSCORE")
                    .arg(index)
                    .arg("-inf")
                    .arg(format!("({cutoff_ms}")),
            )
            .await
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn insert_client(
        &self,
        client: ClientRecord,
        max_clients: usize,
    ) -> Result<(), ChatError> {
        let mut script = scripts::INSERT_CLIENT.prepare_invoke();
        script
            .key(self.keys.client(&client.client_id))
            .key(self.keys.clients())
            .arg(max_clients)
            .arg(&client.client_id)
            .arg(&client.user_id)
            .arg(&client.display_name)
            .arg(client.created_ms)
            .arg(client.last_seen_ms)
            .arg(self.key_ttl_secs);
        match self.conn.invoke::<i64>(&script).await? {
            1 => Ok(()),
            _ => Err(ChatError::ServerFull {
                what: "clients",
                limit: max_clients,
            }),
        }
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, ChatError> {
        let h: HashMap<String, String> = self
            .conn
            .query(redis::cmd("HGETALL").arg(self.keys.client(client_id)))
            .await?;
        if h.is_empty() {
            return Ok(None);
        }
        client_from_hash(client_id, &h)
            .map(Some)
            .ok_or_else(|| storage(format!("client {client_id} is incomplete")))
    }

    async fn touch_client(&self, client_id: &str, now: u64) -> Result<(), ChatError> {
        let mut script = scripts::TOUCH_CLIENT.prepare_invoke();
        script
            .key(self.keys.client(client_id))
            .key(self.keys.clients())
            .key(self.keys.client_rooms(client_id))
            .arg(client_id)
            .arg(now)
            .arg(self.key_ttl_secs)
            // A room only read (waits with `after_seq` never commit) must not expire under
            // its members: every request of a member renews its room's keys too.
            .arg(self.keys.room(""))
            .arg(self.keys.log(""));
        self.conn.invoke::<i64>(&script).await.map(drop)
    }

    async fn remove_client(&self, client_id: &str) -> Result<(), ChatError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("DEL")
            .arg(self.keys.client(client_id))
            .arg(self.keys.client_rooms(client_id))
            .ignore()
            .cmd("ZREM")
            .arg(self.keys.clients())
            .arg(client_id)
            .ignore();
        self.conn.query_pipe::<()>(&pipe).await
    }

    async fn idle_clients(&self, cutoff_ms: u64) -> Result<Vec<ClientRecord>, ChatError> {
        let ids = self.idle_ids(self.keys.clients(), cutoff_ms).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HGETALL").arg(self.keys.client(id));
        }
        let hashes: Vec<HashMap<String, String>> = self.conn.query_pipe(&pipe).await?;
        Ok(ids
            .iter()
            .zip(&hashes)
            .map(|(id, h)| {
                // A record whose key expired while its index entry stayed: still listed, so the
                // sweep removes what is left of it.
                client_from_hash(id, h).unwrap_or_else(|| ClientRecord {
                    client_id: id.clone(),
                    user_id: String::new(),
                    display_name: String::new(),
                    created_ms: 0,
                    last_seen_ms: 0,
                })
            })
            .collect())
    }

    async fn client_rooms(&self, client_id: &str) -> Result<Vec<String>, ChatError> {
        let mut rooms: Vec<String> = self
            .conn
            .query(redis::cmd("SMEMBERS").arg(self.keys.client_rooms(client_id)))
            .await?;
        rooms.sort();
        Ok(rooms)
    }

    async fn transact_room(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        tx_fn: RoomTx<'_>,
    ) -> Result<Committed, ChatError> {
        let room_key = self.keys.room(room_id);
        let mut attempts = Attempts::new();
        // The first attempt starts from the remembered value, when there is one: a commit from a
        // stale value fails its check, and a rule refused on one is checked again (below), so
        // the value only ever saves a read.
        let mut remembered = self.remembered().get(room_id).cloned();
        let (room, appended, created, output) = loop {
            let hinted = remembered.is_some();
            let read = match remembered.take() {
                Some(json) => Some(json),
                None => self.read_room(room_id).await?,
            };
            let created = read.is_none();
            let mut room = match (&read, &create) {
                (Some(json), _) => parse_room(json)?,
                (None, Some(new)) => new.clone(),
                (None, None) => return Err(ChatError::RoomNotFound(room_id.to_owned())),
            };
            let before = member_ids(&room);
            let RoomChange { drafts, output } = match tx_fn(&mut room) {
                Ok(change) => change,
                // The remembered value may only save a read, never decide: another instance may
                // have changed the room since (a member joined there, a place was freed), so a
                // refusal found on it is decided again on the room as it is now.
                Err(_) if hinted => continue,
                Err(refused) => return Err(refused),
            };
            let appended = stamp(&mut room, drafts, now);
            let after = member_ids(&room);
            let joined: Vec<&String> = after.difference(&before).collect();
            let left: Vec<&String> = before.difference(&after).collect();

            let written = serde_json::to_string(&room).map_err(storage)?;
            let marker = self.keys.commit(&self.commit_id());
            let mut script = scripts::COMMIT_ROOM.prepare_invoke();
            script
                .key(&room_key)
                .key(self.keys.log(room_id))
                .key(self.keys.rooms())
                .key(&marker);
            for client_id in joined.iter().chain(&left) {
                script.key(self.keys.client_rooms(client_id));
            }
            script
                .arg(read.as_deref().unwrap_or(""))
                .arg(max_rooms)
                .arg(&written)
                .arg(room_id)
                .arg(room.last_activity_ms)
                .arg(joined.len())
                .arg(self.key_ttl_secs)
                .arg(COMMIT_MARKER_TTL_SECS)
                .arg(self.keys.room_channel(room_id))
                .arg(self.wakers.instance());
            for m in &appended {
                script
                    .arg(m.seq)
                    .arg(serde_json::to_string(m).map_err(storage)?);
            }
            match self.conn.commit::<i64>(&script, &marker).await? {
                Commit::Answered(1) | Commit::Applied => {
                    self.remember(room_id, Some(&written));
                    break (room, appended, created, output);
                }
                // Not a lost race: the remembered value was stale. Read, and go again at once.
                Commit::Answered(0) if hinted => {}
                Commit::Answered(-1) => {
                    return Err(ChatError::ServerFull {
                        what: "rooms",
                        limit: max_rooms,
                    });
                }
                Commit::Answered(_) | Commit::NotApplied => {
                    attempts.again("room transaction").await?
                }
            }
        };
        if !appended.is_empty() {
            self.wakers.wake_room(room_id);
        }
        Ok(Committed {
            room,
            appended,
            created,
            output,
        })
    }

    async fn room(&self, room_id: &str) -> Result<Option<Room>, ChatError> {
        self.read_room(room_id)
            .await?
            .map(|json| parse_room(&json))
            .transpose()
    }

    async fn messages_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let range = after_seq.checked_add(1).filter(|_| limit > 0).map(|from| {
            let mut cmd = redis::cmd("XRANGE");
            cmd.arg(self.keys.log(room_id))
                .arg(format!("{from}-0"))
                .arg("+")
                .arg("COUNT")
                .arg(limit);
            cmd
        });
        self.read_log(room_id, range).await
    }

    async fn messages_before(
        &self,
        room_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        // `seq < before` is `id <= (before - 1)-0`: every id is `<seq>-0`.
        let range = (before_seq >= 2 && limit > 0).then(|| {
            let mut cmd = redis::cmd("XREVRANGE");
            cmd.arg(self.keys.log(room_id))
                .arg(format!("{}-0", before_seq - 1))
                .arg("-")
                .arg("COUNT")
                .arg(limit);
            cmd
        });
        let mut newest_first = self.read_log(room_id, range).await?;
        newest_first.reverse();
        Ok(newest_first)
    }

    async fn wait_room(
        &self,
        room_id: &str,
        seen_seq: u64,
        deadline: Instant,
    ) -> Result<(), ChatError> {
        let changed = self.wakers.room(room_id);
        let ready = async {
            match self.room(room_id).await? {
                Some(room) => Ok(room.latest_seq > seen_seq),
                None => Err(ChatError::RoomNotFound(room_id.to_owned())),
            }
        };
        wait_until(&changed, ready, deadline).await
    }

    async fn idle_rooms(&self, cutoff_ms: u64) -> Result<Vec<String>, ChatError> {
        let ids = self.idle_ids(self.keys.rooms(), cutoff_ms).await?;
        let states = self.read_rooms(&ids).await?;
        let mut listed = Vec::new();
        for (id, state) in ids.into_iter().zip(states) {
            let closable = match state {
                // Expired while still indexed: removing it cleans the index.
                None => true,
                Some(json) => idle(&parse_room(&json)?, cutoff_ms),
            };
            if closable {
                listed.push(id);
            }
        }
        Ok(listed)
    }

    async fn remove_room(&self, room_id: &str, cutoff_ms: u64) -> Result<bool, ChatError> {
        let mut attempts = Attempts::new();
        let existed = loop {
            let read = self.read_room(room_id).await?;
            // Decided on what was read; the script removes only if the room is still exactly
            // that, so a join or a message in between keeps it (another pass re-reads it).
            let members = match &read {
                Some(json) => {
                    let room = parse_room(json)?;
                    if !idle(&room, cutoff_ms) {
                        return Ok(false);
                    }
                    room.members
                }
                None => Vec::new(),
            };
            let mut script = scripts::REMOVE_ROOM.prepare_invoke();
            script
                .key(self.keys.room(room_id))
                .key(self.keys.log(room_id))
                .key(self.keys.rooms());
            for m in &members {
                script.key(self.keys.client_rooms(&m.client_id));
            }
            script
                .arg(read.as_deref().unwrap_or(""))
                .arg(room_id)
                .arg(self.keys.room_channel(room_id))
                .arg(self.wakers.instance());
            // Removing twice is harmless, so a lost answer may simply be retried.
            if self.conn.invoke::<i64>(&script).await? == 1 {
                break read.is_some();
            }
            attempts.again("room removal").await?;
        };
        self.remember(room_id, None);
        self.wakers.wake_room(room_id);
        // A key Redis already expired had only its index entries left to clean.
        Ok(existed)
    }

    async fn room_count(&self) -> Result<usize, ChatError> {
        self.conn
            .query(redis::cmd("ZCARD").arg(self.keys.rooms()))
            .await
    }

    async fn all_rooms(&self) -> Result<Vec<Room>, ChatError> {
        let ids: Vec<String> = self
            .conn
            .query(redis::cmd("ZRANGE").arg(self.keys.rooms()).arg(0).arg(-1))
            .await?;
        let states = self.read_rooms(&ids).await?;
        // A room whose key expired while its index entry stayed is gone: the sweep cleans it.
        states
            .iter()
            .flatten()
            .map(|json| parse_room(json))
            .collect()
    }

    async fn client_count(&self) -> Result<usize, ChatError> {
        self.conn
            .query(redis::cmd("ZCARD").arg(self.keys.clients()))
            .await
    }

    async fn transact_queue(&self, tx_fn: QueueTx<'_>) -> Result<(u64, Output), ChatError> {
        let mut attempts = Attempts::new();
        loop {
            let (before, version) = self.read_queue().await?;
            let mut queue = before.clone();
            let output = tx_fn(&mut queue)?;
            if queue == before {
                return Ok((version, output));
            }
            let marker = self.keys.commit(&self.commit_id());
            let mut script = scripts::COMMIT_QUEUE.prepare_invoke();
            script
                .key(self.keys.queue())
                .key(&marker)
                .arg(version)
                .arg(serde_json::to_string(&queue).map_err(storage)?)
                .arg(self.key_ttl_secs)
                .arg(COMMIT_MARKER_TTL_SECS)
                .arg(self.keys.queue_channel())
                .arg(self.wakers.instance());
            let new_version = match self.conn.commit::<i64>(&script, &marker).await? {
                Commit::Answered(v) if v >= 0 => v as u64,
                Commit::Applied => version + 1,
                Commit::Answered(_) | Commit::NotApplied => {
                    attempts.again("queue transaction").await?;
                    continue;
                }
            };
            self.wakers.wake_queue();
            return Ok((new_version, output));
        }
    }

    async fn queue(&self) -> Result<(Queue, u64), ChatError> {
        self.read_queue().await
    }

    async fn wait_queue(&self, seen_version: u64, deadline: Instant) -> Result<(), ChatError> {
        let ready = async {
            let version: Option<u64> = self
                .conn
                .query(redis::cmd("HGET").arg(self.keys.queue()).arg("version"))
                .await?;
            Ok(version.unwrap_or(0) != seen_version)
        };
        wait_until(self.wakers.queue(), ready, deadline).await
    }

    async fn take_token(&self, key: &str, rate: Rate) -> Result<Taken, ChatError> {
        let mut script = scripts::TAKE_TOKEN.prepare_invoke();
        script
            .key(self.keys.rate(key))
            .arg(interval_ms(rate))
            .arg(rate.burst);
        // Retrying a take that may have applied costs the client one token at most: harmless.
        let wait_ms: u64 = self.conn.invoke(&script).await?;
        Ok(match wait_ms {
            0 => Taken::Yes,
            ms => Taken::RetryAfter(Duration::from_millis(ms)),
        })
    }

    async fn give_back_token(&self, key: &str, rate: Rate) -> Result<(), ChatError> {
        let mut script = scripts::GIVE_BACK_TOKEN.prepare_invoke();
        script.key(self.keys.rate(key)).arg(interval_ms(rate));
        let _: i64 = self.conn.invoke(&script).await?;
        Ok(())
    }

    fn shared(&self) -> bool {
        true
    }

    fn confirm_delivery(&self, room_id: &str, client_id: &str, seq: u64) {
        // A plain write, batched with others (`confirm.rs`): a late confirmation of an older
        // batch can only make a claim hand a batch out again, never skip one.
        self.confirmations
            .confirm(self.keys.delivered(room_id, client_id), seq);
    }

    async fn room_for_claim(
        &self,
        room_id: &str,
        client_id: &str,
    ) -> Result<(Option<Room>, u64), ChatError> {
        // One round trip for both.
        let (value, confirmed): (Option<String>, Option<u64>) = self
            .conn
            .query(
                redis::cmd("MGET")
                    .arg(self.keys.room(room_id))
                    .arg(self.keys.delivered(room_id, client_id)),
            )
            .await?;
        self.remember(room_id, value.as_deref());
        let room = value.map(|json| parse_room(&json)).transpose()?;
        Ok((room, confirmed.unwrap_or(0)))
    }

    async fn record_once(
        &self,
        key: &str,
        value: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, ChatError> {
        // Repeating it after a lost reply is harmless: the repeat finds this call's own value,
        // which the caller treats as the same call.
        let mut script = scripts::REMEMBER.prepare_invoke();
        script
            .key(self.keys.remembered(key))
            .arg(value)
            .arg(ttl.as_millis() as u64);
        self.conn.invoke(&script).await
    }
}

fn interval_ms(rate: Rate) -> String {
    format!("{:.3}", rate.interval().as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests;

//! The in-memory store: everything in one process, behind one lock.
//!
//! Critical sections are short (no `.await` inside), so one `std::sync::Mutex` serves well; each
//! room has its own [`Notify`] so that a send wakes exactly that room's waiters.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use mcp_chat_shared::chat::ChatMessage;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::mirror::{Mirror, Retention};
use super::{Committed, Output, QueueTx, RoomTx, Store, idle, wait_until};
use crate::engine::error::ChatError;
use crate::engine::model::{ClientRecord, Queue, Room};
use crate::engine::rate::{LocalBuckets, Rate, Taken};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<Mirror>,
    queue_changed: Notify,
    /// One process per store: its rate buckets can stay in memory.
    buckets: LocalBuckets,
    /// [`Store::record_once`]'s records: value, and until when.
    remembered: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Mirror> {
        // A panic while holding the lock leaves consistent data (every change is applied to a
        // copy first), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn insert_client(
        &self,
        client: ClientRecord,
        max_clients: usize,
    ) -> Result<(), ChatError> {
        let mut state = self.lock();
        if state.clients.len() >= max_clients {
            return Err(ChatError::ServerFull {
                what: "clients",
                limit: max_clients,
            });
        }
        state.clients.insert(client.client_id.clone(), client);
        Ok(())
    }

    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, ChatError> {
        Ok(self.lock().clients.get(client_id).cloned())
    }

    async fn touch_client(&self, client_id: &str, now: u64) -> Result<(), ChatError> {
        if let Some(c) = self.lock().clients.get_mut(client_id) {
            c.last_seen_ms = c.last_seen_ms.max(now);
        }
        Ok(())
    }

    async fn remove_client(&self, client_id: &str) -> Result<(), ChatError> {
        let mut state = self.lock();
        state.clients.remove(client_id);
        state.memberships.remove(client_id);
        Ok(())
    }

    async fn idle_clients(&self, cutoff_ms: u64) -> Result<Vec<ClientRecord>, ChatError> {
        Ok(self.lock().idle_clients(cutoff_ms))
    }

    async fn client_rooms(&self, client_id: &str) -> Result<Vec<String>, ChatError> {
        Ok(self.lock().client_rooms(client_id))
    }

    async fn transact_room(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        tx: RoomTx<'_>,
    ) -> Result<Committed, ChatError> {
        let mut state = self.lock();
        let committed = state.prepare_room(room_id, create, max_rooms, now, tx)?;
        let (committed, wake) = state.apply_room(committed, Retention::Everything);
        if let Some(waiters) = wake {
            waiters.notify_waiters();
        }
        Ok(committed)
    }

    async fn room(&self, room_id: &str) -> Result<Option<Room>, ChatError> {
        Ok(self.lock().rooms.get(room_id).map(|s| s.room.clone()))
    }

    async fn messages_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let state = self.lock();
        let slot = state.slot(room_id)?;
        slot.after(after_seq, limit)
            .ok_or_else(|| ChatError::Storage("the memory store lost part of a log".into()))
    }

    async fn messages_before(
        &self,
        room_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let state = self.lock();
        let slot = state.slot(room_id)?;
        slot.before(before_seq, limit)
            .ok_or_else(|| ChatError::Storage("the memory store lost part of a log".into()))
    }

    async fn wait_room(
        &self,
        room_id: &str,
        seen_seq: u64,
        deadline: Instant,
    ) -> Result<(), ChatError> {
        let changed = self.lock().slot(room_id)?.changed.clone();
        let ready = async { Ok(self.lock().slot(room_id)?.room.latest_seq > seen_seq) };
        wait_until(&changed, ready, deadline).await
    }

    async fn idle_rooms(&self, cutoff_ms: u64) -> Result<Vec<String>, ChatError> {
        Ok(self.lock().idle_rooms(cutoff_ms))
    }

    async fn remove_room(&self, room_id: &str, cutoff_ms: u64) -> Result<bool, ChatError> {
        let mut state = self.lock();
        if !state
            .current(room_id)
            .is_some_and(|room| idle(room, cutoff_ms))
        {
            return Ok(false);
        }
        if let Some(waiters) = state.remove_room(room_id) {
            waiters.notify_waiters();
        }
        Ok(true)
    }

    async fn room_count(&self) -> Result<usize, ChatError> {
        Ok(self.lock().rooms.len())
    }

    async fn all_rooms(&self) -> Result<Vec<Room>, ChatError> {
        Ok(self.lock().all_rooms())
    }

    async fn client_count(&self) -> Result<usize, ChatError> {
        Ok(self.lock().clients.len())
    }

    async fn transact_queue(&self, tx: QueueTx<'_>) -> Result<(u64, Output), ChatError> {
        let mut state = self.lock();
        let mut queue = state.queue.clone();
        let output = tx(&mut queue)?;
        if queue != state.queue {
            state.queue = queue;
            state.queue_version += 1;
            self.queue_changed.notify_waiters();
        }
        Ok((state.queue_version, output))
    }

    async fn queue(&self) -> Result<(Queue, u64), ChatError> {
        let state = self.lock();
        Ok((state.queue.clone(), state.queue_version))
    }

    async fn wait_queue(&self, seen_version: u64, deadline: Instant) -> Result<(), ChatError> {
        let ready = async { Ok(self.lock().queue_version != seen_version) };
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
        let now = Instant::now();
        let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((earlier, _)) = remembered.get(key).filter(|(_, until)| *until > now) {
            return Ok(Some(earlier.clone()));
        }
        // Keys are made rarely (a creation each, rate-limited), so the expired ones go here.
        remembered.retain(|_, (_, until)| *until > now);
        remembered.insert(key.to_owned(), (value.to_owned(), now + ttl));
        Ok(None)
    }
}

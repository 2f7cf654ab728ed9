//! The in-memory store: everything in one process, behind one lock.
//!
//! Critical sections are short (no `.await` inside), so one `std::sync::Mutex` serves well; each
//! room has its own [`Notify`] so that a send wakes exactly that room's waiters.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use mcp_chat_shared::chat::ChatMessage;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Committed, QueueTx, RoomTx, Store, idle, member_ids, room_to_change, stamp};
use crate::engine::error::ChatError;
use crate::engine::model::{ClientRecord, Queue, Room};
use crate::engine::rate::{LocalBuckets, Rate, Taken};

#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    queue_changed: Notify,
    /// One process per store: its rate buckets can stay in memory.
    buckets: LocalBuckets,
}

#[derive(Default)]
struct State {
    clients: HashMap<String, ClientRecord>,
    rooms: HashMap<String, RoomSlot>,
    /// client_id → rooms it is a member of, kept in step with every room transaction.
    memberships: HashMap<String, HashSet<String>>,
    queue: Queue,
    queue_version: u64,
}

struct RoomSlot {
    room: Room,
    log: Vec<ChatMessage>,
    changed: Arc<Notify>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A room's log, or `RoomNotFound`.
    fn with_log<T>(
        &self,
        room_id: &str,
        read: impl FnOnce(&[ChatMessage]) -> T,
    ) -> Result<T, ChatError> {
        let state = self.lock();
        let slot = state
            .rooms
            .get(room_id)
            .ok_or_else(|| ChatError::RoomNotFound(room_id.to_owned()))?;
        Ok(read(&slot.log))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
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
        Ok(self
            .lock()
            .clients
            .values()
            .filter(|c| c.last_seen_ms < cutoff_ms)
            .cloned()
            .collect())
    }

    async fn client_rooms(&self, client_id: &str) -> Result<Vec<String>, ChatError> {
        Ok(self
            .lock()
            .memberships
            .get(client_id)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default())
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
        let state = &mut *state;
        // Work on a copy: if the rule fails, nothing changed.
        let existing = state.rooms.get(room_id).map(|slot| slot.room.clone());
        let created = existing.is_none();
        let mut room = room_to_change(room_id, existing, create, max_rooms, || {
            Ok(state.rooms.len())
        })?;
        let before = member_ids(&room);
        let drafts = tx(&mut room)?;
        let appended = stamp(&mut room, drafts, now);

        let slot = state
            .rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| RoomSlot {
                room: room.clone(),
                log: Vec::new(),
                changed: Arc::new(Notify::new()),
            });
        slot.room = room.clone();
        slot.log.extend(appended.iter().cloned());
        if !appended.is_empty() {
            slot.changed.notify_waiters();
        }
        let after = member_ids(&room);
        for joined in after.difference(&before) {
            state
                .memberships
                .entry(joined.clone())
                .or_default()
                .insert(room_id.to_owned());
        }
        for left in before.difference(&after) {
            if let Some(rooms) = state.memberships.get_mut(left) {
                rooms.remove(room_id);
            }
        }
        Ok(Committed {
            room,
            appended,
            created,
        })
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
        // seq n is at index n - 1: the log has no gaps.
        self.with_log(room_id, |log| {
            let start = (after_seq as usize).min(log.len());
            log[start..].iter().take(limit).cloned().collect()
        })
    }

    async fn messages_before(
        &self,
        room_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        self.with_log(room_id, |log| {
            let end = (before_seq.saturating_sub(1) as usize).min(log.len());
            log[end.saturating_sub(limit)..end].to_vec()
        })
    }

    async fn wait_room(
        &self,
        room_id: &str,
        seen_seq: u64,
        deadline: Instant,
    ) -> Result<(), ChatError> {
        let changed = match self.lock().rooms.get(room_id) {
            Some(slot) => slot.changed.clone(),
            None => return Err(ChatError::RoomNotFound(room_id.to_owned())),
        };
        let notified = changed.notified();
        tokio::pin!(notified);
        // Register before checking, so a send between the check and the await still wakes us.
        notified.as_mut().enable();
        match self.lock().rooms.get(room_id) {
            Some(slot) if slot.room.latest_seq > seen_seq => return Ok(()),
            Some(_) => {}
            None => return Err(ChatError::RoomNotFound(room_id.to_owned())),
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
        Ok(())
    }

    async fn idle_rooms(&self, cutoff_ms: u64) -> Result<Vec<String>, ChatError> {
        Ok(self
            .lock()
            .rooms
            .values()
            .filter(|s| idle(&s.room, cutoff_ms))
            .map(|s| s.room.room_id.clone())
            .collect())
    }

    async fn remove_room(&self, room_id: &str, cutoff_ms: u64) -> Result<bool, ChatError> {
        let mut state = self.lock();
        if !state
            .rooms
            .get(room_id)
            .is_some_and(|s| idle(&s.room, cutoff_ms))
        {
            return Ok(false);
        }
        if let Some(slot) = state.rooms.remove(room_id) {
            for m in &slot.room.members {
                if let Some(rooms) = state.memberships.get_mut(&m.client_id) {
                    rooms.remove(room_id);
                }
            }
            slot.changed.notify_waiters();
        }
        Ok(true)
    }

    async fn room_count(&self) -> Result<usize, ChatError> {
        Ok(self.lock().rooms.len())
    }

    async fn transact_queue(&self, tx: QueueTx<'_>) -> Result<u64, ChatError> {
        let mut state = self.lock();
        let mut queue = state.queue.clone();
        tx(&mut queue)?;
        if queue != state.queue {
            state.queue = queue;
            state.queue_version += 1;
            self.queue_changed.notify_waiters();
        }
        Ok(state.queue_version)
    }

    async fn queue(&self) -> Result<(Queue, u64), ChatError> {
        let state = self.lock();
        Ok((state.queue.clone(), state.queue_version))
    }

    async fn wait_queue(&self, seen_version: u64, deadline: Instant) -> Result<(), ChatError> {
        let notified = self.queue_changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.lock().queue_version != seen_version {
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

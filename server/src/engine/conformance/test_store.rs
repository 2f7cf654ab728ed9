//! A store around any store, for tests: bodies run twice, failures on request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use mcp_chat_shared::chat::ChatMessage;
use tokio::time::Instant;

use crate::engine::model::{ClientRecord, Queue, Room};
use crate::engine::rate::{Rate, Taken};
use crate::engine::store::{Committed, Output, QueueTx, RoomTx};
use crate::engine::{ChatError, Store};

/// Any store, with what the tests need around it.
///
/// - `run_bodies_twice`: every transaction body runs twice, the first time on a copy that is
///   then thrown away, as in a store that lost a race (the Redis store re-reads the room and
///   runs the body again). Only the kept run's change and output may count; see
///   [`super::store::RoomTx`]. `reruns` counts them, proof that it happened.
/// - `fail_log_reads`, `fail_touches`: storage failures on request; they must never lose or skip
///   a message. `room_writes` counts room transactions.
pub struct TestStore {
    inner: Arc<dyn Store>,
    pub run_bodies_twice: AtomicBool,
    pub reruns: AtomicUsize,
    pub fail_log_reads: AtomicBool,
    pub fail_touches: AtomicBool,
    pub room_writes: AtomicUsize,
}

impl TestStore {
    pub fn around(inner: Arc<dyn Store>) -> TestStore {
        TestStore {
            inner,
            run_bodies_twice: AtomicBool::new(false),
            reruns: AtomicUsize::new(0),
            fail_log_reads: AtomicBool::new(false),
            fail_touches: AtomicBool::new(false),
            room_writes: AtomicUsize::new(0),
        }
    }

    /// `inner`, running every transaction body twice.
    pub fn twice(inner: Arc<dyn Store>) -> Arc<TestStore> {
        let store = TestStore::around(inner);
        store.run_bodies_twice.store(true, Ordering::SeqCst);
        Arc::new(store)
    }

    /// Runs `body` on a throwaway copy first, when asked to.
    fn maybe_twice<T: Clone, R>(&self, value: &mut T, body: impl Fn(&mut T) -> R) -> R {
        if self.run_bodies_twice.load(Ordering::SeqCst) {
            let _ = body(&mut value.clone());
            self.reruns.fetch_add(1, Ordering::SeqCst);
        }
        body(value)
    }
}

impl Default for TestStore {
    /// Around a memory store.
    fn default() -> TestStore {
        TestStore::around(Arc::new(crate::engine::store::memory::MemoryStore::new()))
    }
}

fn injected() -> ChatError {
    ChatError::Storage("injected failure".into())
}

#[async_trait]
impl Store for TestStore {
    async fn insert_client(&self, c: ClientRecord, max: usize) -> Result<(), ChatError> {
        self.inner.insert_client(c, max).await
    }
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, ChatError> {
        self.inner.client(id).await
    }
    async fn touch_client(&self, id: &str, now: u64) -> Result<(), ChatError> {
        if self.fail_touches.load(Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.touch_client(id, now).await
    }
    async fn remove_client(&self, id: &str) -> Result<(), ChatError> {
        self.inner.remove_client(id).await
    }
    async fn idle_clients(&self, cutoff: u64) -> Result<Vec<ClientRecord>, ChatError> {
        self.inner.idle_clients(cutoff).await
    }
    async fn client_rooms(&self, id: &str) -> Result<Vec<String>, ChatError> {
        self.inner.client_rooms(id).await
    }
    async fn transact_room(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        tx: RoomTx<'_>,
    ) -> Result<Committed, ChatError> {
        self.room_writes.fetch_add(1, Ordering::SeqCst);
        let twice = |room: &mut Room| self.maybe_twice(room, tx);
        self.inner
            .transact_room(room_id, create, max_rooms, now, &twice)
            .await
    }
    async fn room(&self, room_id: &str) -> Result<Option<Room>, ChatError> {
        self.inner.room(room_id).await
    }
    async fn messages_after(
        &self,
        room_id: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        if self.fail_log_reads.load(Ordering::SeqCst) {
            return Err(injected());
        }
        self.inner.messages_after(room_id, after, limit).await
    }
    async fn messages_before(
        &self,
        room_id: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        self.inner.messages_before(room_id, before, limit).await
    }
    async fn wait_room(&self, room_id: &str, seen: u64, d: Instant) -> Result<(), ChatError> {
        self.inner.wait_room(room_id, seen, d).await
    }
    async fn idle_rooms(&self, cutoff: u64) -> Result<Vec<String>, ChatError> {
        self.inner.idle_rooms(cutoff).await
    }
    async fn remove_room(&self, room_id: &str, cutoff: u64) -> Result<bool, ChatError> {
        self.inner.remove_room(room_id, cutoff).await
    }
    async fn room_count(&self) -> Result<usize, ChatError> {
        self.inner.room_count().await
    }
    async fn all_rooms(&self) -> Result<Vec<Room>, ChatError> {
        self.inner.all_rooms().await
    }
    async fn client_count(&self) -> Result<usize, ChatError> {
        self.inner.client_count().await
    }
    async fn transact_queue(&self, tx: QueueTx<'_>) -> Result<(u64, Output), ChatError> {
        let twice = |queue: &mut Queue| self.maybe_twice(queue, tx);
        self.inner.transact_queue(&twice).await
    }
    async fn queue(&self) -> Result<(Queue, u64), ChatError> {
        self.inner.queue().await
    }
    async fn wait_queue(&self, seen: u64, deadline: Instant) -> Result<(), ChatError> {
        self.inner.wait_queue(seen, deadline).await
    }
    async fn take_token(&self, key: &str, rate: Rate) -> Result<Taken, ChatError> {
        self.inner.take_token(key, rate).await
    }
    async fn give_back_token(&self, key: &str, rate: Rate) -> Result<(), ChatError> {
        self.inner.give_back_token(key, rate).await
    }
    fn prune_tokens(&self) {
        self.inner.prune_tokens()
    }
    fn shared(&self) -> bool {
        self.inner.shared()
    }
    fn confirm_delivery(&self, room_id: &str, client_id: &str, seq: u64) {
        self.inner.confirm_delivery(room_id, client_id, seq)
    }
    async fn room_for_claim(
        &self,
        room_id: &str,
        client_id: &str,
    ) -> Result<(Option<Room>, u64), ChatError> {
        self.inner.room_for_claim(room_id, client_id).await
    }
    async fn record_once(
        &self,
        key: &str,
        value: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<String>, ChatError> {
        self.inner.record_once(key, value, ttl).await
    }
}

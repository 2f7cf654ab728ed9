//! A store around any store that times each operation for the metrics
//! (`mcp_chat_store_operation_duration_seconds{store, op}`): one wrapper instead of a timer in
//! every backend's every method. Waits are passed through untimed: they last as long as nobody
//! writes, which says nothing about the store.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mcp_chat_shared::chat::ChatMessage;
use tokio::time::Instant;

use super::{Committed, Output, QueueTx, RoomTx, Store};
use crate::engine::ChatError;
use crate::engine::model::{ClientRecord, Queue, Room};
use crate::engine::rate::{Rate, Taken};
use crate::metrics::metrics;
use prometheus_client::metrics::histogram::Histogram;

/// The operations timed; `Op::X as usize` indexes [`Op::LABELS`] and `Timed::histograms`.
#[derive(Clone, Copy)]
enum Op {
    InsertClient,
    Client,
    TouchClient,
    RemoveClient,
    IdleClients,
    ClientRooms,
    TransactRoom,
    Room,
    MessagesAfter,
    MessagesBefore,
    IdleRooms,
    RemoveRoom,
    RoomCount,
    AllRooms,
    ClientCount,
    TransactQueue,
    Queue,
    TakeToken,
    GiveBackToken,
    RoomForClaim,
    RecordOnce,
}

impl Op {
    const LABELS: [&str; 21] = [
        "insert_client",
        "client",
        "touch_client",
        "remove_client",
        "idle_clients",
        "client_rooms",
        "transact_room",
        "room",
        "messages_after",
        "messages_before",
        "idle_rooms",
        "remove_room",
        "room_count",
        "all_rooms",
        "client_count",
        "transact_queue",
        "queue",
        "take_token",
        "give_back_token",
        "room_for_claim",
        "record_once",
    ];
}

pub struct Timed {
    inner: Arc<dyn Store>,
    /// One histogram per operation, looked up once here rather than by label at every
    /// operation: a store operation can cost less than a hashed lookup.
    histograms: Vec<Histogram>,
}

impl Timed {
    /// `store` names the backend in the label: `memory`, `sqlite` or `redis`.
    pub fn around(inner: Arc<dyn Store>, store: &'static str) -> Timed {
        let histograms = Op::LABELS
            .iter()
            .map(|op| metrics().store_histogram(store, op))
            .collect();
        Timed { inner, histograms }
    }

    async fn time<T>(&self, op: Op, operation: impl Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let outcome = operation.await;
        self.histograms[op as usize].observe(started.elapsed().as_secs_f64());
        outcome
    }
}

#[async_trait]
impl Store for Timed {
    async fn insert_client(&self, client: ClientRecord, max: usize) -> Result<(), ChatError> {
        self.time(Op::InsertClient, self.inner.insert_client(client, max))
            .await
    }
    async fn client(&self, client_id: &str) -> Result<Option<ClientRecord>, ChatError> {
        self.time(Op::Client, self.inner.client(client_id)).await
    }
    async fn touch_client(&self, client_id: &str, now: u64) -> Result<(), ChatError> {
        self.time(Op::TouchClient, self.inner.touch_client(client_id, now))
            .await
    }
    async fn remove_client(&self, client_id: &str) -> Result<(), ChatError> {
        self.time(Op::RemoveClient, self.inner.remove_client(client_id))
            .await
    }
    async fn idle_clients(&self, cutoff_ms: u64) -> Result<Vec<ClientRecord>, ChatError> {
        self.time(Op::IdleClients, self.inner.idle_clients(cutoff_ms))
            .await
    }
    async fn client_rooms(&self, client_id: &str) -> Result<Vec<String>, ChatError> {
        self.time(Op::ClientRooms, self.inner.client_rooms(client_id))
            .await
    }
    async fn transact_room(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        tx: RoomTx<'_>,
    ) -> Result<Committed, ChatError> {
        let operation = self
            .inner
            .transact_room(room_id, create, max_rooms, now, tx);
        self.time(Op::TransactRoom, operation).await
    }
    async fn room(&self, room_id: &str) -> Result<Option<Room>, ChatError> {
        self.time(Op::Room, self.inner.room(room_id)).await
    }
    async fn messages_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let operation = self.inner.messages_after(room_id, after_seq, limit);
        self.time(Op::MessagesAfter, operation).await
    }
    async fn messages_before(
        &self,
        room_id: &str,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        let operation = self.inner.messages_before(room_id, before_seq, limit);
        self.time(Op::MessagesBefore, operation).await
    }
    async fn wait_room(
        &self,
        room_id: &str,
        seen_seq: u64,
        deadline: Instant,
    ) -> Result<(), ChatError> {
        self.inner.wait_room(room_id, seen_seq, deadline).await
    }
    async fn idle_rooms(&self, cutoff_ms: u64) -> Result<Vec<String>, ChatError> {
        self.time(Op::IdleRooms, self.inner.idle_rooms(cutoff_ms))
            .await
    }
    async fn remove_room(&self, room_id: &str, cutoff_ms: u64) -> Result<bool, ChatError> {
        self.time(Op::RemoveRoom, self.inner.remove_room(room_id, cutoff_ms))
            .await
    }
    async fn room_count(&self) -> Result<usize, ChatError> {
        self.time(Op::RoomCount, self.inner.room_count()).await
    }
    async fn all_rooms(&self) -> Result<Vec<Room>, ChatError> {
        self.time(Op::AllRooms, self.inner.all_rooms()).await
    }
    async fn client_count(&self) -> Result<usize, ChatError> {
        self.time(Op::ClientCount, self.inner.client_count()).await
    }
    async fn transact_queue(&self, tx: QueueTx<'_>) -> Result<(u64, Output), ChatError> {
        self.time(Op::TransactQueue, self.inner.transact_queue(tx))
            .await
    }
    async fn queue(&self) -> Result<(Queue, u64), ChatError> {
        self.time(Op::Queue, self.inner.queue()).await
    }
    async fn wait_queue(&self, seen_version: u64, deadline: Instant) -> Result<(), ChatError> {
        self.inner.wait_queue(seen_version, deadline).await
    }
    async fn take_token(&self, key: &str, rate: Rate) -> Result<Taken, ChatError> {
        self.time(Op::TakeToken, self.inner.take_token(key, rate))
            .await
    }
    async fn give_back_token(&self, key: &str, rate: Rate) -> Result<(), ChatError> {
        self.time(Op::GiveBackToken, self.inner.give_back_token(key, rate))
            .await
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
        self.time(
            Op::RoomForClaim,
            self.inner.room_for_claim(room_id, client_id),
        )
        .await
    }
    async fn record_once(
        &self,
        key: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<Option<String>, ChatError> {
        self.time(Op::RecordOnce, self.inner.record_once(key, value, ttl))
            .await
    }
}

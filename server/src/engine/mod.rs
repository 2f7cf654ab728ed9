//! The chat engine: rooms, the pairing queue, ordered logs, delivery cursors and waiting.
//!
//! It knows nothing of MCP; the `mcp` module is a thin adapter over it. State lives in a
//! [`Store`]; the rules in [`rules`]. Invariants (see ARCHITECTURE.md):
//!
//! - **Order**: a room's log is numbered 1, 2, 3, … without gaps, in the order the store
//!   committed the entries; everyone reads the same order.
//! - **No loss**: a send is acknowledged only after it is in the log, whoever is waiting. A wait
//!   returns every entry after the caller's cursor (or its explicit `after_seq`); the cursor moves
//!   in the same transaction that claims the entries, and moves back if the request was cancelled,
//!   so overlapping or cancelled waits neither drop nor duplicate anything.
//! - **Event-driven**: waiters sleep on their room's notifier; a commit to a room wakes exactly
//!   that room's waiters.
//!
//! The operations, one concern per file: `queue.rs` (pairing, and `queue/places.rs` for when a
//! place is dead), `rooms.rs` (join, send, leave, history, the room as its members see it),
//! `delivery.rs` (waits, and claiming a batch with the cursor), `access.rs` (identities, rate
//! tokens, room quotas, the cap on parked waits) and `sweep.rs` (expiry). Each adds to
//! `impl Engine`; the state they share is the struct below.

pub mod answered;
#[cfg(test)]
pub mod conformance;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod invites;
pub mod limits;
pub mod links;
pub mod model;
pub mod moderation;
pub mod rate;
pub mod rules;
pub mod source;
pub mod store;
#[cfg(test)]
mod tests;

mod access;
mod delivery;
mod queue;
mod rooms;
mod sweep;

use std::collections::HashMap;
use std::hash::RandomState;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

pub use error::ChatError;
pub use limits::Limits;
pub use store::Store;

pub struct Engine {
    store: Arc<dyn Store>,
    limits: Limits,
    /// Long polls in progress in this process, per client: a per-instance cap, because what it
    /// protects (memory and connections held by parked requests) is per instance too. Keyed by
    /// a keyed hash of the client's id, not the id: every parked wait would otherwise hold two
    /// more copies of it. Two clients would have to share a 64-bit hash to share a cap.
    waits: Mutex<HashMap<u64, usize>>,
    wait_keys: RandomState,
    shutdown: CancellationToken,
}

/// What a sweep removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub clients: usize,
    pub rooms: usize,
    pub queue_places: usize,
}

/// What the store holds (every instance sharing it sees the same).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    pub rooms: usize,
    pub clients: usize,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, limits: Limits, shutdown: CancellationToken) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            limits,
            waits: Mutex::new(HashMap::new()),
            wait_keys: RandomState::new(),
            shutdown,
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many rooms and clients the store holds: two counts, cheap on every store.
    pub async fn census(&self) -> Result<Census, ChatError> {
        Ok(Census {
            rooms: self.store.room_count().await?,
            clients: self.store.client_count().await?,
        })
    }

    /// Members summed over the store's rooms (a client in two rooms counts twice). It reads
    /// every room: for the metrics, now and then, never on a request.
    pub async fn members(&self) -> Result<usize, ChatError> {
        let rooms = self.store.all_rooms().await?;
        Ok(rooms.iter().map(|room| room.members.len()).sum())
    }

    /// Whether the store answers a read (one that finds nothing: cheap on every store).
    pub async fn store_answers(&self) -> Result<(), ChatError> {
        self.store.client("c_readiness_probe").await.map(|_| ())
    }

    /// Sweeps every `limits.sweep_interval` until shutdown.
    pub fn spawn_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(engine.limits.sweep_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = engine.shutdown.cancelled() => return,
                }
                match engine.sweep(ids::now_ms()).await {
                    Ok(report) if report != SweepReport::default() => {
                        tracing::info!(?report, "expired idle state")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "sweep failed"),
                }
            }
        })
    }
}

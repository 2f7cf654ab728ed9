//! Group commit: changes join the open transaction and share its one COMMIT (see the module
//! documentation of `sqlite`), and whoever awaits a change is answered once it is durable.

use std::collections::VecDeque;
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::Notify;

use super::SqliteStore;
use super::load::load;
use super::rows::{exec, storage};
use crate::engine::error::ChatError;
use crate::engine::store::mirror::Mirror;

pub(super) struct State {
    pub(super) conn: Connection,
    pub(super) mirror: Mirror,
    /// Group commit. Changes made while a batch is open join its transaction and its one
    /// COMMIT (one WAL append for all of them); `open` is its number.
    pub(super) open: Option<u64>,
    /// Every batch up to this one has ended, committed or failed. Batches are numbered from 1.
    pub(super) ended: u64,
    /// The batches that failed lately, and why.
    pub(super) failed: VecDeque<(u64, String)>,
    /// Waiters to wake once the open batch is durable: a change is visible to a parked wait
    /// only then.
    pub(super) wake_rooms: Vec<Arc<Notify>>,
    pub(super) wake_queue: bool,
}

/// Ends a batch if the task waiting for it is dropped during its yield: a change must never sit
/// in an open transaction with nobody left to commit it.
pub(super) struct EndOnDrop<'s> {
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
    pub(super) fn writing(&mut self) -> Result<(), ChatError> {
        if self.open.is_none() {
            exec(&self.conn, "BEGIN", [])?;
            self.open = Some(self.ended + 1);
        }
        Ok(())
    }
}

impl SqliteStore {
    /// Runs `change` under the store's lock. Returns its result and the open batch (its own
    /// writes, others', or both), which the caller awaits with [`Self::settled`] before
    /// answering anyone: a result may rest on changes that are not durable yet.
    pub(super) fn change<T>(
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
    pub(super) async fn durable(&self, batch: u64) -> Result<(), ChatError> {
        let mut ending = EndOnDrop {
            store: self,
            batch: Some(batch),
        };
        tokio::task::yield_now().await;
        ending.batch = None;
        self.end_batch(batch)
    }

    /// Commits `batch` if it is still open; then tells whether it was saved.
    pub(super) fn end_batch(&self, batch: u64) -> Result<(), ChatError> {
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
    pub(super) async fn settled(&self, open: Option<u64>) -> Result<(), ChatError> {
        match open {
            Some(batch) => self.durable(batch).await,
            None => Ok(()),
        }
    }
}

//! Delivery confirmations (`engine/answered.rs`), written in batches.
//!
//! Every answered wait confirms what it handed out, one small `SET` each. Under load many
//! answers leave at once: they are queued here and a task writes everything queued in one
//! pipeline, a round trip for the lot instead of one each. Nobody waits for them: a
//! confirmation that is late (or lost with this instance) only makes a later claim hand a batch
//! out again, never skip one.

use tokio::sync::mpsc;

use super::conn::Conn;

/// Most confirmations written in one pipeline.
const BATCH: usize = 256;

/// Most confirmations queued: while Redis is away the queue does not grow without bound (one
/// dropped costs a repeat).
const QUEUED: usize = 16 * BATCH;

pub struct Confirmations(mpsc::Sender<(String, u64)>);

impl Confirmations {
    /// Starts the writer; it stops when this is dropped (with the store).
    pub fn start(conn: Conn, ttl_secs: u64) -> Confirmations {
        let (queue, mut queued) = mpsc::channel::<(String, u64)>(QUEUED);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while queued.recv_many(&mut batch, BATCH).await > 0 {
                let mut pipe = redis::pipe();
                for (key, seq) in batch.drain(..) {
                    pipe.cmd("SET")
                        .arg(key)
                        .arg(seq)
                        .arg("EX")
                        .arg(ttl_secs)
                        .ignore();
                }
                if let Err(e) = conn.query_pipe::<()>(&pipe).await {
                    tracing::debug!(error = %e, "could not confirm deliveries; they will be repeated");
                }
            }
        });
        Confirmations(queue)
    }

    /// Queues "delivered up to `seq`" for the record `key`.
    pub fn confirm(&self, key: String, seq: u64) {
        // Fails when the queue is full (Redis is away) or the writer stopped, with the store.
        let _ = self.0.try_send((key, seq));
    }
}

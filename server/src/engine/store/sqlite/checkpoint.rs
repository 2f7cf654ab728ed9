//! WAL checkpoints on a thread of their own, off the request path.
//!
//! A checkpoint copies committed pages from the WAL into the database file and `fsync`s both. On
//! this kind of disk the `fsync` of a WAL holding a few megabytes takes 10–20 ms; SQLite's
//! automatic checkpoint runs it inside the COMMIT that crosses its threshold, under the store's
//! lock, so every operation queued behind that COMMIT waited too (p99 of 32 ms at 1,000
//! messages/s where the memory store's is 3 ms). Here the store's connection never checkpoints:
//! after a COMMIT it nudges this thread, which lets commits gather for a moment, then checkpoints
//! through a connection of its own while the store goes on writing (a `PASSIVE` checkpoint takes
//! no writer's lock).
//!
//! The WAL only starts over from its beginning when a writer finds every frame copied, and under
//! a steady load some commit always lands while a checkpoint runs: the WAL would grow for as
//! long as the load lasts (180 MB for 10,000 messages), and a growing file costs more to write
//! and to `fsync` than one rewritten in place. So once the WAL is longer than
//! [`RESTART_FRAMES`], the thread checkpoints again at once until only a few frames are left,
//! then once more holding the store's lock: nothing commits meanwhile, that pass copies the last
//! frames, and the store's next COMMIT starts the WAL over. Requests wait only for that short
//! last pass.
//!
//! The price, measured (BENCHMARKS.md): about a tenth more CPU per message, as the WAL's writes
//! now meet a concurrent `fsync`, for a p99 three times lower under a steady load.

use std::path::Path;
use std::sync::mpsc::{RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

/// How long the thread lets commits gather before it checkpoints: one checkpoint copies a page
/// that many commits touched once, and `fsync`s once for all of them.
const GATHER: Duration = Duration::from_millis(100);

/// WAL length, in frames (pages), past which the thread makes the WAL start over. At 4 KiB a
/// page, 8 MiB; SQLite's automatic checkpoint uses 1,000 frames. Measured at 1,000 messages/s
/// (about 4 frames each): 100 ms and 2,048 frames gave a lower p99 than 200 ms and 4,096 or
/// 500 ms and 8,192, whose larger passes `fsync` more at once.
const RESTART_FRAMES: i64 = 2048;

/// Few enough uncopied frames to copy while commits wait.
const FEW_FRAMES: i64 = 32;

/// How large the WAL file may stay on disk once it has started over, in bytes.
pub const WAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

/// `PRAGMA wal_checkpoint(PASSIVE)`: the WAL's length and how much of it is now copied, in
/// frames.
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get(1)?, row.get(2)?))
    })
}

/// Checkpoints the store's file in the background; see the module's documentation.
pub struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens the thread's connection and starts it. `writers` is the lock the store commits
    /// under; the thread holds it only for the pass that lets the WAL start over.
    pub fn start<T: Send + 'static>(
        path: &Path,
        writers: Weak<Mutex<T>>,
    ) -> Result<Checkpointer, Box<dyn std::error::Error + Send + Sync>> {
        Self::start_with(path, writers, GATHER, RESTART_FRAMES)
    }

    fn start_with<T: Send + 'static>(
        path: &Path,
        writers: Weak<Mutex<T>>,
        gather: Duration,
        restart_frames: i64,
    ) -> Result<Checkpointer, Box<dyn std::error::Error + Send + Sync>> {
        let conn = Connection::open(path)?;
        // The store's connection holds the WAL's locks only for the length of a COMMIT.
        conn.busy_timeout(Duration::from_secs(5))?;
        let (nudge, nudged) = sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                // Ends when the store drops its sender. Dropping `conn` then, as the file's
                // last connection, checkpoints what is left and removes the WAL.
                while nudged.recv().is_ok() {
                    let until = Instant::now() + gather;
                    loop {
                        match nudged.recv_timeout(until.saturating_duration_since(Instant::now())) {
                            Ok(()) => continue,
                            Err(RecvTimeoutError::Timeout) => break,
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    if let Err(e) = checkpoint_and_restart(&conn, &writers, restart_frames) {
                        tracing::warn!(error = %e, "background checkpoint failed");
                    }
                }
            })?;
        Ok(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
        })
    }

    /// Tells the thread that a COMMIT added to the WAL. Never blocks: one pending nudge stands
    /// for any number of commits.
    pub fn nudge(&self) {
        if let Some(nudge) = &self.nudge {
            let _ = nudge.try_send(());
        }
    }
}

/// One background checkpoint and, when the WAL is long, the passes that let it start over.
fn checkpoint_and_restart<T>(
    conn: &Connection,
    writers: &Weak<Mutex<T>>,
    restart_frames: i64,
) -> rusqlite::Result<()> {
    let (mut frames, mut copied) = checkpoint(conn)?;
    if frames <= restart_frames {
        return Ok(());
    }
    // Each pass copies what committed during the one before, and so takes less time: the pass
    // that holds the writers' lock has little left to copy and little to `fsync`.
    for _ in 0..3 {
        if frames - copied <= FEW_FRAMES {
            break;
        }
        (frames, copied) = checkpoint(conn)?;
    }
    if let Some(writers) = writers.upgrade() {
        let _no_commits = writers.lock().unwrap_or_else(|p| p.into_inner());
        checkpoint(conn)?;
    }
    Ok(())
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn under_steady_commits_the_wal_starts_over_instead_of_growing() {
        let path = crate::engine::store::sqlite::temp_path();
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (x TEXT)").unwrap();
        let writers = Arc::new(Mutex::new(()));
        let checkpointer = Checkpointer::start_with(
            &path,
            Arc::downgrade(&writers),
            Duration::from_millis(10),
            50,
        )
        .unwrap();
        // One frame per COMMIT, as steady as the store's: commits keep landing while each
        // background checkpoint runs, so only the pass under the lock lets the WAL start over.
        let commits: i64 = 5000;
        for i in 0..commits {
            {
                let _committing = writers.lock().unwrap();
                conn.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
            }
            checkpointer.nudge();
            std::thread::sleep(Duration::from_micros(100));
        }
        let wal = super::super::sibling(&path, "-wal");
        let frames = std::fs::metadata(&wal).unwrap().len() as i64 / (4096 + 24);
        assert!(
            frames < commits / 3,
            "{commits} commits left a WAL of {frames} frames"
        );
        drop(checkpointer);
    }
}

//! Reading a store's file from another process (`mcp-chat admin`), while its server runs or not.
//!
//! The server owns the file (`lock.rs`) and answers from its mirror, so nobody else may write
//! it; reading is safe, though: a read-only connection sees the last committed state (WAL
//! readers never block the writer) and takes no lock. Rows are decoded by the store's own
//! decoders (`load.rs`, `SqliteStore::read_log`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use mcp_chat_shared::chat::ChatMessage;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use super::load::load_rooms;
use super::rows::storage;
use super::schema::MIGRATIONS;
use super::{SqliteStore, sibling};
use crate::engine::error::ChatError;
use crate::engine::model::Room;

/// A read-only connection to a store's file.
pub struct SqliteReader {
    conn: Connection,
}

/// What a finished backup holds, as read back from the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub rooms: u64,
    pub messages: u64,
    pub clients: u64,
    /// Pages copied (of `page_size` bytes each).
    pub pages: u64,
    pub page_size: u64,
}

/// Pages copied per backup step (with 4 KiB pages, 4 MiB): the progress shown between steps.
const BACKUP_STEP_PAGES: i32 = 1024;

impl SqliteReader {
    /// Opens `path` read-only. Fails, saying so, when there is no file there, or when its schema
    /// is not the one this build reads (an older file is upgraded by starting the server on it).
    pub fn open(path: &Path) -> Result<SqliteReader, ChatError> {
        if !path.is_file() {
            return Err(storage(no_store_at(path)));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| storage(format!("cannot open {} read-only: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(storage)?;
        let version = conn
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(|e| storage(format!("cannot read {}: {e}", path.display())))?;
        let known = MIGRATIONS.len() as i64;
        if version != known {
            return Err(storage(format!(
                "{} has schema version {version}, this mcp-chat reads version {known}: {}",
                path.display(),
                if version < known {
                    "start this mcp-chat's server on it once to upgrade it"
                } else {
                    "use a newer mcp-chat"
                }
            )));
        }
        Ok(SqliteReader { conn })
    }

    /// Every room with its members, in no order, from one snapshot of the file.
    pub fn rooms(&self) -> Result<Vec<Room>, ChatError> {
        let snapshot = self.conn.unchecked_transaction().map_err(storage)?;
        let rooms = load_rooms(&snapshot).map_err(storage)?;
        snapshot.commit().map_err(storage)?;
        Ok(rooms)
    }

    /// Whether room `room_id` exists.
    pub fn has_room(&self, room_id: &str) -> Result<bool, ChatError> {
        self.conn
            .query_row("SELECT 1 FROM rooms WHERE room_id = ?1", [room_id], |_| {
                Ok(())
            })
            .optional()
            .map(|found| found.is_some())
            .map_err(storage)
    }

    /// Up to `limit` log entries of `room_id` with `seq > after_seq`, oldest first.
    pub fn messages_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        SqliteStore::read_log(
            &self.conn,
            "SELECT body FROM messages WHERE room_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            room_id,
            after_seq,
            limit,
        )
    }

    /// Copies the file to `dest`, which must not exist, with SQLite's online backup: the copy is
    /// the state of one moment (the read transaction held from start to end keeps the server's
    /// later commits out of it, without holding the server back), then checked with `PRAGMA
    /// integrity_check`. `progress` hears (pages copied, pages in all) after each step.
    pub fn backup_to(
        &self,
        dest: &Path,
        progress: impl FnMut(u64, u64),
    ) -> Result<BackupReport, ChatError> {
        self.backup_in_steps(dest, BACKUP_STEP_PAGES, progress)
    }

    fn backup_in_steps(
        &self,
        dest: &Path,
        step_pages: i32,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<BackupReport, ChatError> {
        for taken in files_of(dest) {
            if std::fs::symlink_metadata(&taken).is_ok() {
                return Err(storage(format!(
                    "{} exists already: a backup never overwrites a file; name a new one",
                    taken.display()
                )));
            }
        }
        // Created here, exclusively: a file someone made since the check is not overwritten
        // either. Private, as the store's file: it holds every conversation.
        create_private(dest)
            .map_err(|e| storage(format!("cannot create {}: {e}", dest.display())))?;
        let copied = self
            .copy_to(dest, step_pages, &mut progress)
            .and_then(|pages| {
                let mut report = verify(dest)?;
                report.pages = pages;
                Ok(report)
            });
        if copied.is_err() {
            // Only what this call created: a half-made copy must not pass for a backup.
            for made in files_of(dest) {
                let _ = std::fs::remove_file(made);
            }
        }
        copied
    }

    fn copy_to(
        &self,
        dest: &Path,
        step_pages: i32,
        progress: &mut impl FnMut(u64, u64),
    ) -> Result<u64, ChatError> {
        let failed =
            |e: rusqlite::Error| storage(format!("backup to {} failed: {e}", dest.display()));
        let mut to = Connection::open(dest).map_err(failed)?;
        // One snapshot for every step: with no read transaction of its own, each step would
        // start one, and a commit by the server in between would restart the copy (forever,
        // under a steady load).
        let snapshot = self.conn.unchecked_transaction().map_err(failed)?;
        snapshot
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(failed)?;
        let pages = {
            let backup = rusqlite::backup::Backup::new(&snapshot, &mut to).map_err(failed)?;
            loop {
                let step = backup.step(step_pages).map_err(failed)?;
                let p = backup.progress();
                let total = p.pagecount.max(0) as u64;
                progress(total - (p.remaining.max(0) as u64).min(total), total);
                match step {
                    rusqlite::backup::StepResult::Done => break total,
                    rusqlite::backup::StepResult::More => {}
                    // The destination is ours alone and the source is read in one snapshot,
                    // so neither should be busy; if one is, a moment later it is not.
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        };
        snapshot.commit().map_err(failed)?;
        to.close().map_err(|(_, e)| failed(e))?;
        Ok(pages)
    }
}

/// Why there is nothing to read at `path`.
pub fn no_store_at(path: &Path) -> String {
    format!(
        "no SQLite store at {} (the server creates it when it first starts there)",
        path.display()
    )
}

/// The files a store at `path` is made of: the database, its WAL and its shared-memory index.
fn files_of(path: &Path) -> [PathBuf; 3] {
    [
        path.to_owned(),
        sibling(path, "-wal"),
        sibling(path, "-shm"),
    ]
}

/// Checks a finished copy and counts what it holds.
fn verify(dest: &Path) -> Result<BackupReport, ChatError> {
    let failed = |e: rusqlite::Error| storage(format!("cannot check {}: {e}", dest.display()));
    let conn = Connection::open(dest).map_err(failed)?;
    let check: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut stmt| stmt.query_map([], |r| r.get(0))?.collect())
        .map_err(failed)?;
    if check != ["ok"] {
        return Err(storage(format!(
            "the copy at {} fails its integrity check: {}",
            dest.display(),
            check.join("; ")
        )));
    }
    let count = |table: &str| {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(|n| n as u64)
        .map_err(failed)
    };
    let report = BackupReport {
        rooms: count("rooms")?,
        messages: count("messages")?,
        clients: count("clients")?,
        pages: 0,
        page_size: conn
            .query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))
            .map_err(failed)? as u64,
    };
    drop(conn);
    Ok(report)
}

fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use mcp_chat_shared::chat::MessageKind;

    use super::*;
    use crate::engine::model::{Draft, RoomKind};
    use crate::engine::store::sqlite::temp_path;
    use crate::engine::store::{RoomChange, Store};

    #[tokio::test]
    async fn a_backup_in_many_steps_is_one_moment_while_the_file_changes() {
        let path = temp_path();
        let store = SqliteStore::open(&path).unwrap();
        for i in 0..40u64 {
            let create = Room::new("big".into(), RoomKind::Named, 2, i);
            store
                .transact_room("big", Some(create), 10, i, &|_| {
                    Ok(RoomChange::drafts(vec![Draft {
                        kind: MessageKind::Chat,
                        sender: None,
                        text: "x".repeat(2000),
                    }]))
                })
                .await
                .unwrap();
        }
        let reader = SqliteReader::open(&path).unwrap();
        assert_eq!(reader.rooms().unwrap()[0].latest_seq, 40);
        assert_eq!(reader.messages_after("big", 38, 10).unwrap().len(), 2);

        // Another connection writes between every step: the copy neither restarts (this would
        // never end) nor takes the new rows in.
        let writer = Connection::open(&path).unwrap();
        writer.busy_timeout(Duration::from_secs(5)).unwrap();
        let dest = temp_path();
        let mut steps = Vec::new();
        let report = reader
            .backup_in_steps(&dest, 4, |copied, total| {
                assert!(steps.len() < 1000, "the backup keeps restarting");
                steps.push((copied, total));
                writer
                    .execute(
                        "INSERT INTO messages (room_id, seq, body) VALUES ('other', ?1, '{}')",
                        [steps.len() as i64],
                    )
                    .unwrap();
            })
            .unwrap();
        assert!(steps.len() > 3, "{steps:?}");
        assert!(steps.windows(2).all(|w| w[0].0 <= w[1].0), "{steps:?}");
        let (copied, total) = *steps.last().unwrap();
        assert_eq!(copied, total);
        assert_eq!((report.rooms, report.messages), (1, 40));
        assert_eq!(report.pages, total);

        // The copy is a store: it opens, with what the backup held.
        let copy = SqliteReader::open(&dest).unwrap();
        assert_eq!(copy.messages_after("big", 0, 100).unwrap().len(), 40);
        assert!(!copy.has_room("other").unwrap());
        drop(copy);
        let refused = reader.backup_to(&dest, |_, _| {}).unwrap_err().to_string();
        assert!(refused.contains("exists already"), "{refused}");
        assert_eq!(SqliteReader::open(&dest).unwrap().rooms().unwrap().len(), 1);
        drop(store);
    }
}

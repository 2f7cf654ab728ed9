//! How records become rows and back, and the statements every part runs through.

use mcp_chat_shared::chat::RoomStatus;
use rusqlite::Connection;

use crate::engine::error::ChatError;
use crate::engine::model::{Access, RoomKind};

pub(super) fn storage(e: impl std::fmt::Display) -> ChatError {
    ChatError::Storage(e.to_string())
}

pub(super) fn status_name(status: RoomStatus) -> &'static str {
    match status {
        RoomStatus::Waiting => "waiting",
        RoomStatus::Active => "active",
        RoomStatus::Ended => "ended",
    }
}

pub(super) fn status_from(name: &str) -> rusqlite::Result<RoomStatus> {
    match name {
        "waiting" => Ok(RoomStatus::Waiting),
        "active" => Ok(RoomStatus::Active),
        "ended" => Ok(RoomStatus::Ended),
        other => Err(invalid_column(format!("room status {other:?}"))),
    }
}

pub(super) fn kind_name(kind: RoomKind) -> &'static str {
    match kind {
        RoomKind::Named => "Named",
        RoomKind::Paired => "Paired",
    }
}

pub(super) fn kind_from(name: &str) -> rusqlite::Result<RoomKind> {
    match name {
        "Named" => Ok(RoomKind::Named),
        "Paired" => Ok(RoomKind::Paired),
        other => Err(invalid_column(format!("room kind {other:?}"))),
    }
}

/// A room's access as stored: nothing for a public room (every room written before private
/// rooms reads as one), JSON otherwise.
pub(super) fn access_text(access: &Access) -> Result<String, ChatError> {
    if access.is_public() {
        return Ok(String::new());
    }
    serde_json::to_string(access).map_err(storage)
}

pub(super) fn access_from(text: &str) -> rusqlite::Result<Access> {
    if text.is_empty() {
        return Ok(Access::default());
    }
    serde_json::from_str(text).map_err(|e| invalid_column(format!("room access: {e}")))
}

pub(super) fn invalid_column(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
}

/// SQLite integers are i64. Nothing the store writes comes near i64::MAX; clamping keeps a
/// hostile value from wrapping negative.
pub(super) fn int(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

/// Runs `sql` through the statement cache.
pub(super) fn exec(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<usize, ChatError> {
    conn.prepare_cached(sql)
        .and_then(|mut stmt| stmt.execute(params))
        .map_err(storage)
}

/// One operation's writes inside the open batch: a savepoint, released when the operation
/// succeeded and rolled back alone (the batch goes on) when it failed, or panicked.
pub(super) struct Change<'c> {
    conn: &'c Connection,
    kept: bool,
}

impl<'c> Change<'c> {
    pub(super) fn begin(conn: &'c Connection) -> Result<Change<'c>, ChatError> {
        exec(conn, "SAVEPOINT change", [])?;
        Ok(Change { conn, kept: false })
    }

    pub(super) fn keep(mut self) -> Result<(), ChatError> {
        exec(self.conn, "RELEASE change", [])?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for Change<'_> {
    fn drop(&mut self) {
        if !self.kept {
            let _ = exec(self.conn, "ROLLBACK TO change", []);
            let _ = exec(self.conn, "RELEASE change", []);
        }
    }
}

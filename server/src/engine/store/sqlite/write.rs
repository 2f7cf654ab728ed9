//! Writing what a room transaction changed: only the rows it changed.

use rusqlite::{Connection, params};

use super::rows::{Change, access_text, int, kind_name, status_name};
use super::rows::{exec, storage};
use crate::engine::error::ChatError;
use crate::engine::model::Room;
use crate::engine::store::Committed;

/// Writes what a room transaction changed, from the room as it was (`None`: new) to `committed`.
pub(super) fn write_room(
    conn: &Connection,
    before: Option<&Room>,
    committed: &Committed,
) -> Result<(), ChatError> {
    let room = &committed.room;
    let change = Change::begin(conn)?;
    // A message carries the room's new `latest_seq` and `last_activity_ms` itself (see `load`):
    // a plain send writes its message row and leaves the room's row alone.
    let carried = committed
        .appended
        .last()
        .is_some_and(|m| m.seq == room.latest_seq && m.timestamp_ms == room.last_activity_ms);
    let header_changed = before.is_none_or(|b| {
        (b.kind, b.capacity, b.status, b.created_ms, b.members.len())
            != (
                room.kind,
                room.capacity,
                room.status,
                room.created_ms,
                room.members.len(),
            )
            || b.access != room.access
            || (!carried
                && (b.last_activity_ms, b.latest_seq) != (room.last_activity_ms, room.latest_seq))
    });
    if header_changed {
        exec(
            conn,
            "INSERT INTO rooms (room_id, kind, capacity, status, member_count, created_ms, \
             last_activity_ms, latest_seq, access) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT(room_id) DO UPDATE SET kind = ?2, capacity = ?3, status = ?4, \
             member_count = ?5, created_ms = ?6, last_activity_ms = ?7, latest_seq = ?8, \
             access = ?9",
            params![
                room.room_id,
                kind_name(room.kind),
                room.capacity,
                status_name(room.status),
                room.members.len() as i64,
                int(room.created_ms),
                int(room.last_activity_ms),
                int(room.latest_seq),
                access_text(&room.access)?
            ],
        )?;
    }
    let old_members = before.map_or(&[][..], |b| &b.members[..]);
    for member in &room.members {
        match old_members.iter().find(|m| m.client_id == member.client_id) {
            Some(old) if old == member => {}
            Some(_) => {
                exec(
                    conn,
                    "UPDATE members SET user_id = ?3, display_name = ?4, joined_ms = ?5, \
                     delivered_seq = ?6, sent = ?7, reads_from = ?8, invite = ?9 \
                     WHERE room_id = ?1 AND client_id = ?2",
                    params![
                        room.room_id,
                        member.client_id,
                        member.user_id,
                        member.display_name,
                        int(member.joined_ms),
                        int(member.delivered_seq),
                        member.sent.as_str(),
                        int(member.reads_from),
                        member.invite
                    ],
                )?;
            }
            None => {
                // After every member there is or was: the list's order survives a restart.
                exec(
                    conn,
                    "INSERT INTO members (room_id, client_id, position, user_id, display_name, \
                     joined_ms, delivered_seq, sent, reads_from, invite) VALUES (?1, ?2, \
                     (SELECT COALESCE(MAX(position), -1) + 1 FROM members WHERE room_id = ?1), \
                     ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        room.room_id,
                        member.client_id,
                        member.user_id,
                        member.display_name,
                        int(member.joined_ms),
                        int(member.delivered_seq),
                        member.sent.as_str(),
                        int(member.reads_from),
                        member.invite
                    ],
                )?;
            }
        }
    }
    for old in old_members {
        if room.member(&old.client_id).is_none() {
            exec(
                conn,
                "DELETE FROM members WHERE room_id = ?1 AND client_id = ?2",
                params![room.room_id, old.client_id],
            )?;
        }
    }
    for m in &committed.appended {
        let body = serde_json::to_string(m).map_err(storage)?;
        exec(
            conn,
            "INSERT INTO messages (room_id, seq, body) VALUES (?1, ?2, ?3)",
            params![room.room_id, int(m.seq), body],
        )?;
    }
    change.keep()
}

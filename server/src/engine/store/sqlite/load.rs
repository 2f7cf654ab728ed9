//! Reading the file into a mirror, at open and after a failed COMMIT.

use mcp_chat_shared::chat::ChatMessage;
use rusqlite::{Connection, OptionalExtension};

use super::rows::{access_from, invalid_column, kind_from, status_from};
use crate::engine::idempotency::SentKeys;
use crate::engine::model::{ClientRecord, Member, Room};
use crate::engine::store::mirror::Mirror;

/// Reads everything but the logs into a mirror.
pub(super) fn load(conn: &Connection) -> rusqlite::Result<Mirror> {
    let mut mirror = Mirror::default();
    let mut stmt = conn.prepare(
        "SELECT client_id, user_id, display_name, created_ms, last_seen_ms FROM clients",
    )?;
    for client in stmt.query_map([], |r| {
        Ok(ClientRecord {
            client_id: r.get(0)?,
            user_id: r.get(1)?,
            display_name: r.get(2)?,
            created_ms: r.get::<_, i64>(3)? as u64,
            last_seen_ms: r.get::<_, i64>(4)? as u64,
        })
    })? {
        let client = client?;
        mirror.clients.insert(client.client_id.clone(), client);
    }

    for room in load_rooms(conn)? {
        mirror.load_room(room);
    }

    let (state, version): (String, i64) =
        conn.query_row("SELECT state, version FROM queue WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    mirror.queue =
        serde_json::from_str(&state).map_err(|e| invalid_column(format!("queue: {e}")))?;
    mirror.queue_version = version as u64;
    Ok(mirror)
}

/// Every room with its members, in no order, as the file holds them now. The store reads them at
/// open; `mcp-chat admin` reads them through a read-only connection while the server runs.
pub(super) fn load_rooms(conn: &Connection) -> rusqlite::Result<Vec<Room>> {
    let mut rooms = std::collections::HashMap::new();
    let mut stmt = conn.prepare(
        "SELECT room_id, kind, capacity, status, created_ms, last_activity_ms, latest_seq, \
         access FROM rooms",
    )?;
    for room in stmt.query_map([], |r| {
        Ok(Room {
            room_id: r.get(0)?,
            kind: kind_from(&r.get::<_, String>(1)?)?,
            capacity: r.get::<_, i64>(2)? as u32,
            status: status_from(&r.get::<_, String>(3)?)?,
            members: Vec::new(),
            created_ms: r.get::<_, i64>(4)? as u64,
            last_activity_ms: r.get::<_, i64>(5)? as u64,
            latest_seq: r.get::<_, i64>(6)? as u64,
            access: access_from(&r.get::<_, String>(7)?)?,
        })
    })? {
        let room = room?;
        rooms.insert(room.room_id.clone(), room);
    }
    let mut stmt = conn.prepare(
        "SELECT room_id, client_id, user_id, display_name, joined_ms, delivered_seq, sent, \
         reads_from, invite FROM members ORDER BY room_id, position",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let room_id: String = r.get(0)?;
        if let Some(room) = rooms.get_mut(&room_id) {
            room.members.push(Member {
                client_id: r.get(1)?,
                user_id: r.get(2)?,
                display_name: r.get(3)?,
                joined_ms: r.get::<_, i64>(4)? as u64,
                delivered_seq: r.get::<_, i64>(5)? as u64,
                sent: SentKeys::from_stored(r.get(6)?),
                // Never set: one process (see `Store::shared`).
                unconfirmed_from: None,
                reads_from: r.get::<_, i64>(7)? as u64,
                invite: r.get(8)?,
            });
        }
    }
    // A room's row is not rewritten for each message (see `write_room`): its newest message
    // has the newer counters.
    let mut newest = conn
        .prepare("SELECT seq, body FROM messages WHERE room_id = ?1 ORDER BY seq DESC LIMIT 1")?;
    let mut loaded = Vec::with_capacity(rooms.len());
    for mut room in rooms.into_values() {
        let last = newest
            .query_row([&room.room_id], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })
            .optional()?;
        if let Some((seq, body)) = last.filter(|(seq, _)| *seq > room.latest_seq) {
            let message: ChatMessage = serde_json::from_str(&body)
                .map_err(|e| invalid_column(format!("message {seq}: {e}")))?;
            room.latest_seq = seq;
            room.last_activity_ms = room.last_activity_ms.max(message.timestamp_ms);
        }
        loaded.push(room);
    }
    Ok(loaded)
}

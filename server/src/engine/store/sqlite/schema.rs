//! The schema, one migration per version (`PRAGMA user_version`), run at open.

use rusqlite::Connection;

use super::rows::storage;
use crate::engine::error::ChatError;

/// Each entry upgrades the schema from version `index` to `index + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
    CREATE TABLE clients (
        client_id    TEXT PRIMARY KEY,
        user_id      TEXT NOT NULL,
        display_name TEXT NOT NULL,
        created_ms   INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL
    );
    CREATE INDEX clients_by_last_seen ON clients(last_seen_ms);
    CREATE TABLE rooms (
        room_id          TEXT PRIMARY KEY,
        state            TEXT NOT NULL,
        status           TEXT NOT NULL,
        member_count     INTEGER NOT NULL,
        latest_seq       INTEGER NOT NULL,
        last_activity_ms INTEGER NOT NULL
    );
    CREATE TABLE memberships (
        client_id TEXT NOT NULL,
        room_id   TEXT NOT NULL,
        PRIMARY KEY (client_id, room_id)
    ) WITHOUT ROWID;
    CREATE TABLE messages (
        room_id TEXT NOT NULL,
        seq     INTEGER NOT NULL,
        body    TEXT NOT NULL,
        PRIMARY KEY (room_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE queue (
        id      INTEGER PRIMARY KEY CHECK (id = 1),
        state   TEXT NOT NULL,
        version INTEGER NOT NULL
    );
    INSERT INTO queue (id, state, version) VALUES (1, '{"entries":[]}', 0);
"#,
    // 2: rooms as rows (the JSON document was rewritten whole on every message), members as
    // rows (one cursor moves per claim), memberships derived from members.
    r#"
    ALTER TABLE rooms ADD COLUMN kind TEXT NOT NULL DEFAULT 'Named';
    ALTER TABLE rooms ADD COLUMN capacity INTEGER NOT NULL DEFAULT 2;
    ALTER TABLE rooms ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
    UPDATE rooms SET kind = json_extract(state, '$.kind'),
                     capacity = json_extract(state, '$.capacity'),
                     created_ms = json_extract(state, '$.created_ms');
    CREATE TABLE members (
        room_id       TEXT NOT NULL,
        client_id     TEXT NOT NULL,
        position      INTEGER NOT NULL,
        user_id       TEXT NOT NULL,
        display_name  TEXT NOT NULL,
        joined_ms     INTEGER NOT NULL,
        delivered_seq INTEGER NOT NULL,
        PRIMARY KEY (room_id, client_id)
    ) WITHOUT ROWID;
    INSERT INTO members
        SELECT r.room_id, json_extract(m.value, '$.client_id'), m.key,
               json_extract(m.value, '$.user_id'), json_extract(m.value, '$.display_name'),
               json_extract(m.value, '$.joined_ms'), json_extract(m.value, '$.delivered_seq')
        FROM rooms AS r, json_each(r.state, '$.members') AS m;
    ALTER TABLE rooms DROP COLUMN state;
    DROP TABLE memberships;
"#,
    // 3: retries that change nothing (issue 26): a member's recent keyed sends, and the keys
    // that created identities.
    r#"
    ALTER TABLE members ADD COLUMN sent TEXT NOT NULL DEFAULT '';
    CREATE TABLE remembered (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE INDEX remembered_by_expiry ON remembered(expires_ms);
"#,
    // 4: private rooms (issue 27): a room's access (JSON; '' for a public room as every room
    // before was), what a member may read and the invitation they came in with.
    r#"
    ALTER TABLE rooms ADD COLUMN access TEXT NOT NULL DEFAULT '';
    ALTER TABLE members ADD COLUMN reads_from INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN invite TEXT;
"#,
];

pub(super) fn migrate(conn: &Connection) -> Result<(), ChatError> {
    let version: usize = conn
        .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map_err(storage)? as usize;
    if version > MIGRATIONS.len() {
        return Err(storage(format!(
            "the database has schema version {version}, newer than this mcp-chat knows ({}); \
             upgrade mcp-chat",
            MIGRATIONS.len()
        )));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let batch = format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", from + 1);
        conn.execute_batch(&batch).map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK;");
            storage(format!("migration to schema {} failed: {e}", from + 1))
        })?;
    }
    Ok(())
}

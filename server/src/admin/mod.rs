//! `mcp-chat admin`: operator commands on a store, whether its server runs or not.
//!
//! - Reads (`rooms`, `export`, `backup`) go to the store directly. A SQLite file is opened
//!   read-only, without its lock ([`SqliteReader`]): a running server is neither stopped nor
//!   slowed. Redis is shared by design.
//! - `delete` goes through [`Engine::delete_room`], as every path that deletes does. On SQLite,
//!   the process holding the file must make the change (its mirror would hide, then overwrite,
//!   anyone else's): a running server is asked over its admin socket ([`socket`]); with none
//!   running, this process takes the lock and deletes itself.
//! - The memory store lives inside its server: nothing to reach from outside.
//!
//! Results go to stdout; progress and errors to stderr.

pub mod socket;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use mcp_chat_shared::chat::ChatMessage;
use tokio_util::sync::CancellationToken;

use crate::cli::{AdminArgs, AdminCommand};
use crate::engine::model::Room;
use crate::engine::store::StoreSpec;
use crate::engine::store::sqlite::{SqliteReader, SqliteStore, no_store_at};
use crate::engine::{ChatError, Engine, Limits, Store, ids};

/// Messages read per page of an export: memory stays bounded whatever the log's length.
const EXPORT_PAGE: usize = 500;

const MEMORY_STORE: &str = "the memory store lives inside the server process: no other process \
    can reach it, and nothing in it survives a restart (keep chats with --store sqlite:PATH or \
    redis://…)";

const REDIS_BACKUP: &str = "mcp-chat does not copy a Redis store: rely on Redis's own \
    persistence instead — RDB snapshots (`save`) or the append-only file (`appendonly yes`), \
    `BGSAVE` then a copy of dump.rdb, or a replica";

pub async fn run(args: &AdminArgs) -> anyhow::Result<()> {
    let store = &args.store;
    match &args.command {
        AdminCommand::Rooms { json } => rooms(store, *json).await,
        AdminCommand::Export { room } => export(store, room).await,
        AdminCommand::Delete { room } => delete(store, room).await,
        AdminCommand::Backup { path } => backup(store, path),
    }
}

/// What the engine allows when this process opens a store itself: the defaults, except that a
/// room name the server accepted (under a larger `--max-room-id-chars`) is accepted here too.
fn limits() -> Limits {
    Limits {
        max_room_id_chars: usize::MAX,
        ..Limits::default()
    }
}

/// A store's error as one readable line: a storage failure's account needs no "Storage failed"
/// before it here, where everything is about storage.
fn plain(e: ChatError) -> anyhow::Error {
    match e {
        ChatError::Storage(account) => anyhow!(account),
        e => anyhow!(e),
    }
}

fn sqlite_path(path: &Option<PathBuf>) -> PathBuf {
    path.clone().unwrap_or_else(StoreSpec::default_sqlite_path)
}

/// Where rooms and logs are read from.
enum Source {
    File(SqliteReader),
    Store(Arc<dyn Store>),
}

impl Source {
    async fn open(spec: &StoreSpec) -> anyhow::Result<Source> {
        match spec {
            StoreSpec::Memory => bail!(MEMORY_STORE),
            StoreSpec::Sqlite(path) => Ok(Source::File(
                SqliteReader::open(&sqlite_path(path)).map_err(plain)?,
            )),
            StoreSpec::Redis(_) => {
                let opened = spec
                    .open(&limits())
                    .await
                    .map_err(|e| anyhow!("cannot open the store: {e}"))?;
                Ok(Source::Store(opened.store))
            }
        }
    }

    async fn rooms(&self) -> Result<Vec<Room>, ChatError> {
        match self {
            Source::File(file) => file.rooms(),
            Source::Store(store) => store.all_rooms().await,
        }
    }

    async fn has_room(&self, room_id: &str) -> Result<bool, ChatError> {
        match self {
            Source::File(file) => file.has_room(room_id),
            Source::Store(store) => Ok(store.room(room_id).await?.is_some()),
        }
    }

    async fn messages_after(
        &self,
        room_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, ChatError> {
        match self {
            Source::File(file) => file.messages_after(room_id, after_seq, limit),
            Source::Store(store) => store.messages_after(room_id, after_seq, limit).await,
        }
    }
}

async fn rooms(spec: &StoreSpec, json: bool) -> anyhow::Result<()> {
    let source = Source::open(spec).await?;
    let mut rooms = source.rooms().await.map_err(plain)?;
    rooms.sort_by(|a, b| a.room_id.cmp(&b.room_id));
    let mut out = std::io::stdout().lock();
    let written = if json {
        write_json(&rooms, &mut out)
    } else {
        write_table(&rooms, &mut out)
    };
    finish(written.and_then(|()| out.flush()))?;
    eprintln!("{} rooms in {}", rooms.len(), spec.describe());
    Ok(())
}

fn names(room: &Room) -> Vec<&str> {
    room.members
        .iter()
        .map(|m| m.display_name.as_str())
        .collect()
}

/// One row per room, aligned, with a header.
fn write_table(rooms: &[Room], out: &mut impl Write) -> std::io::Result<()> {
    let header = [
        "ROOM",
        "STATUS",
        "MEMBERS",
        "MESSAGES",
        "LAST ACTIVITY",
        "NAMES",
    ];
    let rows: Vec<[String; 6]> = rooms
        .iter()
        .map(|room| {
            [
                room.room_id.clone(),
                room.status.as_str().to_owned(),
                room.members.len().to_string(),
                room.latest_seq.to_string(),
                ids::rfc3339(room.last_activity_ms),
                names(room).join(", "),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: [&str; 6]| {
        let [room, status, members, messages, activity, names] = cells;
        writeln!(
            out,
            "{room:<w0$}  {status:<w1$}  {members:>w2$}  {messages:>w3$}  {activity:<w4$}  {names}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        )
    };
    line(out, header)?;
    for row in &rows {
        line(out, row.each_ref().map(String::as_str))?;
    }
    Ok(())
}

/// One JSON object per room and line.
fn write_json(rooms: &[Room], out: &mut impl Write) -> std::io::Result<()> {
    for room in rooms {
        let line = serde_json::json!({
            "room_id": room.room_id,
            "status": room.status.as_str(),
            "private": room.access.private,
            "capacity": room.capacity,
            "member_count": room.members.len(),
            "members": names(room),
            "messages": room.latest_seq,
            "created": ids::rfc3339(room.created_ms),
            "last_activity": ids::rfc3339(room.last_activity_ms),
        });
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

async fn export(spec: &StoreSpec, room_id: &str) -> anyhow::Result<()> {
    let source = Source::open(spec).await?;
    if !source.has_room(room_id).await.map_err(plain)? {
        bail!("no room {room_id:?} in {}", spec.describe());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut after = 0;
    let mut count = 0u64;
    loop {
        let page = source
            .messages_after(room_id, after, EXPORT_PAGE)
            .await
            .map_err(plain)
            .with_context(|| format!("cannot read room {room_id:?}'s log"))?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let written = page.iter().try_for_each(|message| {
            serde_json::to_writer(&mut out, message)?;
            out.write_all(b"\n")
        });
        if !finish(written)? {
            return Ok(());
        }
        count += page.len() as u64;
    }
    if finish(out.flush())? {
        eprintln!("exported {count} messages of room {room_id:?}");
    }
    Ok(())
}

/// A write to stdout: `false` when its reader is gone (`| head`), which ends the command quietly.
fn finish(written: std::io::Result<()>) -> anyhow::Result<bool> {
    match written {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow!("cannot write to stdout: {e}")),
    }
}

async fn delete(spec: &StoreSpec, room_id: &str) -> anyhow::Result<()> {
    let deleted = match spec {
        StoreSpec::Memory => bail!(MEMORY_STORE),
        StoreSpec::Redis(_) => {
            // Instances on the same Redis hear of it as of any change: the store publishes it.
            let opened = spec
                .open(&limits())
                .await
                .map_err(|e| anyhow!("cannot open the store: {e}"))?;
            delete_here(opened.store, room_id).await
        }
        StoreSpec::Sqlite(path) => delete_sqlite(&sqlite_path(path), room_id).await?,
    };
    match deleted {
        Ok(()) => {
            println!("deleted room {room_id:?}");
            Ok(())
        }
        Err((code, _)) if code == "room_not_found" => {
            bail!("no room {room_id:?} in {}", spec.describe())
        }
        Err((_, error)) => bail!("cannot delete room {room_id:?}: {error}"),
    }
}

/// The engine's answer to a delete: done, or the error's code and account.
type Deleted = Result<(), (String, String)>;

async fn delete_here(store: Arc<dyn Store>, room_id: &str) -> Deleted {
    let engine = Engine::new(store, limits(), CancellationToken::new());
    engine
        .delete_room(room_id)
        .await
        .map_err(|e| (e.code().to_owned(), e.to_string()))
}

/// Through the running server if one holds the file, else directly under the file's lock.
async fn delete_sqlite(path: &Path, room_id: &str) -> anyhow::Result<Deleted> {
    if !path.is_file() {
        bail!(no_store_at(path));
    }
    let socket = socket::path_for(path);
    let request = socket::Request::DeleteRoom {
        room_id: room_id.to_owned(),
    };
    match socket::ask(&socket, &request).await {
        Ok(answer) if answer.ok => Ok(Ok(())),
        Ok(answer) => Ok(Err((
            answer.code.unwrap_or_default(),
            answer.error.unwrap_or_default(),
        ))),
        Err(socket::AskError::Failed(why)) => {
            bail!(
                "a server seems to hold {}, but asking it failed: {why}",
                path.display()
            )
        }
        Err(socket::AskError::NoServer(why)) => match SqliteStore::open(path) {
            // No server: this process owns the file until the store is dropped (closed and
            // checkpointed) at the end of the delete.
            Ok(store) => Ok(delete_here(Arc::new(store), room_id).await),
            Err(e) => bail!(
                "{}; and that process does not answer on its admin socket ({why}). Stop it and \
                 run this again, or run this on the same machine, as the same user",
                plain(e)
            ),
        },
    }
}

fn backup(spec: &StoreSpec, dest: &Path) -> anyhow::Result<()> {
    let source = match spec {
        StoreSpec::Memory => bail!(MEMORY_STORE),
        StoreSpec::Redis(_) => bail!(REDIS_BACKUP),
        StoreSpec::Sqlite(path) => sqlite_path(path),
    };
    let reader = SqliteReader::open(&source).map_err(plain)?;
    eprintln!("backing up {} to {}", source.display(), dest.display());
    let mut shown = false;
    let report = reader
        .backup_to(dest, |copied, total| {
            // Nothing to show for a file copied in one step.
            if copied < total || shown {
                shown = true;
                let percent = (copied * 100).checked_div(total).unwrap_or(100);
                eprintln!("copied {copied} of {total} pages ({percent}%)");
            }
        })
        .map_err(plain)?;
    println!(
        "backup written to {}: {} rooms, {} messages, {} clients, {} bytes; integrity check ok",
        dest.display(),
        report.rooms,
        report.messages,
        report.clients,
        report.pages * report.page_size
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{Member, RoomKind};
    use mcp_chat_shared::chat::RoomStatus;

    fn room(id: &str, names: &[&str], seq: u64) -> Room {
        let mut room = Room::new(id.into(), RoomKind::Named, 5, 1_700_000_000_000);
        room.status = RoomStatus::Active;
        room.latest_seq = seq;
        room.members = names
            .iter()
            .map(|name| Member {
                client_id: format!("c-{name}"),
                user_id: format!("u-{name}"),
                display_name: (*name).into(),
                joined_ms: 0,
                delivered_seq: 0,
                sent: Default::default(),
                unconfirmed_from: None,
                reads_from: 0,
                invite: None,
            })
            .collect();
        room
    }

    #[test]
    fn the_table_is_aligned_and_says_everything() {
        let rooms = [
            room("lobby", &["Ada", "Bob"], 12),
            room("a-much-longer-room", &[], 0),
        ];
        let mut out = Vec::new();
        write_table(&rooms, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("ROOM "), "{text}");
        assert!(lines[1].contains("active"), "{text}");
        assert!(lines[1].contains("Ada, Bob"), "{text}");
        assert!(lines[1].contains("2023-11-14T22:13:20.000Z"), "{text}");
        // Columns line up: STATUS starts at the same place on every line.
        let at = lines[0].find("STATUS").unwrap();
        assert_eq!(&lines[1][at..at + 6], "active");
        assert_eq!(&lines[2][at..at + 6], "active");
    }

    #[test]
    fn json_lines_carry_one_room_each() {
        let rooms = [room("lobby", &["Ada", "Bob"], 12)];
        let mut out = Vec::new();
        write_json(&rooms, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let value: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(value["room_id"], "lobby");
        assert_eq!(value["status"], "active");
        assert_eq!(value["member_count"], 2);
        assert_eq!(value["members"], serde_json::json!(["Ada", "Bob"]));
        assert_eq!(value["messages"], 12);
        assert_eq!(value["last_activity"], "2023-11-14T22:13:20.000Z");
    }
}

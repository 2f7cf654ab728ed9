//! What a single-process store holds in memory: clients, rooms with their members' cursors, the
//! queue, and each room's log (all of it, or its newest part).
//!
//! The memory store is a mirror and nothing else. The SQLite store keeps one as the cache of its
//! file: its file is locked to one process, so nothing but this process changes it, and a mirror
//! updated with each write is what the file holds once the write is committed. Its reads then
//! cost what the memory store's cost, and its writes write only what changed.
//!
//! A mirror is plain data behind its store's lock: no `.await` while it is held. Every change is
//! computed on a copy first ([`Mirror::prepare_room`]) and applied only when it is kept
//! ([`Mirror::apply_room`]), so a failed rule or a failed write leaves it as it was.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use mcp_chat_shared::chat::ChatMessage;
use tokio::sync::Notify;

use super::{Committed, RoomChange, RoomTx, idle, member_ids, room_to_change, stamp};
use crate::engine::error::ChatError;
use crate::engine::model::{ClientRecord, Queue, Room};

/// Up to this many entries a room's log is allocated exactly (see [`RoomSlot::append`]).
const SHORT_LOG: usize = 4;

/// How much of each room's log a mirror keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// The whole log: the mirror is the store.
    Everything,
    /// Entries some member has not claimed yet, at most this many: what the next waits will
    /// read. Older entries are read from the file.
    Unclaimed(usize),
}

#[derive(Default)]
pub struct Mirror {
    pub clients: HashMap<String, ClientRecord>,
    pub rooms: HashMap<String, RoomSlot>,
    /// client_id → rooms it is a member of, kept in step with every room change.
    /// The rooms each client is in, sorted: a few at most (`max_rooms_per_client`), so a
    /// vector, a third of a hash set's size for the usual one room.
    pub memberships: HashMap<String, Vec<String>>,
    pub queue: Queue,
    pub queue_version: u64,
}

pub struct RoomSlot {
    pub room: Room,
    /// The newest entries of the log, contiguous and in order: `log[i].seq == first + i`, ending
    /// at `room.latest_seq`. May be empty, or shorter than the log (see [`Retention`]).
    pub log: VecDeque<ChatMessage>,
    /// Woken when the log grows or the room is removed.
    pub changed: Arc<Notify>,
}

impl RoomSlot {
    pub fn new(room: Room) -> RoomSlot {
        RoomSlot {
            room,
            log: VecDeque::new(),
            changed: Arc::new(Notify::new()),
        }
    }

    /// The entries with `seq > after_seq`, at most `limit`; `None` when some of them are older
    /// than the kept part of the log.
    pub fn after(&self, after_seq: u64, limit: usize) -> Option<Vec<ChatMessage>> {
        if after_seq >= self.room.latest_seq {
            return Some(Vec::new());
        }
        let first = self.log.front()?.seq;
        if after_seq + 1 < first {
            return None;
        }
        let start = (after_seq + 1 - first) as usize;
        Some(self.log.range(start..).take(limit).cloned().collect())
    }

    /// The newest `limit` entries with `seq < before_seq`, oldest first; `None` when some of them
    /// are older than the kept part of the log.
    pub fn before(&self, before_seq: u64, limit: usize) -> Option<Vec<ChatMessage>> {
        let end = before_seq.min(self.room.latest_seq + 1); // exclusive
        let start = end.saturating_sub(limit as u64).max(1);
        if start >= end {
            return Some(Vec::new());
        }
        let first = self.log.front()?.seq;
        if start < first {
            return None;
        }
        let range = (start - first) as usize..(end - first) as usize;
        Some(self.log.range(range).cloned().collect())
    }

    fn keep(&mut self, retention: Retention) {
        let Retention::Unclaimed(most) = retention else {
            return;
        };
        // Members who never wait would keep everything: the bound holds regardless.
        let claimed = self
            .room
            .members
            .iter()
            .map(|m| m.delivered_seq)
            .min()
            .unwrap_or(u64::MAX);
        while self
            .log
            .front()
            .is_some_and(|m| m.seq <= claimed || self.log.len() > most)
        {
            self.log.pop_front();
        }
        if self.log.is_empty() {
            // A room whose members have everything (most idle rooms) holds no buffer.
            self.log = VecDeque::new();
        }
    }

    /// Appends committed entries. A short log grows one entry at a time: a first push would
    /// otherwise reserve four entries, and most rooms hold two or three (the joins).
    fn append(&mut self, entries: &[ChatMessage]) {
        let needed = self.log.len() + entries.len();
        if needed <= SHORT_LOG {
            self.log.reserve_exact(entries.len());
        }
        self.log.extend(entries.iter().cloned());
    }
}

impl Mirror {
    /// Applies `tx` to a copy of room `room_id` (or to `create`): what [`Mirror::apply_room`]
    /// keeps once the change is durable. The mirror is not changed.
    pub fn prepare_room(
        &self,
        room_id: &str,
        create: Option<Room>,
        max_rooms: usize,
        now: u64,
        tx: RoomTx<'_>,
    ) -> Result<Committed, ChatError> {
        let existing = self.rooms.get(room_id).map(|slot| slot.room.clone());
        let created = existing.is_none();
        let mut room = room_to_change(room_id, existing, create, max_rooms, || {
            Ok(self.rooms.len())
        })?;
        let RoomChange { drafts, output } = tx(&mut room)?;
        let appended = stamp(&mut room, drafts, now);
        Ok(Committed {
            room,
            appended,
            created,
            output,
        })
    }

    /// The room as it is now, before a prepared change.
    pub fn current(&self, room_id: &str) -> Option<&Room> {
        self.rooms.get(room_id).map(|slot| &slot.room)
    }

    /// Keeps a prepared change. Returns it, and the room's waiters to wake if its log grew: the
    /// store wakes them once the change is durable.
    pub fn apply_room(
        &mut self,
        committed: Committed,
        retention: Retention,
    ) -> (Committed, Option<Arc<Notify>>) {
        let room = &committed.room;
        let room_id = room.room_id.as_str();
        let (slot, before) = match self.rooms.entry(room_id.to_owned()) {
            Entry::Occupied(slot) => {
                let slot = slot.into_mut();
                let before = member_ids(&slot.room);
                slot.room = room.clone();
                (slot, before)
            }
            Entry::Vacant(v) => (v.insert(RoomSlot::new(room.clone())), HashSet::new()),
        };
        slot.append(&committed.appended);
        slot.keep(retention);
        let wake = (!committed.appended.is_empty()).then(|| slot.changed.clone());
        let mut after = HashSet::with_capacity(room.members.len());
        for member in &room.members {
            if !before.contains(&member.client_id) {
                self.join(&member.client_id, room_id);
            }
            after.insert(member.client_id.as_str());
        }
        for left in before.iter().filter(|id| !after.contains(id.as_str())) {
            self.leave(left, room_id);
        }
        (committed, wake)
    }

    fn join(&mut self, client_id: &str, room_id: &str) {
        let rooms = self.memberships.entry(client_id.to_owned()).or_default();
        if let Err(at) = rooms.binary_search_by(|r| r.as_str().cmp(room_id)) {
            rooms.insert(at, room_id.to_owned());
        }
    }

    fn leave(&mut self, client_id: &str, room_id: &str) {
        if let Some(rooms) = self.memberships.get_mut(client_id) {
            rooms.retain(|r| r != room_id);
        }
    }

    /// Adds a room as loaded from a file, with its memberships.
    pub fn load_room(&mut self, room: Room) {
        for member in &room.members {
            self.join(&member.client_id, &room.room_id);
        }
        self.rooms.insert(room.room_id.clone(), RoomSlot::new(room));
    }

    /// Removes a room. Returns its waiters, to wake (they will find it gone).
    pub fn remove_room(&mut self, room_id: &str) -> Option<Arc<Notify>> {
        let slot = self.rooms.remove(room_id)?;
        for m in &slot.room.members {
            self.leave(&m.client_id, room_id);
        }
        Some(slot.changed)
    }

    pub fn slot(&self, room_id: &str) -> Result<&RoomSlot, ChatError> {
        self.rooms
            .get(room_id)
            .ok_or_else(|| ChatError::RoomNotFound(room_id.to_owned()))
    }

    /// A copy of every room (their logs aside).
    pub fn all_rooms(&self) -> Vec<Room> {
        self.rooms.values().map(|slot| slot.room.clone()).collect()
    }

    /// Clients last seen before `cutoff_ms`.
    pub fn idle_clients(&self, cutoff_ms: u64) -> Vec<ClientRecord> {
        self.clients
            .values()
            .filter(|c| c.last_seen_ms < cutoff_ms)
            .cloned()
            .collect()
    }

    /// Rooms a sweep may remove as of `cutoff_ms` (see [`idle`]).
    pub fn idle_rooms(&self, cutoff_ms: u64) -> Vec<String> {
        self.rooms
            .values()
            .filter(|s| idle(&s.room, cutoff_ms))
            .map(|s| s.room.room_id.clone())
            .collect()
    }

    /// Rooms `client_id` is a member of, sorted.
    pub fn client_rooms(&self, client_id: &str) -> Vec<String> {
        self.memberships.get(client_id).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::{Member, RoomKind};
    use mcp_chat_shared::chat::MessageKind;

    fn slot_with(seqs: std::ops::RangeInclusive<u64>, latest: u64) -> RoomSlot {
        let mut slot = RoomSlot::new(Room::new("r".into(), RoomKind::Named, 2, 0));
        slot.room.latest_seq = latest;
        for seq in seqs {
            slot.log.push_back(ChatMessage {
                seq,
                message_id: format!("m{seq}"),
                room_id: "r".into(),
                kind: MessageKind::Chat,
                sender: None,
                text: seq.to_string(),
                timestamp: String::new(),
                timestamp_ms: 0,
            });
        }
        slot
    }

    fn seqs(messages: Option<Vec<ChatMessage>>) -> Option<Vec<u64>> {
        messages.map(|m| m.iter().map(|m| m.seq).collect())
    }

    #[test]
    fn reads_are_served_only_from_what_is_kept() {
        let slot = slot_with(5..=8, 8);
        assert_eq!(seqs(slot.after(4, 10)), Some(vec![5, 6, 7, 8]));
        assert_eq!(seqs(slot.after(6, 1)), Some(vec![7]));
        assert_eq!(seqs(slot.after(8, 10)), Some(vec![]));
        assert_eq!(seqs(slot.after(u64::MAX, 10)), Some(vec![]));
        assert_eq!(seqs(slot.after(3, 10)), None, "seq 4 is not kept");
        assert_eq!(seqs(slot.before(9, 2)), Some(vec![7, 8]));
        assert_eq!(seqs(slot.before(u64::MAX, 4)), Some(vec![5, 6, 7, 8]));
        assert_eq!(seqs(slot.before(7, 2)), Some(vec![5, 6]));
        assert_eq!(seqs(slot.before(7, 3)), None, "seq 4 is not kept");
        assert_eq!(seqs(slot.before(1, 3)), Some(vec![]));
        let mut empty = slot_with(1..=1, 3);
        empty.log.clear();
        assert_eq!(seqs(empty.after(3, 10)), Some(vec![]));
        assert_eq!(seqs(empty.after(2, 10)), None);
        assert_eq!(seqs(empty.before(1, 10)), Some(vec![]));
    }

    #[test]
    fn unclaimed_retention_drops_what_every_member_has_and_stays_bounded() {
        let member = |client: &str, delivered_seq| Member {
            client_id: client.into(),
            user_id: client.into(),
            display_name: client.into(),
            joined_ms: 0,
            delivered_seq,
            sent: Default::default(),
            unconfirmed_from: None,
            reads_from: 0,
            invite: None,
        };
        let mut slot = slot_with(1..=10, 10);
        slot.room.members = vec![member("a", 7), member("b", 4)];
        slot.keep(Retention::Unclaimed(100));
        assert_eq!(slot.log.front().map(|m| m.seq), Some(5));
        slot.keep(Retention::Unclaimed(3));
        assert_eq!(
            slot.log.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [8, 9, 10]
        );
        let mut everything = slot_with(1..=10, 10);
        everything.room.members = vec![member("a", 10)];
        everything.keep(Retention::Everything);
        assert_eq!(everything.log.len(), 10);
        // Once every member has everything, the log holds no buffer at all.
        slot.room.members = vec![member("a", 10), member("b", 10)];
        slot.keep(Retention::Unclaimed(3));
        assert!(slot.log.is_empty());
        assert_eq!(slot.log.capacity(), 0);
    }

    #[test]
    fn a_short_log_is_allocated_exactly_and_a_long_one_grows_as_usual() {
        let entries: Vec<ChatMessage> = slot_with(1..=9, 9).log.into();
        let mut slot = RoomSlot::new(Room::new("r".into(), RoomKind::Named, 2, 0));
        slot.append(&entries[..1]);
        slot.append(&entries[1..2]);
        assert_eq!(
            slot.log.capacity(),
            2,
            "the two joins of a pair take two entries"
        );
        slot.append(&entries[2..]);
        assert_eq!(
            slot.log.iter().map(|m| m.seq).collect::<Vec<_>>(),
            (1..=9).collect::<Vec<_>>()
        );
    }

    #[test]
    fn memberships_are_sorted_and_counted_once() {
        let mut mirror = Mirror::default();
        for room in ["b", "a", "c", "a"] {
            mirror.join("c1", room);
        }
        assert_eq!(mirror.client_rooms("c1"), ["a", "b", "c"]);
        mirror.leave("c1", "b");
        mirror.leave("c1", "z");
        assert_eq!(mirror.client_rooms("c1"), ["a", "c"]);
        assert!(mirror.client_rooms("nobody").is_empty());
    }
}

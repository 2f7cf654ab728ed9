//! The room rules, as pure functions on a [`Room`]: who may join, send and leave, and what the
//! log records when they do. Stores run them inside their own atomic transaction, so the rules
//! exist once whatever the backend.

use mcp_chat_shared::chat::{HistoryVisibility, MessageKind, RoomStatus};

use super::error::ChatError;
use super::idempotency::{self, RetryKey, Seen};
use super::invites;
use super::model::{ClientRecord, Draft, Member, Room};

/// How a join comes in.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    /// By the room's name; `private`: the caller asked for a private room (so it must be the
    /// one creating it).
    ByName { private: bool },
    /// With an invitation, by the digest of its secret.
    ByInvite { digest: &'a str },
    /// Placed by the queue.
    Paired,
}

/// Why `user_id` may not act in `room`: removed by its owner, or simply not a member.
pub fn outsider(room: &Room, user_id: &str) -> ChatError {
    if room.access.removed.iter().any(|u| u == user_id) {
        ChatError::Removed(room.room_id.clone())
    } else {
        ChatError::NotAMember(room.room_id.clone())
    }
}

/// `e`, unless it is the `NotAMember` of a rule that knew only a `client_id`: then why the
/// member `user_id` is not in `room` (the owner may have removed them). Applied in the same
/// transaction, on the room the rule saw.
pub fn explained(room: &Room, user_id: &str, e: ChatError) -> ChatError {
    match e {
        ChatError::NotAMember(_) => outsider(room, user_id),
        e => e,
    }
}

/// Adds `client` to `room`. Joining a room one is already in changes nothing (and uses no
/// invitation). A private room is joined only with an invitation (its creator aside); nobody
/// the owner removed comes back.
pub fn join(
    room: &mut Room,
    client: &ClientRecord,
    entry: Entry,
    now: u64,
) -> Result<Vec<Draft>, ChatError> {
    if room.member(&client.client_id).is_some() {
        return Ok(Vec::new());
    }
    // Whoever the owner removed is told so, however they try to come back.
    if room.access.removed.contains(&client.user_id) {
        return Err(ChatError::Removed(room.room_id.clone()));
    }
    let mut invite = None;
    match entry {
        Entry::ByName { private } => {
            let creating = room.members.is_empty()
                && room.access.owner.as_deref() == Some(client.client_id.as_str());
            if room.access.private && !creating {
                return Err(ChatError::InviteRequired(room.room_id.clone()));
            }
            if private && !room.access.private {
                return Err(ChatError::RoomExists(room.room_id.clone()));
            }
        }
        // Checked before the room's state, so a wrong code learns nothing about the room.
        Entry::ByInvite { digest } => invite = Some(invites::admit(room, digest, now)?),
        Entry::Paired => {}
    }
    if room.status == RoomStatus::Ended {
        return Err(ChatError::RoomEnded(room.room_id.clone()));
    }
    if room.members.len() >= room.capacity as usize {
        return Err(ChatError::RoomFull {
            room_id: room.room_id.clone(),
            capacity: room.capacity,
        });
    }
    // Two members of a room never share a name, or nobody could tell who said what: the
    // newcomer becomes "Dana (2)" (or the first free number), and that is their name in this
    // room for everyone. Upper- then lower-casing folds more than lower-casing alone ("ß"/"SS").
    let fold = |name: &str| name.trim().to_uppercase().to_lowercase();
    let taken = |name: &str| {
        let name = fold(name);
        room.members.iter().any(|m| fold(&m.display_name) == name)
    };
    let mut display_name = client.display_name.clone();
    let mut n = 2;
    while taken(&display_name) {
        display_name = format!("{} ({n})", client.display_name);
        n += 1;
    }
    // A newcomer receives the room's whole log, including what was sent before they came, or
    // (`since_join`) from their own "joined" entry on.
    let reads_from = match room.access.history {
        HistoryVisibility::Full => 0,
        HistoryVisibility::SinceJoin => room.latest_seq + 1,
    };
    let member = Member {
        client_id: client.client_id.clone(),
        user_id: client.user_id.clone(),
        display_name,
        joined_ms: now,
        delivered_seq: reads_from.saturating_sub(1),
        sent: Default::default(),
        unconfirmed_from: None,
        reads_from,
        invite,
    };
    let joined = Draft {
        kind: MessageKind::Joined,
        sender: Some(member.participant()),
        text: format!("{} joined the room.", member.display_name),
    };
    room.members.push(member);
    room.last_activity_ms = now;
    update_status(room);
    Ok(vec![joined])
}

/// [`send_keyed`] without a key, as the rule tests call it.
#[cfg(test)]
pub fn send(
    room: &mut Room,
    client_id: &str,
    text: &str,
    max_messages: usize,
    now: u64,
) -> Result<Vec<Draft>, ChatError> {
    match send_keyed(room, client_id, text, None, max_messages, now)? {
        Sent::Appended(drafts) => Ok(drafts),
        Sent::Earlier(seq) => unreachable!("an unkeyed send is never a retry (entry {seq})"),
    }
}

/// What [`send_keyed`] did.
pub enum Sent {
    /// The message to append.
    Appended(Vec<Draft>),
    /// The key was this member's already: its message is entry `seq`, and nothing changes.
    Earlier(u64),
}

/// Appends a chat message. Sending alone is allowed: the message waits for whoever joins.
///
/// With an `idempotency_key`, a key the member sent with lately answers with that message's
/// `seq`, whatever happened to the room since (it may have ended); a new key is recorded in the
/// member's record, in the transaction that stores the message.
pub fn send_keyed(
    room: &mut Room,
    client_id: &str,
    text: &str,
    key: Option<&RetryKey>,
    max_messages: usize,
    now: u64,
) -> Result<Sent, ChatError> {
    let next_seq = room.latest_seq + 1;
    let Some(member) = room.member_mut(client_id) else {
        return Err(ChatError::NotAMember(room.room_id.clone()));
    };
    let sender = member.participant();
    let key = key.map(|k| (k.digest(), idempotency::digest(text)));
    if let Some((key, text)) = key {
        if let Seen::At(seq) = member.sent.seen(key, text, now)? {
            return Ok(Sent::Earlier(seq));
        }
        // Recorded now; an error below aborts the transaction and drops it with the rest.
        member.sent.record(key, text, next_seq, now);
    }
    if room.status == RoomStatus::Ended {
        return Err(ChatError::RoomEnded(room.room_id.clone()));
    }
    // Reserve one entry for the "room ended" event that a later leave appends.
    if room.latest_seq as usize + 1 >= max_messages {
        return Err(ChatError::RoomLogFull {
            room_id: room.room_id.clone(),
            limit: max_messages,
        });
    }
    room.last_activity_ms = now;
    Ok(Sent::Appended(vec![Draft {
        kind: MessageKind::Chat,
        sender: Some(sender),
        text: text.to_owned(),
    }]))
}

/// Why a member leaves; the log says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    Left,
    TimedOut,
}

/// Removes a member. A two-person room ends when either leaves; a larger one ends when the last
/// member leaves.
pub fn leave(
    room: &mut Room,
    client_id: &str,
    reason: LeaveReason,
    now: u64,
) -> Result<Vec<Draft>, ChatError> {
    let at = room
        .members
        .iter()
        .position(|m| m.client_id == client_id)
        .ok_or_else(|| ChatError::NotAMember(room.room_id.clone()))?;
    let member = room.members.remove(at);
    room.last_activity_ms = now;
    let how = match reason {
        LeaveReason::Left => "left the room",
        LeaveReason::TimedOut => "was disconnected after being idle",
    };
    let mut drafts = vec![Draft {
        kind: MessageKind::Left,
        sender: Some(member.participant()),
        text: format!("{} {how}.", member.display_name),
    }];
    let was_ended = room.status == RoomStatus::Ended;
    if !was_ended && (room.capacity <= 2 || room.members.is_empty()) {
        room.status = RoomStatus::Ended;
        drafts.push(Draft {
            kind: MessageKind::RoomEnded,
            sender: None,
            text: format!("The chat has ended: {} {how}.", member.display_name),
        });
    } else if !was_ended {
        update_status(room);
        drafts.extend(pass_ownership(room, &member.client_id));
    }
    Ok(drafts)
}

/// When the owner is gone from a room that goes on, the member present longest (members are
/// kept in the order they came) owns it, and everyone is told.
fn pass_ownership(room: &mut Room, gone: &str) -> Option<Draft> {
    if room.access.owner.as_deref() != Some(gone) {
        return None;
    }
    let heir = room.members.first()?;
    room.access.owner = Some(heir.client_id.clone());
    Some(Draft {
        kind: MessageKind::OwnerChanged,
        sender: Some(heir.participant()),
        text: format!("{} now owns the room.", heir.display_name),
    })
}

/// Whether `client_id` owns `room`; an error for a member who does not, saying `what` they
/// tried (and for anyone else, that they are not in the room).
pub fn require_owner(
    room: &Room,
    client: &ClientRecord,
    what: &'static str,
) -> Result<(), ChatError> {
    if room.member(&client.client_id).is_none() {
        return Err(outsider(room, &client.user_id));
    }
    if room.access.owner.as_deref() != Some(client.client_id.as_str()) {
        return Err(ChatError::NotAllowed {
            room_id: room.room_id.clone(),
            who: "the owner",
            what,
        });
    }
    Ok(())
}

/// Moves a member's delivery cursor forward (never back).
pub fn advance_cursor(room: &mut Room, client_id: &str, seq: u64) {
    if let Some(m) = room.member_mut(client_id) {
        m.delivered_seq = m.delivered_seq.max(seq);
    }
}

/// Waiting or active by the number of members, unless ended (for good).
pub fn update_status(room: &mut Room) {
    if room.status != RoomStatus::Ended {
        room.status = if room.members.len() >= 2 {
            RoomStatus::Active
        } else {
            RoomStatus::Waiting
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::model::RoomKind;

    /// A join by name, as every rule test before private rooms made it.
    fn join(room: &mut Room, client: &ClientRecord, now: u64) -> Result<Vec<Draft>, ChatError> {
        super::join(room, client, Entry::ByName { private: false }, now)
    }

    fn client(n: u8) -> ClientRecord {
        ClientRecord {
            client_id: format!("c{n}"),
            user_id: format!("u{n}"),
            display_name: format!("P{n}"),
            created_ms: 0,
            last_seen_ms: 0,
        }
    }

    #[test]
    fn two_person_room_lifecycle() {
        let mut room = Room::new("r".into(), RoomKind::Named, 2, 0);
        assert_eq!(join(&mut room, &client(1), 1).unwrap().len(), 1);
        assert_eq!(room.status, RoomStatus::Waiting);
        // The creator may send alone; it is not its own partner.
        assert_eq!(
            send(&mut room, "c1", "hi", 100, 2).unwrap()[0].kind,
            MessageKind::Chat
        );
        join(&mut room, &client(2), 3).unwrap();
        assert_eq!(room.status, RoomStatus::Active);
        assert!(
            join(&mut room, &client(2), 3).unwrap().is_empty(),
            "idempotent"
        );
        assert!(matches!(
            join(&mut room, &client(3), 4),
            Err(ChatError::RoomFull { capacity: 2, .. })
        ));
        assert!(matches!(
            send(&mut room, "c3", "x", 100, 5),
            Err(ChatError::NotAMember(_))
        ));
        let drafts = leave(&mut room, "c1", LeaveReason::Left, 6).unwrap();
        assert_eq!(
            drafts.iter().map(|d| d.kind).collect::<Vec<_>>(),
            [MessageKind::Left, MessageKind::RoomEnded]
        );
        assert_eq!(room.status, RoomStatus::Ended);
        assert!(matches!(
            send(&mut room, "c2", "x", 100, 7),
            Err(ChatError::RoomEnded(_))
        ));
        assert!(matches!(
            join(&mut room, &client(4), 8),
            Err(ChatError::RoomEnded(_))
        ));
        // The remaining member may still leave, without a second "ended" event.
        assert_eq!(
            leave(&mut room, "c2", LeaveReason::Left, 9).unwrap().len(),
            1
        );
    }

    #[test]
    fn larger_room_continues_while_members_remain() {
        let mut room = Room::new("big".into(), RoomKind::Named, 5, 0);
        for n in 1..=3 {
            join(&mut room, &client(n), n as u64).unwrap();
        }
        assert_eq!(
            leave(&mut room, "c1", LeaveReason::Left, 5).unwrap().len(),
            1
        );
        assert_eq!(room.status, RoomStatus::Active);
        leave(&mut room, "c2", LeaveReason::TimedOut, 6).unwrap();
        assert_eq!(room.status, RoomStatus::Waiting);
        let last = leave(&mut room, "c3", LeaveReason::Left, 7).unwrap();
        assert_eq!(last.last().unwrap().kind, MessageKind::RoomEnded);
    }

    #[test]
    fn log_limit_keeps_room_for_the_end_event() {
        let mut room = Room::new("r".into(), RoomKind::Named, 2, 0);
        join(&mut room, &client(1), 0).unwrap();
        room.latest_seq = 8;
        assert!(send(&mut room, "c1", "x", 10, 0).is_ok());
        room.latest_seq = 9;
        assert!(matches!(
            send(&mut room, "c1", "x", 10, 0),
            Err(ChatError::RoomLogFull { .. })
        ));
    }

    fn named(n: u8, name: &str) -> ClientRecord {
        ClientRecord {
            display_name: name.into(),
            ..client(n)
        }
    }

    #[test]
    fn names_are_unique_within_a_room() {
        let mut room = Room::new("r".into(), RoomKind::Named, 6, 0);
        join(&mut room, &named(1, "Dana"), 0).unwrap();
        let drafts = join(&mut room, &named(2, "Dana"), 1).unwrap();
        assert_eq!(drafts[0].text, "Dana (2) joined the room.");
        assert_eq!(drafts[0].sender.as_ref().unwrap().display_name, "Dana (2)");
        assert_eq!(room.member("c2").unwrap().display_name, "Dana (2)");
        let sent = send(&mut room, "c2", "hi", 100, 2).unwrap();
        assert_eq!(sent[0].sender.as_ref().unwrap().display_name, "Dana (2)");
        // Case-insensitive, and a taken "(2)" moves on to the first free number.
        join(&mut room, &named(3, "dANA"), 3).unwrap();
        assert_eq!(room.member("c3").unwrap().display_name, "dANA (3)");
        join(&mut room, &named(4, "Dana (2)"), 4).unwrap();
        assert_eq!(room.member("c4").unwrap().display_name, "Dana (2) (2)");
        join(&mut room, &named(5, "STRASSE"), 5).unwrap();
        join(&mut room, &named(6, "straße"), 6).unwrap();
        assert_eq!(room.member("c6").unwrap().display_name, "straße (2)");
        // A name frees up when its holder leaves; "Dana (2)" keeps theirs.
        leave(&mut room, "c1", LeaveReason::Left, 7).unwrap();
        join(&mut room, &named(7, "Dana"), 8).unwrap();
        assert_eq!(room.member("c7").unwrap().display_name, "Dana");
        assert_eq!(room.member("c2").unwrap().display_name, "Dana (2)");
        // The same name in another room is no clash.
        let mut other = Room::new("o".into(), RoomKind::Named, 2, 0);
        join(&mut other, &named(1, "Dana"), 0).unwrap();
        assert_eq!(other.member("c1").unwrap().display_name, "Dana");
    }

    #[test]
    fn cursor_only_moves_forward() {
        let mut room = Room::new("r".into(), RoomKind::Named, 2, 0);
        join(&mut room, &client(1), 0).unwrap();
        advance_cursor(&mut room, "c1", 5);
        advance_cursor(&mut room, "c1", 3);
        assert_eq!(room.member("c1").unwrap().delivered_seq, 5);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::model::RoomKind;

    /// A join by name, as every rule test before private rooms made it.
    fn join(room: &mut Room, client: &ClientRecord, now: u64) -> Result<Vec<Draft>, ChatError> {
        super::join(room, client, Entry::ByName { private: false }, now)
    }

    #[derive(Debug, Clone)]
    enum Op {
        Join(u8),
        Send(u8),
        Leave(u8, LeaveReason),
    }

    /// Names that clash with one another in every way the rules must resolve.
    const NAMES: [&str; 5] = ["Dana", "dana", "DANA (2)", "Dana (2)", "Bo"];

    fn op() -> impl Strategy<Value = Op> {
        let who = 0..5u8;
        prop_oneof![
            who.clone().prop_map(Op::Join),
            who.clone().prop_map(Op::Send),
            (who, prop::bool::ANY).prop_map(|(n, timed_out)| Op::Leave(
                n,
                if timed_out {
                    LeaveReason::TimedOut
                } else {
                    LeaveReason::Left
                }
            )),
        ]
    }

    fn client(n: u8) -> ClientRecord {
        ClientRecord {
            client_id: format!("c{n}"),
            user_id: format!("u{n}"),
            display_name: NAMES[n as usize].into(),
            created_ms: 0,
            last_seen_ms: 0,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn room_rules_hold_under_any_sequence(
            capacity in 2..5u32,
            ops in prop::collection::vec(op(), 0..40),
        ) {
            let mut room = Room::new("r".into(), RoomKind::Named, capacity, 0);
            for (now, op) in ops.into_iter().enumerate() {
                let now = now as u64;
                let ended_before = room.status == RoomStatus::Ended;
                let members_before = room.members.len();
                let outcome = match &op {
                    Op::Join(n) => join(&mut room, &client(*n), now),
                    Op::Send(n) => send(&mut room, &format!("c{n}"), "hi", 10_000, now),
                    Op::Leave(n, reason) => leave(&mut room, &format!("c{n}"), *reason, now),
                };
                if let Ok(drafts) = &outcome {
                    room.latest_seq += drafts.len() as u64;
                }

                prop_assert!(room.members.len() <= capacity as usize);
                let mut names: Vec<String> = room
                    .members
                    .iter()
                    .map(|m| m.display_name.to_lowercase())
                    .collect();
                names.sort();
                names.dedup();
                prop_assert_eq!(names.len(), room.members.len(), "{:?}", room.members);
                if ended_before {
                    prop_assert_eq!(room.status, RoomStatus::Ended, "un-ended by {:?}", op);
                }
                match (&op, &outcome) {
                    (Op::Send(_), Ok(_)) => prop_assert!(!ended_before, "sent after the end"),
                    (Op::Join(n), Ok(drafts)) if !drafts.is_empty() => {
                        let member = room.member(&format!("c{n}")).unwrap();
                        prop_assert_eq!(
                            &drafts[0].sender.as_ref().unwrap().display_name,
                            &member.display_name
                        );
                    }
                    (Op::Leave(..), Ok(_)) => {
                        prop_assert_eq!(room.members.len(), members_before - 1);
                        if capacity == 2 || room.members.is_empty() {
                            prop_assert_eq!(room.status, RoomStatus::Ended);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

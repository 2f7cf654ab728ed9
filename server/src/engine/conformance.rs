//! The engine's behaviour, checked in-process against a [`Store`]. Every backend must pass
//! these: the [`conformance_tests!`] macro instantiates them for a store constructor.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use mcp_chat_shared::chat::{
    MessageKind, QueueStatus, RoomStatus, WaitForMessageParams, WaitForMessageResult,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{ChatError, Engine, Limits, Store, ids};

mod instantiate;
mod private_rooms;
mod test_store;

pub use private_rooms::*;
pub use test_store::TestStore;

pub fn engine(store: Arc<dyn Store>) -> Arc<Engine> {
    Engine::new(store, Limits::default(), CancellationToken::new())
}

pub fn engine_with(store: Arc<dyn Store>, limits: Limits) -> Arc<Engine> {
    Engine::new(store, limits, CancellationToken::new())
}

fn never() -> CancellationToken {
    CancellationToken::new()
}

pub async fn pair(engine: &Engine, room: &str) -> (String, String) {
    let a = engine.join_room(room, "A", None, None, None).await.unwrap();
    let b = engine.join_room(room, "B", None, None, None).await.unwrap();
    // Consume the join events.
    engine
        .wait(&waiting(Some(room), &a.client_id, 0.0), &never())
        .await
        .unwrap();
    engine
        .wait(&waiting(Some(room), &b.client_id, 0.0), &never())
        .await
        .unwrap();
    (a.client_id, b.client_id)
}

/// A wait as a tool call carries it: in `room` (or wherever the queue put the client), at most
/// `timeout` seconds, for what the client has not been given yet.
pub fn waiting(room: Option<&str>, client_id: &str, timeout: f64) -> WaitForMessageParams {
    WaitForMessageParams {
        room_id: room.map(str::to_owned),
        client_id: client_id.to_owned(),
        timeout: Some(timeout),
        after_seq: None,
        include_own: None,
    }
}

pub fn chats(r: &WaitForMessageResult) -> Vec<String> {
    r.messages
        .iter()
        .filter(|m| m.kind == MessageKind::Chat)
        .map(|m| m.text.clone())
        .collect()
}

pub async fn log_is_numbered_without_gaps(store: Arc<dyn Store>) {
    let e = engine(store);
    let (a, b) = pair(&e, "seq").await;
    let mut seqs = Vec::new();
    for i in 0..20 {
        seqs.push(e.send("seq", &a, &format!("{i}"), None).await.unwrap().seq);
    }
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let got = e
        .wait(&waiting(Some("seq"), &b, 1.0), &never())
        .await
        .unwrap();
    assert_eq!(
        chats(&got),
        (0..20).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(got.last_seq, *seqs.last().unwrap());
}

pub async fn a_send_wakes_a_parked_wait(store: Arc<dyn Store>) {
    let e = engine(store);
    let (a, b) = pair(&e, "wake").await;
    let waiter = {
        let e = e.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let r = e
                .wait(&waiting(Some("wake"), &b, 10.0), &never())
                .await
                .unwrap();
            (start.elapsed(), chats(&r))
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    e.send("wake", &a, "now", None).await.unwrap();
    let (elapsed, got) = waiter.await.unwrap();
    assert_eq!(got, ["now"]);
    assert!(
        elapsed < Duration::from_secs(2),
        "woken by the send, not the timeout: {elapsed:?}"
    );
}

pub async fn waits_wake_only_for_their_own_room(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let (a, _) = pair(&e, "mine").await;
    let (other, _) = pair(&e, "other").await;
    let latest = store.room("mine").await.unwrap().unwrap().latest_seq;
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .wait_room("mine", latest, Instant::now() + Duration::from_secs(30))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    e.send("other", &other, "elsewhere", None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiter.is_finished(),
        "a send to another room woke this room's waiter"
    );
    e.send("mine", &a, "here", None).await.unwrap();
    tokio::time::timeout(Duration::from_secs(2), waiter)
        .await
        .expect("woken by its own room")
        .unwrap()
        .unwrap();
}

pub async fn overlapping_waits_share_without_loss_or_duplicates(store: Arc<dyn Store>) {
    let e = engine(store);
    let (a, b) = pair(&e, "overlap").await;
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let e = e.clone();
        let b = b.clone();
        waiters.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let r = e
                    .wait(&waiting(Some("overlap"), &b, 0.5), &never())
                    .await
                    .unwrap();
                if r.timeout {
                    return got;
                }
                got.extend(chats(&r));
            }
        }));
    }
    for i in 0..50 {
        e.send("overlap", &a, &format!("{i:02}"), None)
            .await
            .unwrap();
    }
    let mut all = Vec::new();
    for w in waiters {
        all.extend(w.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), 50, "nothing twice");
    assert_eq!(unique.len(), 50, "nothing lost");
}

pub async fn a_cancelled_claim_is_given_back(store: Arc<dyn Store>) {
    let e = engine(store);
    let (a, b) = pair(&e, "cancel").await;
    e.send("cancel", &a, "keep me", None).await.unwrap();
    let cancelled = CancellationToken::new();
    cancelled.cancel();
    let r = e
        .wait(&waiting(Some("cancel"), &b, 5.0), &cancelled)
        .await
        .unwrap();
    assert!(r.messages.is_empty(), "a cancelled wait hands nothing out");
    let r = e
        .wait(&waiting(Some("cancel"), &b, 5.0), &never())
        .await
        .unwrap();
    assert_eq!(chats(&r), ["keep me"]);
}

pub async fn queue_pairs_in_arrival_order(store: Arc<dyn Store>) {
    let e = engine(store);
    let first = e
        .enter_queue(Some("first"), None, None, None, &never())
        .await
        .unwrap();
    assert_eq!(first.status, QueueStatus::Waiting);
    let second = e
        .enter_queue(Some("second"), None, None, None, &never())
        .await
        .unwrap();
    assert_eq!(second.status, QueueStatus::Matched);
    assert_eq!(second.partner.as_ref().unwrap().display_name, "first");
    let third = e
        .enter_queue(Some("third"), None, None, None, &never())
        .await
        .unwrap();
    assert_eq!(
        (third.status, third.position),
        (QueueStatus::Waiting, Some(1))
    );

    // The first learns its room by polling with its client_id; the matched event is in the log.
    let first_again = e
        .enter_queue(None, Some(&first.client_id), Some(0.0), None, &never())
        .await
        .unwrap();
    assert_eq!(first_again.room_id, second.room_id);
    let r = e
        .wait(&waiting(None, &first.client_id, 0.0), &never())
        .await
        .unwrap();
    assert_eq!(r.room_id, second.room_id);
    assert_eq!(r.messages[0].kind, MessageKind::Matched);

    let fourth = e
        .enter_queue(Some("fourth"), None, None, None, &never())
        .await
        .unwrap();
    assert_eq!(fourth.partner.unwrap().display_name, "third");
}

pub async fn members_with_one_name_are_told_apart(store: Arc<dyn Store>) {
    let e = engine(store);
    let a = e
        .join_room("names", "Dana", Some(3), None, None)
        .await
        .unwrap();
    let b = e
        .join_room("names", "dana", None, None, None)
        .await
        .unwrap();
    let names: Vec<&str> = b.members.iter().map(|m| m.display_name.as_str()).collect();
    assert_eq!(names, ["Dana", "dana (2)"]);
    e.send("names", &b.client_id, "hi", None).await.unwrap();
    let r = e
        .wait(&waiting(Some("names"), &a.client_id, 0.0), &never())
        .await
        .unwrap();
    let texts: Vec<&str> = r.messages.iter().map(|m| m.text.as_str()).collect();
    assert!(texts.contains(&"dana (2) joined the room."), "{texts:?}");
    let last = r.messages.last().unwrap();
    assert_eq!(last.sender.as_ref().unwrap().display_name, "dana (2)");

    // Paired by the queue: each is told the other's name as the room shows it.
    let first = e
        .enter_queue(Some("Sam"), None, None, None, &never())
        .await
        .unwrap();
    let second = e
        .enter_queue(Some("Sam"), None, None, None, &never())
        .await
        .unwrap();
    assert_eq!(second.partner.unwrap().display_name, "Sam");
    let first_again = e
        .enter_queue(None, Some(&first.client_id), Some(0.0), None, &never())
        .await
        .unwrap();
    assert_eq!(first_again.partner.unwrap().display_name, "Sam (2)");
    let r = e
        .wait(&waiting(None, &first.client_id, 0.0), &never())
        .await
        .unwrap();
    assert_eq!(
        r.messages[0].text,
        "Sam and Sam (2) were matched. Say hello!"
    );
}

pub async fn sweeping_expires_idle_state(store: Arc<dyn Store>) {
    // Rooms outlive clients here, so each expiry shows in its own sweep.
    let limits = Limits {
        client_idle_ttl: Duration::from_secs(30 * 60),
        room_idle_ttl: Duration::from_secs(60 * 60),
        ..Limits::default()
    };
    let e = engine_with(store.clone(), limits.clone());
    let (a, b) = pair(&e, "idle").await;
    e.enter_queue(Some("lonely"), None, None, None, &never())
        .await
        .unwrap();

    // Just past the queue TTL: the unpolled place goes, nothing else.
    let soon = ids::now_ms() + limits.queue_ttl.as_millis() as u64 + 1000;
    let report = e.sweep(soon).await.unwrap();
    assert_eq!(
        (report.queue_places, report.clients, report.rooms),
        (1, 0, 0)
    );

    // Past the client TTL, with `b` having been active: only `a` (and "lonely") expire.
    let later = ids::now_ms() + limits.client_idle_ttl.as_millis() as u64 + 1000;
    store.touch_client(&b, later).await.unwrap();
    let report = e.sweep(later).await.unwrap();
    assert_eq!(report.clients, 2);
    assert!(matches!(
        e.send("idle", &a, "x", None).await,
        Err(ChatError::UnknownClient)
    ));
    let seen = e
        .wait(&waiting(Some("idle"), &b, 0.0), &never())
        .await
        .unwrap();
    let kinds: Vec<_> = seen.messages.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [MessageKind::Left, MessageKind::RoomEnded]);
    assert_eq!(seen.room_status, Some(RoomStatus::Ended));
    assert!(seen.messages[0].text.contains("idle"));

    // The ended room goes after the room TTL.
    let much_later = later + limits.room_idle_ttl.as_millis() as u64 + 1000;
    store.touch_client(&b, much_later).await.unwrap();
    let report = e.sweep(much_later).await.unwrap();
    assert_eq!(report.rooms, 1);
    assert!(matches!(
        e.room("idle", &b).await,
        Err(ChatError::RoomNotFound(_))
    ));
    assert_eq!(store.room_count().await.unwrap(), 0);
}

/// An operator's delete (`mcp-chat admin delete`): a parked wait returns with the end, the room
/// and its log go with every membership, other rooms are untouched.
pub async fn an_operator_deletes_a_room(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let (a, b) = pair(&e, "doomed").await;
    let (c, d) = pair(&e, "kept").await;
    e.send("doomed", &a, "before", None).await.unwrap();
    e.wait(&waiting(Some("doomed"), &b, 0.0), &never())
        .await
        .unwrap();
    let parked = {
        let e = e.clone();
        let b = b.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let r = e.wait(&waiting(Some("doomed"), &b, 20.0), &never()).await;
            (start.elapsed(), r)
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    e.delete_room("doomed").await.unwrap();
    let (elapsed, woken) = tokio::time::timeout(Duration::from_secs(5), parked)
        .await
        .expect("the parked wait returns")
        .unwrap();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    match woken {
        Ok(r) => {
            assert_eq!(r.room_status, Some(RoomStatus::Ended), "{r:?}");
            assert_eq!(r.messages.last().unwrap().kind, MessageKind::RoomEnded);
        }
        Err(e) => assert!(matches!(e, ChatError::RoomNotFound(_)), "{e:?}"),
    }
    assert!(store.room("doomed").await.unwrap().is_none());
    assert!(
        store
            .messages_after("doomed", 0, 10)
            .await
            .map(|m| m.is_empty())
            .unwrap_or(true)
    );
    assert!(store.client_rooms(&a).await.unwrap().is_empty());
    assert!(matches!(
        e.send("doomed", &a, "after", None).await,
        Err(ChatError::RoomNotFound(_))
    ));
    assert!(matches!(
        e.delete_room("doomed").await,
        Err(ChatError::RoomNotFound(_))
    ));
    // Nothing else changed.
    e.send("kept", &c, "still here", None).await.unwrap();
    let got = e
        .wait(&waiting(Some("kept"), &d, 1.0), &never())
        .await
        .unwrap();
    assert_eq!(chats(&got), ["still here"]);
    assert_eq!(store.client_rooms(&c).await.unwrap(), ["kept"]);
    assert!(
        store.client(&a).await.unwrap().is_some(),
        "its members remain"
    );
}

/// A sweep acts on a listing that may be stale (several sweeps, several instances): a room that
/// came back to life after it was listed must survive its removal.
pub async fn a_room_revived_after_listing_is_kept(store: Arc<dyn Store>) {
    use crate::engine::model::{Room, RoomKind};
    use crate::engine::store::RoomChange;
    let t0 = ids::now_ms();
    let empty = Room::new("revived".into(), RoomKind::Named, 3, t0);
    store
        .transact_room("revived", Some(empty), 100, t0, &|_| {
            Ok(RoomChange::drafts(Vec::new()))
        })
        .await
        .unwrap();
    let cutoff = t0 + 1_000;
    assert_eq!(store.idle_rooms(cutoff).await.unwrap(), ["revived"]);
    let listed = store.all_rooms().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|r| r.room_id.as_str())
            .collect::<Vec<_>>(),
        ["revived"]
    );
    assert_eq!(store.client_count().await.unwrap(), 0);

    // Activity after the listing.
    store
        .transact_room("revived", None, 100, t0 + 2_000, &|room| {
            room.last_activity_ms = t0 + 2_000;
            Ok(RoomChange::drafts(Vec::new()))
        })
        .await
        .unwrap();
    assert!(!store.remove_room("revived", cutoff).await.unwrap());
    assert!(
        store.room("revived").await.unwrap().is_some(),
        "the revived room is kept"
    );

    // Idle again by a later cutoff: now it goes, once.
    assert!(store.remove_room("revived", t0 + 3_000).await.unwrap());
    assert!(store.room("revived").await.unwrap().is_none());
    assert!(!store.remove_room("revived", t0 + 3_000).await.unwrap());
}

pub async fn failed_operations_change_nothing(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let (a, _) = pair(&e, "full").await;
    let before = store.room("full").await.unwrap().unwrap();
    assert!(matches!(
        e.join_room("full", "C", None, None, None).await,
        Err(ChatError::RoomFull { .. })
    ));
    assert!(e.send("full", &a, "", None).await.is_err());
    assert_eq!(store.room("full").await.unwrap().unwrap(), before);
    assert_eq!(
        store.idle_clients(u64::MAX).await.unwrap().len(),
        2,
        "no identity was kept for C"
    );
}

/// Retries with an `idempotency_key` answer as the first call did and change nothing: a send
/// is stored once, a new identity is made once (and joins or queues once).
pub async fn retried_calls_with_a_key_happen_once(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let key = |n: u32| format!("0f8c2d4e-retry-{n:04}");
    let (a, b) = pair(&e, "keyed").await;

    let first = e.send("keyed", &a, "once", Some(&key(1))).await.unwrap();
    let again = e.send("keyed", &a, "once", Some(&key(1))).await.unwrap();
    assert_eq!(
        (again.seq, &again.message_id, &again.timestamp),
        (first.seq, &first.message_id, &first.timestamp)
    );
    // Another member's key, the same text unkeyed, and a new key are other messages.
    e.send("keyed", &b, "once", Some(&key(1))).await.unwrap();
    e.send("keyed", &a, "once", None).await.unwrap();
    e.send("keyed", &a, "twice", Some(&key(2))).await.unwrap();
    let reused = e.send("keyed", &a, "other text", Some(&key(1))).await;
    assert!(
        matches!(
            reused,
            Err(ChatError::InvalidArgument {
                field: "idempotency_key",
                ..
            })
        ),
        "{reused:?}"
    );
    // A retry whose first call was stored is answered even after the room ended.
    e.leave("keyed", &b).await.unwrap();
    let late = e.send("keyed", &a, "twice", Some(&key(2))).await.unwrap();
    assert_eq!(late.room_status, RoomStatus::Ended);
    let log = store.messages_after("keyed", 0, 100).await.unwrap();
    let chats: Vec<&str> = log
        .iter()
        .filter(|m| m.kind == MessageKind::Chat)
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(chats, ["once", "once", "once", "twice"]);
    assert!(matches!(
        e.send("keyed", &a, "x", Some("short")).await,
        Err(ChatError::InvalidArgument {
            field: "idempotency_key",
            ..
        })
    ));

    // join_room without a client_id: one identity, one member, whatever the number of retries.
    let joined = e
        .join_room("fresh", "Kim", Some(3), None, Some(&key(3)))
        .await
        .unwrap();
    let rejoined = e
        .join_room("fresh", "Kim", Some(3), None, Some(&key(3)))
        .await
        .unwrap();
    assert_eq!(rejoined.client_id, joined.client_id);
    assert_eq!(rejoined.status, joined.status, "it created the room");
    let room = store.room("fresh").await.unwrap().unwrap();
    assert_eq!(room.members.len(), 1);
    assert_eq!(room.latest_seq, 1, "one join event");
    let other = e
        .join_room("fresh", "Lee", Some(3), None, Some(&key(3)))
        .await;
    assert!(
        matches!(
            other,
            Err(ChatError::InvalidArgument {
                field: "idempotency_key",
                ..
            })
        ),
        "another call's key: {other:?}"
    );

    // The first call stopped after claiming its key, before storing the identity: the retry
    // makes that identity and joins.
    let clients = store.idle_clients(u64::MAX).await.unwrap().len();
    let lost = e
        .join_room("after-crash", "Max", None, None, Some(&key(4)))
        .await
        .unwrap();
    store.remove_client(&lost.client_id).await.unwrap();
    let redone = e
        .join_room("after-crash", "Max", None, None, Some(&key(4)))
        .await
        .unwrap();
    assert_eq!(redone.client_id, lost.client_id);
    assert_eq!(
        store.idle_clients(u64::MAX).await.unwrap().len(),
        clients + 1
    );

    // enter_queue without a client_id: one identity, one place.
    let queued = e
        .enter_queue(Some("Ode"), None, None, Some(&key(5)), &never())
        .await
        .unwrap();
    let requeued = e
        .enter_queue(Some("Ode"), None, None, Some(&key(5)), &never())
        .await
        .unwrap();
    assert_eq!(requeued.client_id, queued.client_id);
    assert_eq!(requeued.status, QueueStatus::Waiting);
    assert_eq!(store.queue().await.unwrap().0.entries.len(), 1);
}

pub async fn rate_buckets_hold_their_limit(store: Arc<dyn Store>) {
    use super::rate::{Rate, Taken};
    let rate = Rate::per_minute(1, 3);
    for _ in 0..3 {
        assert_eq!(
            store.take_token("create:a", rate).await.unwrap(),
            Taken::Yes
        );
    }
    let Taken::RetryAfter(wait) = store.take_token("create:a", rate).await.unwrap() else {
        panic!("the fourth token is refused");
    };
    assert!(
        wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
        "{wait:?}"
    );
    assert_eq!(
        store.take_token("create:b", rate).await.unwrap(),
        Taken::Yes,
        "own bucket"
    );
    store.give_back_token("create:a", rate).await.unwrap();
    assert_eq!(
        store.take_token("create:a", rate).await.unwrap(),
        Taken::Yes
    );
    assert!(matches!(
        store.take_token("create:a", rate).await.unwrap(),
        Taken::RetryAfter(_)
    ));
}

#[cfg(test)]
crate::conformance_tests!(memory, crate::engine::store::memory::MemoryStore::new());

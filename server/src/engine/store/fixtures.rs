//! State written by an earlier release, kept as files, so an upgrade is tested against what
//! users really have on disk and in Redis, not against what today's code would write.
//!
//! `populate` is the scenario; the `#[ignore]`d writers in `sqlite/tests.rs` and
//! `redis/tests.rs` made the committed fixtures with the code of their time (schema 3, the room
//! JSON before private rooms). `check` reads them back through today's engine.

use std::collections::HashMap;
use std::sync::Arc;

use mcp_chat_shared::chat::{HistoryVisibility, MessageKind, RoomStatus};
use tokio_util::sync::CancellationToken;

use crate::engine::Engine;
use crate::engine::conformance::waiting;
use crate::engine::model::QueueState;
use crate::engine::store::Store;

/// Where the fixtures live, from the crate's root.
pub const DIR: &str = "tests/fixtures";

/// Every kind of state there is: a named room of three with a keyed send and a moved cursor, a
/// room the queue paired, an ended room, and someone still waiting in the queue.
pub async fn populate(engine: &Engine) {
    let never = CancellationToken::new();
    let ada = engine
        .join_room("lobby", "Ada", Some(4), None, None)
        .await
        .unwrap();
    let bo = engine
        .join_room("lobby", "Bo", None, None, None)
        .await
        .unwrap()
        .client_id;
    let cy = engine
        .join_room("lobby", "Cy", None, None, None)
        .await
        .unwrap()
        .client_id;
    engine
        .send("lobby", &ada.client_id, "hello from before", None)
        .await
        .unwrap();
    engine
        .send("lobby", &bo, "keyed hello", Some("fixture-key-0000001"))
        .await
        .unwrap();
    engine
        .wait(&waiting(Some("lobby"), &cy, 0.0), &never)
        .await
        .unwrap();

    let dee = engine
        .enter_queue(Some("Dee"), None, None, None, &never)
        .await
        .unwrap();
    let eve = engine
        .enter_queue(Some("Eve"), None, None, None, &never)
        .await
        .unwrap();
    let paired = eve.room_id.or(dee.room_id).expect("Dee and Eve are paired");
    engine
        .send(&paired, &eve.client_id, "paired hi", None)
        .await
        .unwrap();

    let fay = engine
        .join_room("done", "Fay", None, None, None)
        .await
        .unwrap()
        .client_id;
    engine
        .join_room("done", "Gus", None, None, None)
        .await
        .unwrap();
    engine.send("done", &fay, "bye", None).await.unwrap();
    engine.leave("done", &fay).await.unwrap();

    engine
        .enter_queue(Some("Hal"), None, None, None, &never)
        .await
        .unwrap();
}

/// What [`populate`] wrote, read through `engine`: every client, room, member, message and
/// cursor, and the rooms go on working.
pub async fn check(store: Arc<dyn Store>) {
    let never = CancellationToken::new();
    let clients = store.idle_clients(u64::MAX).await.unwrap();
    let (queue, _) = store.queue().await.unwrap();
    let engine = crate::engine::conformance::engine(store.clone());
    let by_name: HashMap<String, String> = clients
        .into_iter()
        .map(|c| (c.display_name, c.client_id))
        .collect();
    for name in ["Ada", "Bo", "Cy", "Dee", "Eve", "Gus", "Hal"] {
        assert!(by_name.contains_key(name), "{name} is lost: {by_name:?}");
    }
    let id = |name: &str| by_name[name].clone();

    let store_room = store
        .room("lobby")
        .await
        .unwrap()
        .expect("the lobby is kept");
    let lobby = engine.room("lobby", &id("Ada")).await.unwrap();
    let names: Vec<_> = lobby.members.iter().map(|m| &m.display_name).collect();
    assert_eq!(names, ["Ada", "Bo", "Cy"]);
    assert_eq!((lobby.capacity, lobby.latest_seq), (4, 5));
    // Every room written before private rooms is public, as it was: joined by name, no owner,
    // and a newcomer reads it all (below).
    assert!(!lobby.access.private && lobby.access.owner.is_none());
    assert_eq!(lobby.access.history, HistoryVisibility::Full);
    let history = engine
        .history("lobby", &id("Bo"), None, None)
        .await
        .unwrap();
    let texts: Vec<_> = history.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Ada joined the room.",
            "Bo joined the room.",
            "Cy joined the room.",
            "hello from before",
            "keyed hello"
        ]
    );
    // Bo's keyed send is kept with his membership (a retry is answered for 10 minutes after
    // the send, long past for a fixture; what must survive is the record).
    let stored = store_room.member(&id("Bo")).expect("Bo is in the lobby");
    assert!(!stored.sent.is_empty(), "Bo's send keys are lost");
    // Cy's cursor moved past everything; Ada's did not.
    let cy = engine
        .wait(&waiting(Some("lobby"), &id("Cy"), 0.0), &never)
        .await
        .unwrap();
    assert!(cy.messages.is_empty(), "{:?}", cy.messages);
    let ada = engine
        .wait(&waiting(Some("lobby"), &id("Ada"), 0.0), &never)
        .await
        .unwrap();
    assert_eq!(ada.messages.len(), 4, "all but her own");
    // The room goes on, numbered from where it was, and a newcomer reads all of it.
    assert_eq!(
        engine
            .send("lobby", &id("Cy"), "after", None)
            .await
            .unwrap()
            .seq,
        6
    );
    let ivy = engine
        .join_room("lobby", "Ivy", None, None, None)
        .await
        .unwrap();
    let ivy_reads = engine
        .wait(&waiting(Some("lobby"), &ivy.client_id, 0.0), &never)
        .await
        .unwrap();
    assert_eq!(ivy_reads.messages[3].text, "hello from before");

    // The paired room: found from Eve's membership, Dee's message waiting for Dee.
    let dee = engine
        .wait(&waiting(None, &id("Dee"), 0.0), &never)
        .await
        .unwrap();
    let paired = dee.room_id.clone().unwrap();
    assert!(dee.messages.iter().any(|m| m.text == "paired hi"));
    assert_eq!(dee.room_status, Some(RoomStatus::Active));
    engine
        .send(&paired, &id("Dee"), "still here", None)
        .await
        .unwrap();

    // The ended room keeps its log for the one who stayed.
    let done = engine
        .history("done", &id("Gus"), None, None)
        .await
        .unwrap();
    assert_eq!(
        done.messages.last().map(|m| m.kind),
        Some(MessageKind::RoomEnded)
    );
    assert!(engine.send("done", &id("Gus"), "x", None).await.is_err());

    // The queue as it was: Dee's match not yet heard of, Hal's place (expired by now, so the
    // sweep will take it).
    let places: Vec<_> = queue
        .entries
        .iter()
        .map(|e| (e.display_name.as_str(), e.state == QueueState::Waiting))
        .collect();
    assert_eq!(places, [("Dee", false), ("Hal", true)]);
}

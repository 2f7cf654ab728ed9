//! Private rooms on every store, tried the way an intruder would: joining by name, guessing and
//! replaying codes, reading from before one's arrival by every path, acting after removal.

use std::sync::Arc;
use std::time::Duration;

use mcp_chat_shared::chat::{
    HistoryVisibility, JoinRoomParams, JoinRoomResult, MessageKind, RoomStatus,
};
use tokio_util::sync::CancellationToken;

use super::{engine, engine_with, waiting};
use crate::engine::{ChatError, Engine, Limits, Store, ids};

fn never() -> CancellationToken {
    CancellationToken::new()
}

/// `join_room` as a client calls it, with every new argument at its default.
pub fn join_params(room: Option<&str>, name: &str) -> JoinRoomParams {
    JoinRoomParams {
        room_id: room.map(str::to_owned),
        display_name: name.to_owned(),
        capacity: Some(6),
        client_id: None,
        idempotency_key: None,
        invite: None,
        private: None,
        history: None,
        members_can_invite: None,
    }
}

pub async fn create_private(e: &Engine, room: &str, owner: &str) -> JoinRoomResult {
    e.join(&JoinRoomParams {
        private: Some(true),
        ..join_params(Some(room), owner)
    })
    .await
    .unwrap()
}

pub async fn join_with(e: &Engine, code: &str, name: &str) -> Result<JoinRoomResult, ChatError> {
    e.join(&JoinRoomParams {
        invite: Some(code.to_owned()),
        ..join_params(None, name)
    })
    .await
}

async fn invite(e: &Engine, room: &str, client: &str, uses: u32) -> String {
    e.create_invite(room, client, Some(uses), None)
        .await
        .unwrap()
        .invite
}

fn texts(messages: &[mcp_chat_shared::chat::ChatMessage]) -> Vec<String> {
    messages.iter().map(|m| m.text.clone()).collect()
}

/// A private room is entered only with a valid invitation; every way a code can be bad is one
/// indistinguishable error; a newcomer reads nothing from before their arrival, by any path.
pub async fn private_rooms_admit_only_invitations(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let ada = create_private(&e, "vault", "Ada").await;
    assert!(ada.access.private && ada.access.you_own);
    assert_eq!(ada.access.history, HistoryVisibility::SinceJoin);
    e.send("vault", &ada.client_id, "secret before", None)
        .await
        .unwrap();

    // By name: refused, for a new identity and for an existing one alike; asking for a private
    // room under a public room's name is refused too.
    let by_name = e.join_room("vault", "Mal", None, None, None).await;
    assert!(
        matches!(by_name, Err(ChatError::InviteRequired(_))),
        "{by_name:?}"
    );
    let mal = e
        .join_room("lobby", "Mal", Some(3), None, None)
        .await
        .unwrap();
    let again = e
        .join_room("vault", "Mal", None, Some(&mal.client_id), None)
        .await;
    assert!(
        matches!(again, Err(ChatError::InviteRequired(_))),
        "{again:?}"
    );
    let squat = e
        .join(&JoinRoomParams {
            private: Some(true),
            ..join_params(Some("lobby"), "Sly")
        })
        .await;
    assert!(matches!(squat, Err(ChatError::RoomExists(_))), "{squat:?}");

    let code = invite(&e, "vault", &ada.client_id, 1).await;
    let cy = join_with(&e, &code, "Cy").await.unwrap();
    assert_eq!(cy.room_id, "vault");
    assert!(cy.access.private && !cy.access.you_own && !cy.access.you_can_invite);
    assert_eq!(
        cy.access.owner.as_ref().map(|o| o.display_name.as_str()),
        Some("Ada")
    );

    // Nothing from before Cy came: not by the cursor, not with after_seq 0, not in history
    // (newest or paged back before Cy's arrival), not through the View's load.
    let joined_at = cy.latest_seq;
    let got = e
        .wait(&waiting(Some("vault"), &cy.client_id, 0.0), &never())
        .await
        .unwrap();
    assert_eq!(texts(&got.messages), ["Cy joined the room."]);
    let mut from_zero = waiting(Some("vault"), &cy.client_id, 0.0);
    from_zero.after_seq = Some(0);
    let got = e.wait(&from_zero, &never()).await.unwrap();
    assert_eq!(texts(&got.messages), ["Cy joined the room."]);
    let history = e.history("vault", &cy.client_id, None, None).await.unwrap();
    assert_eq!(texts(&history.messages), ["Cy joined the room."]);
    assert!(!history.has_more);
    let older = e
        .history("vault", &cy.client_id, Some(joined_at), Some(50))
        .await
        .unwrap();
    assert!(older.messages.is_empty() && !older.has_more, "{older:?}");
    // The owner, there from the start, reads it all.
    let all = e
        .history("vault", &ada.client_id, None, None)
        .await
        .unwrap();
    assert!(texts(&all.messages).contains(&"secret before".to_owned()));

    // Replayed after its last use, wrong, malformed, withdrawn, expired: one error, the same
    // words, and nobody joins.
    let mut refusals = Vec::new();
    refusals.push(join_with(&e, &code, "Replay").await);
    let wrong = format!("{}0", &code[..code.len() - 1]);
    let wrong = if wrong == code {
        format!("{}1", &code[..code.len() - 1])
    } else {
        wrong
    };
    refusals.push(join_with(&e, &wrong, "Guess").await);
    refusals.push(join_with(&e, "inv~vault~00112233445566778899aabbccddeeff", "Guess").await);
    refusals.push(join_with(&e, "not a code", "Guess").await);
    refusals.push(join_with(&e, "inv~nowhere~00112233445566778899aabbccddeeff", "Guess").await);
    let withdrawn = invite(&e, "vault", &ada.client_id, 5).await;
    let revoked = e
        .revoke_invite("vault", &ada.client_id, &withdrawn)
        .await
        .unwrap();
    assert!(revoked.success);
    refusals.push(join_with(&e, &withdrawn, "Late").await);
    let expiring = invite(&e, "vault", &ada.client_id, 5).await;
    store
        .transact_room("vault", None, usize::MAX, ids::now_ms(), &|room| {
            for i in &mut room.access.invites {
                i.expires_ms = 1;
            }
            Ok(crate::engine::store::RoomChange::drafts(Vec::new()))
        })
        .await
        .unwrap();
    refusals.push(join_with(&e, &expiring, "Late").await);
    let words: Vec<String> = refusals
        .iter()
        .map(|r| match r {
            Err(e @ ChatError::InvalidInvite) => e.to_string(),
            other => panic!("expected invalid_invite, got {other:?}"),
        })
        .collect();
    assert!(words.windows(2).all(|w| w[0] == w[1]));
    let room = store.room("vault").await.unwrap().unwrap();
    assert_eq!(room.members.len(), 2, "only Ada and Cy are in");
    assert_eq!(
        store.idle_clients(u64::MAX).await.unwrap().len(),
        3,
        "no identity kept for a refused join (Ada, Mal, Cy)"
    );
    // The code is not kept anywhere in the room, only its digest.
    let json = serde_json::to_string(&room).unwrap();
    assert!(!json.contains(&code[code.len() - 32..]));

    // Nobody but the owner moderates.
    let cy_id = &cy.client_id;
    for refused in [
        e.create_invite("vault", cy_id, None, None).await.map(drop),
        e.remove_member("vault", cy_id, &ada.user_id)
            .await
            .map(drop),
        e.close_room("vault", cy_id).await.map(drop),
        e.revoke_invite("vault", cy_id, &code).await.map(drop),
    ] {
        assert!(
            matches!(refused, Err(ChatError::NotAllowed { .. })),
            "{refused:?}"
        );
    }
    for refused in [
        e.create_invite("vault", &mal.client_id, None, None)
            .await
            .map(drop),
        e.close_room("vault", &mal.client_id).await.map(drop),
    ] {
        assert!(
            matches!(refused, Err(ChatError::NotAMember(_))),
            "{refused:?}"
        );
    }
    // A public room has no owner and takes no invitations.
    assert!(matches!(
        e.create_invite("lobby", &mal.client_id, None, None).await,
        Err(ChatError::NotAllowed { .. })
    ));
    assert!(!mal.access.private && mal.access.owner.is_none());
}

/// A removed member's parked wait ends at once; every later call of theirs on the room is
/// refused as `removed`; they come back neither with their invitation nor under a new name.
pub async fn a_removed_member_is_out_for_good(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let ada = create_private(&e, "club", "Ada").await;
    let code = invite(&e, "club", &ada.client_id, 5).await;
    let bo = join_with(&e, &code, "Bo").await.unwrap();
    let cy = join_with(&e, &code, "Cy").await.unwrap();
    e.wait(&waiting(Some("club"), &bo.client_id, 0.0), &never())
        .await
        .unwrap();

    let parked = {
        let (e, bo) = (e.clone(), bo.client_id.clone());
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let r = e.wait(&waiting(Some("club"), &bo, 20.0), &never()).await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let removed = e
        .remove_member("club", &ada.client_id, &bo.user_id)
        .await
        .unwrap();
    assert_eq!(removed.removed.unwrap().display_name, "Bo");
    let (r, took) = parked.await.unwrap();
    assert!(matches!(r, Err(ChatError::Removed(_))), "{r:?}");
    assert!(
        took < Duration::from_secs(5),
        "the wait ended after {took:?}"
    );

    let bo_id = &bo.client_id;
    let mut from_zero = waiting(Some("club"), bo_id, 0.0);
    from_zero.after_seq = Some(0);
    for refused in [
        e.send("club", bo_id, "still here?", None).await.map(drop),
        e.wait(&waiting(Some("club"), bo_id, 0.0), &never())
            .await
            .map(drop),
        e.wait(&from_zero, &never()).await.map(drop),
        e.history("club", bo_id, None, None).await.map(drop),
        e.room("club", bo_id).await.map(drop),
        e.leave("club", bo_id).await.map(drop),
        e.join_room("club", "Bo", None, Some(bo_id), None)
            .await
            .map(drop),
        e.join(&JoinRoomParams {
            invite: Some(code.clone()),
            client_id: Some(bo_id.clone()),
            ..join_params(None, "Bo")
        })
        .await
        .map(drop),
    ] {
        assert!(matches!(refused, Err(ChatError::Removed(_))), "{refused:?}");
    }
    // Under a new identity, the invitation Bo used admits nobody any more.
    assert!(matches!(
        join_with(&e, &code, "Bo again").await,
        Err(ChatError::InvalidInvite)
    ));
    // The others are told, and the room goes on.
    let seen = e
        .wait(&waiting(Some("club"), &cy.client_id, 0.0), &never())
        .await
        .unwrap();
    assert!(
        seen.messages
            .iter()
            .any(|m| m.text == "Bo was removed from the room by Ada."),
        "{:?}",
        seen.messages
    );
    e.send("club", &cy.client_id, "on we go", None)
        .await
        .unwrap();
    assert!(store.client_rooms(bo_id).await.unwrap().is_empty());
    // Removing again changes nothing; removing oneself or a stranger is refused.
    let again = e
        .remove_member("club", &ada.client_id, &bo.user_id)
        .await
        .unwrap();
    assert!(again.removed.is_none());
    assert!(matches!(
        e.remove_member("club", &ada.client_id, &ada.user_id).await,
        Err(ChatError::InvalidArgument {
            field: "user_id",
            ..
        })
    ));
    assert!(matches!(
        e.remove_member("club", &ada.client_id, "u_nobody").await,
        Err(ChatError::InvalidArgument {
            field: "user_id",
            ..
        })
    ));
}

/// A keyed join with an invitation, retried, is one join and one use of the invitation.
pub async fn a_retried_invited_join_uses_the_invitation_once(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let ada = create_private(&e, "retry-den", "Ada").await;
    let code = invite(&e, "retry-den", &ada.client_id, 2).await;
    let keyed = JoinRoomParams {
        invite: Some(code.clone()),
        idempotency_key: Some("6f1d7c1e-invited-join-0001".into()),
        ..join_params(None, "Bo")
    };
    let first = e.join(&keyed).await.unwrap();
    let again = e.join(&keyed).await.unwrap();
    assert_eq!(again.client_id, first.client_id);
    let room = store.room("retry-den").await.unwrap().unwrap();
    assert_eq!(room.members.len(), 2);
    assert_eq!(room.access.invites[0].uses_left, 1, "one use, not two");
}

/// When the owner leaves, the member present longest owns the room and everyone is told; the
/// owner's close ends the room for all, its history still readable.
pub async fn ownership_passes_on_and_the_owner_closes(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let ada = create_private(&e, "guild", "Ada").await;
    let code = invite(&e, "guild", &ada.client_id, 3).await;
    let bo = join_with(&e, &code, "Bo").await.unwrap();
    let cy = join_with(&e, &code, "Cy").await.unwrap();
    e.leave("guild", &ada.client_id).await.unwrap();
    let room = e.room("guild", &bo.client_id).await.unwrap();
    assert!(room.access.you_own, "Bo came first after Ada");
    let seen = e.history("guild", &cy.client_id, None, None).await.unwrap();
    let line = seen.messages.last().unwrap();
    assert_eq!(line.kind, MessageKind::OwnerChanged);
    assert_eq!(line.text, "Bo now owns the room.");
    // The new owner has the rights; the old invitation still works for Bo's room.
    let dee = join_with(&e, &code, "Dee").await.unwrap();
    let closed = e.close_room("guild", &bo.client_id).await.unwrap();
    assert_eq!(closed.room_status, RoomStatus::Ended);
    assert!(matches!(
        e.send("guild", &cy.client_id, "x", None).await,
        Err(ChatError::RoomEnded(_))
    ));
    let history = e
        .history("guild", &dee.client_id, None, None)
        .await
        .unwrap();
    assert_eq!(
        history.messages.last().map(|m| m.text.as_str()),
        Some("The chat has ended: Bo closed the room.")
    );
    let parked = e
        .wait(&waiting(Some("guild"), &cy.client_id, 5.0), &never())
        .await
        .unwrap();
    assert_eq!(parked.room_status, Some(RoomStatus::Ended));
    // Closing twice is no error; nothing more is appended.
    let latest = history.latest_seq;
    e.close_room("guild", &bo.client_id).await.unwrap();
    assert_eq!(
        e.room("guild", &bo.client_id).await.unwrap().latest_seq,
        latest
    );
    assert!(matches!(
        join_with(&e, &code, "Late").await,
        Err(ChatError::InvalidInvite)
    ));
}

/// History is the room's choice: a private room may show newcomers everything, a public one
/// only from their arrival; rooms the queue makes are private to their two members.
pub async fn history_is_the_rooms_choice(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let ada = e
        .join(&JoinRoomParams {
            private: Some(true),
            history: Some(HistoryVisibility::Full),
            members_can_invite: Some(true),
            ..join_params(Some("open-book"), "Ada")
        })
        .await
        .unwrap();
    e.send("open-book", &ada.client_id, "said early", None)
        .await
        .unwrap();
    let code = invite(&e, "open-book", &ada.client_id, 2).await;
    let bo = join_with(&e, &code, "Bo").await.unwrap();
    assert!(bo.access.you_can_invite, "the owner let members invite");
    let read = e
        .history("open-book", &bo.client_id, None, None)
        .await
        .unwrap();
    assert!(texts(&read.messages).contains(&"said early".to_owned()));
    // Bo may invite, but not moderate.
    let bos = invite(&e, "open-book", &bo.client_id, 1).await;
    assert!(matches!(
        e.revoke_invite("open-book", &ada.client_id, &bos).await,
        Ok(r) if r.success
    ));

    let first = e
        .join(&JoinRoomParams {
            history: Some(HistoryVisibility::SinceJoin),
            ..join_params(Some("fresh"), "Ann")
        })
        .await
        .unwrap();
    e.send("fresh", &first.client_id, "before you", None)
        .await
        .unwrap();
    let late = e.join(&join_params(Some("fresh"), "Ben")).await.unwrap();
    let read = e
        .history("fresh", &late.client_id, None, None)
        .await
        .unwrap();
    assert_eq!(texts(&read.messages), ["Ben joined the room."]);

    let never = never();
    let p = e
        .enter_queue(Some("P"), None, None, None, &never)
        .await
        .unwrap();
    let q = e
        .enter_queue(Some("Q"), None, None, None, &never)
        .await
        .unwrap();
    let paired = q.room_id.or(p.room_id).unwrap();
    assert!(matches!(
        e.join_room(&paired, "Intruder", None, None, None).await,
        Err(ChatError::InviteRequired(_))
    ));
    assert!(e.room(&paired, &q.client_id).await.unwrap().access.private);
}

/// Presenting codes costs like creating: a guesser from one address is slowed to the creation
/// rate, right or wrong.
pub async fn guessing_codes_is_rate_limited(store: Arc<dyn Store>) {
    let limits = Limits {
        creation_burst: 3,
        ..Limits::default()
    };
    let e = engine_with(store, limits);
    let mut outcomes = Vec::new();
    for n in 0..5 {
        let code = format!("inv~vault~{n:032x}");
        outcomes.push(join_with(&e, &code, "Guess").await);
    }
    assert!(
        outcomes[..3]
            .iter()
            .all(|r| matches!(r, Err(ChatError::InvalidInvite))),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[4], Err(ChatError::RateLimited { .. })),
        "{outcomes:?}"
    );
}

/// A browser link opens its member's place once, on any instance: concurrent redemptions of one
/// code let exactly one through; a wrong, spent or malformed code opens nothing.
pub async fn a_link_opens_its_members_place_once(store: Arc<dyn Store>) {
    let e = engine(store.clone());
    let twin = engine(store);
    let ann = e.join(&join_params(Some("linked"), "Ann")).await.unwrap();
    let code = e.make_link("linked", &ann.client_id).await.unwrap();
    assert!(crate::engine::links::well_formed(&code));
    assert!(
        !code.contains(&ann.client_id),
        "a link never carries the credential"
    );
    assert!(matches!(
        e.make_link("linked", "c_00000000000000000000000000000000")
            .await,
        Err(ChatError::UnknownClient)
    ));

    let (first, second) = tokio::join!(e.redeem_link(&code), twin.redeem_link(&code));
    let opened: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(opened.len(), 1, "one redemption wins");
    assert_eq!(opened[0].room_id, "linked");
    assert_eq!(opened[0].client_id, ann.client_id);
    assert_eq!(e.redeem_link(&code).await.unwrap(), None, "spent");

    let wrong = format!("lnk_{}", "0".repeat(32));
    assert_eq!(e.redeem_link(&wrong).await.unwrap(), None);
    assert_eq!(
        e.redeem_link(&wrong).await.unwrap(),
        None,
        "a wrong code stays wrong"
    );
    assert_eq!(e.redeem_link("lnk_short").await.unwrap(), None);
    assert_eq!(e.redeem_link(&ann.client_id).await.unwrap(), None);
}

//! The engine's own unit tests (the behaviour every store shares is in `conformance.rs`).

use super::*;

mod hostile {
    //! The engine under a hostile or unlucky caller: storage failures, quotas, odd numbers.

    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use super::*;
    use crate::engine::conformance::TestStore;
    use crate::engine::conformance::{chats as texts, engine_with, pair, waiting};
    use crate::engine::delivery::LONG_WAIT;
    use crate::engine::store::memory::MemoryStore;
    use mcp_chat_shared::chat::WaitForMessageParams;

    fn never() -> CancellationToken {
        CancellationToken::new()
    }

    #[tokio::test]
    async fn a_failed_log_read_claims_nothing() {
        let store = Arc::new(TestStore::default());
        let e = engine_with(store.clone(), Limits::default());
        let (a, b) = pair(&e, "r").await;
        e.send("r", &a, "one", None).await.unwrap();
        e.send("r", &a, "two", None).await.unwrap();
        store.fail_log_reads.store(true, Ordering::SeqCst);
        let failed = e.wait(&waiting(Some("r"), &b, 0.0), &never()).await;
        assert_eq!(failed.unwrap_err().code(), "storage_error");
        store.fail_log_reads.store(false, Ordering::SeqCst);
        let got = e
            .wait(&waiting(Some("r"), &b, 0.0), &never())
            .await
            .unwrap();
        assert_eq!(
            texts(&got),
            ["one", "two"],
            "the failed wait skipped nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_activity_record_does_not_lose_the_batch() {
        let store = Arc::new(TestStore::default());
        let e = engine_with(store.clone(), Limits::default());
        let (a, b) = pair(&e, "r").await;
        let waiting = {
            let e = e.clone();
            let b = b.clone();
            tokio::spawn(async move { e.wait(&waiting(Some("r"), &b, 30.0), &never()).await })
        };
        // Long enough for the wait to record activity again when it ends.
        tokio::time::sleep(LONG_WAIT + Duration::from_secs(1)).await;
        e.send("r", &a, "late", None).await.unwrap();
        store.fail_touches.store(true, Ordering::SeqCst);
        let got = waiting
            .await
            .unwrap()
            .expect("delivered despite the failure");
        assert_eq!(texts(&got), ["late"]);
    }

    #[tokio::test]
    async fn polling_with_nothing_pending_writes_nothing() {
        let store = Arc::new(TestStore::default());
        let e = engine_with(store.clone(), Limits::default());
        let (_, b) = pair(&e, "r").await;
        let before = store.room_writes.load(Ordering::SeqCst);
        for _ in 0..20 {
            let r = e
                .wait(&waiting(Some("r"), &b, 0.0), &never())
                .await
                .unwrap();
            assert!(r.messages.is_empty());
        }
        assert_eq!(store.room_writes.load(Ordering::SeqCst), before);
    }

    #[tokio::test]
    async fn after_seq_past_the_end_waits_for_the_next_entry() {
        let e = engine_with(Arc::new(MemoryStore::new()), Limits::default());
        let (a, b) = pair(&e, "r").await;
        for huge in [u64::MAX, 1 << 63, 1_000] {
            let r = e
                .wait(
                    &WaitForMessageParams {
                        after_seq: Some(huge),
                        ..waiting(Some("r"), &b, 0.0)
                    },
                    &never(),
                )
                .await
                .unwrap();
            assert!(r.messages.is_empty());
            assert_eq!(r.last_seq, 2, "clamped to the log's end");
        }
        let parked = {
            let e = e.clone();
            tokio::spawn(async move {
                e.wait(
                    &WaitForMessageParams {
                        after_seq: Some(u64::MAX),
                        ..waiting(Some("r"), &b, 10.0)
                    },
                    &never(),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        e.send("r", &a, "next", None).await.unwrap();
        let got = parked.await.unwrap().unwrap();
        assert_eq!(texts(&got), ["next"]);
        let h = e
            .history("r", &a, Some(u64::MAX), Some(u32::MAX))
            .await
            .unwrap();
        assert_eq!(h.messages.len(), 3);
    }

    #[tokio::test]
    async fn one_client_cannot_hold_more_rooms_than_its_quota() {
        let limits = Limits {
            max_rooms_per_client: 3,
            ..Limits::default()
        };
        let e = engine_with(Arc::new(MemoryStore::new()), limits);
        let first = e.join_room("q0", "Hog", None, None, None).await.unwrap();
        let me = Some(first.client_id.as_str());
        for i in 1..3 {
            e.join_room(&format!("q{i}"), "Hog", None, me, None)
                .await
                .unwrap();
        }
        let over = e.join_room("q3", "Hog", None, me, None).await.unwrap_err();
        assert_eq!(over.code(), "too_many_rooms");
        assert!(e.store.room("q3").await.unwrap().is_none(), "no room made");
        // Re-joining a room one is in is not a new room.
        e.join_room("q1", "Hog", None, me, None).await.unwrap();
        let queued = e.enter_queue(None, me, Some(0.0), None, &never()).await;
        assert_eq!(queued.unwrap_err().code(), "too_many_rooms");
        // Leaving one frees a place.
        e.leave("q0", &first.client_id).await.unwrap();
        e.join_room("q3", "Hog", None, me, None).await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_joins_still_respect_the_room_quota() {
        let limits = Limits {
            max_rooms_per_client: 2,
            ..Limits::default()
        };
        let e = engine_with(Arc::new(MemoryStore::new()), limits);
        let me = e
            .join_room("home", "Hog", None, None, None)
            .await
            .unwrap()
            .client_id;
        let joins: Vec<_> = (0..10)
            .map(|i| {
                let e = e.clone();
                let me = me.clone();
                tokio::spawn(async move {
                    e.join_room(&format!("c{i}"), "Hog", Some(5), Some(&me), None)
                        .await
                })
            })
            .collect();
        for j in joins {
            let _ = j.await.unwrap();
        }
        assert!(e.live_rooms(&me).await.unwrap() <= 2);
    }

    #[tokio::test(start_paused = true)]
    async fn one_client_cannot_park_more_waits_than_its_quota() {
        let limits = Limits {
            max_waits_per_client: 2,
            ..Limits::default()
        };
        let e = engine_with(Arc::new(MemoryStore::new()), limits);
        let (_, b) = pair(&e, "r").await;
        let parked: Vec<_> = (0..2)
            .map(|_| {
                let e = e.clone();
                let b = b.clone();
                tokio::spawn(async move { e.wait(&waiting(Some("r"), &b, 20.0), &never()).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let third = e
            .wait(&waiting(Some("r"), &b, 20.0), &never())
            .await
            .unwrap_err();
        assert_eq!(third.code(), "too_many_waits");
        assert!(third.retry_after().is_some());
        for p in parked {
            p.await.unwrap().unwrap();
        }
        // Places are given back when waits end.
        e.wait(&waiting(Some("r"), &b, 0.0), &never())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn every_tool_call_is_rate_limited_per_client() {
        let limits = Limits {
            calls_per_second: 1,
            call_burst: 5,
            ..Limits::default()
        };
        let e = engine_with(Arc::new(MemoryStore::new()), limits);
        let a = e
            .join_room("r", "A", None, None, None)
            .await
            .unwrap()
            .client_id;
        let mut outcomes = Vec::new();
        for _ in 0..8 {
            outcomes.push(e.room("r", &a).await.map(drop));
        }
        let limited = outcomes.iter().filter(|o| o.is_err()).count();
        assert_eq!(limited, 3, "{outcomes:?}");
        let err = outcomes.pop().unwrap().unwrap_err();
        assert_eq!(err.code(), "rate_limited");
        assert!(err.to_string().contains("calls"), "{err}");
        // Another client is unaffected.
        let b = e
            .join_room("r", "B", None, None, None)
            .await
            .unwrap()
            .client_id;
        e.room("r", &b).await.unwrap();
    }

    #[tokio::test]
    async fn creating_identities_and_rooms_is_rate_limited_per_address() {
        let limits = Limits {
            creations_per_minute: 1,
            creation_burst: 3,
            ..Limits::default()
        };
        let e = engine_with(Arc::new(MemoryStore::new()), limits);
        let from = |addr: &str, room: String| {
            let e = e.clone();
            source::scope(source::Caller::at(addr.parse().unwrap()), async move {
                e.join_room(&room, "X", Some(10), None, None)
                    .await
                    .map(|r| r.client_id)
            })
        };
        let mut made = Vec::new();
        for i in 0..3 {
            made.push(from("203.0.113.9", format!("r{i}")).await.unwrap());
        }
        let refused = from("203.0.113.9", "r3".into()).await.unwrap_err();
        assert_eq!(refused.code(), "rate_limited");
        assert!(refused.to_string().contains("per minute"), "{refused}");
        assert_eq!(
            e.store.idle_clients(u64::MAX).await.unwrap().len(),
            3,
            "the refused call created nothing"
        );
        // An existing identity creating a room is charged too; joining one is not.
        let mine = Some(made[0].as_str());
        let again = source::scope(
            source::Caller::at([203, 0, 113, 9].into()),
            e.join_room("new", "X", None, mine, None),
        );
        assert_eq!(again.await.unwrap_err().code(), "rate_limited");
        let join = source::scope(
            source::Caller::at([203, 0, 113, 9].into()),
            e.join_room("r1", "X", None, mine, None),
        );
        join.await.unwrap();
        // Other addresses are unaffected.
        from("198.51.100.1", "r9".into()).await.unwrap();
    }
}

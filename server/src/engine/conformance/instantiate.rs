//! The macro that runs the conformance suite against a store.

/// Instantiates every conformance test for a store: `conformance_tests!(memory, MemoryStore::new());`
///
/// `conformance_tests!(name, guarded EXPR)` takes an expression (it may `.await`) that yields
/// `(store, guard)`, where the guard must outlive the test, e.g. the server the store talks to;
/// it may also `?` out of a `None`, which skips the tests (a backend not installed here).
#[macro_export]
macro_rules! conformance_tests {
    ($module:ident, guarded $make:expr) => {
        mod $module {
            use std::sync::Arc;

            use $crate::engine::conformance as c;
            use $crate::engine::store::Store;

            /// `None` when the backend is not available here (Redis without `redis-server`):
            /// the test returns, skipped (see `RedisServer::try_start`).
            async fn store() -> Option<(Arc<dyn Store>, Box<dyn std::any::Any>)> {
                let (store, guard) = $make;
                Some((Arc::new(store), Box::new(guard)))
            }

            #[tokio::test]
            async fn a_link_opens_its_members_place_once() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::a_link_opens_its_members_place_once(s).await
            }
            #[tokio::test]
            async fn an_operator_deletes_a_room() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::an_operator_deletes_a_room(s).await
            }
            #[tokio::test]
            async fn log_is_numbered_without_gaps() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::log_is_numbered_without_gaps(s).await
            }
            #[tokio::test]
            async fn a_send_wakes_a_parked_wait() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::a_send_wakes_a_parked_wait(s).await
            }
            #[tokio::test]
            async fn waits_wake_only_for_their_own_room() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::waits_wake_only_for_their_own_room(s).await
            }
            #[tokio::test]
            async fn overlapping_waits_share_without_loss_or_duplicates() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::overlapping_waits_share_without_loss_or_duplicates(s).await
            }
            #[tokio::test]
            async fn a_cancelled_claim_is_given_back() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::a_cancelled_claim_is_given_back(s).await
            }
            #[tokio::test]
            async fn queue_pairs_in_arrival_order() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::queue_pairs_in_arrival_order(s).await
            }
            #[tokio::test]
            async fn members_with_one_name_are_told_apart() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::members_with_one_name_are_told_apart(s).await
            }
            #[tokio::test]
            async fn sweeping_expires_idle_state() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::sweeping_expires_idle_state(s).await
            }
            #[tokio::test]
            async fn a_room_revived_after_listing_is_kept() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::a_room_revived_after_listing_is_kept(s).await
            }
            #[tokio::test]
            async fn retried_calls_with_a_key_happen_once() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::retried_calls_with_a_key_happen_once(s).await
            }
            #[tokio::test]
            async fn rate_buckets_hold_their_limit() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::rate_buckets_hold_their_limit(s).await
            }
            #[tokio::test]
            async fn private_rooms_admit_only_invitations() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::private_rooms_admit_only_invitations(s).await
            }
            #[tokio::test]
            async fn a_removed_member_is_out_for_good() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::a_removed_member_is_out_for_good(s).await
            }
            #[tokio::test]
            async fn ownership_passes_on_and_the_owner_closes() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::ownership_passes_on_and_the_owner_closes(s).await
            }
            #[tokio::test]
            async fn history_is_the_rooms_choice() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::history_is_the_rooms_choice(s).await
            }
            #[tokio::test]
            async fn guessing_codes_is_rate_limited() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::guessing_codes_is_rate_limited(s).await
            }
            #[tokio::test]
            async fn a_retried_invited_join_uses_the_invitation_once() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::a_retried_invited_join_uses_the_invitation_once(s).await
            }
            /// The scenarios that run every kind of transaction, each on a fresh store that
            /// runs every body twice.
            #[tokio::test]
            async fn every_transaction_body_may_run_twice() {
                let mut reruns = 0;
                macro_rules! twice {
                    ($scenario:ident) => {{
                        let Some((s, _guard)) = store().await else {
                            return;
                        };
                        let twice = c::TestStore::twice(s);
                        c::$scenario(twice.clone()).await;
                        reruns += twice.reruns.load(std::sync::atomic::Ordering::Relaxed);
                    }};
                }
                twice!(log_is_numbered_without_gaps);
                twice!(overlapping_waits_share_without_loss_or_duplicates);
                twice!(a_cancelled_claim_is_given_back);
                twice!(queue_pairs_in_arrival_order);
                twice!(members_with_one_name_are_told_apart);
                twice!(sweeping_expires_idle_state);
                twice!(failed_operations_change_nothing);
                twice!(retried_calls_with_a_key_happen_once);
                twice!(private_rooms_admit_only_invitations);
                twice!(a_removed_member_is_out_for_good);
                twice!(ownership_passes_on_and_the_owner_closes);
                assert!(reruns > 100, "only {reruns} bodies ran twice");
            }
            #[tokio::test]
            async fn failed_operations_change_nothing() {
                let Some((s, _guard)) = store().await else {
                    return;
                };
                c::failed_operations_change_nothing(s).await
            }
        }
    };
    ($module:ident, $make:expr) => {
        $crate::conformance_tests!($module, guarded($make, ()));
    };
}

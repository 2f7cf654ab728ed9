//! Queue places: when one is dead, and when a pairing that never completed is released. Pure
//! functions, applied at every look at the queue.

use crate::engine::model::{Queue, QueueEntry, QueueState};

/// Done at every look at the queue: stalled pairings go back to waiting and dead places go.
/// Returns how many places went.
pub fn tidy_queue(queue: &mut Queue, now: u64, ttl: u64) -> usize {
    release_stalled_pairings(queue, now, ttl);
    let before = queue.entries.len();
    queue.entries.retain(|e| !expired(e, now, ttl));
    before - queue.entries.len()
}

/// A pairing takes two queue transactions around the room's creation. If the second never
/// happens (the instance died in between, or the store failed for longer than the retries), the
/// partner's place would stay `Pairing` forever and never be matched again: after a TTL it
/// goes back to `Waiting`.
fn release_stalled_pairings(queue: &mut Queue, now: u64, ttl: u64) {
    for entry in &mut queue.entries {
        if entry.state == QueueState::Pairing && entry.last_seen_ms.saturating_add(ttl) < now {
            entry.state = QueueState::Waiting;
            entry.last_seen_ms = now;
        }
    }
}

/// A queue place is dead when nobody polled it within the TTL. Matched places are kept for the
/// same time, so a client who polls late still learns its room.
fn expired(entry: &QueueEntry, now: u64, ttl: u64) -> bool {
    entry.state != QueueState::Pairing && entry.last_present_ms().saturating_add(ttl) < now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, state: QueueState, last_seen_ms: u64) -> QueueEntry {
        QueueEntry {
            client_id: id.into(),
            user_id: format!("u-{id}"),
            display_name: id.into(),
            enqueued_ms: 0,
            last_seen_ms,
            polling_until_ms: 0,
            state,
        }
    }

    #[test]
    fn a_pairing_that_never_completed_goes_back_to_waiting() {
        let mut queue = Queue {
            entries: vec![
                entry("stalled", QueueState::Pairing, 1_000),
                entry("recent", QueueState::Pairing, 9_500),
                entry("waiting", QueueState::Waiting, 1_000),
            ],
        };
        release_stalled_pairings(&mut queue, 10_000, 1_000);
        let states: Vec<_> = queue.entries.iter().map(|e| e.state.clone()).collect();
        assert_eq!(
            states,
            [
                QueueState::Waiting,
                QueueState::Pairing,
                QueueState::Waiting
            ]
        );
        // Released places get a fresh TTL, so the next expiry pass does not drop them at once.
        assert!(!expired(&queue.entries[0], 10_000, 1_000));
    }
}

//! Expiry: idle clients leave their rooms, idle rooms and unpolled queue places go.

use super::queue::tidy_queue;
use super::rules::LeaveReason;
use super::{ChatError, Engine, SweepReport};

impl Engine {
    /// Removes idle clients (they leave their rooms, which others see), idle empty or ended
    /// rooms, and queue places nobody polled.
    pub async fn sweep(&self, now: u64) -> Result<SweepReport, ChatError> {
        let queue_ttl = self.limits.queue_ttl.as_millis() as u64;
        let (queue_places, _) = self
            .store
            .change_queue(|queue| Ok(tidy_queue(queue, now, queue_ttl)))
            .await?;
        let mut report = SweepReport {
            queue_places,
            ..SweepReport::default()
        };

        let client_cutoff = now.saturating_sub(self.limits.client_idle_ttl.as_millis() as u64);
        for client in self.store.idle_clients(client_cutoff).await? {
            // The listing may be stale by now (a long sweep; other instances sweeping too): a
            // client that came back since keeps its rooms and its identity.
            let current = self.store.client(&client.client_id).await?;
            if current.is_some_and(|c| c.last_seen_ms >= client_cutoff) {
                continue;
            }
            for room_id in self.store.client_rooms(&client.client_id).await? {
                match self
                    .leave_room(&room_id, &client, LeaveReason::TimedOut)
                    .await
                {
                    Ok(_)
                    | Err(
                        ChatError::NotAMember(_)
                        | ChatError::Removed(_)
                        | ChatError::RoomNotFound(_),
                    ) => {}
                    Err(e) => return Err(e),
                }
            }
            self.forget_queue_entry(&client.client_id).await?;
            self.store.remove_client(&client.client_id).await?;
            report.clients += 1;
        }

        self.store.prune_tokens();

        let room_cutoff = now.saturating_sub(self.limits.room_idle_ttl.as_millis() as u64);
        for room_id in self.store.idle_rooms(room_cutoff).await? {
            if self.store.remove_room(&room_id, room_cutoff).await? {
                report.rooms += 1;
            }
        }
        Ok(report)
    }
}

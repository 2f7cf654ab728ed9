//! Wake-ups across instances.
//!
//! Every commit publishes on its room's (or the queue's) channel. Each instance keeps one
//! subscriber connection with a single pattern subscription (`<prefix>wake:*`) and turns each
//! message into `notify_waiters` on an in-process [`Notify`], so a waiter sleeps without polling
//! and wakes when any instance commits.
//!
//! Lost wake-ups are ruled out the same way as in the other stores: a waiter registers with its
//! `Notify` *before* it reads the state it compares against, and a publication is sent only after
//! its commit. While the subscriber is disconnected publications are lost, so after every
//! (re)subscription all waiters are woken to check again.
//!
//! The subscriber owns its reconnect loop (rather than leaving it to the client library) so that
//! it never gives up, notices a dead server while idle (PING), and says in the log when the
//! connection is lost and back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use super::keys::{Channel, Keys};

/// How often an idle subscriber checks that the server still answers.
const HEALTH_CHECK_EVERY: Duration = Duration::from_secs(5);
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(100);
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(2);

pub struct Wakers {
    rooms: Mutex<RoomWakers>,
    queue: Notify,
    /// Payload of this instance's publications: it has woken its own waiters at commit time
    /// already, and skips its own echoes.
    instance: String,
}

struct RoomWakers {
    /// Weak: a room's `Notify` lives as long as someone waits on it, so rooms removed elsewhere
    /// leave nothing behind here.
    by_room: HashMap<String, Weak<Notify>>,
    prune_at: usize,
}

impl Wakers {
    pub fn new(instance: String) -> Wakers {
        Wakers {
            rooms: Mutex::new(RoomWakers {
                by_room: HashMap::new(),
                prune_at: 64,
            }),
            queue: Notify::new(),
            instance,
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn lock(&self) -> MutexGuard<'_, RoomWakers> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `Notify` a waiter on `room_id` holds while it waits.
    pub fn room(&self, room_id: &str) -> Arc<Notify> {
        let mut rooms = self.lock();
        if let Some(notify) = rooms.by_room.get(room_id).and_then(Weak::upgrade) {
            return notify;
        }
        let notify = Arc::new(Notify::new());
        rooms
            .by_room
            .insert(room_id.to_owned(), Arc::downgrade(&notify));
        if rooms.by_room.len() > rooms.prune_at {
            rooms.by_room.retain(|_, w| w.strong_count() > 0);
            rooms.prune_at = (rooms.by_room.len() * 2).max(64);
        }
        notify
    }

    pub fn queue(&self) -> &Notify {
        &self.queue
    }

    pub fn wake_room(&self, room_id: &str) {
        let notify = self.lock().by_room.get(room_id).and_then(Weak::upgrade);
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    pub fn wake_queue(&self) {
        self.queue.notify_waiters();
    }

    fn wake_all(&self) {
        let all: Vec<Arc<Notify>> = self
            .lock()
            .by_room
            .values()
            .filter_map(Weak::upgrade)
            .collect();
        for n in all {
            n.notify_waiters();
        }
        self.queue.notify_waiters();
    }

    fn dispatch(&self, keys: &Keys, channel: &str, payload: &[u8]) {
        if payload == self.instance.as_bytes() {
            return;
        }
        match keys.parse_channel(channel) {
            Some(Channel::Room(room_id)) => self.wake_room(room_id),
            Some(Channel::Queue) => self.wake_queue(),
            None => return,
        }
        crate::metrics::metrics().redis_wakeups.inc();
    }
}

/// Runs the subscriber until `stop`. The returned receiver fires once the first subscription is
/// in place (or is dropped if the task ends first).
pub fn spawn_subscriber(
    client: redis::Client,
    keys: Keys,
    wakers: Arc<Wakers>,
    target: String,
    stop: CancellationToken,
) -> oneshot::Receiver<()> {
    let (ready_tx, ready_rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        let mut lost = false;
        let mut delay = RECONNECT_MIN_DELAY;
        loop {
            let session = tokio::select! {
                s = subscribe(&client, &keys) => s,
                _ = stop.cancelled() => return,
            };
            match session {
                Ok(pubsub) => {
                    if lost {
                        tracing::info!("reconnected to redis at {target}");
                        crate::metrics::metrics().redis_reconnected("wakeups");
                    }
                    delay = RECONNECT_MIN_DELAY;
                    // Whatever was published while nobody listened is lost: everyone checks.
                    wakers.wake_all();
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                    let why = listen(pubsub, &keys, &wakers, &stop).await;
                    if stop.is_cancelled() {
                        return;
                    }
                    tracing::warn!("lost connection to redis at {target} ({why}); reconnecting");
                    lost = true;
                }
                Err(e) => {
                    if !lost {
                        tracing::warn!("lost connection to redis at {target} ({e}); reconnecting");
                        lost = true;
                    }
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.cancelled() => return,
            }
            delay = (delay * 2).min(RECONNECT_MAX_DELAY);
        }
    });
    ready_rx
}

async fn subscribe(client: &redis::Client, keys: &Keys) -> Result<redis::aio::PubSub, String> {
    let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| "connect timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    pubsub
        .psubscribe(keys.wake_pattern())
        .await
        .map_err(|e| e.to_string())?;
    Ok(pubsub)
}

/// Fans messages out until the connection fails; returns why it stopped.
async fn listen(
    pubsub: redis::aio::PubSub,
    keys: &Keys,
    wakers: &Wakers,
    stop: &CancellationToken,
) -> String {
    let (mut sink, mut stream) = pubsub.split();
    let mut health = tokio::time::interval(HEALTH_CHECK_EVERY);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    health.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(m) => wakers.dispatch(keys, m.get_channel_name(), m.get_payload_bytes()),
                None => return "connection closed".into(),
            },
            _ = health.tick() => {
                match tokio::time::timeout(HEALTH_CHECK_TIMEOUT, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return e.to_string(),
                    Err(_) => return "no answer to PING".into(),
                }
            }
            _ = stop.cancelled() => return "stopped".into(),
        }
    }
}

//! Rate limits: token buckets (`burst` tokens, refilled at `per_second`), one per key.
//!
//! The buckets live with the store ([`super::Store::take_token`]): a limit kept per process
//! would multiply with every instance sharing a Redis store. Memory and SQLite stores serve one
//! process each and keep theirs in a [`LocalBuckets`]; Redis keeps them in Redis.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: u32,
}

impl Rate {
    pub fn per_second(per_second: u32, burst: u32) -> Rate {
        Rate {
            per_second: f64::from(per_second.max(1)),
            burst: burst.max(1),
        }
    }

    pub fn per_minute(per_minute: u32, burst: u32) -> Rate {
        Rate {
            per_second: f64::from(per_minute.max(1)) / 60.0,
            burst: burst.max(1),
        }
    }

    /// Time between two tokens.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

/// What taking a token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Yes,
    /// The bucket is empty; a token is back after this long.
    RetryAfter(Duration),
}

/// Buckets for one process.
#[derive(Default)]
pub struct LocalBuckets {
    /// Keyed by a keyed hash of the bucket's name (`call:<client_id>`, `create:<address>`), not
    /// the name: that would be one more copy of every client's id held for as long as its
    /// bucket is not full (10,000 parked clients, 10,000 copies). Two names would have to share
    /// a 64-bit hash to share a bucket: about one chance in 4·10⁹ among 100,000 clients.
    buckets: Mutex<HashMap<u64, Bucket>>,
    names: RandomState,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
    burst: f64,
    per_second: f64,
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let refill = now.duration_since(self.updated).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.updated = now;
    }
}

impl LocalBuckets {
    pub fn take(&self, key: &str, rate: Rate) -> Taken {
        let now = Instant::now();
        let key = self.names.hash_one(key);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: f64::from(rate.burst),
            updated: now,
            burst: f64::from(rate.burst),
            per_second: rate.per_second,
        });
        bucket.refill(now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Taken::Yes
        } else {
            let wait = (1.0 - bucket.tokens) / rate.per_second;
            Taken::RetryAfter(Duration::from_secs_f64(wait).max(Duration::from_millis(1)))
        }
    }

    /// Gives a token back (the operation it was taken for failed).
    pub fn give_back(&self, key: &str) {
        let key = self.names.hash_one(key);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(&key) {
            b.tokens = (b.tokens + 1.0).min(b.burst);
        }
    }

    /// Drops the buckets that are full again: they hold nothing a fresh bucket would not, and
    /// keys chosen by clients (addresses) must not grow the map for ever.
    pub fn prune(&self) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets.retain(|_, b| {
            b.refill(now);
            b.tokens < b.burst
        });
    }

    #[cfg(test)]
    pub fn bucket_count(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let r = LocalBuckets::default();
        let rate = Rate::per_second(10, 3);
        for _ in 0..3 {
            assert_eq!(r.take("a", rate), Taken::Yes);
        }
        let Taken::RetryAfter(wait) = r.take("a", rate) else {
            panic!("the bucket is empty")
        };
        assert!(wait <= Duration::from_millis(100));
        assert_eq!(r.take("b", rate), Taken::Yes);
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(r.take("a", rate), Taken::Yes);
        r.give_back("a");
        assert_eq!(r.take("a", rate), Taken::Yes);
    }

    #[tokio::test(start_paused = true)]
    async fn per_minute_rates_and_pruning() {
        let r = LocalBuckets::default();
        let rate = Rate::per_minute(60, 2);
        assert_eq!(r.take("10.0.0.1", rate), Taken::Yes);
        assert_eq!(r.take("10.0.0.1", rate), Taken::Yes);
        assert!(matches!(r.take("10.0.0.1", rate), Taken::RetryAfter(_)));
        r.prune();
        assert_eq!(r.bucket_count(), 1, "a bucket still refilling is kept");
        tokio::time::advance(Duration::from_secs(2)).await;
        r.prune();
        assert_eq!(r.bucket_count(), 0, "full buckets go");
    }
}

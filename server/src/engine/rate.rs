//! Per-client send rate: a token bucket (`burst` tokens, refilled at `per_second`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::error::ChatError;

pub struct RateLimiter {
    per_second: u32,
    burst: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: per_second.max(1),
            burst: burst.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn take(&self, key: &str) -> Result<(), ChatError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst as f64,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.per_second as f64;
        bucket.tokens = (bucket.tokens + refill).min(self.burst as f64);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.per_second as f64;
            Err(ChatError::RateLimited {
                per_second: self.per_second,
                retry_after: Duration::from_secs_f64(wait).max(Duration::from_millis(1)),
            })
        }
    }

    /// Gives a token back (the send it was taken for failed).
    pub fn refund(&self, key: &str) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(key) {
            b.tokens = (b.tokens + 1.0).min(self.burst as f64);
        }
    }

    pub fn forget(&self, key: &str) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_then_rate() {
        let r = RateLimiter::new(10, 3);
        for _ in 0..3 {
            r.take("a").unwrap();
        }
        let err = r.take("a").unwrap_err();
        assert_eq!(err.code(), "rate_limited");
        assert!(err.retry_after().unwrap() <= Duration::from_millis(100));
        r.take("b").unwrap();
        tokio::time::advance(Duration::from_millis(100)).await;
        r.take("a").unwrap();
        r.refund("a");
        r.take("a").unwrap();
    }
}

//! Talking to Redis through a connection that may fail: which failures are worth another try,
//! retries for commands that are harmless to repeat, and commits that are not.

use std::future::Future;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, RedisError, RedisResult, RetryMethod, ScriptInvocation};
use tokio::time::Instant;

use super::storage;
use crate::engine::error::ChatError;

/// How long a call keeps retrying through a lost connection or lost races before it fails.
const RETRY_BUDGET: Duration = Duration::from_secs(10);

/// Failures of the connection rather than of the command: worth another try.
fn transient(e: &RedisError) -> bool {
    e.is_timeout()
        || matches!(
            e.retry_method(),
            RetryMethod::Reconnect | RetryMethod::RetryImmediately | RetryMethod::WaitAndRetry
        )
}

/// The shared connection (redis-rs's `ConnectionManager`, which reconnects by itself).
#[derive(Clone)]
pub struct Conn(pub ConnectionManager);

/// What became of a commit script.
pub enum Commit<T> {
    /// Redis answered.
    Answered(T),
    /// The answer was lost, but the commit's marker shows it was applied.
    Applied,
    /// The answer was lost and the commit was not applied: run the transaction again.
    NotApplied,
}

/// Paces the retries of a transaction that lost a race or a connection.
pub struct Attempts {
    started: Instant,
    count: u32,
}

impl Attempts {
    pub fn new() -> Attempts {
        Attempts {
            started: Instant::now(),
            count: 0,
        }
    }

    pub async fn again(&mut self, what: &str) -> Result<(), ChatError> {
        self.count += 1;
        if self.started.elapsed() > RETRY_BUDGET {
            return Err(storage(format!(
                "{what} gave up after {} attempts",
                self.count
            )));
        }
        // The first retries go at once (a lost race is usually won next time); after that a
        // random pause keeps a crowd of contenders from colliding in step.
        if self.count > 2 {
            let mut jitter = [0u8; 1];
            let _ = getrandom::fill(&mut jitter);
            let cap = self.count.min(50) as u64;
            tokio::time::sleep(Duration::from_millis(1 + jitter[0] as u64 % cap)).await;
        }
        Ok(())
    }
}

impl Conn {
    /// Runs `op` on the shared connection, again while the connection is what fails. Only for
    /// operations that are harmless to repeat.
    pub async fn retrying<T, F, Fut>(&self, mut op: F) -> Result<T, ChatError>
    where
        F: FnMut(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let started = Instant::now();
        let mut delay = Duration::from_millis(25);
        loop {
            match op(self.0.clone()).await {
                Ok(v) => return Ok(v),
                Err(e) if transient(&e) && started.elapsed() < RETRY_BUDGET => {
                    tracing::debug!(error = %e, "redis command failed; retrying");
                    // The connection manager reconnects under the retry.
                    crate::metrics::metrics().redis_reconnected("commands");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
                Err(e) => return Err(storage(e)),
            }
        }
    }

    pub async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, ChatError> {
        self.retrying(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }

    pub async fn query_pipe<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, ChatError> {
        self.retrying(|mut c| async move { pipe.query_async(&mut c).await })
            .await
    }

    pub async fn invoke<T: FromRedisValue>(
        &self,
        script: &ScriptInvocation<'_>,
    ) -> Result<T, ChatError> {
        self.retrying(|mut c| async move { script.invoke_async(&mut c).await })
            .await
    }

    /// Runs a commit script that leaves the marker `marker` when it applies. A commit is not
    /// harmless to repeat, so a failed connection is not retried blindly: the marker tells
    /// whether it got through.
    pub async fn commit<T: FromRedisValue>(
        &self,
        script: &ScriptInvocation<'_>,
        marker: &str,
    ) -> Result<Commit<T>, ChatError> {
        match script.invoke_async(&mut self.0.clone()).await {
            Ok(v) => Ok(Commit::Answered(v)),
            Err(e) if transient(&e) => {
                tracing::debug!(error = %e, "commit interrupted; checking whether it applied");
                let applied: bool = self.query(redis::cmd("EXISTS").arg(marker)).await?;
                Ok(if applied {
                    Commit::Applied
                } else {
                    Commit::NotApplied
                })
            }
            Err(e) => Err(storage(e)),
        }
    }
}

//! Closes connections on which nothing moves.
//!
//! hyper times out only a request's head: a client that sends a body slowly (or never), or a
//! peer that vanished without closing while the server had nothing to say, would hold its
//! connection (a file descriptor and a `--max-connections` slot) for ever. Every connection's
//! socket is wrapped in [`ActivityIo`], which notes when a byte last moved either way, and the
//! connection's task ends the connection once [`expired`] returns. A parked `wait_for_message`
//! keeps its connection busy with the SSE keep-alive comments rmcp sends on response streams.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// When a byte last moved on one connection.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    /// Milliseconds from `start`: an atomic, because the socket (inside hyper) and the watchdog
    /// (in the connection's task) look at it from different places.
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// Returns once no byte has moved on the connection for `limit`.
pub async fn expired(activity: &Activity, limit: Duration) {
    loop {
        let deadline = activity.last() + limit;
        if Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep_until(deadline).await;
    }
}

/// A socket that records its activity.
#[derive(Debug)]
pub struct ActivityIo<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> ActivityIo<T> {
    pub fn new(inner: T) -> (ActivityIo<T>, Arc<Activity>) {
        let activity = Arc::new(Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        });
        let io = ActivityIo {
            inner,
            activity: activity.clone(),
        };
        (io, activity)
    }

    fn moved(&self, bytes: usize) {
        if bytes > 0 {
            self.activity.touch();
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ActivityIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.moved(buf.filled().len() - before);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.moved(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.moved(n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    /// Whether the watchdog has fired `after` from now.
    async fn fired_within(activity: &Activity, after: Duration) -> bool {
        tokio::time::timeout(after, expired(activity, LIMIT))
            .await
            .is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_either_way_postpone_the_deadline() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let (mut io, activity) = ActivityIo::new(ours);
        assert!(!fired_within(&activity, Duration::from_secs(9)).await);

        io.write_all(b"x").await.unwrap(); // at 9 s: the deadline moves to 19 s
        theirs.read_exact(&mut [0]).await.unwrap();
        assert!(!fired_within(&activity, Duration::from_secs(9)).await);

        theirs.write_all(b"y").await.unwrap(); // at 18 s: now 28 s
        io.read_exact(&mut [0]).await.unwrap();
        assert!(!fired_within(&activity, Duration::from_secs(9)).await);
        assert!(fired_within(&activity, Duration::from_secs(2)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_expires() {
        let (ours, _theirs) = tokio::io::duplex(64);
        let (_io, activity) = ActivityIo::new(ours);
        let start = Instant::now();
        expired(&activity, LIMIT).await;
        assert_eq!(start.elapsed(), LIMIT);
    }
}

//! Progress notifications beside a long-poll: while a wait blocks, the client hears every
//! `--progress-interval-ms` that the call is alive, if it asked to (a `progressToken` in the
//! request's `_meta`; rmcp's client sends one with every request). That keeps clients, proxies
//! and rmcp's session idle timer from giving up on a call that is only waiting.
//!
//! Every parked wait lives inside [`WithProgress`] for as long as it waits, so its size is paid
//! 10,000 times over. An `async fn` racing the wait against a ticker (as this was) keeps the
//! wait twice — as its argument and as the value it awaits — beside the ticker's state and a
//! notification being sent: 3.4 KiB per parked wait where the wait itself is 1.1 (heaptrack,
//! BENCHMARKS.md). Here the wait is held once, inline; the ticker is boxed, and only when a
//! token was given; a notification being sent is boxed only while it is sent.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};

type Ticker = Pin<Box<dyn Future<Output = Infallible> + Send>>;

pin_project_lite::pin_project! {
    /// `work`, with progress notifications sent while it runs. Polls `work` first, so an
    /// answer is never held back by a notification.
    pub struct WithProgress<W> {
        #[pin]
        work: W,
        ticker: Option<Ticker>,
    }
}

/// Runs `work`, notifying `peer` of its progress every `every` if `token` is given.
pub fn with_progress<W: Future>(
    work: W,
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    every: Duration,
) -> WithProgress<W> {
    WithProgress {
        work,
        ticker: token.map(|token| Box::pin(notify_every(peer, token, every)) as Ticker),
    }
}

impl<W: Future> Future for WithProgress<W> {
    type Output = W::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<W::Output> {
        let this = self.project();
        if let Poll::Ready(outcome) = this.work.poll(cx) {
            return Poll::Ready(outcome);
        }
        if let Some(ticker) = this.ticker {
            // The ticker never ends; polling it arms its timer or sends what is due.
            let Poll::Pending = ticker.as_mut().poll(cx);
        }
        Poll::Pending
    }
}

/// Sends "waiting for messages (N s)" every `every`, for ever (the wait ends it by dropping it).
async fn notify_every(peer: Peer<RoleServer>, token: ProgressToken, every: Duration) -> Infallible {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut progress = 0.0;
    loop {
        ticks.tick().await;
        progress += every.as_secs_f64();
        let note = ProgressNotificationParam::new(token.clone(), progress)
            .with_message(format!("waiting for messages ({progress:.0} s)"));
        // Boxed: the send's state would otherwise be part of every parked wait's ticker.
        if let Err(e) = Box::pin(peer.notify_progress(note)).await {
            tracing::debug!(error = %e, "progress notification failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Work = std::future::Ready<[u64; 125]>;

    /// Every parked wait lives inside this future: it must hold the wait once and little
    /// besides (the `async fn` it replaces made a 1,001 B future 4,128 B). The ticker must stay
    /// small too (about 1.1 KiB before): one is allocated for every wait whose client asked for
    /// progress, as rmcp's client always does.
    #[test]
    fn progress_reporting_adds_almost_nothing_to_a_wait() {
        let wrapped = size_of::<WithProgress<Work>>();
        assert!(
            wrapped <= size_of::<Work>() + 16,
            "a {} B wait becomes {wrapped} B",
            size_of::<Work>()
        );
        let ticker = size_of_output(|(peer, token, every)| notify_every(peer, token, every));
        assert!(ticker <= 512, "the ticker takes {ticker} B");
    }

    /// The size of what `make` returns, without making one.
    fn size_of_output<A, R>(_make: impl FnOnce(A) -> R) -> usize {
        size_of::<R>()
    }
}

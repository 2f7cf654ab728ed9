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

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};
use tokio::time::{Instant, Interval, interval_at};

pin_project_lite::pin_project! {
    /// `work`, with progress notifications sent while it runs.
    pub struct WithProgress<W> {
        #[pin]
        work: W,
        ticker: Option<Box<Ticker>>,
    }
}

/// What sending progress needs, allocated only for a call that asked for it.
struct Ticker {
    peer: Peer<RoleServer>,
    token: ProgressToken,
    ticks: Interval,
    /// Seconds reported so far.
    progress: f64,
    /// The notification being handed to the transport, if one is.
    sending: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// Runs `work`, notifying `peer` of its progress every `every` if `token` is given.
pub fn with_progress<W: Future>(
    work: W,
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    every: Duration,
) -> WithProgress<W> {
    let ticker = token.map(|token| {
        Box::new(Ticker {
            peer,
            token,
            ticks: interval_at(Instant::now() + every, every),
            progress: 0.0,
            sending: None,
        })
    });
    WithProgress { work, ticker }
}

impl<W: Future> Future for WithProgress<W> {
    type Output = W::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<W::Output> {
        let mut this = self.project();
        loop {
            // A notification once started reaches the transport before the answer is made, so
            // the client never hears of progress after the call's result (the protocol forbids
            // it). Sending is quick: the wait goes on once it is handed over.
            if let Some(ticker) = this.ticker.as_deref_mut()
                && let Some(sending) = &mut ticker.sending
            {
                ready!(sending.as_mut().poll(cx));
                ticker.sending = None;
            }
            if let Poll::Ready(outcome) = this.work.as_mut().poll(cx) {
                return Poll::Ready(outcome);
            }
            let Some(ticker) = this.ticker.as_deref_mut() else {
                return Poll::Pending;
            };
            ready!(ticker.ticks.poll_tick(cx));
            ticker.start_sending();
        }
    }
}

impl Ticker {
    fn start_sending(&mut self) {
        self.progress += self.ticks.period().as_secs_f64();
        let progress = self.progress;
        let note = ProgressNotificationParam::new(self.token.clone(), progress)
            .with_message(format!("waiting for messages ({progress:.0} s)"));
        let peer = self.peer.clone();
        self.sending = Some(Box::pin(async move {
            if let Err(e) = peer.notify_progress(note).await {
                tracing::debug!(error = %e, "progress notification failed");
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Work = std::future::Ready<[u64; 125]>;

    /// Every parked wait lives inside this future: it must hold the wait once and little
    /// besides (the `async fn` it replaces made a 1,001 B future 4,128 B), whatever the
    /// client asked; what progress needs is allocated apart, only when asked.
    #[test]
    fn progress_reporting_adds_almost_nothing_to_a_wait() {
        let wrapped = size_of_output(|(work, peer, token, every)| {
            with_progress::<Work>(work, peer, token, every)
        });
        assert!(
            wrapped <= size_of::<Work>() + 16,
            "a {} B wait becomes {wrapped} B",
            size_of::<Work>()
        );
        assert!(
            size_of::<Ticker>() <= 256,
            "the ticker takes {} B",
            size_of::<Ticker>()
        );
    }

    /// The size of what `make` returns, without making one.
    fn size_of_output<A, R>(_make: impl FnOnce(A) -> R) -> usize {
        size_of::<R>()
    }
}

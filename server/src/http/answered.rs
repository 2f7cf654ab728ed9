//! Tells the engine when an MCP response has been handed over to its connection in full (see
//! `engine/answered.rs`): what a `wait_for_message` claimed counts as delivered from then on.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};

use crate::engine::answered::AnswerHook;

/// Gives each request an [`AnswerHook`] (rmcp hands the request's extensions to the tool), and
/// fires it once the response body has been read to its end (or is dropped with nothing left
/// in it): every byte of the answer is then with hyper, on its way to the connection. A body
/// dropped before its end (the client went away, the server is stopping) abandons the hook.
pub async fn confirm_on_end(mut request: Request, next: Next) -> Response {
    let hook = AnswerHook::default();
    request.extensions_mut().insert(hook.clone());
    next.run(request).await.map(|inner| {
        Body::new(Answering {
            inner,
            hook: Some(hook),
        })
    })
}

pin_project_lite::pin_project! {
    struct Answering {
        #[pin]
        inner: Body,
        // `None` once fired or abandoned.
        hook: Option<AnswerHook>,
    }

    impl PinnedDrop for Answering {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(hook) = this.hook.take() {
                // Every frame was taken, only the final poll was not made: answered.
                if http_body::Body::is_end_stream(&*this.inner) {
                    hook.answered();
                } else {
                    hook.abandoned();
                }
            }
        }
    }
}

impl http_body::Body for Answering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            // The end: everything before it was taken.
            None => {
                if let Some(hook) = this.hook.take() {
                    hook.answered();
                }
            }
            Some(Err(_)) => {
                if let Some(hook) = this.hook.take() {
                    hook.abandoned();
                }
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        // Polled to its `None` even when the inner body knows it has ended, so that the end is
        // seen (hyper stops polling a body that says it has ended).
        self.hook.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use axum::body::to_bytes;

    use super::*;

    fn watched(body: Body) -> (Answering, Arc<AtomicBool>) {
        let hook = AnswerHook::default();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        hook.on_answered(move || flag.store(true, Ordering::Relaxed));
        (
            Answering {
                inner: body,
                hook: Some(hook),
            },
            fired,
        )
    }

    #[tokio::test]
    async fn fires_once_the_body_is_read_to_its_end() {
        let (body, fired) = watched(Body::from("the answer"));
        let read = to_bytes(Body::new(body), usize::MAX).await.unwrap();
        assert_eq!(read, "the answer");
        assert!(fired.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn a_body_dropped_with_nothing_left_is_an_answer() {
        let (body, fired) = watched(Body::from("all of it"));
        let mut body = Box::pin(body);
        let first = std::future::poll_fn(|cx| http_body::Body::poll_frame(body.as_mut(), cx)).await;
        assert!(first.is_some());
        drop(body);
        assert!(fired.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_is_not_an_answer() {
        use futures_util::StreamExt;
        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from("part"))])
            .chain(futures_util::stream::pending());
        let (body, fired) = watched(Body::from_stream(stream));
        let mut body = Box::pin(body);
        let first = std::future::poll_fn(|cx| http_body::Body::poll_frame(body.as_mut(), cx)).await;
        assert!(first.is_some());
        drop(body);
        assert!(!fired.load(Ordering::Relaxed));
    }
}

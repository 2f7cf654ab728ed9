//! Accepts TCP connections and serves HTTP/1.1 on them with hyper directly rather than through
//! `axum::serve`, which offers none of the connection settings below.
//!
//! Every parked `wait_for_message` holds one HTTP/1.1 connection, so what a connection costs
//! at rest is what a parked client costs (BENCHMARKS.md has the heap profile behind this):
//! - hyper grows a connection's read buffer to 16 KiB whenever a request head arrives in more
//!   than one read; capping it at 8 KiB (hyper's minimum) keeps it at 8 KiB, and limits a
//!   request head (request line and headers) to 8 KiB, as nginx and Apache do by default;
//! - hyper parses a request's URI and header values as views into that read buffer, so a
//!   request in flight keeps the buffer alive and hyper allocates another to go on reading the
//!   connection. A parked wait is in flight for minutes: copying its head out (a few hundred
//!   bytes) before anything else sees the request lets hyper reuse its one buffer;
//! - one connection builder shared by every connection, instead of a copy in each one's task.
//!
//! A hostile client must not be able to hold connections for nothing, all before any token is
//! checked: at most [`Limits::max_connections`] are served at once (the next are turned away
//! with a 503), a request head must arrive within [`Limits::header_read_timeout`], and a
//! connection on which nothing moves for [`Limits::idle_timeout`] is closed (`idle.rs`).
//!
//! Shutdown is ordered so nothing in flight is cut off: stop accepting, let requests finish
//! (the engine answers parked waits `shutting_down` at once), then close the MCP sessions.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, Request, Uri};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::Throttle;
use super::idle::{self, ActivityIo};
use crate::engine::source::PeerIp;
use crate::metrics::metrics;

/// Counts a connection in `mcp_chat_http_connections` while it lives.
struct OpenConnection;

impl OpenConnection {
    fn counted() -> OpenConnection {
        metrics().connections.inc();
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics().connections.dec();
    }
}

/// The largest request head (request line and headers) accepted, and hyper's read buffer size.
pub const REQUEST_HEAD_LIMIT: usize = 8 * 1024;

/// How long open connections get, after shutdown begins, to finish before the MCP sessions are
/// closed under them. In-flight requests need a moment (parked waits are answered at once);
/// a client's standalone stream would otherwise hold the shutdown up for ever.
const DRAIN: Duration = Duration::from_secs(3);

/// What a connection beyond the cap is told. Written by hand: it never reaches hyper, so that
/// turning a connection away costs no more than a write.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
    Retry-After: 1\r\n\
    Connection: close\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Content-Length: 36\r\n\
    \r\n\
    too many connections; retry shortly\n";

/// Connections being turned away at once, each for at most [`TURN_AWAY_TIME`]. Beyond that a
/// flood is closed without a word, so turning connections away cannot itself exhaust the file
/// descriptors the cap protects.
const MAX_TURNING_AWAY: usize = 64;
const TURN_AWAY_TIME: Duration = Duration::from_secs(1);

/// Connection limits (the `serve` flags of the same names).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Serves `app` on every connection `listener` accepts until `shutdown` is cancelled. Then it
/// stops accepting, lets the open connections finish what is in flight (idle ones close at
/// once), cancels `close_sessions` when they have or after [`DRAIN`], and waits for the rest.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: CancellationToken,
    close_sessions: CancellationToken,
) {
    let mut builder = http1::Builder::new();
    builder
        .max_buf_size(REQUEST_HEAD_LIMIT)
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let turning_away = Arc::new(Semaphore::new(MAX_TURNING_AWAY));
    let full = Throttle::default();
    let connections = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    pause_after_accept_error(e).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            if full.ready() {
                tracing::warn!(
                    max = limits.max_connections,
                    "turning connections away: at --max-connections"
                );
            }
            metrics().refused("max_connections");
            turn_away(tcp, &turning_away);
            continue;
        };
        // Without TCP_NODELAY, Nagle's algorithm and the client's delayed ACK hold small
        // responses back ~40 ms: every tool call (and every message delivered) would pay it.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
        let builder = builder.clone();
        let peer = PeerIp(peer.ip());
        let service = TowerToHyperService::new(app.clone().map_request(move |request| {
            let mut request = detach_request_head(request);
            request.extensions_mut().insert(peer);
            request
        }));
        let watcher = connections.watcher();
        tokio::spawn(async move {
            let _slot = slot;
            let _open = OpenConnection::counted();
            let (io, activity) = ActivityIo::new(tcp);
            let connection = watcher.watch(builder.serve_connection(TokioIo::new(io), service));
            tokio::select! {
                ended = connection => if let Err(e) = ended {
                    tracing::debug!(error = %e, "connection ended with an error");
                },
                () = idle::expired(&activity, limits.idle_timeout) => {
                    tracing::debug!(peer = %peer.0, "closed a connection idle for --idle-timeout");
                }
            }
        });
    }
    drop(listener);
    let drained = connections.shutdown();
    tokio::pin!(drained);
    // `drained` is an async fn's future: polling it again once it has completed panics (which
    // aborts the release build), so it is awaited a second time only if the timeout cut it short.
    let finished = tokio::time::timeout(DRAIN, &mut drained).await.is_ok();
    if !finished {
        tracing::info!("closing the MCP sessions still open");
    }
    close_sessions.cancel();
    if !finished {
        drained.await;
    }
}

/// Answers a connection beyond the cap with [`BUSY`] and closes it, if few are being turned
/// away already; otherwise closes it at once.
fn turn_away(mut tcp: TcpStream, turning_away: &Arc<Semaphore>) {
    let Ok(permit) = turning_away.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(TURN_AWAY_TIME, async {
            tcp.write_all(BUSY).await?;
            tcp.shutdown().await?;
            // Closing a socket with unread input resets the connection, and a reset can
            // discard the answer before the client reads it: read until the client closes.
            let mut sink = [0u8; 512];
            while tcp.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        })
        .await;
    });
}

/// The request with its URI and header values copied out of hyper's read buffer.
fn detach_request_head<B>(request: Request<B>) -> Request<B> {
    let (mut head, body) = request.into_parts();
    if let Ok(uri) = Uri::try_from(head.uri.to_string()) {
        head.uri = uri;
    }
    for value in head.headers.values_mut() {
        if let Ok(mut copy) = HeaderValue::from_bytes(value.as_bytes()) {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
    }
    Request::from_parts(head, body)
}

/// A failed `accept` is the peer's problem when the connection was reset before we took it;
/// otherwise (out of file descriptors, typically) retrying at once would spin, so wait a moment.
async fn pause_after_accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use axum::body::Bytes;

    use super::*;

    /// True if `part` lies inside `buffer`'s memory.
    fn inside(buffer: &Bytes, part: &[u8]) -> bool {
        let range = buffer.as_ptr_range();
        range.contains(&part.as_ptr())
    }

    #[test]
    fn the_busy_answer_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap();
        assert_eq!(length.parse::<usize>().unwrap(), body.len());
    }

    #[test]
    fn the_detached_head_shares_no_memory_with_the_read_buffer() {
        // What hyper hands over: URI and header values that are slices of its read buffer.
        let buffer = Bytes::from_static(b"/mcp?x=1 Bearer secret-token host.example");
        let uri = Uri::from_maybe_shared(buffer.slice(0..8)).unwrap();
        let mut auth = HeaderValue::from_maybe_shared(buffer.slice(9..28)).unwrap();
        auth.set_sensitive(true);
        let host = HeaderValue::from_maybe_shared(buffer.slice(29..)).unwrap();
        let request = Request::builder()
            .uri(uri)
            .header("authorization", auth)
            .header("host", host)
            .body(())
            .unwrap();
        assert!(inside(&buffer, request.uri().path().as_bytes()));
        assert!(inside(&buffer, request.headers()["host"].as_bytes()));

        let detached = detach_request_head(request);
        assert_eq!(detached.uri(), "/mcp?x=1");
        assert!(!inside(&buffer, detached.uri().path().as_bytes()));
        assert!(!inside(&buffer, detached.uri().query().unwrap().as_bytes()));
        let auth = &detached.headers()["authorization"];
        assert_eq!(auth, "Bearer secret-token");
        assert!(auth.is_sensitive(), "still redacted from logs");
        assert!(!inside(&buffer, auth.as_bytes()));
        assert_eq!(detached.headers()["host"], "host.example");
        assert!(!inside(&buffer, detached.headers()["host"].as_bytes()));
    }
}

//! Turns SIGINT/SIGTERM into a cancellation every part of the server listens to.
//!
//! Behind a load balancer, stopping at once would refuse the requests still on their way to
//! this instance. So a signal first marks the instance as draining (`/readyz` answers 503 and
//! the balancer stops sending it work) and only after the grace period stops it as before; a
//! second signal during the grace stops it at once.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// On the first SIGINT or SIGTERM: cancels `draining`, waits `grace` (cut short by a second
/// signal), then cancels `token`. The transports then stop accepting work, in-flight long-polls
/// return, and `main` exits once they have drained.
pub fn cancel_on_signal(token: CancellationToken, draining: CancellationToken, grace: Duration) {
    tokio::spawn(async move {
        tokio::select! {
            _ = signal() => {}
            _ = token.cancelled() => return,
        }
        draining.cancel();
        if !grace.is_zero() {
            tracing::info!(
                grace_s = grace.as_secs_f64(),
                "draining: not ready, still serving"
            );
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = signal() => tracing::info!("second signal: stopping now"),
                _ = token.cancelled() => return,
            }
        }
        token.cancel();
    });
}

/// The next SIGINT or SIGTERM.
async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
            _ = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        _ = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

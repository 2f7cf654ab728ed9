use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use mcp_chat::cli::{Cli, Command, LogFormat, ServeArgs};
use mcp_chat::engine::Engine;
use mcp_chat::mcp::ChatServer;
use mcp_chat::mcp::calls;
use mcp_chat::{http, metrics, shutdown, stdio, view};

/// Per-request allocations dominate under load; mimalloc halves what glibc's malloc costs there
/// (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Our own events at info; rmcp's per-session chatter only when it is a warning. `RUST_LOG`
/// takes the same form (`LEVEL` or `target=LEVEL`, comma-separated): tracing-subscriber's
/// `Targets`, not its `EnvFilter`, whose span and field matching would compile a regex engine
/// into the server (regex: 23 s of a cold build's CPU) for a feature nobody here uses.
const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

fn main() -> ExitCode {
    // A failure is one readable line (with its causes), never a backtrace: these are errors a
    // user acts on ("the file is in use", "cannot listen on …").
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let default_filter: Targets = DEFAULT_LOG_FILTER.parse().expect("a valid filter");
    let asked_for_calls = std::env::var("RUST_LOG").is_ok_and(|v| v.contains(calls::TARGET));
    let (filter, unreadable) = match std::env::var("RUST_LOG") {
        // Empty directives are skipped, as EnvFilter did (`Targets` reads "" as `error`), and
        // a blank RUST_LOG counts as unset.
        Ok(value) if value.trim().is_empty() => (default_filter, None),
        Ok(value) => match value
            .split(',')
            .filter(|directive| !directive.trim().is_empty())
            .collect::<Vec<_>>()
            .join(",")
            .parse::<Targets>()
        {
            Ok(filter) => (filter, None),
            Err(e) => (default_filter, Some((value, e))),
        },
        Err(_) => (default_filter, None),
    };
    // stderr only: in stdio mode stdout is the MCP transport.
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::registry()
            .with(lines)
            .with(if asked_for_calls {
                filter
            } else {
                // A line per call suits a collector, not a terminal: asked for by name here.
                filter.with_target(calls::TARGET, LevelFilter::OFF)
            })
            .init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(lines.json().flatten_event(true).with_current_span(false))
            .with(filter)
            .init(),
    }
    if let Some((value, e)) = unreadable {
        tracing::warn!("RUST_LOG={value:?} is not a filter ({e}); logging at {DEFAULT_LOG_FILTER}");
    }

    if let Command::Serve(ServeArgs {
        view_file: Some(path),
        ..
    }) = &cli.command
    {
        view::serve_from_file(path.clone())
            .map_err(|e| anyhow::anyhow!("--view-file {}: {e}", path.display()))?;
    }

    view::host_with(match &cli.command {
        Command::Serve(args) => args.view_hosting.clone(),
        Command::Stdio(args) => args.view_hosting.clone(),
    });

    let stop = CancellationToken::new();
    let draining = CancellationToken::new();
    let grace = match &cli.command {
        Command::Serve(args) => std::time::Duration::from_secs(args.drain_grace),
        Command::Stdio(_) => std::time::Duration::ZERO,
    };
    shutdown::cancel_on_signal(stop.clone(), draining.clone(), grace);
    let (limits, store) = match &cli.command {
        Command::Serve(args) => (args.limits.to_limits(), &args.store),
        Command::Stdio(args) => (args.limits.to_limits(), &args.store),
    };
    let opened = store
        .open(&limits)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
    tracing::info!("store: {}", store.describe());
    let engine = Engine::new(opened.store, limits, stop.clone());
    if let Command::Serve(ServeArgs {
        metrics_bind: Some(address),
        ..
    }) = &cli.command
    {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| anyhow::anyhow!("--metrics-bind: cannot listen on {address}: {e}"))?;
        let local = listener.local_addr()?;
        if !local.ip().is_loopback() {
            tracing::warn!(
                "metrics on a non-loopback address ({local}): anyone who reaches it reads them"
            );
        }
        tracing::info!("metrics at http://{local}/metrics");
        tokio::spawn(metrics::serve(listener, engine.clone(), stop.clone()));
    }
    let sweeper = engine.spawn_sweeper();
    let server = ChatServer::new(engine);
    let result = match cli.command {
        Command::Serve(args) => {
            http::run(server, opened.shared, args, stop.clone(), draining).await
        }
        Command::Stdio(_) => stdio::run(server, stop.clone()).await,
    };
    sweeper.abort();
    stop.cancel();
    result
}

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use mcp_chat::cli::{Cli, Command, LogFormat, ServeArgs, StdioArgs};
use mcp_chat::engine::Engine;
use mcp_chat::engine::store::StoreSpec;
use mcp_chat::mcp::ChatServer;
use mcp_chat::mcp::calls;
use mcp_chat::{admin, http, metrics, shutdown, stdio, view};

/// Per-request allocations dominate under load; mimalloc halves what glibc's malloc costs there
/// (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Our own events at info; rmcp's per-session chatter only when it is a warning. `RUST_LOG`
/// takes the same form (`LEVEL` or `target=LEVEL`, comma-separated): tracing-subscriber's
/// `Targets`, not its `EnvFilter`, whose span and field matching would compile a regex engine
/// into the server (regex: 23 s of a cold build's CPU) for a feature nobody here uses.
const DEFAULT_LOG_FILTER: &str = "info,rmcp=warn";

/// What runs once the admin commands are set aside. Made once, at startup.
#[allow(clippy::large_enum_variant)]
enum Server {
    Http(ServeArgs),
    Stdio(StdioArgs),
}

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

    // Before anything a server starts: an admin command opens no listener and handles no signal.
    let command = match cli.command {
        Command::Admin(args) => return admin::run(&args).await,
        Command::Serve(args) => Server::Http(args),
        Command::Stdio(args) => Server::Stdio(args),
    };

    if let Server::Http(ServeArgs {
        view_file: Some(path),
        ..
    }) = &command
    {
        view::serve_from_file(path.clone())
            .map_err(|e| anyhow::anyhow!("--view-file {}: {e}", path.display()))?;
    }

    view::host_with(match &command {
        Server::Http(args) => args.view_hosting.clone(),
        Server::Stdio(args) => args.view_hosting.clone(),
    });

    let stop = CancellationToken::new();
    let draining = CancellationToken::new();
    let grace = match &command {
        Server::Http(args) => std::time::Duration::from_secs(args.drain_grace),
        Server::Stdio(_) => std::time::Duration::ZERO,
    };
    shutdown::cancel_on_signal(stop.clone(), draining.clone(), grace);
    let (limits, store) = match &command {
        Server::Http(args) => (args.limits.to_limits(), &args.store),
        Server::Stdio(args) => (args.limits.to_limits(), &args.store),
    };
    let opened = store
        .open(&limits)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the store: {e}"))?;
    tracing::info!("store: {}", store.describe());
    let engine = Engine::new(opened.store, limits, stop.clone());
    if let Server::Http(ServeArgs {
        metrics_bind: Some(address),
        ..
    }) = &command
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
    // The file is this process's now: operators' changes to it come through here.
    let _admin_socket = match store {
        StoreSpec::Sqlite(path) => {
            let path = path.clone().unwrap_or_else(StoreSpec::default_sqlite_path);
            match admin::socket::listen(&path, engine.clone(), stop.clone()) {
                Ok(listening) => Some(listening),
                Err(e) => {
                    tracing::warn!(
                        "no admin socket at {} ({e}): `mcp-chat admin delete` needs this server \
                         stopped",
                        admin::socket::path_for(&path).display()
                    );
                    None
                }
            }
        }
        _ => None,
    };
    let server = ChatServer::new(engine);
    let result = match command {
        Server::Http(args) => http::run(server, opened.shared, args, stop.clone(), draining).await,
        Server::Stdio(_) => stdio::run(server, stop.clone()).await,
    };
    sweeper.abort();
    stop.cancel();
    result
}

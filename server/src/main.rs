use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use mcp_chat::cli::{Cli, Command, ServeArgs};
use mcp_chat::engine::Engine;
use mcp_chat::mcp::ChatServer;
use mcp_chat::{http, shutdown, stdio, view};

/// Per-request allocations dominate under load; mimalloc halves what glibc's malloc costs there
/// (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Our own events at info; rmcp's per-session chatter only when it is a warning.
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
    // stderr only: in stdio mode stdout is the MCP transport.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();

    if let Command::Serve(ServeArgs {
        view_file: Some(path),
        ..
    }) = &cli.command
    {
        view::serve_from_file(path.clone())
            .map_err(|e| anyhow::anyhow!("--view-file {}: {e}", path.display()))?;
    }

    let stop = CancellationToken::new();
    shutdown::cancel_on_signal(stop.clone());
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
    let sweeper = engine.spawn_sweeper();
    let server = ChatServer::new(engine);
    let result = match cli.command {
        Command::Serve(args) => http::run(server, opened.sessions, args, stop.clone()).await,
        Command::Stdio(_) => stdio::run(server, stop.clone()).await,
    };
    sweeper.abort();
    stop.cancel();
    result
}

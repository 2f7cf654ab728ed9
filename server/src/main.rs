use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use mcp_chat::cli::{Cli, Command};
use mcp_chat::mcp::ChatServer;
use mcp_chat::{http, shutdown, stdio};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // stderr only: in stdio mode stdout is the MCP transport.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();

    let stop = CancellationToken::new();
    shutdown::cancel_on_signal(stop.clone());
    let server = ChatServer::new();
    let result = match cli.command {
        Command::Serve(args) => http::run(server, args, stop.clone()).await,
        Command::Stdio => stdio::run(server, stop.clone()).await,
    };
    stop.cancel();
    result
}

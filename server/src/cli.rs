//! Command-line interface.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mcp-chat",
    version,
    about = "Real-time chat rooms for people and AI agents, over the Model Context Protocol.",
    long_about = "Real-time chat rooms for people and AI agents, over the Model Context Protocol.\n\n\
        `serve` runs the shared server over streamable HTTP (everyone who chats connects to it); \
        `stdio` runs a private server for one client that launches it as a subprocess.\n\
        Both serve the chat tools and the room View (ui://mcp-chat/room.html) for MCP Apps hosts.",
    after_help = "Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to change its level. \
        Message text and secrets are only ever logged at debug level or below."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over streamable HTTP at /mcp (plus GET /healthz).
    Serve(ServeArgs),
    /// Serve MCP over stdin/stdout for a single client (logs go to stderr).
    Stdio,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default: binding another interface is a deliberate choice.
    #[arg(long, default_value = "127.0.0.1:8000", env = "MCP_CHAT_BIND")]
    pub bind: SocketAddr,

    /// Extra value accepted in the HTTP Host header (repeatable), e.g. `chat.example.com`.
    /// Only loopback names are accepted otherwise, which blocks DNS-rebinding attacks.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,

    /// Require `Authorization: Bearer <TOKEN>` on /mcp. Prefer the environment variable:
    /// command lines are visible to other users of the machine.
    #[arg(
        long,
        env = "MCP_CHAT_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub auth_token: Option<String>,
}

//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::engine::store::StoreSpec;
use crate::http::origin::Origin;

#[derive(Debug, Parser)]
#[command(
    name = "mcp-chat",
    version,
    about = "Real-time chat rooms for people and AI agents, over the Model Context Protocol.",
    long_about = "Real-time chat rooms for people and AI agents, over the Model Context Protocol.\n\n\
        `serve` runs the shared server over streamable HTTP (everyone who chats connects to it); \
        `stdio` runs a private server for one client that launches it as a subprocess; `admin` lists, \
        exports, deletes rooms and backs up a store.\n\
        `serve` and `stdio` both serve the chat tools and the room View (ui://mcp-chat/room.html) for MCP Apps hosts.",
    after_help = "Logging goes to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to change its level. \
        Message text and secrets are only ever logged at debug level or below."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// `text` (the default: one readable line per event) or `json` (one JSON object per line,
    /// for log collectors, with a line per tool call: tool, outcome, duration, room, request
    /// ids; never message text or client ids at info). The per-call lines are on by default
    /// in `json` only; in `text`, `RUST_LOG=info,mcp_chat::calls=info` shows them.
    #[arg(
        long,
        global = true,
        default_value = "text",
        env = "MCP_CHAT_LOG_FORMAT",
        value_name = "FORMAT"
    )]
    pub log_format: LogFormat,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

// Parsed once at startup and never moved about: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over streamable HTTP at /mcp (plus GET /healthz).
    Serve(ServeArgs),
    /// Serve MCP over stdin/stdout for a single client (logs go to stderr).
    Stdio(StdioArgs),
    /// Operator commands on a store (list, export, delete rooms; back up), server running or not.
    #[command(
        long_about = "Operator commands on a store, whether its server is running or not.\n\n\
        Reads (rooms, export, backup) never disturb a running server. A delete on a SQLite \
        store is done by the server that holds the file when one runs (over the socket \
        FILE.admin it creates), else directly.",
        after_help = "Results go to stdout, progress and errors to stderr; a failure exits non-zero."
    )]
    Admin(AdminArgs),
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The store to work on, as `serve` names it: `sqlite` (the default file), `sqlite:PATH`,
    /// `redis://…` or `memory` (which lives inside its server: nothing to do from outside).
    #[arg(
        long,
        global = true,
        default_value = "sqlite",
        env = "MCP_CHAT_STORE",
        hide_env_values = true,
        value_name = "STORE",
        value_parser = StoreParser
    )]
    pub store: StoreSpec,

    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// List every room: members, messages in its log, status and last activity.
    Rooms {
        /// One JSON object per room and line, instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write a room's history to stdout as JSON lines, one message each, oldest first.
    Export {
        /// The room's name (`room_id`).
        room: String,
    },
    /// Delete a room and its log: its members' waits return, and it is gone for everyone.
    Delete {
        /// The room's name (`room_id`).
        room: String,
    },
    /// Copy a SQLite store to PATH while its server runs, then check the copy.
    Backup {
        /// Where to write the copy; refused if something is there already.
        path: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct StdioArgs {
    /// Where chats are kept: `memory`, `sqlite` (a file under the user's data directory),
    /// `sqlite:PATH` or `redis://…` (as for `serve`). Memory by default here: a stdio server is
    /// private to the client that launched it, and several often run at once, which a single
    /// shared file would refuse.
    #[arg(
        long,
        default_value = "memory",
        env = "MCP_CHAT_STORE",
        hide_env_values = true,
        value_name = "STORE",
        value_parser = StoreParser
    )]
    pub store: StoreSpec,

    #[command(flatten)]
    pub view_hosting: ViewHostingArgs,

    #[command(flatten)]
    pub limits: LimitArgs,
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

    /// Extra browser origin allowed to call the server (repeatable), as `scheme://host[:port]`
    /// (e.g. `https://app.example.com`) or `null`. A request whose Origin header is neither this
    /// nor the server's own (its host and port are the request's Host) is refused with 403, on
    /// every path and before the bearer token is checked; requests without Origin (agents,
    /// command-line clients) are unaffected.
    #[arg(long = "allowed-origin", value_name = "ORIGIN", value_parser = parse_origin)]
    pub allowed_origins: Vec<Origin>,

    /// Where people reach this server, for the links it hands out (`create_invite`'s and
    /// `open_chat`'s `url`, opening the browser page at `/chat`): `scheme://host[:port]`, e.g.
    /// `https://chat.example.com` behind a TLS proxy. Default: the loopback address it listens
    /// on. Its host is accepted in the Host header like an `--allowed-host`.
    #[arg(long, env = "MCP_CHAT_PUBLIC_URL", value_name = "URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Seconds between a SIGTERM (or SIGINT) and the stop: meanwhile `/readyz` answers 503 so
    /// that a load balancer moves new work elsewhere, while requests already here are served.
    /// Then parked waits are answered `shutting_down` and the process exits. A second signal
    /// stops it at once. Behind a balancer, set it above the balancer's health-check interval.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "SECS",
        env = "MCP_CHAT_DRAIN_GRACE"
    )]
    pub drain_grace: u64,

    /// Serve metrics (Prometheus text format) at `/metrics` on this address, a listener of its
    /// own: `PORT` (on loopback) or `HOST:PORT`. Off unless given. Keep it off the public
    /// network: it needs no token.
    #[arg(long, env = "MCP_CHAT_METRICS_BIND", value_name = "[HOST:]PORT", value_parser = crate::metrics::parse_bind)]
    pub metrics_bind: Option<SocketAddr>,

    /// Require `Authorization: Bearer <TOKEN>` on /mcp. Prefer the environment variable:
    /// command lines are visible to other users of the machine.
    #[arg(
        long,
        env = "MCP_CHAT_AUTH_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub auth_token: Option<String>,

    /// Where chats are kept: `sqlite` (the default: a file under the user's data directory,
    /// e.g. ~/.local/share/mcp-chat/chat.db), `sqlite:PATH`, `memory` (nothing survives a
    /// restart), or `redis://[:PASSWORD@]HOST:PORT[/DB][?prefix=P&ttl=SECS]` (shared by several
    /// instances, e.g. behind a load balancer). One process per SQLite file.
    #[arg(
        long,
        default_value = "sqlite",
        env = "MCP_CHAT_STORE",
        hide_env_values = true,
        value_name = "STORE",
        value_parser = StoreParser
    )]
    pub store: StoreSpec,

    #[command(flatten)]
    pub connections: ConnectionArgs,

    #[command(flatten)]
    pub limits: LimitArgs,

    #[command(flatten)]
    pub view_hosting: ViewHostingArgs,

    /// For developing the View: serve it from this file, read again at every request, instead
    /// of the document built into the binary (`scripts/view-dev.sh` passes the one it rebuilds).
    #[arg(
        long,
        value_name = "PATH",
        env = "MCP_CHAT_VIEW_FILE",
        help_heading = "Development"
    )]
    pub view_file: Option<PathBuf>,
}

fn parse_origin(value: &str) -> Result<Origin, String> {
    value.parse()
}

/// A public URL is an origin (links add `/chat#…` to it): a trailing `/` is dropped, a path,
/// query or fragment refused.
fn parse_public_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim().trim_end_matches('/');
    match trimmed.parse::<Origin>() {
        Ok(Origin::Site { .. }) => Ok(trimmed.to_owned()),
        _ => Err(
            "expected scheme://host[:port] (http or https, no path), e.g. https://chat.example.com"
                .into(),
        ),
    }
}

/// Where hosts may run the View: settings some hosts need before they show it from a server
/// on the public internet. Hosts disagree on the format, so none is sent unless set (every host
/// then picks a sandbox of its own); see the README's host table for which host reads which.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "View hosting")]
pub struct ViewHostingArgs {
    /// `_meta.ui.domain` of the View resource: the dedicated sandbox origin hosts that honour it
    /// serve the View from. Claude requires exactly `<the first 32 hex digits of sha256 of the
    /// server's URL>.claudemcpcontent.com` and refuses the View over any other value.
    #[arg(long, env = "MCP_CHAT_UI_DOMAIN", value_name = "HOST", value_parser = parse_ui_domain)]
    pub ui_domain: Option<String>,

    /// `openai/widgetDomain` of the View resource, for ChatGPT (which asks for one when an app
    /// is submitted): an https origin, e.g. `https://chat.example.com`.
    #[arg(long, env = "MCP_CHAT_OPENAI_WIDGET_DOMAIN", value_name = "ORIGIN", value_parser = parse_widget_domain)]
    pub openai_widget_domain: Option<String>,
}

/// A host name alone: letters, digits, `-` and `.`, no scheme, port or path.
fn parse_ui_domain(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid {
        Ok(value.to_ascii_lowercase())
    } else {
        Err("expected a host name alone, e.g. 0123456789abcdef0123456789abcdef.claudemcpcontent.com (no scheme, port or path)".into())
    }
}

/// An https origin: `https://host[:port]`, nothing after it.
fn parse_widget_domain(value: &str) -> Result<String, String> {
    let https =
        matches!(value.parse::<Origin>(), Ok(Origin::Site { scheme, .. }) if scheme == "https");
    if https {
        Ok(value.to_owned())
    } else {
        Err("expected an https origin, e.g. https://chat.example.com".into())
    }
}

/// How much of the HTTP server clients may hold, each with a safe default. These apply before
/// the bearer token is checked: they bound what anyone who can connect can take.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Connections")]
pub struct ConnectionArgs {
    /// Connections served at once. One more is answered 503 (with Retry-After) and closed
    /// without reaching the HTTP server. The default stays under the common limit of 1024 open
    /// files per process; raise both together.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    max_connections: u32,
    /// Seconds a client has to send a request's line and headers before its connection is
    /// closed. The same timer runs while a kept-alive connection waits for its next request, so
    /// this also closes connections left idle between requests.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    header_read_timeout: u64,
    /// Seconds without a byte moving either way after which a connection is closed (a request
    /// body sent too slowly, a peer gone silently). Response streams carry a keep-alive comment
    /// every min(15, this / 3) seconds, so a parked wait_for_message is never idle.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    idle_timeout: u64,
    /// MCP sessions this process holds at most. A client opening one more gets 503 (with
    /// Retry-After) and a JSON-RPC error saying the server is at its session limit.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    max_sessions: u32,
    /// Seconds without a request after which an MCP session is closed (the client must
    /// initialize again). At least 120: a wait_for_message in progress counts as idle time.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 1800,
        value_parser = clap::value_parser!(u64).range(120..)
    )]
    session_idle_timeout: u64,
}

impl ConnectionArgs {
    pub fn max_connections(&self) -> usize {
        self.max_connections as usize
    }
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout)
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout)
    }
    pub fn max_sessions(&self) -> usize {
        self.max_sessions as usize
    }
    pub fn session_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.session_idle_timeout)
    }
}

/// Parses `--store` without echoing the value in errors, as clap's default parsers do: a Redis
/// URL may carry a password. (The environment value is hidden from `--help` for the same reason.)
#[derive(Debug, Clone, Copy)]
struct StoreParser;

impl clap::builder::TypedValueParser for StoreParser {
    type Value = StoreSpec;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<StoreSpec, clap::Error> {
        let invalid = |reason: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("invalid --store: {reason}\n"),
            )
            .with_cmd(cmd)
        };
        value
            .to_str()
            .ok_or_else(|| invalid("not valid UTF-8".into()))?
            .parse()
            .map_err(invalid)
    }
}

/// Limits, each with a safe default. Durations are in seconds.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Largest message a member may send, in UTF-8 bytes; a longer one is refused with
    /// `invalid_argument` and nothing is stored (the HTTP body limit grows with it).
    #[arg(long, default_value_t = 4096, value_name = "BYTES")]
    pub max_message_bytes: usize,
    /// Longest display name, in characters; a longer one is refused with `invalid_argument`.
    #[arg(long, default_value_t = 64, value_name = "CHARS")]
    pub max_display_name_chars: usize,
    /// Longest room name (`room_id`), in characters; a longer one is refused with
    /// `invalid_argument`.
    #[arg(long, default_value_t = 64, value_name = "CHARS")]
    pub max_room_id_chars: usize,
    /// Messages per second one client_id may send, sustained. Beyond it `send_message` answers
    /// `rate_limited` with retry_after_ms, and the message is not stored.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub messages_per_second: u32,
    /// Messages one client_id may send in a burst before --messages-per-second applies.
    #[arg(long, default_value_t = 120, value_name = "N")]
    pub message_burst: u32,
    /// Rooms the server (or every instance sharing a store) holds at most; a join that would
    /// create one more answers `server_full`. Idle rooms expire (--room-idle-ttl).
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_rooms: usize,
    /// Identities (client_ids) the server knows at most; a call that would create one more
    /// answers `server_full`. Idle clients expire (--client-idle-ttl).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub max_clients: usize,
    /// Rooms one client may be in at once (ended rooms do not count); beyond it `join_room`
    /// and `enter_queue` answer `too_many_rooms`. Holds across instances sharing a store.
    #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rooms_per_client: u64,
    /// wait_for_message (and waiting enter_queue) calls one client may have in progress at
    /// once; beyond it the call answers `too_many_waits`. Counted per instance.
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_waits_per_client: u64,
    /// Tool calls per second one client_id may make, sustained (every tool; sends are also
    /// held to --messages-per-second). Beyond it: `rate_limited` with retry_after_ms.
    #[arg(long, default_value_t = 50, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub calls_per_second: u32,
    /// Tool calls one client_id may make in a burst before --calls-per-second applies.
    #[arg(long, default_value_t = 200, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub call_burst: u32,
    /// New identities and rooms per minute from one source address (behind a proxy, every
    /// client shares the proxy's address: raise it there; a load generator from one address
    /// needs it raised too). Invitation codes and browser links presented are counted at the
    /// same rate, separately. Beyond it: `rate_limited` with retry_after_ms.
    #[arg(long, default_value_t = 60, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub creations_per_minute: u32,
    /// New identities and rooms one address may create in a burst before
    /// --creations-per-minute applies.
    #[arg(long, default_value_t = 30, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub creation_burst: u32,
    /// Largest `capacity` a room may be created with (rooms hold 2 by default); a larger one is
    /// refused with `invalid_argument`.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub max_room_capacity: u32,
    /// Messages a room's log holds at most; a send beyond it answers `room_log_full` (members
    /// keep reading; a new room is needed to go on).
    #[arg(long, default_value_t = 20_000, value_name = "N")]
    pub max_messages_per_room: usize,
    /// Longest wait_for_message, in seconds: a longer `timeout` is shortened to it (kept below
    /// the ~60 s after which clients give up on a tool call).
    #[arg(long, default_value_t = 50, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=55))]
    pub max_wait: u64,
    /// wait_for_message timeout when the caller gives none, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    pub default_wait: u64,
    /// Seconds without any call after which a client is removed (and leaves its rooms; the
    /// others see it leave).
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    pub client_idle_ttl: u64,
    /// Seconds after which an ended or empty room with no activity is removed, history included.
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub room_idle_ttl: u64,
    /// Seconds a queue place is kept without the client polling for its match.
    #[arg(long, default_value_t = 90, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub queue_ttl: u64,
    /// Milliseconds between sweeps of expired clients, rooms and queue places.
    #[arg(long, default_value_t = 5000, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..))]
    pub sweep_interval_ms: u64,
    /// Milliseconds between progress notifications during a blocked wait (sent only to clients
    /// that supplied a progress token).
    #[arg(long, default_value_t = 10_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(10..))]
    pub progress_interval_ms: u64,
}

impl LimitArgs {
    pub fn to_limits(&self) -> crate::engine::Limits {
        let secs = std::time::Duration::from_secs;
        let max_wait = secs(self.max_wait);
        crate::engine::Limits {
            max_message_bytes: self.max_message_bytes,
            max_display_name_chars: self.max_display_name_chars,
            max_room_id_chars: self.max_room_id_chars,
            messages_per_second: self.messages_per_second,
            message_burst: self.message_burst,
            max_rooms: self.max_rooms,
            max_clients: self.max_clients,
            max_rooms_per_client: usize::try_from(self.max_rooms_per_client).unwrap_or(usize::MAX),
            max_waits_per_client: usize::try_from(self.max_waits_per_client).unwrap_or(usize::MAX),
            calls_per_second: self.calls_per_second,
            call_burst: self.call_burst,
            creations_per_minute: self.creations_per_minute,
            creation_burst: self.creation_burst,
            max_capacity: self.max_room_capacity.max(2),
            max_messages_per_room: self.max_messages_per_room,
            max_wait,
            default_wait: secs(self.default_wait).min(max_wait),
            client_idle_ttl: secs(self.client_idle_ttl),
            room_idle_ttl: secs(self.room_idle_ttl),
            // Exactly as asked: a place being long-polled stays alive through the poll however
            // long it is (see `QueueEntry::polling_until_ms`), so no floor is needed here.
            queue_ttl: secs(self.queue_ttl),
            sweep_interval: std::time::Duration::from_millis(self.sweep_interval_ms),
            progress_interval: std::time::Duration::from_millis(self.progress_interval_ms),
            ..crate::engine::Limits::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    #[test]
    fn a_bad_store_url_is_refused_without_echoing_it() {
        let err = Cli::try_parse_from([
            "mcp-chat",
            "serve",
            "--store",
            "redis://:pw123@127.0.0.1/?prefix=*",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("invalid --store"), "{err}");
        assert!(!err.contains("pw123"), "{err}");
        let ok = Cli::try_parse_from(["mcp-chat", "serve", "--store", "redis://127.0.0.1:6379"])
            .unwrap();
        let Command::Serve(args) = ok.command else {
            panic!("serve")
        };
        assert!(args.store.describe().contains("redis://127.0.0.1:6379"));
    }

    #[test]
    fn admin_takes_its_store_before_or_after_the_command() {
        use crate::cli::AdminCommand;
        use crate::engine::store::StoreSpec;
        for args in [
            &["mcp-chat", "admin", "--store", "memory", "export", "lobby"][..],
            &["mcp-chat", "admin", "export", "lobby", "--store", "memory"],
        ] {
            let Command::Admin(admin) = Cli::try_parse_from(args).unwrap().command else {
                panic!("admin")
            };
            assert_eq!(admin.store, StoreSpec::Memory);
            assert!(matches!(admin.command, AdminCommand::Export { room } if room == "lobby"));
        }
        let err = Cli::try_parse_from([
            "mcp-chat",
            "admin",
            "--store",
            "redis://:pw9@h/?prefix=*",
            "rooms",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("invalid --store") && !err.contains("pw9"),
            "{err}"
        );
        assert!(Cli::try_parse_from(["mcp-chat", "admin", "backup"]).is_err());
    }

    #[test]
    fn connection_flags_refuse_unsafe_values() {
        let serve = |flags: &[&str]| {
            Cli::try_parse_from(["mcp-chat", "serve"].iter().chain(flags)).map(|c| c.command)
        };
        for bad in [
            &["--session-idle-timeout", "60"][..],
            &["--max-connections", "0"],
            &["--idle-timeout", "0"],
            &["--allowed-origin", "https://app.example/"],
            &["--allowed-origin", "app.example"],
        ] {
            assert!(serve(bad).is_err(), "{bad:?}");
        }
        let Ok(Command::Serve(args)) = serve(&["--allowed-origin", "https://app.example"]) else {
            panic!("serve")
        };
        assert_eq!(args.allowed_origins.len(), 1);
        assert_eq!(args.connections.max_sessions(), 1000);
        assert_eq!(args.connections.session_idle_timeout().as_secs(), 1800);
    }
}

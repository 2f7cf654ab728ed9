//! What an operator watches: the server's metrics, in the Prometheus text format (OpenMetrics),
//! served on a listener of their own (`--metrics-bind`) so that they never share the public
//! port's exposure.
//!
//! One process, one set of metrics: they live in a process-wide [`Metrics`] (a `static`, like
//! the allocator) rather than being threaded through every layer that counts something (the
//! tool boundary, the engine, the stores, the HTTP layer, the Redis subscriber). Counting is
//! always on: an atomic add or a histogram observation costs less than deciding whether anyone
//! scrapes (BENCHMARKS.md measures it per message). Only the exposition needs the flag.
//!
//! Two kinds of figures:
//! - **this instance's**: tool calls and their latency, quota refusals, store operations,
//!   messages sent and delivered by this process, parked waits, MCP sessions, connections,
//!   Redis reconnects and wake-ups;
//! - **the store's** (every instance sharing it reports the same): rooms and clients, counted
//!   at each scrape, and members, counted at most every 30 s (it reads every room).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio_util::sync::CancellationToken;

use mcp_chat_shared::tools::SERVER_TOOLS;

use crate::engine::Engine;

/// The exposition's media type (what `prometheus_client` writes).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A histogram family's constructor: a plain function, so that the family's type can be named.
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ToolCall {
    /// A tool of the contract, or `unknown` (a client may name anything).
    pub tool: &'static str,
    /// `ok`, the tool error's code (`rate_limited`, `room_not_found`, …), or `protocol_error`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Refusal {
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreOp {
    pub store: &'static str,
    pub op: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RedisConnection {
    /// `commands` (the shared command connection) or `wakeups` (the subscriber's).
    pub connection: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub tool_calls: Histograms<ToolCall>,
    pub quota_refusals: Family<Refusal, Counter>,
    pub store_operations: Histograms<StoreOp>,
    pub messages_sent: Counter,
    pub messages_delivered: Counter,
    pub parked_waits: Gauge,
    pub connections: Gauge,
    pub redis_reconnects: Family<RedisConnection, Counter>,
    pub redis_wakeups: Counter,
    sessions: Gauge,
    rooms: Gauge,
    clients: Gauge,
    members: Gauge,
    census_failures: Counter,
    /// The HTTP server's session manager, read at each scrape (none over stdio).
    session_manager: OnceLock<Weak<LocalSessionManager>>,
    /// `tool_calls` of each tool (as `SERVER_TOOLS` orders them) with outcome `ok`.
    succeeded: Vec<Histogram>,
    /// When `room_members` was last counted: it reads every room (on Redis, every room's
    /// record over the network), so frequent scrapes reuse it for [`MEMBERS_MAX_AGE`].
    members_counted: Mutex<Option<Instant>>,
}

/// How old `room_members` may be at a scrape.
const MEMBERS_MAX_AGE: Duration = Duration::from_secs(30);

/// Tool calls last from half a millisecond (a send) to the longest wait (50 s by default).
fn tool_call_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        60.0,
    ])
}

/// Store operations: microseconds (a mirror read) to a second (a Redis retry).
fn store_histogram() -> Histogram {
    Histogram::new([
        0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
        0.05, 0.1, 0.25, 1.0,
    ])
}

impl Metrics {
    fn new() -> Metrics {
        let tool_calls: Histograms<ToolCall> =
            Family::new_with_constructor(tool_call_histogram as fn() -> Histogram);
        let succeeded = SERVER_TOOLS
            .iter()
            .map(|tool| {
                tool_calls.get_or_create_owned(&ToolCall {
                    tool,
                    outcome: "ok",
                })
            })
            .collect();
        let metrics = Metrics {
            registry: Registry::with_prefix("mcp_chat"),
            tool_calls,
            quota_refusals: Family::default(),
            store_operations: Family::new_with_constructor(store_histogram as fn() -> Histogram),
            messages_sent: Counter::default(),
            messages_delivered: Counter::default(),
            parked_waits: Gauge::default(),
            connections: Gauge::default(),
            redis_reconnects: Family::default(),
            redis_wakeups: Counter::default(),
            sessions: Gauge::default(),
            rooms: Gauge::default(),
            clients: Gauge::default(),
            members: Gauge::default(),
            census_failures: Counter::default(),
            session_manager: OnceLock::new(),
            succeeded,
            members_counted: Mutex::new(None),
        };
        metrics.register()
    }

    /// Registers clones (metrics share their values with their clones).
    fn register(mut self) -> Metrics {
        let r = &mut self.registry;
        r.register(
            "tool_call_duration_seconds",
            "Tool calls by tool and outcome (ok or the error code), with how long they took; \
             wait_for_message includes its wait",
            self.tool_calls.clone(),
        );
        r.register(
            "quota_refusals",
            "Requests refused by a quota, by error code (rate_limited, too_many_waits, \
             server_full, max_connections, max_sessions, …)",
            self.quota_refusals.clone(),
        );
        r.register(
            "store_operation_duration_seconds",
            "Store operations by store and operation, with how long they took (waits excluded)",
            self.store_operations.clone(),
        );
        r.register(
            "messages_sent",
            "Messages members sent through this instance",
            self.messages_sent.clone(),
        );
        r.register(
            "messages_delivered",
            "Log entries (messages and events) this instance handed to waiting members",
            self.messages_delivered.clone(),
        );
        r.register(
            "parked_waits",
            "wait_for_message calls parked on this instance",
            self.parked_waits.clone(),
        );
        r.register(
            "http_connections",
            "HTTP connections open on this instance",
            self.connections.clone(),
        );
        r.register(
            "mcp_sessions",
            "MCP sessions (2025-11-25) this instance holds",
            self.sessions.clone(),
        );
        r.register(
            "redis_reconnects",
            "Connections to Redis lost and made again, by connection",
            self.redis_reconnects.clone(),
        );
        r.register(
            "redis_wakeups",
            "Wake-ups received from other instances through Redis",
            self.redis_wakeups.clone(),
        );
        r.register("rooms", "Rooms in the store", self.rooms.clone());
        r.register(
            "clients",
            "Clients (identities) in the store",
            self.clients.clone(),
        );
        r.register(
            "room_members",
            "Members of the store's rooms, summed over rooms; counted at most every 30 s (it \
             reads every room)",
            self.members.clone(),
        );
        r.register(
            "census_failures",
            "Scrapes at which the store could not be counted (rooms, clients and room_members \
             then keep their previous values)",
            self.census_failures.clone(),
        );
        self
    }

    /// Reads the number of MCP sessions from `manager` at each scrape.
    pub fn watch_sessions(&self, manager: &Arc<LocalSessionManager>) {
        let _ = self.session_manager.set(Arc::downgrade(manager));
    }

    /// Counts one tool call. `tool` is a tool of the contract (its index in `SERVER_TOOLS`) or
    /// `None` for a name the server does not know.
    pub fn tool_call(&self, tool: Option<usize>, outcome: &'static str, started: Instant) {
        let seconds = started.elapsed().as_secs_f64();
        match (tool, outcome) {
            // The common case, without hashing labels: a few hundred nanoseconds per call.
            (Some(index), "ok") => self.succeeded[index].observe(seconds),
            _ => {
                let tool = tool.map_or("unknown", |index| SERVER_TOOLS[index]);
                self.tool_calls
                    .get_or_create(&ToolCall { tool, outcome })
                    .observe(seconds)
            }
        }
        if is_quota(outcome) {
            self.refused(outcome);
        }
    }

    pub fn refused(&self, code: &'static str) {
        self.quota_refusals.get_or_create(&Refusal { code }).inc();
    }

    /// The histogram of one store operation, for the store to keep (`store/timed.rs`).
    pub fn store_histogram(&self, store: &'static str, op: &'static str) -> Histogram {
        self.store_operations
            .get_or_create_owned(&StoreOp { store, op })
    }

    pub fn redis_reconnected(&self, connection: &'static str) {
        self.redis_reconnects
            .get_or_create(&RedisConnection { connection })
            .inc();
    }

    fn members_due(&self) -> bool {
        self.members_counted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|at| at.elapsed() >= MEMBERS_MAX_AGE)
    }

    /// The exposition, after a census of the store.
    pub async fn scrape(&self, engine: &Engine) -> String {
        let counted = async {
            let census = engine.census().await?;
            self.rooms.set(census.rooms as i64);
            self.clients.set(census.clients as i64);
            if self.members_due() {
                self.members.set(engine.members().await? as i64);
                *self
                    .members_counted
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            }
            Ok::<_, crate::engine::ChatError>(())
        };
        if let Err(e) = counted.await {
            self.census_failures.inc();
            tracing::warn!(error = %e, "metrics: cannot count the store");
        }
        if let Some(manager) = self.session_manager.get().and_then(Weak::upgrade) {
            self.sessions
                .set(manager.sessions.read().await.len() as i64);
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The error codes that mean "a quota said no" rather than "the request was wrong".
fn is_quota(code: &str) -> bool {
    matches!(
        code,
        "rate_limited"
            | "too_many_rooms"
            | "too_many_waits"
            | "server_full"
            | "room_full"
            | "room_log_full"
    )
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

/// `--metrics-bind`: `HOST:PORT`, or a port alone for loopback.
pub fn parse_bind(value: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    value.parse().map_err(|_| {
        format!("expected PORT (on loopback) or HOST:PORT, e.g. 127.0.0.1:9100, not {value:?}")
    })
}

/// Serves `GET /metrics` on `listener` until `stop`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: Arc<Engine>,
    stop: CancellationToken,
) {
    let app = Router::new()
        .route("/metrics", get(exposition))
        .with_state(engine);
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        tracing::warn!(error = %e, "the metrics listener stopped");
    }
}

async fn exposition(State(engine): State<Arc<Engine>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        metrics().scrape(&engine).await,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_is_on_loopback() {
        assert_eq!(
            parse_bind("9100").unwrap(),
            "127.0.0.1:9100".parse().unwrap()
        );
        assert_eq!(
            parse_bind("0.0.0.0:9100").unwrap(),
            "0.0.0.0:9100".parse().unwrap()
        );
        assert!(parse_bind("localhost").unwrap_err().contains("HOST:PORT"));
    }

    /// Rooms and clients are counted at every scrape; members, which reads every room, at most
    /// every 30 s.
    #[tokio::test]
    async fn the_census_counts_members_now_and_then() {
        use crate::engine::store::memory::MemoryStore;
        let engine = Engine::new(
            Arc::new(MemoryStore::new()),
            crate::engine::Limits::default(),
            CancellationToken::new(),
        );
        let m = Metrics::new();
        engine
            .join_room("one", "Ann", None, None, None)
            .await
            .unwrap();
        let first = m.scrape(&engine).await;
        assert!(first.contains("mcp_chat_room_members 1\n"), "{first}");
        engine
            .join_room("two", "Bea", None, None, None)
            .await
            .unwrap();
        let second = m.scrape(&engine).await;
        assert!(second.contains("mcp_chat_rooms 2\n"), "{second}");
        assert!(second.contains("mcp_chat_clients 2\n"), "{second}");
        assert!(
            second.contains("mcp_chat_room_members 1\n"),
            "not counted again yet"
        );
        *m.members_counted.lock().unwrap() = Some(Instant::now() - MEMBERS_MAX_AGE);
        let third = m.scrape(&engine).await;
        assert!(third.contains("mcp_chat_room_members 2\n"), "{third}");
    }

    #[test]
    fn the_exposition_names_every_metric() {
        let m = Metrics::new();
        let send = SERVER_TOOLS.iter().position(|t| *t == "send_message");
        m.tool_call(send, "rate_limited", Instant::now());
        m.tool_call(send, "ok", Instant::now());
        m.store_histogram("sqlite", "transact_room").observe(0.001);
        m.redis_reconnected("commands");
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &m.registry).unwrap();
        for line in [
            "mcp_chat_tool_call_duration_seconds_count{tool=\"send_message\",outcome=\"rate_limited\"} 1",
            "mcp_chat_tool_call_duration_seconds_count{tool=\"send_message\",outcome=\"ok\"} 1",
            "mcp_chat_tool_call_duration_seconds_count{tool=\"get_room\",outcome=\"ok\"} 0",
            "mcp_chat_quota_refusals_total{code=\"rate_limited\"} 1",
            "mcp_chat_store_operation_duration_seconds_count{store=\"sqlite\",op=\"transact_room\"} 1",
            "mcp_chat_redis_reconnects_total{connection=\"commands\"} 1",
            "mcp_chat_messages_sent_total 0",
            "mcp_chat_parked_waits 0",
            "mcp_chat_rooms 0",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}

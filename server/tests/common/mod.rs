//! Starts the real `mcp-chat` binary and connects rmcp's own client to it.
#![allow(dead_code)] // each test binary uses its own subset

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ExtensionCapabilities,
    Implementation, ProtocolVersion,
};
use rmcp::service::RunningService;
use rmcp::transport::IntoTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{ConfigureCommandExt, StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, Service};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub type Client = RunningService<RoleClient, ClientConfig>;
/// A client that declares it renders MCP Apps Views, as Claude, VS Code or an `AppBridge` host do.
pub type ViewClient = Client;
/// What a test talks through: a running client derefs to it and clones into it.
pub type Peer = rmcp::service::Peer<RoleClient>;

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-chat");

/// A protocol revision a test client speaks, with the lifecycle rmcp's client starts it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revision {
    /// No session and no `initialize`: `server/discover`, then every request carries the
    /// client's version, identity and capabilities in its `_meta` (rmcp's and the Python SDK's
    /// default).
    Stateless2026,
    /// `initialize` once, then a session (the TypeScript SDK's default, and most hosts').
    Session2025_11,
    /// The revision before, still spoken by older hosts.
    Session2025_06,
}

impl Revision {
    pub const ALL: [Revision; 3] = [
        Revision::Stateless2026,
        Revision::Session2025_11,
        Revision::Session2025_06,
    ];

    /// The revision every suite's clients speak unless a test names one: the environment's
    /// `MCP_CHAT_TEST_REVISION` (`scripts/test.sh` runs the hostile suites once more with
    /// `2026-07-28`), 2025-11-25 otherwise.
    pub fn from_env() -> Revision {
        match std::env::var("MCP_CHAT_TEST_REVISION").as_deref() {
            Err(_) | Ok("") | Ok("2025-11-25") => Revision::Session2025_11,
            Ok("2026-07-28") => Revision::Stateless2026,
            Ok("2025-06-18") => Revision::Session2025_06,
            Ok(other) => panic!("MCP_CHAT_TEST_REVISION={other} is not a revision the tests speak"),
        }
    }

    pub fn version(self) -> ProtocolVersion {
        match self {
            Revision::Stateless2026 => ProtocolVersion::V_2026_07_28,
            Revision::Session2025_11 => ProtocolVersion::V_2025_11_25,
            Revision::Session2025_06 => ProtocolVersion::V_2025_06_18,
        }
    }

    fn lifecycle(self) -> ClientLifecycleMode {
        match self {
            // Discover alone, no fallback: a server that answered as a legacy one would fail
            // the test instead of quietly being tested on the old revision.
            Revision::Stateless2026 => ClientLifecycleMode::Discover {
                preferred_versions: vec![self.version()],
            },
            Revision::Session2025_11 | Revision::Session2025_06 => ClientLifecycleMode::Initialize,
        }
    }
}

/// What a client says of itself: its revision, and whether it renders MCP Apps Views (the
/// `io.modelcontextprotocol/ui` extension with the MCP Apps MIME type, as Claude, VS Code or an
/// `AppBridge` host declare it).
pub fn client_config(revision: Revision, renders_views: bool) -> ClientConfig {
    let mut capabilities = ClientCapabilities::default();
    if renders_views {
        let mut extensions = ExtensionCapabilities::new();
        let settings =
            serde_json::to_value(mcp_apps::protocol::ClientUiCapability::apps()).unwrap();
        let Value::Object(settings) = settings else {
            unreachable!("a capability is an object")
        };
        extensions.insert(mcp_apps::protocol::EXTENSION_ID.into(), settings);
        capabilities = ClientCapabilities::builder()
            .enable_extensions_with(extensions)
            .build();
    }
    let name = if renders_views { "view-host" } else { "agent" };
    let mut config = ClientConfig::new(capabilities, Implementation::new(name, "1.0"));
    config.protocol_version = revision.version();
    config
}

/// Starts `service` (a client config or handler) on `transport`, speaking `revision`.
pub async fn connect<S, T, E, A>(
    service: S,
    transport: T,
    revision: Revision,
) -> RunningService<RoleClient, S>
where
    S: Service<RoleClient>,
    T: IntoTransport<RoleClient, E, A>,
    E: std::error::Error + Send + Sync + 'static,
{
    let client = service
        .serve_with_lifecycle(transport, revision.lifecycle())
        .await
        .unwrap_or_else(|e| panic!("MCP client connects on {revision:?}: {e}"));
    let negotiated = client.peer_info().map(|info| info.protocol_version.clone());
    assert_eq!(
        negotiated,
        Some(revision.version()),
        "the server agreed to another revision"
    );
    client
}

fn stdio_transport() -> TokioChildProcess {
    TokioChildProcess::new(Command::new(BIN).configure(|c| {
        c.arg("stdio").env("RUST_LOG", "warn");
    }))
    .expect("spawn mcp-chat stdio")
}

/// A `mcp-chat serve` process on a free loopback port, killed on drop.
pub struct HttpServer {
    pub child: Child,
    pub addr: String,
    pub url: String,
    /// Everything the server wrote to stderr (its log).
    pub log: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    pub async fn start(extra: &[&str]) -> HttpServer {
        Self::start_with_env(extra, &[]).await
    }

    /// Like [`Self::start`], with extra environment variables for the server.
    pub async fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> HttpServer {
        Self::start_bin(BIN, extra, env).await
    }

    /// Like [`Self::start_with_env`], for another build of `mcp-chat` (an installed one, say).
    pub async fn start_bin(bin: &str, extra: &[&str], env: &[(&str, &str)]) -> HttpServer {
        // Each test server gets its own store: memory unless the test names one.
        let store: &[&str] = if extra.contains(&"--store") {
            &[]
        } else {
            &["--store", "memory"]
        };
        let mut child = Command::new(bin)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(store)
            .args(extra)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn mcp-chat serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                log.lock().unwrap().push(line.clone());
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    // The address ends at the path, in a plain or a JSON line alike.
                    return rest.split('/').next().unwrap_or_default().to_owned();
                }
            }
            panic!(
                "mcp-chat exited before listening:\n{}",
                log.lock().unwrap().join("\n")
            );
        })
        .await
        .expect("mcp-chat did not start listening within 20 s");
        // Keep draining stderr so the server never blocks on a full pipe.
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        let url = format!("http://{addr}/mcp");
        HttpServer {
            child,
            addr,
            url,
            log,
        }
    }

    pub async fn client(&self) -> Client {
        self.client_with(StreamableHttpClientTransportConfig::with_uri(
            self.url.clone(),
        ))
        .await
    }

    pub async fn client_with(&self, config: StreamableHttpClientTransportConfig) -> Client {
        let revision = Revision::from_env();
        self.client_speaking(config, revision, false).await
    }

    /// A client of this server on `revision`, rendering Views or not.
    pub async fn client_speaking(
        &self,
        config: StreamableHttpClientTransportConfig,
        revision: Revision,
        renders_views: bool,
    ) -> Client {
        let transport = StreamableHttpClientTransport::from_config(config);
        connect(client_config(revision, renders_views), transport, revision).await
    }

    /// True once a log line contains `needle` (waiting up to `within`).
    pub async fn logged(&self, needle: &str, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        loop {
            if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGTERM, then waits (up to 10 s) for a clean exit.
    pub async fn terminate(&mut self) {
        self.stop_with("TERM").await;
    }

    /// Sends `signal` (`TERM`, `INT`, …), then waits (up to 10 s) for a clean exit.
    pub async fn stop_with(&mut self, signal: &str) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("the server exits within 10 s of SIG{signal}"))
            .unwrap();
        assert!(
            exit.success(),
            "clean exit on SIG{signal}, got {exit:?}\n{}",
            self.log_text()
        );
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// A `mcp-chat stdio` child process with rmcp's client on its pipes.
pub async fn stdio_client() -> Client {
    stdio_client_speaking(Revision::from_env(), false).await
}

/// A `mcp-chat stdio` child with a client that renders MCP Apps Views.
pub async fn stdio_view_client() -> ViewClient {
    stdio_client_speaking(Revision::from_env(), true).await
}

/// A `mcp-chat stdio` child with a client on `revision`, rendering Views or not.
pub async fn stdio_client_speaking(revision: Revision, renders_views: bool) -> Client {
    connect(
        client_config(revision, renders_views),
        stdio_transport(),
        revision,
    )
    .await
}

pub async fn call(client: &Peer, tool: &str, args: Value) -> CallToolResult {
    let arguments = match args {
        Value::Object(map) => map,
        other => panic!("tool arguments must be an object, got {other}"),
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool} failed at the protocol level: {e}"))
}

pub fn gzip_len(bytes: &[u8]) -> usize {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap().len()
}

/// The `structuredContent` of a successful call; panics with the text on an error result.
pub fn ok(result: &CallToolResult) -> Value {
    assert_ne!(
        result.is_error,
        Some(true),
        "tool failed: {}",
        text_of(result)
    );
    result
        .structured_content
        .clone()
        .expect("structuredContent")
}

/// Asserts the call failed with `code`, and returns the error's structured content.
pub fn err(result: &CallToolResult, code: &str) -> Value {
    assert_eq!(
        result.is_error,
        Some(true),
        "expected {code}, got success: {}",
        text_of(result)
    );
    let body = result
        .structured_content
        .clone()
        .expect("structuredContent on errors");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["status"], "error");
    body
}

pub fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `send_message`, asserting success.
pub async fn send(client: &Peer, room: &str, id: &str, text: &str) -> Value {
    ok(&call(
        client,
        "send_message",
        serde_json::json!({"room_id": room, "client_id": id, "message": text}),
    )
    .await)
}

/// `wait_for_message`, asserting success.
pub async fn wait(client: &Peer, room: &str, id: &str, timeout: f64) -> Value {
    ok(&call(
        client,
        "wait_for_message",
        serde_json::json!({"room_id": room, "client_id": id, "timeout": timeout}),
    )
    .await)
}

/// `join_room` as `name`, asserting success; returns the new member's `client_id`.
pub async fn join(client: &Peer, room: &str, name: &str) -> String {
    let r = ok(&call(
        client,
        "join_room",
        serde_json::json!({"room_id": room, "display_name": name}),
    )
    .await);
    r["client_id"].as_str().unwrap().to_owned()
}

/// Waits until `n` chat texts have arrived for `id` (or panics after 20 s); returns them all.
pub async fn receive_chats(client: &Peer, room: &str, id: &str, n: usize) -> Vec<String> {
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "only {got:?} of {n} arrived"
        );
        got.extend(chat_texts(&wait(client, room, id, 5.0).await));
    }
    got
}

/// The texts of the chat messages (not join/leave notices) in a `wait_for_message` result.
pub fn chat_texts(wait_result: &Value) -> Vec<String> {
    wait_result["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "chat")
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

/// A SQLite file path of its own for one test (`suite` names the test file, for whoever finds
/// one left behind).
pub fn temp_db(suite: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir()
        .join(format!(
            "mcp-chat-{suite}-{}-{nanos}.db",
            std::process::id()
        ))
        .display()
        .to_string()
}

/// Flags that take every rate limit out of a test's way (timing is not what it tests): sends,
/// calls, and new identities and rooms per address.
pub const NO_RATE_LIMITS: &[&str] = &[
    "--messages-per-second",
    "100000",
    "--message-burst",
    "100000",
    "--calls-per-second",
    "100000",
    "--call-burst",
    "100000",
    "--creations-per-minute",
    "100000",
    "--creation-burst",
    "100000",
];

async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A room as the Redis at `url` holds it (default key prefix).
pub async fn redis_room(url: &str, room: &str) -> Value {
    let text: String = redis::cmd("GET")
        .arg(format!("mcp-chat:room:{room}"))
        .query_async(&mut redis_connection(url).await)
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The texts of a room's chat messages, as its log in the Redis at `url` holds them.
pub async fn redis_log(url: &str, room: &str) -> Vec<String> {
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(format!("mcp-chat:log:{room}"))
        .arg("-")
        .arg("+")
        .query_async(&mut redis_connection(url).await)
        .await
        .unwrap();
    entries
        .ids
        .iter()
        .filter_map(|entry| entry.get::<String>("m"))
        .filter_map(|m| serde_json::from_str::<Value>(&m).ok())
        .filter(|m| m["kind"] == "chat")
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

//! Measures MCP Chat the way clients use it: rmcp's client over streamable HTTP (pooled
//! connections), against a server it starts itself so it can read the server's memory.
//!
//! `pairs`: P rooms of two; each round the receiver's `wait_for_message` is already pending when
//! the sender sends; latency = send start → the receiver's wait returning that message.
//! `fanout`: one room of N members; one sends, the other N−1 each have a wait pending; latency is
//! counted per receiver.
//! `idle`: N clients parked in `wait_for_message` (rooms of two); the server's memory per parked
//! client is read from `/proc`, then probe messages to random parked clients measure latency
//! while all the others stay parked.
//! A `ping` round trip on the same transport is measured first: the floor chat latency sits on.
//! `--store redis` starts a private `redis-server` on a free loopback port for the run.

use std::process::Stdio;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use futures::StreamExt;
use rmcp::model::ProtocolVersion;
use rmcp::model::{CallToolRequestParams, ClientRequest};
use rmcp::service::{Peer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Pairs,
    Fanout,
    Idle,
}

/// The MCP revision the generator's clients speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Revision {
    /// `initialize`, then sessions (`--sessions` of them).
    #[value(name = "2025-11-25")]
    Sessions,
    /// No sessions: every request carries the client's capabilities (rmcp's and the Python
    /// SDK's default). `--sessions` is then the number of clients the calls are spread over.
    #[value(name = "2026-07-28")]
    Stateless,
}

#[derive(Debug, Parser)]
#[command(about = "Load generator for MCP Chat (starts its own server to read its memory)")]
struct Args {
    /// The mcp-chat binary to start.
    #[arg(long, default_value = "target/release/mcp-chat")]
    server: String,
    /// Store for the started server: `memory`, `sqlite:PATH`, `redis://HOST:PORT`, or `redis`
    /// (starts a private redis-server for the run).
    #[arg(long, default_value = "memory")]
    store: String,
    #[arg(long, value_enum, default_value = "pairs")]
    mode: Mode,
    /// Rooms of two chatting at once.
    #[arg(long, default_value_t = 10)]
    pairs: usize,
    /// Round trips per pair (each is two messages).
    #[arg(long, default_value_t = 50)]
    rounds: usize,
    /// pairs: messages per second offered, all pairs together, each pair sending on its own
    /// schedule. Without it every pair sends as soon as its previous message arrived (and its
    /// partner's wait had 2 ms to park): the most the machine can carry.
    #[arg(long)]
    rate: Option<f64>,
    /// The MCP revision the clients speak.
    #[arg(long, value_enum, default_value = "2025-11-25")]
    revision: Revision,
    /// MCP sessions (on 2026-07-28: MCP clients) the chat clients are spread over.
    #[arg(long, default_value_t = 8)]
    sessions: usize,
    /// fanout: members of the one room.
    #[arg(long, default_value_t = 50)]
    members: usize,
    /// idle: clients parked in wait_for_message.
    #[arg(long, default_value_t = 10_000)]
    parked: usize,
    /// idle: probe messages sent (one at a time) while the others stay parked.
    #[arg(long, default_value_t = 200)]
    probes: usize,
    /// Start the server with metrics (`--metrics-bind`) and scrape them before the load, every
    /// second during it and after it; prints each series as it was at those three points.
    #[arg(long)]
    scrape: bool,
}

/// What one mode measured.
#[derive(Default)]
struct Outcome {
    latencies: Vec<Duration>,
    lost: usize,
    elapsed: Duration,
    notes: Vec<String>,
}

/// The generator shares the cores with the server: it should spend as little of them as it can.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Client = RunningService<RoleClient, ()>;

async fn tool(peer: &Peer<RoleClient>, name: &str, args: Value) -> anyhow::Result<Value> {
    let Value::Object(arguments) = args else {
        bail!("arguments must be an object")
    };
    let result = peer
        .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(arguments))
        .await?;
    if result.is_error == Some(true) {
        bail!("{name} failed: {:?}", result.structured_content);
    }
    result.structured_content.context("no structuredContent")
}

/// Calls that were sent again after a failed transport (none against a healthy server).
static RETRIED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// An `idempotency_key` unique to this run and to `call`.
fn key(call: &str) -> String {
    static RUN: OnceLock<u64> = OnceLock::new();
    let run = RUN.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 32)
    });
    format!("loadgen-{run:016x}-{call}")
}

/// [`tool`] for a call that creates something (`join_room`, `send_message`), with an
/// `idempotency_key`: a transport failure is retried with the same key, as a client should, so
/// an answer lost on the way is never a second message or a second member.
async fn keyed_tool(
    peer: &Peer<RoleClient>,
    name: &str,
    mut args: Value,
    call: &str,
) -> anyhow::Result<Value> {
    args["idempotency_key"] = Value::String(key(call));
    let mut attempt = 0;
    loop {
        match tool(peer, name, args.clone()).await {
            Err(e) if attempt < 5 && e.downcast_ref::<rmcp::ServiceError>().is_some() => {
                attempt += 1;
                RETRIED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            other => return other,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time a process has used (user + system), from `/proc/PID/stat`: on a shared machine
/// this is a steadier figure of cost than throughput.
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at field 3.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks * 1_000_000_000 / per_second)
}

/// Calls one session may carry at once.
const MAX_CONCURRENT: usize = 1024;

async fn connect(url: &str, http: &reqwest::Client, revision: Revision) -> anyhow::Result<Client> {
    let config = StreamableHttpClientTransportConfig::with_uri(url.to_owned())
        .max_concurrent_requests(MAX_CONCURRENT);
    let transport = StreamableHttpClientTransport::with_client(http.clone(), config);
    let lifecycle = match revision {
        Revision::Sessions => ClientLifecycleMode::Initialize,
        Revision::Stateless => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    };
    Ok(().serve_with_lifecycle(transport, lifecycle).await?)
}

/// The floor: a bare round trip on the same transport. `ping` where it exists; 2026-07-28
/// removed it, so there the cheapest request of every revision, `resources/list`, stands in.
async fn floor_request(client: &Client, revision: Revision) -> anyhow::Result<()> {
    match revision {
        Revision::Sessions => {
            client
                .send_request(ClientRequest::PingRequest(Default::default()))
                .await?;
        }
        Revision::Stateless => {
            client.list_resources(None).await?;
        }
    }
    Ok(())
}

/// A private redis-server for `--store redis`, stopped when dropped.
struct PrivateRedis {
    _child: tokio::process::Child,
    _dir: TempDir,
    url: String,
}

async fn start_redis() -> anyhow::Result<PrivateRedis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = TempDir::new()?;
    let child = tokio::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start redis-server (scripts/setup.sh installs it)")?;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(PrivateRedis {
                _child: child,
                _dir: dir,
                url: format!("redis://127.0.0.1:{port}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("redis-server did not start listening on port {port}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let redis = if args.store == "redis" {
        Some(start_redis().await?)
    } else {
        None
    };
    let store = redis.as_ref().map_or(args.store.clone(), |r| r.url.clone());
    let metrics = if args.scrape {
        // A free port, for the server to bind next (its log at this level does not say).
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        Some(format!("127.0.0.1:{port}"))
    } else {
        None
    };
    let metrics_flag: Vec<&str> = match &metrics {
        Some(address) => vec!["--metrics-bind", address],
        None => Vec::new(),
    };
    let mut server = tokio::process::Command::new(&args.server)
        .args(["serve", "--bind", "127.0.0.1:0", "--store", &store])
        .args(&metrics_flag)
        .args([
            "--messages-per-second",
            "100000",
            "--message-burst",
            "100000",
            "--max-rooms",
            "1000000",
            // The quotas that keep one client from exhausting a shared server: a load
            // generator is one address making thousands of clients that call flat out.
            "--calls-per-second",
            "1000000",
            "--call-burst",
            "1000000",
            "--creations-per-minute",
            "100000000",
            "--creation-burst",
            "1000000",
            "--max-connections",
            "1000000",
            "--max-sessions",
            "1000000",
            "--max-room-capacity",
            &args.members.max(2).to_string(),
        ])
        .env("RUST_LOG", "warn,mcp_chat::http=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", args.server))?;
    let pid = server.id().context("server pid")?;
    let mut lines = BufReader::new(server.stderr.take().context("stderr")?).lines();
    let url = loop {
        let line = lines
            .next_line()
            .await?
            .context("the server exited before listening")?;
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.trim().to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let (rss_idle, _) = memory_kib(pid);

    // Each session carries at most `max_concurrent_requests` calls at once: parked waiters need
    // enough sessions to hold them all.
    let wanted = match args.mode {
        Mode::Idle => args.sessions.max(args.parked.div_ceil(MAX_CONCURRENT / 2)),
        _ => args.sessions.max(1),
    };
    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for _ in 0..wanted {
        sessions.push(connect(&url, &http, args.revision).await?);
    }
    let peers: Vec<Peer<RoleClient>> = sessions.iter().map(|s| s.peer().clone()).collect();

    // The floor: a bare MCP round trip on the same transport.
    let mut pings = Vec::new();
    for _ in 0..500 {
        let start = Instant::now();
        floor_request(&sessions[0], args.revision).await?;
        pings.push(start.elapsed());
    }
    pings.sort();

    let metrics_url = metrics.map(|address| format!("http://{address}/metrics"));
    let scraper = match &metrics_url {
        Some(url) => Some(Scraper::start(http.clone(), url.clone()).await?),
        None => None,
    };
    let cpu_before = (cpu_time(&pid.to_string()), cpu_time("self"));
    let (title, mut outcome) = match args.mode {
        Mode::Pairs => (
            format!(
                "pairs: {} pairs × {} rounds, {}",
                args.pairs,
                args.rounds,
                args.rate.map_or("unpaced".to_owned(), |r| format!(
                    "{r:.0} messages/s offered"
                ))
            ),
            run_pairs(&peers, args.pairs, args.rounds, args.rate).await?,
        ),
        Mode::Fanout => (
            format!(
                "fanout: 1 room of {} members × {} messages",
                args.members, args.rounds
            ),
            run_fanout(&peers, args.members, args.rounds).await?,
        ),
        Mode::Idle => (
            format!(
                "idle: {} parked waiters, {} probes",
                args.parked, args.probes
            ),
            run_idle(&peers, args.parked, args.probes, pid, rss_idle).await?,
        ),
    };
    let cpu_used = (
        cpu_time(&pid.to_string()).saturating_sub(cpu_before.0),
        cpu_time("self").saturating_sub(cpu_before.1),
    );
    let scraped = match scraper {
        Some(scraper) => Some(scraper.finish().await?),
        None => None,
    };
    outcome.latencies.sort();
    let (rss_now, rss_peak) = memory_kib(pid);
    let delivered = outcome.latencies.len();
    let floor = percentile(&pings, 0.5);
    let p50 = percentile(&outcome.latencies, 0.5);
    let p99 = percentile(&outcome.latencies, 0.99);

    let (over, floor_name) = match args.revision {
        Revision::Sessions => ("sessions (MCP 2025-11-25)", "ping"),
        Revision::Stateless => ("clients (MCP 2026-07-28, no sessions)", "resources/list"),
    };
    println!(
        "mode {title} over {} {over}, store {}",
        sessions.len(),
        args.store
    );
    println!(
        "{floor_name} floor: p50 {} p99 {}",
        ms(floor),
        ms(percentile(&pings, 0.99))
    );
    println!("delivered {delivered}, lost {}", outcome.lost);
    println!(
        "latency: p50 {} p99 {} max {} (above the floor: p50 {} p99 {})",
        ms(p50),
        ms(p99),
        ms(outcome.latencies.last().copied().unwrap_or_default()),
        ms(p50.saturating_sub(floor)),
        ms(p99.saturating_sub(floor)),
    );
    if args.mode != Mode::Idle {
        println!(
            "throughput: {:.0} messages/s",
            delivered as f64 / outcome.elapsed.as_secs_f64()
        );
    }
    let per_message = |cpu: Duration| cpu.as_secs_f64() * 1e6 / delivered.max(1) as f64;
    println!(
        "cpu per message delivered{}: server {:.0} µs, generator {:.0} µs",
        // The idle run's CPU is mostly joining and parking the waiters, not the probes.
        if args.mode == Mode::Idle {
            " (idle: parking included)"
        } else {
            ""
        },
        per_message(cpu_used.0),
        per_message(cpu_used.1)
    );
    for note in &outcome.notes {
        println!("{note}");
    }
    if let Some(scraped) = scraped {
        scraped.print();
    }
    let repeated = REPEATED.load(std::sync::atomic::Ordering::Relaxed);
    if repeated > 0 {
        println!("entries handed out again (dropped by seq): {repeated}");
    }
    let retried = RETRIED.load(std::sync::atomic::Ordering::Relaxed);
    if retried > 0 {
        println!("calls sent again after a failed transport (same idempotency_key): {retried}");
    }
    println!("server memory: {rss_idle} KiB at start, {rss_now} KiB now, {rss_peak} KiB peak");
    let _ = server.start_kill();
    Ok(())
}

async fn run_pairs(
    peers: &[Peer<RoleClient>],
    pairs: usize,
    rounds: usize,
    rate: Option<f64>,
) -> anyhow::Result<Outcome> {
    // Every pair joins its room first; the rounds (and the clock) start together after that.
    let joined = Arc::new(tokio::sync::Barrier::new(pairs));
    let began = Arc::new(OnceLock::new());
    // With a rate, pair p sends its k-th message at start + (p + k·pairs) / rate: the pairs
    // take turns, so the offered load is even rather than in bursts.
    let gap = rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    let mut tasks = Vec::new();
    for p in 0..pairs {
        let peer = peers[p % peers.len()].clone();
        let schedule = gap.map(|gap| Schedule {
            offset: gap * p as u32,
            every: gap * pairs as u32,
        });
        let (joined, began) = (joined.clone(), began.clone());
        tasks.push(tokio::spawn(async move {
            pair(peer, p, rounds, schedule, &joined, &began).await
        }));
    }
    let mut outcome = Outcome::default();
    for t in tasks {
        let (l, missing) = t.await??;
        outcome.latencies.extend(l);
        outcome.lost += missing;
    }
    outcome.elapsed = began.get().map_or(Duration::ZERO, |b| b.elapsed());
    Ok(outcome)
}

/// Joins `room` as `name`; returns the client id, with its cursor moved past the join notices.
async fn member(
    peer: &Peer<RoleClient>,
    room: &str,
    name: &str,
    capacity: usize,
) -> anyhow::Result<String> {
    let joined = keyed_tool(
        peer,
        "join_room",
        json!({"room_id": room, "display_name": name, "capacity": capacity}),
        &format!("join-{room}-{name}"),
    )
    .await?;
    let id = joined["client_id"]
        .as_str()
        .context("client_id")?
        .to_owned();
    tool(
        peer,
        "wait_for_message",
        json!({"room_id": room, "client_id": id, "timeout": 0}),
    )
    .await?;
    Ok(id)
}

/// Entries a wait handed out again (a `seq` its receiver had seen): with several instances a
/// batch whose answer was not confirmed is repeated, and clients drop it by `seq`.
static REPEATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Waits until `text` reaches `client` (re-parking on timeouts); the instant it arrived, if it
/// did. `seen` is the highest `seq` this client has received.
async fn await_text(
    peer: Peer<RoleClient>,
    room: String,
    client: String,
    text: String,
    seen: Arc<std::sync::atomic::AtomicU64>,
) -> anyhow::Result<Option<Instant>> {
    use std::sync::atomic::Ordering::Relaxed;
    loop {
        let got = tool(
            &peer,
            "wait_for_message",
            json!({"room_id": room, "client_id": client, "timeout": 10}),
        )
        .await?;
        let mut arrived = false;
        for m in got["messages"].as_array().into_iter().flatten() {
            let seq = m["seq"].as_u64().unwrap_or(0);
            if seq <= seen.load(Relaxed) {
                REPEATED.fetch_add(1, Relaxed);
                continue;
            }
            seen.store(seq, Relaxed);
            arrived |= m["text"] == text.as_str();
        }
        if arrived {
            return Ok(Some(Instant::now()));
        }
        if got["timeout"] == true {
            return Ok(None);
        }
    }
}

async fn run_fanout(
    peers: &[Peer<RoleClient>],
    members: usize,
    messages: usize,
) -> anyhow::Result<Outcome> {
    let room = "fanout";
    let mut ids = Vec::new();
    for m in 0..members.max(2) {
        ids.push(
            member(
                &peers[m % peers.len()],
                room,
                &format!("M{m}"),
                members.max(2),
            )
            .await?,
        );
    }
    // Every member saw the later joins: move all cursors to the present.
    for (m, id) in ids.iter().enumerate() {
        tool(
            &peers[m % peers.len()],
            "wait_for_message",
            json!({"room_id": room, "client_id": id, "timeout": 0}),
        )
        .await?;
    }
    let mut outcome = Outcome::default();
    let seen: Vec<Arc<std::sync::atomic::AtomicU64>> = ids.iter().map(|_| Arc::default()).collect();
    let started = Instant::now();
    for i in 0..messages {
        let text = format!("fan-{i}");
        let waiters: Vec<_> = ids[1..]
            .iter()
            .enumerate()
            .map(|(m, id)| {
                let peer = peers[(m + 1) % peers.len()].clone();
                tokio::spawn(await_text(
                    peer,
                    room.into(),
                    id.clone(),
                    text.clone(),
                    seen[m].clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(5)).await;
        let sent_at = Instant::now();
        keyed_tool(
            &peers[0],
            "send_message",
            json!({"room_id": room, "client_id": ids[0], "message": text}),
            &text,
        )
        .await?;
        for w in waiters {
            match w.await?? {
                Some(at) => outcome.latencies.push(at - sent_at),
                None => outcome.lost += 1,
            }
        }
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

async fn run_idle(
    peers: &[Peer<RoleClient>],
    parked: usize,
    probes: usize,
    pid: u32,
    rss_idle: u64,
) -> anyhow::Result<Outcome> {
    let rooms = parked.div_ceil(2);
    // Join everyone (bounded concurrency keeps the setup from drowning the server).
    let mut members: Vec<(usize, String, String)> = Vec::with_capacity(rooms * 2);
    let joins = futures::stream::iter(0..rooms * 2)
        .map(|i| {
            let peer = peers[i % peers.len()].clone();
            async move {
                let room = format!("idle-{}", i / 2);
                let id = member(&peer, &room, &format!("P{i}"), 2).await?;
                anyhow::Ok((i, room, id))
            }
        })
        .buffer_unordered(64);
    futures::pin_mut!(joins);
    while let Some(joined) = joins.next().await {
        members.push(joined?);
    }
    members.sort();
    // Everyone moves past the partner's join, then parks in a long wait that re-parks on return.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let (rss_joined, _) = memory_kib(pid);
    for (i, room, id) in &members {
        let peer = peers[i % peers.len()].clone();
        tool(
            &peer,
            "wait_for_message",
            json!({"room_id": room, "client_id": id, "timeout": 0}),
        )
        .await?;
        let (tx, i, room, id) = (tx.clone(), *i, room.clone(), id.clone());
        tokio::spawn(async move {
            loop {
                let got = tool(
                    &peer,
                    "wait_for_message",
                    json!({"room_id": room, "client_id": id, "timeout": 50}),
                )
                .await;
                match got {
                    Ok(got) if got["messages"].as_array().is_some_and(|m| !m.is_empty()) => {
                        if tx.send((i, Instant::now())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    }
    // Let every wait arrive and park before reading the memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_parked, _) = memory_kib(pid);
    let mut outcome = Outcome::default();
    let per_client = rss_parked.saturating_sub(rss_idle) as f64 / parked as f64;
    let per_wait = rss_parked.saturating_sub(rss_joined) as f64 / parked as f64;
    outcome.notes.push(format!(
        "memory: {rss_idle} KiB empty, {rss_joined} KiB with {} clients joined, {rss_parked} KiB with all parked",
        members.len()
    ));
    outcome.notes.push(format!(
        "per parked client: {per_client:.1} KiB (of which the parked wait itself: {per_wait:.1} KiB)"
    ));
    let started = Instant::now();
    for probe in 0..probes {
        // A different room each time, spread over the whole population.
        let target = (probe * 7919) % members.len();
        let sender = target ^ 1;
        let (si, room, sid) = &members[sender.min(members.len() - 1)];
        while rx.try_recv().is_ok() {}
        let sent_at = Instant::now();
        keyed_tool(
            &peers[si % peers.len()],
            "send_message",
            json!({"room_id": room, "client_id": sid, "message": format!("probe-{probe}")}),
            &format!("probe-{probe}"),
        )
        .await?;
        let deadline = tokio::time::sleep(Duration::from_secs(10));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                got = rx.recv() => match got {
                    Some((i, at)) if i == target => { outcome.latencies.push(at - sent_at); break; }
                    Some(_) => continue,
                    None => bail!("parked waiters stopped"),
                },
                _ = &mut deadline => { outcome.lost += 1; break; }
            }
        }
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// When one pair sends, counted from the moment every pair has joined: its first message at
/// `offset`, then one every `every`.
#[derive(Clone, Copy)]
struct Schedule {
    offset: Duration,
    every: Duration,
}

/// One room of two ping-ponging; returns each message's latency and how many never arrived.
async fn pair(
    peer: Peer<RoleClient>,
    p: usize,
    rounds: usize,
    schedule: Option<Schedule>,
    joined: &tokio::sync::Barrier,
    began: &OnceLock<Instant>,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let room = format!("load-{p}");
    let ids = [
        member(&peer, &room, "A", 2).await?,
        member(&peer, &room, "B", 2).await?,
    ];
    // A saw B join: move its cursor to the present too.
    tool(
        &peer,
        "wait_for_message",
        json!({"room_id": room, "client_id": ids[0], "timeout": 0}),
    )
    .await?;
    joined.wait().await;
    let start = tokio::time::Instant::from_std(*began.get_or_init(Instant::now));
    let mut latencies = Vec::with_capacity(rounds * 2);
    let mut lost = 0;
    let seen: [Arc<std::sync::atomic::AtomicU64>; 2] = Default::default();
    for r in 0..rounds * 2 {
        let (sender, receiver) = (&ids[r % 2], &ids[(r + 1) % 2]);
        let text = format!("{p}-{r}");
        // Park the receiver's wait first, then send.
        let waiter = tokio::spawn(await_text(
            peer.clone(),
            room.clone(),
            receiver.clone(),
            text.clone(),
            seen[(r + 1) % 2].clone(),
        ));
        // The receiver's wait gets 2 ms to park; a schedule may make it wait longer. A pair
        // that fell behind its schedule sends as soon as it can.
        let parked = tokio::time::Instant::now() + Duration::from_millis(2);
        let due = schedule.map_or(parked, |s| {
            (start + s.offset + s.every * r as u32).max(parked)
        });
        tokio::time::sleep_until(due).await;
        let sent_at = Instant::now();
        keyed_tool(
            &peer,
            "send_message",
            json!({"room_id": room, "client_id": sender, "message": text}),
            &text,
        )
        .await?;
        match waiter.await?? {
            Some(arrived_at) => latencies.push(arrived_at - sent_at),
            None => lost += 1,
        }
    }
    Ok((latencies, lost))
}

/// `--scrape`: the server's metrics before, during and after the load.
struct Scraper {
    http: reqwest::Client,
    url: String,
    before: Vec<(String, String)>,
    during: tokio::task::JoinHandle<Vec<(String, String)>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// The series of a scrape that are worth a line: values, counts and sums, not every bucket.
async fn scrape(http: &reqwest::Client, url: &str) -> anyhow::Result<Vec<(String, String)>> {
    let text = http
        .get(url)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.contains("_bucket{"))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.to_owned()))
        })
        .collect())
}

impl Scraper {
    async fn start(http: reqwest::Client, url: String) -> anyhow::Result<Scraper> {
        let before = scrape(&http, &url).await.context("scraping the metrics")?;
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let during = {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let mut last = Vec::new();
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = stopped.changed() => return last,
                    }
                    if let Ok(scraped) = scrape(&http, &url).await {
                        last = scraped;
                    }
                }
            })
        };
        Ok(Scraper {
            http,
            url,
            before,
            during,
            stop,
        })
    }

    async fn finish(self) -> anyhow::Result<Scraped> {
        let _ = self.stop.send(true);
        let during = self.during.await?;
        let after = scrape(&self.http, &self.url).await?;
        Ok(Scraped {
            before: self.before,
            during,
            after,
        })
    }
}

struct Scraped {
    before: Vec<(String, String)>,
    during: Vec<(String, String)>,
    after: Vec<(String, String)>,
}

impl Scraped {
    fn print(&self) {
        let find = |scrape: &[(String, String)], series: &str| {
            scrape
                .iter()
                .find(|(s, _)| s == series)
                .map_or("-".to_owned(), |(_, v)| v.clone())
        };
        println!("metrics that moved (before → at the last scrape during the load → after):");
        let mut still = 0;
        for (series, after) in &self.after {
            let (before, during) = (find(&self.before, series), find(&self.during, series));
            if before == *after && during == *after {
                still += 1;
                continue;
            }
            println!("  {series}: {before} → {during} → {after}");
        }
        println!("  ({still} series did not move)");
    }
}

//! Measures MCP Chat the way clients use it: rmcp's client over streamable HTTP (pooled
//! connections), against a server it starts itself so it can read the server's memory.
//!
//! `pairs`: P rooms of two; each round the receiver's `wait_for_message` is already pending when
//! the sender sends; latency = send start → the receiver's wait returning that message.
//! A `ping` round trip on the same transport is measured first: the floor chat latency sits on.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use rmcp::model::{CallToolRequestParams, ClientRequest};
use rmcp::service::{Peer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Pairs,
}

#[derive(Debug, Parser)]
#[command(about = "Load generator for MCP Chat (starts its own server to read its memory)")]
struct Args {
    /// The mcp-chat binary to start.
    #[arg(long, default_value = "target/release/mcp-chat")]
    server: String,
    /// Store for the started server (`memory`, `sqlite:PATH`).
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
    /// MCP sessions the chat clients are spread over.
    #[arg(long, default_value_t = 8)]
    sessions: usize,
}

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

async fn connect(url: &str, http: &reqwest::Client) -> anyhow::Result<Client> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()).max_concurrent_requests(1024);
    let transport = StreamableHttpClientTransport::with_client(http.clone(), config);
    Ok(().serve(transport).await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut server = tokio::process::Command::new(&args.server)
        .args(["serve", "--bind", "127.0.0.1:0", "--store", &args.store])
        .args([
            "--messages-per-second",
            "100000",
            "--message-burst",
            "100000",
            "--max-rooms",
            "1000000",
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

    let http = reqwest::Client::new();
    let mut sessions = Vec::new();
    for _ in 0..args.sessions.max(1) {
        sessions.push(connect(&url, &http).await?);
    }

    // The floor: a bare MCP round trip on the same transport.
    let mut pings = Vec::new();
    for _ in 0..500 {
        let start = Instant::now();
        sessions[0]
            .send_request(ClientRequest::PingRequest(Default::default()))
            .await?;
        pings.push(start.elapsed());
    }
    pings.sort();

    let Mode::Pairs = args.mode;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..args.pairs {
        let peer = sessions[p % sessions.len()].peer().clone();
        let rounds = args.rounds;
        tasks.push(tokio::spawn(async move { pair(peer, p, rounds).await }));
    }
    let mut latencies = Vec::new();
    let mut lost = 0usize;
    for t in tasks {
        let (l, missing) = t.await??;
        latencies.extend(l);
        lost += missing;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let (rss_now, rss_peak) = memory_kib(pid);
    let delivered = latencies.len();

    println!(
        "mode pairs: {} pairs × {} rounds over {} sessions, store {}",
        args.pairs,
        args.rounds,
        sessions.len(),
        args.store
    );
    println!(
        "ping floor: p50 {} p99 {}",
        ms(percentile(&pings, 0.5)),
        ms(percentile(&pings, 0.99))
    );
    println!("delivered {delivered}, lost {lost}");
    println!(
        "latency: p50 {} p99 {} max {}",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "throughput: {:.0} messages/s",
        delivered as f64 / elapsed.as_secs_f64()
    );
    println!(
        "server memory: {} KiB at start, {} KiB now, {} KiB peak",
        rss_idle, rss_now, rss_peak
    );
    let _ = server.start_kill();
    Ok(())
}

/// One room of two ping-ponging; returns each message's latency and how many never arrived.
async fn pair(
    peer: Peer<RoleClient>,
    p: usize,
    rounds: usize,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let peer = Arc::new(peer);
    let room = format!("load-{p}");
    let a = tool(
        &peer,
        "join_room",
        json!({"room_id": room, "display_name": "A"}),
    )
    .await?;
    let b = tool(
        &peer,
        "join_room",
        json!({"room_id": room, "display_name": "B"}),
    )
    .await?;
    let ids = [
        a["client_id"].as_str().unwrap_or_default().to_owned(),
        b["client_id"].as_str().unwrap_or_default().to_owned(),
    ];
    for id in &ids {
        tool(
            &peer,
            "wait_for_message",
            json!({"room_id": room, "client_id": id, "timeout": 0}),
        )
        .await?;
    }
    let mut latencies = Vec::with_capacity(rounds * 2);
    let mut lost = 0;
    for r in 0..rounds * 2 {
        let (sender, receiver) = (&ids[r % 2], &ids[(r + 1) % 2]);
        let text = format!("{p}-{r}");
        // Park the receiver's wait first, then send.
        let waiter = {
            let peer = peer.clone();
            let (room, receiver, text) = (room.clone(), receiver.clone(), text.clone());
            tokio::spawn(async move {
                loop {
                    let got = tool(
                        &peer,
                        "wait_for_message",
                        json!({"room_id": room, "client_id": receiver, "timeout": 10}),
                    )
                    .await?;
                    if got["messages"]
                        .as_array()
                        .is_some_and(|m| m.iter().any(|m| m["text"] == text.as_str()))
                    {
                        return anyhow::Ok((Instant::now(), true));
                    }
                    if got["timeout"] == true {
                        return anyhow::Ok((Instant::now(), false));
                    }
                }
            })
        };
        tokio::time::sleep(Duration::from_millis(2)).await;
        let sent_at = Instant::now();
        tool(
            &peer,
            "send_message",
            json!({"room_id": room, "client_id": sender, "message": text}),
        )
        .await?;
        let (arrived_at, arrived) = waiter.await??;
        if arrived {
            latencies.push(arrived_at - sent_at);
        } else {
            lost += 1;
        }
    }
    Ok((latencies, lost))
}

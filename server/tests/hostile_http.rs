//! `mcp-chat serve` against clients that misbehave: connections that never finish a request or
//! go silent, too many connections or sessions, cross-site requests; and clean exits on
//! signals whatever is open.

mod common;

use std::time::{Duration, Instant};

use common::{HttpServer, Revision};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

fn initialize() -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})
}

/// How long until the server closes `tcp` (reads and discards whatever it sends first).
async fn closed_after(tcp: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(n) = tcp.read(&mut buf).await
            && n > 0
        {}
    })
    .await
    .expect("the server closes the connection within 15 s");
    start.elapsed()
}

/// Sends `request` on a new connection and returns everything read until the server closes it.
async fn exchange(addr: &str, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn sigterm_with_no_connection_exits_cleanly() {
    let mut server = HttpServer::start(&[]).await;
    server.stop_with("TERM").await;
}

/// On SIGTERM with a drain grace, `/readyz` turns 503 first while the instance still serves
/// (a load balancer moves on), then it stops as without one and exits 0.
#[tokio::test]
async fn readiness_flips_before_the_stop() {
    let mut server = HttpServer::start(&["--drain-grace", "2"]).await;
    let http = reqwest::Client::new();
    let ready = format!("http://{}/readyz", server.addr);
    let answer = http.get(&ready).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["status"], "ready");

    let pid = server.child.id().unwrap();
    let sent = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let mut draining = None;
    while sent.elapsed() < Duration::from_millis(1500) {
        let answer = http.get(&ready).send().await.unwrap();
        if answer.status() == 503 {
            draining = Some(answer.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        draining.expect("unready within the grace")["status"],
        "draining"
    );
    // Still serving meanwhile.
    let health = http
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("stops after the grace")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        sent.elapsed() >= Duration::from_secs(2),
        "not before the grace"
    );
}

#[tokio::test]
async fn sigint_with_no_connection_exits_cleanly() {
    let mut server = HttpServer::start(&[]).await;
    server.stop_with("INT").await;
}

#[tokio::test]
async fn sigterm_with_an_idle_keep_alive_connection_exits_cleanly() {
    let mut server = HttpServer::start(&[]).await;
    let mut tcp = TcpStream::connect(&server.addr).await.unwrap();
    tcp.write_all(HEALTHZ.as_bytes()).await.unwrap();
    let mut buf = [0u8; 1024];
    let n = tcp.read(&mut buf).await.unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The connection stays open, waiting for a next request.
    server.stop_with("TERM").await;
}

#[tokio::test]
async fn a_request_head_that_never_ends_is_closed() {
    let server = HttpServer::start(&["--header-read-timeout", "1", "--auth-token", "t0ken"]).await;
    let mut tcp = TcpStream::connect(&server.addr).await.unwrap();
    tcp.write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let after = closed_after(&mut tcp).await;
    assert!(
        after >= Duration::from_millis(800),
        "closed too early: {after:?}"
    );
    assert!(after < Duration::from_secs(4), "closed after {after:?}");
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let server = HttpServer::start(&["--idle-timeout", "1", "--header-read-timeout", "60"]).await;
    // Connects and says nothing.
    let mut tcp = TcpStream::connect(&server.addr).await.unwrap();
    let after = closed_after(&mut tcp).await;
    assert!(
        after >= Duration::from_millis(800),
        "closed too early: {after:?}"
    );
    assert!(after < Duration::from_secs(4), "closed after {after:?}");

    // Sends a head, then a tenth of the body it announced.
    let mut tcp = TcpStream::connect(&server.addr).await.unwrap();
    tcp.write_all(
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
          Accept: application/json, text/event-stream\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"",
    )
    .await
    .unwrap();
    let after = closed_after(&mut tcp).await;
    assert!(after < Duration::from_secs(4), "closed after {after:?}");
}

/// An MCP session over plain HTTP requests. Unlike rmcp's client, it does not resume a
/// response stream that broke, so a connection closed under a request shows as an error.
struct BareSession {
    http: reqwest::Client,
    url: String,
    id: String,
}

impl BareSession {
    async fn open(url: &str) -> BareSession {
        let http = reqwest::Client::new();
        let answer = http
            .post(url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let id = answer.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        answer.text().await.unwrap();
        let session = BareSession {
            http,
            url: url.to_owned(),
            id,
        };
        session
            .post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        session
    }

    async fn post(&self, message: Value) -> String {
        let answer = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", "2025-06-18")
            .json(&message)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        answer.text().await.expect("the whole response stream")
    }

    /// Calls `tool` and returns its structured result.
    async fn call(&self, tool: &str, arguments: Value) -> Value {
        let stream = self
            .post(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": tool, "arguments": arguments}}))
            .await;
        stream
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .find(|m| m["id"] == 7)
            .unwrap_or_else(|| panic!("no answer in the stream:\n{stream}"))["result"]
            ["structuredContent"]
            .clone()
    }
}

#[tokio::test]
async fn a_long_wait_outlives_a_shorter_idle_timeout() {
    let server = HttpServer::start(&["--idle-timeout", "3"]).await;
    let session = BareSession::open(&server.url).await;
    let joined = session
        .call(
            "join_room",
            json!({"room_id": "slow", "display_name": "Ann"}),
        )
        .await;
    let id = joined["client_id"].as_str().unwrap();
    let wait = |timeout: f64| {
        session.call(
            "wait_for_message",
            json!({"room_id": "slow", "client_id": id, "timeout": timeout}),
        )
    };
    wait(0.0).await; // past the join notice
    let start = Instant::now();
    let answer = wait(8.0).await;
    assert!(start.elapsed() >= Duration::from_millis(7500));
    assert_eq!(answer["timeout"], true, "{answer}");
}

#[tokio::test]
async fn connections_beyond_the_cap_are_turned_away() {
    let server = HttpServer::start(&["--max-connections", "2"]).await;
    let first = TcpStream::connect(&server.addr).await.unwrap();
    let _second = TcpStream::connect(&server.addr).await.unwrap();
    let busy = exchange(&server.addr, HEALTHZ).await;
    assert!(busy.starts_with("HTTP/1.1 503 "), "{busy}");
    assert!(busy.contains("\r\nRetry-After: "), "{busy}");
    assert!(busy.contains("\r\nConnection: close\r\n"), "{busy}");

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let answer = exchange(
            &server.addr,
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await;
        if answer.starts_with("HTTP/1.1 200 ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a freed slot is not reused: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sessions_beyond_the_cap_are_refused_with_a_reason() {
    let server = HttpServer::start(&["--max-sessions", "2"]).await;
    // Sessions exist only up to 2025-11-25, whatever revision the suite speaks.
    let session = || {
        let config = StreamableHttpClientTransportConfig::with_uri(server.url.clone());
        server.client_speaking(config, Revision::Session2025_11, false)
    };
    let first = session().await;
    let second = session().await;
    let http = reqwest::Client::new();
    let open = || {
        http.post(&server.url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize())
            .send()
    };
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["jsonrpc"], "2.0", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("session limit"), "{body}");

    // Sessions already open are served as before.
    assert_eq!(second.list_all_resources().await.unwrap().len(), 1);
    // A 2026-07-28 client holds no session, so the cap does not turn it away.
    let stateless = server
        .client_speaking(
            StreamableHttpClientTransportConfig::with_uri(server.url.clone()),
            Revision::Stateless2026,
            false,
        )
        .await;
    assert_eq!(stateless.list_all_resources().await.unwrap().len(), 1);
    // A session closed makes room for another.
    first.cancel().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while open().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "a closed session still counts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.cancel().await.unwrap();
}

#[tokio::test]
async fn foreign_origins_are_refused() {
    let server = HttpServer::start(&[
        "--auth-token",
        "t0ken",
        "--allowed-origin",
        "https://app.example",
    ])
    .await;
    let http = reqwest::Client::new();
    let init = |origin: Option<&str>, token: bool| {
        let mut request = http
            .post(&server.url)
            .header("accept", "application/json, text/event-stream")
            .json(&initialize());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if token {
            request = request.bearer_auth("t0ken");
        }
        request.send()
    };
    let own = format!("http://{}", server.addr);
    for (origin, status) in [
        (Some("http://evil.example"), 403),
        (Some("null"), 403),
        (Some("http://127.0.0.1:1"), 403), // same host, another port: another site
        (Some("https://app.example"), 200),
        (Some(own.as_str()), 200),
        (None, 200),
    ] {
        let answer = init(origin, true).await.unwrap();
        assert_eq!(answer.status(), status, "Origin {origin:?}");
    }
    // Refused before the token is looked at, and on every path.
    let foreign = init(Some("http://evil.example"), false).await.unwrap();
    assert_eq!(foreign.status(), 403);
    assert!(foreign.text().await.unwrap().contains("Origin"));
    let health = |origin: &str| {
        http.get(format!("http://{}/healthz", server.addr))
            .header("origin", origin)
            .send()
    };
    assert_eq!(health("http://evil.example").await.unwrap().status(), 403);
    assert_eq!(health(&own).await.unwrap().status(), 200);

    let open_null = HttpServer::start(&["--allowed-origin", "null"]).await;
    let answer = http
        .post(&open_null.url)
        .header("accept", "application/json, text/event-stream")
        .header("origin", "null")
        .json(&initialize())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

/// The browser page and its link exchange, tried from outside the page: `/chat` is served under
/// a policy that runs no script but its own, and `/chat/claim` spends a code only for a request
/// from the page's own origin, refuses a spent or made-up code with one answer, and charges every
/// attempt to the caller's address.
#[tokio::test]
async fn the_browser_page_and_its_links_hold_against_other_sites() {
    let server = HttpServer::start(&["--creations-per-minute", "1", "--creation-burst", "5"]).await;
    let http = reqwest::Client::new();
    let own = format!("http://{}", server.addr);

    let page = http.get(format!("{own}/chat")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("connect-src 'self'"));
    assert!(!policy.contains("'unsafe-eval'") && !policy.contains("script-src 'self'"));
    assert_eq!(page.headers()["x-frame-options"], "DENY");

    let c = server
        .client_speaking(
            StreamableHttpClientTransportConfig::with_uri(server.url.clone()),
            Revision::Stateless2026,
            false,
        )
        .await;
    let ann = common::join(&c, "porch", "Ann").await;
    let opened = common::ok(
        &common::call(
            &c,
            "open_chat",
            json!({"room_id": "porch", "client_id": ann}),
        )
        .await,
    );
    let url = opened["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{own}/chat#link=lnk_")), "{url}");
    let code = url.split("#link=").nth(1).unwrap().to_owned();

    let claim = |origin: Option<&str>, code: &str| {
        let mut request = http
            .post(format!("{own}/chat/claim"))
            .json(&json!({ "link": code }));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    // Another site, or no browser at all, cannot spend it.
    assert_eq!(
        claim(Some("http://evil.example"), &code)
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(claim(None, &code).await.unwrap().status(), 403);
    // The page can, once.
    let first = claim(Some(&own), &code).await.unwrap();
    assert_eq!(first.status(), 200);
    let member: Value = first.json().await.unwrap();
    assert_eq!(member, json!({"room_id": "porch", "client_id": ann}));
    let again = claim(Some(&own), &code).await.unwrap();
    assert_eq!(again.status(), 410);
    assert!(again.text().await.unwrap().contains("works once"));
    // Made-up codes get the same answer, until the address has used its allowance.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let guess = format!("lnk_{i:032x}");
        statuses.push(claim(Some(&own), &guess).await.unwrap().status().as_u16());
    }
    assert!(statuses.contains(&410), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    c.cancel().await.unwrap();
}

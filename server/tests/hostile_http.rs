//! `mcp-chat serve` against clients that misbehave: connections that never finish a request or
//! go silent, too many connections or sessions, cross-site requests; and clean exits on
//! signals whatever is open.

mod common;

use common::HttpServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

#[tokio::test]
async fn sigterm_with_no_connection_exits_cleanly() {
    let mut server = HttpServer::start(&[]).await;
    server.stop_with("TERM").await;
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

//! The skeleton, end to end: CLI, transports, the embedded View resource, health, auth, shutdown.

mod common;

use std::time::Duration;

use common::{BIN, HttpServer, gzip_len, stdio_client};
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

const VIEW_URI: &str = "ui://mcp-chat/room.html";
const MIME: &str = "text/html;profile=mcp-app";

#[test]
fn help_documents_every_flag() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    };
    let top = run(&["--help"]);
    for word in ["serve", "stdio", "RUST_LOG"] {
        assert!(top.contains(word), "--help lacks {word}:\n{top}");
    }
    let serve = run(&["serve", "--help"]);
    for flag in [
        "--bind",
        "--allowed-host",
        "--auth-token",
        "--store",
        "127.0.0.1:8000",
        "--allowed-origin",
        "--max-connections",
        "--header-read-timeout",
        "--idle-timeout",
        "--max-sessions",
        "--session-idle-timeout",
        "--view-file",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}:\n{serve}");
    }
    run(&["stdio", "--help"]);
}

/// Checks one `resources/list` + `resources/read` round and returns the document.
async fn check_view_resource(client: &common::Client) -> String {
    let listed = client.list_all_resources().await.unwrap();
    let entry = listed
        .iter()
        .find(|r| r.uri == VIEW_URI)
        .expect("the View is listed");
    assert_eq!(entry.mime_type.as_deref(), Some(MIME));
    let list_meta = serde_json::to_value(&entry.meta).unwrap();
    assert_eq!(list_meta["ui"]["prefersBorder"], json!(true));
    assert_eq!(list_meta["ui"]["csp"]["connectDomains"], json!([]));
    assert_eq!(list_meta["ui"]["csp"]["wasmUnsafeEval"], json!(true));

    let read = client
        .read_resource(ReadResourceRequestParams::new(VIEW_URI))
        .await
        .unwrap();
    assert_eq!(read.contents.len(), 1, "one document");
    let ResourceContents::TextResourceContents {
        text,
        mime_type,
        meta,
        uri,
        ..
    } = &read.contents[0]
    else {
        panic!("the View is served as text");
    };
    assert_eq!(uri, VIEW_URI);
    assert_eq!(mime_type.as_deref(), Some(MIME));
    let meta = serde_json::to_value(meta).unwrap();
    assert_eq!(meta["ui"]["csp"]["resourceDomains"], json!([]));
    assert_eq!(meta["ui"]["prefersBorder"], json!(true));
    // ChatGPT widens its policy only from its own key; nothing to widen here either.
    assert_eq!(
        meta["openai/widgetCSP"],
        json!({"connect_domains": [], "resource_domains": []})
    );
    // No sandbox domain unless the operator sets one: hosts disagree on its format, and
    // Claude refuses the View over a value not made for it.
    assert!(meta["ui"].get("domain").is_none(), "{meta}");
    assert!(meta.get("openai/widgetDomain").is_none(), "{meta}");

    assert!(text.to_ascii_lowercase().starts_with("<!doctype html>"));
    assert_eq!(text.matches("</html>").count(), 1, "exactly one document");
    for reference in [" src=", " href=", "url(", "@import"] {
        assert!(
            !text.contains(reference),
            "the View refers outside itself via {reference}"
        );
    }
    for part in [
        "WebAssembly.instantiate",
        "mcpChatJsEngine",
        "DecompressionStream",
    ] {
        assert!(
            text.contains(part),
            "the loader of both engines is inline ({part})"
        );
    }
    text.clone()
}

#[tokio::test]
async fn view_resource_over_http() {
    let server = HttpServer::start(&[]).await;
    let client = server.client().await;
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "mcp-chat");
    let html = check_view_resource(&client).await;
    println!(
        "View document: {} bytes raw, {} bytes gzip",
        html.len(),
        gzip_len(html.as_bytes())
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn view_resource_over_stdio() {
    let client = stdio_client().await;
    check_view_resource(&client).await;
    client.cancel().await.unwrap();
}

/// The document a host gets is the committed one, byte for byte: the server embeds
/// `server/assets/mcp-chat-view.html` (which `scripts/build-view.sh --check` compares with a fresh
/// build). `MCP_CHAT_BIN` points this test at another build of the binary: the test command runs
/// it again on a `cargo install --path server` made without any wasm tool on PATH
/// (`scripts/check-install.sh`).
#[tokio::test]
async fn served_view_is_the_shipped_document() {
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/mcp-chat-view.html"
    ))
    .unwrap();
    let bin = std::env::var("MCP_CHAT_BIN").unwrap_or_else(|_| BIN.to_owned());
    let server = HttpServer::start_bin(&bin, &[], &[]).await;
    let client = server.client().await;
    let served = check_view_resource(&client).await;
    client.cancel().await.unwrap();
    assert!(
        served == shipped,
        "{bin} serves {} bytes, server/assets/mcp-chat-view.html has {}",
        served.len(),
        shipped.len()
    );
}

/// `serve --view-file` (the View's developer loop): the file is read at every request, so a
/// rebuilt View reaches hosts without restarting the server, and a missing file is a clear error.
#[tokio::test]
async fn view_file_is_read_at_every_request() {
    let dir = std::env::temp_dir().join(format!("mcp-chat-view-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("view.html");
    std::fs::write(&file, "<!doctype html><p>first</p>").unwrap();
    let server = HttpServer::start(&["--view-file", file.to_str().unwrap()]).await;
    let client = server.client().await;
    let read = async || {
        let result = client
            .read_resource(ReadResourceRequestParams::new(VIEW_URI))
            .await?;
        match &result.contents[0] {
            ResourceContents::TextResourceContents { text, .. } => {
                Ok::<_, rmcp::ServiceError>(text.clone())
            }
            other => panic!("not text: {other:?}"),
        }
    };
    assert_eq!(read().await.unwrap(), "<!doctype html><p>first</p>");
    std::fs::write(&file, "<!doctype html><p>second</p>").unwrap();
    assert_eq!(read().await.unwrap(), "<!doctype html><p>second</p>");
    let listed = client.list_all_resources().await.unwrap();
    assert_eq!(
        listed[0].size,
        Some("<!doctype html><p>second</p>".len() as u64)
    );

    std::fs::remove_file(&file).unwrap();
    let error = read().await.unwrap_err().to_string();
    assert!(error.contains("view.html"), "{error}");
    client.cancel().await.unwrap();

    let refused = std::process::Command::new(BIN)
        .args(["serve", "--store", "memory", "--bind", "127.0.0.1:0"])
        .arg("--view-file")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "a missing --view-file must stop the start"
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--view-file") && stderr.contains("view.html"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn unknown_resource_is_a_clear_error() {
    let client = stdio_client().await;
    let err = client
        .read_resource(ReadResourceRequestParams::new("ui://mcp-chat/nope.html"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ui://mcp-chat/room.html"), "{err}");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn healthz_and_host_checks() {
    let server = HttpServer::start(&[]).await;
    let http = reqwest::Client::new();
    let health: Value = http
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");

    // A foreign Host header (DNS rebinding) is refused unless allowed with --allowed-host.
    let refused = http
        .post(&server.url)
        .header("host", "evil.example")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let open = HttpServer::start(&["--allowed-host", "chat.example"]).await;
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let accepted = http
        .post(&open.url)
        .header("host", "chat.example")
        .header("accept", "application/json, text/event-stream")
        .json(&init)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
}

#[tokio::test]
async fn bearer_token_is_required_when_configured() {
    let server = HttpServer::start(&["--auth-token", "s3cret-token"]).await;
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    for auth in [None, Some("Bearer wrong"), Some("s3cret-token")] {
        let mut request = http
            .post(&server.url)
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        assert_eq!(request.send().await.unwrap().status(), 401, "{auth:?}");
    }
    // /healthz stays open for load balancers.
    let health = http
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let config =
        rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
            server.url.clone(),
        )
        .auth_header("s3cret-token");
    let client = server.client_with(config).await;
    assert_eq!(client.list_all_resources().await.unwrap().len(), 1);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let mut server = HttpServer::start(&[]).await;
    let client = server.client().await;
    // A wait parked on its own connection must not hold the shutdown up: it is answered.
    let joined = common::ok(
        &common::call(
            &client,
            "join_room",
            json!({"room_id": "bye", "display_name": "Ann"}),
        )
        .await,
    );
    let id = joined["client_id"].as_str().unwrap().to_owned();
    common::wait(&client, "bye", &id, 0.0).await; // past the join notice
    let parked = {
        let client = client.peer().clone();
        tokio::spawn(async move {
            common::call(
                &client,
                "wait_for_message",
                json!({"room_id": "bye", "client_id": id, "timeout": 50}),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .expect("the server exits within 10 s of SIGTERM")
        .unwrap();
    assert!(exit.success(), "clean exit, got {exit:?}");
    let answer = tokio::time::timeout(Duration::from_secs(5), parked)
        .await
        .expect("the parked wait was answered when the server stopped");
    common::err(&answer.unwrap(), "shutting_down");
    drop(client);
}

#[tokio::test]
async fn request_heads_over_8_kib_are_refused_clearly() {
    let server = HttpServer::start(&[]).await;
    let http = reqwest::Client::new();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let post = |filler: usize| {
        http.post(&server.url)
            .header("accept", "application/json, text/event-stream")
            .header("x-filler", "f".repeat(filler))
            .json(&init)
            .send()
    };
    assert_eq!(post(6 * 1024).await.unwrap().status(), 200);
    assert_eq!(post(9 * 1024).await.unwrap().status(), 431);
    // The server is unharmed.
    assert_eq!(post(10).await.unwrap().status(), 200);
}

/// A session ended with `DELETE` is answered 204 (rmcp says 202, which the official Python SDK
/// reports as a failed termination), and is gone afterwards.
#[tokio::test]
async fn a_deleted_session_is_gone_and_says_so_plainly() {
    let server = HttpServer::start(&[]).await;
    let http = reqwest::Client::new();
    let opened = http
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let closed = http
        .delete(&server.url)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 204);
    let after = http
        .post(&server.url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", &session)
        .json(&json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 404, "the deleted session still answers");
}

/// The View's sandbox domains, set by the operator for the hosts that need them, reach the
/// resource's `_meta` in the list and in the contents; values in the wrong format are refused
/// at startup, naming the flag.
#[tokio::test]
async fn view_domains_are_the_operators_to_set() {
    let claude = "0123456789abcdef0123456789abcdef.claudemcpcontent.com";
    let server = HttpServer::start(&[
        "--ui-domain",
        claude,
        "--openai-widget-domain",
        "https://chat.example.com",
    ])
    .await;
    let client = server.client().await;
    let listed = client.list_all_resources().await.unwrap();
    let read = client
        .read_resource(ReadResourceRequestParams::new(VIEW_URI))
        .await
        .unwrap();
    let ResourceContents::TextResourceContents { meta, .. } = &read.contents[0] else {
        panic!("text")
    };
    for meta in [
        serde_json::to_value(&listed[0].meta).unwrap(),
        serde_json::to_value(meta).unwrap(),
    ] {
        assert_eq!(meta["ui"]["domain"], claude, "{meta}");
        assert_eq!(meta["openai/widgetDomain"], "https://chat.example.com");
    }

    for (flag, value) in [
        ("--ui-domain", "https://x.claudemcpcontent.com"),
        ("--ui-domain", "x.example.com/path"),
        ("--openai-widget-domain", "http://chat.example.com"),
        ("--openai-widget-domain", "chat.example.com"),
    ] {
        let out = std::process::Command::new(BIN)
            .args(["serve", "--store", "memory", flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag} {value} was accepted");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(flag), "{flag} {value}: {said}");
    }
}

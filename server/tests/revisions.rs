//! Every protocol revision the server advertises, with rmcp's client in the lifecycle each one
//! uses: 2026-07-28 (no session; capabilities ride in every request's `_meta`), 2025-11-25 and
//! 2025-06-18 (`initialize` once). Whether a client renders Views must come out the same on each:
//! a client that declares the MCP Apps extension gets `open_chat`, `load_room` and the tools'
//! View links whichever revision it speaks, and one that does not gets none of them.
//!
//! All clients of a transport talk to one server at once, interleaved, so each answer is shown
//! to be the caller's own and not whatever the last client said of itself. (Progress on a
//! stateless wait is `chat.rs`'s `a_blocked_wait_reports_progress`, which `scripts/test.sh`
//! runs on both revisions.)

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{
    Client, HttpServer, Peer, Revision, call, err, join, ok, receive_chats, stdio_client_speaking,
};
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::json;

const VIEW_URI: &str = "ui://mcp-chat/room.html";
const LINKED: [&str; 3] = ["enter_queue", "join_room", "open_chat"];
const VIEW_ONLY: [&str; 2] = ["open_chat", "load_room"];

/// One client of the matrix: what it speaks and whether it said it renders Views.
struct Caller {
    revision: Revision,
    renders_views: bool,
    /// The server serves the browser page (over HTTP): `open_chat` is offered to every client,
    /// as a link to a client that shows no View.
    has_page: bool,
    client: Client,
}

impl Caller {
    fn label(&self) -> String {
        let views = if self.renders_views {
            "with the extension"
        } else {
            "without it"
        };
        format!("{:?} {views}", self.revision)
    }
}

async fn callers(
    has_page: bool,
    mut connect_one: impl AsyncFnMut(Revision, bool) -> Client,
) -> Vec<Caller> {
    let mut callers = Vec::new();
    for revision in Revision::ALL {
        for renders_views in [true, false] {
            let client = connect_one(revision, renders_views).await;
            callers.push(Caller {
                revision,
                renders_views,
                has_page,
                client,
            });
        }
    }
    callers
}

/// What `tools/list` offers this caller: names, links and visibility.
async fn check_tool_list(caller: &Caller) {
    let label = caller.label();
    let tools = caller.client.list_all_tools().await.unwrap();
    let names: BTreeSet<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    let expected = match (caller.renders_views, caller.has_page) {
        (true, _) => 14,
        (false, true) => 13,
        (false, false) => 12,
    };
    assert_eq!(names.len(), expected, "{label}: {names:?}");
    for tool in VIEW_ONLY {
        let offered = caller.renders_views || (caller.has_page && tool == "open_chat");
        assert_eq!(
            names.contains(tool),
            offered,
            "{label}: {tool} in {names:?}"
        );
    }
    for tool in &tools {
        let name = tool.name.as_ref();
        let meta = serde_json::to_value(&tool.meta).unwrap();
        let linked = caller.renders_views && LINKED.contains(&name);
        assert_eq!(
            meta["ui"]["resourceUri"] == VIEW_URI,
            linked,
            "{label}: {name}: {meta}"
        );
        // The flat key older hosts (Claude among them) still read.
        assert_eq!(
            meta["ui/resourceUri"] == VIEW_URI,
            linked,
            "{label}: {name}: {meta}"
        );
        let hidden = meta["ui"]["visibility"] == json!(["app"]);
        assert_eq!(
            hidden,
            caller.renders_views && name == "load_room",
            "{label}: {name}"
        );
        if !caller.renders_views {
            assert!(meta.get("ui").is_none(), "{label}: {name}: {meta}");
        }
        // Optional arguments are absent-or-typed: a nullable type array makes clients that map
        // schemas onto Gemini's function declarations refuse every tool.
        let schema = serde_json::to_string(&tool.input_schema).unwrap();
        assert!(!schema.contains("\"null\""), "{label}: {name}: {schema}");
    }
}

/// A room of the caller's own, then the View-only tools: served or refused as its capabilities
/// say, on the very request that asks.
async fn check_view_calls(caller: &Caller, room: &str) {
    let label = caller.label();
    let peer: &Peer = &caller.client;
    let client_id = join(peer, room, "Ann").await;
    common::send(peer, room, &client_id, "hello").await;
    for tool in VIEW_ONLY {
        let answer = call(peer, tool, json!({"room_id": room, "client_id": client_id})).await;
        if caller.renders_views {
            let body = ok(&answer);
            // open_chat answers with the room itself, load_room with the room beside its history.
            let room_id = body.get("room").unwrap_or(&body)["room_id"].clone();
            assert_eq!(room_id, room, "{label}: {tool}: {body}");
            assert!(body.get("url").is_none(), "{label}: a View needs no link");
        } else if caller.has_page && tool == "open_chat" {
            // No View: a link to the browser page, with a one-time code and not the client_id.
            let body = ok(&answer);
            assert_eq!(body["room_id"], room, "{label}: {body}");
            let url = body["url"].as_str().unwrap();
            assert!(url.contains("/chat#link=lnk_"), "{label}: {url}");
            assert!(!url.contains(&client_id), "{label}: {url}");
        } else {
            let body = err(&answer, "view_required");
            assert!(
                body["error"].as_str().unwrap().contains(tool),
                "{label}: {body}"
            );
        }
    }
    if caller.renders_views {
        let loaded = ok(&call(
            peer,
            "load_room",
            json!({"room_id": room, "client_id": client_id}),
        )
        .await);
        let texts: Vec<&str> = loaded["history"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "chat")
            .map(|m| m["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, ["hello"], "{label}");
    }
}

/// The View resource is served alike to every caller (a host may read it before it knows which
/// tool will want it).
async fn check_view_resource(caller: &Caller) {
    let label = caller.label();
    let read = caller
        .client
        .read_resource(ReadResourceRequestParams::new(VIEW_URI))
        .await
        .unwrap_or_else(|e| panic!("{label}: resources/read: {e}"));
    let ResourceContents::TextResourceContents {
        mime_type, text, ..
    } = &read.contents[0]
    else {
        panic!("{label}: the View is text")
    };
    assert_eq!(
        mime_type.as_deref(),
        Some("text/html;profile=mcp-app"),
        "{label}"
    );
    assert!(text.to_ascii_lowercase().starts_with("<!doctype html>"));
}

async fn check_matrix(callers: &[Caller], transport: &str) {
    // Interleaved: every caller lists, then every caller calls, on the same server.
    for caller in callers {
        check_tool_list(caller).await;
    }
    for (i, caller) in callers.iter().enumerate() {
        check_view_calls(caller, &format!("rev-{transport}-{i}")).await;
    }
    for caller in callers {
        check_view_resource(caller).await;
        // Asked again after every other caller spoke: the answer is still its own.
        check_tool_list(caller).await;
    }
}

#[tokio::test]
async fn every_revision_over_http_gets_its_own_answer() {
    let server = HttpServer::start(&[]).await;
    let callers = callers(true, async |revision, renders_views| {
        let config = StreamableHttpClientTransportConfig::with_uri(server.url.clone());
        server
            .client_speaking(config, revision, renders_views)
            .await
    })
    .await;
    check_matrix(&callers, "http").await;
}

#[tokio::test]
async fn every_revision_over_stdio_gets_its_own_answer() {
    // A stdio server serves one client; each caller gets its own process.
    let callers = callers(false, stdio_client_speaking).await;
    check_matrix(&callers, "stdio").await;
}

/// Two people chat across revisions through one server: one on 2026-07-28 (no session), one on
/// 2025-11-25, and each receives every message of the other.
#[tokio::test]
async fn people_on_different_revisions_chat() {
    let server = HttpServer::start(&[]).await;
    let config = || StreamableHttpClientTransportConfig::with_uri(server.url.clone());
    let new = server
        .client_speaking(config(), Revision::Stateless2026, true)
        .await;
    let old = server
        .client_speaking(config(), Revision::Session2025_11, false)
        .await;
    let a = join(&new, "mixed", "New").await;
    let b = join(&old, "mixed", "Old").await;
    // A wait parked on the stateless client wakes for the other's message.
    let parked = {
        let new = new.peer().clone();
        let a = a.clone();
        tokio::spawn(async move { receive_chats(&new, "mixed", &a, 1).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    common::send(&old, "mixed", &b, "from 2025").await;
    assert_eq!(parked.await.unwrap(), ["from 2025"]);
    common::send(&new, "mixed", &a, "from 2026").await;
    assert_eq!(receive_chats(&old, "mixed", &b, 1).await, ["from 2026"]);
}

/// A stateless client that goes away mid-wait withdraws the wait: the server's per-client limit
/// on parked waits is free again at once, not when the wait would have timed out.
#[tokio::test]
async fn a_stateless_wait_is_withdrawn_when_its_client_goes() {
    let server = HttpServer::start(&["--max-waits-per-client", "1"]).await;
    let config = || StreamableHttpClientTransportConfig::with_uri(server.url.clone());
    let first = server
        .client_speaking(config(), Revision::Stateless2026, false)
        .await;
    let a = join(&first, "gone", "A").await;
    common::wait(&first, "gone", &a, 0.0).await;
    let parked = {
        let peer = first.peer().clone();
        let a = a.clone();
        tokio::spawn(async move {
            call(
                &peer,
                "wait_for_message",
                json!({"room_id": "gone", "client_id": a, "timeout": 40}),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The same client_id from another connection is refused while the wait is parked…
    let second = server
        .client_speaking(config(), Revision::Stateless2026, false)
        .await;
    let busy = call(
        &second,
        "wait_for_message",
        json!({"room_id": "gone", "client_id": a, "timeout": 0}),
    )
    .await;
    err(&busy, "too_many_waits");
    // …and accepted soon after the first client's connection is gone.
    parked.abort();
    first.cancel().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let answer = call(
            &second,
            "wait_for_message",
            json!({"room_id": "gone", "client_id": a, "timeout": 0}),
        )
        .await;
        if answer.is_error != Some(true) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the abandoned wait still counts 5 s after its client left: {}",
            common::text_of(&answer)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

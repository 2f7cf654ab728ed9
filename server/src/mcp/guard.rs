//! The tool boundary: what every tool call passes through, whatever the tool.
//!
//! - **A panic ends the call, not the server.** The release build unwinds; a panic inside one
//!   tool call is caught here, logged, and answered as a JSON-RPC internal error, while every
//!   other call carries on. (Locks taken inside the engine recover from poisoning.)
//! - **Argument errors are tool errors** (SEP-1303, MCP 2025-11-25): the model reads them and
//!   can retry, which it cannot do with a protocol error. An unknown tool stays a protocol error.
//! - **The caller's address** is set for the engine's per-address limits ([`source`]).

use std::panic::AssertUnwindSafe;
use std::sync::LazyLock;

use futures_util::FutureExt;
use futures_util::future::Either;
use mcp_chat_shared::chat::ErrorResult;
use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{CallToolResponse, CallToolResult, ErrorCode};
use rmcp::service::RequestContext;

use super::calls::Call;
use crate::engine::answered::AnswerHook;
use crate::engine::source::{self, Caller, PeerIp};

/// Marks an [`ErrorData`] as a failure to read the tool's arguments (see `params.rs`), so the
/// boundary can turn it into a tool error without guessing from the message.
pub const ARGUMENT_ERROR: &str = "argument_error";

/// Set to a tool's name, makes that tool panic: lets the test suite prove, against the real
/// binary, that a panic costs one call and not the process. Read once, at the first call.
pub const PANIC_HOOK_ENV: &str = "MCP_CHAT_TEST_PANIC_IN_TOOL";

static PANIC_IN_TOOL: LazyLock<Option<String>> =
    LazyLock::new(|| std::env::var(PANIC_HOOK_ENV).ok().filter(|t| !t.is_empty()));

/// Runs one call of `tool`, from `address`, behind the guards above.
///
/// Built from combinators rather than as an `async fn`: a parked `wait_for_message` keeps this
/// future alive for up to 50 s, and each `async` layer around `call` kept a copy of its state
/// (2 KiB more per parked client, measured with heaptrack).
pub fn call<F>(
    tool: &str,
    caller: Caller,
    record: Call,
    call: F,
) -> impl Future<Output = Result<CallToolResponse, ErrorData>> + use<F>
where
    F: Future<Output = Result<CallToolResponse, ErrorData>>,
{
    let call = if PANIC_IN_TOOL.as_deref() == Some(tool) {
        let message = format!("{PANIC_HOOK_ENV} asked {tool} to panic");
        Either::Left(async move { panic!("{message}") })
    } else {
        Either::Right(call)
    };
    let tool = tool.to_owned();
    source::scope(caller, AssertUnwindSafe(call).catch_unwind()).map(move |outcome| {
        let answer = match outcome {
            Ok(Err(e)) if is_argument_error(&e) => Ok(argument_error(e).into()),
            Ok(result) => result,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                tracing::error!(tool = %tool, panic = %what, "a tool call panicked; the server goes on");
                Err(ErrorData::internal_error(
                    format!("internal error in {tool}; the server logged it and is still running"),
                    None,
                ))
            }
        };
        record.end(&answer);
        answer
    })
}

/// What the HTTP layer put in the request (its source address, its [`AnswerHook`]); nothing over
/// stdio.
pub fn caller(context: &RequestContext<RoleServer>) -> Caller {
    let Some(parts) = context.extensions.get::<axum::http::request::Parts>() else {
        return Caller::default();
    };
    Caller {
        address: parts.extensions.get::<PeerIp>().map(|PeerIp(ip)| *ip),
        answered: parts.extensions.get::<AnswerHook>().cloned(),
    }
}

fn is_argument_error(e: &ErrorData) -> bool {
    e.code == ErrorCode::INVALID_PARAMS
        && e.data
            .as_ref()
            .is_some_and(|d| d.get(ARGUMENT_ERROR).is_some())
}

/// A tool error like every other (`mcp::tool_error`), with code `invalid_argument`.
fn argument_error(e: ErrorData) -> CallToolResult {
    let field = e
        .data
        .as_ref()
        .and_then(|d| d.get("field"))
        .and_then(|f| f.as_str())
        .filter(|f| !f.is_empty())
        .map(str::to_owned);
    super::tool_error(ErrorResult {
        field,
        ..ErrorResult::new("invalid_argument", e.message.to_string())
    })
}

#[cfg(test)]
mod tests {
    use rmcp::model::{ContentBlock, RequestId};
    use serde_json::json;

    use super::*;

    #[test]
    fn only_marked_argument_errors_become_tool_errors() {
        let marked = ErrorData::invalid_params(
            "invalid arguments: timeout: invalid type",
            Some(json!({ "field": "timeout", ARGUMENT_ERROR: true })),
        );
        assert!(is_argument_error(&marked));
        let result = argument_error(marked);
        assert_eq!(result.is_error, Some(true));
        let body = result.structured_content.unwrap();
        assert_eq!(body["code"], "invalid_argument");
        assert_eq!(body["field"], "timeout");

        let unknown_tool = ErrorData::invalid_params("tool not found", None);
        assert!(!is_argument_error(&unknown_tool));
    }

    #[tokio::test]
    async fn a_panic_becomes_an_internal_error() {
        let record = Call::start("send_message", None, RequestId::Number(1));
        let answer = call("send_message", Caller::default(), record, async {
            let empty: Vec<u8> = Vec::new();
            let _ = empty[usize::from(empty.is_empty())]; // out of bounds: panics
            Ok(CallToolResult::success(vec![]).into())
        })
        .await;
        let e = answer.expect_err("an error, not an answer");
        assert_eq!(e.code, ErrorCode::INTERNAL_ERROR);
        assert!(e.message.contains("send_message"), "{}", e.message);
    }

    #[tokio::test]
    async fn the_call_runs_with_its_address() {
        let record = Call::start("get_room", None, RequestId::Number(1));
        let seen = call(
            "get_room",
            Caller::at([198, 51, 100, 4].into()),
            record,
            async {
                Ok(CallToolResult::success(vec![ContentBlock::text(source::current())]).into())
            },
        )
        .await
        .unwrap();
        let CallToolResponse::Complete(result) = seen else {
            panic!("complete")
        };
        assert_eq!(result.content[0].as_text().unwrap().text, "198.51.100.4");
    }
}

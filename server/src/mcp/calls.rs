//! What every tool call leaves behind for the operator: one observation in the metrics
//! (`mcp_chat_tool_call_duration_seconds{tool, outcome}`) and one line in the log (target
//! [`TARGET`], at info: tool, outcome, duration, room, request ids). The line never holds message
//! text, names or `client_id`s: whoever reads the log must not be able to chat as a member.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use mcp_chat_shared::tools::SERVER_TOOLS;
use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, JsonObject, RequestId};

use crate::metrics::metrics;

/// The log target of the per-call lines, so that a filter can turn them on or off alone.
pub const TARGET: &str = "mcp_chat::calls";

/// Room names are at most this long (`limits.rs`); a longer argument is cut for the log.
const ROOM_IN_LOG: usize = 64;

/// Every code a tool error may carry (`ChatError::code`, and the boundary's own). A code outside
/// it is counted as `error`: label values must stay few, whatever a bug or a client sends.
const OUTCOMES: &[&str] = &[
    "invalid_argument",
    "unknown_client",
    "room_not_found",
    "not_a_member",
    "room_full",
    "room_ended",
    "already_a_member",
    "not_queued",
    "rate_limited",
    "too_many_rooms",
    "too_many_waits",
    "server_full",
    "room_log_full",
    "invite_required",
    "invalid_invite",
    mcp_chat_shared::chat::ErrorResult::REMOVED,
    "not_allowed",
    "room_exists",
    "shutting_down",
    "storage_error",
    "view_required",
];

/// One tool call being served.
pub struct Call {
    /// Its index in `SERVER_TOOLS`; `None` for a name the server does not know.
    tool: Option<usize>,
    /// For the log line, kept only when it is written.
    room: Option<Box<str>>,
    rpc_id: RequestId,
    started: Instant,
}

/// Whether the per-call lines are written (the subscriber caches the answer per call site).
fn logging() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

impl Call {
    /// Starts the clock on a call of `tool` with `arguments`.
    pub fn start(tool: &str, arguments: Option<&JsonObject>, rpc_id: RequestId) -> Call {
        let room = arguments
            .filter(|_| logging())
            .and_then(|a| a.get("room_id"))
            .and_then(|v| v.as_str())
            .map(|room| room.chars().take(ROOM_IN_LOG).collect());
        Call {
            tool: SERVER_TOOLS.iter().position(|known| *known == tool),
            room,
            rpc_id,
            started: Instant::now(),
        }
    }

    /// Records the call's end with its `answer`.
    pub fn end(self, answer: &Result<CallToolResponse, ErrorData>) {
        let outcome = outcome(answer);
        metrics().tool_call(self.tool, outcome, self.started);
        if logging() {
            let room = self.room.as_deref().or_else(|| room_in(answer));
            static NEXT: AtomicU64 = AtomicU64::new(1);
            tracing::info!(
                target: TARGET,
                tool = self.tool.map_or("unknown", |index| SERVER_TOOLS[index]),
                outcome,
                duration_ms = (self.started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
                room,
                request_id = NEXT.fetch_add(1, Ordering::Relaxed),
                rpc_id = %self.rpc_id,
                "tool call"
            );
        }
    }
}

/// `ok`, the tool error's code, or `protocol_error` (an unknown tool, a panic).
fn outcome(answer: &Result<CallToolResponse, ErrorData>) -> &'static str {
    match answer {
        Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
            let code = result
                .structured_content
                .as_ref()
                .and_then(|body| body.get("code"))
                .and_then(|code| code.as_str());
            code.and_then(|code| OUTCOMES.iter().find(|known| **known == code))
                .copied()
                .unwrap_or("error")
        }
        Ok(_) => "ok",
        Err(_) => "protocol_error",
    }
}

/// The room a call without a `room_id` argument ended up in (`enter_queue`'s pairing).
fn room_in(answer: &Result<CallToolResponse, ErrorData>) -> Option<&str> {
    let Ok(CallToolResponse::Complete(result)) = answer else {
        return None;
    };
    result
        .structured_content
        .as_ref()?
        .get("room_id")?
        .as_str()
        .filter(|room| room.len() <= ROOM_IN_LOG)
}

#[cfg(test)]
mod tests {
    use mcp_chat_shared::chat::ErrorResult;
    use rmcp::model::{CallToolResult, ContentBlock};

    use super::*;

    fn error(code: &str) -> Result<CallToolResponse, ErrorData> {
        Ok(super::super::tool_error(ErrorResult::new(code, "x")).into())
    }

    #[test]
    fn outcomes_are_few_and_named() {
        assert_eq!(outcome(&error("rate_limited")), "rate_limited");
        assert_eq!(outcome(&error("made_up_by_a_bug")), "error");
        assert_eq!(
            outcome(&Ok(
                CallToolResult::success(vec![ContentBlock::text("hi")]).into()
            )),
            "ok"
        );
        assert_eq!(
            outcome(&Err(ErrorData::invalid_params("tool not found", None))),
            "protocol_error"
        );
        let call = Call::start("no_such_tool", None, RequestId::Number(1));
        assert_eq!(call.tool, None);
    }

    /// Every code the engine can answer with is a label of its own.
    #[test]
    fn every_engine_code_is_an_outcome() {
        use crate::engine::ChatError;
        use std::time::Duration;
        for e in [
            ChatError::UnknownClient,
            ChatError::RoomNotFound("r".into()),
            ChatError::NotAMember("r".into()),
            ChatError::RoomEnded("r".into()),
            ChatError::AlreadyMember("r".into()),
            ChatError::NotQueued,
            ChatError::RateLimited {
                retry_after: Duration::ZERO,
                what: "x".into(),
            },
            ChatError::TooManyWaits { limit: 1 },
            ChatError::InvalidInvite,
            ChatError::ShuttingDown,
            ChatError::Storage("x".into()),
        ] {
            assert!(OUTCOMES.contains(&e.code()), "{}", e.code());
        }
    }
}

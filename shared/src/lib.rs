//! Types shared by the MCP Chat server and its View.
//!
//! This crate has no runtime dependency (no tokio, no browser): it compiles for native targets
//! and for `wasm32-unknown-unknown`, so both sides agree on every message by construction.
//!
//! - [`jsonrpc`]: JSON-RPC 2.0 framing as the View and its host exchange it.
//! - [`apps`]: MCP Apps messages (handshake, host context, notifications, resource metadata).
//! - [`chat`]: chat messages and the MCP tools' parameters and results.
//! - [`model_text`]: messages as the model reads them, one message never passing for two.

pub mod apps;
pub mod chat;
pub mod json;
pub mod jsonrpc;
pub mod model_text;

//! Types shared by the MCP Chat server and its View.
//!
//! This crate has no runtime dependency (no tokio, no browser): it compiles for native targets
//! and for `wasm32-unknown-unknown`, so both sides agree on every message by construction.
//!
//! The MCP Apps protocol itself (JSON-RPC framing, host messages, UI metadata) lives in the
//! `mcp-apps` crate; this one holds only what is about chat.
//!
//! - [`chat`]: chat messages and the MCP tools' parameters and results.
//! - [`tools`]: the tool contract — each tool's name with its parameter and result types, for
//!   the server's tools, the View's calls to them, and the tools the View offers the model.
//! - [`model_text`]: messages as the model reads them, one message never passing for two.

#[macro_use]
mod declare;

pub mod chat;
pub mod model_text;
pub mod tools;

/// The JSON readers the chat types are written with (re-exported from `mcp-apps`).
pub use mcp_apps::json;

#[cfg(test)]
mod reader_tests;

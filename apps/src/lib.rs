//! MCP Apps for Rust: write the View of an MCP App in Rust, and declare it from a Rust server.
//!
//! [MCP Apps](https://github.com/modelcontextprotocol/ext-apps) (SEP-1865, protocol
//! `2026-01-26`) lets an MCP server ship an interactive HTML View that hosts (Claude, ChatGPT,
//! VS Code, Goose…) render in a sandboxed iframe beside the conversation. The View talks to its
//! host over `postMessage` JSON-RPC: a handshake, the tool call that opened it, calls back to the
//! server, messages into the conversation, and tools of its own the model can call.
//!
//! - [`protocol`] (every target): the messages, and the `_meta` a server puts on its UI
//!   resources and tools ([`protocol::ResourceUiMeta`], [`protocol::ToolUiMeta`]), and the
//!   client capability that says whether a client renders Views at all.
//! - [`declare`] (every target): [`json_struct!`] and [`json_enum!`], which declare a wire type
//!   once and give it serde derives and the small readers and writers of [`json`] alike; the
//!   protocol types are declared with them.
//! - [`jsonrpc`] and [`json`] (every target): the framing, and small JSON readers that keep a
//!   WebAssembly View small (no serde derive is instantiated on the View's side).
//! - `App` (wasm32 only): the View's side, the Rust counterpart of the JavaScript `App` class of
//!   `@modelcontextprotocol/ext-apps` 2.0: connect, host context, every request and notification,
//!   app-provided tools, cancellation, auto-resize and the host's theme. Framework-agnostic:
//!   plain callbacks and futures.
//! - `host` (wasm32, feature `host`): the host's side, the Rust counterpart of `AppBridge`:
//!   mount a View in a sandboxed iframe under its declared policy ([`sandbox`]), answer its
//!   handshake, deliver tool input and results, route its requests to the embedder's handlers,
//!   call its own tools, tear it down.
//! - [`sandbox`] (every target): the View's Content-Security-Policy and iframe attributes.
//! - `testing` (wasm32, feature `testing`): a host played from a same-origin iframe, so an App's
//!   conversation with its host can be tested with `wasm-bindgen-test` in a headless browser.
//!
//! The crate's README has a complete minimal App and a table of the specification's messages
//! against this API.

#![warn(missing_docs)]

#[macro_use]
pub mod declare;
pub mod json;
pub mod jsonrpc;
pub mod protocol;
pub mod sandbox;

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
pub use app::*;

#[cfg(all(target_arch = "wasm32", feature = "testing"))]
pub mod testing;

#[cfg(all(target_arch = "wasm32", feature = "host"))]
pub mod host;

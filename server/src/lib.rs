//! MCP Chat server: chat rooms for people and AI agents over the Model Context Protocol.
//!
//! - [`cli`]: the command line.
//! - [`admin`]: `mcp-chat admin`, operator commands on a store, and the socket a server on a
//!   SQLite store answers them on.
//! - [`engine`]: the chat itself (rooms, queue, delivery, expiry) and its stores; knows no MCP.
//! - [`mcp`]: the MCP adapter (tools and the UI resource).
//! - [`view`]: the embedded View document.
//! - [`http`], [`stdio`]: the two transports.
//! - [`shutdown`]: signals to cancellation.
//! - `testing` (tests, or the `testing` feature): a throwaway Redis server for the tests that
//!   need one.

pub mod admin;
pub mod cli;
pub mod engine;
pub mod http;
pub mod mcp;
pub mod metrics;
pub mod shutdown;
pub mod stdio;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod view;

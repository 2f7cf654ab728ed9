#!/usr/bin/env bash
# Runs every check and test suite: the shipped View and browser page against fresh builds of their sources,
# formatting, clippy (native and wasm32), the native unit and integration tests, the browser
# tests of mcp-apps and of the View (wasm-pack, headless Chromium), the end-to-end chat scenarios
# and the example App (examples/hello-app) in real hosts under both CSPs (JavaScript and
# WebAssembly engines), then the View build's reproducibility and `cargo install` with Rust alone.
# Installs what is missing first (scripts/setup.sh), so it works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
# setup.sh installs redis-server: here the Redis tests must run (a plain `cargo test` on a machine
# without it skips them, saying so).
export MCP_CHAT_REQUIRE_REDIS=1

stage() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

stage "Setup"
scripts/setup.sh

stage "The shipped View document is what its sources build"
# Fails, naming the refresh command, when server/assets/mcp-chat-view.html is stale: a View change
# must be committed with its rebuilt document. Everything below tests the shipped document.
scripts/build-view.sh --check

stage "The shipped browser page (/chat) is what its sources build"
scripts/build-view.sh --page --check

stage "Format"
cargo fmt --all -- --check

stage "Clippy (native)"
cargo clippy --locked --workspace --exclude mcp-chat-view --all-targets -- -D warnings

stage "Clippy (wasm32)"
cargo clippy --locked --target wasm32-unknown-unknown -p mcp-apps -p mcp-chat-view -p mcp-chat-shared -p hello-app -p mcp-chat-page --all-targets -- -D warnings

stage "mcp-apps documentation (rustdoc on every public item, no warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p mcp-apps
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p mcp-apps --target wasm32-unknown-unknown --features testing,host

stage "mcp-apps packages as a crate on its own (cargo package: its files, metadata, a build from the package)"
# --allow-dirty: a working tree with changes elsewhere must not fail the suite; the package is
# still built from what it would contain.
cargo package --locked --allow-dirty -p mcp-apps

stage "Native tests (unit + integration against the real binary)"
cargo test --locked -p mcp-apps -p mcp-chat-shared -p mcp-chat -p mcp-chat-view-bundle

stage "The chat and hostile suites again on MCP 2026-07-28 (no sessions, capabilities per request)"
# The suites above speak 2025-11-25 (initialize, then a session); rmcp's and the Python SDK's
# clients speak 2026-07-28 by default. Quotas, limits and every tool must hold on both.
# (tests/revisions.rs, above, checks each revision with and without the MCP Apps extension.)
MCP_CHAT_TEST_REVISION=2026-07-28 cargo test --locked -p mcp-chat --test chat --test hostile_tools --test hostile_http

stage "The official Python SDK client (both modes: 2026-07-28 and legacy), over HTTP and stdio"
tools/python-interop/.venv/bin/python tools/python-interop/interop.py target/debug/mcp-chat

stage "The official conformance suite (both requirement sets) and the MCP Inspector's App checks"
scripts/protocol-check.sh target/debug/mcp-chat

stage "Load generator smoke run (debug build: checks nothing is lost, not how fast)"
cargo build --locked -p mcp-chat-loadgen
scripts/loadgen-smoke.sh target/debug/mcp-chat-loadgen target/debug/mcp-chat

stage "mcp-apps browser tests (wasm-pack, headless Chromium)"
wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install apps

stage "View browser tests (wasm-pack, headless Chromium)"
wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install view

stage "The example App on mcp-apps (examples/hello-app): its View and its tiny server"
scripts/build-view.sh --app examples/hello-app
cargo build --locked -p hello-app --bin hello-app-server

stage "In Chromium: the View under the MCP Apps default CSP (JavaScript engine), the browser page, the official example Views in the Rust host"
# Uses the debug binary the native tests just built. The timeout catches hangs, not slowness: a
# file's scenarios take about two minutes here (one waits out a server restart), so it is wide.
# The default policy refuses WebAssembly, so the View must run its wasm2js engine; the chat
# scenarios (in hosts and in the browser page) then run again where it may compile. The
# official example Views (npm, with their servers) run on mcp-apps' `basic_host` example.
E2E_CSP=strict node --test --test-timeout=300000 e2e/

stage "End-to-end chat, the browser page and the example App under a CSP with 'wasm-unsafe-eval' (WebAssembly engine)"
E2E_CSP=wasm node --test --test-timeout=300000 e2e/chat.test.mjs e2e/example-app.test.mjs e2e/browser-page.test.mjs

stage "The View build is reproducible, and the staleness check catches a source change"
scripts/check-view-reproducible.sh

stage "cargo install --path server with Rust alone serves the shipped View"
scripts/check-install.sh

stage "All test suites passed"

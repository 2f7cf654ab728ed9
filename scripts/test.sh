#!/usr/bin/env bash
# Runs every check and test suite: formatting, clippy (native and wasm32), the native unit and
# integration tests, the View's browser tests (wasm-pack, headless Chromium), and the shipped
# View document booting in Chromium from the real server.
# Installs what is missing first (scripts/setup.sh), so it works on a fresh clone.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

stage() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

stage "Setup"
scripts/setup.sh

stage "Build the View"
scripts/build-view.sh

stage "Format"
cargo fmt --all -- --check

stage "Clippy (native)"
cargo clippy --locked --workspace --exclude mcp-chat-view --all-targets -- -D warnings

stage "Clippy (wasm32)"
cargo clippy --locked --target wasm32-unknown-unknown -p mcp-chat-view -p mcp-chat-shared --all-targets -- -D warnings

stage "Native tests (unit + integration against the real binary)"
cargo test --locked -p mcp-chat-shared -p mcp-chat

stage "View browser tests (wasm-pack, headless Chromium)"
wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver --mode no-install view

stage "View document in Chromium (Node test runner, playwright-core)"
# Uses the debug binary the native tests just built.
node --test --test-timeout=120000 e2e/

stage "All test suites passed"

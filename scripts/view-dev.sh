#!/usr/bin/env bash
# The View's developer loop: builds the View and a debug server, then serves two people in one
# room through the end-to-end suite's MCP Apps host page (the official AppBridge) at
# http://127.0.0.1:8100/dev. A change under view/, apps/ or shared/ rebuilds the View (refreshing the
# shipped document, server/assets/mcp-chat-view.html) and reloads both people; no MCP host needed.
#
#   scripts/view-dev.sh [--port N]     (the page takes ?csp=wasm and ?people=Ada,Bo,Cy)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

scripts/setup.sh --view
echo "==> Building the server (debug)" >&2
cargo build --locked -p mcp-chat
scripts/build-view.sh
export MCP_CHAT_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/mcp-chat"
exec node scripts/lib/view-dev.mjs "$@"

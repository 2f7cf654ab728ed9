#!/usr/bin/env bash
# Runs MCP Chat: builds the server and serves MCP over streamable HTTP on loopback.
#
#   scripts/run.sh [--release] [mcp-chat serve arguments…]      (see `mcp-chat serve --help`)
#
# Needs Rust alone: the View is shipped built (server/assets/mcp-chat-view.html) and embedded by
# the compiler, so nothing else is installed here. The tools that build the View and run the
# tests are installed by scripts/test.sh (through scripts/setup.sh).
#
# It builds Cargo's `quick` profile (see Cargo.toml): listening within three minutes of a fresh
# clone on two cores, where the optimised release build takes about seven. `--release` builds
# that one instead, the build to deploy (as `cargo install --locked --path server` does).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || {
  echo "error: cargo is missing: install Rust (https://rustup.rs), then run this again" >&2; exit 1; }
profile=quick
if [ "${1:-}" = --release ]; then
  profile=release
  shift
fi
echo "==> Building the server (profile $profile; a first build takes minutes, later ones seconds)" >&2
cargo build --profile "$profile" --locked -p mcp-chat

bind=127.0.0.1:8000
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --bind) bind=${args[$((i + 1))]:-$bind} ;;
    --bind=*) bind=${args[$i]#--bind=} ;;
  esac
done
url="http://$bind/mcp"
bin="${CARGO_TARGET_DIR:-$PWD/target}/$profile/mcp-chat"

cat <<TXT

MCP Chat is starting at $url   (Ctrl-C stops it)

Claude Code:
  claude mcp add --transport http mcp-chat $url

Claude Desktop (claude_desktop_config.json; mcp-remote bridges its stdio to this server):
  { "mcpServers": { "mcp-chat": { "command": "npx", "args": ["-y", "mcp-remote", "$url"] } } }

VS Code (.vscode/mcp.json):
  { "servers": { "mcp-chat": { "type": "http", "url": "$url" } } }

A private server for one stdio client instead:
  { "command": "$bin", "args": ["stdio"] }

TXT
exec "$bin" serve "$@"

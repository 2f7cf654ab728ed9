#!/usr/bin/env bash
# `cargo install --path server` works with Rust alone: with none of the View's tools on PATH
# (trunk, wasm-bindgen, wasm-opt, wasm2js, esbuild, wasm-pack), it installs a `mcp-chat`
# whose `serve` hands hosts the shipped View document, byte for byte (the integration test
# `served_view_is_the_shipped_document`, pointed at the installed binary).
#
# Run by scripts/test.sh after `scripts/build-view.sh --check`, which proved the shipped document
# equal to a fresh build: together, the installed server serves what the sources build.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-chat-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

# A PATH with Rust and the system's basics only.
mkdir -p "$work/path"
for tool in cargo rustc rustup; do
  found=$(command -v "$tool" || true)
  [ -n "$found" ] && ln -s "$found" "$work/path/$tool"
done
rust_only_path="$work/path:/usr/bin:/bin"
for tool in trunk wasm-bindgen wasm-opt wasm2js esbuild wasm-pack; do
  if PATH=$rust_only_path command -v "$tool" >/dev/null; then
    echo "error: $tool is on the Rust-only PATH ($(PATH=$rust_only_path command -v "$tool")): this check would prove nothing" >&2
    exit 1
  fi
done

echo "==> cargo install --locked --path server (PATH: Rust only)" >&2
# The workspace's own target directory: a release build made earlier is reused.
PATH=$rust_only_path cargo install --locked --path server --root "$work/install" --target-dir target
installed=$work/install/bin/mcp-chat
"$installed" --version

echo "==> The installed mcp-chat serve hands hosts the shipped View" >&2
MCP_CHAT_BIN=$installed cargo test --locked -p mcp-chat --test foundation -- --exact served_view_is_the_shipped_document

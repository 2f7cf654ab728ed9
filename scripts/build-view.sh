#!/usr/bin/env bash
# Builds the View with trunk into target/view-dist/. The server's build.rs then folds it into one
# self-contained HTML document and embeds it. Incremental: a second run with no change is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm's binaryen (wasm-opt 132) must come before any other wasm-opt on PATH (see Trunk.toml).
export PATH="$PWD/node_modules/.bin:$PATH"
for tool in trunk wasm-bindgen wasm-opt; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing; run scripts/setup.sh first" >&2; exit 1; }
done

echo "==> Building the View (trunk, release)" >&2
# trunk runs cargo offline (it cannot download tools here); make sure the crates are fetched.
cargo fetch --locked --target wasm32-unknown-unknown >/dev/null 2>&1 || cargo fetch --target wasm32-unknown-unknown
trunk --offline=true build --release
wasm=target/view-dist/mcp-chat-view_bg.wasm
echo "    $(wc -c <"$wasm") bytes of wasm, $(gzip -9 -c "$wasm" | wc -c) gzipped" >&2

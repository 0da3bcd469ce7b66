#!/usr/bin/env bash
# Error store benchmark: starts pharos on a free port with a fresh data directory and one
# project, sends EVENTS Sentry envelopes (error events from 200 distinct stacks, so grouping runs
# for real) with CONCURRENCY parallel senders, and prints events/s ingested (fsync'd before every
# 200), then the p50/p99 of the issue-list query over those events (sorted by last seen, count,
# users; filtered by free text), and pharos' resident memory.
#
#   bash bench/errors.sh                   # 100,000 events
#   EVENTS=5000 bash bench/errors.sh       # quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-100000}
CONCURRENCY=${CONCURRENCY:-32}
[ -x "${PHAROS_BIN:-}" ] || { cargo build --release --bin pharos >/dev/null; PHAROS_BIN=./target/release/pharos; }
work=$(mktemp -d /tmp/pharos-bench-errors.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'errors:\n  max_events_per_second: 0\n  projects:\n    - {id: 1, name: bench, keys: [0123456789abcdef0123456789abcdef]}\n' > "$work/pharos.yml"
"$PHAROS_BIN" serve --config "$work/pharos.yml" --listen "127.0.0.1:$port" --data "$work/data" 2>"$work/pharos.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done
node bench/errors_bench.mjs "http://127.0.0.1:$port" "$EVENTS" "$CONCURRENCY"
echo "pharos resident memory: $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$pid/status)"

#!/usr/bin/env bash
# Traces benchmark: starts pharos on a free port with a fresh data directory and drives it with
# pharos-bench-traces (pre-encoded OTLP/HTTP protobuf requests), printing spans/s ingested, bytes
# per span on disk, trace-by-id and search latencies, and pharos' resident memory after all
# spans (most of them compacted into segment files by then: the head keeps 100k spans), then
# kills pharos with -9, restarts it and checks every span is still there.
#
#   bash bench/traces.sh                       # 100,000 traces x 10 spans = 1M spans
#   TRACES=10000 bash bench/traces.sh          # quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
TRACES=${TRACES:-100000}
SPANS=${SPANS:-10}
CONCURRENCY=${CONCURRENCY:-4}
cargo build --release --bin pharos --bin pharos-bench-traces >/dev/null
work=$(mktemp -d /tmp/pharos-bench-traces.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'traces:\n  span_metrics:\n    flush_interval: 15s\n' > "$work/pharos.yml"
./target/release/pharos serve --config "$work/pharos.yml" --listen "127.0.0.1:$port" --data "$work/data" 2>"$work/pharos.log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.2; done
./target/release/pharos-bench-traces --url "http://127.0.0.1:$port" --data "$work/data" \
  --traces "$TRACES" --spans-per-trace "$SPANS" --concurrency "$CONCURRENCY"
echo "pharos resident memory after $((TRACES * SPANS)) spans: $(awk '/VmRSS/ {printf "%.0f MB", $2/1024}' /proc/$pid/status)"
store() { curl -sf "http://127.0.0.1:$port/metrics" | awk '/^pharos_trace_store_(spans|head_spans|segments|segment_bytes) / {printf "%s=%s ", $1, $2}'; }
echo "store: $(store)"
start=$(date +%s.%N)
kill -9 $pid; wait $pid 2>/dev/null || true
./target/release/pharos serve --config "$work/pharos.yml" --listen "127.0.0.1:$port" --data "$work/data" 2>"$work/pharos2.log" &
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null && break; sleep 0.1; done
echo "restart after kill -9 (segments loaded, WAL tail replayed) until ready: $(echo "$(date +%s.%N) - $start" | bc) s"
echo "store after restart: $(store)"

#!/usr/bin/env bash
# Range-query benchmark: pharos and Debian's Prometheus (when installed) on free local ports with
# fresh data directories, both fed the same seeded dashboard dataset by pharos-bench-query
# (50 gauges, 50 counters, 5 classic histograms x 10 buckets; 24 h at 15 s), then the
# dashboard's range queries timed side by side.
#
#   bash bench/query.sh              # 24 h, 7 runs per query
#   HOURS=2 RUNS=3 bash bench/query.sh   # quick smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
HOURS=${HOURS:-24}
RUNS=${RUNS:-7}
cargo build --release --bin pharos --bin pharos-bench-query >/dev/null
work=$(mktemp -d /tmp/pharos-bench-query.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pp=$(free_port)
printf 'collectors: {self: {enabled: false}, host: {enabled: false}}\nsecurity: {enabled: false}\n' > "$work/pharos.yml"
./target/release/pharos serve --config "$work/pharos.yml" --listen "127.0.0.1:$pp" --data "$work/pharos" 2>"$work/pharos.log" &
targets=(--target "pharos=http://127.0.0.1:$pp")
urls=("http://127.0.0.1:$pp")
if command -v prometheus >/dev/null; then
  mp=$(free_port)
  printf 'global:\n  scrape_interval: 1h\n' > "$work/prometheus.yml"
  prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
    --web.listen-address="127.0.0.1:$mp" --web.enable-remote-write-receiver 2>"$work/prometheus.log" &
  targets+=(--target "prometheus=http://127.0.0.1:$mp")
  urls+=("http://127.0.0.1:$mp")
fi
for url in "${urls[@]}"; do
  for _ in $(seq 100); do curl -sf "$url/-/ready" >/dev/null && break; sleep 0.2; done
done
./target/release/pharos-bench-query --hours "$HOURS" --runs "$RUNS" "${targets[@]}"

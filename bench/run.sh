#!/usr/bin/env bash
# Side-by-side benchmark: pharos vs Debian's Prometheus on the same node-exporter-like dataset.
# Starts both servers on free local ports with fresh data directories, drives them with
# pharos-bench (identical pre-encoded remote_write requests, same concurrency), prints a table.
#
#   bash bench/run.sh                      # 525 hosts (100,275 series), 4 h of 15 s samples
#   HOSTS=50 HOURS=1 SETTLE=10 bash bench/run.sh   # quick smoke run
#   bash bench/run.sh series               # 1 M active series, 15 min: RSS per active series
#   PHAROS_BIN=/path/to/pharos bash bench/run.sh   # another pharos build (before/after)
set -euo pipefail
cd "$(dirname "$0")/.."
# `bash bench/run.sh traces`: the traces benchmark (bench/traces.sh; OTLP ingest, bytes/span, query latency).
if [ "${1:-}" = traces ]; then exec bash bench/traces.sh; fi
# `bash bench/run.sh scrape`: the scrape benchmark (bench/scrape.sh; pharos and Prometheus scraping the same exporters).
if [ "${1:-}" = scrape ]; then exec bash bench/scrape.sh; fi
# `bash bench/run.sh query`: the range-query benchmark (bench/query.sh; the dashboard's queries over 24 h, side by side).
if [ "${1:-}" = query ]; then exec bash bench/query.sh; fi
# `bash bench/run.sh series`: 1 M active series (5236 hosts × 191) for 15 min of 15 s samples, to
# compare resident memory per active series (the table's "RSS" rows; no block is cut).
if [ "${1:-}" = series ]; then
  HOSTS=${HOSTS:-5236}; HOURS=${HOURS:-0.25}; SETTLE=${SETTLE:-30}; SERIES_PER_REQUEST=${SERIES_PER_REQUEST:-25000}
fi
HOSTS=${HOSTS:-525}
HOURS=${HOURS:-4}
SETTLE=${SETTLE:-90}
SERIES_PER_REQUEST=${SERIES_PER_REQUEST:-0}
CONCURRENCY=${CONCURRENCY:-4}
command -v prometheus >/dev/null || { echo "needs Debian's prometheus (apt-get install prometheus)"; exit 1; }
if [ -z "${PHAROS_BIN:-}" ]; then
  cargo build --release --bin pharos --bin pharos-bench >/dev/null
  PHAROS_BIN=./target/release/pharos
else
  cargo build --release --bin pharos-bench >/dev/null
fi
work=$(mktemp -d /tmp/pharos-bench.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pp=$(free_port); mp=$(free_port)
printf 'global:\n  scrape_interval: 1h\n' > "$work/prometheus.yml"
# Neither server scrapes anything: pharos' built-in self-monitoring would append samples at "now"
# while the pushed history starts hours earlier, so its head would span more than 1.5 block
# ranges at once and be cut before the push reached it (the rest then out of bounds).
printf 'collectors:\n  self: {enabled: false}\n  host: {enabled: false}\nsecurity: {enabled: false}\n' > "$work/pharos.yml"
"$PHAROS_BIN" serve --config "$work/pharos.yml" --listen "127.0.0.1:$pp" --data "$work/pharos" 2>"$work/pharos.log" &
ppid=$!
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
  --web.listen-address="127.0.0.1:$mp" --web.enable-remote-write-receiver 2>"$work/prometheus.log" &
mpid=$!
for url in "http://127.0.0.1:$pp" "http://127.0.0.1:$mp"; do
  for _ in $(seq 100); do curl -sf "$url/-/ready" >/dev/null && break; sleep 0.2; done
done
echo "pharos $("$PHAROS_BIN" --version) vs $(prometheus --version 2>&1 | head -1)"
./target/release/pharos-bench --hosts "$HOSTS" --hours "$HOURS" --settle-seconds "$SETTLE" --concurrency "$CONCURRENCY" \
  --series-per-request "$SERIES_PER_REQUEST" \
  --target "pharos=http://127.0.0.1:$pp=$work/pharos=$ppid" \
  --target "prometheus=http://127.0.0.1:$mp=$work/prometheus=$mpid"

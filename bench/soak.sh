#!/usr/bin/env bash
# Fault campaign, soak (long mode by hand; CI runs the same test for 60 s at the short mode's
# rates): the release pharos on a temp data dir and an ephemeral port for SOAK_SECS (default
# 1800) under steady ingest on every signal plus a query load, its RSS/CPU curve printed every
# SOAK_SAMPLE_SECS, probes past the configured limits every SOAK_LIMIT_SECS (must answer 429/413
# with a message), then verdicts: alive, RSS bounded (mean of the last third at most
# SOAK_MAX_GROWTH % above the middle third's), no 5xx. The logic is the integration test
# crates/pharos/tests/it/soak.rs; this script sets the long mode's rates:
#   remote_write: bench/run.sh's node-exporter dataset in real time, 525 hosts x 191 series
#                 (100,275 series) every 15 s = 6,685 samples/s, in 4 requests per round;
#   scrape:       bench/scrape.sh's default, 50 local exporters x 1,500 series every 5 s = 15,000 samples/s;
#   logs:         2,000 JSON request-log lines/s (Loki push, 10 streams, 10 requests/s);
#   traces:       200 traces x 10 spans = 2,000 spans/s (OTLP/HTTP JSON, 5 services);
#   errors:       50 Sentry envelopes/s from 200 distinct stacks;
#   queries:      one every 250 ms, in turn: PromQL range over the pushed and over the scraped
#                 series (10 min at 15 s), LogQL metric and line queries, trace search, issue list.
#
#   bash bench/soak.sh                       # 30 min
#   SOAK_SECS=60 bash bench/soak.sh          # the CI length at the long mode's rates
#   PHAROS_BIN=/path/to/pharos bash bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PHAROS_BIN:-}" ]; then
  [ -x target/release/pharos ] || cargo build --release --bin pharos
  PHAROS_BIN=$PWD/target/release/pharos
fi
# A private copy, so a rebuild of target/release during the soak does not change the binary.
bin=$(mktemp /tmp/pharos-soak-bin.XXXXXX)
trap 'rm -f "$bin"' EXIT
cp "$PHAROS_BIN" "$bin" && chmod 755 "$bin"
export PHAROS_BIN=$bin
export SOAK_SECS=${SOAK_SECS:-1800}
export SOAK_HOSTS=${SOAK_HOSTS:-525} SOAK_RW_INTERVAL=${SOAK_RW_INTERVAL:-15}
export SOAK_TARGETS=${SOAK_TARGETS:-50} SOAK_TARGET_SERIES=${SOAK_TARGET_SERIES:-1500} SOAK_SCRAPE_INTERVAL=${SOAK_SCRAPE_INTERVAL:-5}
export SOAK_LOG_LINES=${SOAK_LOG_LINES:-2000} SOAK_TRACES=${SOAK_TRACES:-200} SOAK_SPANS_PER_TRACE=${SOAK_SPANS_PER_TRACE:-10}
export SOAK_ERRORS=${SOAK_ERRORS:-50} SOAK_QUERY_MS=${SOAK_QUERY_MS:-250}
export SOAK_SAMPLE_SECS=${SOAK_SAMPLE_SECS:-$(( SOAK_SECS >= 600 ? 60 : 5 ))}
export SOAK_LIMIT_SECS=${SOAK_LIMIT_SECS:-60}
cargo nextest run -p pharos --test it soak --no-capture --success-output immediate

#!/usr/bin/env bash
# Log store benchmark: ingest lines/s, bytes on disk per line, line-filter and metric query time
# over GB (default 1) of realistic JSON request logs. Not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -p logs --example logbench -- "${1:-1}" "${2:-}"

#!/usr/bin/env bash
# Appends/s through the shared write-ahead log (crates/wal) with group commit, fsync on, at 1, 8
# and 64 concurrent writers. WAL_BENCH_DIR=<dir on the disk to measure> WAL_BENCH_SECS=3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q -p wal --example wal_bench

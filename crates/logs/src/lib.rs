//! The log signal of pharos: an embedded log store ([`store::LogStore`]) implementing
//! `model::LogSink`/`model::LogQueryable`, Loki's per-tenant limits ([`limits`]), the Loki
//! config file ([`lokiconfig`]) and the LogQL engine ([`logql`]).
//!
//! Storage layout under `<data>/logs/`: `wal/` (records fsynced before a push is acknowledged,
//! concurrent pushes share fsyncs) and `chunks/` (immutable segments of zstd-compressed chunks,
//! one `.meta` index per segment with tenant, stream labels and min/max time of each chunk),
//! and `delete_requests.json` (Loki's delete requests, [`deletes`]).
//!
//! Acceleration: label postings (name → value → streams) plus time pruning per chunk, and no
//! per-chunk bloom or n-gram index. Loki itself works this way. LogQL line filters are
//! substring or regex scans, and those run at memory speed on decompressed chunks. A bloom index
//! only pays off for needle-in-haystack searches over many GB, and it costs write time and disk
//! on every ingest.
//!
//! zstd (workspace dependency) compresses chunks: it gets ratios near gzip -9 at several hundred
//! MB/s, which is what both ingest and scans need. Chunks of JSON lines are columnar
//! ([`colchunk`]: per-key columns of each line shape, each compressed on its own), which takes
//! the ratio past what row-oriented zstd reaches at the same speed.

pub mod codec;
pub mod colchunk;
pub mod deletes;
#[cfg(test)]
mod fuzz_tests;
pub mod limits;
pub mod store;
pub mod wal;

pub use limits::Limits;
pub use store::{IndexStats, LogStore, LogStoreOptions, TailBatch};
pub mod logql;
pub mod logqltest;
pub mod lokiconfig;
pub mod otlp;

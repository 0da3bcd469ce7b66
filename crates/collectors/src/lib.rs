//! Built-in collectors: each one reads some system and returns Prometheus metric families
//! (names, HELP, TYPE and samples) that pharos stores like any scrape and serves as text
//! exposition. One module per collector; today the host collector (node_exporter's metrics
//! read from /proc and /sys).

pub mod exposition;
pub mod host;
pub mod postgres;
pub mod process;
pub mod redis;

pub use exposition::{write_text, MetricFamily, MetricType, Sample};

/// A source of metric families, collected on demand (cheap enough to run every few seconds).
pub trait Collector: Send + Sync {
    /// Collects the current values. Never panics on odd system content: unreadable or
    /// malformed sources are skipped.
    fn collect(&self) -> Vec<MetricFamily>;
}

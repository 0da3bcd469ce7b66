//! Scraping: target discovery (static and file_sd), the scrape loop per target, the exposition
//! parsers (Prometheus text 0.0.4, OpenMetrics and the delimited protobuf format with native
//! histograms), NHCB conversion, staleness markers and per-target report series.

pub mod cache;
pub mod discovery;
pub mod exposition;
#[cfg(test)]
mod fuzz_tests;
pub mod manager;
pub mod nhcb;
pub mod protobuf;
pub mod scan;
pub mod scrape_loop;
pub mod target;

pub use manager::ScrapeManager;
pub use target::{DroppedTarget, MetadataEntry, TargetStatus, TargetsSnapshot};

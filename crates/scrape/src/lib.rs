//! Scraping: target discovery (static and file_sd), the scrape loop per target, the exposition
//! parsers (Prometheus text 0.0.4 and OpenMetrics), staleness markers and per-target report series.

pub mod discovery;
pub mod exposition;
pub mod manager;
pub mod scrape_loop;
pub mod target;

pub use manager::ScrapeManager;
pub use target::{DroppedTarget, MetadataEntry, TargetStatus, TargetsSnapshot};

//! Scraping: target discovery (static and file_sd), the scrape loop per target, the exposition
//! parsers (Prometheus text 0.0.4 and OpenMetrics), staleness markers and per-target report series.
//!
//! (Skeleton: being written.)

//! What the scrape manager reports about its targets and the metadata it has seen, in the JSON
//! shapes of Prometheus' `/api/v1/targets` and `/api/v1/metadata`.

use serde::Serialize;
use std::collections::BTreeMap;

/// One active target, as `/api/v1/targets` lists it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetStatus {
    pub discovered_labels: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    pub last_error: String,
    /// RFC 3339 time of the last scrape (Go's zero time before the first one).
    pub last_scrape: String,
    pub last_scrape_duration: f64,
    /// "up", "down" or "unknown".
    pub health: String,
    pub scrape_interval: String,
    pub scrape_timeout: String,
}

/// A target removed by relabeling.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DroppedTarget {
    pub discovered_labels: BTreeMap<String, String>,
}

/// Active and dropped targets.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TargetsSnapshot {
    pub active: Vec<TargetStatus>,
    pub dropped: Vec<DroppedTarget>,
    /// Dropped targets per scrape pool.
    pub dropped_counts: BTreeMap<String, usize>,
}

/// Metadata of one metric family as exposed by a target.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct MetadataEntry {
    pub metric: String,
    #[serde(rename = "type")]
    pub metric_type: String,
    pub help: String,
    pub unit: String,
}

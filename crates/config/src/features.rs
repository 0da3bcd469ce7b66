//! Feature flags: the `features:` list of pharos.yml and `pharos serve --enable-feature`, named
//! as Prometheus' `--enable-feature` options. Unknown names give a warning, never an error.

use std::collections::BTreeSet;

/// Experimental PromQL functions and aggregations (`sort_by_label`, `limitk`, ...).
pub const PROMQL_EXPERIMENTAL_FUNCTIONS: &str = "promql-experimental-functions";
/// Created timestamps become a zero sample at the created time (counters, histograms, summaries).
pub const CREATED_TIMESTAMP_ZERO_INGESTION: &str = "created-timestamp-zero-ingestion";

/// Every feature name pharos knows, with a one-line description (docs and warnings).
pub const KNOWN: &[(&str, &str)] = &[
    (
        PROMQL_EXPERIMENTAL_FUNCTIONS,
        "enables Prometheus' experimental PromQL functions and aggregations",
    ),
    (
        CREATED_TIMESTAMP_ZERO_INGESTION,
        "ingests created timestamps as a zero sample at the created time",
    ),
];

/// The enabled feature flags.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Features {
    enabled: BTreeSet<String>,
}

impl Features {
    /// Features from names, each of which may be a comma-separated list (as
    /// `--enable-feature=a,b`). Returns the known ones and one warning per unknown name, worded
    /// as Prometheus' "Unknown option for --enable-feature".
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> (Features, Vec<String>) {
        let mut enabled = BTreeSet::new();
        let mut warnings = Vec::new();
        for name in names.into_iter().flat_map(|n| n.split(',')) {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            if KNOWN.iter().any(|(k, _)| *k == name) {
                enabled.insert(name.to_string());
            } else {
                warnings.push(format!(
                    "Unknown option for --enable-feature: {name:?} (known: {})",
                    KNOWN.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        (Features { enabled }, warnings)
    }

    /// Whether the feature `name` is on.
    pub fn is_enabled(&self, name: &str) -> bool {
        self.enabled.contains(name)
    }

    /// `promql-experimental-functions`.
    pub fn promql_experimental_functions(&self) -> bool {
        self.is_enabled(PROMQL_EXPERIMENTAL_FUNCTIONS)
    }

    /// `created-timestamp-zero-ingestion`.
    pub fn created_timestamp_zero_ingestion(&self) -> bool {
        self.is_enabled(CREATED_TIMESTAMP_ZERO_INGESTION)
    }

    /// The enabled names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.enabled.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_lists_and_unknown_names() {
        let (f, w) = Features::parse([
            "promql-experimental-functions,no-such-thing",
            " created-timestamp-zero-ingestion ",
            "",
        ]);
        assert!(f.promql_experimental_functions());
        assert!(f.created_timestamp_zero_ingestion());
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("\"no-such-thing\""), "{w:?}");
        let (f, w) = Features::parse([]);
        assert!(!f.promql_experimental_functions() && w.is_empty());
    }
}

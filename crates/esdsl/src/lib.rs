//! Elasticsearch compatibility for pharos' log store, without any I/O: the query DSL
//! (`query.rs`, `query_string.rs`), aggregations (`aggs.rs`), search requests and ES 7/8 response
//! shapes (`search.rs`), `_bulk` NDJSON parsing (`bulk.rs`), date math (`datemath.rs`) and the
//! mapping of a JSON document to a log line (`document.rs`).
//!
//! Documents are stored as log lines whose text is the JSON `_source`; they are evaluated here
//! by walking the JSON (there is no inverted index: a search scans the index's streams, which is
//! the log store's job). Text fields are analyzed like ES' `standard` analyzer (split on
//! non-alphanumerics, lowercased); a `.keyword` suffix on a field asks for the exact value, as
//! with ES' dynamic mapping of strings to `text` + `keyword`.
//!
//! HTTP handlers live in `crates/api/src/elasticsearch/`.

pub mod aggs;
pub mod bulk;
pub mod datemath;
pub mod document;
pub mod field;
#[cfg(test)]
mod fuzz_tests;
pub mod mapping;
pub mod query;
pub mod query_string;
pub mod search;

use serde_json::{json, Value};

/// An error answered with Elasticsearch's error JSON shape.
#[derive(Clone, Debug, PartialEq)]
pub struct EsError {
    /// HTTP status.
    pub status: u16,
    /// ES exception type, e.g. `parsing_exception`.
    pub kind: String,
    pub reason: String,
    /// Extra fields of the root cause (e.g. `index`).
    pub index: Option<String>,
}

impl EsError {
    pub fn new(status: u16, kind: &str, reason: impl Into<String>) -> Self {
        EsError {
            status,
            kind: kind.to_string(),
            reason: reason.into(),
            index: None,
        }
    }

    /// 400 `parsing_exception`: the request body does not follow the DSL.
    pub fn parsing(reason: impl Into<String>) -> Self {
        Self::new(400, "parsing_exception", reason)
    }

    /// 400 `illegal_argument_exception`.
    pub fn illegal(reason: impl Into<String>) -> Self {
        Self::new(400, "illegal_argument_exception", reason)
    }

    /// 404 `index_not_found_exception` for `index`.
    pub fn index_not_found(index: &str) -> Self {
        EsError {
            index: Some(index.to_string()),
            ..Self::new(
                404,
                "index_not_found_exception",
                format!("no such index [{index}]"),
            )
        }
    }

    /// The error object (`{"type":..,"reason":..}`) as used in bulk item results.
    pub fn cause_json(&self) -> Value {
        let mut v = json!({"type": self.kind, "reason": self.reason});
        if let Some(i) = &self.index {
            v["index"] = json!(i);
            v["resource.type"] = json!("index_or_alias");
            v["resource.id"] = json!(i);
        }
        v
    }

    /// The full response body: `{"error":{"root_cause":[..],"type":..,"reason":..},"status":..}`.
    pub fn to_json(&self) -> Value {
        let cause = self.cause_json();
        let mut err = cause.clone();
        err["root_cause"] = json!([cause]);
        json!({"error": err, "status": self.status})
    }
}

impl std::fmt::Display for EsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)
    }
}

impl std::error::Error for EsError {}

//! Loki's log delete requests (`/loki/api/v1/delete`): the per-tenant registry of requests,
//! persisted in `<logs>/delete_requests.json` (written to a temporary file, fsynced and renamed
//! before a request is acknowledged), and each request compiled into the filter that hides its
//! lines from queries from the moment it is accepted (Loki's query-time filtering).
//! The physical removal from chunk segments lives in `store/purge.rs`.
//!
//! A line is deleted when its tenant is the request's, its stream matches the request's
//! selector, its timestamp lies in `[start, end]` (both inclusive, millisecond precision, as in
//! Loki) and, when the query has a pipeline (`|= "x"`, `| json | level="error"`, ...), the line
//! passes that pipeline.

use crate::logql::ast::{Expr, Stage};
use model::deletes::{Compiled as _, Registry};
use model::{LabelMatcher, Labels, LogEntry, StorageError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[cfg(test)]
use model::deletes::FILE;
pub use model::deletes::{go_duration, CancelError, Status, FORMAT_VERSION};

/// One delete request as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub request_id: String,
    pub tenant: String,
    pub query: String,
    /// Unix milliseconds, inclusive.
    pub start_ms: i64,
    /// Unix milliseconds, inclusive.
    pub end_ms: i64,
    pub created_at_ms: i64,
    pub status: Status,
    /// Chunk segments with an id up to this one have had the request applied.
    #[serde(default)]
    pub purged_through_segment: u64,
}

/// A request with its parsed query: decides which lines it deletes.
#[derive(Debug)]
pub struct Compiled {
    pub req: DeleteRequest,
    matchers: Vec<LabelMatcher>,
    stages: Vec<Stage>,
    start_ns: i64,
    end_ns: i64,
}

model::delete_request!(
    DeleteRequest,
    tenant = tenant,
    purged = purged_through_segment
);

impl model::deletes::Compiled for Compiled {
    type Req = DeleteRequest;
    fn compile(req: DeleteRequest) -> Result<Compiled, String> {
        let (matchers, stages) = parse_query(&req.query)?;
        Ok(Compiled {
            start_ns: req.start_ms.saturating_mul(1_000_000),
            end_ns: req.end_ms.saturating_mul(1_000_000),
            req,
            matchers,
            stages,
        })
    }
    fn request(&self) -> &DeleteRequest {
        &self.req
    }
}

impl Compiled {
    /// The request covers some of `[lo, hi]` (inclusive).
    pub fn overlaps(&self, lo: i64, hi: i64) -> bool {
        lo <= self.end_ns && hi >= self.start_ns
    }

    /// The stream's labels match the request's selector.
    pub fn selects(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
    }

    /// The matchers of the request's selector.
    pub fn matchers(&self) -> &[LabelMatcher] {
        &self.matchers
    }

    /// Whether `e` of a stream the request [`selects`](Self::selects) is deleted.
    pub fn deletes(&self, labels: &Labels, e: &LogEntry) -> bool {
        if e.ts_ns < self.start_ns || e.ts_ns > self.end_ns {
            return false;
        }
        self.stages.is_empty() || crate::logql::pipeline::run(&self.stages, labels, e).is_some()
    }
}

/// Parses a delete query: a log selector with an optional pipeline (no metric query).
pub fn parse_query(query: &str) -> Result<(Vec<LabelMatcher>, Vec<Stage>), String> {
    match crate::logql::parse(query) {
        Ok(Expr::Log(sel)) => Ok((sel.matchers, sel.stages)),
        Ok(_) => Err(
            "a log selector is required (e.g. {app=\"api\"} |= \"secret\"), not a metric query"
                .into(),
        ),
        Err(e) => Err(e.to_string()),
    }
}

/// What the requests' file keeps beside them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Generations {
    /// Loki's per-tenant cache generation number (unix ns of the last add or cancel).
    #[serde(default)]
    cache_generation: BTreeMap<String, String>,
}

impl Generations {
    fn bump(&mut self, tenant: &str) {
        let now = crate::store::now_ns().to_string();
        self.cache_generation.insert(tenant.to_string(), now);
    }
}

/// Every tenant's delete requests, persisted under the log store's directory.
pub struct DeleteRequests {
    reg: Registry<Compiled, Generations>,
}

impl DeleteRequests {
    /// Loads `<dir>/delete_requests.json` (none yet: no requests).
    pub fn open(dir: &Path) -> Result<DeleteRequests, StorageError> {
        Ok(DeleteRequests {
            reg: Registry::open(dir)?,
        })
    }

    /// Adds a request (durable on return); returns its id. `query` must parse
    /// ([`parse_query`]); the caller checks the time range.
    pub fn add(
        &self,
        tenant: &str,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        now_ms: i64,
    ) -> Result<String, StorageError> {
        let c = self.reg.add(
            tenant,
            model::deletes::loki_ids(tenant, now_ms, query),
            |request_id| {
                Compiled::compile(DeleteRequest {
                    request_id,
                    tenant: tenant.to_string(),
                    query: query.to_string(),
                    start_ms,
                    end_ms,
                    created_at_ms: now_ms,
                    status: Status::Received,
                    purged_through_segment: 0,
                })
                .map_err(StorageError::BadInput)
            },
            |g| g.bump(tenant),
        )?;
        Ok(c.req.request_id.clone())
    }

    /// The tenant's requests, oldest first.
    pub fn list(&self, tenant: &str) -> Vec<DeleteRequest> {
        self.reg.list(tenant)
    }

    /// Removes a request that is still `received` and younger than `cancel_period_ms`
    /// (`force` lifts the age limit), as Loki's `DELETE /loki/api/v1/delete` does.
    pub fn cancel(
        &self,
        tenant: &str,
        request_id: &str,
        force: bool,
        cancel_period_ms: i64,
        now_ms: i64,
    ) -> Result<(), CancelError> {
        self.reg
            .cancel(tenant, request_id, force, cancel_period_ms, now_ms, |g| {
                g.bump(tenant)
            })
    }

    /// Loki's cache generation number of `tenant` ("" before its first request).
    pub fn cache_generation(&self, tenant: &str) -> String {
        self.reg
            .extra(|g| g.cache_generation.get(tenant).cloned().unwrap_or_default())
    }

    /// The tenant's requests covering some of `[start_ns, end_ns)`.
    pub fn for_range(&self, tenant: &str, start_ns: i64, end_ns: i64) -> Vec<Arc<Compiled>> {
        if !self.reg.any() {
            return Vec::new();
        }
        self.reg.with_all(|reqs| {
            reqs.iter()
                .filter(|c| {
                    c.req.tenant == tenant && c.overlaps(start_ns, end_ns.saturating_sub(1))
                })
                .cloned()
                .collect()
        })
    }

    /// Every request created at least `cancel_period_ms` before `now_ms`.
    pub fn ready(&self, cancel_period_ms: i64, now_ms: i64) -> Vec<Arc<Compiled>> {
        self.reg.ready(cancel_period_ms, now_ms)
    }

    /// Records that the requests `ids` (tenant, id) were applied to every segment up to
    /// `through` and marks them processed (requests cancelled meanwhile are skipped).
    pub fn mark_purged(&self, ids: &[(String, String)], through: u64) -> Result<(), StorageError> {
        self.reg.mark_processed(
            |r| {
                ids.iter()
                    .any(|(t, id)| *t == r.tenant && *id == r.request_id)
            },
            through,
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ts_ns: i64, line: &str) -> LogEntry {
        LogEntry {
            ts_ns,
            line: line.into(),
            metadata: vec![],
        }
    }

    #[test]
    fn compiled_request_matches_selector_range_and_pipeline() {
        let d = tempfile::tempdir().unwrap();
        let r = DeleteRequests::open(d.path()).unwrap();
        r.add("t", r#"{app="api"} |= "secret""#, 1000, 2000, 5000)
            .unwrap();
        let c = &r.for_range("t", 0, i64::MAX)[0];
        let api = Labels::from_pairs([("app", "api")]);
        assert!(c.selects(&api));
        assert!(!c.selects(&Labels::from_pairs([("app", "web")])));
        // Inclusive at both ends, in ms.
        assert!(c.deletes(&api, &entry(1_000_000_000, "a secret")));
        assert!(c.deletes(&api, &entry(2_000_000_000, "a secret")));
        assert!(!c.deletes(&api, &entry(2_000_000_001, "a secret")));
        assert!(!c.deletes(&api, &entry(999_999_999, "a secret")));
        assert!(!c.deletes(&api, &entry(1_500_000_000, "public")));
        assert!(r.for_range("other", 0, i64::MAX).is_empty());
        assert!(r.for_range("t", 0, 1_000_000_000).is_empty());
        assert_eq!(r.for_range("t", 0, 1_000_000_001).len(), 1);
    }

    #[test]
    fn requests_persist_cancel_rules_and_generation() {
        let d = tempfile::tempdir().unwrap();
        let r = DeleteRequests::open(d.path()).unwrap();
        assert_eq!(r.cache_generation("t"), "");
        let a = r.add("t", r#"{app="api"}"#, 0, 10, 100).unwrap();
        let b = r
            .add("t", r#"{app="api"} | json | level="error""#, 0, 10, 200)
            .unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 8);
        assert!(!r.cache_generation("t").is_empty());
        assert!(r.add("t", "rate({app=\"x\"}[1m])", 0, 1, 1).is_err());
        drop(r);
        let r = DeleteRequests::open(d.path()).unwrap();
        let l = r.list("t");
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].request_id, a);
        assert!(r.list("u").is_empty());
        // Past the cancel period: refused unless forced.
        assert!(matches!(
            r.cancel("t", &a, false, 50, 1000),
            Err(CancelError::NotAllowed(m)) if m.contains("past the deadline of 50ms")
        ));
        assert_eq!(
            r.cancel("u", &a, true, 50, 1000),
            Err(CancelError::NotFound)
        );
        r.cancel("t", &a, true, 50, 1000).unwrap();
        // Processed: never.
        r.mark_purged(&[("t".into(), b.clone())], 7).unwrap();
        assert!(matches!(
            r.cancel("t", &b, true, 50, 201),
            Err(CancelError::NotAllowed(m)) if m.contains("already processed")
        ));
        drop(r);
        let r = DeleteRequests::open(d.path()).unwrap();
        let l = r.list("t");
        assert_eq!(l.len(), 1);
        assert_eq!(
            (l[0].status, l[0].purged_through_segment),
            (Status::Processed, 7)
        );
    }

    #[test]
    fn newer_format_is_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(FILE), r#"{"version": 99, "requests": []}"#).unwrap();
        let e = DeleteRequests::open(d.path()).err().unwrap();
        assert!(e.to_string().contains("newer"), "{e}");
    }
}

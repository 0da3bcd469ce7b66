//! Trace delete requests and per-tenant physical retention. Tempo has no delete API; pharos
//! serves one shaped like Loki's (`/api/traces/v1/delete`): a request names a tenant, a span
//! start time range (inclusive, milliseconds) and optionally a service, an operation and tags
//! (Jaeger's search predicate, [`TraceQuery::matches`]). Requests are persisted in
//! `<traces>/delete_requests.json` (temporary file, fsync, rename, directory fsync) before they
//! are acknowledged, and every trace read hides the spans they cover from that moment on.
//! After the cancel period (`traces.delete_request_cancel_period`, default 24h as Loki's
//! compactor) a pass rewrites every segment holding such spans without them (segments hold
//! every tenant's traces) and marks the request processed; segments written later (spans still
//! in the head when it ran) are checked by the next passes. The same pass removes a tenant's
//! spans past its `retention_period` ([`crate::tenant`]) from the segments.

use crate::query::TraceQuery;
use crate::span::Span;
use crate::store::{IngestError, TraceStore};
use crate::tenant;
use model::deletes::{Compiled as _, Registry};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

#[cfg(test)]
use model::deletes::FILE;
pub use model::deletes::{CancelError, Status, DEFAULT_CANCEL_PERIOD_MS, FORMAT_VERSION};
/// How often segments are checked for spans past their tenant's retention (as the metrics'
/// tenant retention loop).
const RETENTION_EVERY_MS: i64 = 600_000;

/// One delete request as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeleteRequest {
    pub request_id: String,
    /// "" deletes spans ingested without a tenant.
    pub tenant: String,
    /// Unix milliseconds, inclusive (span start time).
    pub start_ms: i64,
    pub end_ms: i64,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub created_at_ms: i64,
    pub status: Status,
    /// Segments numbered up to this one have had the request applied.
    #[serde(default)]
    pub purged_through_segment: u64,
}

impl DeleteRequest {
    fn query(&self) -> TraceQuery {
        TraceQuery {
            service: self.service.clone(),
            operation: self.operation.clone(),
            tags: self.tags.clone(),
            start_ns: (self.start_ms.max(0) as u64).saturating_mul(1_000_000),
            end_ns: (self.end_ms.max(0) as u64)
                .saturating_mul(1_000_000)
                .saturating_add(999_999),
            ..Default::default()
        }
    }
}

model::delete_request!(
    DeleteRequest,
    tenant = tenant,
    purged = purged_through_segment
);

/// A request with its predicate.
struct Compiled {
    req: DeleteRequest,
    query: TraceQuery,
}

impl model::deletes::Compiled for Compiled {
    type Req = DeleteRequest;
    fn compile(req: DeleteRequest) -> Result<Compiled, String> {
        Ok(Compiled {
            query: req.query(),
            req,
        })
    }
    fn request(&self) -> &DeleteRequest {
        &self.req
    }
}

impl Compiled {
    fn deletes(&self, s: &Span) -> bool {
        tenant::tenant_of(&s.resource).unwrap_or("") == self.req.tenant && self.query.matches(s)
    }
}

/// Every tenant's trace delete requests.
pub struct TraceDeletes {
    reg: Registry<Compiled>,
    cancel_period_ms: AtomicI64,
    spans_removed: AtomicU64,
    segments_rewritten: AtomicU64,
    /// When segments were last checked for tenants' retention (unix ms).
    retention_checked_ms: AtomicI64,
}

impl TraceDeletes {
    /// Loads `<dir>/delete_requests.json` (none yet: no requests).
    pub fn open(dir: &Path) -> Result<TraceDeletes, IngestError> {
        Ok(TraceDeletes {
            reg: Registry::open(dir)?,
            cancel_period_ms: AtomicI64::new(DEFAULT_CANCEL_PERIOD_MS),
            spans_removed: AtomicU64::new(0),
            segments_rewritten: AtomicU64::new(0),
            retention_checked_ms: AtomicI64::new(0),
        })
    }

    /// Sets `traces.delete_request_cancel_period`.
    pub fn set_cancel_period_ms(&self, ms: i64) {
        self.cancel_period_ms.store(ms.max(0), Ordering::Relaxed);
    }

    pub fn cancel_period_ms(&self) -> i64 {
        self.cancel_period_ms.load(Ordering::Relaxed)
    }

    /// Adds a request (durable on return); returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &self,
        tenant: &str,
        start_ms: i64,
        end_ms: i64,
        service: Option<String>,
        operation: Option<String>,
        tags: Vec<(String, String)>,
        now_ms: i64,
    ) -> Result<String, IngestError> {
        let c = self.reg.add(
            tenant,
            model::deletes::loki_ids(tenant, now_ms, ""),
            |request_id| {
                Compiled::compile(DeleteRequest {
                    request_id,
                    tenant: tenant.to_string(),
                    start_ms,
                    end_ms,
                    service,
                    operation,
                    tags,
                    created_at_ms: now_ms,
                    status: Status::Received,
                    purged_through_segment: 0,
                })
                .map_err(IngestError::BadInput)
            },
            |_| {},
        )?;
        Ok(c.req.request_id.clone())
    }

    /// The tenant's requests, oldest first.
    pub fn list(&self, tenant: &str) -> Vec<DeleteRequest> {
        self.reg.list(tenant)
    }

    /// Removes a request that is still `received` and within the cancel period (`force`
    /// lifts the age limit), as Loki's `DELETE /loki/api/v1/delete`.
    pub fn cancel(
        &self,
        tenant: &str,
        request_id: &str,
        force: bool,
        now_ms: i64,
    ) -> Result<(), CancelError> {
        self.reg.cancel(
            tenant,
            request_id,
            force,
            self.cancel_period_ms(),
            now_ms,
            |_| {},
        )
    }

    /// Drops the spans a request covers (every status: processed requests keep hiding spans
    /// that reached a segment after their pass, until a later pass removes them).
    pub fn hide(&self, spans: &mut Vec<Arc<Span>>) {
        if !self.reg.any() {
            return;
        }
        let reqs = self.reg.all();
        spans.retain(|s| !reqs.iter().any(|c| c.deletes(s)));
    }

    /// `pharos_traces_deleted_spans_total` and `pharos_traces_delete_requests`.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let (received, processed) = self.reg.counts();
        let _ = writeln!(
            out,
            "# HELP pharos_traces_deleted_spans_total Spans removed from trace segments by delete requests and tenant retention.\n# TYPE pharos_traces_deleted_spans_total counter\npharos_traces_deleted_spans_total {}\n# HELP pharos_traces_delete_rewritten_segments_total Trace segments rewritten without deleted spans.\n# TYPE pharos_traces_delete_rewritten_segments_total counter\npharos_traces_delete_rewritten_segments_total {}\n# HELP pharos_traces_delete_requests Trace delete requests by status.\n# TYPE pharos_traces_delete_requests gauge\npharos_traces_delete_requests{{status=\"received\"}} {received}\npharos_traces_delete_requests{{status=\"processed\"}} {processed}",
            self.spans_removed.load(Ordering::Relaxed),
            self.segments_rewritten.load(Ordering::Relaxed),
        );
    }
}

/// What one pass removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeStats {
    pub segments_rewritten: usize,
    pub spans_removed: usize,
}

impl TraceStore {
    /// One pass: applies every request older than the cancel period to the segments written
    /// since its last pass, and drops tenants' spans past their retention, rewriting the
    /// segments that hold any; then marks the requests processed.
    pub fn process_deletes(&self, now_ms: i64) -> Result<PurgeStats, IngestError> {
        let d = self.deletes();
        let ready = d.reg.ready(d.cancel_period_ms(), now_ms);
        // Tenants' retention: every RETENTION_EVERY_MS, the segments holding a span that
        // started before the latest tenant cutoff.
        let last = d.retention_checked_ms.load(Ordering::Relaxed);
        let retention = if now_ms.saturating_sub(last) >= RETENTION_EVERY_MS {
            d.retention_checked_ms.store(now_ms, Ordering::Relaxed);
            tenant::max_cutoff()
        } else {
            None
        };
        if ready.is_empty() && retention.is_none() {
            return Ok(PurgeStats::default());
        }
        let wants = |seg: &crate::segment::Segment| {
            retention.is_some_and(|c| seg.min_start < c)
                || ready.iter().any(|c| {
                    seg.seq > c.req.purged_through_segment
                        && seg.min_start <= c.query.end_ns
                        && seg.max_start >= c.query.start_ns
                })
        };
        let drops = |seg: &crate::segment::Segment, s: &Span| {
            ready
                .iter()
                .any(|c| seg.seq > c.req.purged_through_segment && c.deletes(s))
                || (retention.is_some() && tenant::expired(s))
        };
        let (rewritten, removed, through) = self.rewrite_segments(&wants, &drops)?;
        d.spans_removed.fetch_add(removed as u64, Ordering::Relaxed);
        d.segments_rewritten
            .fetch_add(rewritten as u64, Ordering::Relaxed);
        if !ready.is_empty() {
            d.reg.mark_processed(
                |r| {
                    ready
                        .iter()
                        .any(|c| c.req.tenant == r.tenant && c.req.request_id == r.request_id)
                },
                through,
            )?;
        }
        Ok(PurgeStats {
            segments_rewritten: rewritten,
            spans_removed: removed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TraceId, TraceStoreOptions};

    /// One span of trace `[n; 16]`, service `svc`, starting at `start_ms`, of `tenant`.
    fn span(n: u8, svc: &str, start_ms: u64, tenant: &str) -> Span {
        let id: String = (0..16).map(|_| format!("{n:02x}")).collect();
        let body = format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"{svc}"}}}}]}},"scopeSpans":[{{"spans":[{{"traceId":"{id}","spanId":"00000000000000{n:02x}","name":"op","startTimeUnixNano":"{}","endTimeUnixNano":"{}"}}]}}]}}]}}"#,
            start_ms * 1_000_000,
            start_ms * 1_000_000 + 1000
        );
        let mut spans = crate::otlp::decode_json(body.as_bytes()).unwrap();
        crate::tenant::tag(&mut spans, tenant);
        spans.pop().unwrap()
    }

    #[test]
    fn hidden_at_once_persisted_and_removed_from_segments() {
        let dir = tempfile::tempdir().unwrap();
        let opts = TraceStoreOptions {
            retention_ns: 0,
            head_max_spans: 1,
            ..Default::default()
        };
        let ms = 1_700_000_000_000u64;
        {
            let st = TraceStore::open(dir.path(), opts.clone()).unwrap();
            st.append(vec![span(1, "api", ms, "t1"), span(2, "db", ms, "t1")])
                .unwrap();
            st.append(vec![span(3, "api", ms, "t2")]).unwrap();
            let id = st
                .deletes()
                .add(
                    "t1",
                    ms as i64 - 1,
                    ms as i64 + 1,
                    Some("api".into()),
                    None,
                    vec![],
                    0,
                )
                .unwrap();
            assert_eq!(id.len(), 8);
            assert!(st.trace(&TraceId([1; 16])).is_none(), "hidden at once");
            assert!(st.trace(&TraceId([2; 16])).is_some());
            assert!(st.trace(&TraceId([3; 16])).is_some(), "other tenant");
        }
        // Reopened (the request survives), then processed past the cancel period.
        let st = TraceStore::open(dir.path(), opts.clone()).unwrap();
        assert_eq!(st.deletes().list("t1").len(), 1);
        assert!(st.trace(&TraceId([1; 16])).is_none());
        assert_eq!(
            st.deletes().cancel("t1", "nope", false, 0),
            Err(CancelError::NotFound)
        );
        st.deletes().set_cancel_period_ms(0);
        let p = st.process_deletes(1).unwrap();
        assert_eq!(p.spans_removed, 1, "{p:?}");
        assert_eq!(st.deletes().list("t1")[0].status, Status::Processed);
        // Physically gone: without the request the span does not come back.
        std::fs::remove_file(dir.path().join(FILE)).unwrap();
        drop(st);
        let st = TraceStore::open(dir.path(), opts).unwrap();
        assert!(st.trace(&TraceId([1; 16])).is_none());
        assert!(st.trace(&TraceId([2; 16])).is_some());
        assert!(st.trace(&TraceId([3; 16])).is_some());
        // A tenant's retention removes its old spans from the segments, not another's.
        let mut keep = std::collections::HashMap::new();
        keep.insert("t2".to_string(), 3_600_000_000_000u64);
        crate::tenant::set_retention(keep, None);
        let p = st.process_deletes(1_000_000_000_000_000).unwrap();
        crate::tenant::set_retention(Default::default(), None);
        assert_eq!(p.spans_removed, 1, "{p:?}");
        assert!(st.trace(&TraceId([3; 16])).is_none());
        assert!(st.trace(&TraceId([2; 16])).is_some());
    }
}

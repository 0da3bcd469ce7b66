//! Metric tenants by `X-Scope-OrgID`, as Mimir: a write with the header stores every series
//! with the hidden label `__tenant__="<id>"`; a query, series, labels or label-values request
//! with the header sees only that tenant's series (the matcher is added to every selector) and
//! never the label itself. Without the header nothing changes (single-tenant: the whole store).
//! A tenant's own `retention_period` hides its older samples from its reads.
//! The front door sets the header from a token's `tenant`, so a tenant-bound token can neither
//! read nor write another tenant.

use crate::AppState;
use axum::http::HeaderMap;
use model::{
    AppendStats, HistogramSample, HistogramSeries, LabelMatcher, Labels, MetricSink, Queryable,
    Sample, Series, StorageError,
};
use std::sync::Arc;

/// The label that holds a series' tenant.
pub const TENANT_LABEL: &str = "__tenant__";

/// The request's tenant (`X-Scope-OrgID`, trimmed), if any.
pub fn tenant_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-scope-orgid")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
}

/// The storage a request reads: the tenant's view, or the whole store.
pub fn storage(state: &AppState, headers: &HeaderMap) -> Arc<dyn Queryable> {
    match tenant_of(headers) {
        Some(tenant) => scoped(state.storage.clone(), state.sink.clone(), &tenant).0,
        None => state.storage.clone(),
    }
}

/// The sink a request writes to: every series labelled with the tenant, or unchanged.
pub fn sink(state: &AppState, headers: &HeaderMap) -> Arc<dyn MetricSink> {
    match tenant_of(headers) {
        Some(tenant) => scoped(state.storage.clone(), state.sink.clone(), &tenant).1,
        None => state.sink.clone(),
    }
}

/// One tenant's view of `storage` and `sink` (also the scope of a tenant's rule groups).
pub fn scoped(
    storage: Arc<dyn Queryable>,
    sink: Arc<dyn MetricSink>,
    tenant: &str,
) -> (Arc<dyn Queryable>, Arc<dyn MetricSink>) {
    (
        Arc::new(TenantView {
            inner: storage,
            tenant: tenant.to_string(),
        }),
        Arc::new(TenantSink {
            inner: sink,
            tenant: tenant.to_string(),
        }),
    )
}

/// Writes into one tenant.
pub struct TenantSink {
    inner: Arc<dyn MetricSink>,
    tenant: String,
}

impl TenantSink {
    fn label(&self, l: &Labels) -> Labels {
        let mut b = l.builder();
        b.set(TENANT_LABEL, self.tenant.clone());
        b.build()
    }
}

impl MetricSink for TenantSink {
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendStats, StorageError> {
        super::limits::admit(&self.tenant, batch.len(), batch.iter().map(|(l, _)| l))?;
        let b: Vec<(Labels, Sample)> = batch.iter().map(|(l, s)| (self.label(l), *s)).collect();
        self.inner.append(&b)
    }

    fn append_series(&self, series: &[Series]) -> Result<AppendStats, StorageError> {
        let n = series.iter().map(|s| s.samples.len()).sum();
        super::limits::admit(&self.tenant, n, series.iter().map(|s| &s.labels))?;
        let s: Vec<Series> = series
            .iter()
            .map(|s| Series {
                labels: self.label(&s.labels),
                samples: s.samples.clone(),
            })
            .collect();
        self.inner.append_series(&s)
    }

    fn append_histograms(
        &self,
        batch: &[(Labels, HistogramSample)],
    ) -> Result<AppendStats, StorageError> {
        if batch.is_empty() {
            return Ok(AppendStats::default());
        }
        super::limits::admit(&self.tenant, batch.len(), batch.iter().map(|(l, _)| l))?;
        let b: Vec<(Labels, HistogramSample)> = batch
            .iter()
            .map(|(l, h)| (self.label(l), h.clone()))
            .collect();
        self.inner.append_histograms(&b)
    }
}

/// Reads one tenant's series, without the tenant label.
pub struct TenantView {
    inner: Arc<dyn Queryable>,
    tenant: String,
}

/// The matcher that keeps a selector inside one tenant.
pub fn tenant_matcher(tenant: &str) -> LabelMatcher {
    LabelMatcher::equal(TENANT_LABEL, tenant)
}

impl TenantView {
    /// `mint` raised to the tenant's retention cutoff (`tenants:` `retention_period`): older
    /// samples are no longer answered from the moment they age out, before the retention loop
    /// deletes them.
    fn floor(&self, mint: i64) -> i64 {
        match crate::tenant_limits::retention_ms(&self.tenant) {
            Some(ms) => mint.max(chrono::Utc::now().timestamp_millis().saturating_sub(ms)),
            None => mint,
        }
    }

    fn scoped(&self, matchers: &[LabelMatcher]) -> Result<Vec<LabelMatcher>, StorageError> {
        let mut m = matchers.to_vec();
        m.push(tenant_matcher(&self.tenant));
        Ok(m)
    }
}

fn strip(l: &Labels) -> Labels {
    l.without(&[TENANT_LABEL])
}

impl Queryable for TenantView {
    fn select(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        let mut out = self
            .inner
            .select(&self.scoped(matchers)?, self.floor(mint), maxt)?;
        for s in &mut out {
            s.labels = strip(&s.labels);
        }
        Ok(out)
    }

    fn select_histograms(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<HistogramSeries>, StorageError> {
        let mut out =
            self.inner
                .select_histograms(&self.scoped(matchers)?, self.floor(mint), maxt)?;
        for s in &mut out {
            s.labels = strip(&s.labels);
        }
        Ok(out)
    }

    fn series(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .inner
            .series(&self.scoped(matchers)?, self.floor(mint), maxt)?
            .iter()
            .map(strip)
            .collect())
    }

    fn label_names(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut names = self
            .inner
            .label_names(&self.scoped(matchers)?, self.floor(mint), maxt)?;
        names.retain(|n| n != TENANT_LABEL);
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        if name == TENANT_LABEL {
            return Ok(Vec::new());
        }
        self.inner
            .label_values(name, &self.scoped(matchers)?, self.floor(mint), maxt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_write_and_read_apart() {
        let store = Arc::new(model::MemStorage::default());
        let a = TenantSink {
            inner: store.clone(),
            tenant: "a".into(),
        };
        let b = TenantSink {
            inner: store.clone(),
            tenant: "b".into(),
        };
        let l = Labels::from_pairs([("__name__", "up"), ("job", "x")]);
        a.append(&[(l.clone(), Sample { t: 1, v: 1.0 })]).unwrap();
        b.append(&[(l.clone(), Sample { t: 1, v: 2.0 })]).unwrap();
        let m = [LabelMatcher::equal("__name__", "up")];
        let va = TenantView {
            inner: store.clone(),
            tenant: "a".into(),
        };
        let got = va.select(&m, 0, 10).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels, l);
        assert_eq!(got[0].samples[0].v, 1.0);
        let vc = TenantView {
            inner: store.clone(),
            tenant: "c".into(),
        };
        assert!(vc.select(&m, 0, 10).unwrap().is_empty());
        assert!(!va
            .label_names(&[], 0, 10)
            .unwrap()
            .iter()
            .any(|n| n == TENANT_LABEL));
        assert!(va
            .label_values(TENANT_LABEL, &[], 0, 10)
            .unwrap()
            .is_empty());
        // The whole store sees both.
        assert_eq!(store.select(&m, 0, 10).unwrap().len(), 2);
    }
}

//! Trace tenants by `X-Scope-OrgID`, as Tempo: spans ingested with a tenant carry the resource
//! attribute `pharos.tenant`; a query with a tenant sees only traces that have spans of that
//! tenant. Spans ingested without a tenant belong to none (only tenant-less queries see them).
//! A tenant's own retention (pharos.yml `tenants:` `retention_period`) is applied when its
//! traces are read: a trace whose spans of the tenant all ended before the cutoff is no longer
//! answered, and the delete pass ([`crate::deletes`]) rewrites the segments (which hold every
//! tenant's traces) without the tenant's expired spans.

use crate::span::{KeyValue, Resource, Span, Value};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// Per-tenant retention in ns, and the default for every other tenant.
type Retention = (HashMap<String, u64>, Option<u64>);

static RETENTION: RwLock<Option<Retention>> = RwLock::new(None);

/// Sets the tenants' retention (ns): per tenant, and the default of the others (None: the
/// store's retention only).
pub fn set_retention(per_tenant: HashMap<String, u64>, default: Option<u64>) {
    *RETENTION.write() =
        (!per_tenant.is_empty() || default.is_some()).then_some((per_tenant, default));
}

/// The oldest span end (ns) `tenant` still sees, if its retention cuts anything.
fn cutoff(tenant: &str) -> Option<u64> {
    let r = RETENTION.read();
    let (per, default) = r.as_ref()?;
    let keep = per.get(tenant).copied().or(*default)?;
    Some(now_ns().saturating_sub(keep))
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The latest cutoff of any tenant (ns): no span starting after it is past a tenant's
/// retention. None when no tenant has a retention of its own.
pub(crate) fn max_cutoff() -> Option<u64> {
    let r = RETENTION.read();
    let (per, default) = r.as_ref()?;
    let keep = per.values().chain(default.iter()).min().copied()?;
    Some(now_ns().saturating_sub(keep))
}

/// Whether `s` is past its tenant's retention (a span without a tenant never is).
pub(crate) fn expired(s: &Span) -> bool {
    tenant_of(&s.resource)
        .and_then(cutoff)
        .is_some_and(|c| s.end_ns < c)
}

/// The resource attribute holding a span's tenant.
pub const TENANT_ATTR: &str = "pharos.tenant";

pub(crate) fn tenant_of(r: &Resource) -> Option<&str> {
    r.attributes.iter().find_map(|kv| match &kv.value {
        Value::Str(s) if kv.key == TENANT_ATTR => Some(s.as_str()),
        _ => None,
    })
}

/// Puts every span into `tenant` (replacing a tenant attribute the sender set).
pub fn tag(spans: &mut [Span], tenant: &str) {
    let mut done: Vec<(*const Resource, Arc<Resource>)> = Vec::new();
    for s in spans {
        let key = Arc::as_ptr(&s.resource);
        if let Some((_, r)) = done.iter().find(|(k, _)| *k == key) {
            s.resource = r.clone();
            continue;
        }
        let mut attrs: Vec<KeyValue> = s
            .resource
            .attributes
            .iter()
            .filter(|kv| kv.key != TENANT_ATTR)
            .cloned()
            .collect();
        attrs.push(KeyValue::str(TENANT_ATTR, tenant));
        let r = Arc::new(Resource::new(attrs));
        done.push((key, r.clone()));
        s.resource = r;
    }
}

/// Whether a query of `tenant` (None: no tenant, sees everything) may see this trace.
pub fn visible(spans: &[Arc<Span>], tenant: Option<&str>) -> bool {
    match tenant {
        None => true,
        Some(t) => {
            let cut = cutoff(t);
            spans
                .iter()
                .any(|s| tenant_of(&s.resource) == Some(t) && cut.is_none_or(|c| s.end_ns >= c))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_and_filter() {
        let body = br#"{"resourceSpans":[{"resource":{"attributes":[
            {"key":"service.name","value":{"stringValue":"api"}},
            {"key":"pharos.tenant","value":{"stringValue":"spoofed"}}]},
            "scopeSpans":[{"spans":[
            {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203331","name":"a","startTimeUnixNano":"1","endTimeUnixNano":"2"},
            {"traceId":"0af7651916cd43dd8448eb211c80319c","spanId":"b7ad6b7169203332","name":"b","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}"#;
        let mut spans = crate::otlp::decode_json(body).unwrap();
        tag(&mut spans, "a");
        assert!(Arc::ptr_eq(&spans[0].resource, &spans[1].resource));
        assert_eq!(spans[0].resource.service, "api");
        let arcs: Vec<Arc<Span>> = spans.into_iter().map(Arc::new).collect();
        assert!(visible(&arcs, Some("a")));
        assert!(!visible(&arcs, Some("spoofed")));
        assert!(visible(&arcs, None));
    }
}

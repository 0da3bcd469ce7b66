//! Per-tenant limits and retention of every signal (pharos.yml `tenants:`, each limit under its
//! peer's name): the settings of the last (re)load, the logs' limits over Loki's
//! `limits_config` (enforced by the log store), trace admission as Tempo's distributor
//! (`ingestion_rate_limit_bytes` / `ingestion_burst_size_bytes`, `max_traces_per_user` live
//! traces), error events per second as Sentry's rate limits (429 with `Retry-After` and
//! `X-Sentry-Rate-Limits`), each signal's retention of a tenant, and the discarded-item
//! counters with the peers' names (`cortex_discarded_samples_total{reason,user}`,
//! `tempo_discarded_spans_total{reason,tenant}`, `pharos_errors_discarded_events_total`).
//! Requests without a tenant are not limited here (each signal's own limits apply).

use config::tenants::{TenantLimits, TenantsSettings};
use model::ratelimit::TokenBucket;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Tempo's `trace_idle_period`: a trace with no span for this long is no longer live.
const TRACE_IDLE: Duration = Duration::from_secs(10);

static SETTINGS: RwLock<Option<TenantsSettings>> = RwLock::new(None);

/// (metric, reason, tenant) -> items discarded.
static DISCARDED: Mutex<BTreeMap<(&'static str, &'static str, String), u64>> =
    Mutex::new(BTreeMap::new());

#[derive(Default)]
struct TraceTenant {
    bytes: TokenBucket,
    /// Live traces: last span seen.
    live: HashMap<[u8; 16], Instant>,
}

static TRACES: Mutex<Option<HashMap<String, TraceTenant>>> = Mutex::new(None);
static ERRORS: Mutex<Option<HashMap<String, TokenBucket>>> = Mutex::new(None);

/// Sets the limits (at start and on every reload; buckets keep their state), and hands the
/// logs' and traces' parts to their crates.
pub fn configure(settings: &TenantsSettings) {
    *SETTINGS.write() = settings.has_limits().then(|| settings.clone());
    let any_logs = settings.has_limits();
    logs::limits::set_tenant_limits(
        any_logs.then(|| Arc::new(log_limits) as Arc<logs::limits::TenantLimitsFn>),
    );
    let mut retention: HashMap<String, u64> = HashMap::new();
    for t in settings.overrides.keys() {
        if let Some(ms) = settings.limits_of(t).retention_ms() {
            retention.insert(t.clone(), ms as u64 * 1_000_000);
        }
    }
    traces::tenant::set_retention(
        retention,
        settings
            .limits
            .retention_ms()
            .map(|ms| ms as u64 * 1_000_000),
    );
}

/// The limits of `tenant`, or None when no limit is configured at all.
pub fn limits_of(tenant: &str) -> Option<TenantLimits> {
    SETTINGS.read().as_ref().map(|s| s.limits_of(tenant))
}

/// The retention of `tenant`'s data in milliseconds, when `tenants:` gives it one.
pub fn retention_ms(tenant: &str) -> Option<i64> {
    limits_of(tenant).and_then(|l| l.retention_ms())
}

/// The tenants named in `tenants.overrides`, and whether `tenants.limits` sets a retention
/// (which then applies to every tenant).
pub fn retention_tenants() -> (Vec<String>, bool) {
    match SETTINGS.read().as_ref() {
        Some(s) => (
            s.overrides.keys().cloned().collect(),
            s.limits.retention_ms().is_some(),
        ),
        None => (Vec::new(), false),
    }
}

/// Counts `n` items of `tenant` discarded for `reason` under the peer's metric `metric`.
pub fn discarded(metric: &'static str, reason: &'static str, tenant: &str, n: usize) {
    if n == 0 {
        return;
    }
    *DISCARDED
        .lock()
        .entry((metric, reason, tenant.to_string()))
        .or_default() += n as u64;
}

/// A log tenant's limits: Loki's `limits_config` (`base`) with the tenant's `tenants:` keys
/// over it. Loki's `fake` tenant (no `X-Scope-OrgID` with `auth_enabled` off) is a request
/// without a tenant: only `tenants.overrides.fake` changes it.
pub fn log_limits(tenant: &str, base: &logs::Limits) -> logs::Limits {
    let l = {
        let s = SETTINGS.read();
        let Some(s) = s.as_ref() else {
            return base.clone();
        };
        if tenant == model::logs::DEFAULT_TENANT && !s.overrides.contains_key(tenant) {
            return base.clone();
        }
        s.limits_of(tenant)
    };
    let mut out = base.clone();
    const MB: f64 = 1024.0 * 1024.0;
    if let Some(r) = l.ingestion_rate_mb {
        out.ingestion_rate_bytes = r * MB;
    }
    if let Some(b) = l.ingestion_burst_size_mb {
        out.ingestion_burst_bytes = b * MB;
    }
    if let Some(n) = l.max_global_streams_per_user {
        out.max_streams_per_user = n as usize;
    }
    if let Some(n) = l.max_line_size {
        out.max_line_size = n.0 as usize;
    }
    if let Some(t) = l.max_line_size_truncate {
        out.max_line_size_truncate = t;
    }
    if let Some(ms) = l.retention_ms() {
        out.retention_period_ns = ms.saturating_mul(1_000_000);
    }
    out
}

/// Admits `spans` (`bytes` long as received) of `tenant` as Tempo's distributor and
/// ingesters do, or refuses them whole with Tempo's message (HTTP 429).
pub fn admit_spans(
    tenant: &str,
    bytes: usize,
    spans: &[traces::Span],
) -> Result<(), traces::store::IngestError> {
    let Some(l) = limits_of(tenant) else {
        return Ok(());
    };
    if l.ingestion_rate_limit_bytes.is_none() && l.max_traces_per_user.is_none() {
        return Ok(());
    }
    let mut all = TRACES.lock();
    let t = all
        .get_or_insert_with(HashMap::new)
        .entry(tenant.to_string())
        .or_default();
    if let Some(rate) = l.ingestion_rate_limit_bytes {
        let burst = l.ingestion_burst_size_bytes.unwrap_or(rate);
        if !t.bytes.take(bytes as f64, rate, burst) {
            discarded(
                "tempo_discarded_spans_total",
                "rate_limited",
                tenant,
                spans.len(),
            );
            return Err(traces::store::IngestError::RateLimited(format!(
                "RATE_LIMITED: ingestion rate limit (local: {} bytes/s, global: 0 bytes/s, burst: {} bytes) exceeded while adding {bytes} bytes for user {tenant}. consider increasing the limit or reducing ingestion rate.",
                rate as u64, burst as u64
            )));
        }
    }
    if let Some(max) = l.max_traces_per_user {
        let now = Instant::now();
        t.live
            .retain(|_, seen| now.duration_since(*seen) < TRACE_IDLE);
        let mut fresh: Vec<[u8; 16]> = Vec::new();
        for s in spans {
            let id = s.trace_id.0;
            if !t.live.contains_key(&id) && !fresh.contains(&id) {
                fresh.push(id);
            }
        }
        if !fresh.is_empty() && t.live.len() + fresh.len() > max as usize {
            discarded(
                "tempo_discarded_spans_total",
                "live_traces_exceeded",
                tenant,
                spans.len(),
            );
            return Err(traces::store::IngestError::RateLimited(format!(
                "LIVE_TRACES_EXCEEDED: max live traces exceeded for tenant {tenant}: per-user traces limit (local: {max} global: 0 actual local: {}) exceeded",
                t.live.len()
            )));
        }
        for s in spans {
            t.live.insert(s.trace_id.0, now);
        }
    }
    Ok(())
}

/// Admits `events` error events of `tenant` (`errors_ingestion_rate` per second), or answers
/// the seconds to wait before a retry (Sentry's 429 with `Retry-After`).
pub fn admit_error_events(tenant: &str, events: usize) -> Result<(), u64> {
    let Some(l) = limits_of(tenant) else {
        return Ok(());
    };
    let Some(rate) = l.errors_ingestion_rate else {
        return Ok(());
    };
    if events == 0 {
        return Ok(());
    }
    let burst = l.errors_ingestion_burst_size.unwrap_or(rate).max(1.0);
    let mut all = ERRORS.lock();
    let b = all
        .get_or_insert_with(HashMap::new)
        .entry(tenant.to_string())
        .or_default();
    if b.take(events as f64, rate, burst) {
        return Ok(());
    }
    discarded(
        "pharos_errors_discarded_events_total",
        "rate_limited",
        tenant,
        events,
    );
    Err(b
        .wait_secs(events.min(burst as usize).max(1) as f64, rate)
        .ceil()
        .max(1.0) as u64)
}

/// The discarded-item counters in text exposition format (metrics name the tenant `user`, as
/// Mimir; traces and errors `tenant`, as Tempo).
pub fn write_metrics(out: &mut String) {
    use std::fmt::Write as _;
    let d = DISCARDED.lock();
    for (metric, help, label) in [
        (
            "cortex_discarded_samples_total",
            "The total number of samples that were discarded.",
            "user",
        ),
        (
            "tempo_discarded_spans_total",
            "The total number of spans discarded.",
            "tenant",
        ),
        (
            "pharos_errors_discarded_events_total",
            "Error events refused by a tenant's errors_ingestion_rate.",
            "tenant",
        ),
    ] {
        let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} counter");
        for ((m, reason, tenant), n) in d.iter() {
            if *m == metric {
                let _ = writeln!(
                    out,
                    "{metric}{{reason=\"{reason}\",{label}={tenant:?}}} {n}"
                );
            }
        }
    }
}

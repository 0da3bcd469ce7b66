//! Handlers of `/api/pharos/v1/overview`, `/notifications` and `/stores`, and the cached walk of
//! the data directory that measures each store's bytes on disk.

use super::{bad_request, PharosState};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a disk measurement is reused.
const DISK_TTL: Duration = Duration::from_secs(5);

/// Bytes on disk per store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskUsage {
    pub metrics: u64,
    pub logs: u64,
    pub traces: u64,
    pub dashboards: u64,
    pub alerting: u64,
    /// The whole data directory.
    pub total: u64,
    pub measured_at_ms: i64,
}

/// Bytes of the regular files under `p` (symlinks are not followed).
fn dir_bytes(p: &Path) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if md.is_file() {
        return md.len();
    }
    if !md.is_dir() {
        return 0;
    }
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten().map(|e| dir_bytes(&e.path())).sum()
}

fn measure(data: &Path) -> DiskUsage {
    DiskUsage {
        metrics: dir_bytes(&data.join("metrics")),
        logs: dir_bytes(&data.join("logs")),
        traces: dir_bytes(&data.join("traces")),
        dashboards: dir_bytes(&data.join("dashboards")),
        alerting: dir_bytes(&data.join("alerting")),
        total: dir_bytes(data),
        measured_at_ms: model::time::now_ms(),
    }
}

async fn disk_usage(st: &Arc<PharosState>) -> DiskUsage {
    if let Some((at, d)) = *st.disk_cache.lock() {
        if at.elapsed() < DISK_TTL {
            return d;
        }
    }
    let dir = st.data_dir.clone();
    let d = tokio::task::spawn_blocking(move || measure(&dir))
        .await
        .unwrap_or_default();
    *st.disk_cache.lock() = Some((Instant::now(), d));
    d
}

/// Sum of the counter samples named `name` in the Alertmanager's metrics.
fn am_counter(st: &PharosState, now: i64, name: &str) -> u64 {
    let sum: f64 = st
        .alertmanager
        .metric_samples(now)
        .iter()
        .filter(|(l, _)| l.get("__name__") == Some(name))
        .map(|(_, s)| s.v)
        .sum();
    sum.max(0.0) as u64
}

/// `GET /api/pharos/v1/overview`.
pub async fn overview(State(st): State<Arc<PharosState>>) -> Response {
    let now = model::time::now_ms();
    let head = st.tsdb.head_stats();
    let (mut up, mut down, mut unknown) = (0, 0, 0);
    let targets = st.scrape.targets();
    for t in &targets.active {
        match t.health.as_str() {
            "up" => up += 1,
            "down" => down += 1,
            _ => unknown += 1,
        }
    }
    let logs = st.logs.summary();
    let (traces, spans) = st.traces.counts();
    let services = st.traces.service_stats().len();
    let alerts = st.alertmanager.alerts();
    let suppressed = alerts.iter().filter(|a| a.state() == "suppressed").count();
    let (_, attempts) = st.alertmanager.notification_history(0);
    let counts = st.dashboards.counts();
    let disk = disk_usage(&st).await;
    use std::sync::atomic::Ordering::Relaxed;
    Json(json!({
        "now_ms": now,
        "start_time_ms": st.start_time_ms,
        "uptime_seconds": (now - st.start_time_ms) as f64 / 1000.0,
        "build": {
            "version": env!("CARGO_PKG_VERSION"),
            "prometheus_compat_version": crate::prometheus::status::PROMETHEUS_COMPAT_VERSION,
            "grafana_compat_version": crate::grafana::GRAFANA_COMPAT_VERSION,
        },
        "metrics": {
            "samples_appended_total": head.samples_appended,
            "series_created_total": head.series_created,
            "head_series": head.head_series,
            "targets": {
                "total": targets.active.len(),
                "up": up,
                "down": down,
                "unknown": unknown,
                "dropped": targets.dropped.len(),
            },
        },
        "logs": {
            "lines_received_total": logs.lines_received,
            "bytes_received_total": logs.bytes_received,
            "streams": logs.streams,
            "tenants": logs.tenants,
        },
        "traces": {
            "spans_received_total": st.traces.stats.spans_received.load(Relaxed),
            "spans_refused_total": st.traces.stats.spans_refused.load(Relaxed),
            "traces": traces,
            "spans": spans,
            "services": services,
        },
        "alerts": {
            "active": alerts.len() - suppressed,
            "suppressed": suppressed,
            "notifications_total": am_counter(&st, now, "alertmanager_notifications_total"),
            "notifications_failed_total":
                am_counter(&st, now, "alertmanager_notifications_failed_total"),
            "notification_attempts_total": attempts,
        },
        "dashboards": {
            "total": counts.dashboards,
            "provisioned": counts.provisioned,
        },
        "storage": {
            "metrics_bytes": disk.metrics,
            "logs_bytes": disk.logs,
            "traces_bytes": disk.traces,
            "dashboards_bytes": disk.dashboards,
            "alerting_bytes": disk.alerting,
            "total_bytes": disk.total,
            "measured_at_ms": disk.measured_at_ms,
        },
    }))
    .into_response()
}

/// The last value of query parameter `name` as a count, or `default`; 400 when not a number.
fn count_param(
    q: &[(String, String)],
    name: &str,
    default: usize,
    max: usize,
) -> Result<usize, String> {
    match q.iter().rev().find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) if v.is_empty() => Ok(default),
        Some((_, v)) => match v.parse::<usize>() {
            Ok(n) => Ok(n.min(max)),
            Err(_) => Err(format!("{name} must be a non-negative integer, got {v:?}")),
        },
    }
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn rfc3339(ms: i64) -> String {
    model::alert::format_rfc3339_ms(ms)
}

/// `GET /api/pharos/v1/notifications?limit=&receiver=&integration=&status=success|failed`:
/// the built-in Alertmanager's delivery attempts, newest first.
pub async fn notifications(
    State(st): State<Arc<PharosState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let limit = match count_param(&q, "limit", 100, alertmanager::history::CAPACITY) {
        Ok(n) => n,
        Err(m) => return bad_request(m),
    };
    let want_success = match param(&q, "status") {
        None => None,
        Some("success") => Some(true),
        Some("failed") => Some(false),
        Some(other) => {
            return bad_request(format!("status must be success or failed, got {other:?}"))
        }
    };
    let receiver = param(&q, "receiver");
    let integration = param(&q, "integration");
    let (all, total) = st
        .alertmanager
        .notification_history(alertmanager::history::CAPACITY);
    let list: Vec<Value> = all
        .iter()
        .filter(|a| receiver.is_none_or(|r| a.receiver == r))
        .filter(|a| integration.is_none_or(|i| a.integration == i))
        .filter(|a| want_success.is_none_or(|w| a.success == w))
        .take(limit)
        .map(|a| {
            let firing = a.alerts.iter().filter(|x| x.status == "firing").count();
            json!({
                "seq": a.seq,
                "time": rfc3339(a.time_ms),
                "time_ms": a.time_ms,
                "duration_ms": a.duration_ms,
                "receiver": a.receiver,
                "integration": a.integration,
                "integration_index": a.integration_index,
                "group_key": a.group_key,
                "group_labels": a.group_labels,
                "firing": firing,
                "resolved": a.alerts.len() - firing,
                "alerts": a.alerts.iter().map(|x| json!({
                    "labels": x.labels,
                    "status": x.status,
                    "starts_at": rfc3339(x.starts_at_ms),
                    "ends_at": rfc3339(x.ends_at_ms),
                    "fingerprint": x.fingerprint,
                })).collect::<Vec<_>>(),
                "attempt": a.attempt,
                "success": a.success,
                "error": a.error,
                "retryable": a.retryable,
            })
        })
        .collect();
    Json(json!({
        "total_attempts": total,
        "capacity": alertmanager::history::CAPACITY,
        "notifications": list,
    }))
    .into_response()
}

/// `GET /api/pharos/v1/stores?limit=`: log and trace store statistics (the `limit` largest
/// label names and services, default 20).
pub async fn stores(
    State(st): State<Arc<PharosState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let limit = match count_param(&q, "limit", 20, 1000) {
        Ok(n) => n,
        Err(m) => return bad_request(m),
    };
    let st2 = st.clone();
    let computed = tokio::task::spawn_blocking(move || {
        let logs = st2.logs.summary();
        let mut services = st2.traces.service_stats();
        services.sort_by(|a, b| b.spans.cmp(&a.spans).then_with(|| a.name.cmp(&b.name)));
        (logs, services)
    })
    .await;
    let Ok((logs, services)) = computed else {
        return bad_request("store statistics are not available right now");
    };
    let (traces, spans) = st.traces.counts();
    let head = st.tsdb.head_stats();
    let disk = disk_usage(&st).await;
    use std::sync::atomic::Ordering::Relaxed;
    Json(json!({
        "metrics": {
            "head_series": head.head_series,
            "series_created_total": head.series_created,
            "samples_appended_total": head.samples_appended,
            "disk_bytes": disk.metrics,
        },
        "logs": {
            "tenants": logs.tenants,
            "streams": logs.streams,
            "lines_received_total": logs.lines_received,
            "bytes_received_total": logs.bytes_received,
            "head_bytes": logs.head_bytes,
            "segments": logs.segments,
            "segment_bytes": logs.disk_bytes,
            "disk_bytes": disk.logs,
            "label_names": logs.labels.len(),
            "labels": logs.labels.iter().take(limit).map(|l| json!({
                "name": l.name,
                "values": l.values,
                "streams": l.streams,
            })).collect::<Vec<_>>(),
        },
        "traces": {
            "services": services.len(),
            "traces": traces,
            "spans": spans,
            "spans_received_total": st.traces.stats.spans_received.load(Relaxed),
            "spans_refused_total": st.traces.stats.spans_refused.load(Relaxed),
            "disk_bytes": disk.traces,
            "top_services": services.iter().take(limit).map(|s| json!({
                "name": s.name,
                "spans": s.spans,
                "operations": s.operations,
            })).collect::<Vec<_>>(),
        },
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_directories() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("logs/chunks")).unwrap();
        std::fs::write(d.path().join("logs/chunks/a"), vec![0u8; 100]).unwrap();
        std::fs::write(d.path().join("logs/b"), vec![0u8; 20]).unwrap();
        std::fs::create_dir_all(d.path().join("metrics")).unwrap();
        std::fs::write(d.path().join("metrics/x"), vec![0u8; 7]).unwrap();
        let u = measure(d.path());
        assert_eq!((u.logs, u.metrics, u.traces), (120, 7, 0));
        assert_eq!(u.total, 127);
    }

    #[test]
    fn count_params() {
        let q = vec![("limit".to_string(), "5".to_string())];
        assert_eq!(count_param(&q, "limit", 1, 3).ok(), Some(3));
        assert_eq!(count_param(&[], "limit", 1, 3).ok(), Some(1));
        let bad = vec![("limit".to_string(), "x".to_string())];
        assert!(count_param(&bad, "limit", 1, 3).is_err());
    }
}

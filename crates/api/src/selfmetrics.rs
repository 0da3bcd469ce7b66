//! pharos' own metrics at `/metrics`: HTTP request counters and durations, process metrics read
//! from `/proc`, and the self metrics of the TSDB and the scrape manager, in text format 0.0.4.

use crate::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

/// Per-handler request counts and latency sums.
#[derive(Default)]
pub struct HttpMetrics {
    by_handler: Mutex<BTreeMap<(String, u16), (u64, f64)>>,
}

impl HttpMetrics {
    fn observe(&self, handler: &str, code: u16, seconds: f64) {
        let mut m = self.by_handler.lock();
        let e = m.entry((handler.to_string(), code)).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += seconds;
    }

    fn write(&self, out: &mut String) {
        let m = self.by_handler.lock();
        out.push_str("# HELP prometheus_http_requests_total Counter of HTTP requests.\n");
        out.push_str("# TYPE prometheus_http_requests_total counter\n");
        for ((h, c), (n, _)) in m.iter() {
            let _ = writeln!(
                out,
                "prometheus_http_requests_total{{code=\"{c}\",handler=\"{h}\"}} {n}"
            );
        }
        out.push_str("# HELP prometheus_http_request_duration_seconds_sum Total seconds spent serving HTTP requests.\n");
        out.push_str("# TYPE prometheus_http_request_duration_seconds_sum counter\n");
        for ((h, c), (_, s)) in m.iter() {
            let _ = writeln!(
                out,
                "prometheus_http_request_duration_seconds_sum{{code=\"{c}\",handler=\"{h}\"}} {s}"
            );
        }
    }
}

/// Middleware recording every request by matched route and status code.
pub async fn track(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let handler = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "other".to_string());
    let start = Instant::now();
    let resp = next.run(req).await;
    state.http_metrics.observe(
        &handler,
        resp.status().as_u16(),
        start.elapsed().as_secs_f64(),
    );
    resp
}

/// Process metrics from `/proc/self` (Linux); silently absent elsewhere.
fn write_process_metrics(out: &mut String, start_time_ms: i64) {
    let _ = writeln!(
        out,
        "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds {}",
        start_time_ms as f64 / 1000.0
    );
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next()) {
                (Some("VmRSS:"), Some(kb)) => {
                    if let Ok(kb) = kb.parse::<u64>() {
                        let _ = writeln!(out, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}", kb * 1024);
                    }
                }
                (Some("VmSize:"), Some(kb)) => {
                    if let Ok(kb) = kb.parse::<u64>() {
                        let _ = writeln!(out, "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes {}", kb * 1024);
                    }
                }
                _ => {}
            }
        }
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
        // Fields after the command name (which may contain spaces) start after the last ')'.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name.
            let cpu = (ticks(11) + ticks(12)) / 100.0;
            let _ = writeln!(
                out,
                "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu}"
            );
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        let _ = writeln!(
            out,
            "# TYPE process_open_fds gauge\nprocess_open_fds {}",
            fds.count()
        );
    }
}

/// `GET /metrics`.
pub async fn handler(State(state): State<Arc<AppState>>) -> Response {
    let mut out = String::new();
    write_process_metrics(&mut out, state.start_time_ms);
    state.http_metrics.write(&mut out);
    state.tsdb.write_self_metrics(&mut out);
    state.scrape.write_self_metrics(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

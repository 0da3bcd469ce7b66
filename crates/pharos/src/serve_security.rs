//! pharos' own security signal: every push it rejects (a 4xx answer on an ingest endpoint —
//! remote_write, Loki, OTLP, Jaeger, Zipkin, Elasticsearch, Alertmanager alerts) is counted as
//! `pharos_rejected_requests_total{api,reason}` on `/metrics`. One middleware sees every
//! listener's requests, so no handler needs to know about it.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::metrics_append::MetricsWriter;

/// Rejected pushes by (api, reason).
#[derive(Default)]
pub struct Rejections {
    counts: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Rejections {
    fn observe(&self, api: &'static str, reason: &'static str) {
        *self.counts.lock().entry((api, reason)).or_insert(0) += 1;
    }

    /// The counter in the text exposition format.
    pub fn write_metrics(&self, out: &mut String) {
        out.push_str("# HELP pharos_rejected_requests_total Pushes pharos refused with a 4xx answer, by API and reason.\n");
        out.push_str("# TYPE pharos_rejected_requests_total counter\n");
        for ((api, reason), n) in self.counts.lock().iter() {
            let _ = writeln!(
                out,
                "pharos_rejected_requests_total{{api=\"{api}\",reason=\"{reason}\"}} {n}"
            );
        }
    }
}

/// The ingest API a request pushes to, if it is a push.
pub fn push_api(method: &Method, path: &str) -> Option<&'static str> {
    if method != Method::POST && method != Method::PUT {
        return None;
    }
    let api = match path {
        "/api/v1/write" => "prometheus_remote_write",
        "/loki/api/v1/push" | "/api/prom/push" => "loki_push",
        "/v1/logs" => "otlp_logs",
        "/v1/traces" => "otlp_traces",
        "/v1/metrics" => "otlp_metrics",
        "/api/traces" => "jaeger",
        "/api/v2/spans" | "/api/v1/spans" => "zipkin",
        "/api/v2/alerts" | "/api/v1/alerts" => "alertmanager",
        p if p.ends_with("/_bulk") || p.contains("/_doc") || p.contains("/_create/") => {
            "elasticsearch"
        }
        _ => return None,
    };
    Some(api)
}

/// Why a 4xx answer rejected the push.
pub fn reason(status: StatusCode) -> Option<&'static str> {
    let r = match status.as_u16() {
        400 | 422 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 | 405 => "not_found",
        413 => "too_large",
        415 => "unsupported_media_type",
        429 => "rate_limited",
        400..=499 => "other",
        _ => return None,
    };
    Some(r)
}

/// Wraps `app` so that rejected pushes are counted; returns the `/metrics` writer.
pub fn count_rejections(app: axum::Router) -> (axum::Router, MetricsWriter) {
    let counts = Arc::new(Rejections::default());
    let c = counts.clone();
    let app = app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let c = c.clone();
            async move {
                let api = push_api(req.method(), req.uri().path());
                let resp = next.run(req).await;
                if let (Some(api), Some(reason)) = (api, reason(resp.status())) {
                    c.observe(api, reason);
                }
                resp
            }
        },
    ));
    let writer: MetricsWriter = Arc::new(move |out: &mut String| counts.write_metrics(out));
    (app, writer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn classifies_pushes_and_rejections() {
        assert_eq!(
            push_api(&Method::POST, "/api/v1/write"),
            Some("prometheus_remote_write")
        );
        assert_eq!(
            push_api(&Method::POST, "/crewai-logs/_bulk"),
            Some("elasticsearch")
        );
        assert_eq!(push_api(&Method::GET, "/api/v1/write"), None);
        assert_eq!(push_api(&Method::POST, "/api/v1/query"), None);
        assert_eq!(reason(StatusCode::TOO_MANY_REQUESTS), Some("rate_limited"));
        assert_eq!(reason(StatusCode::PAYLOAD_TOO_LARGE), Some("too_large"));
        assert_eq!(reason(StatusCode::IM_A_TEAPOT), Some("other"));
        assert_eq!(reason(StatusCode::NO_CONTENT), None);
        assert_eq!(reason(StatusCode::SERVICE_UNAVAILABLE), None);
        let r = Rejections::default();
        r.observe("loki_push", "rate_limited");
        r.observe("loki_push", "rate_limited");
        let mut out = String::new();
        r.write_metrics(&mut out);
        assert!(out.contains(
            "pharos_rejected_requests_total{api=\"loki_push\",reason=\"rate_limited\"} 2\n"
        ));
    }

    proptest! {
        /// Any path and status classify without panicking; only 4xx are rejections.
        #[test]
        fn any_path_and_status(path in ".{0,40}", code in 100u16..600) {
            let _ = push_api(&Method::POST, &path);
            if let Ok(s) = StatusCode::from_u16(code) {
                prop_assert_eq!(reason(s).is_some(), (400..500).contains(&code));
            }
        }
    }
}

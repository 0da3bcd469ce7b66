//! The slow query log: a middleware around every query endpoint (PromQL `query`/`query_range`,
//! LogQL `query`/`query_range`, Elasticsearch `_search`/`_msearch`/`_count`) that times each
//! request and, when it took at least `query_log.slow_threshold` (pharos.yml, default 5s),
//! stores one logfmt line in pharos' own log store, stream
//! `{job="pharos", stream="query_log", kind="promql|logql|es"}` (queryable with LogQL like any
//! other log), and writes it as a warning to pharos' own log. With Prometheus'
//! `global.query_log_file`, every PromQL query is also appended to that file as a JSON line, as
//! Prometheus does.
//!
//! One middleware instead of hooks in each handler: the handlers stay untouched, and every
//! listener that serves the same router (the Loki and Elasticsearch ports) is covered.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Instant;

static SLOW_MS: AtomicI64 = AtomicI64::new(config::troubleshoot::DEFAULT_SLOW_THRESHOLD_MS);
static QUERY_LOG_FILE: parking_lot::RwLock<Option<PathBuf>> = parking_lot::const_rwlock(None);

/// Longest query text kept in a log line.
const MAX_QUERY_CHARS: usize = 4096;
/// Largest request body read to find the query of a POST.
const MAX_BODY: usize = api::MAX_BODY_BYTES;

/// Which query language an endpoint speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    PromQl,
    LogQl,
    Es,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::PromQl => "promql",
            Kind::LogQl => "logql",
            Kind::Es => "es",
        }
    }
}

/// The query endpoint a path names, if any.
pub fn classify(path: &str) -> Option<Kind> {
    if path.starts_with("/loki/api/v1/query") || path.starts_with("/api/prom/query") {
        return Some(Kind::LogQl);
    }
    if path.ends_with("/api/v1/query") || path.ends_with("/api/v1/query_range") {
        return Some(Kind::PromQl);
    }
    let last = path.rsplit('/').next().unwrap_or("");
    if matches!(last, "_search" | "_msearch" | "_count") {
        return Some(Kind::Es);
    }
    None
}

/// Applies `query_log:` and `global.query_log_file` of a (re)loaded configuration.
pub fn on_config(cfg: &config::LoadedConfig) {
    SLOW_MS.store(cfg.query_log.slow_threshold_ms, Ordering::Relaxed);
    *QUERY_LOG_FILE.write() = cfg
        .prometheus
        .global
        .query_log_file
        .as_ref()
        .filter(|f| !f.is_empty())
        .map(|f| match (&cfg.prometheus_path, PathBuf::from(f)) {
            (Some(p), rel) if rel.is_relative() => p.parent().map(|d| d.join(&rel)).unwrap_or(rel),
            (_, abs) => abs,
        });
}

/// Wraps `app` so that every query request is timed and slow ones are logged into `store`.
pub fn layer(app: axum::Router, store: Arc<logs::LogStore>) -> axum::Router {
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let store = store.clone();
            async move { observe(store, req, next).await }
        },
    ))
}

async fn observe(store: Arc<logs::LogStore>, req: Request, next: Next) -> Response {
    let Some(kind) = classify(req.uri().path()) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_string();
    let mut params = parse_form(req.uri().query().unwrap_or(""));
    // A POST carries its parameters (form) or its query (ES JSON) in the body: read it once and
    // hand the same bytes on.
    let (req, body_text) = if req.method() == axum::http::Method::POST {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                return axum::response::IntoResponse::into_response((
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large\n",
                ))
            }
        };
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (Request::from_parts(parts, Body::from(bytes)), text)
    } else {
        (req, String::new())
    };
    if kind != Kind::Es && !body_text.is_empty() {
        params.extend(parse_form(&body_text));
    }
    let started = Instant::now();
    let resp = next.run(req).await;
    let took = started.elapsed();
    let query = match kind {
        Kind::Es => params
            .iter()
            .find(|(k, _)| k == "q")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| compact_json(&body_text)),
        _ => params
            .iter()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    };
    let entry = Entry {
        kind,
        path,
        query: truncate(&query, MAX_QUERY_CHARS),
        status: resp.status().as_u16(),
        duration_s: took.as_secs_f64(),
        params: params
            .into_iter()
            .filter(|(k, _)| matches!(k.as_str(), "start" | "end" | "step" | "time" | "limit"))
            .collect(),
    };
    tracing::debug!(
        kind = kind.as_str(),
        status = entry.status,
        duration = %format!("{:.3}s", entry.duration_s),
        query = %entry.query,
        "query"
    );
    let slow = took.as_millis() as i64 >= SLOW_MS.load(Ordering::Relaxed);
    let file = if kind == Kind::PromQl {
        QUERY_LOG_FILE.read().clone()
    } else {
        None
    };
    if slow || file.is_some() {
        let res = tokio::task::spawn_blocking(move || record(&store, &entry, slow, file)).await;
        if let Ok(Err(e)) = res {
            tracing::warn!("query log: {e}");
        }
    }
    resp
}

/// One timed query.
#[derive(Clone, Debug)]
struct Entry {
    kind: Kind,
    path: String,
    query: String,
    status: u16,
    duration_s: f64,
    params: Vec<(String, String)>,
}

impl Entry {
    /// The stored line: logfmt, so `| logfmt` extracts every field.
    fn line(&self) -> String {
        use crate::logging::logfmt_value as v;
        let mut s = format!(
            "kind={} status={} duration={:.6}s path={} query={}",
            self.kind.as_str(),
            self.status,
            self.duration_s,
            v(&self.path),
            v(&self.query)
        );
        for (k, val) in &self.params {
            s.push_str(&format!(" {k}={}", v(val)));
        }
        s
    }
}

fn record(
    store: &logs::LogStore,
    e: &Entry,
    slow: bool,
    file: Option<PathBuf>,
) -> Result<(), String> {
    if let Some(f) = file {
        append_prometheus_query_log(&f, e).map_err(|err| format!("{}: {err}", f.display()))?;
    }
    if !slow {
        return Ok(());
    }
    tracing::warn!(
        kind = e.kind.as_str(),
        status = e.status,
        duration = %format!("{:.3}s", e.duration_s),
        query = %e.query,
        "slow query"
    );
    let stream = model::LogStream {
        labels: model::Labels::from_pairs([
            ("job", "pharos"),
            ("stream", "query_log"),
            ("kind", e.kind.as_str()),
        ]),
        entries: vec![model::LogEntry {
            ts_ns: logs::store::now_ns(),
            line: e.line(),
            metadata: Vec::new(),
        }],
    };
    model::LogSink::push(store, model::logs::DEFAULT_TENANT, vec![stream])
        .map(|_| ())
        .map_err(|err| err.to_string())
}

/// Prometheus' query log format: one JSON object per line.
fn append_prometheus_query_log(path: &std::path::Path, e: &Entry) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut params = serde_json::Map::new();
    params.insert("query".into(), e.query.clone().into());
    for (k, v) in &e.params {
        params.insert(k.clone(), v.clone().into());
    }
    let obj = serde_json::json!({
        "params": params,
        "stats": {"timings": {"evalTotalTime": e.duration_s}},
        "httpRequest": {"path": e.path, "status": e.status},
        "ts": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{obj}")
}

fn compact_json(body: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(v) => v.to_string(),
        // `_msearch` is NDJSON: keep the lines, joined.
        Err(_) => body.lines().map(str::trim).collect::<Vec<_>>().join(" "),
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` is a space, `%XX` a byte); malformed
/// escapes are kept literally.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn endpoints_are_classified() {
        assert_eq!(classify("/api/v1/query"), Some(Kind::PromQl));
        assert_eq!(classify("/api/v1/query_range"), Some(Kind::PromQl));
        assert_eq!(classify("/loki/api/v1/query_range"), Some(Kind::LogQl));
        assert_eq!(classify("/logs-*/_search"), Some(Kind::Es));
        assert_eq!(classify("/_msearch"), Some(Kind::Es));
        assert_eq!(classify("/api/v1/labels"), None);
        assert_eq!(classify("/loki/api/v1/push"), None);
    }

    #[test]
    fn forms_decode() {
        assert_eq!(
            parse_form("query=rate(x%7Bjob%3D%22a%22%7D%5B5m%5D)&step=15+s&bad=%zz%"),
            vec![
                ("query".to_string(), "rate(x{job=\"a\"}[5m])".to_string()),
                ("step".to_string(), "15 s".to_string()),
                ("bad".to_string(), "%zz%".to_string()),
            ]
        );
    }

    #[test]
    fn line_is_logfmt() {
        let e = Entry {
            kind: Kind::LogQl,
            path: "/loki/api/v1/query_range".into(),
            query: "{job=\"a\"} |= \"x\"".into(),
            status: 200,
            duration_s: 1.5,
            params: vec![("step".into(), "15".into())],
        };
        assert_eq!(
            e.line(),
            "kind=logql status=200 duration=1.500000s path=/loki/api/v1/query_range query=\"{job=\\\"a\\\"} |= \\\"x\\\"\" step=15"
        );
    }

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }

    proptest! {
        #[test]
        fn form_round_trips(pairs in proptest::collection::vec(("[a-z]{1,5}", "\\PC{0,12}"), 0..4)) {
            let enc = |s: &str| s.bytes().map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            }).collect::<String>();
            let text = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
            let want: Vec<(String, String)> = pairs.clone();
            prop_assert_eq!(parse_form(&text), want);
        }

        #[test]
        fn form_never_panics(s in ".{0,40}") {
            let _ = parse_form(&s);
        }
    }
}

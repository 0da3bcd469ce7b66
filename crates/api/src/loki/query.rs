//! Loki's read API: `/loki/api/v1/query`, `/query_range`, `/labels`, `/label/{name}/values`,
//! `/series` and `/index/stats`, with Loki's parameter parsing (RFC3339, Unix seconds or
//! nanoseconds; `since`; default range 1h, default limit 100, direction backward) and JSON shapes
//! (`streams` with `[ts_ns_string, line(, {structuredMetadata, parsed})]`, `matrix`, `vector`,
//! `scalar`, and a `stats.summary` object).

use super::{storage_error, text, LokiState};
use crate::prometheus::params::Params;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use logs::logql::{self, QueryError, QueryResult, QueryStats};
use model::{Direction, LabelMatcher, Labels};
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn bad(msg: impl Into<String>) -> Response {
    text(StatusCode::BAD_REQUEST, msg.into())
}

/// Loki's timestamp parsing: float seconds with a dot, integers of up to 10 digits as seconds,
/// longer integers as nanoseconds, else RFC3339.
pub fn parse_time(v: &str) -> Result<i64, String> {
    let v = v.trim();
    if v.contains('.') {
        if let Ok(f) = v.parse::<f64>() {
            return Ok((f * 1e9) as i64);
        }
    }
    if let Ok(n) = v.parse::<i64>() {
        return Ok(if v.trim_start_matches('-').len() <= 10 {
            n.saturating_mul(1_000_000_000)
        } else {
            n
        });
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .and_then(|d| d.timestamp_nanos_opt())
        .ok_or_else(|| format!("cannot parse {v:?} to a valid timestamp"))
}

/// `step`/`since`/`interval`: a duration (`5m`) or float seconds.
pub fn parse_step(v: &str) -> Result<i64, String> {
    if let Ok(f) = v.trim().parse::<f64>() {
        return Ok((f * 1e9) as i64);
    }
    logql::lexer::parse_duration(v.trim())
        .ok_or_else(|| format!("cannot parse {v:?} to a valid duration"))
}

fn time_param(p: &Params, key: &str, default: i64) -> Result<i64, Response> {
    match p.get(key) {
        Some(v) => parse_time(v).map_err(bad),
        None => Ok(default),
    }
}

fn direction(p: &Params) -> Result<Direction, Response> {
    match p.get("direction").map(|d| d.to_ascii_lowercase()) {
        None => Ok(Direction::Backward),
        Some(d) if d == "backward" => Ok(Direction::Backward),
        Some(d) if d == "forward" => Ok(Direction::Forward),
        Some(d) => Err(bad(format!(
            "invalid direction {d:?}: expected forward or backward"
        ))),
    }
}

fn limit(st: &LokiState, p: &Params) -> Result<usize, Response> {
    let l = match p.get("limit") {
        None => 100,
        Some(v) => v.parse::<usize>().map_err(|_| {
            bad(format!(
                "invalid limit {v:?}: expected a non-negative integer"
            ))
        })?,
    };
    let max = st.store.limits().max_entries_limit_per_query;
    if max > 0 && l > max {
        return Err(bad(format!("max entries limit per query exceeded, limit > max_entries_limit_per_query ({l} > {max})")));
    }
    Ok(l)
}

fn categorize(headers: &HeaderMap) -> bool {
    headers
        .get_all("x-loki-response-encoding-flags")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|f| f.trim() == "categorize-labels"))
}

fn query_error(e: QueryError) -> Response {
    match e {
        QueryError::Parse(p) => bad(p.to_string()),
        QueryError::Bad(m) => bad(m),
        QueryError::Storage(s) => storage_error(s),
    }
}

pub fn labels_json(l: &Labels) -> Value {
    let mut m = Map::new();
    for p in l.iter() {
        m.insert(p.name.clone(), Value::String(p.value.clone()));
    }
    Value::Object(m)
}

fn pairs_json(p: &[(String, String)]) -> Value {
    Value::Object(
        p.iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Go's strconv.FormatFloat(v, 'f', -1, 64) with Prometheus' special values.
pub fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn ts_json(ns: i64) -> Value {
    if ns % 1_000_000_000 == 0 {
        json!(ns / 1_000_000_000)
    } else {
        json!(ns as f64 / 1e9)
    }
}

pub fn result_json(r: &QueryResult, categorize: bool) -> (&'static str, Value) {
    match r {
        QueryResult::Streams(streams) => (
            "streams",
            Value::Array(
                streams
                    .iter()
                    .map(|s| {
                        let values: Vec<Value> = s
                            .entries
                            .iter()
                            .map(|e| {
                                let mut a = vec![Value::String(e.ts_ns.to_string()), Value::String(e.line.clone())];
                                if categorize && (!e.metadata.is_empty() || !e.parsed.is_empty()) {
                                    let mut m = Map::new();
                                    if !e.metadata.is_empty() {
                                        m.insert("structuredMetadata".into(), pairs_json(&e.metadata));
                                    }
                                    if !e.parsed.is_empty() {
                                        m.insert("parsed".into(), pairs_json(&e.parsed));
                                    }
                                    a.push(Value::Object(m));
                                }
                                Value::Array(a)
                            })
                            .collect();
                        json!({"stream": labels_json(&s.labels), "values": values})
                    })
                    .collect(),
            ),
        ),
        QueryResult::Matrix(m) => (
            "matrix",
            Value::Array(
                m.iter()
                    .map(|(l, pts)| {
                        json!({"metric": labels_json(l), "values": pts.iter().map(|(t, v)| json!([ts_json(*t), fmt_value(*v)])).collect::<Vec<_>>()})
                    })
                    .collect(),
            ),
        ),
        QueryResult::Vector(v, t) => (
            "vector",
            Value::Array(v.iter().map(|(l, x)| json!({"metric": labels_json(l), "value": [ts_json(*t), fmt_value(*x)]})).collect()),
        ),
        QueryResult::Scalar(x, t) => ("scalar", json!([ts_json(*t), fmt_value(*x)])),
    }
}

fn stats_json(s: &QueryStats, secs: f64) -> Value {
    let per = |x: u64| {
        if secs > 0.0 {
            (x as f64 / secs) as u64
        } else {
            0
        }
    };
    json!({
        "summary": {
            "bytesProcessedPerSecond": per(s.bytes_scanned),
            "linesProcessedPerSecond": per(s.entries_scanned),
            "totalBytesProcessed": s.bytes_scanned,
            "totalLinesProcessed": s.entries_scanned,
            "totalEntriesReturned": s.entries_returned,
            "totalPostFilterLines": s.entries_returned,
            "execTime": secs,
            "queueTime": 0,
            "subqueries": 0,
            "splits": 0,
            "shards": 0,
            "totalStructuredMetadataBytesProcessed": 0,
        },
        "querier": {"store": {"totalChunksRef": 0, "totalChunksDownloaded": 0, "chunksDownloadTime": 0, "chunk": {}}},
        "ingester": {"totalReached": 0, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": 0, "store": {"chunk": {}}},
        "cache": {},
    })
}

async fn run(st: Arc<LokiState>, q: String, p: logql::Params, categorize: bool) -> Response {
    let store = st.store.clone();
    let t0 = std::time::Instant::now();
    let res = tokio::task::spawn_blocking(move || logql::query(store.as_ref(), &q, &p)).await;
    let secs = t0.elapsed().as_secs_f64();
    match res {
        Ok(Ok((r, stats))) => {
            let (kind, result) = result_json(&r, categorize);
            let mut data =
                json!({"resultType": kind, "result": result, "stats": stats_json(&stats, secs)});
            if categorize {
                data["encodingFlags"] = json!(["categorize-labels"]);
            }
            axum::Json(json!({"status": "success", "data": data})).into_response()
        }
        Ok(Err(e)) => query_error(e),
        Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

pub async fn instant(State(st): State<Arc<LokiState>>, headers: HeaderMap, p: Params) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(q) = p.get("query").map(str::to_string) else {
        return bad("query parameter is required");
    };
    let now = logs::store::now_ns();
    let r = (|| {
        let t = time_param(&p, "time", now)?;
        let lp = logql::Params {
            tenant,
            start_ns: t,
            end_ns: t,
            limit: limit(&st, &p)?,
            direction: direction(&p)?,
            categorize: categorize(&headers),
            instant: true,
            max_series: st.store.limits().max_query_series.max(1),
            ..Default::default()
        };
        Ok::<_, Response>(lp)
    })();
    match r {
        Ok(lp) => {
            let c = lp.categorize;
            run(st, q, lp, c).await
        }
        Err(r) => r,
    }
}

pub async fn range(State(st): State<Arc<LokiState>>, headers: HeaderMap, p: Params) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(q) = p.get("query").map(str::to_string) else {
        return bad("query parameter is required");
    };
    let now = logs::store::now_ns();
    let r = (|| {
        let end = time_param(&p, "end", now)?;
        let since = match p.get("since") {
            Some(s) => parse_step(s).map_err(bad)?,
            None => 3_600_000_000_000,
        };
        let start = time_param(&p, "start", end - since)?;
        if end < start {
            return Err(bad(
                "end timestamp must not be before or equal to start time",
            ));
        }
        let step = match p.get("step") {
            Some(s) => parse_step(s).map_err(bad)?,
            None => (((end - start) as f64 / 1e9 / 250.0).floor().max(1.0) * 1e9) as i64,
        };
        if step <= 0 {
            return Err(bad("zero or negative query resolution step widths are not accepted. Try a positive integer"));
        }
        let limits = st.store.limits();
        if limits.max_query_length_ns > 0 && end - start > limits.max_query_length_ns {
            let h = |ns: i64| {
                format!(
                    "{}h{}m{}s",
                    ns / 3_600_000_000_000,
                    ns / 60_000_000_000 % 60,
                    ns / 1_000_000_000 % 60
                )
            };
            return Err(bad(format!(
                "the query time range exceeds the limit (query length: {}, limit: {})",
                h(end - start),
                h(limits.max_query_length_ns)
            )));
        }
        Ok(logql::Params {
            tenant,
            start_ns: start,
            end_ns: end,
            step_ns: step,
            limit: limit(&st, &p)?,
            direction: direction(&p)?,
            categorize: categorize(&headers),
            instant: false,
            max_series: st.store.limits().max_query_series.max(1),
        })
    })();
    match r {
        Ok(lp) => {
            let c = lp.categorize;
            run(st, q, lp, c).await
        }
        Err(r) => r,
    }
}

/// Start/end for metadata endpoints (default: the last 6 hours, as Loki).
fn meta_range(p: &Params) -> Result<(i64, i64), Response> {
    let now = logs::store::now_ns();
    let end = time_param(p, "end", now)?;
    let since = match p.get("since") {
        Some(s) => parse_step(s).map_err(bad)?,
        None => 6 * 3_600_000_000_000,
    };
    let start = time_param(p, "start", end - since)?;
    Ok((start, end))
}

/// Tenant, time range and `query` selector of a metadata request.
fn meta_request(
    st: &LokiState,
    headers: &HeaderMap,
    p: &Params,
) -> Result<(String, i64, i64, Vec<LabelMatcher>), Response> {
    let tenant = st.tenant(headers)?;
    let (start, end) = meta_range(p)?;
    Ok((tenant, start, end, selector(p, "query")?))
}

fn selector(p: &Params, key: &str) -> Result<Vec<LabelMatcher>, Response> {
    match p.get(key) {
        None => Ok(Vec::new()),
        Some(q) => {
            let e = logql::parse(q).map_err(|e| bad(e.to_string()))?;
            Ok(logql::eval::selector_matchers(&e))
        }
    }
}

pub async fn labels(State(st): State<Arc<LokiState>>, headers: HeaderMap, p: Params) -> Response {
    let (tenant, start, end, m) = match meta_request(&st, &headers, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let names = st
        .store
        .label_names(&tenant, &m, start, end.saturating_add(1));
    axum::Json(json!({"status": "success", "data": names})).into_response()
}

pub async fn label_values(
    State(st): State<Arc<LokiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    p: Params,
) -> Response {
    let (tenant, start, end, m) = match meta_request(&st, &headers, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let vals = st
        .store
        .label_values(&tenant, &name, &m, start, end.saturating_add(1));
    axum::Json(json!({"status": "success", "data": vals})).into_response()
}

pub async fn series(State(st): State<Arc<LokiState>>, headers: HeaderMap, p: Params) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let (start, end) = match meta_range(&p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut groups: Vec<&str> = p.all("match[]");
    groups.extend(p.all("match"));
    groups.retain(|g| !g.is_empty());
    let mut out: Vec<Labels> = Vec::new();
    if groups.is_empty() {
        return bad("at least one match[] parameter is required");
    }
    for g in groups {
        let m = match logql::parse_selector(g) {
            Ok(m) => m,
            Err(e) => return bad(e.to_string()),
        };
        match model::LogQueryable::streams(
            st.store.as_ref(),
            &tenant,
            &m,
            start,
            end.saturating_add(1),
        ) {
            Ok(v) => out.extend(v),
            Err(e) => return storage_error(e),
        }
    }
    out.sort();
    out.dedup();
    axum::Json(
        json!({"status": "success", "data": out.iter().map(labels_json).collect::<Vec<_>>()}),
    )
    .into_response()
}

pub async fn index_stats(
    State(st): State<Arc<LokiState>>,
    headers: HeaderMap,
    p: Params,
) -> Response {
    let (tenant, start, end, m) = match meta_request(&st, &headers, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if m.is_empty() {
        return bad("query parameter is required");
    }
    let s = st
        .store
        .index_stats(&tenant, &m, start, end.saturating_add(1));
    axum::Json(
        json!({"streams": s.streams, "chunks": s.chunks, "entries": s.entries, "bytes": s.bytes}),
    )
    .into_response()
}

/// `/loki/api/v1/index/volume`: bytes per label combination of the matching streams, grouped by
/// the label names of the selector (or `targetLabels`), largest first, at most `limit` (100).
pub async fn volume(State(st): State<Arc<LokiState>>, headers: HeaderMap, p: Params) -> Response {
    let (tenant, start, end, m) = match meta_request(&st, &headers, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if m.is_empty() {
        return bad("query parameter is required");
    }
    let by: Vec<String> = match p.get("targetLabels") {
        Some(t) => t
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => m.iter().map(|x| x.name.clone()).collect(),
    };
    let names: Vec<&str> = by.iter().map(String::as_str).collect();
    let limit = p
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100);
    let mut groups: std::collections::BTreeMap<Labels, u64> = std::collections::BTreeMap::new();
    for (l, s) in st
        .store
        .stream_stats(&tenant, &m, start, end.saturating_add(1))
    {
        *groups.entry(l.keep_only(&names)).or_default() += s.bytes;
    }
    let mut v: Vec<(Labels, u64)> = groups.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(limit);
    let result: Vec<Value> = v
        .iter()
        .map(|(l, b)| json!({"metric": labels_json(l), "value": [ts_json(end), b.to_string()]}))
        .collect();
    axum::Json(json!({"status": "success", "data": {"resultType": "vector", "result": result}}))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(
            parse_time("1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        assert_eq!(
            parse_time("1700000000000000001").unwrap(),
            1_700_000_000_000_000_001
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z").unwrap(),
            1_700_000_000_000_000_000
        );
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_step("15").unwrap(), 15_000_000_000);
        assert_eq!(parse_step("1m").unwrap(), 60_000_000_000);
        assert_eq!(fmt_value(3.0), "3");
        assert_eq!(fmt_value(0.25), "0.25");
    }
}

//! `_search` and `_count` over one or more indices (`a,b`, `logs-*`, `_all`): resolves the
//! index expression against the `index` label values of the tenant's streams, scans the
//! matching streams (narrowed to the `@timestamp` window of the query when it has one), and
//! evaluates the query DSL and aggregations on each document.

use super::{tenant, EsReply, EsState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use esdsl::document::{self, IndexExpr, INDEX_LABEL};
use esdsl::query::DocRef;
use esdsl::search::{self, Doc};
use esdsl::EsError;
use model::{Direction, LabelMatcher, MatchOp};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

fn internal(e: impl std::fmt::Display) -> EsError {
    EsError::new(500, "exception", e.to_string())
}

/// Existing indices matched by `expr`; 404 for a missing concrete index unless
/// `ignore_unavailable=true`.
fn resolve(
    st: &EsState,
    tenant: &str,
    expr: &str,
    ignore_unavailable: bool,
) -> Result<Vec<String>, EsError> {
    let e = IndexExpr::parse(expr)?;
    let all = st
        .store
        .streams(tenant, std::slice::from_ref(&e.matcher), i64::MIN, i64::MAX)
        .map_err(internal)?;
    let mut names: Vec<String> = all
        .iter()
        .filter_map(|l| l.get(INDEX_LABEL).map(String::from))
        .collect();
    names.sort();
    names.dedup();
    if !ignore_unavailable {
        if let Some(missing) = e.concrete.iter().find(|c| !names.contains(c)) {
            return Err(EsError::index_not_found(missing));
        }
    }
    Ok(names.into_iter().filter(|n| e.matches(n)).collect())
}

fn matcher_for(indices: &[String]) -> Result<LabelMatcher, EsError> {
    let alt: Vec<String> = indices.iter().map(|i| regex::escape(i)).collect();
    LabelMatcher::new(INDEX_LABEL, MatchOp::RegexMatch, alt.join("|")).map_err(internal)
}

/// Scans `indices` in `window`, calling `f` for each document until it returns false.
fn scan_docs(
    st: &EsState,
    tenant: &str,
    indices: &[String],
    window: (i64, i64),
    f: &mut dyn FnMut(Doc) -> bool,
) -> Result<(), EsError> {
    if indices.is_empty() {
        return Ok(());
    }
    let m = matcher_for(indices)?;
    st.store
        .scan(
            tenant,
            &[m],
            window.0,
            window.1,
            Direction::Forward,
            &mut |labels, entry| match document::from_entry(labels, entry) {
                Some((index, id, source)) => f(Doc { index, id, source }),
                None => true,
            },
        )
        .map_err(internal)
}

fn body_json(body: &[u8], p: &HashMap<String, String>) -> Result<Option<Value>, EsError> {
    let text: &[u8] = match p.get("source") {
        Some(s) if body.iter().all(u8::is_ascii_whitespace) => s.as_bytes(),
        _ => body,
    };
    if text.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(text).map(Some).map_err(|e| {
        EsError::new(
            400,
            "x_content_parse_exception",
            format!("[1:1] failed to parse the request body as JSON: {e}"),
        )
    })
}

fn flag(p: &HashMap<String, String>, k: &str) -> bool {
    p.get(k).is_some_and(|v| v != "false")
}

async fn search_impl(
    st: Arc<EsState>,
    headers: HeaderMap,
    expr: String,
    p: HashMap<String, String>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    let start = Instant::now();
    let body = body_json(&body, &p)?;
    let req = search::parse_request(body.as_ref(), &p, model::time::now_ms())?;
    let tenant = tenant(&headers);
    let ignore = flag(&p, "ignore_unavailable");
    let out = tokio::task::spawn_blocking(move || -> Result<Value, EsError> {
        let indices = resolve(&st, &tenant, &expr, ignore)?;
        let mut matched = Vec::new();
        scan_docs(&st, &tenant, &indices, req.window_ns, &mut |d| {
            if req.is_hit(&DocRef {
                source: &d.source,
                id: &d.id,
                index: &d.index,
            }) {
                matched.push(d);
            }
            true
        })?;
        Ok(req.respond(matched, start.elapsed().as_millis() as u64))
    })
    .await
    .map_err(internal)??;
    Ok(Json(out))
}

/// `_msearch`: NDJSON pairs of header (`{"index": ...}`) and search body; one response per
/// pair, failures reported in place (as ES does), not for the whole request.
async fn msearch_impl(
    st: Arc<EsState>,
    headers: HeaderMap,
    default_index: String,
    p: HashMap<String, String>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    let start = Instant::now();
    let text =
        std::str::from_utf8(&body).map_err(|_| EsError::illegal("_msearch body is not UTF-8"))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() || !lines.len().is_multiple_of(2) {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added or a header without a body;",
        )
        .into());
    }
    let mut responses = Vec::new();
    for pair in lines.chunks(2) {
        let one = async {
            let header: Value = serde_json::from_str(pair[0]).map_err(|e| {
                EsError::new(
                    400,
                    "x_content_parse_exception",
                    format!("bad _msearch header: {e}"),
                )
            })?;
            let index = match header.get("index") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => default_index.clone(),
            };
            let mut params = p.clone();
            if header.get("ignore_unavailable").and_then(Value::as_bool) == Some(true) {
                params.insert("ignore_unavailable".into(), "true".into());
            }
            search_impl(
                st.clone(),
                headers.clone(),
                index,
                params,
                Bytes::from(pair[1].to_string()),
            )
            .await
            .map(|Json(v)| v)
            .map_err(|EsReply(e)| e)
        };
        responses.push(match one.await {
            Ok(mut v) => {
                v["status"] = json!(200);
                v
            }
            Err(e) => e.to_json(),
        });
    }
    Ok(Json(
        json!({"took": start.elapsed().as_millis() as u64, "responses": responses}),
    ))
}

pub async fn msearch_all(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    msearch_impl(st, headers, "_all".into(), p, body).await
}

pub async fn msearch_index(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path(index): Path<String>,
    Query(p): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    msearch_impl(st, headers, index, p, body).await
}

async fn count_impl(
    st: Arc<EsState>,
    headers: HeaderMap,
    expr: String,
    p: HashMap<String, String>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    let body = body_json(&body, &p)?;
    if let Some(Value::Object(o)) = &body {
        if let Some(k) = o.keys().find(|k| k.as_str() != "query") {
            return Err(EsError::parsing(format!("request does not support [{k}]")).into());
        }
    }
    let mut params = p.clone();
    params.insert("size".into(), "0".into());
    let req = search::parse_request(body.as_ref(), &params, model::time::now_ms())?;
    let tenant = tenant(&headers);
    let ignore = flag(&p, "ignore_unavailable");
    let n = tokio::task::spawn_blocking(move || -> Result<u64, EsError> {
        let indices = resolve(&st, &tenant, &expr, ignore)?;
        let mut n = 0u64;
        scan_docs(&st, &tenant, &indices, req.window_ns, &mut |d| {
            if req.is_hit(&DocRef {
                source: &d.source,
                id: &d.id,
                index: &d.index,
            }) {
                n += 1;
            }
            true
        })?;
        Ok(n)
    })
    .await
    .map_err(internal)??;
    Ok(Json(
        json!({"count": n, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}),
    ))
}

/// Documents sampled per index for `_mapping`.
const MAPPING_SAMPLE: usize = 1000;

/// `GET /{index}/_mapping`: the mapping ES' dynamic mapping would have built, inferred from the
/// newest documents of each index.
pub async fn mapping(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    index: Option<Path<String>>,
) -> Result<Json<Value>, EsReply> {
    let tenant = tenant(&headers);
    let expr = index.map(|Path(i)| i).unwrap_or_else(|| "_all".into());
    let out = tokio::task::spawn_blocking(move || -> Result<Value, EsError> {
        let indices = resolve(&st, &tenant, &expr, false)?;
        let mut out = serde_json::Map::new();
        for i in indices {
            let mut props = serde_json::Map::new();
            let m = matcher_for(std::slice::from_ref(&i))?;
            let mut n = 0;
            st.store
                .scan(
                    &tenant,
                    &[m],
                    i64::MIN,
                    i64::MAX,
                    Direction::Backward,
                    &mut |labels, e| {
                        if let Some((_, _, src)) = document::from_entry(labels, e) {
                            esdsl::mapping::merge(&mut props, &src);
                        }
                        n += 1;
                        n < MAPPING_SAMPLE
                    },
                )
                .map_err(internal)?;
            out.insert(i, json!({"mappings": {"properties": props}}));
        }
        Ok(Value::Object(out))
    })
    .await
    .map_err(internal)??;
    Ok(Json(out))
}

/// Document count and line bytes per index matched by `expr`.
pub async fn index_counts(
    st: &Arc<EsState>,
    tenant: &str,
    expr: &str,
) -> Result<BTreeMap<String, (u64, u64)>, EsError> {
    let st = st.clone();
    let tenant = tenant.to_string();
    let expr = expr.to_string();
    tokio::task::spawn_blocking(move || {
        let indices = resolve(&st, &tenant, &expr, false)?;
        let mut out: BTreeMap<String, (u64, u64)> =
            indices.iter().map(|i| (i.clone(), (0, 0))).collect();
        if indices.is_empty() {
            return Ok(out);
        }
        let m = matcher_for(&indices)?;
        st.store
            .scan(
                &tenant,
                &[m],
                i64::MIN,
                i64::MAX,
                Direction::Forward,
                &mut |labels, e| {
                    if let Some(i) = labels.get(INDEX_LABEL) {
                        if let Some(c) = out.get_mut(i) {
                            c.0 += 1;
                            c.1 += e.line.len() as u64;
                        }
                    }
                    true
                },
            )
            .map_err(internal)?;
        Ok(out)
    })
    .await
    .map_err(internal)?
}

pub async fn search_all(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    search_impl(st, headers, "_all".into(), p, body).await
}

pub async fn search_index(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path(index): Path<String>,
    Query(p): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    search_impl(st, headers, index, p, body).await
}

pub async fn count_all(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    count_impl(st, headers, "_all".into(), p, body).await
}

pub async fn count_index(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path(index): Path<String>,
    Query(p): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    count_impl(st, headers, index, p, body).await
}

/// The newest stored version of document `id` in the concrete index `index`, with how many
/// times the id was indexed (its `_version`). 404 `index_not_found_exception` for a missing
/// index.
fn find_doc(
    st: &EsState,
    tenant: &str,
    index: &str,
    id: &str,
) -> Result<Option<(Value, u64)>, EsError> {
    let indices = resolve(st, tenant, index, false)?;
    let mut found: Option<(Value, u64)> = None;
    scan_docs(st, tenant, &indices, (i64::MIN, i64::MAX), &mut |d| {
        if d.id == id && d.index == index {
            let n = found.as_ref().map_or(0, |f| f.1);
            found = Some((d.source, n + 1));
        }
        true
    })?;
    Ok(found)
}

async fn lookup(
    st: Arc<EsState>,
    headers: &HeaderMap,
    index: String,
    id: String,
) -> Result<Option<(Value, u64)>, EsReply> {
    document::validate_index(&index)?;
    let tenant = tenant(headers);
    Ok(
        tokio::task::spawn_blocking(move || find_doc(&st, &tenant, &index, &id))
            .await
            .map_err(internal)??,
    )
}

/// `GET`/`HEAD /{index}/_doc/{id}`: the document as Elasticsearch returns it (`found`,
/// `_version`, `_seq_no`, `_primary_term`, `_source`), or 404 with `found: false`.
pub async fn get_doc(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path((index, id)): Path<(String, String)>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<axum::response::Response, EsReply> {
    use axum::response::IntoResponse;
    let found = lookup(st, &headers, index.clone(), id.clone()).await?;
    Ok(match found {
        None => (
            axum::http::StatusCode::NOT_FOUND,
            Json(json!({"_index": index, "_id": id, "found": false})),
        )
            .into_response(),
        Some((source, version)) => {
            let mut out = json!({
                "_index": index, "_id": id, "_version": version,
                "_seq_no": version - 1, "_primary_term": 1, "found": true,
            });
            if p.get("_source").map(String::as_str) != Some("false") {
                out["_source"] = source;
            }
            Json(out).into_response()
        }
    })
}

/// `GET`/`HEAD /{index}/_source/{id}`: only the document's source; 404
/// `resource_not_found_exception` when there is none.
pub async fn get_source(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path((index, id)): Path<(String, String)>,
) -> Result<Json<Value>, EsReply> {
    match lookup(st, &headers, index.clone(), id.clone()).await? {
        Some((source, _)) => Ok(Json(source)),
        None => Err(EsError::new(
            404,
            "resource_not_found_exception",
            format!("Document not found [{index}]/[{id}]"),
        )
        .into()),
    }
}

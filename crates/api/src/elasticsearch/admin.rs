//! Cluster-level endpoints: `GET /` info, `_cluster/health`, `_cat/indices`, and index/legacy/
//! component templates, ILM policies and data streams, which are accepted and stored (so
//! clients that check for them on start are satisfied) but do not change how pharos stores
//! documents.

use super::{search::index_counts, tenant, EsReply, EsState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use esdsl::EsError;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Version reported to clients: an 8.x release, so 8.x clients accept the server.
pub const ES_VERSION: &str = "8.13.0";

pub async fn info() -> Json<Value> {
    Json(json!({
        "name": "pharos",
        "cluster_name": "pharos",
        "cluster_uuid": "cGhhcm9zLWNsdXN0ZXI",
        "version": {
            "number": ES_VERSION,
            "build_flavor": "default",
            "build_type": "pharos",
            "build_hash": "pharos",
            "build_date": "2024-01-01T00:00:00.000Z",
            "build_snapshot": false,
            "lucene_version": "9.10.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    }))
}

pub async fn health() -> Json<Value> {
    Json(json!({
        "cluster_name": "pharos",
        "status": "green",
        "timed_out": false,
        "number_of_nodes": 1,
        "number_of_data_nodes": 1,
        "active_primary_shards": 1,
        "active_shards": 1,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 0,
        "delayed_unassigned_shards": 0,
        "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0,
        "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0
    }))
}

pub async fn cat_health(Query(p): Query<HashMap<String, String>>) -> Response {
    let now = chrono::Utc::now();
    let row = json!({"epoch": now.timestamp().to_string(), "timestamp": now.format("%H:%M:%S").to_string(),
        "cluster": "pharos", "status": "green", "node.total": "1", "node.data": "1", "shards": "1", "pri": "1",
        "relo": "0", "init": "0", "unassign": "0", "pending_tasks": "0", "max_task_wait_time": "-", "active_shards_percent": "100.0%"});
    cat_reply(
        &p,
        &[
            "epoch",
            "timestamp",
            "cluster",
            "status",
            "node.total",
            "node.data",
            "shards",
            "pri",
            "relo",
            "init",
            "unassign",
            "pending_tasks",
            "max_task_wait_time",
            "active_shards_percent",
        ],
        vec![row],
    )
}

/// `_cat/indices`: one row per index with its document count and line bytes.
pub async fn cat_indices(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    index: Option<Path<String>>,
    Query(p): Query<HashMap<String, String>>,
) -> Result<Response, EsReply> {
    let expr = index.map(|Path(i)| i).unwrap_or_else(|| "*".into());
    let counts = index_counts(&st, &tenant(&headers), &expr).await?;
    let rows: Vec<Value> = counts
        .into_iter()
        .map(|(name, (docs, bytes))| {
            json!({"health": "green", "status": "open", "index": name, "uuid": uuid_of(&name),
                "pri": "1", "rep": "0", "docs.count": docs.to_string(), "docs.deleted": "0",
                "store.size": human_bytes(bytes), "pri.store.size": human_bytes(bytes), "dataset.size": human_bytes(bytes)})
        })
        .collect();
    Ok(cat_reply(
        &p,
        &[
            "health",
            "status",
            "index",
            "uuid",
            "pri",
            "rep",
            "docs.count",
            "docs.deleted",
            "store.size",
            "pri.store.size",
        ],
        rows,
    ))
}

fn uuid_of(name: &str) -> String {
    let mut h: u64 = 1469598103934665603;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    format!("{h:016x}{:06x}", name.len())
}

fn human_bytes(b: u64) -> String {
    let (v, u) = match b {
        b if b >= 1 << 30 => (b as f64 / (1u64 << 30) as f64, "gb"),
        b if b >= 1 << 20 => (b as f64 / (1u64 << 20) as f64, "mb"),
        b if b >= 1 << 10 => (b as f64 / 1024.0, "kb"),
        b => return format!("{b}b"),
    };
    format!("{v:.1}{u}")
}

/// Renders a `_cat` answer: JSON with `format=json`, else an aligned text table (`v` adds the
/// header, `h` picks columns).
fn cat_reply(p: &HashMap<String, String>, default_cols: &[&str], rows: Vec<Value>) -> Response {
    let cols: Vec<String> = match p.get("h") {
        Some(h) => h
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => default_cols.iter().map(|s| s.to_string()).collect(),
    };
    if p.get("format").map(String::as_str) == Some("json") {
        let out: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut o = serde_json::Map::new();
                for c in &cols {
                    o.insert(c.clone(), r.get(c).cloned().unwrap_or(Value::Null));
                }
                Value::Object(o)
            })
            .collect();
        return Json(Value::Array(out)).into_response();
    }
    let mut table: Vec<Vec<String>> = Vec::new();
    if p.contains_key("v") {
        table.push(cols.clone());
    }
    for r in &rows {
        table.push(
            cols.iter()
                .map(|c| r.get(c).and_then(Value::as_str).unwrap_or("").to_string())
                .collect(),
        );
    }
    let widths: Vec<usize> = (0..cols.len())
        .map(|i| table.iter().map(|row| row[i].len()).max().unwrap_or(0))
        .collect();
    let mut text = String::new();
    for row in table {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        text.push_str(line.join(" ").trim_end());
        text.push('\n');
    }
    ([("content-type", "text/plain; charset=UTF-8")], text).into_response()
}

fn save(st: &EsState, all: &super::Templates) {
    if let Some(p) = &st.templates_path {
        if let Some(dir) = p.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let tmp = p.with_extension("tmp");
        let ok = serde_json::to_vec_pretty(all)
            .ok()
            .and_then(|b| std::fs::write(&tmp, b).ok())
            .and_then(|_| std::fs::rename(&tmp, p).ok());
        if ok.is_none() {
            tracing::warn!(path = %p.display(), "cannot persist Elasticsearch templates");
        }
    }
}

fn not_found(kind: &str, name: &str) -> EsReply {
    let what = match kind {
        "template" => format!("index_template [{name}] missing"),
        "component_template" => format!("component template matching [{name}] not found"),
        _ => format!("index template matching [{name}] not found"),
    };
    EsReply(EsError::new(404, "resource_not_found_exception", what))
}

fn get_tpl(st: &EsState, kind: &str, name: Option<&str>) -> Result<Json<Value>, EsReply> {
    let all = st.templates.lock();
    let empty = Default::default();
    let m = all.get(kind).unwrap_or(&empty);
    let selected: Vec<(&String, &Value)> = m
        .iter()
        .filter(|(k, _)| {
            name.is_none_or(|n| esdsl::field::wildcard_regex(n, false).is_ok_and(|r| r.is_match(k)))
        })
        .collect();
    if selected.is_empty() && name.is_some_and(|n| !n.contains('*')) {
        return Err(not_found(kind, name.unwrap_or("")));
    }
    Ok(Json(match kind {
        "template" => Value::Object(
            selected
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        "component_template" => {
            json!({"component_templates": selected.into_iter().map(|(k, v)| json!({"name": k, "component_template": v})).collect::<Vec<_>>()})
        }
        _ => {
            json!({"index_templates": selected.into_iter().map(|(k, v)| json!({"name": k, "index_template": v})).collect::<Vec<_>>()})
        }
    }))
}

fn head_tpl(st: &EsState, kind: &str, name: &str) -> StatusCode {
    let all = st.templates.lock();
    if all.get(kind).is_some_and(|m| m.contains_key(name)) {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    }
}

fn put_tpl(
    st: &EsState,
    kind: &str,
    name: &str,
    p: &HashMap<String, String>,
    body: &[u8],
) -> Result<Json<Value>, EsReply> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        EsError::new(
            400,
            "x_content_parse_exception",
            format!("failed to parse template body: {e}"),
        )
    })?;
    if !v.is_object() {
        return Err(EsError::parsing("template body must be a JSON object").into());
    }
    let mut all = st.templates.lock();
    let m = all.entry(kind.to_string()).or_default();
    if p.get("create").is_some_and(|c| c != "false") && m.contains_key(name) {
        return Err(EsError::illegal(format!("index template [{name}] already exists")).into());
    }
    m.insert(name.to_string(), v);
    save(st, &all);
    Ok(Json(json!({"acknowledged": true})))
}

fn delete_tpl(st: &EsState, kind: &str, name: &str) -> Result<Json<Value>, EsReply> {
    let mut all = st.templates.lock();
    let removed = all.get_mut(kind).and_then(|m| m.remove(name)).is_some();
    if !removed {
        return Err(not_found(kind, name));
    }
    save(st, &all);
    Ok(Json(json!({"acknowledged": true})))
}

macro_rules! template_handlers {
    ($kind:literal, $list:ident, $get:ident, $head:ident, $put:ident, $del:ident) => {
        pub async fn $list(State(st): State<Arc<EsState>>) -> Result<Json<Value>, EsReply> {
            get_tpl(&st, $kind, None)
        }
        pub async fn $get(
            State(st): State<Arc<EsState>>,
            Path(name): Path<String>,
        ) -> Result<Json<Value>, EsReply> {
            get_tpl(&st, $kind, Some(&name))
        }
        pub async fn $head(State(st): State<Arc<EsState>>, Path(name): Path<String>) -> StatusCode {
            head_tpl(&st, $kind, &name)
        }
        pub async fn $put(
            State(st): State<Arc<EsState>>,
            Path(name): Path<String>,
            Query(p): Query<HashMap<String, String>>,
            body: Bytes,
        ) -> Result<Json<Value>, EsReply> {
            put_tpl(&st, $kind, &name, &p, &body)
        }
        pub async fn $del(
            State(st): State<Arc<EsState>>,
            Path(name): Path<String>,
        ) -> Result<Json<Value>, EsReply> {
            delete_tpl(&st, $kind, &name)
        }
    };
}

template_handlers!(
    "index_template",
    template_list_index,
    template_get_index,
    template_head_index,
    template_put_index,
    template_delete_index
);
template_handlers!(
    "template",
    template_list_legacy,
    template_get_legacy,
    template_head_legacy,
    template_put_legacy,
    template_delete_legacy
);
template_handlers!(
    "component_template",
    template_list_component,
    template_get_component,
    template_head_component,
    template_put_component,
    template_delete_component
);

pub async fn acknowledge(body: Bytes) -> Result<Json<Value>, EsReply> {
    if !body.is_empty() && serde_json::from_slice::<Value>(&body).is_err() {
        return Err(EsError::new(
            400,
            "x_content_parse_exception",
            "request body is not valid JSON",
        )
        .into());
    }
    Ok(Json(json!({"acknowledged": true})))
}

pub async fn ilm_get(Path(name): Path<String>) -> EsReply {
    EsReply(EsError::new(
        404,
        "resource_not_found_exception",
        format!("Lifecycle policy not found: {name}"),
    ))
}

/// `_refresh`: documents are searchable as soon as `_bulk` answers, so nothing to do.
pub async fn refresh() -> Json<Value> {
    Json(json!({"_shards": {"total": 1, "successful": 1, "failed": 0}}))
}

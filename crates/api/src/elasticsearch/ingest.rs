//! Document ingest: `_bulk` / `{index}/_bulk` (NDJSON, per-item results, `errors: true` when
//! some items failed — never all-or-nothing for bad documents) and single documents
//! (`{index}/_doc`, `{index}/_doc/{id}`, `{index}/_create/{id}`). All good documents of a
//! request go to the log store in one `LogSink::push`; the answer is sent after the push
//! returned, i.e. after the lines are in the WAL.

use super::{tenant, EsReply, EsState};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use esdsl::bulk::{self, Action, BulkItem};
use esdsl::{document, EsError};
use model::{Labels, LogEntry, LogStream, StorageError};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

static SEQ_NO: AtomicU64 = AtomicU64::new(0);

/// Result of one item: the ES item object and its status.
struct ItemResult {
    action: Action,
    index: String,
    id: String,
    error: Option<EsError>,
}

impl ItemResult {
    fn json(&self) -> Value {
        match &self.error {
            None => json!({
                "_index": self.index, "_id": self.id, "_version": 1, "result": "created",
                "_shards": {"total": 1, "successful": 1, "failed": 0},
                "_seq_no": SEQ_NO.fetch_add(1, Ordering::Relaxed), "_primary_term": 1, "status": 201
            }),
            Some(e) => {
                json!({"_index": self.index, "_id": self.id, "status": e.status, "error": e.cause_json()})
            }
        }
    }
}

fn storage_error(e: StorageError) -> EsError {
    match e {
        StorageError::BadInput(m) => EsError::illegal(m),
        StorageError::Limit(m) => EsError::new(429, "es_rejected_execution_exception", m),
        // A full disk: 429 as Elasticsearch past its flood-stage watermark, which bulk
        // clients retry (see `crate::disk_full`).
        StorageError::Io(m) if model::storage::is_disk_full(&m) => EsError::new(
            429,
            "cluster_block_exception",
            model::storage::disk_full_message(&m),
        ),
        StorageError::Io(m) => EsError::new(500, "exception", format!("storage failure: {m}")),
    }
}

/// Validates items, pushes the good ones, and returns one result per item.
async fn ingest(
    st: &Arc<EsState>,
    tenant: String,
    items: Vec<BulkItem>,
) -> Result<Vec<ItemResult>, EsError> {
    let ingest_ns = chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let mut results = Vec::with_capacity(items.len());
    let mut streams: BTreeMap<Labels, Vec<LogEntry>> = BTreeMap::new();
    let mut pushed = Vec::new();
    for it in items {
        let index = it.index.clone().unwrap_or_default();
        let id = it.id.clone().unwrap_or_else(document::new_id);
        let error = match (&it.index, &it.source) {
            (None, _) => Some(EsError::new(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: index is missing;",
            )),
            (Some(i), Ok(src)) => match document::validate_index(i) {
                Err(e) => Some(e),
                Ok(()) => {
                    streams
                        .entry(document::labels(i, src))
                        .or_default()
                        .push(document::entry(&id, src, ingest_ns));
                    pushed.push(results.len());
                    None
                }
            },
            (Some(_), Err(e)) => Some(e.clone()),
        };
        results.push(ItemResult {
            action: it.action,
            index,
            id,
            error,
        });
    }
    if !streams.is_empty() {
        let batch: Vec<LogStream> = streams
            .into_iter()
            .map(|(labels, entries)| LogStream { labels, entries })
            .collect();
        let sink = st.sink.clone();
        let outcome = tokio::task::spawn_blocking(move || sink.push(&tenant, batch))
            .await
            .map_err(|e| EsError::new(500, "exception", e.to_string()))?;
        if let Err(e) = outcome {
            let e = storage_error(e);
            for i in pushed {
                results[i].error = Some(e.clone());
            }
        }
    }
    Ok(results)
}

async fn bulk_impl(
    st: Arc<EsState>,
    headers: HeaderMap,
    default_index: Option<String>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    let start = Instant::now();
    // Clients may gzip _bulk bodies (Content-Encoding: gzip), as Elasticsearch accepts.
    let body = crate::loki::push::decode_content_encoding(&headers, body)
        .map_err(|m| EsError::new(400, "parse_exception", m))?;
    let items = bulk::parse(&body, default_index.as_deref())?;
    let results = ingest(&st, tenant(&headers), items).await?;
    let errors = results.iter().any(|r| r.error.is_some());
    let items: Vec<Value> = results
        .iter()
        .map(|r| json!({ r.action.name(): r.json() }))
        .collect();
    Ok(Json(
        json!({"took": start.elapsed().as_millis() as u64, "errors": errors, "items": items}),
    ))
}

pub async fn bulk(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    bulk_impl(st, headers, None, body).await
}

pub async fn bulk_index(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path(index): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, EsReply> {
    document::validate_index(&index)?;
    bulk_impl(st, headers, Some(index), body).await
}

async fn one(
    st: Arc<EsState>,
    headers: HeaderMap,
    action: Action,
    index: String,
    id: Option<String>,
    body: Bytes,
) -> Result<Response, EsReply> {
    document::validate_index(&index)?;
    let source = match serde_json::from_slice::<Value>(&body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            return Err(EsError::new(
                400,
                "mapper_parsing_exception",
                "failed to parse, document is empty or not an object",
            )
            .into())
        }
        Err(e) => {
            return Err(EsError::new(
                400,
                "mapper_parsing_exception",
                format!("failed to parse: {e}"),
            )
            .into())
        }
    };
    let item = BulkItem {
        action,
        index: Some(index),
        id,
        source: Ok(source),
    };
    let mut results = ingest(&st, tenant(&headers), vec![item]).await?;
    let r = results
        .pop()
        .ok_or_else(|| EsError::new(500, "exception", "no result"))?;
    if let Some(e) = r.error {
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, Json(r.json())).into_response())
}

pub async fn doc_auto_id(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path(index): Path<String>,
    body: Bytes,
) -> Result<Response, EsReply> {
    one(st, headers, Action::Index, index, None, body).await
}

pub async fn doc_with_id(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path((index, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, EsReply> {
    one(st, headers, Action::Index, index, Some(id), body).await
}

pub async fn create_with_id(
    State(st): State<Arc<EsState>>,
    headers: HeaderMap,
    Path((index, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, EsReply> {
    one(st, headers, Action::Create, index, Some(id), body).await
}

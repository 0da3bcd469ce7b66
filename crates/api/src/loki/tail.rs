//! `GET /loki/api/v1/tail` over WebSocket: first the entries since `start` (default 1h ago, at
//! most `limit`, oldest first), then every newly pushed entry that matches the query, as Loki's
//! `{"streams":[...],"dropped_entries":null}` messages. Log pipelines apply; metric queries are
//! rejected like Loki does.

use super::{text, LokiState};
use crate::prometheus::params::Params;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use logs::logql::{self, ast::Expr, QueryResult};
use serde_json::json;
use std::sync::Arc;

pub async fn tail(
    State(st): State<Arc<LokiState>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
    p: Params,
) -> Response {
    let tenant = match st.tenant(&headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(q) = p.get("query").map(str::to_string) else {
        return text(
            StatusCode::BAD_REQUEST,
            "query parameter is required".into(),
        );
    };
    let expr = match logql::parse(&q) {
        Ok(Expr::Log(sel)) => sel,
        Ok(_) => {
            return text(
                StatusCode::BAD_REQUEST,
                "tail requires a log query, not a metric query".into(),
            )
        }
        Err(e) => return text(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let now = logs::store::now_ns();
    let start = match p.get("start").map(super::query::parse_time) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return text(StatusCode::BAD_REQUEST, e),
        None => now - 3_600_000_000_000,
    };
    let limit = p
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(100);
    let categorize = headers
        .get("x-loki-response-encoding-flags")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("categorize-labels"));
    ws.on_upgrade(move |socket| run(socket, st, tenant, q, expr, start, now, limit, categorize))
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut socket: WebSocket,
    st: Arc<LokiState>,
    tenant: String,
    q: String,
    sel: logql::ast::LogSelector,
    start: i64,
    now: i64,
    limit: usize,
    categorize: bool,
) {
    // Subscribe before reading history so nothing falls between.
    let mut rx = st.store.subscribe();
    let store = st.store.clone();
    let p = logql::Params {
        tenant: tenant.clone(),
        start_ns: start,
        end_ns: now + 1,
        limit,
        direction: model::Direction::Backward,
        categorize,
        ..Default::default()
    };
    let hist = tokio::task::spawn_blocking(move || logql::query(store.as_ref(), &q, &p)).await;
    if let Ok(Ok((QueryResult::Streams(mut streams), _))) = hist {
        for s in streams.iter_mut() {
            s.entries.reverse();
        }
        if !streams.is_empty()
            && send(&mut socket, &QueryResult::Streams(streams), categorize)
                .await
                .is_err()
        {
            return;
        }
    }
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let batch = match msg {
                    Ok(b) => b,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                };
                if batch.tenant != tenant {
                    continue;
                }
                let mut out: Vec<logql::StreamResult> = Vec::new();
                for (labels, entries) in &batch.streams {
                    if !sel.matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or(""))) {
                        continue;
                    }
                    for e in entries {
                        if e.ts_ns <= now && e.ts_ns < start {
                            continue;
                        }
                        let Some(row) = logql::pipeline::run(&sel.stages, labels, e) else { continue };
                        let (key, oe) = if categorize {
                            let (s, m, pr) = row.categorize(labels, &e.metadata);
                            (s, logql::OutEntry { ts_ns: e.ts_ns, line: row.line, metadata: m, parsed: pr })
                        } else {
                            (row.to_labels(), logql::OutEntry { ts_ns: e.ts_ns, line: row.line, metadata: vec![], parsed: vec![] })
                        };
                        match out.iter_mut().find(|s| s.labels == key) {
                            Some(s) => s.entries.push(oe),
                            None => out.push(logql::StreamResult { labels: key, entries: vec![oe] }),
                        }
                    }
                }
                if !out.is_empty() && send(&mut socket, &QueryResult::Streams(out), categorize).await.is_err() {
                    return;
                }
            }
            incoming = socket.recv() => {
                match incoming {
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    _ => {}
                }
            }
        }
    }
}

async fn send(
    socket: &mut WebSocket,
    r: &QueryResult,
    categorize: bool,
) -> Result<(), axum::Error> {
    let (_, streams) = super::query::result_json(r, categorize);
    let msg = json!({"streams": streams, "dropped_entries": null});
    socket.send(Message::Text(msg.to_string().into())).await
}

//! `GET /api/search`, `GET /api/dashboards/tags`, `GET /api/folders[/{uid}]`: Grafana's search
//! parameters (repeated or comma-separated lists) and hit shapes.

use super::{bad, fail, int, message, obj, reply, s, Fail, GrafanaState};
use ::dashboards::json::Value;
use ::dashboards::{Hit, HitKind, SearchQuery};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::sync::Arc;

fn list_param(q: &[(String, String)], name: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == name)
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

fn uint_param(q: &[(String, String)], name: &str) -> Result<usize, Fail> {
    match q.iter().rev().find(|(k, _)| k == name) {
        None => Ok(0),
        Some((_, v)) if v.is_empty() => Ok(0),
        Some((_, v)) => v
            .parse::<usize>()
            .map_err(|_| bad(format!("{name} must be a non-negative integer, got {v:?}"))),
    }
}

fn parse_query(q: &[(String, String)]) -> Result<SearchQuery, Fail> {
    let kind = match q
        .iter()
        .rev()
        .find(|(k, _)| k == "type")
        .map(|(_, v)| v.as_str())
    {
        None | Some("") => None,
        Some("dash-db") => Some(HitKind::Dashboard),
        Some("dash-folder") => Some(HitKind::Folder),
        Some(other) => {
            return Err(bad(format!(
                "type must be dash-db or dash-folder, got {other:?}"
            )))
        }
    };
    let mut ids = Vec::new();
    for v in list_param(q, "dashboardIds") {
        ids.push(
            v.parse::<i64>()
                .map_err(|_| bad(format!("dashboardIds must be integers, got {v:?}")))?,
        );
    }
    let mut folder_uids = list_param(q, "folderUIDs");
    for v in list_param(q, "folderIds") {
        if v == "0" {
            folder_uids.push("general".into());
        }
    }
    Ok(SearchQuery {
        query: q
            .iter()
            .rev()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default(),
        tags: q
            .iter()
            .filter(|(k, v)| k == "tag" && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect(),
        kind,
        dashboard_uids: list_param(q, "dashboardUIDs"),
        dashboard_ids: ids,
        folder_uids,
        starred: q.iter().any(|(k, v)| k == "starred" && v == "true"),
        limit: uint_param(q, "limit")?,
        page: uint_param(q, "page")?,
    })
}

fn hit_json(h: &Hit, starred: bool) -> Value {
    let mut v = obj([
        ("id", int(h.id)),
        ("uid", s(h.uid.clone())),
        ("title", s(h.title.clone())),
        ("uri", s(format!("db/{}", h.slug))),
        ("url", s(h.url.clone())),
        ("slug", s(h.slug.clone())),
        ("type", s(h.kind.as_str())),
        (
            "tags",
            Value::Array(h.tags.iter().map(|t| s(t.clone())).collect()),
        ),
        ("isStarred", Value::Bool(starred)),
        ("sortMeta", int(0)),
    ]);
    if h.kind == HitKind::Dashboard {
        let (id, uid, title, url) = match &h.folder {
            Some(f) => (f.id, f.uid.clone(), f.title.clone(), f.url()),
            None => (0, String::new(), "General".to_string(), String::new()),
        };
        if let Some(m) = v.as_object_mut() {
            m.insert("folderId", int(id));
            m.insert("folderUid", s(uid));
            m.insert("folderTitle", s(title));
            m.insert("folderUrl", s(url));
            m.insert("provisioned", Value::Bool(h.provisioned));
        }
    }
    v
}

/// `GET /api/search?query=&tag=&type=&dashboardUIDs=&folderUIDs=&limit=&page=`.
pub async fn search(
    State(st): State<Arc<GrafanaState>>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let query = match parse_query(&q) {
        Ok(x) => x,
        Err(f) => return fail(f),
    };
    let hits = st.store.search(&query);
    reply(
        StatusCode::OK,
        &Value::Array(
            hits.iter()
                .map(|h| {
                    hit_json(
                        h,
                        h.kind == HitKind::Dashboard && st.store.is_starred(&h.uid),
                    )
                })
                .collect(),
        ),
    )
}

/// `GET /api/dashboards/tags`: `[{"term", "count"}]`.
pub async fn tags(State(st): State<Arc<GrafanaState>>) -> Response {
    let list = st
        .store
        .tags()
        .into_iter()
        .map(|(t, n)| obj([("term", s(t)), ("count", int(n as i64))]))
        .collect();
    reply(StatusCode::OK, &Value::Array(list))
}

/// `GET /api/folders`: `[{"id", "uid", "title"}]`.
pub async fn folders(State(st): State<Arc<GrafanaState>>) -> Response {
    let list = st
        .store
        .folders()
        .into_iter()
        .map(|f| obj([("id", int(f.id)), ("uid", s(f.uid)), ("title", s(f.title))]))
        .collect();
    reply(StatusCode::OK, &Value::Array(list))
}

/// `GET /api/folders/{uid}`.
pub async fn folder(State(st): State<Arc<GrafanaState>>, Path(uid): Path<String>) -> Response {
    match st.store.folders().into_iter().find(|f| f.uid == uid) {
        Some(f) => reply(StatusCode::OK, &super::folders::folder_json(&f, false)),
        None => message(StatusCode::NOT_FOUND, "folder not found"),
    }
}

//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`, `/api/v1/metadata`,
//! `/api/v1/targets` and `/api/v1/query_exemplars`.

use super::json::{labels_json, success, ApiError};
use super::params::Params;
use super::query_api::{limit_of, parse_time_param};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::Response;
use model::{LabelMatcher, Labels};
use serde_json::{json, Value as Json};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Far-past and far-future defaults for optional `start`/`end`, as Prometheus' minTime/maxTime.
const MIN_TIME: i64 = i64::MIN / 2;
const MAX_TIME: i64 = i64::MAX / 2;

pub(crate) fn time_range(params: &Params) -> Result<(i64, i64), ApiError> {
    let start = parse_time_param(params, "start", MIN_TIME)?;
    let end = parse_time_param(params, "end", MAX_TIME)?;
    if end < start {
        return Err(ApiError::bad_data(
            "invalid parameter \"end\": end timestamp must not be before start time",
        ));
    }
    Ok((start, end))
}

pub(crate) fn matcher_sets(params: &Params) -> Result<Vec<Vec<LabelMatcher>>, ApiError> {
    let mut sets = Vec::new();
    for m in params.all("match[]") {
        sets.extend(promql::selector::parse_series_selector(m).map_err(ApiError::bad_data)?);
    }
    Ok(sets)
}

/// Applies `limit` and the warning Prometheus adds when results were cut.
fn limited<T>(mut items: Vec<T>, limit: usize, warnings: &mut Vec<String>) -> Vec<T> {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        warnings.push("results truncated due to limit".to_string());
    }
    items
}

/// `GET|POST /api/v1/series`.
pub async fn series(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let sets = matcher_sets(&params)?;
    if sets.is_empty() {
        return Err(ApiError::bad_data("no match[] parameter provided"));
    }
    let (start, end) = time_range(&params)?;
    let limit = limit_of(&params)?;
    let mut all: BTreeSet<Labels> = BTreeSet::new();
    let storage = super::tenant::storage(&state, &headers);
    for set in &sets {
        all.extend(storage.series(set, start, end)?);
    }
    let mut warnings = Vec::new();
    let data: Vec<Json> = limited(all.into_iter().collect(), limit, &mut warnings)
        .iter()
        .map(labels_json)
        .collect();
    Ok(success(Json::Array(data), &warnings, &[]))
}

/// `GET|POST /api/v1/labels`.
pub async fn labels(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    params: Params,
) -> Result<Response, ApiError> {
    let sets = matcher_sets(&params)?;
    let (start, end) = time_range(&params)?;
    let limit = limit_of(&params)?;
    let mut names = BTreeSet::new();
    let storage = super::tenant::storage(&state, &headers);
    if sets.is_empty() {
        names.extend(storage.label_names(&[], start, end)?);
    }
    for set in &sets {
        names.extend(storage.label_names(set, start, end)?);
    }
    let mut warnings = Vec::new();
    let names = limited(names.into_iter().collect::<Vec<_>>(), limit, &mut warnings);
    Ok(success(json!(names), &warnings, &[]))
}

/// `GET /api/v1/label/<name>/values`.
pub async fn label_values(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    // Prometheus accepts `U__`-escaped UTF-8 names; plain names pass through unchanged.
    let valid = !name.is_empty()
        && name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
    if !valid {
        return Err(ApiError::bad_data(format!("invalid label name: {name:?}")));
    }
    let sets = matcher_sets(&params)?;
    let (start, end) = time_range(&params)?;
    let limit = limit_of(&params)?;
    let mut values = BTreeSet::new();
    let storage = super::tenant::storage(&state, &headers);
    if sets.is_empty() {
        values.extend(storage.label_values(&name, &[], start, end)?);
    }
    for set in &sets {
        values.extend(storage.label_values(&name, set, start, end)?);
    }
    let mut warnings = Vec::new();
    let values = limited(values.into_iter().collect::<Vec<_>>(), limit, &mut warnings);
    Ok(success(json!(values), &warnings, &[]))
}

/// `GET /api/v1/metadata`: metric metadata gathered from scraped targets.
pub async fn metadata(
    State(state): State<Arc<AppState>>,
    params: Params,
) -> Result<Response, ApiError> {
    let limit: i64 = params
        .get("limit")
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    let per_metric: i64 = params
        .get("limit_per_metric")
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1);
    let only = params.get("metric");
    let mut out = serde_json::Map::new();
    for entry in state.scrape.metadata() {
        if only.is_some_and(|m| m != entry.metric) {
            continue;
        }
        if !out.contains_key(&entry.metric) && limit >= 0 && out.len() as i64 >= limit {
            continue;
        }
        let list = out
            .entry(entry.metric.clone())
            .or_insert_with(|| Json::Array(Vec::new()));
        if let Json::Array(items) = list {
            let item = json!({"type": entry.metric_type, "help": entry.help, "unit": entry.unit});
            if (per_metric < 0 || (items.len() as i64) < per_metric) && !items.contains(&item) {
                items.push(item);
            }
        }
    }
    Ok(success(Json::Object(out), &[], &[]))
}

/// `GET /api/v1/targets`.
pub async fn targets(
    State(state): State<Arc<AppState>>,
    params: Params,
) -> Result<Response, ApiError> {
    let snapshot = state.scrape.targets();
    let which = params.get("state").unwrap_or("any");
    let active = if which == "active" || which == "any" {
        serde_json::to_value(&snapshot.active).map_err(|e| ApiError::internal(e.to_string()))?
    } else {
        json!([])
    };
    let dropped = if which == "dropped" || which == "any" {
        serde_json::to_value(&snapshot.dropped).map_err(|e| ApiError::internal(e.to_string()))?
    } else {
        json!([])
    };
    Ok(success(
        json!({"activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": snapshot.dropped_counts}),
        &[],
        &[],
    ))
}

/// Every vector selector of a PromQL expression (Prometheus' `parser.ExtractSelectors`), as
/// matcher sets (an `or` selector contributes several).
fn extract_selectors(
    e: &promql_parser::parser::Expr,
    out: &mut Vec<Vec<LabelMatcher>>,
) -> Result<(), String> {
    use promql_parser::parser::Expr;
    match e {
        Expr::VectorSelector(vs) => out.extend(promql::selector::selector_matchers(vs)?),
        Expr::MatrixSelector(ms) => out.extend(promql::selector::selector_matchers(&ms.vs)?),
        Expr::Aggregate(a) => {
            extract_selectors(&a.expr, out)?;
            if let Some(p) = &a.param {
                extract_selectors(p, out)?;
            }
        }
        Expr::Unary(u) => extract_selectors(&u.expr, out)?,
        Expr::Binary(b) => {
            extract_selectors(&b.lhs, out)?;
            extract_selectors(&b.rhs, out)?;
        }
        Expr::Paren(p) => extract_selectors(&p.expr, out)?,
        Expr::Subquery(sq) => extract_selectors(&sq.expr, out)?,
        Expr::Call(c) => {
            for a in &c.args.args {
                extract_selectors(a, out)?;
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
    Ok(())
}

/// `GET|POST /api/v1/query_exemplars`: the stored exemplars of the series selected by the
/// query's selectors in `[start, end]`, as
/// `[{"seriesLabels": {...}, "exemplars": [{"labels": {...}, "value": "…", "timestamp": s}]}]`.
pub async fn exemplars(
    State(state): State<Arc<AppState>>,
    params: Params,
) -> Result<Response, ApiError> {
    let query = params.get("query").unwrap_or("");
    if query.trim().is_empty() {
        return Err(ApiError::bad_data(
            "invalid parameter \"query\": query must not be empty",
        ));
    }
    let (start, end) = time_range(&params)?;
    let expr = promql::experimental::parse(query, state.engine.opts.experimental_functions)
        .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))?;
    let mut sets = Vec::new();
    extract_selectors(&expr, &mut sets).map_err(ApiError::bad_data)?;
    let data: Vec<Json> = state
        .scrape
        .exemplars()
        .select(start, end, &sets)
        .iter()
        .map(|s| {
            let list: Vec<Json> = s
                .exemplars
                .iter()
                .map(|e| {
                    json!({
                        "labels": labels_json(&e.labels),
                        "value": super::json::format_value(e.value),
                        "timestamp": super::json::timestamp(e.ts),
                    })
                })
                .collect();
            json!({"seriesLabels": labels_json(&s.series_labels), "exemplars": list})
        })
        .collect();
    Ok(success(Json::Array(data), &[], &[]))
}

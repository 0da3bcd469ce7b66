//! Search requests (`_search`, `_count`): body and URL parameters (`q`, `size`, `from`, `sort`,
//! `_source`, `track_total_hits`, `rest_total_hits_as_int`), the scan window pushed down from
//! `@timestamp` ranges, and the ES 7/8 response shape (`took`, `timed_out`, `_shards`,
//! `hits.total{value,relation}`, `hits.hits[_index,_id,_score,_source]`, `aggregations`).

use crate::aggs::{self, Agg};
use crate::datemath;
use crate::field::{scalar_text, wildcard_regex, FieldRef};
use crate::query::{self, DocRef, Fields, Query};
use crate::EsError;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Largest `from + size` (ES' `index.max_result_window`).
pub const MAX_RESULT_WINDOW: usize = 10_000;

#[derive(Clone, Debug)]
pub enum SortKey {
    Score,
    Doc,
    Field { field: FieldRef, desc: bool },
}

#[derive(Clone, Debug, Default)]
pub struct SourceFilter {
    pub disabled: bool,
    pub includes: Vec<regex::Regex>,
    pub excludes: Vec<regex::Regex>,
}

#[derive(Clone, Debug)]
pub struct SearchRequest {
    pub query: Query,
    pub post_filter: Option<Query>,
    pub size: usize,
    pub from: usize,
    pub sort: Vec<SortKey>,
    pub source: SourceFilter,
    /// `None` = do not track; `Some(n)` = exact up to n.
    pub track_total_hits: Option<usize>,
    pub rest_total_hits_as_int: bool,
    pub aggs: Vec<Agg>,
    /// Scan window in ns derived from `@timestamp` ranges of must/filter clauses.
    pub window_ns: (i64, i64),
}

/// A stored document as seen by search.
#[derive(Clone, Debug)]
pub struct Doc {
    pub index: String,
    pub id: String,
    pub source: Value,
}

fn param_usize(params: &HashMap<String, String>, k: &str) -> Result<Option<usize>, EsError> {
    params
        .get(k)
        .map(|v| {
            v.parse::<usize>().map_err(|_| {
                EsError::illegal(format!(
                    "Failed to parse int parameter [{k}] with value [{v}]"
                ))
            })
        })
        .transpose()
}

fn parse_sort(v: &Value) -> Result<Vec<SortKey>, EsError> {
    let one = |name: &str, order: Option<&str>| -> Result<SortKey, EsError> {
        let desc = match order.map(str::to_ascii_lowercase).as_deref() {
            None => name == "_score",
            Some("desc") => true,
            Some("asc") => false,
            Some(o) => return Err(EsError::illegal(format!("Unknown SortOrder [{o}]"))),
        };
        Ok(match name {
            "_score" => SortKey::Score,
            "_doc" => SortKey::Doc,
            f => SortKey::Field {
                field: FieldRef::parse(f),
                desc,
            },
        })
    };
    match v {
        Value::String(s) => s
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| match p.rsplit_once(':') {
                Some((f, o)) if matches!(o, "asc" | "desc") => one(f, Some(o)),
                _ => one(p, None),
            })
            .collect(),
        Value::Array(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(parse_sort(i)?);
            }
            Ok(out)
        }
        Value::Object(m) => m
            .iter()
            .map(|(f, spec)| match spec {
                Value::String(o) => one(f, Some(o)),
                Value::Object(o) => one(f, o.get("order").and_then(Value::as_str)),
                _ => Err(EsError::parsing(format!(
                    "[sort] malformed for field [{f}]"
                ))),
            })
            .collect(),
        _ => Err(EsError::parsing("[sort] must be a string, object or array")),
    }
}

fn patterns(v: &Value) -> Result<Vec<regex::Regex>, EsError> {
    let names: Vec<&str> = match v {
        Value::String(s) => s.split(',').collect(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        Value::Null => vec![],
        _ => return Err(EsError::parsing("[_source] patterns must be strings")),
    };
    names
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(|n| wildcard_regex(n, false).map_err(EsError::parsing))
        .collect()
}

fn parse_source(v: &Value) -> Result<SourceFilter, EsError> {
    Ok(match v {
        Value::Bool(b) => SourceFilter {
            disabled: !b,
            ..Default::default()
        },
        Value::Object(o) => SourceFilter {
            disabled: false,
            includes: patterns(
                o.get("includes")
                    .or_else(|| o.get("include"))
                    .unwrap_or(&Value::Null),
            )?,
            excludes: patterns(
                o.get("excludes")
                    .or_else(|| o.get("exclude"))
                    .unwrap_or(&Value::Null),
            )?,
        },
        other => SourceFilter {
            disabled: false,
            includes: patterns(other)?,
            excludes: vec![],
        },
    })
}

fn parse_track(v: &Value) -> Result<Option<usize>, EsError> {
    match v {
        Value::Bool(true) => Ok(Some(usize::MAX)),
        Value::Bool(false) => Ok(None),
        Value::Number(n) => Ok(Some(n.as_u64().unwrap_or(0) as usize)),
        Value::String(s) if s == "true" => Ok(Some(usize::MAX)),
        Value::String(s) if s == "false" => Ok(None),
        Value::String(s) => s.parse::<usize>().map(Some).map_err(|_| {
            EsError::illegal(format!("Failed to parse [track_total_hits] value [{s}]"))
        }),
        _ => Err(EsError::parsing(
            "[track_total_hits] must be a boolean or number",
        )),
    }
}

const KNOWN_IGNORED: &[&str] = &[
    "timeout",
    "track_scores",
    "version",
    "seq_no_primary_term",
    "stored_fields",
    "docvalue_fields",
    "fields",
    "highlight",
    "script_fields",
    "explain",
    "min_score",
    "indices_boost",
    "runtime_mappings",
    "terminate_after",
    "profile",
    "ext",
    "stats",
    "collapse",
    "pit",
];

/// Parses a search request from its optional JSON body and URL parameters.
pub fn parse_request(
    body: Option<&Value>,
    params: &HashMap<String, String>,
    now_ms: i64,
) -> Result<SearchRequest, EsError> {
    let empty = Map::new();
    let b = match body {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(o)) => o,
        Some(_) => return Err(EsError::parsing("request body must be a JSON object")),
    };
    for k in b.keys() {
        if !matches!(
            k.as_str(),
            "query"
                | "size"
                | "from"
                | "sort"
                | "_source"
                | "track_total_hits"
                | "aggs"
                | "aggregations"
                | "post_filter"
        ) && !KNOWN_IGNORED.contains(&k.as_str())
        {
            if k == "search_after" || k == "suggest" || k == "rescore" {
                return Err(EsError::illegal(format!(
                    "[{k}] is not supported by pharos"
                )));
            }
            return Err(EsError::parsing(format!(
                "Unknown key for a START_OBJECT in [{k}]."
            )));
        }
    }
    let mut query = match b.get("query") {
        Some(q) => query::parse(q, now_ms)?,
        None => Query::MatchAll,
    };
    if let Some(q) = params.get("q") {
        let and = params
            .get("default_operator")
            .is_some_and(|o| o.eq_ignore_ascii_case("and"));
        let fields = params
            .get("df")
            .map(|f| vec![f.clone()])
            .unwrap_or_default();
        query = crate::query_string::parse_str(q, and, fields, now_ms)?;
    }
    let post_filter = b
        .get("post_filter")
        .map(|q| query::parse(q, now_ms))
        .transpose()?;
    let num = |k: &str| -> Result<Option<usize>, EsError> {
        match b.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|n| Some(n as usize))
                .ok_or_else(|| EsError::parsing(format!("[{k}] must be a non-negative integer"))),
        }
    };
    let size = param_usize(params, "size")?.or(num("size")?).unwrap_or(10);
    let from = param_usize(params, "from")?.or(num("from")?).unwrap_or(0);
    if from.saturating_add(size) > MAX_RESULT_WINDOW {
        return Err(EsError::illegal(format!(
            "Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. See the scroll api for a more efficient way to request large data sets.",
            from.saturating_add(size)
        )));
    }
    let sort = match (params.get("sort"), b.get("sort")) {
        (Some(s), _) => parse_sort(&Value::String(s.clone()))?,
        (None, Some(v)) => parse_sort(v)?,
        (None, None) => vec![],
    };
    let source = match (params.get("_source"), b.get("_source")) {
        (Some(s), _) if s == "false" || s == "true" => parse_source(&Value::Bool(s == "true"))?,
        (Some(s), _) => parse_source(&Value::String(s.clone()))?,
        (None, Some(v)) => parse_source(v)?,
        (None, None) => SourceFilter::default(),
    };
    let track_total_hits = match (params.get("track_total_hits"), b.get("track_total_hits")) {
        (Some(s), _) => parse_track(&Value::String(s.clone()))?,
        (None, Some(v)) => parse_track(v)?,
        (None, None) => Some(MAX_RESULT_WINDOW),
    };
    let aggs = match b.get("aggs").or_else(|| b.get("aggregations")) {
        Some(a) => aggs::parse(a, now_ms)?,
        None => vec![],
    };
    let window_ns = window(&query);
    Ok(SearchRequest {
        query,
        post_filter,
        size,
        from,
        sort,
        source,
        track_total_hits,
        rest_total_hits_as_int: params
            .get("rest_total_hits_as_int")
            .is_some_and(|v| v != "false"),
        aggs,
        window_ns,
    })
}

/// Scan window implied by `@timestamp` ranges that every hit must satisfy (entries are stored
/// at their `@timestamp`, see `document.rs`).
pub fn window(q: &Query) -> (i64, i64) {
    let mut lo = i64::MIN;
    let mut hi = i64::MAX;
    let mut visit = |q: &Query| {
        if let Query::Range {
            fields: Fields::One(f),
            lower,
            upper,
            ..
        } = q
        {
            if f.path == "@timestamp" {
                if let Some(ms) = lower.as_ref().and_then(|b| b.date_ms) {
                    lo = lo.max(ms.saturating_mul(1_000_000));
                }
                if let Some(ms) = upper.as_ref().and_then(|b| b.date_ms) {
                    hi = hi.min(ms.saturating_add(1).saturating_mul(1_000_000));
                }
            }
        }
    };
    match q {
        Query::Bool { must, filter, .. } => must.iter().chain(filter.iter()).for_each(&mut visit),
        other => visit(other),
    }
    (lo, hi)
}

fn sort_value(doc: &Doc, field: &FieldRef) -> Value {
    match field.values(&doc.source).first() {
        None => Value::Null,
        Some(Value::String(s)) => match datemath::parse_iso(s) {
            Some(ms) if s.len() >= 10 && s.as_bytes().get(4) == Some(&b'-') => json!(ms),
            _ => json!(s),
        },
        Some(v) => (*v).clone(),
    }
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Value::Null, Value::Null) => Equal,
        (Value::Null, _) => Greater,
        (_, Value::Null) => Less,
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Equal)
        }
        _ => scalar_text(a).cmp(&scalar_text(b)),
    }
}

fn filter_source(v: &Value, f: &SourceFilter, prefix: &str) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if f.excludes.iter().any(|r| r.is_match(&p)) {
                    continue;
                }
                let included = f.includes.is_empty() || f.includes.iter().any(|r| r.is_match(&p));
                if included && f.excludes.is_empty() {
                    out.insert(k.clone(), x.clone());
                } else if included || x.is_object() {
                    let inner = if included {
                        filter_source(
                            x,
                            &SourceFilter {
                                includes: vec![],
                                ..f.clone()
                            },
                            &p,
                        )
                    } else {
                        filter_source(x, f, &p)
                    };
                    match inner {
                        Some(Value::Object(o)) if o.is_empty() && !included => {}
                        Some(y) => {
                            out.insert(k.clone(), y);
                        }
                        None => {}
                    }
                }
            }
            Some(Value::Object(out))
        }
        other => Some(other.clone()),
    }
}

impl SearchRequest {
    /// Whether a document is a hit (query and post_filter).
    pub fn is_hit(&self, d: &DocRef<'_>) -> bool {
        self.query.matches(d)
    }

    /// Builds the response from the documents matching `query`, in scan order.
    pub fn respond(&self, matched: Vec<Doc>, took_ms: u64) -> Value {
        let refs: Vec<DocRef> = matched
            .iter()
            .map(|d| DocRef {
                source: &d.source,
                id: &d.id,
                index: &d.index,
            })
            .collect();
        let aggregations = (!self.aggs.is_empty()).then(|| aggs::run(&self.aggs, &refs));
        drop(refs);
        let mut hits: Vec<Doc> = match &self.post_filter {
            Some(pf) => matched
                .into_iter()
                .filter(|d| {
                    pf.matches(&DocRef {
                        source: &d.source,
                        id: &d.id,
                        index: &d.index,
                    })
                })
                .collect(),
            None => matched,
        };
        let total = hits.len();
        let field_sorted = self.sort.iter().any(|k| matches!(k, SortKey::Field { .. }));
        let mut keyed: Vec<(Vec<Value>, Doc)>;
        if !self.sort.is_empty() {
            keyed = hits
                .drain(..)
                .map(|d| {
                    let vals = self
                        .sort
                        .iter()
                        .map(|k| match k {
                            SortKey::Score => json!(1.0),
                            SortKey::Doc => Value::Null,
                            SortKey::Field { field, .. } => sort_value(&d, field),
                        })
                        .collect();
                    (vals, d)
                })
                .collect();
            keyed.sort_by(|(a, _), (b, _)| {
                for (i, k) in self.sort.iter().enumerate() {
                    let desc = matches!(k, SortKey::Field { desc: true, .. });
                    let (x, y) = (&a[i], &b[i]);
                    let o = if desc && !x.is_null() && !y.is_null() {
                        cmp_values(y, x)
                    } else {
                        cmp_values(x, y)
                    };
                    if o != std::cmp::Ordering::Equal {
                        return o;
                    }
                }
                std::cmp::Ordering::Equal
            });
        } else {
            keyed = hits.drain(..).map(|d| (vec![], d)).collect();
        }
        let page: Vec<Value> = keyed
            .into_iter()
            .skip(self.from)
            .take(self.size)
            .map(|(vals, d)| {
                let mut h = Map::new();
                h.insert("_index".into(), json!(d.index));
                h.insert("_id".into(), json!(d.id));
                h.insert(
                    "_score".into(),
                    if field_sorted {
                        Value::Null
                    } else {
                        json!(1.0)
                    },
                );
                if !self.source.disabled {
                    let src = if self.source.includes.is_empty() && self.source.excludes.is_empty()
                    {
                        d.source
                    } else {
                        filter_source(&d.source, &self.source, "").unwrap_or(Value::Null)
                    };
                    h.insert("_source".into(), src);
                }
                if !self.sort.is_empty() {
                    h.insert("sort".into(), Value::Array(vals));
                }
                Value::Object(h)
            })
            .collect();
        let max_score = if field_sorted || total == 0 {
            Value::Null
        } else {
            json!(1.0)
        };
        let mut hits_obj = Map::new();
        if let Some(limit) = self.track_total_hits {
            let (value, relation) = if total > limit {
                (limit, "gte")
            } else {
                (total, "eq")
            };
            if self.rest_total_hits_as_int {
                hits_obj.insert("total".into(), json!(value));
            } else {
                hits_obj.insert(
                    "total".into(),
                    json!({"value": value, "relation": relation}),
                );
            }
        }
        hits_obj.insert("max_score".into(), max_score);
        hits_obj.insert("hits".into(), Value::Array(page));
        let mut out = json!({
            "took": took_ms,
            "timed_out": false,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": Value::Object(hits_obj),
        });
        if let Some(a) = aggregations {
            out["aggregations"] = a;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn docs() -> Vec<Doc> {
        (0..5)
            .map(|i| Doc {
                index: "logs".into(),
                id: format!("d{i}"),
                source: json!({"@timestamp": format!("2024-01-01T00:0{i}:00Z"), "n": i, "svc": {"name": "a", "tag": i % 2}}),
            })
            .collect()
    }

    fn run(body: Value, params: &[(&str, &str)]) -> Value {
        let p: HashMap<String, String> = params
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let r = parse_request(Some(&body), &p, 0).unwrap();
        let matched: Vec<Doc> = docs()
            .into_iter()
            .filter(|d| {
                r.is_hit(&DocRef {
                    source: &d.source,
                    id: &d.id,
                    index: &d.index,
                })
            })
            .collect();
        r.respond(matched, 1)
    }

    #[test]
    fn shape_paging_sorting() {
        let out = run(
            json!({"query": {"range": {"n": {"gte": 1}}}, "size": 2, "from": 1, "sort": [{"n": "desc"}]}),
            &[],
        );
        assert_eq!(out["hits"]["total"], json!({"value": 4, "relation": "eq"}));
        assert_eq!(out["hits"]["max_score"], Value::Null);
        let ids: Vec<&str> = out["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec!["d3", "d2"]);
        assert_eq!(out["hits"]["hits"][0]["sort"], json!([3]));
        assert_eq!(out["_shards"]["failed"], 0);
        assert_eq!(out["timed_out"], false);
        let out = run(json!({"sort": "@timestamp:desc", "size": 1}), &[]);
        assert_eq!(out["hits"]["hits"][0]["_id"], "d4");
        assert_eq!(out["hits"]["hits"][0]["sort"], json!([1704067440000i64]));
    }

    #[test]
    fn source_filtering_and_total() {
        let out = run(
            json!({"_source": ["svc.name"], "size": 1, "track_total_hits": 2}),
            &[],
        );
        assert_eq!(
            out["hits"]["hits"][0]["_source"],
            json!({"svc": {"name": "a"}})
        );
        assert_eq!(out["hits"]["total"], json!({"value": 2, "relation": "gte"}));
        let out = run(json!({"_source": {"excludes": ["svc.*"]}, "size": 1}), &[]);
        assert_eq!(
            out["hits"]["hits"][0]["_source"],
            json!({"@timestamp": "2024-01-01T00:00:00Z", "n": 0, "svc": {}})
        );
        let out = run(
            json!({"_source": false, "size": 1}),
            &[("rest_total_hits_as_int", "true")],
        );
        assert!(out["hits"]["hits"][0].get("_source").is_none());
        assert_eq!(out["hits"]["total"], json!(5));
        let out = run(json!({}), &[("q", "n:[2 TO 3]"), ("size", "0")]);
        assert_eq!(out["hits"]["total"]["value"], 2);
        assert_eq!(out["hits"]["hits"], json!([]));
    }

    #[test]
    fn window_pushdown() {
        let r = parse_request(Some(&json!({"query": {"bool": {"filter": [{"range": {"@timestamp": {"gte": "2024-01-01T00:00:00Z", "lte": "2024-01-01T00:01:00Z"}}}]}}})), &HashMap::new(), 0).unwrap();
        assert_eq!(
            r.window_ns,
            (1_704_067_200_000_000_000, 1_704_067_260_001_000_000)
        );
    }

    #[test]
    fn request_errors() {
        let p = HashMap::new();
        for bad in [
            json!({"qeury": {}}),
            json!({"size": -1}),
            json!({"size": 10001}),
            json!({"sort": [{"n": "sideways"}]}),
            json!({"aggs": {"a": {"terms": {}}}}),
            json!([]),
        ] {
            assert!(parse_request(Some(&bad), &p, 0).is_err(), "{bad}");
        }
        let mut p = HashMap::new();
        p.insert("size".to_string(), "ten".to_string());
        assert!(parse_request(None, &p, 0).is_err());
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            prop_oneof![
                Just("match".to_string()),
                Just("bool".to_string()),
                Just("range".to_string()),
                Just("term".to_string()),
                Just("must".to_string()),
                Just("gte".to_string()),
                Just("now-1h/d".to_string()),
                Just("query_string".to_string()),
                Just("query".to_string()),
                Just("aggs".to_string()),
                Just("date_histogram".to_string()),
                Just("interval".to_string()),
                Just("field".to_string()),
                "[ -~]{0,8}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            Just("query".to_string()),
                            Just("bool".to_string()),
                            Just("must".to_string()),
                            Just("match".to_string()),
                            Just("range".to_string()),
                            Just("term".to_string()),
                            Just("aggs".to_string()),
                            Just("filter".to_string()),
                            Just("date_histogram".to_string()),
                            Just("terms".to_string()),
                            Just("field".to_string()),
                            Just("size".to_string()),
                            Just("query_string".to_string()),
                            Just("sort".to_string()),
                            "[a-z_]{1,6}",
                        ],
                        inner
                    ),
                    0..4
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn dsl_parser_never_panics(body in arb_json()) {
            let p = HashMap::new();
            if let Ok(r) = parse_request(Some(&body), &p, 1_704_067_200_000) {
                let d = docs();
                let matched: Vec<Doc> = d.into_iter().filter(|x| r.is_hit(&DocRef { source: &x.source, id: &x.id, index: &x.index })).collect();
                let _ = r.respond(matched, 0);
            }
        }

        #[test]
        fn query_string_never_panics(q in "[ -~]{0,40}") {
            let _ = crate::query_string::parse_str(&q, false, vec![], 0);
        }
    }
}

//! Aggregations over the matched documents: bucket aggregations `date_histogram`
//! (`interval` legacy, `fixed_interval`, `calendar_interval`, `min_doc_count`,
//! `extended_bounds`, `format`, `offset`), `histogram`, `terms` (`size`, `order`,
//! `min_doc_count`), `filter`, `filters`, `range`; metric aggregations `avg`, `min`, `max`, `sum`,
//! `value_count`, `cardinality`, `stats`, `percentiles`; nested sub-aggregations. Output has ES'
//! JSON shape (`buckets` with `key`, `key_as_string`, `doc_count`).

use crate::datemath::{self, Round};
use crate::field::{as_f64, scalar_text, FieldRef};
use crate::query::{self, DocRef, Query};
use crate::EsError;
use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};

#[derive(Clone, Debug)]
pub enum Interval {
    Fixed(i64),
    /// Calendar unit: `m`, `h`, `d`, `w`, `M`, `q`, `y`.
    Calendar(char),
}

#[derive(Clone, Debug)]
pub enum Kind {
    DateHistogram {
        field: FieldRef,
        interval: Interval,
        min_doc_count: u64,
        bounds: Option<(i64, i64)>,
        format: Option<String>,
        offset: i64,
    },
    Histogram {
        field: FieldRef,
        interval: f64,
        min_doc_count: u64,
    },
    Terms {
        field: FieldRef,
        size: usize,
        min_doc_count: u64,
        /// (by key?, ascending?)
        order: (bool, bool),
    },
    Filter(Query),
    Filters {
        keyed: bool,
        filters: Vec<(String, Query)>,
    },
    Range {
        field: FieldRef,
        ranges: Vec<(Option<String>, Option<f64>, Option<f64>)>,
    },
    Metric {
        op: String,
        field: FieldRef,
        percents: Vec<f64>,
    },
}

#[derive(Clone, Debug)]
pub struct Agg {
    pub name: String,
    pub kind: Kind,
    pub subs: Vec<Agg>,
}

fn bad(name: &str, msg: impl std::fmt::Display) -> EsError {
    EsError::parsing(format!("[{name}] {msg}"))
}

fn field_of(name: &str, o: &Map<String, Value>) -> Result<FieldRef, EsError> {
    o.get("field")
        .and_then(Value::as_str)
        .map(FieldRef::parse)
        .ok_or_else(|| {
            bad(
                name,
                "Required one of fields [field, script], but none were specified.",
            )
        })
}

/// Parses a fixed interval (`30s`, `5m`, `1h`, `1d`, `500ms`) into milliseconds.
pub fn fixed_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let n: i64 = s[..split].parse().ok()?;
    let mult = match &s[split..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    (n > 0).then_some(n * mult)
}

fn calendar_unit(s: &str) -> Option<char> {
    Some(match s {
        "1m" | "minute" => 'm',
        "1h" | "hour" => 'h',
        "1d" | "day" => 'd',
        "1w" | "week" => 'w',
        "1M" | "month" => 'M',
        "1q" | "quarter" => 'q',
        "1y" | "year" => 'y',
        _ => return None,
    })
}

/// Parses an `aggs`/`aggregations` object.
pub fn parse(v: &Value, now_ms: i64) -> Result<Vec<Agg>, EsError> {
    let o = v
        .as_object()
        .ok_or_else(|| EsError::parsing("[aggs] must be an object"))?;
    let mut out = Vec::new();
    for (name, def) in o {
        let d = def
            .as_object()
            .ok_or_else(|| bad(name, "aggregation definition must be an object"))?;
        let mut kind = None;
        let mut subs = Vec::new();
        for (k, body) in d {
            match k.as_str() {
                "aggs" | "aggregations" => subs = parse(body, now_ms)?,
                "meta" => {}
                t => {
                    if kind.is_some() {
                        return Err(bad(
                            name,
                            format!("Found two aggregation type definitions: [{t}]"),
                        ));
                    }
                    kind = Some(parse_kind(name, t, body, now_ms)?);
                }
            }
        }
        let kind = kind.ok_or_else(|| bad(name, "Missing definition for aggregation"))?;
        out.push(Agg {
            name: name.clone(),
            kind,
            subs,
        });
    }
    Ok(out)
}

fn parse_kind(name: &str, t: &str, body: &Value, now_ms: i64) -> Result<Kind, EsError> {
    let empty = Map::new();
    let o = body.as_object().unwrap_or(&empty);
    let u64_of = |k: &str, d: u64| o.get(k).and_then(Value::as_u64).unwrap_or(d);
    Ok(match t {
        "date_histogram" => {
            let field = field_of(name, o)?;
            let interval = if let Some(s) = o.get("fixed_interval").and_then(Value::as_str) {
                Interval::Fixed(fixed_ms(s).ok_or_else(|| {
                    bad(
                        name,
                        format!("failed to parse setting [fixed_interval] with value [{s}]"),
                    )
                })?)
            } else if let Some(s) = o.get("calendar_interval").and_then(Value::as_str) {
                Interval::Calendar(calendar_unit(s).ok_or_else(|| bad(name, format!("The supplied interval [{s}] could not be parsed as a calendar interval.")))?)
            } else if let Some(iv) = o.get("interval") {
                let s = scalar_text(iv).unwrap_or_default();
                if let Some(ms) = fixed_ms(&s).or_else(|| s.parse::<i64>().ok().filter(|n| *n > 0))
                {
                    Interval::Fixed(ms)
                } else if let Some(c) = calendar_unit(&s) {
                    Interval::Calendar(c)
                } else {
                    return Err(bad(name, format!("failed to parse interval [{s}]")));
                }
            } else {
                return Err(EsError::illegal(format!(
                    "Invalid interval specified, must be non-null and non-empty for [{name}]; use [fixed_interval] or [calendar_interval]"
                )));
            };
            let format = o.get("format").and_then(Value::as_str).map(String::from);
            let bounds = match o.get("extended_bounds").or_else(|| o.get("hard_bounds")) {
                Some(Value::Object(b)) => {
                    let get = |k: &str, r: Round| -> Result<Option<i64>, EsError> {
                        match b.get(k) {
                            None | Some(Value::Null) => Ok(None),
                            Some(Value::Number(n)) => Ok(n.as_f64().map(|f| f as i64)),
                            Some(Value::String(s)) => {
                                datemath::eval(s, now_ms, format.as_deref(), r)
                                    .map(Some)
                                    .map_err(|e| EsError::new(400, "parse_exception", e))
                            }
                            Some(_) => Err(bad(name, "bad extended_bounds")),
                        }
                    };
                    match (get("min", Round::Down)?, get("max", Round::Up)?) {
                        (Some(a), Some(b)) => Some((a, b)),
                        _ => None,
                    }
                }
                _ => None,
            };
            let offset = match o.get("offset").and_then(Value::as_str) {
                Some(s) => {
                    let (neg, rest) = match s.strip_prefix('-') {
                        Some(r) => (true, r),
                        None => (false, s.strip_prefix('+').unwrap_or(s)),
                    };
                    let ms =
                        fixed_ms(rest).ok_or_else(|| bad(name, format!("bad offset [{s}]")))?;
                    if neg {
                        -ms
                    } else {
                        ms
                    }
                }
                None => 0,
            };
            Kind::DateHistogram {
                field,
                interval,
                min_doc_count: u64_of("min_doc_count", 0),
                bounds,
                format,
                offset,
            }
        }
        "histogram" => Kind::Histogram {
            field: field_of(name, o)?,
            interval: o
                .get("interval")
                .and_then(as_f64)
                .filter(|f| *f > 0.0)
                .ok_or_else(|| bad(name, "[interval] must be >0"))?,
            min_doc_count: u64_of("min_doc_count", 0),
        },
        "terms" => {
            let order = match o.get("order") {
                None => (false, false),
                Some(v) => {
                    let first = match v {
                        Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
                        other => other.clone(),
                    };
                    let (k, dir) = first
                        .as_object()
                        .and_then(|m| m.iter().next())
                        .map(|(k, d)| (k.clone(), d.as_str().unwrap_or("desc").to_string()))
                        .ok_or_else(|| bad(name, "bad [order]"))?;
                    let asc = dir.eq_ignore_ascii_case("asc");
                    match k.as_str() {
                        "_key" | "_term" => (true, asc),
                        "_count" => (false, asc),
                        other => {
                            return Err(bad(
                                name,
                                format!("ordering by [{other}] is not supported"),
                            ))
                        }
                    }
                }
            };
            Kind::Terms {
                field: field_of(name, o)?,
                size: u64_of("size", 10) as usize,
                min_doc_count: u64_of("min_doc_count", 1),
                order,
            }
        }
        "filter" => Kind::Filter(query::parse(body, now_ms)?),
        "filters" => {
            let f = o
                .get("filters")
                .ok_or_else(|| bad(name, "[filters] required"))?;
            match f {
                Value::Object(m) => Kind::Filters {
                    keyed: true,
                    filters: m
                        .iter()
                        .map(|(k, q)| Ok((k.clone(), query::parse(q, now_ms)?)))
                        .collect::<Result<_, EsError>>()?,
                },
                Value::Array(a) => Kind::Filters {
                    keyed: false,
                    filters: a
                        .iter()
                        .enumerate()
                        .map(|(i, q)| Ok((i.to_string(), query::parse(q, now_ms)?)))
                        .collect::<Result<_, EsError>>()?,
                },
                _ => return Err(bad(name, "[filters] must be an object or array")),
            }
        }
        "range" => Kind::Range {
            field: field_of(name, o)?,
            ranges: o
                .get("ranges")
                .and_then(Value::as_array)
                .ok_or_else(|| bad(name, "[ranges] required"))?
                .iter()
                .map(|r| {
                    (
                        r.get("key").and_then(Value::as_str).map(String::from),
                        r.get("from").and_then(as_f64),
                        r.get("to").and_then(as_f64),
                    )
                })
                .collect(),
        },
        "avg" | "min" | "max" | "sum" | "value_count" | "cardinality" | "stats"
        | "extended_stats" | "percentiles" => Kind::Metric {
            op: t.to_string(),
            field: field_of(name, o)?,
            percents: o
                .get("percents")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(as_f64).collect())
                .unwrap_or_else(|| vec![1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0]),
        },
        other => {
            return Err(EsError::new(
                400,
                "unknown_named_object_exception",
                format!("Unknown aggregation type [{other}] did you mean [terms]?"),
            ))
        }
    })
}

/// Numeric value of a field for metrics and histograms (dates become epoch ms).
fn numbers(field: &FieldRef, doc: &Value) -> Vec<f64> {
    field
        .values(doc)
        .into_iter()
        .filter_map(|v| match v {
            Value::String(s) => s
                .trim()
                .parse::<f64>()
                .ok()
                .or_else(|| datemath::parse_iso(s).map(|ms| ms as f64)),
            other => as_f64(other),
        })
        .collect()
}

fn date_values(field: &FieldRef, doc: &Value) -> Vec<i64> {
    field
        .values(doc)
        .into_iter()
        .filter_map(|v| match v {
            Value::Number(n) => n.as_f64().map(|f| f as i64),
            Value::String(s) => datemath::parse_iso(s).or_else(|| s.parse::<i64>().ok()),
            _ => None,
        })
        .collect()
}

fn floor_calendar(ms: i64, unit: char) -> i64 {
    let Some(t) = Utc.timestamp_millis_opt(ms).single() else {
        return ms;
    };
    if unit == 'q' {
        use chrono::Datelike;
        let m0 = (t.month0() / 3) * 3;
        return chrono::NaiveDate::from_ymd_opt(t.year(), m0 + 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp_millis())
            .unwrap_or(ms);
    }
    datemath::round_to(t, unit, Round::Down)
        .map(|d| d.timestamp_millis())
        .unwrap_or(ms)
}

fn next_calendar(ms: i64, unit: char) -> i64 {
    let (n, u) = if unit == 'q' { (3, 'M') } else { (1, unit) };
    let expr = format!("+{n}{u}");
    datemath::eval(
        &format!("{}||{expr}", datemath::format_iso(ms)),
        0,
        None,
        Round::Down,
    )
    .unwrap_or(i64::MAX)
}

/// Runs aggregations over `docs`; returns the `aggregations` object.
pub fn run(aggs: &[Agg], docs: &[DocRef<'_>]) -> Value {
    let mut out = Map::new();
    for a in aggs {
        out.insert(a.name.clone(), run_one(a, docs));
    }
    Value::Object(out)
}

fn bucket(key: Value, key_as_string: Option<String>, docs: &[DocRef<'_>], subs: &[Agg]) -> Value {
    let mut b = Map::new();
    if let Some(s) = key_as_string {
        b.insert("key_as_string".into(), json!(s));
    }
    b.insert("key".into(), key);
    b.insert("doc_count".into(), json!(docs.len()));
    if let Value::Object(m) = run(subs, docs) {
        b.extend(m);
    }
    Value::Object(b)
}

fn select<'a, 'b>(docs: &'b [DocRef<'a>], keep: impl Fn(&DocRef<'a>) -> bool) -> Vec<DocRef<'a>> {
    docs.iter()
        .filter(|d| keep(d))
        .map(|d| DocRef {
            source: d.source,
            id: d.id,
            index: d.index,
        })
        .collect()
}

fn run_one(a: &Agg, docs: &[DocRef<'_>]) -> Value {
    match &a.kind {
        Kind::DateHistogram {
            field,
            interval,
            min_doc_count,
            bounds,
            format,
            offset,
        } => {
            let key_of = |ms: i64| -> i64 {
                match interval {
                    Interval::Fixed(iv) => (ms - offset).div_euclid(*iv) * iv + offset,
                    Interval::Calendar(u) => floor_calendar(ms - offset, *u) + offset,
                }
            };
            let next = |k: i64| -> i64 {
                match interval {
                    Interval::Fixed(iv) => k + iv,
                    Interval::Calendar(u) => next_calendar(k - offset, *u) + offset,
                }
            };
            let mut groups: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
            for (i, d) in docs.iter().enumerate() {
                let mut keys: Vec<i64> = date_values(field, d.source)
                    .into_iter()
                    .map(key_of)
                    .collect();
                keys.dedup();
                for k in keys {
                    groups.entry(k).or_default().push(i);
                }
            }
            let mut lo = groups.keys().next().copied();
            let mut hi = groups.keys().next_back().copied();
            if let Some((bmin, bmax)) = bounds {
                lo = Some(lo.map_or(key_of(*bmin), |l| l.min(key_of(*bmin))));
                hi = Some(hi.map_or(key_of(*bmax), |h| h.max(key_of(*bmax))));
            }
            let mut buckets = Vec::new();
            if let (Some(mut k), Some(hi)) = (lo, hi) {
                let mut guard = 0usize;
                while k <= hi && guard < 100_000 {
                    let idx = groups.get(&k).cloned().unwrap_or_default();
                    if idx.len() as u64 >= *min_doc_count {
                        let sub: Vec<DocRef> = idx
                            .iter()
                            .map(|&i| DocRef {
                                source: docs[i].source,
                                id: docs[i].id,
                                index: docs[i].index,
                            })
                            .collect();
                        buckets.push(bucket(
                            json!(k),
                            Some(datemath::format_with(k, format.as_deref())),
                            &sub,
                            &a.subs,
                        ));
                    }
                    let n = next(k);
                    if n <= k {
                        break;
                    }
                    k = n;
                    guard += 1;
                }
            }
            json!({"buckets": buckets})
        }
        Kind::Histogram {
            field,
            interval,
            min_doc_count,
        } => {
            let mut groups: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
            for (i, d) in docs.iter().enumerate() {
                for x in numbers(field, d.source) {
                    groups
                        .entry((x / interval).floor() as i64)
                        .or_default()
                        .push(i);
                }
            }
            let mut buckets = Vec::new();
            if let (Some(&lo), Some(&hi)) = (groups.keys().next(), groups.keys().next_back()) {
                for k in lo..=hi.min(lo + 100_000) {
                    let idx = groups.get(&k).cloned().unwrap_or_default();
                    if idx.len() as u64 >= *min_doc_count {
                        let sub: Vec<DocRef> = idx
                            .iter()
                            .map(|&i| DocRef {
                                source: docs[i].source,
                                id: docs[i].id,
                                index: docs[i].index,
                            })
                            .collect();
                        buckets.push(bucket(json!(k as f64 * interval), None, &sub, &a.subs));
                    }
                }
            }
            json!({"buckets": buckets})
        }
        Kind::Terms {
            field,
            size,
            min_doc_count,
            order,
        } => {
            // key text -> (key json, doc indexes)
            let mut groups: std::collections::HashMap<String, (Value, Vec<usize>)> =
                Default::default();
            for (i, d) in docs.iter().enumerate() {
                let mut seen = std::collections::HashSet::new();
                for v in field.values(d.source) {
                    let Some(t) = scalar_text(v) else { continue };
                    if !seen.insert(t.clone()) {
                        continue;
                    }
                    let key = match v {
                        Value::Bool(b) => json!(i64::from(*b)),
                        other => other.clone(),
                    };
                    groups
                        .entry(t)
                        .or_insert_with(|| (key, Vec::new()))
                        .1
                        .push(i);
                }
            }
            let mut all: Vec<(String, Value, Vec<usize>)> = groups
                .into_iter()
                .map(|(t, (k, v))| (t, k, v))
                .filter(|(_, _, v)| v.len() as u64 >= *min_doc_count)
                .collect();
            let (by_key, asc) = *order;
            all.sort_by(|x, y| {
                let key_cmp = match (
                    as_f64(&x.1).filter(|_| x.1.is_number()),
                    as_f64(&y.1).filter(|_| y.1.is_number()),
                ) {
                    (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(std::cmp::Ordering::Equal),
                    _ => x.0.cmp(&y.0),
                };
                let ord = if by_key {
                    key_cmp
                } else {
                    x.2.len().cmp(&y.2.len()).then(key_cmp.reverse())
                };
                let ord = if asc { ord } else { ord.reverse() };
                if by_key {
                    ord
                } else {
                    ord.then(key_cmp)
                }
            });
            let total: usize = all.iter().map(|x| x.2.len()).sum();
            let shown: Vec<_> = all.into_iter().take(*size).collect();
            let shown_count: usize = shown.iter().map(|x| x.2.len()).sum();
            let buckets: Vec<Value> = shown
                .into_iter()
                .map(|(t, k, idx)| {
                    let sub: Vec<DocRef> = idx
                        .iter()
                        .map(|&i| DocRef {
                            source: docs[i].source,
                            id: docs[i].id,
                            index: docs[i].index,
                        })
                        .collect();
                    let kas = (k.is_number() && (t == "true" || t == "false")).then_some(t);
                    bucket(k, kas, &sub, &a.subs)
                })
                .collect();
            json!({"doc_count_error_upper_bound": 0, "sum_other_doc_count": total - shown_count, "buckets": buckets})
        }
        Kind::Filter(q) => {
            let sub = select(docs, |d| q.matches(d));
            let mut m = Map::new();
            m.insert("doc_count".into(), json!(sub.len()));
            if let Value::Object(x) = run(&a.subs, &sub) {
                m.extend(x);
            }
            Value::Object(m)
        }
        Kind::Filters { keyed, filters } => {
            let mut keyed_out = Map::new();
            let mut list = Vec::new();
            for (k, q) in filters {
                let sub = select(docs, |d| q.matches(d));
                let mut m = Map::new();
                m.insert("doc_count".into(), json!(sub.len()));
                if let Value::Object(x) = run(&a.subs, &sub) {
                    m.extend(x);
                }
                if *keyed {
                    keyed_out.insert(k.clone(), Value::Object(m));
                } else {
                    list.push(Value::Object(m));
                }
            }
            if *keyed {
                json!({"buckets": keyed_out})
            } else {
                json!({"buckets": list})
            }
        }
        Kind::Range { field, ranges } => {
            let buckets: Vec<Value> = ranges
                .iter()
                .map(|(key, from, to)| {
                    let sub = select(docs, |d| {
                        numbers(field, d.source)
                            .into_iter()
                            .any(|x| from.is_none_or(|f| x >= f) && to.is_none_or(|t| x < t))
                    });
                    let fmt = |x: &Option<f64>| x.map_or("*".to_string(), |v| format!("{v:?}"));
                    let mut b = Map::new();
                    b.insert(
                        "key".into(),
                        json!(key
                            .clone()
                            .unwrap_or_else(|| format!("{}-{}", fmt(from), fmt(to)))),
                    );
                    if let Some(f) = from {
                        b.insert("from".into(), json!(f));
                    }
                    if let Some(t) = to {
                        b.insert("to".into(), json!(t));
                    }
                    b.insert("doc_count".into(), json!(sub.len()));
                    if let Value::Object(x) = run(&a.subs, &sub) {
                        b.extend(x);
                    }
                    Value::Object(b)
                })
                .collect();
            json!({"buckets": buckets})
        }
        Kind::Metric {
            op,
            field,
            percents,
        } => metric(op, field, percents, docs),
    }
}

fn metric(op: &str, field: &FieldRef, percents: &[f64], docs: &[DocRef<'_>]) -> Value {
    if op == "value_count" {
        let n: usize = docs.iter().map(|d| field.values(d.source).len()).sum();
        return json!({"value": n});
    }
    if op == "cardinality" {
        let mut set = std::collections::HashSet::new();
        for d in docs {
            for v in field.values(d.source) {
                if let Some(t) = scalar_text(v) {
                    set.insert(t);
                }
            }
        }
        return json!({"value": set.len()});
    }
    let mut xs: Vec<f64> = docs.iter().flat_map(|d| numbers(field, d.source)).collect();
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = xs.len();
    let sum: f64 = xs.iter().sum();
    let min = xs.first().copied();
    let max = xs.last().copied();
    let avg = (n > 0).then(|| sum / n as f64);
    match op {
        "avg" => json!({"value": avg}),
        "min" => json!({"value": min}),
        "max" => json!({"value": max}),
        "sum" => json!({"value": sum}),
        "stats" | "extended_stats" => {
            let mut v = json!({"count": n, "min": min, "max": max, "avg": avg, "sum": sum});
            if op == "extended_stats" {
                let var = avg.map(|m| xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64);
                v["sum_of_squares"] = json!(xs.iter().map(|x| x * x).sum::<f64>());
                v["variance"] = json!(var);
                v["std_deviation"] = json!(var.map(f64::sqrt));
            }
            v
        }
        _ => {
            let mut values = Map::new();
            for p in percents {
                let val = percentile(&xs, *p);
                values.insert(format!("{p:?}"), json!(val));
            }
            json!({"values": values})
        }
    }
}

/// Percentile as ES' t-digest gives for small exact sets: each value is a centroid at rank
/// `i + 0.5`; linear interpolation between neighbours.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    if n == 1 {
        return Some(sorted[0]);
    }
    let pos = (p / 100.0) * n as f64 - 0.5;
    if pos <= 0.0 {
        return Some(sorted[0]);
    }
    if pos >= (n - 1) as f64 {
        return Some(sorted[n - 1]);
    }
    let lo = pos.floor() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[lo + 1] - sorted[lo]) * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(docs: &[Value]) -> Vec<DocRef<'_>> {
        docs.iter()
            .map(|d| DocRef {
                source: d,
                id: "x",
                index: "i",
            })
            .collect()
    }

    #[test]
    fn guide_error_spike_histogram() {
        let docs = vec![
            json!({"@timestamp": "2024-01-01T00:01:00Z", "level": "error"}),
            json!({"@timestamp": "2024-01-01T00:04:59Z", "level": "info"}),
            json!({"@timestamp": "2024-01-01T00:12:00Z", "level": "error"}),
            json!({"@timestamp": "2024-01-01T00:13:00Z", "level": "error"}),
        ];
        let aggs = parse(
            &json!({"errors_over_time": {
                "date_histogram": {"field": "@timestamp", "interval": "5m"},
                "aggs": {"error_count": {"filter": {"term": {"level": "error"}}}}
            }}),
            0,
        )
        .unwrap();
        let out = run(&aggs, &refs(&docs));
        assert_eq!(
            out,
            json!({"errors_over_time": {"buckets": [
                {"key_as_string": "2024-01-01T00:00:00.000Z", "key": 1704067200000i64, "doc_count": 2, "error_count": {"doc_count": 1}},
                {"key_as_string": "2024-01-01T00:05:00.000Z", "key": 1704067500000i64, "doc_count": 0, "error_count": {"doc_count": 0}},
                {"key_as_string": "2024-01-01T00:10:00.000Z", "key": 1704067800000i64, "doc_count": 2, "error_count": {"doc_count": 2}},
            ]}})
        );
    }

    #[test]
    fn calendar_and_bounds() {
        let docs = vec![
            json!({"t": "2024-01-31T10:00:00Z"}),
            json!({"t": "2024-03-02T00:00:00Z"}),
        ];
        let aggs = parse(&json!({"m": {"date_histogram": {"field": "t", "calendar_interval": "month", "min_doc_count": 1}}}), 0).unwrap();
        let out = run(&aggs, &refs(&docs));
        let keys: Vec<&str> = out["m"]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["key_as_string"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            vec!["2024-01-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"]
        );
        let aggs = parse(&json!({"h": {"date_histogram": {"field": "t", "fixed_interval": "1d", "format": "yyyy-MM-dd",
            "extended_bounds": {"min": "2024-01-30", "max": "2024-02-01"}}}}), 0).unwrap();
        let docs = vec![json!({"t": "2024-01-31T10:00:00Z"})];
        let out = run(&aggs, &refs(&docs));
        let b = out["h"]["buckets"].as_array().unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b[0]["key_as_string"], "2024-01-30");
        assert_eq!(b[1]["doc_count"], 1);
    }

    #[test]
    fn terms_and_metrics() {
        let docs = vec![
            json!({"svc": "a", "d": 10}),
            json!({"svc": "b", "d": 20}),
            json!({"svc": "a", "d": 30}),
            json!({"svc": "c", "d": 40}),
        ];
        let aggs = parse(&json!({
            "by": {"terms": {"field": "svc.keyword", "size": 2}, "aggs": {"avg_d": {"avg": {"field": "d"}}}},
            "p": {"percentiles": {"field": "d", "percents": [50, 99]}},
            "s": {"stats": {"field": "d"}},
            "c": {"cardinality": {"field": "svc"}},
            "n": {"value_count": {"field": "d"}},
            "mx": {"max": {"field": "nope"}}
        }), 0).unwrap();
        let out = run(&aggs, &refs(&docs));
        assert_eq!(
            out["by"]["buckets"][0],
            json!({"key": "a", "doc_count": 2, "avg_d": {"value": 20.0}})
        );
        assert_eq!(out["by"]["buckets"][1]["key"], "b");
        assert_eq!(out["by"]["sum_other_doc_count"], 1);
        assert_eq!(out["p"]["values"]["50.0"], 25.0);
        assert_eq!(out["p"]["values"]["99.0"], 40.0);
        assert_eq!(
            out["s"],
            json!({"count": 4, "min": 10.0, "max": 40.0, "avg": 25.0, "sum": 100.0})
        );
        assert_eq!(out["c"]["value"], 3);
        assert_eq!(out["n"]["value"], 4);
        assert_eq!(out["mx"]["value"], Value::Null);
    }

    #[test]
    fn filters_keyed() {
        let docs = vec![json!({"l": "error"}), json!({"l": "warn"})];
        let aggs = parse(&json!({"f": {"filters": {"filters": {"errors": {"term": {"l": "error"}}, "warns": {"match": {"l": "warn"}}}}}}), 0).unwrap();
        let out = run(&aggs, &refs(&docs));
        assert_eq!(out["f"]["buckets"]["errors"]["doc_count"], 1);
        assert_eq!(out["f"]["buckets"]["warns"]["doc_count"], 1);
    }

    #[test]
    fn bad_aggs() {
        for bad in [
            json!({"a": {"date_histogram": {"field": "t"}}}),
            json!({"a": {"date_histogram": {"field": "t", "fixed_interval": "1M"}}}),
            json!({"a": {"nope": {}}}),
            json!({"a": {}}),
            json!({"a": {"avg": {}}}),
            json!([1]),
        ] {
            assert!(parse(&bad, 0).is_err(), "{bad}");
        }
    }
}

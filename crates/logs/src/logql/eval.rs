//! LogQL evaluation over a `model::LogQueryable`: log queries (entries through the pipeline,
//! limit and direction over `[start, end)`) and metric queries (range aggregations over
//! left-open/right-closed windows `(t - range - offset, t - offset]`, vector aggregations,
//! binary operators with Prometheus' vector matching) at every step from start to end.

use super::ast::*;
use super::pipeline::{self, Row, ERROR};
use model::{Direction, LabelMatcher, Labels, LogEntry, LogQueryable, MatchOp, StorageError};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Parse(#[from] super::lexer::ParseError),
    /// Bad request: pipeline errors, limits, invalid parameters (HTTP 400).
    #[error("{0}")]
    Bad(String),
    #[error("{0}")]
    Storage(#[from] StorageError),
}

/// One output entry of a log query.
#[derive(Clone, Debug, PartialEq)]
pub struct OutEntry {
    pub ts_ns: i64,
    pub line: String,
    pub metadata: Vec<(String, String)>,
    pub parsed: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StreamResult {
    pub labels: Labels,
    pub entries: Vec<OutEntry>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum QueryResult {
    Streams(Vec<StreamResult>),
    Matrix(Vec<(Labels, Vec<(i64, f64)>)>),
    Vector(Vec<(Labels, f64)>, i64),
    Scalar(f64, i64),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    pub entries_scanned: u64,
    pub bytes_scanned: u64,
    pub entries_returned: u64,
}

/// Parameters of a query. For instant queries `start == end` and `step` is ignored.
#[derive(Clone, Debug)]
pub struct Params {
    pub tenant: String,
    pub start_ns: i64,
    pub end_ns: i64,
    pub step_ns: i64,
    pub limit: usize,
    pub direction: Direction,
    /// Return stream labels only, with structured metadata and parsed labels per entry.
    pub categorize: bool,
    pub instant: bool,
    pub max_series: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            tenant: model::logs::DEFAULT_TENANT.into(),
            start_ns: 0,
            end_ns: 0,
            step_ns: 1_000_000_000,
            limit: 100,
            direction: Direction::Backward,
            categorize: false,
            instant: false,
            max_series: 500,
        }
    }
}

/// Parses and evaluates `query`.
pub fn query(
    store: &dyn LogQueryable,
    query: &str,
    p: &Params,
) -> Result<(QueryResult, QueryStats), QueryError> {
    let expr = super::parse(query)?;
    exec(store, &expr, p)
}

/// Evaluates a metric query at one time and returns its (labels, value) pairs: the entry
/// point for LogQL alerting and recording rules. A scalar result is one sample with no labels.
pub fn instant_query(
    store: &dyn LogQueryable,
    tenant: &str,
    query: &str,
    ts_ns: i64,
) -> Result<Vec<(Labels, f64)>, QueryError> {
    let expr = super::parse(query)?;
    if expr.is_log() {
        return Err(QueryError::Bad("log queries are not supported as an instant query type, please change your query to a range query type".into()));
    }
    let p = Params {
        tenant: tenant.into(),
        start_ns: ts_ns,
        end_ns: ts_ns,
        instant: true,
        ..Default::default()
    };
    match exec(store, &expr, &p)?.0 {
        QueryResult::Vector(v, _) => Ok(v),
        QueryResult::Scalar(s, _) => Ok(vec![(Labels::empty(), s)]),
        _ => Ok(Vec::new()),
    }
}

pub fn exec(
    store: &dyn LogQueryable,
    expr: &Expr,
    p: &Params,
) -> Result<(QueryResult, QueryStats), QueryError> {
    let mut stats = QueryStats::default();
    if let Expr::Log(sel) = expr {
        if p.instant {
            return Err(QueryError::Bad("log queries are not supported as an instant query type, please change your query to a range query type".into()));
        }
        let r = log_query(store, sel, p, &mut stats)?;
        return Ok((QueryResult::Streams(r), stats));
    }
    let steps: Vec<i64> = if p.instant {
        vec![p.end_ns]
    } else {
        if p.step_ns <= 0 {
            return Err(QueryError::Bad("zero or negative query resolution step widths are not accepted. Try a positive integer".into()));
        }
        if p.end_ns < p.start_ns {
            return Err(QueryError::Bad(
                "end timestamp must not be before start time".into(),
            ));
        }
        if (p.end_ns - p.start_ns) / p.step_ns > 11_000 {
            return Err(QueryError::Bad("exceeded maximum resolution of 11,000 points per timeseries. Try increasing the value of the step parameter".into()));
        }
        let mut v = Vec::new();
        let mut t = p.start_ns;
        while t <= p.end_ns {
            v.push(t);
            match t.checked_add(p.step_ns) {
                Some(n) => t = n,
                None => break,
            }
        }
        v
    };
    let mut ev = Evaluator {
        store,
        tenant: &p.tenant,
        steps: &steps,
        cache: HashMap::new(),
        stats: &mut stats,
    };
    ev.precompute(expr)?;
    let mut per_step = Vec::with_capacity(steps.len());
    for i in 0..steps.len() {
        per_step.push(ev.eval(expr, i)?);
    }
    let res = if p.instant {
        match per_step.pop() {
            Some(Val::Scalar(s)) => QueryResult::Scalar(s, steps[0]),
            Some(Val::Vector(mut v)) => {
                if !is_sorting(expr) {
                    v.sort_by(|a, b| a.0.cmp(&b.0));
                }
                if v.len() > p.max_series {
                    return Err(max_series(p.max_series));
                }
                QueryResult::Vector(v, steps[0])
            }
            None => QueryResult::Vector(Vec::new(), p.end_ns),
        }
    } else {
        let mut series: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
        for (i, v) in per_step.into_iter().enumerate() {
            match v {
                Val::Scalar(s) => series
                    .entry(Labels::empty())
                    .or_default()
                    .push((steps[i], s)),
                Val::Vector(v) => {
                    for (l, x) in v {
                        series.entry(l).or_default().push((steps[i], x));
                    }
                }
            }
            if series.len() > p.max_series {
                return Err(max_series(p.max_series));
            }
        }
        let mut m: Vec<_> = series.into_iter().collect();
        m.sort_by(|a, b| a.0.cmp(&b.0));
        QueryResult::Matrix(m)
    };
    Ok((res, stats))
}

fn max_series(n: usize) -> QueryError {
    QueryError::Bad(format!("maximum number of series ({n}) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with a sum by (...) or similar"))
}

fn is_sorting(e: &Expr) -> bool {
    matches!(e, Expr::Vector(v) if matches!(v.op, VecOp::Sort | VecOp::SortDesc | VecOp::Topk | VecOp::Bottomk))
}

fn log_query(
    store: &dyn LogQueryable,
    sel: &LogSelector,
    p: &Params,
    stats: &mut QueryStats,
) -> Result<Vec<StreamResult>, QueryError> {
    let mut out: Vec<StreamResult> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut n = 0usize;
    // Leading line filters run inside the store's scan, over raw chunk bytes.
    let pre = pipeline::LinePrefilter::new(&sel.stages);
    let stages = &sel.stages[pre.as_ref().map_or(0, |p| p.len())..];
    let fast = pipeline::only_line_filters(stages);
    let limit = p.limit;
    let keep = |l: &[u8]| pre.as_ref().is_none_or(|p| p.matches(l));
    let required = pre.as_ref().map(|p| p.required()).unwrap_or_default();
    let scanned = store.scan_filtered(
        &p.tenant,
        &sel.matchers,
        p.start_ns,
        p.end_ns,
        p.direction,
        &keep,
        &required,
        &mut |labels, e| {
            if limit == 0 || n >= limit {
                return false;
            }
            let (key, entry) = if fast && e.metadata.is_empty() {
                if !stages.iter().all(|s| match s {
                    Stage::Line(f) => pipeline::line_filter_matches(f, &e.line),
                    _ => true,
                }) {
                    return true;
                }
                (
                    labels.clone(),
                    OutEntry {
                        ts_ns: e.ts_ns,
                        line: e.line.clone(),
                        metadata: Vec::new(),
                        parsed: Vec::new(),
                    },
                )
            } else {
                let Some(row) = pipeline::run(stages, labels, e) else {
                    return true;
                };
                if p.categorize {
                    let (s, m, pr) = row.categorize(labels, &e.metadata);
                    (
                        s,
                        OutEntry {
                            ts_ns: e.ts_ns,
                            line: row.line,
                            metadata: m,
                            parsed: pr,
                        },
                    )
                } else {
                    (
                        row.to_labels(),
                        OutEntry {
                            ts_ns: e.ts_ns,
                            line: row.line,
                            metadata: Vec::new(),
                            parsed: Vec::new(),
                        },
                    )
                }
            };
            n += 1;
            let i = *index.entry(key.clone()).or_insert_with(|| {
                out.push(StreamResult {
                    labels: key,
                    entries: Vec::new(),
                });
                out.len() - 1
            });
            out[i].entries.push(entry);
            true
        },
    )?;
    stats.entries_scanned += scanned.entries;
    stats.bytes_scanned += scanned.bytes;
    stats.entries_returned = n as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn store() -> std::sync::Arc<crate::LogStore> {
        static S: std::sync::OnceLock<std::sync::Arc<crate::LogStore>> = std::sync::OnceLock::new();
        S.get_or_init(open_store).clone()
    }

    fn open_store() -> std::sync::Arc<crate::LogStore> {
        let d = tempfile::tempdir().unwrap().keep();
        let mut o = crate::LogStoreOptions {
            background: false,
            fsync: false,
            ..Default::default()
        };
        o.limits.reject_old_samples = false;
        let s = crate::LogStore::open(&d, o).unwrap();
        let l = Labels::from_pairs([("app", "a")]);
        let entries = (0..20)
            .map(|i| model::LogEntry {
                ts_ns: i * 1_000_000_000,
                line: format!("level=info n={i} {{\"x\":{i}}}"),
                metadata: vec![],
            })
            .collect();
        let _ = model::LogSink::push(
            s.as_ref(),
            "fake",
            vec![model::LogStream { labels: l, entries }],
        );
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Any query that parses evaluates without panicking, at any time and step.
        #[test]
        fn eval_never_panics(
            q in "((sum|avg|count|sort)\\(|topk\\(2,|bottomk\\(0,)?(rate|count_over_time|bytes_rate|absent_over_time|sum_over_time|quantile_over_time\\(0.5,|rate_counter|stddev_over_time)\\(\\{app=\"a\"\\}( \\| logfmt| \\| json| \\|= \"n\"| \\| n > 3| \\| line_format \"x\"){0,3}( \\| unwrap n| \\| unwrap duration\\(n\\))?( \\| __error__=\"\")? \\[(1s|5s|999999999y)\\]( offset (1s|999999999y))?\\)\\)?( (by|without) \\(app\\))?( (\\+|/|>|and|or|unless|> bool) (1|vector\\(1\\)))?",

            t in prop_oneof![Just(0i64), Just(10_000_000_000i64), Just(i64::MAX), Just(i64::MIN + 1)],
            step in prop_oneof![Just(1_000_000_000i64), Just(i64::MAX)],
        ) {
            let s = store();
            if let Ok(e) = crate::logql::parse(&q) {
                let p = Params { start_ns: t.min(0), end_ns: t, step_ns: step, instant: false, ..Default::default() };
                let _ = exec(s.as_ref(), &e, &p);
                let p = Params { start_ns: t, end_ns: t, instant: true, ..Default::default() };
                let _ = exec(s.as_ref(), &e, &p);
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Val {
    Scalar(f64),
    Vector(Vec<(Labels, f64)>),
}

struct Evaluator<'a> {
    store: &'a dyn LogQueryable,
    tenant: &'a str,
    steps: &'a [i64],
    cache: HashMap<usize, Vec<Vec<(Labels, f64)>>>,
    stats: &'a mut QueryStats,
}

fn key_of(r: &RangeAgg) -> usize {
    r as *const RangeAgg as usize
}

/// Converts an unwrapped label value; an error carries the value Go's parser returns with it
/// (0, or ±Inf when out of range) and the error text.
fn convert(v: &str, conv: Conv) -> Result<f64, (f64, String)> {
    match conv {
        Conv::None => match v.parse::<f64>() {
            Ok(x) if x.is_infinite() && !v.to_ascii_lowercase().contains("inf") => Err((
                x,
                format!("strconv.ParseFloat: parsing {v:?}: value out of range"),
            )),
            Ok(x) => Ok(x),
            Err(_) => Err((
                0.0,
                format!("strconv.ParseFloat: parsing {v:?}: invalid syntax"),
            )),
        },
        Conv::Duration => super::lexer::parse_duration(v)
            .map(|ns| ns as f64 / 1e9)
            .ok_or_else(|| (0.0, format!("time: invalid duration {v:?}"))),
        Conv::Bytes => {
            super::lexer::parse_bytes(v.trim()).ok_or_else(|| (0.0, format!("invalid bytes {v:?}")))
        }
    }
}

/// Loki's parser hints for one range aggregation (`NewParserHint`): `pushed` is the grouping
/// of a `sum` that wraps it. Parsers are skipped when the result needs no label at all, and
/// parser errors are preserved when `__error__` is named in a filter, template or `by`.
fn parser_hints(r: &RangeAgg, pushed: Option<&Grouping>) -> pipeline::Hints {
    let g = r.grouping.as_ref().or(pushed);
    let without = g.is_some_and(|g| g.without);
    let groups: &[String] = g.map(|g| g.labels.as_slice()).unwrap_or(&[]);
    let no_labels = r.op == RangeOp::Absent || g.is_some_and(|g| !g.without && g.labels.is_empty());
    let mut names = Vec::new();
    pipeline::required_labels(&r.selector.stages, &mut names);
    if let Some(u) = &r.unwrap {
        for f in &u.post {
            pipeline::filter_labels(f, &mut names);
        }
        names.push(u.label.clone());
    }
    if !no_labels {
        names.extend(groups.iter().cloned());
    }
    let has_error = names.iter().any(|n| n == ERROR);
    pipeline::Hints {
        skip_parsers: no_labels && names.is_empty(),
        preserve_error: has_error && !without && (no_labels || !groups.is_empty()),
    }
}

fn group_labels(l: &Labels, g: Option<&Grouping>, drop_extra: Option<&str>) -> Labels {
    match g {
        None => match drop_extra {
            Some(x) => l.without(&[x]),
            None => l.clone(),
        },
        Some(g) if g.without => {
            let mut names: Vec<&str> = g.labels.iter().map(String::as_str).collect();
            if let Some(x) = drop_extra {
                names.push(x);
            }
            l.without(&names)
        }
        Some(g) => {
            let names: Vec<&str> = g.labels.iter().map(String::as_str).collect();
            l.keep_only(&names)
        }
    }
}

impl Evaluator<'_> {
    fn precompute(&mut self, e: &Expr) -> Result<(), QueryError> {
        match e {
            Expr::Range(r) => {
                let v = self.range_agg(r, None)?;
                self.cache.insert(key_of(r), v);
            }
            // Loki pushes a `sum`'s grouping into the range aggregation it wraps (ast.go
            // `canInjectVectorGrouping`); that grouping decides the parser hints.
            Expr::Vector(v) => match &v.expr {
                Expr::Range(r)
                    if v.op == VecOp::Sum
                        && r.grouping.is_none()
                        && matches!(
                            r.op,
                            RangeOp::Bytes
                                | RangeOp::BytesRate
                                | RangeOp::Sum
                                | RangeOp::Rate
                                | RangeOp::Count
                        ) =>
                {
                    // `sum(...)` has an empty grouping (Loki's is never nil).
                    let none = Grouping {
                        without: false,
                        labels: Vec::new(),
                    };
                    let out = self.range_agg(r, Some(v.grouping.as_ref().unwrap_or(&none)))?;
                    self.cache.insert(key_of(r), out);
                }
                inner => self.precompute(inner)?,
            },
            Expr::Binary(b) => {
                self.precompute(&b.lhs)?;
                self.precompute(&b.rhs)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn range_agg(
        &mut self,
        r: &RangeAgg,
        pushed: Option<&Grouping>,
    ) -> Result<Vec<Vec<(Labels, f64)>>, QueryError> {
        let hints = parser_hints(r, pushed);
        let first = self.steps[0]
            .saturating_sub(r.offset_ns)
            .saturating_sub(r.range_ns);
        let last = self.steps[self.steps.len() - 1].saturating_sub(r.offset_ns);
        let mut series: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
        let mut any_ts: Vec<i64> = Vec::new();
        let mut err: Option<String> = None;
        let stats = &mut *self.stats;
        // Leading line filters run inside the store's scan, over raw chunk bytes.
        let pre = pipeline::LinePrefilter::new(&r.selector.stages);
        let stages = &r.selector.stages[pre.as_ref().map_or(0, |p| p.len())..];
        let keep = |l: &[u8]| pre.as_ref().is_none_or(|p| p.matches(l));
        let required = pre.as_ref().map(|p| p.required()).unwrap_or_default();
        let fast =
            pipeline::only_line_filters(stages) && r.unwrap.is_none() && r.grouping.is_none();
        let drop_label = r.unwrap.as_ref().map(|u| u.label.as_str());
        let scanned = self.store.scan_filtered(self.tenant, &r.selector.matchers, first.saturating_add(1), last.saturating_add(1), Direction::Forward, &keep, &required, &mut |labels: &Labels, e: &LogEntry| {
            if fast && e.metadata.is_empty() {
                if !stages.iter().all(|s| match s {
                    Stage::Line(f) => pipeline::line_filter_matches(f, &e.line),
                    _ => true,
                }) {
                    return true;
                }
                let v = match r.op {
                    RangeOp::Bytes | RangeOp::BytesRate => e.line.len() as f64,
                    _ => 1.0,
                };
                if let Some(s) = series.get_mut(labels) {
                    s.push((e.ts_ns, v));
                } else {
                    series.insert(labels.clone(), vec![(e.ts_ns, v)]);
                }
                any_ts.push(e.ts_ns);
                return true;
            }
            let Some(mut row) = pipeline::run_hinted(stages, labels, e, hints) else { return true };
            let v = match (&r.unwrap, r.op) {
                (Some(u), _) => {
                    // A line without the unwrapped label is no sample (grafana/loki#6713).
                    let raw = match row.labels.get(&u.label) {
                        Some(x) if !x.is_empty() => x.clone(),
                        _ => return true,
                    };
                    let v = match convert(&raw, u.conv) {
                        Ok(v) => v,
                        Err((v, d)) => {
                            pipeline::overwrite_error(&mut row, "SampleExtractionErr", d, false);
                            v
                        }
                    };
                    for f in &u.post {
                        if !pipeline::label_filter(f, &mut row) {
                            return true;
                        }
                    }
                    v
                }
                (None, RangeOp::Bytes | RangeOp::BytesRate) => row.line.len() as f64,
                (None, _) => 1.0,
            };
            any_ts.push(e.ts_ns);
            let row = Row { labels: row.labels.into_iter().filter(|(_, v)| !v.is_empty()).collect(), line: String::new() };
            // An erroneous row keeps all its labels (Loki's GroupedLabels); it fails the query
            // unless a parser error was asked for (`__preserve_error__`).
            let key = if row.labels.contains_key(ERROR) {
                let all = row.to_labels();
                if all.get(pipeline::PRESERVE_ERROR) != Some("true") {
                    if err.is_none() {
                        let t = all.get(ERROR).unwrap_or_default();
                        err = Some(format!(
                            "pipeline error: '{t}' for series: '{}'.\nUse a label filter to intentionally skip this error. (e.g | __error__!=\"{t}\").\nTo skip all potential errors you can match empty errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. (e.g | unwrap latency | __error__=\"\" )\n",
                            crate::limits::labels_string(&all)
                        ));
                    }
                    return false;
                }
                all
            } else {
                group_labels(&row.to_labels(), r.grouping.as_ref(), drop_label)
            };
            series.entry(key).or_default().push((e.ts_ns, v));
            true
        })?;
        stats.entries_scanned += scanned.entries;
        stats.bytes_scanned += scanned.bytes;
        if let Some(e) = err {
            return Err(QueryError::Bad(e));
        }
        let mut out = Vec::with_capacity(self.steps.len());
        if r.op == RangeOp::Absent {
            let labels = Labels::from_pairs(
                r.selector
                    .matchers
                    .iter()
                    .filter(|m| m.op == MatchOp::Equal)
                    .map(|m| (m.name.clone(), m.value.clone())),
            );
            for &t in self.steps {
                let (lo, hi) = (
                    t.saturating_sub(r.offset_ns).saturating_sub(r.range_ns),
                    t.saturating_sub(r.offset_ns),
                );
                let a = any_ts.partition_point(|x| *x <= lo);
                let b = any_ts.partition_point(|x| *x <= hi);
                out.push(if a == b {
                    vec![(labels.clone(), 1.0)]
                } else {
                    Vec::new()
                });
            }
            return Ok(out);
        }
        let mut series: Vec<(Labels, Vec<(i64, f64)>)> = series.into_iter().collect();
        series.sort_by(|a, b| a.0.cmp(&b.0));
        let range_s = r.range_ns as f64 / 1e9;
        for &t in self.steps {
            let (lo, hi) = (
                t.saturating_sub(r.offset_ns).saturating_sub(r.range_ns),
                t.saturating_sub(r.offset_ns),
            );
            let mut v = Vec::new();
            for (l, s) in &series {
                let a = s.partition_point(|x| x.0 <= lo);
                let b = s.partition_point(|x| x.0 <= hi);
                if a == b {
                    continue;
                }
                let w = &s[a..b];
                let vals = || w.iter().map(|x| x.1);
                let n = w.len() as f64;
                let x = match r.op {
                    RangeOp::Count => n,
                    RangeOp::Rate => {
                        if r.unwrap.is_some() {
                            vals().sum::<f64>() / range_s
                        } else {
                            n / range_s
                        }
                    }
                    RangeOp::Bytes | RangeOp::Sum => vals().sum(),
                    RangeOp::BytesRate => vals().sum::<f64>() / range_s,
                    RangeOp::Avg => vals().sum::<f64>() / n,
                    RangeOp::Min => vals().fold(f64::INFINITY, f64::min),
                    RangeOp::Max => vals().fold(f64::NEG_INFINITY, f64::max),
                    RangeOp::Stdvar | RangeOp::Stddev => {
                        let mean = vals().sum::<f64>() / n;
                        let var = vals().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                        if r.op == RangeOp::Stddev {
                            var.sqrt()
                        } else {
                            var
                        }
                    }
                    RangeOp::Quantile => {
                        let mut xs: Vec<f64> = vals().collect();
                        quantile(r.param.unwrap_or(0.5), &mut xs)
                    }
                    RangeOp::First => w[0].1,
                    RangeOp::Last => w[w.len() - 1].1,
                    RangeOp::RateCounter => match extrapolated_rate(w, lo, hi) {
                        Some(x) => x,
                        None => continue,
                    },
                    RangeOp::Absent => continue,
                };
                v.push((l.clone(), x));
            }
            out.push(v);
        }
        Ok(out)
    }

    fn eval(&self, e: &Expr, si: usize) -> Result<Val, QueryError> {
        Ok(match e {
            Expr::Number(n) => Val::Scalar(*n),
            Expr::VectorLit(n) => Val::Vector(vec![(Labels::empty(), *n)]),
            Expr::Log(_) => {
                return Err(QueryError::Bad(
                    "log queries cannot be used in metric expressions".into(),
                ))
            }
            Expr::Range(r) => Val::Vector(
                self.cache
                    .get(&key_of(r))
                    .and_then(|v| v.get(si))
                    .cloned()
                    .unwrap_or_default(),
            ),
            Expr::Vector(v) => {
                let inner = match self.eval(&v.expr, si)? {
                    Val::Vector(x) => x,
                    Val::Scalar(_) => {
                        return Err(QueryError::Bad(
                            "vector aggregations require a vector argument".into(),
                        ))
                    }
                };
                Val::Vector(vector_agg(v, inner))
            }
            Expr::Binary(b) => {
                let l = self.eval(&b.lhs, si)?;
                let r = self.eval(&b.rhs, si)?;
                binary(b, l, r)?
            }
        })
    }
}

/// Prometheus' quantile with linear interpolation.
pub fn quantile(q: f64, xs: &mut [f64]) -> f64 {
    if xs.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = xs.len() as f64;
    let rank = q * (n - 1.0);
    let lo = rank.floor().max(0.0) as usize;
    let hi = (lo + 1).min(xs.len() - 1);
    let w = rank - rank.floor();
    xs[lo] * (1.0 - w) + xs[hi] * w
}

/// Prometheus' extrapolatedRate for counters (used by `rate_counter`).
fn extrapolated_rate(w: &[(i64, f64)], lo: i64, hi: i64) -> Option<f64> {
    if w.len() < 2 {
        return None;
    }
    let mut delta = w[w.len() - 1].1 - w[0].1;
    let mut prev = w[0].1;
    for s in &w[1..] {
        if s.1 < prev {
            delta += prev;
        }
        prev = s.1;
    }
    let sec = |ns: i64| ns as f64 / 1e9;
    let range_start = sec(lo);
    let range_end = sec(hi);
    let first_t = sec(w[0].0);
    let last_t = sec(w[w.len() - 1].0);
    let mut dur_to_start = first_t - range_start;
    let dur_to_end = range_end - last_t;
    let sampled = last_t - first_t;
    let avg = sampled / (w.len() - 1) as f64;
    if delta > 0.0 && w[0].1 >= 0.0 {
        let dur_to_zero = sampled * (w[0].1 / delta);
        if dur_to_zero < dur_to_start {
            dur_to_start = dur_to_zero;
        }
    }
    let threshold = avg * 1.1;
    let mut ext = sampled;
    ext += if dur_to_start < threshold {
        dur_to_start
    } else {
        avg / 2.0
    };
    ext += if dur_to_end < threshold {
        dur_to_end
    } else {
        avg / 2.0
    };
    let factor = ext / sampled / (range_end - range_start);
    Some(delta * factor)
}

fn vector_agg(v: &VectorAgg, inner: Vec<(Labels, f64)>) -> Vec<(Labels, f64)> {
    let group_key = |l: &Labels| match &v.grouping {
        None => Labels::empty(),
        Some(g) => group_labels(l, Some(g), None),
    };
    match v.op {
        VecOp::Sort | VecOp::SortDesc => {
            let mut x = inner;
            x.sort_by(|a, b| {
                let o = a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal);
                if v.op == VecOp::Sort {
                    o
                } else {
                    o.reverse()
                }
            });
            x
        }
        VecOp::Topk | VecOp::Bottomk => {
            let k = v.param.unwrap_or(0.0) as usize;
            let mut groups: Vec<(Labels, Vec<(Labels, f64)>)> = Vec::new();
            let mut idx: HashMap<Labels, usize> = HashMap::new();
            for (l, x) in inner {
                let g = group_key(&l);
                let i = *idx.entry(g.clone()).or_insert_with(|| {
                    groups.push((g, Vec::new()));
                    groups.len() - 1
                });
                groups[i].1.push((l, x));
            }
            let mut out = Vec::new();
            for (_, mut members) in groups {
                members.sort_by(|a, b| {
                    let o = a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal);
                    if v.op == VecOp::Topk {
                        o.reverse()
                    } else {
                        o
                    }
                });
                members.truncate(k);
                out.extend(members);
            }
            out
        }
        _ => {
            let mut groups: Vec<(Labels, Vec<f64>)> = Vec::new();
            let mut idx: HashMap<Labels, usize> = HashMap::new();
            for (l, x) in inner {
                let g = group_key(&l);
                let i = *idx.entry(g.clone()).or_insert_with(|| {
                    groups.push((g, Vec::new()));
                    groups.len() - 1
                });
                groups[i].1.push(x);
            }
            groups
                .into_iter()
                .map(|(g, xs)| {
                    let n = xs.len() as f64;
                    let x = match v.op {
                        VecOp::Sum => xs.iter().sum(),
                        VecOp::Avg => xs.iter().sum::<f64>() / n,
                        VecOp::Min => xs.iter().copied().fold(f64::INFINITY, f64::min),
                        VecOp::Max => xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        VecOp::Count => n,
                        VecOp::Stddev | VecOp::Stdvar => {
                            let mean = xs.iter().sum::<f64>() / n;
                            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                            if v.op == VecOp::Stddev {
                                var.sqrt()
                            } else {
                                var
                            }
                        }
                        _ => 0.0,
                    };
                    (g, x)
                })
                .collect()
        }
    }
}

fn arith(op: BinOp, a: f64, b: f64) -> Option<f64> {
    Some(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        BinOp::Eq => return if a == b { Some(a) } else { None },
        BinOp::Ne => return if a != b { Some(a) } else { None },
        BinOp::Gt => return if a > b { Some(a) } else { None },
        BinOp::Ge => return if a >= b { Some(a) } else { None },
        BinOp::Lt => return if a < b { Some(a) } else { None },
        BinOp::Le => return if a <= b { Some(a) } else { None },
        _ => return None,
    })
}

fn cmp_bool(op: BinOp, a: f64, b: f64) -> f64 {
    (match op {
        BinOp::Eq => a == b,
        BinOp::Ne => a != b,
        BinOp::Gt => a > b,
        BinOp::Ge => a >= b,
        BinOp::Lt => a < b,
        BinOp::Le => a <= b,
        _ => false,
    }) as u8 as f64
}

fn signature(l: &Labels, m: Option<&Matching>) -> Labels {
    match m {
        Some(m) if m.on => {
            let names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
            l.keep_only(&names)
        }
        Some(m) => {
            let names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
            l.without(&names)
        }
        None => l.clone(),
    }
}

fn binary(b: &Binary, l: Val, r: Val) -> Result<Val, QueryError> {
    let op = b.op;
    match (l, r) {
        (Val::Scalar(x), Val::Scalar(y)) => {
            if op.is_set() {
                return Err(QueryError::Bad(
                    "set operators are not allowed between scalars".into(),
                ));
            }
            if op.is_comparison() {
                if !b.return_bool {
                    return Err(QueryError::Bad(
                        "comparisons between scalars must use BOOL modifier".into(),
                    ));
                }
                return Ok(Val::Scalar(cmp_bool(op, x, y)));
            }
            Ok(Val::Scalar(arith(op, x, y).unwrap_or(f64::NAN)))
        }
        (Val::Vector(v), Val::Scalar(s)) | (Val::Scalar(s), Val::Vector(v)) if op.is_set() => {
            let _ = (v, s);
            Err(QueryError::Bad(
                "set operators are only allowed between vectors".into(),
            ))
        }
        (Val::Vector(v), Val::Scalar(s)) => Ok(Val::Vector(
            v.into_iter()
                .filter_map(|(l, x)| {
                    if op.is_comparison() && b.return_bool {
                        Some((l, cmp_bool(op, x, s)))
                    } else {
                        arith(op, x, s).map(|y| (l, y))
                    }
                })
                .collect(),
        )),
        (Val::Scalar(s), Val::Vector(v)) => Ok(Val::Vector(
            v.into_iter()
                .filter_map(|(l, x)| {
                    if op.is_comparison() && b.return_bool {
                        Some((l, cmp_bool(op, s, x)))
                    } else if op.is_comparison() {
                        arith(op, s, x).map(|_| (l, x))
                    } else {
                        arith(op, s, x).map(|y| (l, y))
                    }
                })
                .collect(),
        )),
        (Val::Vector(lv), Val::Vector(rv)) => vector_binary(b, lv, rv).map(Val::Vector),
    }
}

fn vector_binary(
    b: &Binary,
    lv: Vec<(Labels, f64)>,
    rv: Vec<(Labels, f64)>,
) -> Result<Vec<(Labels, f64)>, QueryError> {
    let m = b.matching.as_ref();
    let op = b.op;
    match op {
        BinOp::And | BinOp::Unless => {
            let rs: std::collections::HashSet<Labels> =
                rv.iter().map(|(l, _)| signature(l, m)).collect();
            return Ok(lv
                .into_iter()
                .filter(|(l, _)| rs.contains(&signature(l, m)) == (op == BinOp::And))
                .collect());
        }
        BinOp::Or => {
            let ls: std::collections::HashSet<Labels> =
                lv.iter().map(|(l, _)| signature(l, m)).collect();
            let mut out = lv;
            out.extend(
                rv.into_iter()
                    .filter(|(l, _)| !ls.contains(&signature(l, m))),
            );
            return Ok(out);
        }
        _ => {}
    }
    let card = m.map(|m| m.card.clone()).unwrap_or(Card::OneToOne);
    // The "one" side is indexed by signature; for group_right it's the left side.
    let (many, one, swapped) = match card {
        Card::OneToMany(_) => (rv, lv, true),
        _ => (lv, rv, false),
    };
    let mut one_idx: HashMap<Labels, (Labels, f64)> = HashMap::new();
    for (l, x) in one {
        let sig = signature(&l, m);
        if one_idx.insert(sig.clone(), (l, x)).is_some() {
            return Err(QueryError::Bad(format!(
                "found duplicate series for the match group {} on the {} hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side",
                crate::limits::labels_string(&sig),
                if swapped { "left" } else { "right" }
            )));
        }
    }
    let mut seen: std::collections::HashSet<Labels> = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (l, x) in many {
        let sig = signature(&l, m);
        let Some((ol, ox)) = one_idx.get(&sig) else {
            continue;
        };
        if card == Card::OneToOne && !seen.insert(sig.clone()) {
            return Err(QueryError::Bad(format!(
                "found duplicate series for the match group {} on the left hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side",
                crate::limits::labels_string(&sig)
            )));
        }
        let (a, bv) = if swapped { (*ox, x) } else { (x, *ox) };
        let value = if op.is_comparison() {
            if b.return_bool {
                Some(cmp_bool(op, a, bv))
            } else {
                arith(op, a, bv).map(|_| if swapped { bv } else { a })
            }
        } else {
            arith(op, a, bv)
        };
        let Some(value) = value else { continue };
        let mut labels = l.clone();
        match (&card, m) {
            (Card::OneToOne, Some(mm)) => labels = signature(&labels, Some(mm)),
            (Card::ManyToOne(incl) | Card::OneToMany(incl), _) => {
                let mut bld = labels.builder();
                for n in incl {
                    match ol.get(n) {
                        Some(v) => {
                            bld.set(n.clone(), v.to_string());
                        }
                        None => {
                            bld.del(n);
                        }
                    }
                }
                labels = bld.build();
            }
            _ => {}
        }
        out.push((labels, value));
    }
    Ok(out)
}

/// Matchers of a selector for `/series` etc.
pub fn selector_matchers(expr: &Expr) -> Vec<LabelMatcher> {
    match expr {
        Expr::Log(s) => s.matchers.clone(),
        Expr::Range(r) => r.selector.matchers.clone(),
        Expr::Vector(v) => selector_matchers(&v.expr),
        Expr::Binary(b) => selector_matchers(&b.lhs),
        _ => Vec::new(),
    }
}

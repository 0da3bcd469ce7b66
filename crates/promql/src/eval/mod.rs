//! The PromQL evaluator: walks the `promql-parser` AST once per evaluation step. Selector data is
//! fetched from storage once per query (for the whole range every step will need) and sliced per
//! step, so range queries do not hit storage per step. Range queries first try the whole-range
//! fast path (`grid`) for selectors, per-series range functions and simple aggregations; inner
//! results of subqueries are reused across outer steps.

mod aggregate;
pub(crate) use aggregate::format_go_float;
mod binary;
mod grid;
#[cfg(test)]
mod tests;

use crate::functions::{self, FnArg, FnCall, FnValue, RangeWindow};
use crate::{InstantSample, QueryError, RangeSeries, Value};
use model::{is_stale_nan, LabelMatcher, Labels, Queryable, Sample, Series};
use promql_parser::parser::{
    AtModifier, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector,
};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A value at one evaluation step.
#[derive(Clone, Debug)]
pub(crate) enum StepValue {
    Scalar(f64),
    Str(String),
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeWindow>),
}

/// Query-wide evaluation state.
pub(crate) struct Evaluator<'a> {
    storage: &'a dyn Queryable,
    /// Query start and end (for `@ start()` / `@ end()`).
    start: i64,
    end: i64,
    /// Query step in ms (0 for instant queries), for `step()`.
    query_step: i64,
    lookback: i64,
    default_step: i64,
    max_samples: usize,
    /// When the query must be finished (from `EngineOptions::timeout`).
    deadline: Option<std::time::Instant>,
    /// Series per selector node (keyed by node address), fetched once.
    data: HashMap<usize, Vec<Series>>,
    /// Whole-range results of aggregation nodes (keyed by node address) computed by the fast
    /// path of range queries, looked up at the query's own steps.
    grids: HashMap<usize, (grid::Steps, Vec<grid::GridSeries>)>,
    /// Per subquery node (keyed by address): inner results by inner timestamp, for the window
    /// last evaluated.
    subquery_cache: HashMap<usize, std::collections::BTreeMap<i64, StepValue>>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// Bound (in ms, about 31,700 years) on every timestamp and duration the evaluator handles, so
/// that sums of a few of them cannot overflow whatever the query says.
pub(crate) const TIME_BOUND_MS: i64 = 1_000_000_000_000_000;

/// `t` clamped into `[-TIME_BOUND_MS, TIME_BOUND_MS]`.
pub(crate) fn clamp_time(t: i64) -> i64 {
    t.clamp(-TIME_BOUND_MS, TIME_BOUND_MS)
}

fn ms(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).map_or(TIME_BOUND_MS, clamp_time)
}

fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => ms(d),
        Some(Offset::Neg(d)) => -ms(d),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => ms(&d),
        Err(e) => -ms(&e.duration()),
    }
}

/// Strips parentheses.
pub(crate) fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

impl<'a> Evaluator<'a> {
    pub(crate) fn new(
        storage: &'a dyn Queryable,
        start: i64,
        end: i64,
        query_step: i64,
        opts: &crate::EngineOptions,
    ) -> Self {
        Evaluator {
            storage,
            start,
            end,
            query_step,
            lookback: opts.lookback_delta_ms.clamp(1, TIME_BOUND_MS),
            default_step: opts.default_subquery_step_ms.clamp(1, TIME_BOUND_MS),
            max_samples: opts.max_samples,
            deadline: opts
                .timeout
                .and_then(|t| std::time::Instant::now().checked_add(t)),
            data: HashMap::new(),
            grids: HashMap::new(),
            subquery_cache: HashMap::new(),
            warnings: Vec::new(),
            infos: Vec::new(),
        }
    }

    /// Fails once the query's time budget is spent.
    pub(crate) fn check_deadline(&self) -> Result<(), QueryError> {
        match self.deadline {
            Some(d) if std::time::Instant::now() > d => {
                Err(QueryError::Timeout("expression evaluation".into()))
            }
            _ => Ok(()),
        }
    }

    fn at_ms(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.start),
            Some(AtModifier::End) => Some(self.end),
            Some(AtModifier::At(t)) => Some(system_time_ms(t)),
        }
    }

    /// Fetches every selector's data for evaluation timestamps in `[a, b]`.
    pub(crate) fn preload(&mut self, expr: &Expr, a: i64, b: i64) -> Result<(), QueryError> {
        let mut needs: HashMap<usize, (&VectorSelector, i64, i64)> = HashMap::new();
        self.collect(expr, a, b, &mut needs);
        let mut total = 0usize;
        for (key, (vs, mint, maxt)) in needs {
            self.check_deadline()?;
            let sets = crate::selector::selector_matchers(vs).map_err(QueryError::Execution)?;
            let series = self.select_sets(&sets, mint, maxt)?;
            total += series.iter().map(|s| s.samples.len()).sum::<usize>();
            if total > self.max_samples {
                return Err(QueryError::Execution(
                    "query processing would load too many samples into memory in query execution"
                        .into(),
                ));
            }
            self.data.insert(key, series);
        }
        Ok(())
    }

    fn select_sets(
        &self,
        sets: &[Vec<LabelMatcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, QueryError> {
        if let [only] = sets {
            return Ok(self.storage.select(only, mint, maxt)?);
        }
        let mut merged: std::collections::BTreeMap<Labels, Vec<Sample>> = Default::default();
        for set in sets {
            for s in self.storage.select(set, mint, maxt)? {
                merged.entry(s.labels).or_insert(s.samples);
            }
        }
        Ok(merged
            .into_iter()
            .map(|(labels, samples)| Series { labels, samples })
            .collect())
    }

    fn collect<'e>(
        &self,
        expr: &'e Expr,
        a: i64,
        b: i64,
        needs: &mut HashMap<usize, (&'e VectorSelector, i64, i64)>,
    ) {
        let mut add = |vs: &'e VectorSelector, lo: i64, hi: i64| {
            let key = vs as *const VectorSelector as usize;
            let e = needs.entry(key).or_insert((vs, lo, hi));
            e.1 = e.1.min(lo);
            e.2 = e.2.max(hi);
        };
        match expr {
            Expr::VectorSelector(vs) => {
                let off = offset_ms(&vs.offset);
                let (lo, hi) = match self.at_ms(&vs.at) {
                    Some(t) => (t - off, t - off),
                    None => (a - off, b - off),
                };
                add(vs, lo - self.lookback + 1, hi);
            }
            Expr::MatrixSelector(m) => {
                let vs = &m.vs;
                let off = offset_ms(&vs.offset);
                let (lo, hi) = match self.at_ms(&vs.at) {
                    Some(t) => (t - off, t - off),
                    None => (a - off, b - off),
                };
                add(vs, lo - ms(&m.range) + 1, hi);
            }
            Expr::Subquery(sq) => {
                let off = offset_ms(&sq.offset);
                let (lo, hi) = match self.at_ms(&sq.at) {
                    Some(t) => (t - off, t - off),
                    None => (a - off, b - off),
                };
                self.collect(&sq.expr, lo - ms(&sq.range), hi, needs);
            }
            Expr::Aggregate(ag) => {
                self.collect(&ag.expr, a, b, needs);
                if let Some(p) = &ag.param {
                    self.collect(p, a, b, needs);
                }
            }
            Expr::Unary(u) => self.collect(&u.expr, a, b, needs),
            Expr::Binary(bin) => {
                self.collect(&bin.lhs, a, b, needs);
                self.collect(&bin.rhs, a, b, needs);
            }
            Expr::Paren(p) => self.collect(&p.expr, a, b, needs),
            Expr::Call(c) => {
                for arg in &c.args.args {
                    self.collect(arg, a, b, needs);
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }

    /// Evaluates `expr` at timestamp `ts`.
    pub(crate) fn eval(&mut self, expr: &Expr, ts: i64) -> Result<StepValue, QueryError> {
        match expr {
            Expr::NumberLiteral(n) => Ok(StepValue::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(StepValue::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, ts),
            Expr::Unary(u) => match self.eval(&u.expr, ts)? {
                StepValue::Scalar(v) => Ok(StepValue::Scalar(-v)),
                StepValue::Vector(vs) => {
                    let negated: Vec<InstantSample> = vs
                        .into_iter()
                        .map(|s| InstantSample {
                            labels: s.labels.without_metric_name(),
                            t: s.t,
                            v: -s.v,
                        })
                        .collect();
                    check_unique_labels(&negated)?;
                    Ok(StepValue::Vector(negated))
                }
                _ => Err(QueryError::Execution(
                    "unary minus needs a scalar or vector".into(),
                )),
            },
            Expr::VectorSelector(vs) => {
                Ok(StepValue::Vector(self.eval_vector_selector(vs, ts, false)))
            }
            Expr::MatrixSelector(m) => Ok(StepValue::Matrix(self.eval_matrix_selector(m, ts))),
            Expr::Subquery(sq) => Ok(StepValue::Matrix(self.eval_subquery(sq, ts)?)),
            Expr::Binary(b) => binary::eval_binary(self, b, ts),
            Expr::Aggregate(ag) => match self.cached_grid_step(ag as *const _ as usize, ts) {
                Some(v) => Ok(StepValue::Vector(v)),
                None => aggregate::eval_aggregate(self, ag, ts),
            },
            Expr::Call(c) => match self.cached_grid_step(c as *const _ as usize, ts) {
                Some(v) => Ok(StepValue::Vector(v)),
                None => self.eval_call(c, ts),
            },
            Expr::Extension(_) => Err(QueryError::Execution("unsupported expression".into())),
        }
    }

    pub(crate) fn eval_vector(
        &mut self,
        expr: &Expr,
        ts: i64,
    ) -> Result<Vec<InstantSample>, QueryError> {
        match self.eval(expr, ts)? {
            StepValue::Vector(v) => Ok(v),
            _ => Err(QueryError::Execution("expected an instant vector".into())),
        }
    }

    fn eval_vector_selector(
        &self,
        vs: &VectorSelector,
        ts: i64,
        sample_ts: bool,
    ) -> Vec<InstantSample> {
        let key = vs as *const VectorSelector as usize;
        let Some(series) = self.data.get(&key) else {
            return Vec::new();
        };
        let reference = self.at_ms(&vs.at).unwrap_or(ts) - offset_ms(&vs.offset);
        let mut out = Vec::new();
        for s in series {
            let idx = s.samples.partition_point(|p| p.t <= reference);
            let Some(&p) = idx.checked_sub(1).and_then(|i| s.samples.get(i)) else {
                continue;
            };
            if p.t <= reference - self.lookback || is_stale_nan(p.v) {
                continue;
            }
            out.push(InstantSample {
                labels: s.labels.clone(),
                t: if sample_ts { p.t } else { ts },
                v: p.v,
            });
        }
        out
    }

    /// Window `(end - range, end]` of a matrix selector at `ts`, with its bounds.
    fn matrix_window(&self, m: &MatrixSelector, ts: i64) -> (i64, i64) {
        let end = self.at_ms(&m.vs.at).unwrap_or(ts) - offset_ms(&m.vs.offset);
        (end - ms(&m.range), end)
    }

    fn eval_matrix_selector(&self, m: &MatrixSelector, ts: i64) -> Vec<RangeWindow> {
        let key = &m.vs as *const VectorSelector as usize;
        let Some(series) = self.data.get(&key) else {
            return Vec::new();
        };
        let (start, end) = self.matrix_window(m, ts);
        let mut out = Vec::new();
        for s in series {
            let lo = s.samples.partition_point(|p| p.t <= start);
            let hi = s.samples.partition_point(|p| p.t <= end);
            if lo >= hi {
                continue;
            }
            let samples: Vec<Sample> = s
                .samples
                .get(lo..hi)
                .unwrap_or(&[])
                .iter()
                .filter(|p| !is_stale_nan(p.v))
                .copied()
                .collect();
            if !samples.is_empty() {
                out.push(RangeWindow {
                    labels: s.labels.clone(),
                    samples,
                });
            }
        }
        out
    }

    fn subquery_window(&self, sq: &SubqueryExpr, ts: i64) -> (i64, i64) {
        let end = self.at_ms(&sq.at).unwrap_or(ts) - offset_ms(&sq.offset);
        (end - ms(&sq.range), end)
    }

    fn eval_subquery(
        &mut self,
        sq: &SubqueryExpr,
        ts: i64,
    ) -> Result<Vec<RangeWindow>, QueryError> {
        let step = sq
            .step
            .as_ref()
            .map(ms)
            .filter(|s| *s > 0)
            .unwrap_or(self.default_step);
        let (start, end) = self.subquery_window(sq, ts);
        if (end - start) / step > self.max_samples as i64 {
            return Err(QueryError::Execution(
                "query processing would load too many samples into memory in query execution"
                    .into(),
            ));
        }
        // First step-aligned timestamp strictly after the window start (windows are left-open).
        let mut t = step * (start / step);
        if t <= start {
            t += step;
        }
        // Inner steps are aligned to absolute multiples of `step`, so consecutive outer steps
        // share most of them: keep the inner results of the current window and reuse them.
        let key = sq as *const SubqueryExpr as usize;
        let mut cache = self.subquery_cache.remove(&key).unwrap_or_default();
        cache = cache.split_off(&(start + 1));
        let mut by_series: Vec<RangeWindow> = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut push = |labels: &Labels, sample: Sample| match index.get(labels) {
            Some(&i) => {
                if let Some(w) = by_series.get_mut(i) {
                    w.samples.push(sample);
                }
            }
            None => {
                index.insert(labels.clone(), by_series.len());
                by_series.push(RangeWindow {
                    labels: labels.clone(),
                    samples: vec![sample],
                });
            }
        };
        let empty = Labels::empty();
        while t <= end {
            self.check_deadline()?;
            if let std::collections::btree_map::Entry::Vacant(slot) = cache.entry(t) {
                slot.insert(self.eval(&sq.expr, t)?);
            }
            match cache.get(&t) {
                Some(StepValue::Vector(v)) => {
                    for s in v {
                        push(&s.labels, Sample { t, v: s.v });
                    }
                }
                Some(StepValue::Scalar(v)) => push(&empty, Sample { t, v: *v }),
                _ => {
                    return Err(QueryError::Execution(
                        "subquery needs an instant vector or scalar".into(),
                    ))
                }
            }
            t += step;
        }
        self.subquery_cache.insert(key, cache);
        Ok(by_series)
    }

    fn eval_call(
        &mut self,
        c: &promql_parser::parser::Call,
        ts: i64,
    ) -> Result<StepValue, QueryError> {
        let name = c.func.name;
        if c.args.args.is_empty() {
            if let Some(v) = self.query_context_function(name) {
                return Ok(StepValue::Scalar(v));
            }
        }
        let mut args = Vec::with_capacity(c.args.args.len());
        let mut window = None;
        for a in c.args.args.iter() {
            let a = unparen(a);
            let arg = match a {
                // Plain selectors pass the stored samples' own timestamps (for `timestamp()`).
                Expr::VectorSelector(vs) => FnArg::Vector(self.eval_vector_selector(vs, ts, true)),
                Expr::MatrixSelector(m) => {
                    window = Some(self.matrix_window(m, ts));
                    FnArg::Matrix(self.eval_matrix_selector(m, ts))
                }
                Expr::Subquery(sq) => {
                    window = Some(self.subquery_window(sq, ts));
                    FnArg::Matrix(self.eval_subquery(sq, ts)?)
                }
                other => match self.eval(other, ts)? {
                    StepValue::Scalar(v) => FnArg::Scalar(v),
                    StepValue::Str(s) => FnArg::String(s),
                    StepValue::Vector(v) => FnArg::Vector(v),
                    StepValue::Matrix(m) => FnArg::Matrix(m),
                },
            };
            args.push(arg);
        }
        let out = functions::call(FnCall {
            name,
            args,
            arg_exprs: &c.args.args,
            t: ts,
            window,
        })
        .map_err(QueryError::Execution)?;
        for w in out.warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        for i in out.infos {
            if !self.infos.contains(&i) {
                self.infos.push(i);
            }
        }
        match out.value {
            FnValue::Scalar(v) => Ok(StepValue::Scalar(v)),
            FnValue::Vector(mut v) => {
                check_unique_labels(&v)?;
                // Results are samples at the evaluation time, whatever the inputs carried.
                for s in &mut v {
                    s.t = ts;
                }
                Ok(StepValue::Vector(v))
            }
        }
    }

    /// The fast path's precomputed result of aggregation `ag` at `ts`, when there is one.
    fn cached_grid_step(&self, node: usize, ts: i64) -> Option<Vec<InstantSample>> {
        let (steps, series) = self.grids.get(&node)?;
        let i = steps.index_of(ts)?;
        Some(
            series
                .iter()
                .filter_map(|g| {
                    Some(InstantSample {
                        labels: g.labels.clone(),
                        t: ts,
                        v: g.values.get(i).copied().flatten()?,
                    })
                })
                .collect(),
        )
    }

    /// Precomputes, for a range query, the aggregations and range-function calls under `expr`
    /// that the fast path covers (not inside subqueries, which evaluate at their own timestamps).
    fn precompute_grids(&mut self, expr: &Expr, steps: grid::Steps) -> Result<(), QueryError> {
        match expr {
            Expr::Aggregate(ag) if grid::supported(expr) => {
                if let Some(series) = grid::eval(self, expr, steps)? {
                    self.grids.insert(ag as *const _ as usize, (steps, series));
                }
                Ok(())
            }
            Expr::Aggregate(ag) => {
                self.precompute_grids(&ag.expr, steps)?;
                if let Some(p) = &ag.param {
                    self.precompute_grids(p, steps)?;
                }
                Ok(())
            }
            Expr::Unary(u) => self.precompute_grids(&u.expr, steps),
            Expr::Binary(b) => {
                self.precompute_grids(&b.lhs, steps)?;
                self.precompute_grids(&b.rhs, steps)
            }
            Expr::Paren(p) => self.precompute_grids(&p.expr, steps),
            Expr::Call(c) if grid::supported(expr) => {
                if let Some(series) = grid::eval(self, expr, steps)? {
                    self.grids.insert(c as *const _ as usize, (steps, series));
                }
                Ok(())
            }
            Expr::Call(c) => {
                for a in &c.args.args {
                    self.precompute_grids(a, steps)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `step()`, `range()`, `start()` and `end()`: properties of the query itself, in seconds.
    fn query_context_function(&self, name: &str) -> Option<f64> {
        let ms = match name {
            "step" => self.query_step,
            "range" => self.end - self.start,
            "start" => self.start,
            "end" => self.end,
            _ => return None,
        };
        Some(ms as f64 / 1000.0)
    }
}

/// Prometheus refuses vectors holding two samples with the same label set.
pub(crate) fn check_unique_labels(v: &[InstantSample]) -> Result<(), QueryError> {
    if v.len() < 2 {
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(v.len());
    for s in v {
        if !seen.insert(&s.labels) {
            return Err(QueryError::Execution(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// Whether an instant query's result keeps evaluation order (sort functions, topk/bottomk).
fn keeps_order(expr: &Expr) -> bool {
    match unparen(expr) {
        Expr::Call(c) => c.func.name.starts_with("sort"),
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            op == "topk" || op == "bottomk"
        }
        _ => false,
    }
}

/// Runs an instant query.
pub(crate) fn instant(
    storage: &dyn Queryable,
    opts: &crate::EngineOptions,
    expr: &Expr,
    ts: i64,
) -> Result<crate::QueryResult, QueryError> {
    let mut ev = Evaluator::new(storage, ts, ts, 0, opts);
    ev.preload(expr, ts, ts)?;
    let value = match ev.eval(expr, ts)? {
        StepValue::Scalar(v) => Value::Scalar { t: ts, v },
        StepValue::Str(s) => Value::String { t: ts, v: s },
        StepValue::Vector(mut v) => {
            if !keeps_order(expr) {
                v.sort_by(|a, b| a.labels.cmp(&b.labels));
            }
            Value::Vector(v)
        }
        StepValue::Matrix(m) => {
            let mut series: Vec<RangeSeries> = m
                .into_iter()
                .map(|w| RangeSeries {
                    labels: w.labels,
                    samples: w.samples,
                })
                .collect();
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            Value::Matrix(series)
        }
    };
    Ok(crate::QueryResult {
        value,
        warnings: ev.warnings,
        infos: ev.infos,
    })
}

/// Runs a range query: evaluates at every step and assembles a matrix sorted by labels.
pub(crate) fn range(
    storage: &dyn Queryable,
    opts: &crate::EngineOptions,
    source: &str,
    expr: &Expr,
    start: i64,
    end: i64,
    step: i64,
) -> Result<crate::QueryResult, QueryError> {
    let mut ev = Evaluator::new(storage, start, end, step, opts);
    if start < end {
        ev.warnings.extend(sort_in_range_query_warnings(source));
    }
    ev.preload(expr, start, end)?;
    let steps = grid::Steps {
        start,
        step,
        count: usize::try_from((end - start) / step + 1).unwrap_or(0),
    };
    if grid::supported(expr) {
        if let Some(series) = grid::eval(&mut ev, expr, steps)? {
            return grid_result(ev, series, steps, opts.max_samples);
        }
    } else {
        ev.precompute_grids(expr, steps)?;
    }
    let mut by_series: Vec<(Labels, Vec<Sample>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut total = 0usize;
    let mut t = start;
    while t <= end {
        ev.check_deadline()?;
        let step_value = ev.eval(expr, t)?;
        let samples = match step_value {
            StepValue::Scalar(v) => vec![InstantSample { labels: Labels::empty(), t, v }],
            StepValue::Vector(v) => v,
            StepValue::Str(_) => {
                return Err(QueryError::Execution(
                    "invalid expression type \"string\" for range query, must be Scalar or instant Vector".into(),
                ))
            }
            StepValue::Matrix(_) => {
                return Err(QueryError::Execution(
                    "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                ))
            }
        };
        total += samples.len();
        if total > opts.max_samples {
            return Err(QueryError::Execution(
                "query processing would load too many samples into memory in query execution"
                    .into(),
            ));
        }
        for s in samples {
            match index.get(&s.labels) {
                Some(&i) => {
                    if let Some(series) = by_series.get_mut(i) {
                        series.1.push(Sample { t, v: s.v });
                    }
                }
                None => {
                    index.insert(s.labels.clone(), by_series.len());
                    by_series.push((s.labels, vec![Sample { t, v: s.v }]));
                }
            }
        }
        t += step;
    }
    let mut series: Vec<RangeSeries> = by_series
        .into_iter()
        .map(|(labels, samples)| RangeSeries { labels, samples })
        .collect();
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(crate::QueryResult {
        value: Value::Matrix(series),
        warnings: ev.warnings,
        infos: ev.infos,
    })
}

/// Assembles a range query's matrix from a fast-path result.
fn grid_result(
    ev: Evaluator<'_>,
    series: Vec<grid::GridSeries>,
    steps: grid::Steps,
    max_samples: usize,
) -> Result<crate::QueryResult, QueryError> {
    let mut total = 0usize;
    let mut matrix = Vec::with_capacity(series.len());
    for g in series {
        let samples: Vec<Sample> = g
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                Some(Sample {
                    t: steps.start + i as i64 * steps.step,
                    v: (*v)?,
                })
            })
            .collect();
        total += samples.len();
        if total > max_samples {
            return Err(QueryError::Execution(
                "query processing would load too many samples into memory in query execution"
                    .into(),
            ));
        }
        matrix.push(RangeSeries {
            labels: g.labels,
            samples,
        });
    }
    matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(crate::QueryResult {
        value: Value::Matrix(matrix),
        warnings: ev.warnings,
        infos: ev.infos,
    })
}

/// The sort functions, which only order instant-query results.
const SORT_FUNCTIONS: [&str; 4] = ["sort", "sort_desc", "sort_by_label", "sort_by_label_desc"];

/// Prometheus' warning for each sort call in a range query, with its `line:column` position
/// (the parser's AST has no positions, so calls are found in the query text).
fn sort_in_range_query_warnings(source: &str) -> Vec<String> {
    let mut warnings: Vec<String> = Vec::new();
    for (line, column, name) in identifier_calls(source) {
        if SORT_FUNCTIONS.contains(&name) {
            let w = format!(
                "PromQL warning: sort is ineffective for range queries since results are always ordered by labels ({line}:{column})"
            );
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    warnings
}

/// Identifiers directly followed (after optional whitespace) by `(`, with 1-based line and
/// column, skipping string literals and comments.
fn identifier_calls(source: &str) -> Vec<(usize, usize, &str)> {
    let bytes = source.as_bytes();
    let mut calls = Vec::new();
    let (mut line, mut line_start) = (1usize, 0usize);
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\n' => {
                line += 1;
                i += 1;
                line_start = i;
            }
            b'"' | b'\'' | b'`' => {
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    i += 1;
                    if c == b'\\' && b != b'`' {
                        i += 1;
                    } else if c == b {
                        break;
                    }
                }
            }
            b'#' => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
                {
                    i += 1;
                }
                let mut j = i;
                while bytes.get(j).is_some_and(|c| c.is_ascii_whitespace()) {
                    j += 1;
                }
                if bytes.get(j) == Some(&b'(') {
                    if let Some(name) = source.get(start..i) {
                        calls.push((line, source[line_start..start].chars().count() + 1, name));
                    }
                }
            }
            _ => i += 1,
        }
    }
    calls
}

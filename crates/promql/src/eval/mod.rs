//! The PromQL evaluator: walks the `promql-parser` AST once per evaluation step. Selector data is
//! fetched from storage once per query (for the whole range every step will need) and sliced per
//! step, so range queries do not hit storage per step. Range queries first try the whole-range
//! fast path (`grid`) for selectors, per-series range functions and simple aggregations; inner
//! results of subqueries are reused across outer steps.

mod aggregate;
pub(crate) use aggregate::{format_go_float, note_combined};
mod binary;
mod grid;
#[cfg(test)]
mod tests;

use crate::functions::{self, FnArg, FnCall, FnValue, RangeWindow};
use crate::{HPoint, InstantSample, QueryError, RangeSeries, Value};
use model::{is_stale_nan, LabelMatcher, Labels, Queryable, Sample, Series};
use promql_parser::parser::{
    AtModifier, BinaryExpr, Expr, MatrixSelector, Offset, SubqueryExpr, VectorSelector,
};
use std::collections::HashMap;
use std::sync::Arc;
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
    /// Native-histogram points per selector node (keyed like `data`), sorted by labels.
    hdata: HashMap<usize, Vec<(Labels, Vec<HPoint>)>>,
    /// Whole-range results of aggregation nodes (keyed by node address) computed by the fast
    /// path of range queries, looked up at the query's own steps.
    grids: HashMap<usize, (grid::Steps, Vec<grid::GridSeries>)>,
    /// Per subquery node (keyed by address): inner results by inner timestamp, for the window
    /// last evaluated.
    subquery_cache: HashMap<usize, std::collections::BTreeMap<i64, StepValue>>,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    /// The query text, for the `(line:column)` positions of annotations.
    source: String,
    /// Binary nodes (by address) that are the histogram trim operators `</` (true) and `>/`
    /// (false), which the parser was given as `!=` (see `rewrite_trim_operators`).
    trims: HashMap<usize, bool>,
    /// Selectors (by address) whose histograms Prometheus reads for their count and sum only,
    /// detecting counter resets on the fly (see `stats_only_selectors`).
    stats_only: std::collections::HashSet<usize>,
    /// Address of the query's top expression (to place annotations of a top-level operator).
    root: usize,
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
            hdata: HashMap::new(),
            grids: HashMap::new(),
            subquery_cache: HashMap::new(),
            warnings: Vec::new(),
            infos: Vec::new(),
            source: String::new(),
            trims: HashMap::new(),
            stats_only: Default::default(),
            root: 0,
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
            let mut histograms = self.select_histogram_sets(&sets, mint, maxt)?;
            if self.stats_only.contains(&key) {
                for (_, points) in &mut histograms {
                    detect_reset_hints(points);
                }
            }
            total += histograms.iter().map(|s| s.1.len()).sum::<usize>();
            if !histograms.is_empty() {
                self.hdata.insert(key, histograms);
            }
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

    /// Whether any selector of the query found native-histogram samples.
    pub(crate) fn has_histograms(&self) -> bool {
        !self.hdata.is_empty()
    }

    fn select_histogram_sets(
        &self,
        sets: &[Vec<LabelMatcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<(Labels, Vec<HPoint>)>, QueryError> {
        let mut merged: std::collections::BTreeMap<Labels, Vec<HPoint>> = Default::default();
        for set in sets {
            for s in self.storage.select_histograms(set, mint, maxt)? {
                merged.entry(s.labels).or_insert_with(|| {
                    s.samples
                        .into_iter()
                        .map(|p| HPoint {
                            t: p.t,
                            h: Arc::new(p.h),
                        })
                        .collect()
                });
            }
        }
        Ok(merged.into_iter().collect())
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
                            h: s.h.map(|h| Arc::new(h.mul(-1.0))),
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
        let reference = self.at_ms(&vs.at).unwrap_or(ts) - offset_ms(&vs.offset);
        if let Some(hseries) = self.hdata.get(&key) {
            return self.mixed_vector_selector(key, hseries, reference, ts, sample_ts);
        }
        let Some(series) = self.data.get(&key) else {
            return Vec::new();
        };
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
                h: None,
                labels: s.labels.clone(),
                t: if sample_ts { p.t } else { ts },
                v: p.v,
            });
        }
        out
    }

    /// A selector's latest sample per series when some series hold native histograms: the
    /// newer of the latest float (a staleness marker hides the series) and latest histogram.
    fn mixed_vector_selector(
        &self,
        key: usize,
        hseries: &[(Labels, Vec<HPoint>)],
        reference: i64,
        ts: i64,
        sample_ts: bool,
    ) -> Vec<InstantSample> {
        type Latest<'l> = (i64, Option<f64>, Option<&'l HPoint>);
        let mut latest: std::collections::BTreeMap<&Labels, Latest<'_>> = Default::default();
        for s in self.data.get(&key).map(Vec::as_slice).unwrap_or(&[]) {
            let idx = s.samples.partition_point(|p| p.t <= reference);
            if let Some(p) = idx.checked_sub(1).and_then(|i| s.samples.get(i)) {
                if p.t > reference - self.lookback {
                    latest.insert(&s.labels, (p.t, Some(p.v), None));
                }
            }
        }
        for (labels, points) in hseries {
            let idx = points.partition_point(|p| p.t <= reference);
            if let Some(p) = idx.checked_sub(1).and_then(|i| points.get(i)) {
                if p.t > reference - self.lookback
                    && latest.get(labels).is_none_or(|(t, _, _)| *t < p.t)
                {
                    latest.insert(labels, (p.t, None, Some(p)));
                }
            }
        }
        latest
            .into_iter()
            .filter_map(|(labels, (t, v, h))| {
                if v.is_some_and(is_stale_nan) {
                    return None;
                }
                Some(InstantSample {
                    labels: labels.clone(),
                    t: if sample_ts { t } else { ts },
                    v: v.unwrap_or(0.0),
                    h: h.map(|p| p.h.clone()),
                })
            })
            .collect()
    }

    /// Window `(end - range, end]` of a matrix selector at `ts`, with its bounds.
    fn matrix_window(&self, m: &MatrixSelector, ts: i64) -> (i64, i64) {
        let end = self.at_ms(&m.vs.at).unwrap_or(ts) - offset_ms(&m.vs.offset);
        (end - ms(&m.range), end)
    }

    fn eval_matrix_selector(&self, m: &MatrixSelector, ts: i64) -> Vec<RangeWindow> {
        let key = &m.vs as *const VectorSelector as usize;
        let (start, end) = self.matrix_window(m, ts);
        let mut out = self.float_windows(key, start, end);
        if let Some(hseries) = self.hdata.get(&key) {
            let mut index: HashMap<Labels, usize> = out
                .iter()
                .enumerate()
                .map(|(i, w)| (w.labels.clone(), i))
                .collect();
            for (labels, points) in hseries {
                let lo = points.partition_point(|p| p.t <= start);
                let hi = points.partition_point(|p| p.t <= end);
                let Some(window) = points.get(lo..hi).filter(|w| !w.is_empty()) else {
                    continue;
                };
                match index.get(labels).and_then(|&i| out.get_mut(i)) {
                    Some(w) => w.histograms = window.to_vec(),
                    None => {
                        index.insert(labels.clone(), out.len());
                        out.push(RangeWindow {
                            labels: labels.clone(),
                            samples: Vec::new(),
                            histograms: window.to_vec(),
                        });
                    }
                }
            }
            out.sort_by(|a, b| a.labels.cmp(&b.labels));
        }
        out
    }

    /// The float samples of a selector's series in `(start, end]`.
    fn float_windows(&self, key: usize, start: i64, end: i64) -> Vec<RangeWindow> {
        let Some(series) = self.data.get(&key) else {
            return Vec::new();
        };
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
                    histograms: Vec::new(),
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
        let mut push = |labels: &Labels, sample: Sample, h: Option<&Arc<model::FloatHistogram>>| {
            let i = match index.get(labels) {
                Some(&i) => i,
                None => {
                    index.insert(labels.clone(), by_series.len());
                    by_series.push(RangeWindow {
                        histograms: Vec::new(),
                        labels: labels.clone(),
                        samples: Vec::new(),
                    });
                    by_series.len() - 1
                }
            };
            if let Some(w) = by_series.get_mut(i) {
                match h {
                    Some(h) => w.histograms.push(HPoint {
                        t: sample.t,
                        h: h.clone(),
                    }),
                    None => w.samples.push(sample),
                }
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
                        // As Prometheus: a subquery's histograms are checked for counter
                        // resets again by whatever reads them, whatever their stored hint.
                        let h = s.h.as_ref().map(|h| match h.counter_reset_hint {
                            model::CounterResetHint::CounterReset
                            | model::CounterResetHint::NotCounterReset => {
                                let mut copy = (**h).clone();
                                copy.counter_reset_hint = model::CounterResetHint::Unknown;
                                Arc::new(copy)
                            }
                            _ => h.clone(),
                        });
                        push(&s.labels, Sample { t, v: s.v }, h.as_ref());
                    }
                }
                Some(StepValue::Scalar(v)) => push(&empty, Sample { t, v: *v }, None),
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
        // Prometheus reports a function's annotations at the argument they are about.
        let arg = match name {
            "histogram_quantile" => 1,
            "histogram_fraction" => 2,
            _ => 0,
        };
        let position = call_arg_position(&self.source, name, arg)
            .map(|(line, column)| format!(" ({line}:{column})"))
            .unwrap_or_default();
        for w in out.warnings {
            let w = format!("{w}{position}");
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        for i in out.infos {
            let i = format!("{i}{position}");
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
                        h: None,
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
    source: &str,
    expr: &Expr,
    ts: i64,
) -> Result<crate::QueryResult, QueryError> {
    let mut ev = Evaluator::new(storage, ts, ts, 0, opts);
    ev.source = source.to_string();
    ev.trims = trim_nodes(source, expr);
    ev.stats_only = stats_only_selectors(expr, &ev.trims);
    ev.root = root_address(expr);
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
                    histograms: w.histograms,
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
    ev.source = source.to_string();
    ev.trims = trim_nodes(source, expr);
    ev.stats_only = stats_only_selectors(expr, &ev.trims);
    ev.root = root_address(expr);
    if start < end {
        ev.warnings.extend(sort_in_range_query_warnings(source));
    }
    ev.preload(expr, start, end)?;
    let steps = grid::Steps {
        start,
        step,
        count: usize::try_from((end - start) / step + 1).unwrap_or(0),
    };
    if ev.has_histograms() {
        // The fast path computes with floats only.
    } else if grid::supported_top(expr) {
        if let Some(series) = grid::eval_top(&mut ev, expr, steps)? {
            return grid_result(ev, series, steps, opts.max_samples);
        }
    } else {
        ev.precompute_grids(expr, steps)?;
    }
    let mut by_series: Vec<(Labels, Vec<Sample>, Vec<HPoint>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut total = 0usize;
    let mut t = start;
    while t <= end {
        ev.check_deadline()?;
        let step_value = ev.eval(expr, t)?;
        let samples = match step_value {
            StepValue::Scalar(v) => vec![InstantSample { h: None, labels: Labels::empty(), t, v }],
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
            let i = match index.get(&s.labels) {
                Some(&i) => i,
                None => {
                    index.insert(s.labels.clone(), by_series.len());
                    by_series.push((s.labels, Vec::new(), Vec::new()));
                    by_series.len() - 1
                }
            };
            if let Some(series) = by_series.get_mut(i) {
                match s.h {
                    Some(h) => series.2.push(HPoint { t, h }),
                    None => series.1.push(Sample { t, v: s.v }),
                }
            }
        }
        t += step;
    }
    let mut series: Vec<RangeSeries> = by_series
        .into_iter()
        .map(|(labels, samples, histograms)| RangeSeries {
            histograms,
            labels,
            samples,
        })
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
            histograms: Vec::new(),
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

/// Index of the quote closing the string literal that starts at `open` (or the end).
fn closing_quote(bytes: &[u8], open: usize) -> usize {
    let Some(&quote) = bytes.get(open) else {
        return open;
    };
    let mut i = open + 1;
    while let Some(&d) = bytes.get(i) {
        if d == b'\\' && quote != b'`' {
            i += 1;
        } else if d == quote {
            break;
        }
        i += 1;
    }
    i
}

/// Byte offsets of the binary operators `</` and `>/` (histogram trims, which the parser does
/// not know; `Some(upper)`) and `!=` (`None`) outside strings, comments and label braces, in
/// the order they appear. The trims are parsed as `!=`; the order tells them apart from the
/// query's own `!=` operators afterwards.
fn trim_operators(source: &str) -> Vec<(usize, Option<bool>)> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    let mut braces = 0usize;
    let mut i = 0usize;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'"' | b'\'' | b'`' => i = closing_quote(bytes, i),
            b'#' => {
                while bytes.get(i).is_some_and(|&d| d != b'\n') {
                    i += 1;
                }
            }
            b'{' => braces += 1,
            b'}' => braces = braces.saturating_sub(1),
            b'<' | b'>' if braces == 0 && bytes.get(i + 1) == Some(&b'/') => {
                found.push((i, Some(c == b'<')));
                i += 1;
            }
            b'!' if braces == 0 && bytes.get(i + 1) == Some(&b'=') => {
                found.push((i, None));
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The query with the trim operators `</` and `>/` written as `!=` (same precedence, same
/// length, so positions stay), for the parser.
pub(crate) fn rewrite_trim_operators(source: &str) -> String {
    let found = trim_operators(source);
    if !found.iter().any(|(_, trim)| trim.is_some()) {
        return source.to_string();
    }
    let mut bytes = source.as_bytes().to_vec();
    for (at, _) in found.into_iter().filter(|(_, trim)| trim.is_some()) {
        if let Some(pair) = bytes.get_mut(at..at + 2) {
            pair.copy_from_slice(b"!=");
        }
    }
    String::from_utf8(bytes).unwrap_or_else(|_| source.to_string())
}

/// The selectors below `histogram_count`, `histogram_sum` or `histogram_avg` with no subquery,
/// bucket-reading function (`histogram_quantile(s)`, `histogram_fraction`) or trim operator
/// above them: Prometheus reads those through its HistogramStatsIterator (count and sum
/// only), whose samples carry counter-reset hints detected while reading.
fn stats_only_selectors(
    expr: &Expr,
    trims: &HashMap<usize, bool>,
) -> std::collections::HashSet<usize> {
    fn walk(
        e: &Expr,
        under_stats: bool,
        blocked: bool,
        trims: &HashMap<usize, bool>,
        out: &mut std::collections::HashSet<usize>,
    ) {
        let mut mark = |vs: &VectorSelector| {
            if under_stats && !blocked {
                out.insert(vs as *const VectorSelector as usize);
            }
        };
        match e {
            Expr::VectorSelector(vs) => mark(vs),
            Expr::MatrixSelector(m) => mark(&m.vs),
            Expr::Subquery(sq) => walk(&sq.expr, under_stats, true, trims, out),
            Expr::Paren(p) => walk(&p.expr, under_stats, blocked, trims, out),
            Expr::Unary(u) => walk(&u.expr, under_stats, blocked, trims, out),
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    walk(p, under_stats, blocked, trims, out);
                }
                walk(&a.expr, under_stats, blocked, trims, out);
            }
            Expr::Binary(b) => {
                let trim = trims.contains_key(&(b as *const BinaryExpr as usize));
                walk(&b.lhs, under_stats, blocked || trim, trims, out);
                walk(&b.rhs, under_stats, blocked || trim, trims, out);
            }
            Expr::Call(c) => {
                let name = c.func.name;
                let stats = matches!(name, "histogram_count" | "histogram_sum" | "histogram_avg");
                let buckets = matches!(
                    name,
                    "histogram_quantile" | "histogram_quantiles" | "histogram_fraction"
                );
                for a in &c.args.args {
                    walk(a, under_stats || stats, blocked || buckets, trims, out);
                }
            }
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
        }
    }
    let mut out = std::collections::HashSet::new();
    walk(expr, false, false, trims, &mut out);
    out
}

/// Sets each histogram's unknown counter-reset hint from the sample read before it, as
/// Prometheus' HistogramStatsIterator does (the first sample read stays unknown).
fn detect_reset_hints(points: &mut [HPoint]) {
    for i in 1..points.len() {
        if points[i].h.counter_reset_hint != model::CounterResetHint::Unknown {
            continue;
        }
        let reset = points[i].h.detect_reset(&points[i - 1].h);
        let h = Arc::make_mut(&mut points[i].h);
        h.counter_reset_hint = if reset {
            model::CounterResetHint::CounterReset
        } else {
            model::CounterResetHint::NotCounterReset
        };
    }
}

/// Address of the top expression node below any parentheses.
fn root_address(expr: &Expr) -> usize {
    match unparen(expr) {
        Expr::Binary(b) => b as *const promql_parser::parser::BinaryExpr as usize,
        other => other as *const Expr as usize,
    }
}

/// The binary nodes of `expr` that stand for trim operators of `source`, in text order.
fn trim_nodes(source: &str, expr: &Expr) -> HashMap<usize, bool> {
    let found = trim_operators(source);
    if !found.iter().any(|(_, trim)| trim.is_some()) {
        return HashMap::new();
    }
    fn walk(e: &Expr, out: &mut Vec<usize>) {
        match e {
            Expr::Binary(b) => {
                walk(&b.lhs, out);
                if b.op.to_string() == "!=" {
                    out.push(b as *const promql_parser::parser::BinaryExpr as usize);
                }
                walk(&b.rhs, out);
            }
            Expr::Paren(p) => walk(&p.expr, out),
            Expr::Unary(u) => walk(&u.expr, out),
            Expr::Aggregate(a) => {
                if let Some(p) = &a.param {
                    walk(p, out);
                }
                walk(&a.expr, out);
            }
            Expr::Call(c) => c.args.args.iter().for_each(|a| walk(a, out)),
            Expr::Subquery(s) => walk(&s.expr, out),
            _ => {}
        }
    }
    let mut nodes = Vec::new();
    walk(expr, &mut nodes);
    nodes
        .into_iter()
        .zip(found)
        .filter_map(|(node, (_, trim))| trim.map(|upper| (node, upper)))
        .collect()
}

/// The 1-based line and column where argument `index` of the first call of `name` in `source`
/// starts (the parser's AST has no positions).
fn call_arg_position(source: &str, name: &str, index: usize) -> Option<(usize, usize)> {
    let (line, column, _) = identifier_calls(source)
        .into_iter()
        .find(|(_, _, n)| *n == name)?;
    // Byte offset of the call from its line and column.
    let line_start: usize = source
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let name_start = line_start
        + source
            .get(line_start..)?
            .char_indices()
            .nth(column - 1)
            .map(|(i, _)| i)?;
    let bytes = source.as_bytes();
    let mut i = name_start + name.len();
    while bytes.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    if bytes.get(i) != Some(&b'(') {
        return None;
    }
    i += 1;
    let mut arg = 0usize;
    let mut depth = 0usize;
    let mut start = None;
    while let Some(&c) = bytes.get(i) {
        if start.is_none() && !c.is_ascii_whitespace() {
            start = Some(i);
        }
        match c {
            b'"' | b'\'' | b'`' => i = closing_quote(bytes, i),
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth == 0 => break,
            b')' | b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                if arg == index {
                    break;
                }
                arg += 1;
                start = None;
            }
            _ => {}
        }
        i += 1;
    }
    if arg != index {
        return None;
    }
    let at = start?;
    let before = source.get(..at)?;
    let line = before.matches('\n').count() + 1;
    let line_begin = before.rfind('\n').map_or(0, |p| p + 1);
    Some((line, source.get(line_begin..at)?.chars().count() + 1))
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

//! Whole-range fast path for range queries: evaluates selectors, per-series range functions
//! (`rate(x[5m])`, `avg_over_time(...)`, ...) and simple aggregations over them once for all
//! steps of the query, series by series, so labels are handled once per series instead of once
//! per series and step. Shapes it does not cover return `None` and are evaluated step by step;
//! results are identical either way (the per-group math is shared with `aggregate`).

use super::aggregate::{group_labels, k_param, simple_aggregate};
use super::binary::ScalarOperation;
use super::{offset_ms, unparen, Evaluator};
use crate::functions::{self, FnArg, FnCall, FnValue, RangeWindow};
use crate::QueryError;
use model::{is_stale_nan, Labels, Sample, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, Call, Expr, MatrixSelector, VectorSelector};
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// The steps of a range query: `start + i * step` for `i < count`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Steps {
    pub start: i64,
    pub step: i64,
    pub count: usize,
}

impl Steps {
    fn at(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// Index of `ts` on this grid, if it is one of the steps.
    pub fn index_of(&self, ts: i64) -> Option<usize> {
        if ts < self.start || (ts - self.start) % self.step != 0 {
            return None;
        }
        let i = usize::try_from((ts - self.start) / self.step).ok()?;
        (i < self.count).then_some(i)
    }
}

/// One series over the step grid: `values[i]` is its value at step `i`, if any.
#[derive(Clone, Debug)]
pub(super) struct GridSeries {
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

/// Range functions that map each input series to at most one output series, with the input's
/// labels (with or without the metric name), from the window and literal scalars alone.
const PER_SERIES_RANGE_FUNCTIONS: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "predict_linear",
    "changes",
    "resets",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "sum_over_time",
    "count_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "last_over_time",
    "present_over_time",
    "quantile_over_time",
    "mad_over_time",
    "holt_winters",
    "double_exponential_smoothing",
];

/// Aggregations the fast path computes (those without parameter).
const SIMPLE_AGGREGATIONS: &[&str] = &[
    "sum", "avg", "count", "group", "min", "max", "stddev", "stdvar",
];

/// Whether `expr` has a shape the fast path evaluates.
pub(super) fn supported(expr: &Expr) -> bool {
    match unparen(expr) {
        Expr::VectorSelector(_) => true,
        Expr::Call(c) => range_call_selector(c).is_some(),
        Expr::Aggregate(ag) => simple_aggregation(ag),
        Expr::Binary(b) => ScalarOperation::of(b).is_some_and(|(_, other)| supported(other)),
        _ => false,
    }
}

fn simple_aggregation(ag: &AggregateExpr) -> bool {
    ag.param.is_none()
        && SIMPLE_AGGREGATIONS.contains(&ag.op.to_string().as_str())
        && supported(&ag.expr)
}

/// The matrix selector of a supported range-function call (all other arguments literals).
fn range_call_selector(c: &Call) -> Option<&MatrixSelector> {
    if !PER_SERIES_RANGE_FUNCTIONS.contains(&c.func.name) {
        return None;
    }
    let mut selector = None;
    for a in &c.args.args {
        match unparen(a) {
            Expr::MatrixSelector(m) if selector.is_none() => selector = Some(m),
            Expr::NumberLiteral(_) => {}
            _ => return None,
        }
    }
    selector
}

/// Evaluates a supported `expr` at every step; `None` when the data turn out not to fit the
/// fast path (the caller then evaluates step by step).
pub(super) fn eval(
    ev: &mut Evaluator<'_>,
    expr: &Expr,
    steps: Steps,
) -> Result<Option<Vec<GridSeries>>, QueryError> {
    match unparen(expr) {
        Expr::VectorSelector(vs) => selector(ev, vs, steps).map(Some),
        Expr::Call(c) => match range_call_selector(c) {
            Some(m) => range_call(ev, c, m, steps),
            None => Ok(None),
        },
        Expr::Aggregate(ag) if simple_aggregation(ag) => match eval(ev, &ag.expr, steps)? {
            Some(input) => Ok(Some(aggregate(ag, input, steps))),
            None => Ok(None),
        },
        Expr::Binary(b) => match ScalarOperation::of(b) {
            Some((operation, other)) => match eval(ev, other, steps)? {
                Some(input) => Ok(scalar_operation(&operation, input)),
                None => Ok(None),
            },
            None => Ok(None),
        },
        _ => Ok(None),
    }
}

/// Whether a range query's top expression has a shape the fast path evaluates: the shapes of
/// `supported`, and `topk`/`bottomk` with a literal `k` over one of them (only at the top, where
/// the result is ordered by labels, so the order within a step does not matter).
pub(super) fn supported_top(expr: &Expr) -> bool {
    supported(expr) || matches!(unparen(expr), Expr::Aggregate(ag) if k_aggregation(ag).is_some())
}

/// `eval` for the shapes of `supported_top`.
pub(super) fn eval_top(
    ev: &mut Evaluator<'_>,
    expr: &Expr,
    steps: Steps,
) -> Result<Option<Vec<GridSeries>>, QueryError> {
    if let Expr::Aggregate(ag) = unparen(expr) {
        if let Some((top, k)) = k_aggregation(ag) {
            // Checked before any data, as the step-by-step evaluation does at every step.
            let k = k_param(Some(k))?;
            return match eval(ev, &ag.expr, steps)? {
                Some(input) => Ok(Some(select_k(ag, top, k, input, steps))),
                None => Ok(None),
            };
        }
    }
    eval(ev, expr, steps)
}

/// `(topk?, k)` of a `topk`/`bottomk` with a literal `k` over a supported expression.
fn k_aggregation(ag: &AggregateExpr) -> Option<(bool, f64)> {
    let top = match ag.op.to_string().as_str() {
        "topk" => true,
        "bottomk" => false,
        _ => return None,
    };
    let k = match ag.param.as_deref().map(unparen) {
        Some(Expr::NumberLiteral(n)) => n.val,
        _ => return None,
    };
    supported(&ag.expr).then_some((top, k))
}

/// `topk`/`bottomk` at every step: per group, the `k` largest (smallest) values, in the order
/// of `aggregate::eval_aggregate` (a stable sort of the group's members in input order, NaN
/// last either way), each kept with its own series' labels.
fn select_k(
    ag: &AggregateExpr,
    top: bool,
    k: usize,
    input: Vec<GridSeries>,
    steps: Steps,
) -> Vec<GridSeries> {
    let groups = groups_of(ag, &input);
    let mut chosen: Vec<Vec<Option<f64>>> = vec![Vec::new(); input.len()];
    let mut buffer: Vec<(usize, f64)> = Vec::new();
    for step in 0..steps.count {
        for (_, members) in &groups {
            buffer.clear();
            buffer.extend(
                members
                    .iter()
                    .filter_map(|&m| Some((m, input.get(m)?.values.get(step).copied().flatten()?))),
            );
            buffer.sort_by(|(_, a), (_, b)| match (a.is_nan(), b.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                _ => {
                    let o = a.partial_cmp(b).unwrap_or(Ordering::Equal);
                    if top {
                        o.reverse()
                    } else {
                        o
                    }
                }
            });
            for &(m, v) in buffer.iter().take(k) {
                if let Some(values) = chosen.get_mut(m) {
                    if values.is_empty() {
                        values.resize(steps.count, None);
                    }
                    if let Some(slot) = values.get_mut(step) {
                        *slot = Some(v);
                    }
                }
            }
        }
    }
    input
        .into_iter()
        .zip(chosen)
        .filter(|(_, values)| !values.is_empty())
        .map(|(s, values)| GridSeries {
            labels: s.labels,
            values,
        })
        .collect()
}

/// Fails like Prometheus when a whole-range intermediate result holds more samples than allowed.
fn check_samples(total: usize, max_samples: usize) -> Result<(), QueryError> {
    if total > max_samples {
        return Err(QueryError::Execution(
            "query processing would load too many samples into memory in query execution".into(),
        ));
    }
    Ok(())
}

fn selector(
    ev: &Evaluator<'_>,
    vs: &VectorSelector,
    steps: Steps,
) -> Result<Vec<GridSeries>, QueryError> {
    let Some(series) = ev.data.get(&(vs as *const VectorSelector as usize)) else {
        return Ok(Vec::new());
    };
    let mut total = 0usize;
    let offset = offset_ms(&vs.offset);
    let at = ev.at_ms(&vs.at);
    let mut out = Vec::new();
    for s in series {
        ev.check_deadline()?;
        let mut next = 0usize;
        let mut values = Vec::with_capacity(steps.count);
        let mut any = false;
        for i in 0..steps.count {
            let reference = at.unwrap_or(steps.at(i)) - offset;
            while s.samples.get(next).is_some_and(|p| p.t <= reference) {
                next += 1;
            }
            let value = next
                .checked_sub(1)
                .and_then(|j| s.samples.get(j))
                .filter(|p| p.t > reference - ev.lookback && !is_stale_nan(p.v))
                .map(|p| p.v);
            if value.is_some() {
                any = true;
                total += 1;
            }
            values.push(value);
        }
        check_samples(total, ev.max_samples)?;
        if any {
            out.push(GridSeries {
                labels: s.labels.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// How a function's output labels relate to its input's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LabelMode {
    Keep,
    DropName,
}

fn range_call(
    ev: &mut Evaluator<'_>,
    c: &Call,
    m: &MatrixSelector,
    steps: Steps,
) -> Result<Option<Vec<GridSeries>>, QueryError> {
    let key = &m.vs as *const VectorSelector as usize;
    let Some(series) = ev.data.get(&key) else {
        return Ok(Some(Vec::new()));
    };
    let offset = offset_ms(&m.vs.offset);
    let at = ev.at_ms(&m.vs.at);
    let range = super::ms(&m.range);
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut infos = Vec::new();
    let mut total = 0usize;
    let mut buffer: Vec<Sample> = Vec::new();
    for s in series {
        ev.check_deadline()?;
        // The function's first call for a series sees only the metric name (enough for its
        // name-based annotations and to tell whether it keeps the name); later calls see no
        // labels at all, which costs nothing to copy.
        let probe = match s.labels.metric_name() {
            Some(name) => Labels::from_pairs([(METRIC_NAME, name)]),
            None => Labels::empty(),
        };
        let mut call_labels = Some(probe.clone());
        let mut mode = None;
        let (mut lo, mut hi) = (0usize, 0usize);
        let mut values = Vec::with_capacity(steps.count);
        let mut any = false;
        for i in 0..steps.count {
            let ts = steps.at(i);
            let end = at.unwrap_or(ts) - offset;
            let start = end - range;
            while s.samples.get(hi).is_some_and(|p| p.t <= end) {
                hi += 1;
            }
            while s.samples.get(lo).is_some_and(|p| p.t <= start) {
                lo += 1;
            }
            buffer.clear();
            buffer.extend(
                s.samples
                    .get(lo..hi)
                    .unwrap_or(&[])
                    .iter()
                    .filter(|p| !is_stale_nan(p.v))
                    .copied(),
            );
            if buffer.is_empty() {
                values.push(None);
                continue;
            }
            // Once the label behaviour is known, functions whose value depends on the window
            // alone are computed on it in place (what the call below would return, without
            // building a range vector per step).
            if mode.is_some() {
                if let Some(value) = functions::window_value(c.func.name, &buffer, (start, end)) {
                    if value.is_some() {
                        any = true;
                        total += 1;
                    }
                    values.push(value);
                    continue;
                }
            }
            let mut window = Some(buffer.clone());
            let args = c
                .args
                .args
                .iter()
                .map(|a| match unparen(a) {
                    Expr::NumberLiteral(n) => FnArg::Scalar(n.val),
                    _ => FnArg::Matrix(vec![RangeWindow {
                        histograms: Vec::new(),
                        labels: call_labels.take().unwrap_or_default(),
                        samples: window.take().unwrap_or_default(),
                    }]),
                })
                .collect();
            let output = functions::call(FnCall {
                name: c.func.name,
                args,
                arg_exprs: &c.args.args,
                t: ts,
                window: Some((start, end)),
            })
            .map_err(QueryError::Execution)?;
            merge_unique(&mut warnings, output.warnings);
            merge_unique(&mut infos, output.infos);
            let FnValue::Vector(result) = output.value else {
                return Ok(None);
            };
            let value = match result.as_slice() {
                [] => None,
                [one] => {
                    match mode {
                        // Later calls had no labels, so must return none.
                        Some(_) if !one.labels.is_empty() => return Ok(None),
                        Some(_) => {}
                        None if one.labels == probe => mode = Some(LabelMode::Keep),
                        None if one.labels.is_empty() => mode = Some(LabelMode::DropName),
                        None => return Ok(None),
                    }
                    Some(one.v)
                }
                _ => return Ok(None),
            };
            if mode.is_none() {
                // No result yet to learn the label behaviour from: show the name again.
                call_labels = Some(probe.clone());
            }
            if value.is_some() {
                any = true;
                total += 1;
            }
            values.push(value);
        }
        check_samples(total, ev.max_samples)?;
        if any {
            let labels = match mode {
                Some(LabelMode::Keep) => s.labels.clone(),
                _ => s.labels.without_metric_name(),
            };
            out.push(GridSeries { labels, values });
        }
    }
    // Series that collide once the name is dropped: let the step-by-step path decide (it raises
    // Prometheus' error only at steps where both have a value).
    let mut seen = HashSet::with_capacity(out.len());
    if !out.iter().all(|g| seen.insert(&g.labels)) {
        return Ok(None);
    }
    let position = super::call_arg_position(&ev.source, c.func.name, 0)
        .map(|(line, column)| format!(" ({line}:{column})"))
        .unwrap_or_default();
    let at = |v: Vec<String>| v.into_iter().map(|m| format!("{m}{position}")).collect();
    merge_unique(&mut ev.warnings, at(warnings));
    merge_unique(&mut ev.infos, at(infos));
    Ok(Some(out))
}

/// A vector/literal-scalar operation applied series by series; `None` (step by step instead)
/// when dropping the name makes two series collide.
fn scalar_operation(
    operation: &ScalarOperation,
    input: Vec<GridSeries>,
) -> Option<Vec<GridSeries>> {
    let drop_name = operation.drops_name();
    let out: Vec<GridSeries> = input
        .into_iter()
        .filter_map(|s| {
            let values: Vec<Option<f64>> = s
                .values
                .iter()
                .map(|v| v.and_then(|v| operation.apply(v)))
                .collect();
            values.iter().any(Option::is_some).then(|| GridSeries {
                labels: if drop_name {
                    s.labels.without_metric_name()
                } else {
                    s.labels
                },
                values,
            })
        })
        .collect();
    let mut seen = HashSet::with_capacity(out.len());
    out.iter().all(|g| seen.insert(&g.labels)).then_some(out)
}

/// The grouping of `ag` over `input`: each group's labels and its members (indexes into
/// `input`, in input order), groups in first-seen order.
fn groups_of(ag: &AggregateExpr, input: &[GridSeries]) -> Vec<(Labels, Vec<usize>)> {
    let mut groups: Vec<(Labels, Vec<usize>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for (i, s) in input.iter().enumerate() {
        let key = group_labels(&s.labels, &ag.modifier);
        match index.get(&key) {
            Some(&g) => {
                if let Some(group) = groups.get_mut(g) {
                    group.1.push(i);
                }
            }
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![i]));
            }
        }
    }
    groups
}

fn aggregate(ag: &AggregateExpr, input: Vec<GridSeries>, steps: Steps) -> Vec<GridSeries> {
    let op = ag.op.to_string();
    let groups = groups_of(ag, &input);
    let mut buffer = Vec::new();
    groups
        .into_iter()
        .filter_map(|(labels, members)| {
            let mut any = false;
            let values = (0..steps.count)
                .map(|step| {
                    buffer.clear();
                    buffer.extend(
                        members
                            .iter()
                            .filter_map(|&m| input.get(m)?.values.get(step).copied().flatten()),
                    );
                    let v = simple_aggregate(&op, &buffer);
                    any |= v.is_some();
                    v
                })
                .collect();
            any.then_some(GridSeries { labels, values })
        })
        .collect()
}

fn merge_unique(into: &mut Vec<String>, from: Vec<String>) {
    for item in from {
        if !into.contains(&item) {
            into.push(item);
        }
    }
}

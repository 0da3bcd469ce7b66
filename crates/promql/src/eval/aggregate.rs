//! Aggregation operators (`sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar`, `group`,
//! `topk`, `bottomk`, `quantile`, `count_values`, `limitk`, `limit_ratio`) with `by`/`without`
//! grouping, evaluated at one step.

use super::{Evaluator, StepValue};
use crate::functions::{kahan_add, quantile_of};
use crate::{InstantSample, QueryError};
use model::{Labels, METRIC_NAME};
use promql_parser::parser::{AggregateExpr, LabelModifier};
use std::collections::HashMap;

/// The grouping key of a sample.
pub(super) fn group_labels(labels: &Labels, modifier: &Option<LabelModifier>) -> Labels {
    match modifier {
        Some(LabelModifier::Include(names)) => {
            let keep: Vec<&str> = names.labels.iter().map(String::as_str).collect();
            labels.keep_only(&keep)
        }
        Some(LabelModifier::Exclude(names)) => {
            let mut drop: Vec<&str> = names.labels.iter().map(String::as_str).collect();
            drop.push(METRIC_NAME);
            labels.without(&drop)
        }
        None => Labels::empty(),
    }
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)` (for `count_values`).
pub(crate) fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// What a group holding native histograms aggregates to.
enum HistogramGroup {
    /// `sum`/`avg` of histograms only.
    Result(model::FloatHistogram),
    /// Nothing (mixed floats and histograms, or incompatible histograms): a warning was added.
    Dropped,
    /// The samples to aggregate as usual (histograms removed where the operator ignores them).
    Floats(Vec<InstantSample>),
}

/// Prometheus' treatment of histograms in aggregations: `sum`/`avg` add them (a group mixing
/// floats and histograms gives nothing and a warning), `count`/`group`/`limitk`/`limit_ratio`
/// take them as they are, every other operator ignores them with an info annotation.
fn histogram_group(
    op: &str,
    samples: Vec<InstantSample>,
    warnings: &mut Vec<String>,
    infos: &mut Vec<String>,
) -> HistogramGroup {
    match op {
        "count" | "group" | "limitk" | "limit_ratio" => HistogramGroup::Floats(samples),
        "sum" | "avg" => {
            if samples.iter().any(|s| s.h.is_none()) {
                push_unique(
                    warnings,
                    "PromQL warning: encountered a mix of histograms and floats for aggregation"
                        .into(),
                );
                return HistogramGroup::Dropped;
            }
            let all: Vec<&model::FloatHistogram> =
                samples.iter().filter_map(|s| s.h.as_deref()).collect();
            let combined = if op == "avg" {
                model::FloatHistogram::mean_all(&all)
            } else {
                model::FloatHistogram::sum_all(&all)
            };
            match combined {
                Ok(c) => {
                    note_combined(&c, "aggregation", warnings, infos);
                    let mut h = c.histogram;
                    h.compact();
                    HistogramGroup::Result(h)
                }
                Err(_) => {
                    let name = samples
                        .first()
                        .and_then(|s| s.labels.metric_name())
                        .unwrap_or("");
                    push_unique(warnings, format!("PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"));
                    HistogramGroup::Dropped
                }
            }
        }
        _ => {
            push_unique(
                infos,
                format!("PromQL info: ignored histogram in {op} aggregation"),
            );
            HistogramGroup::Floats(samples.into_iter().filter(|s| s.h.is_none()).collect())
        }
    }
}

/// Prometheus' annotations for a histogram sum: colliding counter resets (warning) and
/// reconciled custom bounds (info), during `operation` ("aggregation", "addition", ...).
pub(crate) fn note_combined(
    c: &model::histogram::Combined,
    operation: &str,
    warnings: &mut Vec<String>,
    infos: &mut Vec<String>,
) {
    if c.collision {
        push_unique(
            warnings,
            format!("PromQL warning: conflicting counter resets during histogram {operation}"),
        );
    }
    if c.reconciled {
        push_unique(
            infos,
            format!("PromQL info: mismatched custom buckets were reconciled during {operation}"),
        );
    }
}

pub(super) fn eval_aggregate(
    ev: &mut Evaluator<'_>,
    ag: &AggregateExpr,
    ts: i64,
) -> Result<StepValue, QueryError> {
    let op = ag.op.to_string();
    let param = match &ag.param {
        None => None,
        Some(p) => Some(ev.eval(p, ts)?),
    };
    let input = ev.eval_vector(&ag.expr, ts)?;
    let modifier = &ag.modifier;
    // Group samples, keeping first-seen order of groups.
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, Vec<InstantSample>> = HashMap::new();
    let count_values_label = match (&op[..], &param) {
        ("count_values", Some(StepValue::Str(l))) => {
            // Prometheus 3 accepts any non-empty UTF-8 label name.
            if l.is_empty() {
                return Err(QueryError::Execution(format!("invalid label name {l:?}")));
            }
            Some(l.clone())
        }
        _ => None,
    };
    for s in input {
        let mut key = group_labels(&s.labels, modifier);
        if let Some(l) = &count_values_label {
            let mut b = key.builder();
            b.set(l.clone(), format_go_float(s.v));
            key = b.build();
        }
        match groups.get_mut(&key) {
            Some(g) => g.push(s),
            None => {
                order.push(key.clone());
                groups.insert(key, vec![s]);
            }
        }
    }
    let scalar_param = match &param {
        Some(StepValue::Scalar(v)) => Some(*v),
        _ => None,
    };
    // Parameters are checked even when there is nothing to aggregate, as Prometheus does.
    match op.as_str() {
        "topk" | "bottomk" | "limitk" => {
            k_param(scalar_param)?;
        }
        "limit_ratio" => {
            let r = scalar_param.unwrap_or(f64::NAN);
            if r.is_nan() {
                return Err(QueryError::Execution("Ratio value is NaN".into()));
            }
            if !(-1.0..=1.0).contains(&r) {
                push_unique(
                    &mut ev.warnings,
                    format!(
                        "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {}",
                        format_go_float(r),
                        format_go_float(r.clamp(-1.0, 1.0))
                    ),
                );
            }
        }
        "quantile" => {
            let phi = scalar_param.unwrap_or(f64::NAN);
            if !(0.0..=1.0).contains(&phi) {
                push_unique(
                    &mut ev.warnings,
                    format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}",
                        format_go_float(phi)
                    ),
                );
            }
        }
        _ => {}
    }
    let mut out = Vec::new();
    for key in order {
        let Some(samples) = groups.remove(&key) else {
            continue;
        };
        let samples = if samples.iter().any(|s| s.h.is_some()) {
            let (mut warnings, mut infos) = (Vec::new(), Vec::new());
            let group = histogram_group(&op, samples, &mut warnings, &mut infos);
            // Prometheus places these at the aggregated expression.
            let position =
                super::call_arg_position(&ev.source, &op, usize::from(ag.param.is_some()))
                    .map(|(line, column)| format!(" ({line}:{column})"))
                    .unwrap_or_default();
            for w in warnings {
                push_unique(&mut ev.warnings, format!("{w}{position}"));
            }
            for i in infos {
                push_unique(&mut ev.infos, format!("{i}{position}"));
            }
            match group {
                HistogramGroup::Result(h) => {
                    out.push(InstantSample {
                        labels: key,
                        t: ts,
                        v: 0.0,
                        h: Some(std::sync::Arc::new(h)),
                    });
                    continue;
                }
                HistogramGroup::Dropped => continue,
                HistogramGroup::Floats(samples) if samples.is_empty() => continue,
                HistogramGroup::Floats(samples) => samples,
            }
        } else {
            samples
        };
        match op.as_str() {
            "sum" | "avg" | "count" | "count_values" | "group" | "min" | "max" | "stddev"
            | "stdvar" => {
                let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
                let op = if op == "count_values" {
                    "count"
                } else {
                    op.as_str()
                };
                if let Some(v) = simple_aggregate(op, &values) {
                    out.push(InstantSample {
                        h: None,
                        labels: key,
                        t: ts,
                        v,
                    });
                }
            }
            "quantile" => {
                let phi = scalar_param.unwrap_or(f64::NAN);
                let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
                out.push(InstantSample {
                    h: None,
                    labels: key,
                    t: ts,
                    v: quantile_of(phi, values),
                });
            }
            "topk" | "bottomk" => {
                let k = k_param(scalar_param)?;
                let mut sorted = samples;
                let top = op == "topk";
                sorted.sort_by(|a, b| {
                    // NaN sorts last for both directions, as Prometheus' heaps treat it.
                    match (a.v.is_nan(), b.v.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ => {
                            let o = a.v.partial_cmp(&b.v).unwrap_or(std::cmp::Ordering::Equal);
                            if top {
                                o.reverse()
                            } else {
                                o
                            }
                        }
                    }
                });
                for s in sorted.into_iter().take(k) {
                    out.push(InstantSample {
                        h: s.h,
                        labels: s.labels,
                        t: ts,
                        v: s.v,
                    });
                }
            }
            "limitk" => {
                // The first k of the group in input (label) order, as Prometheus takes them.
                let k = k_param(scalar_param)?;
                for s in samples.into_iter().take(k) {
                    out.push(InstantSample {
                        h: s.h,
                        labels: s.labels,
                        t: ts,
                        v: s.v,
                    });
                }
            }
            "limit_ratio" => {
                let r = scalar_param.unwrap_or(f64::NAN);
                if r.is_nan() {
                    return Err(QueryError::Execution("Ratio value is NaN".into()));
                }
                let r = r.clamp(-1.0, 1.0);
                for s in samples {
                    let sample_ratio = s.labels.hash64() as f64 / u64::MAX as f64;
                    let keep = if r >= 0.0 {
                        sample_ratio < r
                    } else {
                        sample_ratio >= 1.0 + r
                    };
                    if keep {
                        out.push(InstantSample {
                            h: s.h,
                            labels: s.labels,
                            t: ts,
                            v: s.v,
                        });
                    }
                }
            }
            other => {
                return Err(QueryError::Execution(format!(
                    "unsupported aggregation {other}"
                )))
            }
        }
    }
    Ok(StepValue::Vector(out))
}

/// Aggregations computed from the values of a group alone (no parameter, no labels), shared by
/// the per-step evaluator and the whole-range fast path. `None` for other operators or an
/// empty group.
pub(super) fn simple_aggregate(op: &str, values: &[f64]) -> Option<f64> {
    let first = *values.first()?;
    Some(match op {
        "sum" => {
            let (mut sum, mut c) = (0.0, 0.0);
            for v in values {
                (sum, c) = kahan_add(*v, sum, c);
            }
            sum + c
        }
        "avg" => {
            // Prometheus 3: Kahan sum while it does not overflow, then an incremental
            // (Kahan-compensated) mean from that point on.
            let (mut sum, mut c, mut mean, mut count) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
            let mut incremental = false;
            for v in values {
                count += 1.0;
                if count == 1.0 {
                    // The first value starts the sum as is (even when infinite).
                    sum = *v;
                    continue;
                }
                if !incremental {
                    let (new_sum, new_c) = kahan_add(*v, sum, c);
                    if !new_sum.is_infinite() {
                        (sum, c) = (new_sum, new_c);
                        continue;
                    }
                    incremental = true;
                    mean = sum / (count - 1.0);
                    c /= count - 1.0;
                }
                let q = (count - 1.0) / count;
                (mean, c) = kahan_add(v / count, q * mean, q * c);
            }
            if incremental {
                mean + c
            } else {
                (sum + c) / count
            }
        }
        "count" => values.len() as f64,
        "group" => 1.0,
        "min" | "max" => {
            let want_max = op == "max";
            let mut best = first;
            for v in values.iter().skip(1) {
                let better = if want_max { *v > best } else { *v < best };
                if better || best.is_nan() {
                    best = *v;
                }
            }
            best
        }
        "stddev" | "stdvar" => {
            let (mut mean, mut m2, mut n) = (0.0f64, 0.0f64, 0.0f64);
            for v in values {
                n += 1.0;
                let delta = v - mean;
                mean += delta / n;
                m2 += delta * (v - mean);
            }
            let var = m2 / n;
            if op == "stddev" {
                var.sqrt()
            } else {
                var
            }
        }
        _ => return None,
    })
}

pub(super) fn push_unique(into: &mut Vec<String>, item: String) {
    if !into.contains(&item) {
        into.push(item);
    }
}

pub(super) fn k_param(p: Option<f64>) -> Result<usize, QueryError> {
    let k = p.unwrap_or(f64::NAN);
    if k.is_nan() {
        return Err(QueryError::Execution("Parameter value is NaN".into()));
    }
    if k >= 9.2e18 {
        return Err(QueryError::Execution(format!(
            "Scalar value {} overflows int64",
            format_go_float(k)
        )));
    }
    Ok(if k < 1.0 { 0 } else { k as usize })
}

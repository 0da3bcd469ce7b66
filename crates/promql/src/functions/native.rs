//! Functions over native histograms: `histogram_count`/`_sum`/`_avg`/`_stddev`/`_stdvar`/
//! `_fraction`/`_quantile`, and the range functions that accept histogram samples (`rate`,
//! `increase`, `delta`, `irate`, `idelta`, `sum_over_time`, `avg_over_time`, `count_over_time`,
//! `last_over_time`, `present_over_time`, `resets`, `changes`). Called before the float
//! functions: it computes the histogram part and hands the float part on; functions that do
//! not take histograms see their arguments with the histograms removed, as in Prometheus.

use super::{FnArg, FnCall, FnOutput, FnValue, RangeWindow};
use crate::{HPoint, InstantSample};
use model::{CounterResetHint, FloatHistogram, Labels};
use std::sync::Arc;

/// Functions of one histogram giving one float.
const HISTOGRAM_STATS: &[&str] = &[
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_stddev",
    "histogram_stdvar",
];

/// Range functions computed here for windows holding histograms.
const RANGE_FUNCTIONS: &[&str] = &[
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "sum_over_time",
    "avg_over_time",
    "count_over_time",
    "last_over_time",
    "first_over_time",
    "ts_of_last_over_time",
    "ts_of_first_over_time",
    "present_over_time",
    "resets",
    "changes",
];

/// Functions that pass histogram samples through unchanged (labels or order only).
const PASS_THROUGH: &[&str] = &[
    "label_replace",
    "label_join",
    "sort_by_label",
    "sort_by_label_desc",
    "timestamp",
    "absent",
];

fn has_histograms(args: &[FnArg]) -> bool {
    args.iter().any(|a| match a {
        FnArg::Vector(v) => v.iter().any(|s| s.h.is_some()),
        FnArg::Matrix(m) => m.iter().any(|w| !w.histograms.is_empty()),
        _ => false,
    })
}

fn push_unique(into: &mut Vec<String>, item: String) {
    if !into.contains(&item) {
        into.push(item);
    }
}

/// Handles the histogram part of `c`; `dispatch` computes float functions. Returns `None` when
/// the float functions alone are to compute the result (after histograms were removed).
pub(super) fn call(
    c: &mut FnCall<'_>,
    dispatch: fn(FnCall<'_>) -> Result<FnOutput, String>,
) -> Result<Option<FnOutput>, String> {
    if c.name == "histogram_quantiles" {
        return histogram_quantiles(c, dispatch).map(Some);
    }
    let histogram_only = HISTOGRAM_STATS.contains(&c.name) || c.name == "histogram_fraction";
    if !histogram_only && (!has_histograms(&c.args) || PASS_THROUGH.contains(&c.name)) {
        return Ok(None);
    }
    let name = c.name;
    let mut out = FnOutput {
        value: FnValue::Vector(Vec::new()),
        warnings: Vec::new(),
        infos: Vec::new(),
    };
    if name == "absent_over_time" {
        // Histogram samples make the series present.
        return Ok(Some(out));
    }

    if HISTOGRAM_STATS.contains(&name) {
        let v = super::arg_vector(&mut c.args, 0)?;
        let samples = v
            .into_iter()
            .filter_map(|s| {
                let h = s.h.as_ref()?;
                Some(InstantSample {
                    labels: s.labels.without_metric_name(),
                    t: c.t,
                    v: histogram_stat(name, h),
                    h: None,
                })
            })
            .collect();
        out.value = FnValue::Vector(samples);
        return Ok(Some(out));
    }
    if name == "histogram_fraction" {
        let lower = super::arg_scalar(&c.args, 0)?;
        let upper = super::arg_scalar(&c.args, 1)?;
        let v = super::arg_vector(&mut c.args, 2)?;
        let mut samples = Vec::new();
        for s in v {
            let Some(h) = &s.h else { continue };
            let (value, nan_info) = histogram_fraction(lower, upper, h);
            if nan_info {
                push_unique(&mut out.infos, format!("PromQL info: input to histogram_fraction has NaN observations, which are excluded from all fractions for metric name {:?}", s.labels.metric_name().unwrap_or("")));
            }
            samples.push(InstantSample {
                labels: s.labels.without_metric_name(),
                t: c.t,
                v: value,
                h: None,
            });
        }
        out.value = FnValue::Vector(samples);
        return Ok(Some(out));
    }
    if name == "histogram_quantile" {
        let q = super::arg_scalar(&c.args, 0)?;
        let v = super::arg_vector(&mut c.args, 1)?;
        let (native, classic): (Vec<InstantSample>, Vec<InstantSample>) =
            v.into_iter().partition(|s| s.h.is_some());
        let mut classic_keys: Vec<Labels> =
            classic.iter().map(|s| s.labels.without(&["le"])).collect();
        classic_keys.sort();
        let mut mixed: Vec<Labels> = Vec::new();
        let mut samples = Vec::new();
        for s in native {
            let Some(h) = &s.h else { continue };
            let metric = s.labels.metric_name().unwrap_or("").to_string();
            if classic_keys.binary_search(&s.labels).is_ok() {
                push_unique(&mut out.warnings, format!("PromQL warning: vector contains a mix of classic and native histograms for metric name {metric:?}"));
                mixed.push(s.labels.clone());
                continue;
            }
            let (value, info) = histogram_quantile(q, h);
            if let Some(info) = info {
                push_unique(
                    &mut out.infos,
                    format!("PromQL info: {info} for metric name {metric:?}"),
                );
            }
            samples.push(InstantSample {
                labels: s.labels.without_metric_name(),
                t: c.t,
                v: value,
                h: None,
            });
        }
        let classic: Vec<InstantSample> = classic
            .into_iter()
            .filter(|s| !mixed.contains(&s.labels.without(&["le"])))
            .collect();
        if !(0.0..=1.0).contains(&q) && !samples.is_empty() && classic.is_empty() {
            push_unique(
                &mut out.warnings,
                format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}",
                    crate::eval_format(q)
                ),
            );
        }
        if !classic.is_empty() {
            if let Some(slot) = c.args.get_mut(1) {
                *slot = FnArg::Vector(classic);
            }
            let rest = dispatch(remaining(c))?;
            merge(&mut out, rest, &mut samples);
        }
        out.value = FnValue::Vector(samples);
        return Ok(Some(out));
    }
    if RANGE_FUNCTIONS.contains(&name) {
        let Some(idx) = c.args.iter().position(|a| matches!(a, FnArg::Matrix(_))) else {
            return Ok(None);
        };
        let windows = super::arg_matrix(&mut c.args, idx)?;
        let (with_h, floats): (Vec<RangeWindow>, Vec<RangeWindow>) =
            windows.into_iter().partition(|w| !w.histograms.is_empty());
        let mut samples = Vec::new();
        for w in with_h {
            if let Some(s) = range_function(name, &w, c, &mut out) {
                samples.push(s);
            }
        }
        if !floats.is_empty() {
            if let Some(slot) = c.args.get_mut(idx) {
                *slot = FnArg::Matrix(floats);
            }
            let rest = dispatch(remaining(c))?;
            merge(&mut out, rest, &mut samples);
        }
        out.value = FnValue::Vector(samples);
        return Ok(Some(out));
    }
    // Any other function ignores histogram samples.
    for a in c.args.iter_mut() {
        match a {
            FnArg::Vector(v) => v.retain(|s| s.h.is_none()),
            FnArg::Matrix(m) => {
                for w in m.iter_mut() {
                    if !w.histograms.is_empty() && !w.samples.is_empty() {
                        push_unique(&mut out.infos, format!("PromQL info: ignored histograms in a range containing both floats and histograms for metric name {:?}", metric_name(w)));
                    }
                    w.histograms.clear();
                }
                m.retain(|w| !w.samples.is_empty());
            }
            _ => {}
        }
    }
    if out.infos.is_empty() {
        return Ok(None);
    }
    let rest = dispatch(remaining(c))?;
    let mut samples = Vec::new();
    let value = match rest.value {
        FnValue::Scalar(v) => FnValue::Scalar(v),
        other => {
            merge(
                &mut out,
                FnOutput {
                    value: other,
                    warnings: rest.warnings,
                    infos: rest.infos,
                },
                &mut samples,
            );
            FnValue::Vector(samples)
        }
    };
    out.value = value;
    Ok(Some(out))
}

/// The call with its (remaining, float) arguments, for the float implementations.
fn remaining<'a>(c: &mut FnCall<'a>) -> FnCall<'a> {
    FnCall {
        name: c.name,
        args: std::mem::take(&mut c.args),
        arg_exprs: c.arg_exprs,
        t: c.t,
        window: c.window,
    }
}

/// `histogram_quantiles(v, "label", q1, q2, ...)`: `histogram_quantile` for each quantile,
/// each result series labelled with its quantile.
fn histogram_quantiles(
    c: &mut FnCall<'_>,
    dispatch: fn(FnCall<'_>) -> Result<FnOutput, String>,
) -> Result<FnOutput, String> {
    let v = super::arg_vector(&mut c.args, 0)?;
    let label = super::arg_string(&c.args, 1)?;
    let mut qs = Vec::new();
    for i in 2..c.args.len() {
        qs.push(super::arg_scalar(&c.args, i)?);
    }
    let mut out = FnOutput {
        value: FnValue::Vector(Vec::new()),
        warnings: Vec::new(),
        infos: Vec::new(),
    };
    let mut samples = Vec::new();
    for q in qs {
        let one = call(
            &mut FnCall {
                name: "histogram_quantile",
                args: vec![FnArg::Scalar(q), FnArg::Vector(v.clone())],
                arg_exprs: c.arg_exprs,
                t: c.t,
                window: c.window,
            },
            dispatch,
        )?;
        let one = match one {
            Some(o) => o,
            None => dispatch(FnCall {
                name: "histogram_quantile",
                args: vec![FnArg::Scalar(q), FnArg::Vector(v.clone())],
                arg_exprs: c.arg_exprs,
                t: c.t,
                window: c.window,
            })?,
        };
        let mut part = Vec::new();
        merge(&mut out, one, &mut part);
        let value = crate::eval_format(q);
        for mut s in part {
            let mut b = s.labels.builder();
            b.set(label.clone(), value.clone());
            s.labels = b.build();
            samples.push(s);
        }
    }
    out.value = FnValue::Vector(samples);
    Ok(out)
}

fn merge(out: &mut FnOutput, rest: FnOutput, samples: &mut Vec<InstantSample>) {
    for w in rest.warnings {
        push_unique(&mut out.warnings, w);
    }
    for i in rest.infos {
        push_unique(&mut out.infos, i);
    }
    if let FnValue::Vector(v) = rest.value {
        samples.extend(v);
    }
}

fn histogram_stat(name: &str, h: &FloatHistogram) -> f64 {
    match name {
        "histogram_count" => h.count,
        "histogram_sum" => h.sum,
        "histogram_avg" => h.sum / h.count,
        "histogram_stddev" => histogram_variance(h).sqrt(),
        _ => histogram_variance(h),
    }
}

/// Prometheus' estimate of the variance of the observations from the bucket midpoints.
fn histogram_variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut variance, mut c) = (0.0, 0.0);
    for b in h.buckets() {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let v = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 {
                -v
            } else {
                v
            }
        };
        let delta = val - mean;
        (variance, c) = super::kahan_add(b.count * delta * delta, variance, c);
    }
    (variance + c) / h.count
}

/// Prometheus' HistogramQuantile for a native histogram; the second value is an info text.
fn histogram_quantile(q: f64, h: &FloatHistogram) -> (f64, Option<&'static str>) {
    if q < 0.0 {
        return (f64::NEG_INFINITY, None);
    }
    if q > 1.0 {
        return (f64::INFINITY, None);
    }
    if h.count == 0.0 || q.is_nan() {
        return (f64::NAN, None);
    }
    let mut buckets = h.buckets();
    let forward = h.sum.is_nan() || q < 0.5;
    let mut rank = if forward {
        q * h.count
    } else {
        buckets.reverse();
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut pos = buckets.len();
    let mut bucket = None;
    for (i, b) in buckets.iter().enumerate() {
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        bucket = Some(*b);
        pos = i + 1;
        if count >= rank {
            break;
        }
    }
    // No populated bucket: Prometheus goes on with an empty one at zero.
    let mut bucket = bucket.unwrap_or(model::histogram::Bucket {
        lower: 0.0,
        upper: 0.0,
        count: 0.0,
        lower_inclusive: false,
        upper_inclusive: true,
    });
    if !h.uses_custom_buckets() && bucket.lower < 0.0 && bucket.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            bucket.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            bucket.upper = 0.0;
        }
    } else if h.uses_custom_buckets() {
        if bucket.lower == f64::NEG_INFINITY {
            if bucket.upper <= 0.0 {
                return (bucket.upper, None);
            }
            bucket.lower = 0.0;
        } else if bucket.upper == f64::INFINITY {
            return (bucket.lower, None);
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            return (
                f64::NAN,
                Some("input to histogram_quantile has NaN observations, result is NaN"),
            );
        }
        return (bucket.upper, None);
    }
    if forward {
        rank -= count - bucket.count;
    } else {
        rank = count - rank;
    }
    let mut info = None;
    if h.sum.is_nan() {
        let rest: f64 = buckets
            .get(pos..)
            .unwrap_or(&[])
            .iter()
            .map(|b| b.count)
            .sum();
        if count + rest < h.count {
            info =
                Some("input to histogram_quantile has NaN observations, result is skewed higher");
        }
    }
    let fraction = rank / bucket.count;
    if h.uses_custom_buckets() || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
        return (
            bucket.lower + (bucket.upper - bucket.lower) * fraction,
            info,
        );
    }
    let log_lower = bucket.lower.abs().log2();
    let log_upper = bucket.upper.abs().log2();
    if bucket.lower > 0.0 {
        return (
            (log_lower + (log_upper - log_lower) * fraction).exp2(),
            info,
        );
    }
    (
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2(),
        info,
    )
}

/// Prometheus' HistogramFraction; the flag asks for the NaN-observations info.
fn histogram_fraction(lower: f64, upper: f64, h: &FloatHistogram) -> (f64, bool) {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, false);
    }
    if lower >= upper {
        return (0.0, false);
    }
    let (mut count, mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let buckets = h.buckets();
    let mut next = buckets.len();
    for (i, b0) in buckets.iter().enumerate() {
        let mut b = *b0;
        count += b.count;
        let mut zero_bucket = false;
        if b.lower <= 0.0 && b.upper >= 0.0 {
            zero_bucket = true;
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                b.lower = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                b.upper = 0.0;
            }
        }
        let fraction_below = |v: f64, linear: bool| -> f64 {
            if linear {
                return (v - b.lower) / (b.upper - b.lower);
            }
            let log_lower = b.lower.abs().log2();
            let log_upper = b.upper.abs().log2();
            let log_v = v.abs().log2();
            if v > 0.0 {
                (log_v - log_lower) / (log_upper - log_lower)
            } else {
                1.0 - ((log_v - log_upper) / (log_lower - log_upper))
            }
        };
        let interpolate = |v: f64| -> f64 {
            if h.uses_custom_buckets() || zero_bucket {
                if b.lower == f64::NEG_INFINITY {
                    return b.count;
                }
                rank + b.count * fraction_below(v, true)
            } else {
                rank + b.count * fraction_below(v, false)
            }
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            next = i + 1;
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            next = i + 1;
            break;
        }
        rank += b.count;
    }
    let mut nan_info = false;
    if h.sum.is_nan() {
        count += buckets
            .get(next..)
            .unwrap_or(&[])
            .iter()
            .map(|b| b.count)
            .sum::<f64>();
        nan_info = count < h.count;
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    ((upper_rank - lower_rank) / h.count, nan_info)
}

fn metric_name(w: &RangeWindow) -> String {
    w.labels.metric_name().unwrap_or("").to_string()
}

/// One range function over a window holding histograms.
fn range_function(
    name: &str,
    w: &RangeWindow,
    c: &FnCall<'_>,
    out: &mut FnOutput,
) -> Option<InstantSample> {
    let mixed = !w.samples.is_empty();
    let mixed_warning = || {
        format!(
            "PromQL warning: encountered a mix of histograms and floats for metric name {:?}",
            metric_name(w)
        )
    };
    let float = |v: f64, keep_name: bool| {
        Some(InstantSample {
            labels: if keep_name {
                w.labels.clone()
            } else {
                w.labels.without_metric_name()
            },
            t: c.t,
            v,
            h: None,
        })
    };
    let hist = |h: FloatHistogram, keep_name: bool| {
        Some(InstantSample {
            labels: if keep_name {
                w.labels.clone()
            } else {
                w.labels.without_metric_name()
            },
            t: c.t,
            v: 0.0,
            h: Some(Arc::new(h)),
        })
    };
    let points = &w.histograms;
    match name {
        "count_over_time" => float((w.samples.len() + points.len()) as f64, false),
        "present_over_time" => float(1.0, false),
        "first_over_time" | "ts_of_first_over_time" => {
            let first_h = points.first()?;
            match w.samples.first() {
                Some(f) if f.t < first_h.t => {
                    if name == "first_over_time" {
                        float(f.v, true)
                    } else {
                        float(f.t as f64 / 1000.0, false)
                    }
                }
                _ if name == "first_over_time" => Some(InstantSample {
                    labels: w.labels.clone(),
                    t: c.t,
                    v: 0.0,
                    h: Some(first_h.h.clone()),
                }),
                _ => float(first_h.t as f64 / 1000.0, false),
            }
        }
        "ts_of_last_over_time" => {
            let t = points
                .last()?
                .t
                .max(w.samples.last().map_or(i64::MIN, |s| s.t));
            float(t as f64 / 1000.0, false)
        }
        "last_over_time" => {
            let last_h = points.last()?;
            match w.samples.last() {
                Some(f) if f.t > last_h.t => float(f.v, true),
                _ => Some(InstantSample {
                    labels: w.labels.clone(),
                    t: c.t,
                    v: 0.0,
                    h: Some(last_h.h.clone()),
                }),
            }
        }
        "sum_over_time" | "avg_over_time" => {
            if mixed {
                push_unique(&mut out.warnings, mixed_warning());
                return None;
            }
            let all: Vec<&FloatHistogram> = points.iter().map(|p| &*p.h).collect();
            let combined = if name == "avg_over_time" {
                FloatHistogram::mean_all(&all)
            } else {
                FloatHistogram::sum_all(&all)
            };
            let combined = match combined {
                Ok(c) => c,
                Err(_) => {
                    push_unique(&mut out.warnings, format!("PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}", metric_name(w)));
                    return None;
                }
            };
            crate::note_combined(&combined, "aggregation", &mut out.warnings, &mut out.infos);
            let mut acc = combined.histogram;
            acc.compact();
            hist(acc, false)
        }
        "resets" | "changes" => {
            // Floats and histograms in time order; a switch between the kinds counts too.
            let mut all: Vec<(i64, Option<f64>, Option<&FloatHistogram>)> = w
                .samples
                .iter()
                .map(|s| (s.t, Some(s.v), None))
                .chain(points.iter().map(|p| (p.t, None, Some(&*p.h))))
                .collect();
            all.sort_by_key(|x| x.0);
            let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
            let n = all
                .windows(2)
                .filter(|p| match (p[0], p[1]) {
                    ((_, Some(prev), _), (_, Some(cur), _)) => {
                        if name == "resets" {
                            cur < prev
                        } else {
                            !same(cur, prev)
                        }
                    }
                    ((_, _, Some(prev)), (_, _, Some(cur))) => {
                        if name == "resets" {
                            cur.detect_reset(prev)
                        } else {
                            !cur.equals_with(prev, same)
                        }
                    }
                    _ => true,
                })
                .count();
            float(n as f64, false)
        }
        "irate" | "idelta" => {
            let is_rate = name == "irate";
            // The last two samples, whatever their kind (as Prometheus' instantValue).
            let mut latest: Vec<(i64, Option<f64>, Option<&HPoint>)> = w
                .samples
                .iter()
                .rev()
                .take(2)
                .map(|s| (s.t, Some(s.v), None))
                .chain(points.iter().rev().take(2).map(|p| (p.t, None, Some(p))))
                .collect();
            latest.sort_by_key(|x| std::cmp::Reverse(x.0));
            let (prev, last) = match latest.get(..2)? {
                [(_, _, Some(last)), (_, _, Some(prev))] => (*prev, *last),
                [(lt, Some(lv), None), (pt, Some(pv), None)] => {
                    if lt == pt {
                        return None;
                    }
                    let mut v = lv - pv;
                    if is_rate && lv < pv {
                        v = *lv;
                    }
                    if is_rate {
                        v /= (lt - pt) as f64 / 1000.0;
                    }
                    return float(v, false);
                }
                _ => {
                    push_unique(&mut out.warnings, mixed_warning());
                    return None;
                }
            };
            let interval = last.t - prev.t;
            if interval == 0 {
                return None;
            }
            let gauge = |p: &HPoint| p.h.counter_reset_hint == CounterResetHint::Gauge;
            if is_rate && (gauge(prev) || gauge(last)) {
                push_unique(
                    &mut out.warnings,
                    format!(
                        "PromQL warning: this native histogram metric is not a counter: {:?}",
                        metric_name(w)
                    ),
                );
            }
            if !is_rate && (!gauge(prev) || !gauge(last)) {
                push_unique(
                    &mut out.warnings,
                    format!(
                        "PromQL warning: this native histogram metric is not a gauge: {:?}",
                        metric_name(w)
                    ),
                );
            }
            let mut h = if !is_rate || !last.h.detect_reset(&prev.h) {
                match last.h.combine_checked(&prev.h, true) {
                    Ok(c) => {
                        if c.reconciled {
                            push_unique(&mut out.infos, "PromQL info: mismatched custom buckets were reconciled during subtraction".into());
                        }
                        c.histogram
                    }
                    Err(_) => {
                        push_unique(&mut out.warnings, format!("PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {:?}", metric_name(w)));
                        return None;
                    }
                }
            } else {
                (*last.h).clone()
            };
            h.counter_reset_hint = CounterResetHint::Gauge;
            h.compact();
            if is_rate {
                h = h.div(interval as f64 / 1000.0);
            }
            hist(h, false)
        }
        _ => {
            // rate, increase, delta
            if mixed {
                push_unique(&mut out.warnings, mixed_warning());
                return None;
            }
            let (start, end) = c.window?;
            let is_counter = name != "delta";
            let is_rate = name == "rate";
            let result = histogram_rate(points, is_counter, &metric_name(w), out)?;
            let first = points.first()?;
            let last = points.last()?;
            let n_minus_one = points.len() - 1;
            let secs = |ms: i64| ms as f64 / 1000.0;
            let mut to_start = secs(first.t - start);
            let mut to_end = secs(end - last.t);
            let sampled = secs(last.t - first.t);
            let avg = sampled / n_minus_one as f64;
            let threshold = avg * 1.1;
            if to_start >= threshold {
                to_start = avg / 2.0;
            }
            if is_counter && result.count > 0.0 && first.h.count >= 0.0 {
                let to_zero = sampled * (first.h.count / result.count);
                if to_zero < to_start {
                    to_start = to_zero;
                }
            }
            if to_end >= threshold {
                to_end = avg / 2.0;
            }
            let mut factor = if sampled != 0.0 {
                (sampled + to_start + to_end) / sampled
            } else {
                1.0
            };
            if is_rate {
                factor /= secs(end - start);
            }
            hist(result.mul(factor), false)
        }
    }
}

/// Prometheus' histogramRate: the increase from the first to the last histogram of the window
/// with counter resets accounted for (`None` with a warning when the histograms do not mix).
fn histogram_rate(
    points: &[HPoint],
    is_counter: bool,
    metric: &str,
    out: &mut FnOutput,
) -> Option<FloatHistogram> {
    if points.len() < 2 {
        return None;
    }
    let first = points.first()?;
    let last = points.last()?;
    let not_counter =
        format!("PromQL warning: this native histogram metric is not a counter: {metric:?}");
    let mixed_schemas = format!("PromQL warning: vector contains a mix of histograms with exponential and custom buckets schemas for metric name {metric:?}");
    let gauge = |h: &FloatHistogram| h.counter_reset_hint == CounterResetHint::Gauge;
    if is_counter && (gauge(&first.h) || gauge(&last.h)) {
        push_unique(&mut out.warnings, not_counter.clone());
    }
    let mut prev: FloatHistogram = (*first.h).clone();
    if is_counter {
        let second = &points.get(1)?.h;
        if second.detect_reset(&prev) {
            prev = FloatHistogram {
                schema: second.schema,
                custom_values: second.custom_values.clone(),
                ..FloatHistogram::default()
            };
        }
    }
    if last.h.uses_custom_buckets() != prev.uses_custom_buckets() {
        push_unique(&mut out.warnings, mixed_schemas);
        return None;
    }
    for p in points.get(1..points.len() - 1).unwrap_or(&[]) {
        if is_counter && gauge(&p.h) {
            push_unique(&mut out.warnings, not_counter.clone());
        }
        if p.h.uses_custom_buckets() != prev.uses_custom_buckets() {
            push_unique(&mut out.warnings, mixed_schemas);
            return None;
        }
    }
    let mut h = match last.h.combine_checked(&prev, true) {
        Ok(c) => {
            if c.reconciled {
                push_unique(
                    &mut out.infos,
                    "PromQL info: mismatched custom buckets were reconciled during subtraction"
                        .into(),
                );
            }
            c.histogram
        }
        Err(_) => {
            push_unique(&mut out.warnings, mixed_schemas);
            return None;
        }
    };
    if is_counter {
        let mut prev_point: &FloatHistogram = &prev;
        for p in points.iter().skip(1) {
            if p.h.detect_reset(prev_point) {
                h = match h.combine_checked(prev_point, false) {
                    Ok(c) => {
                        if c.reconciled {
                            push_unique(
                                &mut out.infos,
                                "PromQL info: mismatched custom buckets were reconciled during addition"
                                    .into(),
                            );
                        }
                        c.histogram
                    }
                    Err(_) => {
                        push_unique(&mut out.warnings, mixed_schemas);
                        return None;
                    }
                };
            }
            prev_point = &p.h;
        }
    } else if !(gauge(&first.h) && gauge(&last.h)) {
        push_unique(
            &mut out.warnings,
            format!("PromQL warning: this native histogram metric is not a gauge: {metric:?}"),
        );
    }
    h.counter_reset_hint = CounterResetHint::Gauge;
    h.compact();
    Some(h)
}

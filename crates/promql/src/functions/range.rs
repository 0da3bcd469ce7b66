//! Functions over range vectors: rate/increase/delta with Prometheus' extrapolation, irate,
//! idelta, deriv, predict_linear, changes, resets, the `*_over_time` family,
//! double_exponential_smoothing, absent_over_time and present_over_time.

use super::math::{kahan_add, kahan_mean, kahan_variance, quantile_of};
use super::{arg_matrix, arg_scalar, vector_out, FnCall, FnOutput, RangeWindow};
use crate::InstantSample;
use model::{Labels, Sample};

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// Prometheus' extrapolatedRate for rate/increase/delta.
fn extrapolated(
    samples: &[Sample],
    window: (i64, i64),
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let first = samples[0];
    let last = samples[samples.len() - 1];
    let mut result = last.v - first.v;
    if is_counter {
        let mut prev = first.v;
        for s in &samples[1..] {
            if s.v < prev {
                result += prev;
            }
            prev = s.v;
        }
    }
    let (range_start, range_end) = window;
    let mut to_start = secs(first.t - range_start);
    let mut to_end = secs(range_end - last.t);
    let sampled = secs(last.t - first.t);
    let avg = sampled / (samples.len() - 1) as f64;
    let threshold = avg * 1.1;
    if to_start >= threshold {
        to_start = avg / 2.0;
    }
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= secs(range_end - range_start);
    }
    Some(result * factor)
}

/// Least-squares slope and intercept with x relative to `intercept_time` (seconds).
pub(crate) fn linear_regression(samples: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = samples[0].v;
    let mut const_y = true;
    for (i, s) in samples.iter().enumerate() {
        if const_y && i > 0 && s.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = secs(s.t - intercept_time);
        (sx, cx) = kahan_add(x, sx, cx);
        (sy, cy) = kahan_add(s.v, sy, cy);
        (sxy, cxy) = kahan_add(x * s.v, sxy, cxy);
        (sx2, cx2) = kahan_add(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

fn counter_info(name: &str, windows: &[RangeWindow], infos: &mut Vec<String>) {
    for w in windows {
        if let Some(metric) = w.labels.metric_name() {
            let ok = ["_total", "_sum", "_count", "_bucket"]
                .iter()
                .any(|s| metric.ends_with(s));
            if !ok {
                let msg = format!(
                    "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
                );
                if !infos.contains(&msg) {
                    infos.push(msg);
                }
            }
        }
    }
    let _ = name;
}

/// Applies `f` to each window, dropping the metric name unless `keep_name`.
fn per_window(
    windows: Vec<RangeWindow>,
    t: i64,
    keep_name: bool,
    mut f: impl FnMut(&[Sample]) -> Option<f64>,
) -> Vec<InstantSample> {
    let mut out = Vec::with_capacity(windows.len());
    for w in windows {
        if w.samples.is_empty() {
            continue;
        }
        if let Some(v) = f(&w.samples) {
            out.push(InstantSample {
                h: None,
                labels: if keep_name {
                    w.labels
                } else {
                    w.labels.without_metric_name()
                },
                t,
                v,
            });
        }
    }
    out
}

fn quantile_warning(phi: f64, warnings: &mut Vec<String>) {
    if !(0.0..=1.0).contains(&phi) || phi.is_nan() {
        warnings.push(format!(
            "PromQL warning: quantile value should be between 0 and 1, got {}",
            crate::eval_format(phi)
        ));
    }
}

/// Labels for `absent`/`absent_over_time`: the equality matchers of the selector argument.
pub(crate) fn absent_labels(expr: &promql_parser::parser::Expr) -> Labels {
    use promql_parser::label::MatchOp;
    use promql_parser::parser::Expr;
    let vs = match crate::eval_unparen(expr) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(m) => &m.vs,
        _ => return Labels::empty(),
    };
    // A label is kept only when its single matcher is an equality.
    let ms = &vs.matchers.matchers;
    let pairs = ms.iter().filter(|m| {
        m.name != model::METRIC_NAME
            && matches!(m.op, MatchOp::Equal)
            && ms.iter().filter(|o| o.name == m.name).count() == 1
    });
    Labels::from_pairs(pairs.map(|m| (m.name.clone(), m.value.clone())))
}

/// `irate` (`is_rate`) or `idelta` of a window's last two samples.
fn instant_change(s: &[Sample], is_rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let last = s[s.len() - 1];
    let prev = s[s.len() - 2];
    let mut value = last.v - prev.v;
    if is_rate {
        if last.v < prev.v {
            value = last.v;
        }
        let dt = last.t - prev.t;
        if dt == 0 {
            return None;
        }
        value /= secs(dt);
    }
    Some(value)
}

/// The value of range function `name` over one series' non-empty float window `s` (the samples
/// in `window`), for the functions whose value depends on the window alone and
/// that add no annotation of their own beyond the counter-name info; `None` for other
/// functions. Shared by `call` and the range-query fast path, which calls it per step without
/// building a range vector.
pub(crate) fn window_value(name: &str, s: &[Sample], window: (i64, i64)) -> Option<Option<f64>> {
    let first = s.first()?;
    Some(match name {
        "rate" | "increase" | "delta" => extrapolated(s, window, name != "delta", name == "rate"),
        "irate" | "idelta" => instant_change(s, name == "irate"),
        "deriv" => (s.len() >= 2).then(|| linear_regression(s, first.t).0),
        "changes" | "resets" => {
            let resets = name == "resets";
            let mut n = 0.0;
            for w in s.windows(2) {
                let (prev, cur) = (w[0].v, w[1].v);
                let hit = if resets {
                    cur < prev
                } else {
                    !(cur == prev || (cur.is_nan() && prev.is_nan()))
                };
                if hit {
                    n += 1.0;
                }
            }
            Some(n)
        }
        "avg_over_time" => Some(kahan_mean(s.iter().map(|p| p.v))),
        "sum_over_time" => {
            let (mut sum, mut comp) = (0.0, 0.0);
            for p in s {
                (sum, comp) = kahan_add(p.v, sum, comp);
            }
            Some(sum + comp)
        }
        "count_over_time" => Some(s.len() as f64),
        "min_over_time" | "max_over_time" => {
            let max = name == "max_over_time";
            let mut v = first.v;
            for p in &s[1..] {
                if (if max { p.v > v } else { p.v < v }) || v.is_nan() {
                    v = p.v;
                }
            }
            Some(v)
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let var = kahan_variance(s.iter().map(|p| p.v));
            Some(if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            })
        }
        _ => return None,
    })
}

pub(super) fn call(name: &str, c: &mut FnCall<'_>) -> Result<Option<FnOutput>, String> {
    let t = c.t;
    let window = c.window.unwrap_or((t, t));
    let out = match name {
        "rate" | "increase" | "delta" => {
            let m = arg_matrix(&mut c.args, 0)?;
            let mut infos = Vec::new();
            if name != "delta" {
                counter_info(name, &m, &mut infos);
            }
            let v = per_window(m, t, false, |s| window_value(name, s, window).flatten());
            let mut out = vector_out(v);
            out.infos = infos;
            out
        }
        "irate" | "idelta" => {
            let m = arg_matrix(&mut c.args, 0)?;
            let mut infos = Vec::new();
            if name == "irate" {
                counter_info(name, &m, &mut infos);
            }
            let is_rate = name == "irate";
            let v = per_window(m, t, false, |s| instant_change(s, is_rate));
            let mut out = vector_out(v);
            out.infos = infos;
            out
        }
        "deriv" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, false, |s| {
                window_value(name, s, window).flatten()
            }))
        }
        "predict_linear" => {
            let m = arg_matrix(&mut c.args, 0)?;
            let duration = arg_scalar(&c.args, 1)?;
            vector_out(per_window(m, t, false, |s| {
                if s.len() < 2 {
                    return None;
                }
                let (slope, intercept) = linear_regression(s, t);
                Some(slope * duration + intercept)
            }))
        }
        "changes" | "resets" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, false, |s| {
                window_value(name, s, window).flatten()
            }))
        }
        "avg_over_time" | "sum_over_time" | "count_over_time" | "min_over_time"
        | "max_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, false, |s| {
                window_value(name, s, window).flatten()
            }))
        }
        "ts_of_min_over_time" | "ts_of_max_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            let max = name == "ts_of_max_over_time";
            vector_out(per_window(m, t, false, |s| {
                let mut best = s[0];
                for p in &s[1..] {
                    if (if max { p.v >= best.v } else { p.v <= best.v }) || best.v.is_nan() {
                        best = *p;
                    }
                }
                Some(secs(best.t))
            }))
        }
        "ts_of_last_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, false, |s| s.last().map(|p| secs(p.t))))
        }
        "ts_of_first_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, false, |s| s.first().map(|p| secs(p.t))))
        }
        "last_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, true, |s| s.last().map(|p| p.v)))
        }
        "first_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, true, |s| s.first().map(|p| p.v)))
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, false, |s| {
                window_value(name, s, window).flatten()
            }))
        }
        "quantile_over_time" => {
            let phi = arg_scalar(&c.args, 0)?;
            let m = arg_matrix(&mut c.args, 1)?;
            let mut warnings = Vec::new();
            if !m.is_empty() {
                quantile_warning(phi, &mut warnings);
            }
            let mut out = vector_out(per_window(m, t, false, |s| {
                Some(quantile_of(phi, s.iter().map(|p| p.v).collect()))
            }));
            out.warnings = warnings;
            out
        }
        "mad_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, false, |s| {
                let values: Vec<f64> = s.iter().map(|p| p.v).collect();
                let median = quantile_of(0.5, values.clone());
                Some(quantile_of(
                    0.5,
                    values.iter().map(|v| (v - median).abs()).collect(),
                ))
            }))
        }
        "present_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            vector_out(per_window(m, t, false, |_| Some(1.0)))
        }
        "absent_over_time" => {
            let m = arg_matrix(&mut c.args, 0)?;
            if m.iter().any(|w| !w.samples.is_empty()) {
                vector_out(Vec::new())
            } else {
                let labels = c
                    .arg_exprs
                    .first()
                    .map(|e| absent_labels(e))
                    .unwrap_or_default();
                vector_out(vec![InstantSample {
                    h: None,
                    labels,
                    t,
                    v: 1.0,
                }])
            }
        }
        "double_exponential_smoothing" | "holt_winters" => {
            let m = arg_matrix(&mut c.args, 0)?;
            let sf = arg_scalar(&c.args, 1)?;
            let tf = arg_scalar(&c.args, 2)?;
            if !(sf > 0.0 && sf < 1.0) {
                return Err(format!(
                    "invalid smoothing factor. Expected: 0 < sf < 1, got: {sf}"
                ));
            }
            if !(tf > 0.0 && tf < 1.0) {
                return Err(format!(
                    "invalid trend factor. Expected: 0 < tf < 1, got: {tf}"
                ));
            }
            vector_out(per_window(m, t, false, |s| {
                if s.len() < 2 {
                    return None;
                }
                let (mut s0, mut s1) = (0.0, s[0].v);
                let mut b = s[1].v - s[0].v;
                for (i, p) in s.iter().enumerate().skip(1) {
                    let x = sf * p.v;
                    if i > 1 {
                        b = tf * (s1 - s0) + (1.0 - tf) * b;
                    }
                    let y = (1.0 - sf) * (s1 + b);
                    s0 = s1;
                    s1 = x + y;
                }
                Some(s1)
            }))
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(pairs: &[(i64, f64)]) -> Vec<Sample> {
        pairs.iter().map(|(t, v)| Sample { t: *t, v: *v }).collect()
    }

    #[test]
    fn rate_extrapolates_like_prometheus() {
        // 0..100 over 5m sampled every 30s within a (0, 300s] window: 11 samples at 0..300?
        // Samples at 30s..300s (10 samples), value = 10 * minute index.
        let s: Vec<Sample> = (1..=10)
            .map(|i| Sample {
                t: i * 30_000,
                v: i as f64 * 5.0,
            })
            .collect();
        let r = extrapolated(&s, (0, 300_000), true, true).unwrap();
        // increase 45 over 270s sampled; extrapolated to start by min(15s avg/2... ) -> 50/300.
        assert!((r - 50.0 / 300.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn counter_resets_are_added() {
        let s = samples(&[(10_000, 5.0), (20_000, 10.0), (30_000, 2.0), (40_000, 4.0)]);
        let inc = extrapolated(&s, (0, 40_000), true, false).unwrap();
        // raw increase: (10-5) + 2 + (4-2) = 9 over 30s, extrapolated to 40s (start capped by zero point).
        assert!(inc > 9.0 && inc < 12.1, "{inc}");
    }

    #[test]
    fn regression() {
        let s = samples(&[(0, 1.0), (1000, 2.0), (2000, 3.0)]);
        let (slope, intercept) = linear_regression(&s, 0);
        assert!((slope - 1.0).abs() < 1e-12 && (intercept - 1.0).abs() < 1e-12);
    }
}

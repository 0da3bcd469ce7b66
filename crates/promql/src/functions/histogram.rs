//! histogram_quantile over classic (`le`-labelled) bucket series, with Prometheus' bucket
//! coalescing, monotonicity fix and annotations. Native histograms are not supported yet.

use super::{arg_scalar, arg_vector, vector_out, FnCall, FnOutput};
use crate::InstantSample;
use model::Labels;
use std::collections::HashMap;

const SMALL_DELTA_TOLERANCE: f64 = 1e-12;
const MIN_NORMAL: f64 = f64::MIN_POSITIVE;

/// Prometheus' almost.Equal.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Returns (quantile, forced monotonic).
fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    match buckets.last() {
        Some((ub, _)) if *ub == f64::INFINITY => {}
        _ => return (f64::NAN, false),
    }
    // Coalesce buckets with the same upper bound.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (ub, c) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == ub => last.1 += c,
            _ => merged.push((ub, c)),
        }
    }
    let mut forced = false;
    let mut prev = merged[0].1;
    for b in merged.iter_mut().skip(1) {
        let curr = b.1;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.1 = prev;
            continue;
        }
        if curr < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    if merged.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let n = merged.len();
    let b = merged[..n - 1].partition_point(|x| x.1 < rank);
    if b == n - 1 {
        return (merged[n - 2].0, forced);
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return (merged[0].0, forced);
    }
    let bucket_end = merged[b].0;
    let mut count = merged[b].1;
    let mut bucket_start = 0.0;
    if b > 0 {
        bucket_start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    (
        bucket_start + (bucket_end - bucket_start) * (rank / count),
        forced,
    )
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.trim().parse().ok(),
    }
}

pub(super) fn call(name: &str, c: &mut FnCall<'_>) -> Result<Option<FnOutput>, String> {
    if name != "histogram_quantile" {
        return Ok(None);
    }
    let q = arg_scalar(&c.args, 0)?;
    let v = arg_vector(&mut c.args, 1)?;
    let mut warnings = Vec::new();
    let mut infos = Vec::new();
    let mut order: Vec<Labels> = Vec::new();
    let mut groups: HashMap<Labels, (Vec<(f64, f64)>, String)> = HashMap::new();
    for s in v {
        let metric = s.labels.metric_name().unwrap_or("").to_string();
        let Some(le) = s.labels.get("le").and_then(parse_le) else {
            let msg = format!(
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of {:?} for metric name {metric:?}",
                s.labels.get("le").unwrap_or("")
            );
            if !warnings.contains(&msg) {
                warnings.push(msg);
            }
            continue;
        };
        let key = s.labels.without(&["le", model::METRIC_NAME]);
        match groups.get_mut(&key) {
            Some(g) => g.0.push((le, s.v)),
            None => {
                order.push(key.clone());
                groups.insert(key, (vec![(le, s.v)], metric));
            }
        }
    }
    if !(0.0..=1.0).contains(&q) && !order.is_empty() {
        warnings.push(format!(
            "PromQL warning: quantile value should be between 0 and 1, got {}",
            crate::eval_format(q)
        ));
    }
    let mut out = Vec::with_capacity(order.len());
    for key in order {
        let Some((buckets, metric)) = groups.remove(&key) else {
            continue;
        };
        let (v, forced) = bucket_quantile(q, buckets);
        if forced {
            let msg = format!("PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {metric:?}");
            if !infos.contains(&msg) {
                infos.push(msg);
            }
        }
        out.push(InstantSample {
            h: None,
            labels: key,
            t: c.t,
            v,
        });
    }
    let mut o = vector_out(out);
    o.warnings = warnings;
    o.infos = infos;
    Ok(Some(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_within_bucket() {
        // 10 observations: 5 <= 0.1, 9 <= 0.5, 10 <= +Inf.
        let b = vec![(0.1, 5.0), (0.5, 9.0), (f64::INFINITY, 10.0)];
        let (v, forced) = bucket_quantile(0.5, b.clone());
        assert!(!forced);
        assert!((v - 0.1).abs() < 1e-12);
        let (v95, _) = bucket_quantile(0.95, b);
        assert_eq!(v95, 0.5);
        assert!(bucket_quantile(0.5, vec![(1.0, 1.0)]).0.is_nan());
    }
}

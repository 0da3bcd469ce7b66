//! Per-sample functions (abs, ceil, floor, round, sqrt, exp, ln, log2, log10, sgn, clamp*,
//! trigonometry, deg/rad/pi), time functions (time, timestamp, minute, hour, day_of_*, month,
//! year, days_in_month), vector/scalar conversion, sorting, absent — plus the numeric helpers
//! (Kahan summation, quantiles) shared with aggregations.

use super::{arg_scalar, arg_vector, scalar_out, vector_out, FnCall, FnOutput};
use crate::InstantSample;
use chrono::{Datelike, TimeZone, Timelike};
use model::Labels;

/// Neumaier-compensated addition, as Prometheus' kahanSumInc.
pub(crate) fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    model::histogram::kahan_add(inc, sum, c)
}

/// Mean with Kahan summation, switching to an incremental mean on overflow (Prometheus 3).
pub(crate) fn kahan_mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut mean, mut count, mut c) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut incremental = false;
    for f in values {
        count += 1.0;
        if !incremental {
            let (ns, nc) = kahan_add(f, sum, c);
            if count == 1.0 || !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        if mean.is_infinite() {
            if f.is_infinite() && (mean > 0.0) == (f > 0.0) {
                continue;
            }
            if !f.is_infinite() && !f.is_nan() {
                continue;
            }
        }
        let corrected = mean + c;
        (mean, c) = kahan_add(f / count - corrected / count, mean, c);
    }
    if incremental {
        mean + c
    } else {
        (sum + c) / count
    }
}

/// Population variance with Kahan-compensated Welford updates (Prometheus' stdvar).
pub(crate) fn kahan_variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for f in values {
        count += 1.0;
        let delta = f - (mean + c_mean);
        (mean, c_mean) = kahan_add(delta / count, mean, c_mean);
        (aux, c_aux) = kahan_add(delta * (f - (mean + c_mean)), aux, c_aux);
    }
    (aux + c_aux) / count
}

/// Prometheus' quantile: linear interpolation at rank phi*(n-1); ±Inf outside [0, 1].
pub(crate) fn quantile_of(phi: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || phi.is_nan() {
        return f64::NAN;
    }
    if phi < 0.0 {
        return f64::NEG_INFINITY;
    }
    if phi > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let n = values.len() as f64;
    let rank = phi * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = rank.ceil().min(n - 1.0);
    let weight = rank - rank.floor();
    let lo = values[lower as usize];
    let hi = values[upper as usize];
    lo * (1.0 - weight) + hi * weight
}

fn map_values(v: Vec<InstantSample>, f: impl Fn(f64) -> f64) -> Vec<InstantSample> {
    v.into_iter()
        .map(|s| InstantSample {
            h: None,
            labels: s.labels.without_metric_name(),
            t: s.t,
            v: f(s.v),
        })
        .collect()
}

fn simple_math(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "sqrt" => f64::sqrt,
        "exp" => f64::exp,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => f64::to_degrees,
        "rad" => f64::to_radians,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

fn date_part(name: &str, secs: f64) -> f64 {
    let Some(dt) = chrono::Utc.timestamp_opt(secs as i64, 0).single() else {
        return f64::NAN;
    };
    match name {
        "minute" => dt.minute() as f64,
        "hour" => dt.hour() as f64,
        "day_of_month" => dt.day() as f64,
        "day_of_week" => dt.weekday().num_days_from_sunday() as f64,
        "day_of_year" => dt.ordinal() as f64,
        "month" => dt.month() as f64,
        "year" => dt.year() as f64,
        _ => {
            // days_in_month
            let (y, m) = (dt.year(), dt.month());
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            let first_next = chrono::NaiveDate::from_ymd_opt(ny, nm, 1);
            let first = chrono::NaiveDate::from_ymd_opt(y, m, 1);
            match (first, first_next) {
                (Some(a), Some(b)) => (b - a).num_days() as f64,
                _ => f64::NAN,
            }
        }
    }
}

fn sort_values(v: &mut [InstantSample], desc: bool) {
    v.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => {
            let o = a.v.partial_cmp(&b.v).unwrap_or(std::cmp::Ordering::Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
    });
}

pub(super) fn call(name: &str, c: &mut FnCall<'_>) -> Result<Option<FnOutput>, String> {
    let t = c.t;
    if let Some(f) = simple_math(name) {
        let v = arg_vector(&mut c.args, 0)?;
        return Ok(Some(vector_out(map_values(v, f))));
    }
    let out = match name {
        "pi" => scalar_out(std::f64::consts::PI),
        "min_of" | "max_of" => {
            let a = arg_scalar(&c.args, 0)?;
            let b = arg_scalar(&c.args, 1)?;
            scalar_out(if name == "min_of" {
                go_min(a, b)
            } else {
                go_max(a, b)
            })
        }
        "time" => scalar_out(t as f64 / 1000.0),
        "vector" => {
            let v = arg_scalar(&c.args, 0)?;
            vector_out(vec![InstantSample {
                h: None,
                labels: Labels::empty(),
                t,
                v,
            }])
        }
        "scalar" => {
            let v = arg_vector(&mut c.args, 0)?;
            scalar_out(if v.len() == 1 { v[0].v } else { f64::NAN })
        }
        "timestamp" => {
            let v = arg_vector(&mut c.args, 0)?;
            vector_out(
                v.into_iter()
                    .map(|s| InstantSample {
                        h: None,
                        labels: s.labels.without_metric_name(),
                        t,
                        v: s.t as f64 / 1000.0,
                    })
                    .collect(),
            )
        }
        "round" => {
            let v = arg_vector(&mut c.args, 0)?;
            let to_nearest = if c.args.len() > 1 {
                arg_scalar(&c.args, 1)?
            } else {
                1.0
            };
            let inv = 1.0 / to_nearest;
            vector_out(map_values(v, |x| (x * inv + 0.5).floor() / inv))
        }
        "clamp" => {
            let v = arg_vector(&mut c.args, 0)?;
            let min = arg_scalar(&c.args, 1)?;
            let max = arg_scalar(&c.args, 2)?;
            if max < min {
                vector_out(Vec::new())
            } else {
                vector_out(map_values(v, |x| {
                    if min.is_nan() || max.is_nan() {
                        f64::NAN
                    } else {
                        go_max(min, go_min(max, x))
                    }
                }))
            }
        }
        "clamp_min" => {
            let v = arg_vector(&mut c.args, 0)?;
            let min = arg_scalar(&c.args, 1)?;
            vector_out(map_values(v, |x| go_max(min, x)))
        }
        "clamp_max" => {
            let v = arg_vector(&mut c.args, 0)?;
            let max = arg_scalar(&c.args, 1)?;
            vector_out(map_values(v, |x| go_min(max, x)))
        }
        "minute" | "hour" | "day_of_month" | "day_of_week" | "day_of_year" | "month" | "year"
        | "days_in_month" => {
            let v = if c.args.is_empty() {
                vec![InstantSample {
                    h: None,
                    labels: Labels::empty(),
                    t,
                    v: t as f64 / 1000.0,
                }]
            } else {
                arg_vector(&mut c.args, 0)?
            };
            vector_out(
                v.into_iter()
                    .map(|s| InstantSample {
                        h: None,
                        labels: s.labels.without_metric_name(),
                        t,
                        v: if s.v.is_finite() {
                            date_part(name, s.v)
                        } else {
                            s.v
                        },
                    })
                    .collect(),
            )
        }
        "sort" | "sort_desc" => {
            let mut v = arg_vector(&mut c.args, 0)?;
            sort_values(&mut v, name == "sort_desc");
            vector_out(v)
        }
        "absent" => {
            let v = arg_vector(&mut c.args, 0)?;
            if v.is_empty() {
                let labels = c
                    .arg_exprs
                    .first()
                    .map(|e| super::range::absent_labels(e))
                    .unwrap_or_default();
                vector_out(vec![InstantSample {
                    h: None,
                    labels,
                    t,
                    v: 1.0,
                }])
            } else {
                vector_out(Vec::new())
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// Go's math.Max: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Go's math.Min: NaN wins.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        assert_eq!(quantile_of(0.5, vec![1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile_of(1.5, vec![1.0]), f64::INFINITY);
        assert!(quantile_of(0.5, vec![]).is_nan());
    }

    #[test]
    fn means() {
        assert_eq!(kahan_mean([1.0, 2.0, 3.0].into_iter()), 2.0);
        assert_eq!(kahan_mean([f64::MAX, f64::MAX].into_iter()), f64::MAX);
        assert_eq!(kahan_variance([2.0, 4.0].into_iter()), 1.0);
    }

    #[test]
    fn dates() {
        assert_eq!(date_part("days_in_month", 0.0), 31.0);
        assert_eq!(date_part("day_of_week", 0.0), 4.0);
        assert_eq!(date_part("year", 0.0), 1970.0);
    }
}

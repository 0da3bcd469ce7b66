//! Uptime history from the stored probe series: uptime % over a window (the mean of
//! `probe_success` samples, what `avg_over_time(probe_success[w]) * 100` gives), response-time
//! history (`probe_duration_seconds` averaged into buckets), and incidents (down→up intervals)
//! from the persisted transition log of `runner`.

use model::{LabelMatcher, Queryable, Sample};
use serde::{Deserialize, Serialize};

/// The matchers of one probe's series `name`.
pub fn matchers(name: &str, target: &str, module: &str) -> Vec<LabelMatcher> {
    vec![
        LabelMatcher::equal("__name__", name),
        LabelMatcher::equal("job", "probe"),
        LabelMatcher::equal("instance", target),
        LabelMatcher::equal("module", module),
    ]
}

/// Samples of one probe series in `[mint, maxt]` (all matching series merged, time-sorted).
pub fn samples(
    store: &dyn Queryable,
    name: &str,
    target: &str,
    module: &str,
    mint: i64,
    maxt: i64,
) -> Vec<Sample> {
    let mut out: Vec<Sample> = store
        .select(&matchers(name, target, module), mint, maxt)
        .map(|ss| ss.into_iter().flat_map(|s| s.samples).collect())
        .unwrap_or_default();
    out.sort_by_key(|s| s.t);
    out
}

/// Uptime in percent: the mean of `probe_success` samples; None without samples.
pub fn uptime_percent(success: &[Sample]) -> Option<f64> {
    if success.is_empty() {
        return None;
    }
    let up: f64 = success.iter().map(|s| s.v).sum();
    Some(up / success.len() as f64 * 100.0)
}

/// Averages `samples` into at most `buckets` equal time buckets over `[mint, maxt]`:
/// `[t_ms, mean]` pairs, empty buckets left out.
pub fn downsample(samples: &[Sample], mint: i64, maxt: i64, buckets: usize) -> Vec<(i64, f64)> {
    if buckets == 0 || maxt <= mint {
        return Vec::new();
    }
    let width = ((maxt - mint) / buckets as i64).max(1);
    let mut out: Vec<(i64, f64, usize)> = Vec::new();
    for s in samples
        .iter()
        .filter(|s| s.t >= mint && s.t <= maxt && s.v.is_finite())
    {
        let b = mint + (s.t - mint) / width * width;
        match out.last_mut() {
            Some(last) if last.0 == b => {
                last.1 += s.v;
                last.2 += 1;
            }
            _ => out.push((b, s.v, 1)),
        }
    }
    out.into_iter()
        .map(|(t, sum, n)| (t, sum / n as f64))
        .collect()
}

/// One down→up interval of a probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// When the first failed probe ran (ms since the epoch).
    pub start: i64,
    /// When the first successful probe after it ran; None while still down.
    pub end: Option<i64>,
    /// `end - start` in seconds (until now while open).
    pub duration_seconds: f64,
    /// The first failed probe's error.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: i64, v: f64) -> Sample {
        Sample { t, v }
    }

    #[test]
    fn uptime_and_downsampling() {
        assert_eq!(uptime_percent(&[]), None);
        let xs = [s(0, 1.0), s(1, 0.0), s(2, 1.0), s(3, 1.0)];
        assert_eq!(uptime_percent(&xs), Some(75.0));
        let d = downsample(&xs, 0, 4, 2);
        assert_eq!(d, vec![(0, 0.5), (2, 1.0)]);
        assert!(downsample(&xs, 4, 0, 2).is_empty());
    }
}

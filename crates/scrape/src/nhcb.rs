//! `convert_classic_histograms_to_nhcb`: the classic `_bucket{le}`/`_count`/`_sum` series of
//! each `histogram`-typed family in a parsed exposition become one native histogram with custom
//! buckets (schema -53) per label set, as Prometheus' NHCBParser and convertnhcb do; the classic
//! series are dropped unless `always_scrape_classic_histograms` keeps them, and a label set whose
//! conversion fails (not cumulative, count mismatch, negative counts) yields neither.

use crate::exposition::{Exposition, ParsedExemplar, ParsedHistogram};
use model::histogram::{compress, CounterResetHint, FloatHistogram, CUSTOM_BUCKETS_SCHEMA};
use model::{Labels, METRIC_NAME};
use std::collections::{HashMap, HashSet};

#[derive(Default)]
struct Temp {
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
    timestamp_ms: Option<i64>,
    exemplars: Vec<ParsedExemplar>,
    invalid: bool,
}

impl Temp {
    /// convertnhcb's `TempHistogram.Convert`.
    fn convert(mut self) -> Option<FloatHistogram> {
        if self.invalid {
            return None;
        }
        self.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if self
            .buckets
            .windows(2)
            .any(|w| w[0].0 == w[1].0 || w[1].1 < w[0].1)
        {
            return None;
        }
        let count = match self.count {
            Some(c) => c,
            None => self.buckets.last().map(|b| b.1)?,
        };
        if count < 0.0 {
            return None;
        }
        if self.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
            self.buckets.push((f64::INFINITY, count));
        }
        if self.buckets.last().is_some_and(|b| b.1 != count) {
            return None;
        }
        let mut prev = 0.0;
        let pairs: Vec<(i32, f64)> = self
            .buckets
            .iter()
            .enumerate()
            .map(|(i, (_, c))| {
                let d = c - prev;
                prev = *c;
                (i as i32, d)
            })
            .collect();
        let (positive_spans, positive_buckets) = compress(&pairs);
        Some(FloatHistogram {
            counter_reset_hint: CounterResetHint::Unknown,
            schema: CUSTOM_BUCKETS_SCHEMA,
            zero_threshold: 0.0,
            zero_count: 0.0,
            count,
            sum: self.sum,
            positive_spans,
            positive_buckets,
            negative_spans: Vec::new(),
            negative_buckets: Vec::new(),
            custom_values: self.buckets[..self.buckets.len() - 1]
                .iter()
                .map(|b| b.0)
                .collect(),
        })
    }
}

/// Converts the classic histograms of `exp` in place (see the module documentation).
pub fn convert_classic(exp: &mut Exposition, keep_classic: bool) {
    let families: HashSet<&str> = exp
        .metadata
        .iter()
        .filter(|m| m.metric_type == "histogram")
        .map(|m| m.metric.as_str())
        .collect();
    if families.is_empty() {
        return;
    }
    let native: HashSet<&Labels> = exp.histograms.iter().map(|h| &h.labels).collect();
    let mut order: Vec<Labels> = Vec::new();
    let mut temps: HashMap<Labels, Temp> = HashMap::new();
    let mut classic = vec![false; exp.samples.len()];
    for (i, s) in exp.samples.iter().enumerate() {
        let Some(name) = s.labels.metric_name() else {
            continue;
        };
        let Some((base, suffix)) = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|suf| name.strip_suffix(suf).map(|b| (b, *suf)))
        else {
            continue;
        };
        if !families.contains(base) {
            continue;
        }
        let mut b = s.labels.builder();
        b.set(METRIC_NAME, base);
        b.del("le");
        let key = b.build();
        if native.contains(&key) {
            continue;
        }
        classic[i] = true;
        let t = temps.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Temp::default()
        });
        t.timestamp_ms = t.timestamp_ms.or(s.timestamp_ms);
        match suffix {
            "_bucket" => match s
                .labels
                .get("le")
                .and_then(|v| v.trim().parse::<f64>().ok())
            {
                Some(le) if !le.is_nan() => {
                    if s.value < 0.0 {
                        t.invalid = true;
                    }
                    t.buckets.push((le, s.value));
                    t.exemplars.extend(s.exemplar.clone());
                }
                _ => {}
            },
            "_count" => t.count = Some(s.value),
            _ => t.sum = s.value,
        }
    }
    let natives: Vec<ParsedHistogram> = order
        .into_iter()
        .filter_map(|labels| {
            let t = temps.remove(&labels)?;
            let timestamp_ms = t.timestamp_ms;
            let exemplars = t.exemplars.clone();
            t.convert().map(|h| ParsedHistogram {
                labels,
                // As Prometheus' conversion: integer when every count is whole.
                integer: h.has_integer_counts(),
                h,
                timestamp_ms,
                exemplars,
            })
        })
        .collect();
    exp.histograms.extend(natives);
    if !keep_classic {
        let mut i = 0;
        exp.samples.retain(|_| {
            let keep = !classic[i];
            i += 1;
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{parse, Format};

    #[test]
    fn classic_histograms_become_custom_bucket_histograms() {
        let text = "# TYPE rpc_seconds histogram\n\
            rpc_seconds_bucket{path=\"/a\",le=\"0.1\"} 1\n\
            rpc_seconds_bucket{path=\"/a\",le=\"1\"} 3\n\
            rpc_seconds_bucket{path=\"/a\",le=\"+Inf\"} 6\n\
            rpc_seconds_sum{path=\"/a\"} 4.5\n\
            rpc_seconds_count{path=\"/a\"} 6\n\
            rpc_seconds_bucket{path=\"/bad\",le=\"0.1\"} 5\n\
            rpc_seconds_bucket{path=\"/bad\",le=\"+Inf\"} 2\n\
            rpc_seconds_count{path=\"/bad\"} 2\n\
            # TYPE other gauge\nother 1\n";
        let mut e = parse(text, Format::PrometheusText).unwrap();
        convert_classic(&mut e, false);
        assert_eq!(e.samples.len(), 1, "{:?}", e.samples);
        assert_eq!(e.histograms.len(), 1);
        let h = &e.histograms[0];
        assert_eq!(h.labels.metric_name(), Some("rpc_seconds"));
        assert_eq!(h.labels.get("path"), Some("/a"));
        assert_eq!(h.labels.get("le"), None);
        assert_eq!(h.h.custom_values, vec![0.1, 1.0]);
        assert_eq!(h.h.positive(), vec![(0, 1.0), (1, 2.0), (2, 3.0)]);
        assert_eq!((h.h.count, h.h.sum), (6.0, 4.5));

        let mut e = parse(text, Format::PrometheusText).unwrap();
        convert_classic(&mut e, true);
        assert_eq!(e.samples.len(), 9);
        assert_eq!(e.histograms.len(), 1);
    }
}

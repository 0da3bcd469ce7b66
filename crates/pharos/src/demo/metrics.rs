//! A tiny prom-client-like registry for the demo app: counters, gauges, histograms and
//! summaries with labels, rendered in the Prometheus text exposition format.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;

/// How many recent observations a summary keeps for its quantiles (prom-client uses a sliding
/// window too).
const SUMMARY_WINDOW: usize = 500;

#[derive(Clone, Debug)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram(Vec<f64>),
    Summary(Vec<f64>),
}

#[derive(Clone, Debug)]
enum Value {
    Scalar(f64),
    Histogram {
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
    Summary {
        window: VecDeque<f64>,
        sum: f64,
        count: u64,
    },
}

struct Family {
    help: String,
    kind: Kind,
    series: BTreeMap<Vec<(String, String)>, Value>,
}

/// Metric families by name.
#[derive(Default)]
pub struct Registry {
    families: BTreeMap<String, Family>,
}

fn key(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn fmt_labels(labels: &[(String, String)], extra: Option<(&str, String)>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some((k, v)) = extra {
        parts.push(format!("{k}=\"{v}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn fmt_f(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else {
        format!("{v}")
    }
}

impl Registry {
    pub fn define(&mut self, name: &str, help: &str, kind: Kind) {
        self.families.insert(
            name.to_string(),
            Family {
                help: help.to_string(),
                kind,
                series: BTreeMap::new(),
            },
        );
    }

    fn entry(&mut self, name: &str, labels: &[(&str, &str)]) -> Option<(&Kind, &mut Value)> {
        let f = self.families.get_mut(name)?;
        let v = f
            .series
            .entry(key(labels))
            .or_insert_with(|| match &f.kind {
                Kind::Counter | Kind::Gauge => Value::Scalar(0.0),
                Kind::Histogram(b) => Value::Histogram {
                    counts: vec![0; b.len()],
                    sum: 0.0,
                    count: 0,
                },
                Kind::Summary(_) => Value::Summary {
                    window: VecDeque::new(),
                    sum: 0.0,
                    count: 0,
                },
            });
        Some((&f.kind, v))
    }

    /// Adds `by` to a counter or gauge.
    pub fn inc(&mut self, name: &str, labels: &[(&str, &str)], by: f64) {
        if let Some((_, Value::Scalar(v))) = self.entry(name, labels) {
            *v += by;
        }
    }

    /// Sets a gauge.
    pub fn set(&mut self, name: &str, labels: &[(&str, &str)], to: f64) {
        if let Some((_, Value::Scalar(v))) = self.entry(name, labels) {
            *v = to;
        }
    }

    /// Records one observation in a histogram or summary.
    pub fn observe(&mut self, name: &str, labels: &[(&str, &str)], x: f64) {
        match self.entry(name, labels) {
            Some((Kind::Histogram(b), Value::Histogram { counts, sum, count })) => {
                for (i, le) in b.iter().enumerate() {
                    if x <= *le {
                        counts[i] += 1;
                    }
                }
                *sum += x;
                *count += 1;
            }
            Some((_, Value::Summary { window, sum, count })) => {
                window.push_back(x);
                if window.len() > SUMMARY_WINDOW {
                    window.pop_front();
                }
                *sum += x;
                *count += 1;
            }
            _ => {}
        }
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, f) in &self.families {
            let ty = match f.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram(_) => "histogram",
                Kind::Summary(_) => "summary",
            };
            let _ = writeln!(out, "# HELP {name} {}\n# TYPE {name} {ty}", f.help);
            for (labels, v) in &f.series {
                match (v, &f.kind) {
                    (Value::Scalar(x), _) => {
                        let _ = writeln!(out, "{name}{} {}", fmt_labels(labels, None), fmt_f(*x));
                    }
                    (Value::Histogram { counts, sum, count }, Kind::Histogram(b)) => {
                        for (le, c) in b.iter().zip(counts) {
                            let l = fmt_labels(labels, Some(("le", fmt_f(*le))));
                            let _ = writeln!(out, "{name}_bucket{l} {c}");
                        }
                        let l = fmt_labels(labels, Some(("le", "+Inf".into())));
                        let _ = writeln!(out, "{name}_bucket{l} {count}");
                        let l = fmt_labels(labels, None);
                        let _ = writeln!(out, "{name}_sum{l} {sum}\n{name}_count{l} {count}");
                    }
                    (Value::Summary { window, sum, count }, Kind::Summary(qs)) => {
                        let mut sorted: Vec<f64> = window.iter().copied().collect();
                        sorted.sort_by(f64::total_cmp);
                        for q in qs {
                            let v = quantile(&sorted, *q);
                            let l = fmt_labels(labels, Some(("quantile", fmt_f(*q))));
                            let _ = writeln!(out, "{name}{l} {}", fmt_f(v));
                        }
                        let l = fmt_labels(labels, None);
                        let _ = writeln!(out, "{name}_sum{l} {sum}\n{name}_count{l} {count}");
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

/// Nearest-rank quantile of sorted values (0 when empty).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn renders_every_kind() {
        let mut r = Registry::default();
        r.define("c_total", "a counter", Kind::Counter);
        r.define("h_seconds", "a histogram", Kind::Histogram(vec![0.1, 1.0]));
        r.define("s_seconds", "a summary", Kind::Summary(vec![0.5]));
        r.inc("c_total", &[("route", "/a\"b")], 2.0);
        r.observe("h_seconds", &[], 0.5);
        r.observe("s_seconds", &[("w", "x")], 3.0);
        let t = r.render();
        assert!(t.contains("# TYPE c_total counter"));
        assert!(t.contains("c_total{route=\"/a\\\"b\"} 2"));
        assert!(t.contains("h_seconds_bucket{le=\"0.1\"} 0"));
        assert!(t.contains("h_seconds_bucket{le=\"1\"} 1"));
        assert!(t.contains("h_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(t.contains("s_seconds{w=\"x\",quantile=\"0.5\"} 3"));
        assert!(t.contains("s_seconds_count{w=\"x\"} 1"));
    }

    #[test]
    fn unknown_family_is_ignored() {
        let mut r = Registry::default();
        r.inc("nope", &[], 1.0);
        assert_eq!(r.render(), "");
    }

    proptest! {
        /// Buckets are cumulative and end at the count, whatever is observed.
        #[test]
        fn histogram_buckets_cumulative(xs in proptest::collection::vec(0.0f64..10.0, 0..50)) {
            let mut r = Registry::default();
            r.define("h", "h", Kind::Histogram(vec![0.5, 1.0, 5.0]));
            for x in &xs { r.observe("h", &[], *x); }
            let t = r.render();
            let counts: Vec<u64> = t.lines().filter(|l| l.starts_with("h_bucket"))
                .filter_map(|l| l.rsplit(' ').next()?.parse().ok()).collect();
            prop_assert!(counts.windows(2).all(|w| w[0] <= w[1]));
            if !xs.is_empty() { prop_assert_eq!(counts.last().copied(), Some(xs.len() as u64)); }
        }

        #[test]
        fn quantile_is_an_element(mut xs in proptest::collection::vec(-1e6f64..1e6, 1..100), q in 0.0f64..=1.0) {
            xs.sort_by(f64::total_cmp);
            let v = quantile(&xs, q);
            prop_assert!(xs.contains(&v));
        }
    }
}

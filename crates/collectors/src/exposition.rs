//! Metric families and their Prometheus text exposition (format 0.0.4).

use std::fmt::Write as _;

/// The `# TYPE` of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    /// Quantile samples (a `quantile` label) plus `<name>_sum` and `<name>_count`.
    Summary,
    Untyped,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Summary => "summary",
            MetricType::Untyped => "untyped",
        }
    }
}

/// One sample: label pairs (without the metric name) and a value. `suffix` is appended to the
/// family name (`_sum`, `_count` of a summary; empty otherwise).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub suffix: &'static str,
}

/// A metric family: name, HELP, TYPE and its samples.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricFamily {
    pub name: String,
    pub help: String,
    pub kind: MetricType,
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: MetricType) -> Self {
        MetricFamily {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    /// A family with one unlabelled sample.
    pub fn single(name: &str, help: &str, kind: MetricType, value: f64) -> Self {
        let mut f = MetricFamily::new(name, help, kind);
        f.push(&[], value);
        f
    }

    /// Adds a sample with `labels` (name, value) pairs.
    pub fn push(&mut self, labels: &[(&str, &str)], value: f64) {
        self.push_suffixed("", labels, value);
    }

    /// Adds a sample named `<family><suffix>` (a summary's `_sum` or `_count`).
    pub fn push_suffixed(&mut self, suffix: &'static str, labels: &[(&str, &str)], value: f64) {
        self.samples.push(Sample {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            value,
            suffix,
        });
    }

    /// Adds one summary: a sample per (quantile, value) with `labels` plus `quantile`, then
    /// `_sum` and `_count` with `labels`.
    pub fn push_summary(
        &mut self,
        labels: &[(&str, &str)],
        quantiles: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        for (q, v) in quantiles {
            let q = q.to_string();
            let mut l = labels.to_vec();
            l.push(("quantile", &q));
            self.push(&l, *v);
        }
        self.push_suffixed("_sum", labels, sum);
        self.push_suffixed("_count", labels, count);
    }
}

fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn format_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Appends `families` to `out` in the text exposition format. Families with the same name are
/// merged under one HELP/TYPE header (the first one's); families without samples are skipped.
pub fn write_text(families: &[MetricFamily], out: &mut String) {
    let mut order: Vec<&str> = Vec::new();
    let mut by_name: std::collections::HashMap<&str, Vec<&MetricFamily>> = Default::default();
    for f in families {
        if f.samples.is_empty() {
            continue;
        }
        by_name
            .entry(f.name.as_str())
            .or_insert_with(|| {
                order.push(f.name.as_str());
                Vec::new()
            })
            .push(f);
    }
    for name in order {
        let Some(group) = by_name.get(name) else {
            continue;
        };
        let first = group[0];
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        out.push_str(&first.help.replace('\\', "\\\\").replace('\n', "\\n"));
        out.push_str("\n# TYPE ");
        out.push_str(name);
        out.push(' ');
        out.push_str(first.kind.as_str());
        out.push('\n');
        for f in group {
            for s in &f.samples {
                out.push_str(name);
                out.push_str(s.suffix);
                if !s.labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in s.labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        out.push_str(k);
                        out.push_str("=\"");
                        escape_label(v, out);
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push(' ');
                format_value(s.value, out);
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_headers_labels_and_escapes() {
        let mut f = MetricFamily::new("node_x", "Help \\ text\nmore.", MetricType::Gauge);
        f.push(&[("device", "a\"b\\c\nd")], 1.5);
        f.push(&[], f64::NAN);
        let mut out = String::new();
        write_text(
            &[f, MetricFamily::new("empty", "e", MetricType::Counter)],
            &mut out,
        );
        assert_eq!(
            out,
            "# HELP node_x Help \\\\ text\\nmore.\n# TYPE node_x gauge\n\
             node_x{device=\"a\\\"b\\\\c\\nd\"} 1.5\nnode_x NaN\n"
        );
    }

    #[test]
    fn writes_a_summary_with_sum_and_count() {
        let mut f = MetricFamily::new("lat", "h", MetricType::Summary);
        f.push_summary(&[("cmd", "get")], &[(50.0, 1.5), (99.9, 4.0)], 30.0, 7.0);
        let mut out = String::new();
        write_text(&[f], &mut out);
        assert_eq!(
            out,
            "# HELP lat h\n# TYPE lat summary\n\
             lat{cmd=\"get\",quantile=\"50\"} 1.5\nlat{cmd=\"get\",quantile=\"99.9\"} 4\n\
             lat_sum{cmd=\"get\"} 30\nlat_count{cmd=\"get\"} 7\n"
        );
    }

    #[test]
    fn merges_families_of_the_same_name() {
        let a = MetricFamily::single("m", "h", MetricType::Counter, 1.0);
        let b = MetricFamily::single("m", "h", MetricType::Counter, 2.0);
        let mut out = String::new();
        write_text(&[a, b], &mut out);
        assert_eq!(out.matches("# TYPE m counter").count(), 1);
        assert!(out.ends_with("m 1\nm 2\n"), "{out}");
    }
}

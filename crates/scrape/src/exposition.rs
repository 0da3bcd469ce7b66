//! Parsers for the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text: samples
//! with labels, values and optional timestamps, and per-family metadata (TYPE, HELP, UNIT).
//! OpenMetrics exemplars (`# {trace_id="…"} value [timestamp]`) are kept with their sample;
//! OpenMetrics `_created` lines of counters, histograms and summaries are created timestamps of
//! their family and, as in Prometheus, also series of their own unless
//! `created-timestamp-zero-ingestion` is on (Prometheus' `OpenMetricsSkipSTSeries`).

use crate::target::MetadataEntry;
use model::{Labels, LabelsBuilder, METRIC_NAME};

/// Which text format a body is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    PrometheusText,
    OpenMetrics,
}

impl Format {
    /// Chooses the format from a Content-Type header value.
    pub fn from_content_type(ct: &str) -> Format {
        if ct.trim_start().starts_with("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }
}

/// One parsed sample.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedSample {
    pub labels: Labels,
    pub value: f64,
    /// Explicit timestamp in ms, when the exposition gave one.
    pub timestamp_ms: Option<i64>,
    /// The OpenMetrics exemplar after ` # `; its `ts` is `None` when the line gave no timestamp
    /// (the scrape then uses the sample's time, as Prometheus does).
    pub exemplar: Option<ParsedExemplar>,
}

/// An exemplar as written in an OpenMetrics line.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedExemplar {
    pub labels: Labels,
    pub value: f64,
    pub ts_ms: Option<i64>,
}

impl ParsedExemplar {
    /// The exemplar to store; one without a timestamp takes its sample's time `t`.
    pub fn stored(self, t: i64) -> model::exemplars::Exemplar {
        model::exemplars::Exemplar {
            labels: self.labels,
            value: self.value,
            ts: self.ts_ms.unwrap_or(t),
        }
    }
}

/// One parsed native histogram (protobuf format, or a classic one converted to NHCB).
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedHistogram {
    pub labels: Labels,
    pub h: model::histogram::FloatHistogram,
    /// Integer counts (Prometheus' `Histogram`), not float ones.
    pub integer: bool,
    pub timestamp_ms: Option<i64>,
    pub exemplars: Vec<ParsedExemplar>,
}

/// A whole parsed exposition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    pub samples: Vec<ParsedSample>,
    pub metadata: Vec<MetadataEntry>,
    pub histograms: Vec<ParsedHistogram>,
    /// Created timestamps: OpenMetrics `_created` lines of counters, histograms and summaries
    /// (not series), protobuf `created_timestamp` fields.
    pub created: Vec<Created>,
}

/// The created timestamp of one series of a family (all its samples: `_total`, `_bucket`,
/// `_count`, `_sum`, quantiles, the native histogram).
#[derive(Clone, Debug, PartialEq)]
pub struct Created {
    /// The family's name (the `# TYPE` name).
    pub family: String,
    /// The series' labels without `__name__`, `le` and `quantile`.
    pub labels: Labels,
    pub ct_ms: i64,
}

/// A parse error with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses an exposition body.
pub fn parse(body: &str, format: Format) -> Result<Exposition, ParseError> {
    let mut out = Exposition::default();
    let mut meta: Vec<MetadataEntry> = Vec::new();
    let mut saw_eof = false;
    for (idx, raw) in body.lines().enumerate() {
        let line_no = idx + 1;
        let err = |message: String| ParseError {
            line: line_no,
            message,
        };
        if saw_eof {
            if raw.trim().is_empty() {
                continue;
            }
            return Err(err("unexpected content after # EOF".into()));
        }
        let line = if format == Format::PrometheusText {
            raw.trim()
        } else {
            raw
        };
        if line.is_empty() {
            if format == Format::OpenMetrics {
                return Err(err("empty lines are not allowed in OpenMetrics".into()));
            }
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if format == Format::OpenMetrics && comment.trim() == "EOF" {
                saw_eof = true;
                continue;
            }
            let comment = comment.trim_start();
            let (kw, rest) = comment.split_once(' ').unwrap_or((comment, ""));
            let kind = match kw {
                "HELP" => "help",
                "TYPE" => "type",
                "UNIT" => "unit",
                _ => continue,
            };
            let rest = rest.trim_start();
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            let name = unquote_name(name).map_err(err)?;
            if name.is_empty() {
                return Err(err(format!("missing metric name in # {kw} line")));
            }
            let entry = match meta.iter_mut().find(|m| m.metric == name) {
                Some(e) => e,
                None => {
                    meta.push(MetadataEntry {
                        metric: name.clone(),
                        metric_type: "unknown".into(),
                        help: String::new(),
                        unit: String::new(),
                    });
                    let last = meta.len() - 1;
                    &mut meta[last]
                }
            };
            match kind {
                "help" => entry.help = unescape(text, format == Format::OpenMetrics),
                "unit" => entry.unit = text.trim().to_string(),
                _ => {
                    let t = text.trim();
                    let valid = [
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "untyped",
                        "unknown",
                        "info",
                        "stateset",
                        "gaugehistogram",
                    ];
                    if !valid.contains(&t) {
                        return Err(err(format!("invalid metric type {t:?}")));
                    }
                    entry.metric_type = if t == "untyped" {
                        "unknown".into()
                    } else {
                        t.into()
                    };
                }
            }
            continue;
        }
        let sample = parse_sample_line(line, format).map_err(err)?;
        if format == Format::OpenMetrics {
            if let Some(name) = sample.labels.metric_name() {
                if let Some(base) = name.strip_suffix("_created") {
                    // `_created` of counters/histograms/summaries (Prometheus' typeRequiresST) is
                    // the family's created timestamp; it stays a series of its own unless
                    // created timestamps are ingested as zero samples.
                    if meta.iter().any(|m| {
                        m.metric == base
                            && matches!(m.metric_type.as_str(), "counter" | "histogram" | "summary")
                    }) {
                        if sample.value.is_finite() {
                            out.created.push(Created {
                                family: base.to_string(),
                                labels: sample.labels.without(&[METRIC_NAME]),
                                ct_ms: (sample.value * 1000.0).round() as i64,
                            });
                        }
                        if crate::scrape_loop::created_timestamp_zero_ingestion() {
                            continue;
                        }
                    }
                }
            }
        }
        out.samples.push(sample);
    }
    if format == Format::OpenMetrics && !saw_eof {
        return Err(ParseError {
            line: body.lines().count(),
            message: "OpenMetrics exposition does not end with # EOF".into(),
        });
    }
    out.metadata = meta;
    Ok(out)
}

/// Accepts a bare or double-quoted (UTF-8) metric name.
fn unquote_name(s: &str) -> Result<String, String> {
    if let Some(inner) = s.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or_else(|| format!("unterminated quoted name {s:?}"))?;
        return Ok(unescape(inner, true));
    }
    Ok(s.to_string())
}

fn unescape(s: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('\\') => out.push('\\'),
                Some('"') if quotes => out.push('"'),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

pub(crate) fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Reads a double-quoted string starting at `pos` (which holds the opening quote); returns the
/// unescaped text and the position after the closing quote.
fn read_quoted(line: &str, pos: usize) -> Result<(String, usize), String> {
    let bytes = line.as_bytes();
    let mut out = String::new();
    let mut i = pos + 1;
    let mut seg_start = i;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                out.push_str(&line[seg_start..i]);
                return Ok((out, i + 1));
            }
            b'\\' => {
                out.push_str(&line[seg_start..i]);
                match bytes.get(i + 1) {
                    Some(b'n') => out.push('\n'),
                    Some(b'\\') => out.push('\\'),
                    Some(b'"') => out.push('"'),
                    Some(_) => {
                        // Unknown escapes are kept literally, as Prometheus' text parser does.
                        out.push('\\');
                        i += 1;
                        seg_start = i;
                        continue;
                    }
                    None => return Err("unterminated label value".into()),
                }
                i += 2;
                seg_start = i;
            }
            _ => i += 1,
        }
    }
    Err("unterminated quoted string".into())
}

fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i] == b' ' || bytes[i] == b'\t') {
        i += 1;
    }
    i
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "NaN" | "nan" => Ok(f64::NAN),
        "+Inf" | "Inf" | "+inf" | "inf" => Ok(f64::INFINITY),
        "-Inf" | "-inf" => Ok(f64::NEG_INFINITY),
        _ => {
            let v: f64 = s.parse().map_err(|_| format!("invalid value {s:?}"))?;
            Ok(v)
        }
    }
}

pub(crate) fn parse_sample_line(line: &str, format: Format) -> Result<ParsedSample, String> {
    let bytes = line.as_bytes();
    let mut b = LabelsBuilder::default();
    let mut i = 0;
    let mut name = String::new();
    if bytes.first().is_some_and(|c| is_name_start(*c)) {
        while i < bytes.len() && is_name_char(bytes[i]) {
            i += 1;
        }
        name = line[..i].to_string();
    } else if bytes.first() != Some(&b'{') {
        return Err(format!("invalid metric name in line {line:?}"));
    }
    let mut seen: Vec<String> = Vec::new();
    if bytes.get(i) == Some(&b'{') {
        i += 1;
        loop {
            i = skip_spaces(bytes, i);
            match bytes.get(i) {
                None => return Err("unterminated label set".into()),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            // Label name: bare or quoted; a quoted string without '=' is the metric name.
            let (lname, after) = if bytes[i] == b'"' {
                read_quoted(line, i)?
            } else if is_name_start(bytes[i]) {
                let s = i;
                while i < bytes.len() && is_name_char(bytes[i]) {
                    i += 1;
                }
                (line[s..i].to_string(), i)
            } else {
                return Err(format!("invalid label name at column {}", i + 1));
            };
            i = skip_spaces(bytes, after);
            if bytes.get(i) != Some(&b'=') {
                if name.is_empty() && matches!(bytes.get(i), Some(b',') | Some(b'}')) {
                    name = lname;
                    if bytes.get(i) == Some(&b',') {
                        i += 1;
                    }
                    continue;
                }
                return Err(format!("expected '=' after label name {lname:?}"));
            }
            i = skip_spaces(bytes, i + 1);
            if bytes.get(i) != Some(&b'"') {
                return Err(format!("expected quoted value for label {lname:?}"));
            }
            let (value, after) = read_quoted(line, i)?;
            i = skip_spaces(bytes, after);
            if lname == METRIC_NAME || seen.contains(&lname) {
                return Err(format!("duplicate label name {lname:?}"));
            }
            seen.push(lname.clone());
            b.set(lname, value);
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b'}') => {}
                _ => return Err("expected ',' or '}' in label set".into()),
            }
        }
    }
    if name.is_empty() {
        return Err("sample without metric name".into());
    }
    b.set(METRIC_NAME, name);
    // Value, optional timestamp, optional exemplar (OpenMetrics, after " # ").
    let rest = line.get(i..).unwrap_or("");
    if !rest.starts_with([' ', '\t']) {
        return Err("expected whitespace before the value".into());
    }
    let (rest, exemplar) = match rest.find(" # ") {
        Some(p) if format == Format::OpenMetrics => (
            &rest[..p],
            Some(parse_exemplar(&rest[p + 3..]).map_err(|e| format!("invalid exemplar: {e}"))?),
        ),
        _ => (rest, None),
    };
    let (value, timestamp_ms) = value_and_timestamp(rest, format)?;
    Ok(ParsedSample {
        labels: b.build(),
        value,
        timestamp_ms,
        exemplar,
    })
}

/// The value and optional timestamp after a sample's series (nothing may follow them).
pub(crate) fn value_and_timestamp(
    rest: &str,
    format: Format,
) -> Result<(f64, Option<i64>), String> {
    let mut fields = rest.split_whitespace();
    let value = parse_value(fields.next().ok_or("missing value")?)?;
    let timestamp_ms = match fields.next() {
        None => None,
        Some(ts) => Some(match format {
            Format::PrometheusText => ts
                .parse::<i64>()
                .map_err(|_| format!("invalid timestamp {ts:?}"))?,
            Format::OpenMetrics => openmetrics_ts(ts)?,
        }),
    };
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected text {extra:?} after the timestamp"));
    }
    Ok((value, timestamp_ms))
}

/// An OpenMetrics timestamp (seconds, may be fractional) in ms.
fn openmetrics_ts(ts: &str) -> Result<i64, String> {
    let secs: f64 = ts
        .parse()
        .map_err(|_| format!("invalid timestamp {ts:?}"))?;
    if !secs.is_finite() {
        return Err(format!("invalid timestamp {ts:?}"));
    }
    Ok((secs * 1000.0).round() as i64)
}

/// Parses `{name="value",...} value [timestamp]` (the text after ` # `).
fn parse_exemplar(text: &str) -> Result<ParsedExemplar, String> {
    let bytes = text.as_bytes();
    let mut i = skip_spaces(bytes, 0);
    if bytes.get(i) != Some(&b'{') {
        return Err("expected '{' to start the exemplar's labels".into());
    }
    i += 1;
    let mut b = LabelsBuilder::default();
    loop {
        i = skip_spaces(bytes, i);
        match bytes.get(i) {
            None => return Err("unterminated label set".into()),
            Some(b'}') => {
                i += 1;
                break;
            }
            Some(c) if is_name_start(*c) => {}
            Some(_) => return Err(format!("invalid label name at column {}", i + 1)),
        }
        let s = i;
        while i < bytes.len() && is_name_char(bytes[i]) {
            i += 1;
        }
        let name = &text[s..i];
        i = skip_spaces(bytes, i);
        if bytes.get(i) != Some(&b'=') {
            return Err(format!("expected '=' after label name {name:?}"));
        }
        i = skip_spaces(bytes, i + 1);
        if bytes.get(i) != Some(&b'"') {
            return Err(format!("expected quoted value for label {name:?}"));
        }
        let (value, after) = read_quoted(text, i)?;
        if b.get(name).is_some() {
            return Err(format!("duplicate label name {name:?}"));
        }
        b.set(name, value);
        i = skip_spaces(bytes, after);
        match bytes.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => {}
            _ => return Err("expected ',' or '}' in label set".into()),
        }
    }
    let mut fields = text.get(i..).unwrap_or("").split_whitespace();
    let value = parse_value(fields.next().ok_or("missing value")?)?;
    let ts_ms = fields.next().map(openmetrics_ts).transpose()?;
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected text {extra:?} after the timestamp"));
    }
    Ok(ParsedExemplar {
        labels: b.build(),
        value,
        ts_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PROM_CLIENT: &str = r#"# HELP http_requests_total Total number of HTTP requests
# TYPE http_requests_total counter
http_requests_total{method="GET",route="/api",status="200"} 12
http_requests_total{method="POST",route="/a\"b\\c\nd",status="500"} 3 1700000000000

# HELP http_request_duration_seconds Duration
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1",method="GET"} 1
http_request_duration_seconds_bucket{le="+Inf",method="GET"} 4
http_request_duration_seconds_sum{method="GET"} 2.5
http_request_duration_seconds_count{method="GET"} 4
weird NaN
neg -Inf
"#;

    #[test]
    fn parses_prom_client_output() {
        let e = parse(PROM_CLIENT, Format::PrometheusText).unwrap();
        assert_eq!(e.samples.len(), 8);
        assert_eq!(e.samples[1].labels.get("route"), Some("/a\"b\\c\nd"));
        assert_eq!(e.samples[1].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(e.samples[3].labels.get("le"), Some("+Inf"));
        assert!(e.samples[6].value.is_nan());
        assert_eq!(e.metadata[0].metric_type, "counter");
        assert_eq!(e.metadata[1].help, "Duration");
    }

    #[test]
    fn openmetrics_with_exemplars_created_and_eof() {
        let body = "# TYPE foo counter\n# UNIT foo seconds\nfoo_total 17.0 1520879607.789 # {id=\"abc\"} 1.0 1520879607.7\nfoo_created 1520430000.123\n# EOF\n";
        let e = parse(body, Format::OpenMetrics).unwrap();
        assert_eq!(e.samples.len(), 2);
        assert_eq!(e.samples[1].labels.metric_name(), Some("foo_created"));
        assert_eq!(e.created[0].ct_ms, 1_520_430_000_123);
        assert_eq!(e.samples[0].timestamp_ms, Some(1_520_879_607_789));
        assert_eq!(e.metadata[0].unit, "seconds");
        let ex = e.samples[0].exemplar.as_ref().unwrap();
        assert_eq!(ex.labels.get("id"), Some("abc"));
        assert_eq!((ex.value, ex.ts_ms), (1.0, Some(1_520_879_607_700)));
        assert!(parse("foo 1\n", Format::OpenMetrics).is_err());
        // A broken exemplar fails the scrape, as in Prometheus' OpenMetrics parser.
        let bad = "foo_total 1 # {id=abc} 1\n# EOF\n";
        assert!(parse(bad, Format::OpenMetrics).is_err());
        let no_ts = "foo_total 1 # {trace_id=\"t\",span_id=\"s\"} 0.5\n# EOF\n";
        let e = parse(no_ts, Format::OpenMetrics).unwrap();
        let ex = e.samples[0].exemplar.as_ref().unwrap();
        assert_eq!((ex.labels.len(), ex.ts_ms), (2, None));
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("ok 1\nbad{x=1} 2\n", Format::PrometheusText).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(parse("x{a=\"1\",a=\"2\"} 1", Format::PrometheusText).is_err());
        assert!(parse("x 1 2 3", Format::PrometheusText).is_err());
        assert!(parse("x abc", Format::PrometheusText).is_err());
    }

    #[test]
    fn utf8_quoted_names() {
        let e = parse("{\"my.metric\", a=\"b\"} 1\n", Format::PrometheusText).unwrap();
        assert_eq!(e.samples[0].labels.metric_name(), Some("my.metric"));
    }

    #[test]
    fn openmetrics_histogram_summary_and_other_types() {
        let body = "# TYPE rpc histogram\nrpc_bucket{le=\"0.1\"} 1 # {trace_id=\"t\"} 0.05\nrpc_bucket{le=\"+Inf\"} 3\nrpc_sum 0.7\nrpc_count 3\nrpc_created 1.5e9\n# TYPE lat summary\nlat{quantile=\"0.5\"} NaN\nlat_sum 1\nlat_count 2\nlat_created 1.5e9\n# TYPE build info\nbuild_info{version=\"1\"} 1\n# TYPE feature stateset\nfeature{feature=\"a\"} 1\n# TYPE queue gaugehistogram\nqueue_bucket{le=\"+Inf\"} 4\nqueue_gcount 4\nqueue_gsum 9\n# EOF\n";
        let e = parse(body, Format::OpenMetrics).unwrap();
        let names: Vec<&str> = e
            .samples
            .iter()
            .filter_map(|s| s.labels.metric_name())
            .collect();
        // Without created-timestamp-zero-ingestion `_created` lines stay series, as in Prometheus.
        assert_eq!(names.iter().filter(|n| n.ends_with("_created")).count(), 2);
        assert_eq!(e.created.len(), 2);
        assert_eq!(names.len(), 14);
        assert_eq!(e.samples[1].labels.get("le"), Some("+Inf"));
        assert!(e.samples[5].value.is_nan());
        let types: Vec<&str> = e.metadata.iter().map(|m| m.metric_type.as_str()).collect();
        assert_eq!(
            types,
            ["histogram", "summary", "info", "stateset", "gaugehistogram"]
        );
        // A `_created` of a gauge is an ordinary series.
        let gauge = parse("# TYPE g gauge\ng_created 1\n# EOF\n", Format::OpenMetrics).unwrap();
        assert_eq!(gauge.samples.len(), 1);
    }

    #[test]
    fn content_type_selects_the_format() {
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_content_type("text/plain; version=0.0.4"),
            Format::PrometheusText
        );
        assert_eq!(Format::from_content_type(""), Format::PrometheusText);
    }

    proptest! {
        #[test]
        fn never_panics(body in "\\PC{0,200}") {
            let _ = parse(&body, Format::PrometheusText);
            let _ = parse(&body, Format::OpenMetrics);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let body = String::from_utf8_lossy(&bytes);
            let _ = parse(&body, Format::PrometheusText);
            let _ = parse(&body, Format::OpenMetrics);
        }

        #[test]
        fn structured_noise_never_panics(body in "([a-z_{}=\",# \\\n.0-9eE+-]|NaN|Inf|# EOF|# TYPE|# HELP|# UNIT){0,60}") {
            let _ = parse(&body, Format::PrometheusText);
            let _ = parse(&body, Format::OpenMetrics);
        }

        #[test]
        fn round_trips_generated_lines(
            name in "[a-z_][a-z0-9_]{0,10}",
            lv in "[ -~]{0,12}",
            v in any::<f64>().prop_filter("finite", |v| v.is_finite()),
            ts in proptest::option::of(-1_000_000_000_000i64..4_000_000_000_000i64),
        ) {
            let escaped = lv.replace('\\', "\\\\").replace('"', "\\\"");
            let line = match ts {
                Some(t) => format!("{name}{{l=\"{escaped}\"}} {v:e} {t}\n"),
                None => format!("{name}{{l=\"{escaped}\"}} {v:e}\n"),
            };
            let e = parse(&line, Format::PrometheusText).unwrap();
            prop_assert_eq!(e.samples[0].labels.get("l").unwrap_or(""), lv.as_str());
            prop_assert_eq!(e.samples[0].value, v);
            prop_assert_eq!(e.samples[0].timestamp_ms, ts);
        }
    }
}

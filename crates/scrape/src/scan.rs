//! The scrape path's text scanner: splits each sample line of a Prometheus text or OpenMetrics
//! body into its series text, value and timestamp without allocating, so the scrape cache can
//! look the series text up and parse labels only for series it has not seen.

use crate::exposition::{self, Format, ParseError, ParsedSample};

/// One sample line, split but not parsed: `series` is the metric name and label set exactly as
/// written (the scrape cache's key).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawSample<'a> {
    pub series: &'a str,
    pub value: f64,
    /// Explicit timestamp in ms, when the line gave one.
    pub timestamp_ms: Option<i64>,
    /// Whether an OpenMetrics exemplar follows (` # {...}`).
    pub has_exemplar: bool,
    /// The whole line, for a full parse on a cache miss.
    pub line_text: &'a str,
    pub format: Format,
    /// 1-based line number.
    pub line: usize,
}

impl RawSample<'_> {
    /// The full parse of the line (labels, exemplar), as [`exposition::parse`] does it.
    pub fn parse(&self) -> Result<ParsedSample, ParseError> {
        exposition::parse_sample_line(self.line_text, self.format).map_err(|message| ParseError {
            line: self.line,
            message,
        })
    }
}

/// Walks a body line by line and yields its samples. Sample lines are checked as far as
/// splitting needs (name, balanced label set, value, timestamp); a series text the cache misses
/// gets the full check of [`RawSample::parse`]. Metadata lines (`# HELP|TYPE|UNIT`) are not
/// checked here but hashed into [`Scanner::meta_hash`]: the caller runs the full
/// [`exposition::parse`] (which checks them and yields the metadata) whenever that hash differs
/// from the last accepted body's. OpenMetrics `_created` samples of counters, histograms and
/// summaries are skipped only with `created-timestamp-zero-ingestion`, as `exposition::parse`
/// does.
pub struct Scanner<'a> {
    lines: std::str::Lines<'a>,
    format: Format,
    line: usize,
    saw_eof: bool,
    done: bool,
    /// OpenMetrics only: family name → type, for the `_created` rule.
    types: Vec<(&'a str, &'a str)>,
    meta_hash: u64,
}

impl<'a> Scanner<'a> {
    pub fn new(body: &'a str, format: Format) -> Scanner<'a> {
        Scanner {
            lines: body.lines(),
            format,
            line: 0,
            saw_eof: false,
            done: false,
            types: Vec::new(),
            meta_hash: 0xcbf2_9ce4_8422_2325,
        }
    }

    /// FNV-1a over the metadata lines seen so far.
    pub fn meta_hash(&self) -> u64 {
        self.meta_hash
    }

    /// The next sample; `None` after the last line.
    pub fn next_sample(&mut self) -> Result<Option<RawSample<'a>>, ParseError> {
        let om = self.format == Format::OpenMetrics;
        while !self.done {
            let Some(raw) = self.lines.next() else {
                self.done = true;
                if om && !self.saw_eof {
                    return Err(ParseError {
                        line: self.line,
                        message: "OpenMetrics exposition does not end with # EOF".into(),
                    });
                }
                break;
            };
            self.line += 1;
            let err = |message: String| ParseError {
                line: self.line,
                message,
            };
            if self.saw_eof {
                if raw.trim().is_empty() {
                    continue;
                }
                return Err(err("unexpected content after # EOF".into()));
            }
            let line = if om { raw } else { raw.trim() };
            if line.is_empty() {
                if om {
                    return Err(err("empty lines are not allowed in OpenMetrics".into()));
                }
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                if om && comment.trim() == "EOF" {
                    self.saw_eof = true;
                    continue;
                }
                self.comment(comment);
                continue;
            }
            let sample = split(line, self.format, self.line).map_err(err)?;
            if om
                && crate::scrape_loop::created_timestamp_zero_ingestion()
                && self.is_created(&sample)
            {
                continue;
            }
            return Ok(Some(sample));
        }
        Ok(None)
    }

    fn comment(&mut self, comment: &'a str) {
        let comment = comment.trim_start();
        let (kw, rest) = comment.split_once(' ').unwrap_or((comment, ""));
        if !matches!(kw, "HELP" | "TYPE" | "UNIT") {
            return;
        }
        for b in comment.bytes().chain([0xff]) {
            self.meta_hash = (self.meta_hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        if kw == "TYPE" && self.format == Format::OpenMetrics {
            let rest = rest.trim_start();
            let (name, t) = rest.split_once(' ').unwrap_or((rest, ""));
            let t = t.trim();
            match self.types.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 = t,
                None => self.types.push((name, t)),
            }
        }
    }

    /// Whether an OpenMetrics sample is the `_created` series of a counter-like family.
    fn is_created(&self, sample: &RawSample<'_>) -> bool {
        if self.types.is_empty() || !sample.series.contains("_created") {
            return false;
        }
        let bare = sample.series.split('{').next().unwrap_or("");
        let parsed;
        let name = if bare.is_empty() {
            parsed = sample.parse().ok().map(|p| p.labels);
            parsed.as_ref().and_then(|l| l.metric_name()).unwrap_or("")
        } else {
            bare
        };
        let Some(base) = name.strip_suffix("_created") else {
            return false;
        };
        self.types.iter().any(|(n, t)| {
            n.trim_matches('"') == base && matches!(*t, "counter" | "histogram" | "summary")
        })
    }
}

/// Where the series text of a sample line ends: after the metric name and the label set, whose
/// quoted strings may hold any character.
fn series_end(bytes: &[u8]) -> Result<usize, String> {
    let mut i = 0;
    while i < bytes.len() && exposition::is_name_char(bytes[i]) {
        i += 1;
    }
    if i == 0 && bytes.first() != Some(&b'{') || i > 0 && !exposition::is_name_start(bytes[0]) {
        return Err("invalid metric name".into());
    }
    if bytes.get(i) != Some(&b'{') {
        return Ok(i);
    }
    i += 1;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'}' => return Ok(i + 1),
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return Err("unterminated quoted string".into()),
                        Some(b'"') => break,
                        Some(b'\\') => i += 2,
                        Some(_) => i += 1,
                    }
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    Err("unterminated label set".into())
}

/// Splits a sample line into series text, value and timestamp.
fn split(line: &str, format: Format, line_no: usize) -> Result<RawSample<'_>, String> {
    let end = series_end(line.as_bytes())?;
    let (series, rest) = line.split_at(end);
    if !rest.starts_with([' ', '\t']) {
        return Err("expected whitespace before the value".into());
    }
    let (rest, has_exemplar) = match format {
        Format::OpenMetrics => match rest.find(" # ") {
            Some(p) => (&rest[..p], true),
            None => (rest, false),
        },
        Format::PrometheusText => (rest, false),
    };
    let (value, timestamp_ms) = exposition::value_and_timestamp(rest, format)?;
    Ok(RawSample {
        series,
        value,
        timestamp_ms,
        has_exemplar,
        line_text: line,
        format,
        line: line_no,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scan_all(body: &str, format: Format) -> Result<Vec<RawSample<'_>>, ParseError> {
        let mut s = Scanner::new(body, format);
        let mut out = Vec::new();
        while let Some(x) = s.next_sample()? {
            out.push(x);
        }
        Ok(out)
    }

    #[test]
    fn splits_series_text_value_and_timestamp() {
        let body = "# TYPE a counter\na{x=\"} \\\" {\",y=\"2\"} 1.5 1700000000000\nb 2\n{\"my.metric\",z=\"1\"}\t3\n";
        let s = scan_all(body, Format::PrometheusText).unwrap();
        assert_eq!(s[0].series, "a{x=\"} \\\" {\",y=\"2\"}");
        assert_eq!(
            (s[0].value, s[0].timestamp_ms),
            (1.5, Some(1_700_000_000_000))
        );
        assert_eq!((s[1].series, s[1].value), ("b", 2.0));
        assert_eq!(s[2].series, "{\"my.metric\",z=\"1\"}");
        assert_eq!(s[2].line, 4);
    }

    #[test]
    fn openmetrics_created_eof_and_exemplars() {
        let body = "# TYPE foo counter\nfoo_total 17.0 1520879607.789 # {id=\"abc\"} 1.0\nfoo_created 1.5e9\n# TYPE g gauge\ng_created 1\n# EOF\n";
        let s = scan_all(body, Format::OpenMetrics).unwrap();
        let names: Vec<&str> = s.iter().map(|x| x.series).collect();
        // `_created` lines stay series unless created-timestamp-zero-ingestion is on.
        assert_eq!(names, ["foo_total", "foo_created", "g_created"]);
        assert!(s[0].has_exemplar);
        assert_eq!(s[0].timestamp_ms, Some(1_520_879_607_789));
        assert!(scan_all("foo 1\n", Format::OpenMetrics).is_err());
    }

    #[test]
    fn metadata_hash_follows_metadata_lines_only() {
        let hash = |b: &str| {
            let mut s = Scanner::new(b, Format::PrometheusText);
            while s.next_sample().unwrap().is_some() {}
            s.meta_hash()
        };
        assert_eq!(
            hash("# HELP a x\na 1\n"),
            hash("# HELP a x\na 2\n# other\n")
        );
        assert_ne!(hash("# HELP a x\na 1\n"), hash("# HELP a y\na 1\n"));
    }

    proptest! {
        /// Whatever the scanner accepts, the full parser accepts with the same samples.
        #[test]
        fn agrees_with_the_full_parser(body in "([a-z_{}=\",# \\\n.0-9eE+-]|NaN|Inf|# EOF|# TYPE a counter|a_created){0,60}") {
            for format in [Format::PrometheusText, Format::OpenMetrics] {
                let full = exposition::parse(&body, format);
                let scanned = scan_all(&body, format);
                if let (Ok(full), Ok(scanned)) = (&full, &scanned) {
                    prop_assert_eq!(full.samples.len(), scanned.len());
                    for (f, s) in full.samples.iter().zip(scanned) {
                        let p = s.parse().unwrap();
                        prop_assert_eq!(&p.labels, &f.labels);
                        prop_assert_eq!(s.value.to_bits(), f.value.to_bits());
                        prop_assert_eq!(s.timestamp_ms, f.timestamp_ms);
                    }
                }
                if full.is_ok() {
                    prop_assert!(scanned.is_ok(), "{:?}", scanned);
                }
            }
        }
    }
}

//! promtail `pipeline_stages` applied to tailed lines: parsing stages (`docker`, `cri`, `json`
//! with JMESPath-style dotted expressions, `regex`), transform stages (`labels`,
//! `static_labels`, `labeldrop`, `labelallow`, `timestamp` with Go layouts and named formats,
//! `output`, `decolorize`, `structured_metadata`), filtering (`match`, `drop`) and `multiline`
//! (entries grouped from a `firstline` regex, flushed after `max_wait_time` or `max_lines`).
//! Unknown stages are configuration errors, so nothing is silently skipped.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use regex::Regex;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A line travelling through the pipeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub labels: BTreeMap<String, String>,
    pub extracted: BTreeMap<String, String>,
    pub metadata: Vec<(String, String)>,
    pub line: String,
    pub ts_ns: i64,
    /// Byte offsets of the line(s) in the file: `[start, end)`.
    pub start: u64,
    pub end: u64,
}

#[derive(Clone, Debug)]
pub enum TsFormat {
    Unix,
    UnixMs,
    UnixUs,
    UnixNs,
    Rfc3339,
    /// chrono strftime pattern converted from a Go layout; `bool` = layout has a year.
    Layout(String, bool),
}

#[derive(Clone, Debug)]
pub enum Stage {
    Docker,
    Cri,
    Json {
        expressions: Vec<(String, Vec<PathPart>)>,
        source: Option<String>,
    },
    Regex {
        re: Regex,
        source: Option<String>,
    },
    Labels(Vec<(String, String)>),
    StaticLabels(Vec<(String, String)>),
    LabelDrop(Vec<String>),
    LabelAllow(Vec<String>),
    StructuredMetadata(Vec<(String, String)>),
    Timestamp {
        source: String,
        formats: Vec<TsFormat>,
        skip_on_failure: bool,
    },
    Output(String),
    Decolorize,
    Multiline {
        firstline: Regex,
        max_wait: Duration,
        max_lines: usize,
    },
    Match {
        matchers: Matchers,
        line_filters: LineFilters,
        drop: bool,
        stages: Vec<Stage>,
    },
    Drop {
        source: Option<String>,
        expression: Option<Regex>,
        value: Option<String>,
        older_than: Option<Duration>,
        longer_than: Option<usize>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum PathPart {
    Key(String),
    Index(usize),
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(x) => Some(x.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A `name: source` mapping (labels, structured_metadata, json expressions): a null or empty
/// source means the name itself, as promtail's `validateLabelsConfig` does.
fn str_map(v: Option<&Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(Value::Mapping(m)) = v {
        for (k, val) in m {
            if let Some(k) = s(k) {
                let src = s(val)
                    .filter(|x| !x.is_empty())
                    .unwrap_or_else(|| k.clone());
                out.push((k, src));
            }
        }
    }
    out
}

/// `static_labels`: promtail skips a null or empty value.
fn static_map(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Value::Mapping(m) = v {
        for (k, val) in m {
            if let (Some(k), Some(v)) = (s(k), s(val).filter(|x| !x.is_empty())) {
                out.push((k, v));
            }
        }
    }
    out
}

/// Parses a JMESPath-like expression: `a.b[0]."c.d"`.
pub fn parse_path(expr: &str) -> Result<Vec<PathPart>, String> {
    let mut parts = Vec::new();
    let c: Vec<char> = expr.trim().chars().collect();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '.' => i += 1,
            '"' => {
                let mut k = String::new();
                i += 1;
                while i < c.len() && c[i] != '"' {
                    k.push(c[i]);
                    i += 1;
                }
                if i >= c.len() {
                    return Err(format!("unterminated quote in expression {expr:?}"));
                }
                i += 1;
                parts.push(PathPart::Key(k));
            }
            '[' => {
                let mut n = String::new();
                i += 1;
                while i < c.len() && c[i] != ']' {
                    n.push(c[i]);
                    i += 1;
                }
                if i >= c.len() {
                    return Err(format!("unterminated [ in expression {expr:?}"));
                }
                i += 1;
                parts.push(PathPart::Index(n.trim().parse().map_err(|_| {
                    format!("unsupported index [{n}] in expression {expr:?}")
                })?));
            }
            _ => {
                let mut k = String::new();
                while i < c.len() && c[i] != '.' && c[i] != '[' {
                    k.push(c[i]);
                    i += 1;
                }
                if !k
                    .chars()
                    .all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '-' || ch == '@')
                {
                    return Err(format!("unsupported JMESPath expression {expr:?} (use dotted paths, [n] and \"quoted\" keys)"));
                }
                parts.push(PathPart::Key(k));
            }
        }
    }
    if parts.is_empty() {
        return Err("empty expression".into());
    }
    Ok(parts)
}

/// Converts a Go reference-time layout to a chrono format string.
pub fn go_layout(layout: &str) -> (String, bool) {
    const TOKENS: &[(&str, &str)] = &[
        ("January", "%B"),
        ("Monday", "%A"),
        ("Z07:00", "%:z"),
        ("-07:00", "%:z"),
        ("-0700", "%z"),
        ("Z0700", "%z"),
        (".000000000", "%.9f"),
        (".999999999", "%.f"),
        (".000000", "%.6f"),
        (".999999", "%.f"),
        (".000", "%.3f"),
        (".999", "%.f"),
        (",000", ",%3f"),
        ("2006", "%Y"),
        ("Jan", "%b"),
        ("Mon", "%a"),
        ("MST", "%Z"),
        ("-07", "%z"),
        ("01", "%m"),
        ("02", "%d"),
        ("_2", "%e"),
        ("06", "%y"),
        ("15", "%H"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("PM", "%p"),
        ("pm", "%P"),
        ("1", "%-m"),
        ("2", "%-d"),
        ("3", "%-I"),
        ("4", "%-M"),
        ("5", "%-S"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    let mut has_year = false;
    'outer: while !rest.is_empty() {
        for (tok, f) in TOKENS {
            if let Some(r) = rest.strip_prefix(tok) {
                if *tok == "2006" || *tok == "06" {
                    has_year = true;
                }
                out.push_str(f);
                rest = r;
                continue 'outer;
            }
        }
        let ch = rest.chars().next().unwrap_or(' ');
        if ch == '%' {
            out.push_str("%%");
        } else {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    (out, has_year)
}

fn ts_format(name: &str) -> TsFormat {
    let named = match name {
        "ANSIC" => "Mon Jan _2 15:04:05 2006",
        "UnixDate" => "Mon Jan _2 15:04:05 MST 2006",
        "RubyDate" => "Mon Jan 02 15:04:05 -0700 2006",
        "RFC822" => "02 Jan 06 15:04 MST",
        "RFC822Z" => "02 Jan 06 15:04 -0700",
        "RFC850" => "Monday, 02-Jan-06 15:04:05 MST",
        "RFC1123" => "Mon, 02 Jan 2006 15:04:05 MST",
        "RFC1123Z" => "Mon, 02 Jan 2006 15:04:05 -0700",
        "RFC3339" | "RFC3339Nano" => return TsFormat::Rfc3339,
        "Unix" => return TsFormat::Unix,
        "UnixMs" => return TsFormat::UnixMs,
        "UnixUs" => return TsFormat::UnixUs,
        "UnixNs" => return TsFormat::UnixNs,
        other => other,
    };
    let (f, y) = go_layout(named);
    TsFormat::Layout(f, y)
}

/// Parses a timestamp with one format; `None` if it does not fit.
pub fn parse_ts(v: &str, f: &TsFormat) -> Option<i64> {
    let v = v.trim();
    match f {
        TsFormat::Unix => v.parse::<f64>().ok().map(|x| (x * 1e9) as i64),
        TsFormat::UnixMs => v.parse::<i64>().ok().map(|x| x.saturating_mul(1_000_000)),
        TsFormat::UnixUs => v.parse::<i64>().ok().map(|x| x.saturating_mul(1000)),
        TsFormat::UnixNs => v.parse::<i64>().ok(),
        TsFormat::Rfc3339 => DateTime::parse_from_rfc3339(v)
            .ok()
            .and_then(|d| d.timestamp_nanos_opt()),
        TsFormat::Layout(p, has_year) => {
            let (p, v) = if *has_year {
                (p.clone(), v.to_string())
            } else {
                (
                    format!("%Y {p}"),
                    format!("{} {v}", Utc::now().format("%Y")),
                )
            };
            if let Ok(d) = DateTime::parse_from_str(&v, &p) {
                return d.timestamp_nanos_opt();
            }
            if let Ok(d) = NaiveDateTime::parse_from_str(&v, &p) {
                return d.and_utc().timestamp_nanos_opt();
            }
            // Layouts with a zone abbreviation (MST): chrono cannot parse names; treat as UTC.
            if p.contains("%Z") {
                let p2 = p.replace("%Z", "");
                let v2: String = v
                    .split_whitespace()
                    .filter(|w| {
                        !w.chars().all(|c| c.is_ascii_uppercase()) || w.len() < 3 || w.len() > 5
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                let p2: String = p2.split_whitespace().collect::<Vec<_>>().join(" ");
                if let Ok(d) = NaiveDateTime::parse_from_str(&v2, &p2) {
                    return Utc.from_utc_datetime(&d).timestamp_nanos_opt();
                }
            }
            None
        }
    }
}

/// Label matchers (name, value, regex, negated) of a `match` selector.
type Matchers = Vec<(String, String, Option<Regex>, bool)>;
/// Line filters (keep when matching?, regex) of a `match` selector.
type LineFilters = Vec<(bool, Regex)>;

fn parse_selector(sel: &str) -> Result<(Matchers, LineFilters), String> {
    let sel = sel.trim();
    let close = sel
        .find('}')
        .ok_or_else(|| format!("invalid selector {sel:?}: missing }}"))?;
    let inner = sel
        .strip_prefix('{')
        .ok_or_else(|| format!("invalid selector {sel:?}: must start with {{"))?;
    let inner = &inner[..close - 1];
    let m_re =
        Regex::new(r#"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$"#)
            .map_err(|e| e.to_string())?;
    let mut matchers = Vec::new();
    for part in inner.split(',').filter(|p| !p.trim().is_empty()) {
        let c = m_re
            .captures(part)
            .ok_or_else(|| format!("invalid matcher {part:?} in selector {sel:?}"))?;
        let (name, op, val) = (c[1].to_string(), &c[2], c[3].replace("\\\"", "\""));
        let (re, negate) = match op {
            "=~" | "!~" => (
                Some(Regex::new(&format!("^(?:{val})$")).map_err(|e| e.to_string())?),
                op == "!~",
            ),
            _ => (None, op == "!="),
        };
        matchers.push((name, val, re, negate));
    }
    let mut filters = Vec::new();
    let f_re =
        Regex::new(r#"^\s*(\|=|!=|\|~|!~)\s*"((?:[^"\\]|\\.)*)""#).map_err(|e| e.to_string())?;
    let mut rest = &sel[close + 1..];
    while !rest.trim().is_empty() {
        let c = f_re
            .captures(rest)
            .ok_or_else(|| format!("unsupported pipeline in match selector {sel:?}"))?;
        let pat = c[2].replace("\\\"", "\"");
        let re = match &c[1] {
            "|=" | "!=" => Regex::new(&regex::escape(&pat)),
            _ => Regex::new(&pat),
        }
        .map_err(|e| e.to_string())?;
        filters.push((c[1].starts_with('|'), re));
        rest = &rest[c[0].len()..];
    }
    Ok((matchers, filters))
}

impl Stage {
    /// Parses one `pipeline_stages` item (a one-key mapping).
    pub fn parse(v: &Value) -> Result<Stage, String> {
        let m = v
            .as_mapping()
            .ok_or("a stage must be a mapping like `- json: {...}`")?;
        let (k, body) = m.iter().next().ok_or("empty stage")?;
        let name = s(k).ok_or("stage name must be a string")?;
        let get = |key: &str| body.as_mapping().and_then(|b| b.get(key));
        let gets = |key: &str| get(key).and_then(s);
        Ok(match name.as_str() {
            "docker" => Stage::Docker,
            "cri" => Stage::Cri,
            "json" => {
                let mut expressions = Vec::new();
                for (k, e) in str_map(get("expressions")) {
                    expressions.push((k, parse_path(&e)?));
                }
                Stage::Json {
                    expressions,
                    source: gets("source"),
                }
            }
            "regex" => Stage::Regex {
                re: Regex::new(&gets("expression").ok_or("regex stage requires expression")?)
                    .map_err(|e| format!("regex stage: {e}"))?,
                source: gets("source"),
            },
            "labels" => Stage::Labels(str_map(Some(body))),
            "static_labels" => Stage::StaticLabels(static_map(body)),
            "structured_metadata" => Stage::StructuredMetadata(str_map(Some(body))),
            "labeldrop" | "labelallow" => {
                let names: Vec<String> = match body {
                    Value::Sequence(items) => items.iter().filter_map(s).collect(),
                    _ => return Err(format!("{name} takes a list of label names")),
                };
                if name == "labeldrop" {
                    Stage::LabelDrop(names)
                } else {
                    Stage::LabelAllow(names)
                }
            }
            "timestamp" => {
                let mut formats = vec![ts_format(
                    &gets("format").ok_or("timestamp stage requires format")?,
                )];
                if let Some(Value::Sequence(fb)) = get("fallback_formats") {
                    formats.extend(fb.iter().filter_map(s).map(|f| ts_format(&f)));
                }
                if gets("location").is_some() {
                    tracing::warn!("timestamp stage: location is not supported; times without a zone are read as UTC");
                }
                Stage::Timestamp {
                    source: gets("source").ok_or("timestamp stage requires source")?,
                    formats,
                    skip_on_failure: gets("action_on_failure").as_deref() == Some("skip"),
                }
            }
            "output" => Stage::Output(gets("source").ok_or("output stage requires source")?),
            "decolorize" => Stage::Decolorize,
            "multiline" => Stage::Multiline {
                firstline: Regex::new(
                    &gets("firstline").ok_or("multiline stage requires firstline")?,
                )
                .map_err(|e| format!("multiline firstline: {e}"))?,
                max_wait: match gets("max_wait_time") {
                    Some(d) => crate::config::parse_duration(&d)?,
                    None => Duration::from_secs(3),
                },
                max_lines: gets("max_lines")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(128),
            },
            "match" => {
                let (matchers, line_filters) =
                    parse_selector(&gets("selector").ok_or("match stage requires selector")?)?;
                let drop = gets("action").as_deref() == Some("drop");
                let mut stages = Vec::new();
                if let Some(Value::Sequence(items)) = get("stages") {
                    for it in items {
                        let st = Stage::parse(it)?;
                        if matches!(st, Stage::Multiline { .. }) {
                            return Err("multiline is not supported inside match".into());
                        }
                        stages.push(st);
                    }
                }
                Stage::Match {
                    matchers,
                    line_filters,
                    drop,
                    stages,
                }
            }
            "drop" => Stage::Drop {
                source: gets("source"),
                expression: gets("expression")
                    .map(|e| Regex::new(&e))
                    .transpose()
                    .map_err(|e| format!("drop expression: {e}"))?,
                value: gets("value"),
                older_than: gets("older_than")
                    .map(|d| crate::config::parse_duration(&d))
                    .transpose()?,
                longer_than: gets("longer_than")
                    .map(|b| {
                        b.trim()
                            .parse::<usize>()
                            .map_err(|_| format!("drop longer_than {b:?}: give bytes as a number"))
                    })
                    .transpose()?,
            },
            other => {
                return Err(format!(
                    "stage {other:?} is not supported by the pharos tailer"
                ))
            }
        })
    }
}

fn json_get<'a>(v: &'a serde_json::Value, path: &[PathPart]) -> Option<&'a serde_json::Value> {
    let mut cur = v;
    for p in path {
        cur = match p {
            PathPart::Key(k) => cur.get(k.as_str())?,
            PathPart::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur)
}

fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn strip_ansi(s: &str) -> String {
    static_re(r"\x1b\[[0-9;]*[A-Za-z]")
        .replace_all(s, "")
        .into_owned()
}

fn static_re(p: &str) -> Regex {
    Regex::new(p).unwrap_or_else(|_| Regex::new("$^").unwrap_or_else(|_| unreachable!()))
}

/// Applies one non-multiline stage; `false` = drop the entry.
fn apply(stage: &Stage, e: &mut Entry) -> bool {
    match stage {
        Stage::Docker => {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&e.line) {
                if let Some(log) = v.get("log").and_then(|x| x.as_str()) {
                    if let Some(st) = v.get("stream").and_then(|x| x.as_str()) {
                        e.labels.insert("stream".into(), st.to_string());
                    }
                    if let Some(t) = v
                        .get("time")
                        .and_then(|x| x.as_str())
                        .and_then(|t| parse_ts(t, &TsFormat::Rfc3339))
                    {
                        e.ts_ns = t;
                    }
                    e.line = log.strip_suffix('\n').unwrap_or(log).to_string();
                }
            }
            true
        }
        Stage::Cri => {
            let mut it = e.line.splitn(4, ' ');
            if let (Some(t), Some(stream), Some(flags), Some(msg)) =
                (it.next(), it.next(), it.next(), it.next())
            {
                if let Some(ts) = parse_ts(t, &TsFormat::Rfc3339) {
                    if flags == "F" || flags == "P" {
                        e.ts_ns = ts;
                        e.labels.insert("stream".into(), stream.to_string());
                        e.extracted.insert("flags".into(), flags.to_string());
                        e.line = msg.to_string();
                    }
                }
            }
            true
        }
        Stage::Json {
            expressions,
            source,
        } => {
            let text = match source {
                Some(src) => e.extracted.get(src).cloned().unwrap_or_default(),
                None => e.line.clone(),
            };
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                for (name, path) in expressions {
                    if let Some(x) = json_get(&v, path) {
                        if !x.is_null() {
                            e.extracted.insert(name.clone(), json_text(x));
                        }
                    }
                }
            }
            true
        }
        Stage::Regex { re, source } => {
            let text = match source {
                Some(src) => e.extracted.get(src).cloned().unwrap_or_default(),
                None => e.line.clone(),
            };
            if let Some(c) = re.captures(&text) {
                for name in re.capture_names().flatten() {
                    if let Some(m) = c.name(name) {
                        e.extracted.insert(name.to_string(), m.as_str().to_string());
                    }
                }
            }
            true
        }
        Stage::Labels(map) => {
            for (label, src) in map {
                // An extracted empty value sets the label empty, i.e. removes it (promtail).
                match e.extracted.get(src) {
                    Some(v) if !v.is_empty() => {
                        e.labels.insert(label.clone(), v.clone());
                    }
                    Some(_) => {
                        e.labels.remove(label);
                    }
                    None => {}
                }
            }
            true
        }
        Stage::StaticLabels(map) => {
            for (k, v) in map {
                e.labels.insert(k.clone(), v.clone());
            }
            true
        }
        Stage::StructuredMetadata(map) => {
            for (k, src) in map {
                if let Some(v) = e.extracted.get(src).or_else(|| e.labels.get(src)).cloned() {
                    // A label that became structured metadata leaves the stream labels.
                    if e.labels.get(src) == Some(&v) {
                        e.labels.remove(src);
                    }
                    e.metadata.push((k.clone(), v));
                }
            }
            true
        }
        Stage::LabelDrop(names) => {
            for n in names {
                e.labels.remove(n);
            }
            true
        }
        Stage::LabelAllow(names) => {
            e.labels.retain(|k, _| names.contains(k));
            true
        }
        Stage::Timestamp {
            source, formats, ..
        } => {
            if let Some(v) = e.extracted.get(source) {
                if let Some(ts) = formats.iter().find_map(|f| parse_ts(v, f)) {
                    e.ts_ns = ts;
                }
            }
            true
        }
        Stage::Output(src) => {
            if let Some(v) = e.extracted.get(src) {
                e.line = v.clone();
            }
            true
        }
        Stage::Decolorize => {
            e.line = strip_ansi(&e.line);
            true
        }
        Stage::Match {
            matchers,
            line_filters,
            drop,
            stages,
        } => {
            let hit = matchers.iter().all(|(name, val, re, negate)| {
                let have = e.labels.get(name).map(String::as_str).unwrap_or("");
                let m = match re {
                    Some(r) => r.is_match(have),
                    None => have == val,
                };
                m != *negate
            }) && line_filters
                .iter()
                .all(|(want, re)| re.is_match(&e.line) == *want);
            if !hit {
                return true;
            }
            if *drop {
                return false;
            }
            stages.iter().all(|st| apply(st, e))
        }
        Stage::Drop {
            source,
            expression,
            value,
            older_than,
            longer_than,
        } => {
            let text = match source {
                Some(src) => match e.extracted.get(src).or_else(|| e.labels.get(src)) {
                    Some(v) => Some(v.clone()),
                    None if expression.is_some() || value.is_some() => return true,
                    None => None,
                },
                None => Some(e.line.clone()),
            };
            let mut conds = Vec::new();
            if let Some(re) = expression {
                conds.push(text.as_deref().is_some_and(|t| re.is_match(t)));
            }
            if let Some(v) = value {
                conds.push(text.as_deref() == Some(v.as_str()));
            }
            if let Some(age) = older_than {
                let now = Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX);
                conds.push(now - e.ts_ns > age.as_nanos() as i64);
            }
            if let Some(n) = longer_than {
                conds.push(e.line.len() > *n);
            }
            if source.is_some() && expression.is_none() && value.is_none() && conds.is_empty() {
                conds.push(text.is_some());
            }
            conds.is_empty() || !conds.iter().all(|c| *c)
        }
        Stage::Multiline { .. } => true,
    }
}

struct MultiBuf {
    entry: Entry,
    lines: usize,
    last: Instant,
}

/// The stages of one scrape config, with per-file multiline state.
pub struct Pipeline {
    stages: Vec<Stage>,
    bufs: BTreeMap<usize, MultiBuf>,
}

impl Pipeline {
    pub fn new(stages: Vec<Stage>) -> Self {
        Pipeline {
            stages,
            bufs: BTreeMap::new(),
        }
    }

    /// Runs entries through every stage; returns the entries ready to store.
    pub fn process(&mut self, batch: Vec<Entry>) -> Vec<Entry> {
        self.run(0, batch)
    }

    fn run(&mut self, start: usize, mut batch: Vec<Entry>) -> Vec<Entry> {
        for i in start..self.stages.len() {
            if let Stage::Multiline {
                firstline,
                max_lines,
                ..
            } = &self.stages[i]
            {
                let mut out = Vec::new();
                for e in batch {
                    let is_first = firstline.is_match(&e.line);
                    match self.bufs.get_mut(&i) {
                        Some(b) if !is_first && b.lines < *max_lines => {
                            b.entry.line.push('\n');
                            b.entry.line.push_str(&e.line);
                            b.entry.end = e.end;
                            b.lines += 1;
                            b.last = Instant::now();
                        }
                        _ => {
                            if let Some(old) = self.bufs.remove(&i) {
                                out.push(old.entry);
                            }
                            self.bufs.insert(
                                i,
                                MultiBuf {
                                    entry: e,
                                    lines: 1,
                                    last: Instant::now(),
                                },
                            );
                        }
                    }
                }
                batch = out;
            } else {
                let st = &self.stages[i];
                batch.retain_mut(|e| apply(st, e));
            }
        }
        batch
    }

    /// Emits multiline groups idle for longer than their `max_wait_time` (all when `force`).
    pub fn flush(&mut self, force: bool) -> Vec<Entry> {
        let mut out = Vec::new();
        let idxs: Vec<usize> = self.bufs.keys().copied().collect();
        for i in idxs {
            let wait = match &self.stages[i] {
                Stage::Multiline { max_wait, .. } => *max_wait,
                _ => Duration::ZERO,
            };
            let expired = self
                .bufs
                .get(&i)
                .is_some_and(|b| force || b.last.elapsed() >= wait);
            if expired {
                if let Some(b) = self.bufs.remove(&i) {
                    out.extend(self.run(i + 1, vec![b.entry]));
                }
            }
        }
        out
    }

    /// Start offset of the oldest line held back by a multiline stage.
    pub fn pending_start(&self) -> Option<u64> {
        self.bufs.values().map(|b| b.entry.start).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(yaml: &str) -> Vec<Stage> {
        let v: Value = serde_yaml_ng::from_str(yaml).unwrap();
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|s| Stage::parse(s).unwrap())
            .collect()
    }

    fn entry(line: &str, off: u64) -> Entry {
        Entry {
            labels: BTreeMap::new(),
            extracted: BTreeMap::new(),
            metadata: vec![],
            line: line.into(),
            ts_ns: 1,
            start: off,
            end: off + line.len() as u64 + 1,
        }
    }

    #[test]
    fn docker_json_labels_timestamp_output() {
        let mut p = Pipeline::new(stages(
            r#"
- docker: {}
- json:
    expressions:
      lvl: level
      msg: message
      user: ctx.user
      first: tags[0]
- labels:
    level: lvl
- timestamp:
    source: ts
    format: RFC3339
- output:
    source: msg
"#,
        ));
        let line = r#"{"log":"{\"level\":\"warn\",\"message\":\"disk\",\"ctx\":{\"user\":\"u1\"},\"tags\":[\"a\"]}\n","stream":"stderr","time":"2024-01-01T00:00:00.5Z"}"#;
        let out = p.process(vec![entry(line, 0)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].line, "disk");
        assert_eq!(out[0].labels.get("level").map(String::as_str), Some("warn"));
        assert_eq!(
            out[0].labels.get("stream").map(String::as_str),
            Some("stderr")
        );
        assert_eq!(out[0].extracted.get("user").map(String::as_str), Some("u1"));
        assert_eq!(out[0].extracted.get("first").map(String::as_str), Some("a"));
        assert_eq!(out[0].ts_ns, 1_704_067_200_500_000_000);
    }

    /// promtail's `validateLabelsConfig`: an empty (`""`) or null source is the key's own name;
    /// `static_labels` skips empty values; structured metadata leaves the stream labels.
    #[test]
    fn empty_label_source_is_the_key_name() {
        let mut p = Pipeline::new(stages(
            r#"
- json:
    expressions:
      level: ""
      svc:
      trace: ""
- labels:
    level: ""
    svc:
- static_labels:
    team: ""
    env: prod
- structured_metadata:
    trace: ""
"#,
        ));
        let out = p.process(vec![entry(
            r#"{"level":"warn","svc":"api","trace":"t1"}"#,
            0,
        )]);
        let l = |k: &str| out[0].labels.get(k).map(String::as_str);
        assert_eq!(l("level"), Some("warn"));
        assert_eq!(l("svc"), Some("api"));
        assert_eq!(l("env"), Some("prod"));
        assert_eq!(l("team"), None);
        assert_eq!(
            out[0].metadata,
            vec![("trace".to_string(), "t1".to_string())]
        );
    }

    #[test]
    fn cri_regex_go_layout() {
        let mut p = Pipeline::new(stages(
            r#"
- cri: {}
- regex:
    expression: '^(?P<time>\S+ \S+) (?P<level>\w+) (?P<msg>.*)$'
- timestamp:
    source: time
    format: '2006-01-02 15:04:05.000'
- labels:
    level:
"#,
        ));
        let out = p.process(vec![entry(
            "2024-01-01T00:00:00Z stdout F 2024-03-04 05:06:07.250 ERROR boom",
            0,
        )]);
        assert_eq!(
            out[0].labels.get("stream").map(String::as_str),
            Some("stdout")
        );
        assert_eq!(
            out[0].labels.get("level").map(String::as_str),
            Some("ERROR")
        );
        assert_eq!(out[0].ts_ns, 1_709_528_767_250_000_000);
    }

    #[test]
    fn named_and_unix_formats() {
        assert_eq!(
            parse_ts("1704067200", &ts_format("Unix")),
            Some(1_704_067_200_000_000_000)
        );
        assert_eq!(
            parse_ts("1704067200123", &ts_format("UnixMs")),
            Some(1_704_067_200_123_000_000)
        );
        assert_eq!(
            parse_ts("Mon, 01 Jan 2024 00:00:00 +0000", &ts_format("RFC1123Z")),
            Some(1_704_067_200_000_000_000)
        );
        assert_eq!(
            parse_ts(
                "02/Jan/2024:10:00:00 +0100",
                &ts_format("02/Jan/2006:15:04:05 -0700")
            ),
            Some(1_704_186_000_000_000_000)
        );
        assert_eq!(parse_ts("not a time", &ts_format("RFC3339")), None);
    }

    #[test]
    fn multiline_groups_and_flushes() {
        let mut p = Pipeline::new(stages(
            r#"
- multiline:
    firstline: '^\d{4}-'
    max_wait_time: 10ms
"#,
        ));
        let out = p.process(vec![
            entry("2024-01-01 boom", 0),
            entry("  at a()", 16),
            entry("  at b()", 25),
            entry("2024-01-01 next", 34),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].line, "2024-01-01 boom\n  at a()\n  at b()");
        assert_eq!((out[0].start, out[0].end), (0, 34));
        assert_eq!(p.pending_start(), Some(34));
        std::thread::sleep(Duration::from_millis(20));
        let out = p.flush(false);
        assert_eq!(out[0].line, "2024-01-01 next");
        assert_eq!(p.pending_start(), None);
    }

    #[test]
    fn match_and_drop() {
        let mut p = Pipeline::new(stages(
            r#"
- static_labels:
    app: web
- match:
    selector: '{app="web"} |= "healthz"'
    action: drop
- drop:
    expression: '^DEBUG'
- match:
    selector: '{app=~"w.*"}'
    stages:
    - static_labels:
        matched: "yes"
"#,
        ));
        let out = p.process(vec![
            entry("GET /healthz", 0),
            entry("DEBUG x", 13),
            entry("INFO y", 21),
        ]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].line, "INFO y");
        assert_eq!(
            out[0].labels.get("matched").map(String::as_str),
            Some("yes")
        );
    }

    #[test]
    fn bad_stages() {
        for bad in [
            "- nope: {}",
            "- regex: {expression: '('}",
            "- json: {expressions: {a: 'x | y'}}",
            "- timestamp: {source: t}",
            "- match: {selector: 'app=x'}",
        ] {
            let v: Value = serde_yaml_ng::from_str(bad).unwrap();
            assert!(Stage::parse(&v.as_sequence().unwrap()[0]).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(expr in "[ -~]{0,30}", ts in "[ -~]{0,30}") {
            let _ = parse_path(&expr);
            let _ = parse_selector(&expr);
            let (f, _) = go_layout(&expr);
            let _ = parse_ts(&ts, &TsFormat::Layout(f, false));
            let _ = parse_ts(&ts, &TsFormat::Rfc3339);
            let _ = parse_ts(&ts, &TsFormat::Unix);
        }

        #[test]
        fn stages_never_panic(line in "[ -~]{0,60}") {
            let mut p = Pipeline::new(stages(r#"
- docker: {}
- cri: {}
- json: {expressions: {a: a, b: "b[0].c"}}
- regex: {expression: '(?P<x>\\w+)'}
- labels: {x: ""}
- timestamp: {source: a, format: RFC3339}
- output: {source: b}
- multiline: {firstline: '^\\S', max_lines: 3}
"#));
            let _ = p.process(vec![entry(&line, 0)]);
            let _ = p.flush(true);
        }
    }
}

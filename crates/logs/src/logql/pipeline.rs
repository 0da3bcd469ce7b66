//! Runs a LogQL log pipeline over one entry: line filters, parsers (json, logfmt, regexp,
//! pattern, unpack), label filters, line/label formatting, drop/keep and decolorize. Errors of
//! parsers and conversions never drop a line; they set `__error__`/`__error_details__` as Loki
//! does, so `| __error__=""` can filter them.

use super::ast::*;
use super::template::Ctx;
use model::{Labels, LogEntry};
use std::collections::{BTreeMap, BTreeSet};

pub const ERROR: &str = "__error__";
pub const ERROR_DETAILS: &str = "__error_details__";
/// Set next to a parser error that the query asked to keep (Loki's `__preserve_error__`).
pub const PRESERVE_ERROR: &str = "__preserve_error__";

/// A `pattern` expression: literals and `<name>`/`<_>` captures.
#[derive(Clone, Debug)]
pub struct Pattern {
    parts: Vec<Part>,
}

#[derive(Clone, Debug)]
enum Part {
    Lit(String),
    Cap(Option<String>),
}

impl Pattern {
    /// `filter` patterns (`|>`) may have no named captures.
    pub fn parse(s: &str, filter: bool) -> Result<Pattern, String> {
        let mut parts = Vec::new();
        let mut rest = s;
        let mut lit = String::new();
        while !rest.is_empty() {
            if rest.starts_with('<') {
                if let Some(end) = rest.find('>') {
                    let name = &rest[1..end];
                    if name == "_"
                        || (!name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                            && !name.starts_with(|c: char| c.is_ascii_digit()))
                    {
                        if !lit.is_empty() {
                            parts.push(Part::Lit(std::mem::take(&mut lit)));
                        }
                        if matches!(parts.last(), Some(Part::Cap(_))) {
                            return Err(
                                "syntax error: consecutive captures are not allowed in a pattern"
                                    .into(),
                            );
                        }
                        parts.push(Part::Cap(if name == "_" {
                            None
                        } else {
                            Some(name.to_string())
                        }));
                        rest = &rest[end + 1..];
                        continue;
                    }
                }
            }
            let c = rest.chars().next().unwrap_or(' ');
            lit.push(c);
            rest = &rest[c.len_utf8()..];
        }
        if !lit.is_empty() {
            parts.push(Part::Lit(lit));
        }
        let named = parts
            .iter()
            .filter(|p| matches!(p, Part::Cap(Some(_))))
            .count();
        if !filter && named == 0 {
            return Err(
                "syntax error: at least one named capture must be supplied in a pattern".into(),
            );
        }
        if parts.is_empty() {
            return Err("syntax error: empty pattern".into());
        }
        Ok(Pattern { parts })
    }

    /// Captures of `line`, or None when the line does not fit the pattern.
    pub fn matches<'l>(&self, line: &'l str) -> Option<Vec<(&str, &'l str)>> {
        let mut out = Vec::new();
        let mut rest = line;
        let mut pending: Option<&Option<String>> = None;
        for p in &self.parts {
            match p {
                Part::Cap(n) => pending = Some(n),
                Part::Lit(l) => {
                    let i = rest.find(l.as_str())?;
                    if let Some(n) = pending.take() {
                        if let Some(n) = n {
                            out.push((n.as_str(), &rest[..i]));
                        }
                    } else if i != 0 && !out.is_empty() {
                        return None;
                    }
                    rest = &rest[i + l.len()..];
                }
            }
        }
        if let Some(Some(n)) = pending {
            out.push((n.as_str(), rest));
        }
        Some(out)
    }
}

/// Name/value pairs.
pub type Pairs = Vec<(String, String)>;

/// The result of a pipeline for one entry.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub line: String,
    pub labels: BTreeMap<String, String>,
}

impl Row {
    pub fn to_labels(&self) -> Labels {
        Labels::from_pairs(self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Splits the labels into (stream, structured metadata, parsed) as Loki's
    /// `categorize-labels` response encoding does.
    pub fn categorize(&self, stream: &Labels, meta: &[(String, String)]) -> (Labels, Pairs, Pairs) {
        let meta_names: BTreeSet<&str> = meta.iter().map(|(k, _)| k.as_str()).collect();
        let mut s = Vec::new();
        let mut m = Vec::new();
        let mut p = Vec::new();
        for (k, v) in &self.labels {
            if v.is_empty() {
                continue;
            }
            if stream.get(k) == Some(v.as_str()) {
                s.push((k.clone(), v.clone()));
            } else if meta_names.contains(k.as_str()) {
                m.push((k.clone(), v.clone()));
            } else {
                p.push((k.clone(), v.clone()));
            }
        }
        (Labels::from_pairs(s), m, p)
    }
}

pub fn only_line_filters(stages: &[Stage]) -> bool {
    stages.iter().all(|s| matches!(s, Stage::Line(_)))
}

pub fn line_filter_matches(f: &LineFilter, line: &str) -> bool {
    match f.op {
        LineOp::Contains => f.values.iter().any(|v| line.contains(v.as_str())),
        LineOp::NotContains => !f.values.iter().any(|v| line.contains(v.as_str())),
        LineOp::Regex => f.regexes.iter().any(|r| r.is_match(line)),
        LineOp::NotRegex => !f.regexes.iter().any(|r| r.is_match(line)),
        LineOp::Pattern => f.patterns.iter().any(|p| p.matches(line).is_some()),
        LineOp::NotPattern => !f.patterns.iter().any(|p| p.matches(line).is_some()),
    }
}

/// The leading line filters of a pipeline, compiled to run over raw line bytes inside the
/// store's scan before any entry is built or parsed: `|=`/`!=` with memchr's SIMD substring
/// finders (built once per query), the other operators as [`line_filter_matches`].
pub struct LinePrefilter<'a> {
    filters: Vec<Pre<'a>>,
}

enum Pre<'a> {
    Contains(Vec<memchr::memmem::Finder<'static>>),
    NotContains(Vec<memchr::memmem::Finder<'static>>),
    Other(&'a LineFilter),
}

impl<'a> LinePrefilter<'a> {
    /// `None` when the pipeline does not start with a line filter.
    pub fn new(stages: &'a [Stage]) -> Option<Self> {
        let finders = |f: &LineFilter| {
            f.values
                .iter()
                .map(|v| memchr::memmem::Finder::new(v.as_bytes()).into_owned())
                .collect()
        };
        let filters: Vec<Pre> = stages
            .iter()
            .map_while(|s| match s {
                Stage::Line(f) => Some(match f.op {
                    LineOp::Contains => Pre::Contains(finders(f)),
                    LineOp::NotContains => Pre::NotContains(finders(f)),
                    _ => Pre::Other(f),
                }),
                _ => None,
            })
            .collect();
        (!filters.is_empty()).then_some(LinePrefilter { filters })
    }

    /// Number of leading stages the prefilter stands for.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Byte strings every line [`matches`](Self::matches) accepts contains: the needles of
    /// the single-value `|=` filters.
    pub fn required(&self) -> Vec<&[u8]> {
        self.filters
            .iter()
            .filter_map(|p| match p {
                Pre::Contains(fs) if fs.len() == 1 => Some(fs[0].needle()),
                _ => None,
            })
            .collect()
    }

    pub fn matches(&self, line: &[u8]) -> bool {
        self.filters.iter().all(|p| match p {
            Pre::Contains(fs) => fs.iter().any(|f| f.find(line).is_some()),
            Pre::NotContains(fs) => !fs.iter().any(|f| f.find(line).is_some()),
            Pre::Other(f) => std::str::from_utf8(line).is_ok_and(|l| line_filter_matches(f, l)),
        })
    }
}

pub fn sanitize(k: &str) -> String {
    let mut s: String = k
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

fn add_parsed(row: &mut Row, stream: &Labels, key: &str, value: String) {
    let mut k = sanitize(key);
    if k.is_empty() {
        return;
    }
    if stream.get(&k).is_some() {
        k.push_str("_extracted");
    }
    row.labels.insert(k, value);
}

/// Label filters set an error only when none is set yet ("don't overwrite what might be a more
/// useful error", Loki's label_filter.go).
fn set_error(row: &mut Row, kind: &str, details: String) {
    if !row.labels.contains_key(ERROR) {
        row.labels.insert(ERROR.into(), kind.into());
        row.labels.insert(ERROR_DETAILS.into(), details);
    }
}

/// Parsers, templates and unwrap overwrite an earlier error, as Loki's `SetErr` does; parser
/// errors also carry `__preserve_error__="true"` when the query asked for `__error__`.
pub fn overwrite_error(row: &mut Row, kind: &str, details: String, preserve: bool) {
    row.labels.insert(ERROR.into(), kind.into());
    row.labels.insert(ERROR_DETAILS.into(), details);
    if preserve {
        row.labels.insert(PRESERVE_ERROR.into(), "true".into());
    }
}

/// `__error_details__` of a JSON parse failure in the words of Loki's parser (buger/jsonparser)
/// where they are known: a line that is not an object, or ends early.
fn json_error(line: &str, err: &serde_json::Error) -> String {
    if !line.trim_start().starts_with('{') || err.is_eof() {
        "Value looks like object, but can't find closing '}' symbol".into()
    } else {
        err.to_string()
    }
}

/// What Loki's parser hints tell the pipeline of a metric query.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hints {
    /// The query needs no parsed label at all (`sum(count_over_time(...))` without label
    /// references): parsers do not run, so they cannot fail either.
    pub skip_parsers: bool,
    /// The query names `__error__` (a filter, a template or a grouping): parser errors are
    /// kept as series instead of failing the query.
    pub preserve_error: bool,
}

/// The label names the stages read, like Loki's `RequiredLabelNames` over a pipeline.
pub fn required_labels(stages: &[Stage], out: &mut Vec<String>) {
    for st in stages {
        match st {
            Stage::LabelFilter(f) => filter_labels(f, out),
            Stage::LineFormat(t) => out.extend(t.fields()),
            Stage::LabelFormat(v) => {
                for (_, f) in v {
                    match f {
                        LabelFmt::Rename(src) => out.push(src.clone()),
                        LabelFmt::Template(t) => out.extend(t.fields()),
                    }
                }
            }
            _ => {}
        }
    }
}

/// The label names a label filter reads.
pub fn filter_labels(f: &LabelFilter, out: &mut Vec<String>) {
    match f {
        LabelFilter::And(a, b) | LabelFilter::Or(a, b) => {
            filter_labels(a, out);
            filter_labels(b, out);
        }
        LabelFilter::Str(m) => out.push(m.name.clone()),
        LabelFilter::Num { name, .. }
        | LabelFilter::Duration { name, .. }
        | LabelFilter::Bytes { name, .. } => out.push(name.clone()),
    }
}

fn json_flatten(
    row: &mut Row,
    stream: &Labels,
    prefix: &str,
    v: &serde_json::Map<String, serde_json::Value>,
) {
    for (k, val) in v {
        let key = if prefix.is_empty() {
            sanitize(k)
        } else {
            format!("{prefix}_{}", sanitize(k))
        };
        match val {
            serde_json::Value::Object(o) => json_flatten(row, stream, &key, o),
            serde_json::Value::Array(_) => {}
            serde_json::Value::String(s) => add_parsed(row, stream, &key, s.clone()),
            serde_json::Value::Null => add_parsed(row, stream, &key, String::new()),
            other => add_parsed(row, stream, &key, other.to_string()),
        }
    }
}

/// Extracts a JSON value by a Loki json-parser expression (`a.b`, `a[0]`, `a["b c"]`).
fn json_path<'v>(root: &'v serde_json::Value, expr: &str) -> Option<&'v serde_json::Value> {
    let mut cur = root;
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => i += 1,
            b'[' => {
                let end = expr[i..].find(']')? + i;
                let inner = expr[i + 1..end].trim();
                cur = if let Some(q) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    cur.get(q)?
                } else {
                    cur.get(inner.parse::<usize>().ok()?)?
                };
                i = end + 1;
            }
            _ => {
                let end = expr[i..].find(['.', '[']).map(|e| e + i).unwrap_or(b.len());
                cur = cur.get(&expr[i..end])?;
                i = end;
            }
        }
    }
    Some(cur)
}

/// Parses logfmt; Err on malformed input (used by --strict).
/// Loki's logfmt decoder: the pairs, and the first syntax error with the number of pairs
/// read before it (what `--strict` keeps). A pair whose value has a stray `=`/`"` is skipped.
fn logfmt_pairs(line: &str, keep_empty: bool) -> (Pairs, Option<(String, usize)>) {
    fn first(err: &mut Option<(String, usize)>, msg: String, n: usize) {
        if err.is_none() {
            *err = Some((msg, n));
        }
    }
    let b = line.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let mut err = None;
    while i < b.len() {
        while i < b.len() && b[i] <= b' ' {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let ks = i;
        while i < b.len() && b[i] > b' ' && b[i] != b'=' && b[i] != b'"' {
            i += 1;
        }
        let key = &line[ks..i];
        if key.is_empty() {
            first(
                &mut err,
                format!(
                    "logfmt syntax error at pos {} : unexpected '{}'",
                    i + 1,
                    b[i] as char
                ),
                out.len(),
            );
            // skip the garbage token
            while i < b.len() && b[i] > b' ' {
                i += 1;
            }
            continue;
        }
        if i >= b.len() || b[i] != b'=' {
            if i < b.len() && b[i] == b'"' {
                first(
                    &mut err,
                    format!("logfmt syntax error at pos {} : unexpected '\"'", i + 1),
                    out.len(),
                );
                while i < b.len() && b[i] > b' ' {
                    i += 1;
                }
                continue;
            }
            if keep_empty {
                out.push((key.to_string(), String::new()));
            }
            continue;
        }
        i += 1; // '='
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = String::new();
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    b'\\' if i + 1 < b.len() => {
                        match b[i + 1] {
                            b'n' => v.push('\n'),
                            b't' => v.push('\t'),
                            b'r' => v.push('\r'),
                            c => v.push(c as char),
                        }
                        i += 2;
                    }
                    _ => {
                        let ch = line[i..].chars().next().unwrap_or(' ');
                        v.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            if !closed {
                first(
                    &mut err,
                    format!(
                        "logfmt syntax error at pos {} : unterminated quoted value",
                        i + 1
                    ),
                    out.len(),
                );
                break;
            }
            out.push((key.to_string(), v));
        } else {
            let vs = i;
            let mut bad = false;
            while i < b.len() && b[i] > b' ' {
                if b[i] == b'"' || b[i] == b'=' {
                    bad = true;
                    first(
                        &mut err,
                        format!(
                            "logfmt syntax error at pos {} : unexpected '{}'",
                            i + 1,
                            b[i] as char
                        ),
                        out.len(),
                    );
                }
                i += 1;
            }
            let v = &line[vs..i];
            if bad {
                continue;
            }
            if !v.is_empty() || keep_empty {
                out.push((key.to_string(), v.to_string()));
            } else {
                out.push((key.to_string(), String::new()));
            }
        }
    }
    (out, err)
}

fn cmp_f(a: f64, op: CmpOp, b: f64) -> bool {
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
    }
}

/// Evaluates a label filter; conversion failures set `__error__=LabelFilterErr` and keep the row.
pub fn label_filter(f: &LabelFilter, row: &mut Row) -> bool {
    match f {
        LabelFilter::And(a, b) => label_filter(a, row) && label_filter(b, row),
        LabelFilter::Or(a, b) => label_filter(a, row) || label_filter(b, row),
        LabelFilter::Str(m) => m.matches(row.labels.get(&m.name).map(String::as_str).unwrap_or("")),
        LabelFilter::Num { name, op, value } => {
            let Some(v) = row.labels.get(name) else {
                return false;
            };
            match v.trim().parse::<f64>() {
                Ok(x) => cmp_f(x, *op, *value),
                Err(_) => {
                    let d = format!("strconv.ParseFloat: parsing {v:?}: invalid syntax");
                    set_error(row, "LabelFilterErr", d);
                    true
                }
            }
        }
        LabelFilter::Duration { name, op, value_ns } => {
            let Some(v) = row.labels.get(name) else {
                return false;
            };
            match super::lexer::parse_duration(v.trim()) {
                Some(x) => cmp_f(x as f64, *op, *value_ns as f64),
                None => {
                    let d = format!("time: invalid duration {v:?}");
                    set_error(row, "LabelFilterErr", d);
                    true
                }
            }
        }
        LabelFilter::Bytes { name, op, value } => {
            let Some(v) = row.labels.get(name) else {
                return false;
            };
            match super::lexer::parse_bytes(v) {
                Some(x) => cmp_f(x, *op, *value as f64),
                None => {
                    let d = format!("invalid bytes {v:?}");
                    set_error(row, "LabelFilterErr", d);
                    true
                }
            }
        }
    }
}

fn decolorize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' && it.peek() == Some(&'[') {
            it.next();
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Runs the stages; None when a filter drops the entry.
pub fn run(stages: &[Stage], stream: &Labels, e: &LogEntry) -> Option<Row> {
    run_hinted(stages, stream, e, Hints::default())
}

/// [`run`] with the parser hints of a metric query.
pub fn run_hinted(stages: &[Stage], stream: &Labels, e: &LogEntry, hints: Hints) -> Option<Row> {
    let pe = hints.preserve_error;
    // Line filters before anything allocates.
    let mut i = 0;
    while i < stages.len() {
        match &stages[i] {
            Stage::Line(f) => {
                if !line_filter_matches(f, &e.line) {
                    return None;
                }
                i += 1;
            }
            _ => break,
        }
    }
    let mut row = Row {
        line: e.line.clone(),
        labels: BTreeMap::new(),
    };
    for l in stream.iter() {
        row.labels.insert(l.name.clone(), l.value.clone());
    }
    for (k, v) in &e.metadata {
        row.labels.insert(k.clone(), v.clone());
    }
    for st in &stages[i..] {
        match st {
            Stage::Line(f) => {
                if !line_filter_matches(f, &row.line) {
                    return None;
                }
            }
            Stage::Json(_) | Stage::Logfmt { .. } | Stage::Pattern(_) | Stage::Unpack
                if hints.skip_parsers => {}
            // `| json a="b.c"` (Loki's JSONExpressionParser): an empty line is left alone, a
            // line that cannot start JSON is an error without details.
            Stage::Json(params) if !params.is_empty() && row.line.is_empty() => {}
            Stage::Json(params) if !params.is_empty() && !row.line.starts_with(['"', '{', '[']) => {
                row.labels.insert(ERROR.into(), "JSONParserErr".into());
                if pe {
                    row.labels.insert(PRESERVE_ERROR.into(), "true".into());
                }
            }
            Stage::Json(params) => match serde_json::from_str::<serde_json::Value>(&row.line) {
                Ok(serde_json::Value::Object(o)) => {
                    if params.is_empty() {
                        json_flatten(&mut row, stream, "", &o);
                    } else {
                        let root = serde_json::Value::Object(o);
                        for (name, expr) in params {
                            let v = match json_path(&root, expr) {
                                Some(serde_json::Value::String(s)) => s.clone(),
                                Some(serde_json::Value::Null) | None => String::new(),
                                Some(v) => v.to_string(),
                            };
                            add_parsed(&mut row, stream, name, v);
                        }
                    }
                }
                Ok(_) => overwrite_error(
                    &mut row,
                    "JSONParserErr",
                    "Value looks like object, but can't find closing '}' symbol".into(),
                    pe,
                ),
                Err(err) => {
                    let d = json_error(&row.line, &err);
                    overwrite_error(&mut row, "JSONParserErr", d, pe)
                }
            },
            Stage::Logfmt {
                strict,
                keep_empty,
                params,
            } => {
                let (mut pairs, err) = logfmt_pairs(&row.line, *keep_empty);
                if let (true, Some((err, cut))) = (*strict, err) {
                    // --strict stops at the first error, keeping what was read before it.
                    pairs.truncate(cut);
                    overwrite_error(&mut row, "LogfmtParserErr", err, pe);
                }
                if params.is_empty() {
                    for (k, v) in pairs {
                        if v.is_empty() && !keep_empty {
                            continue;
                        }
                        add_parsed(&mut row, stream, &k, v);
                    }
                } else {
                    for (name, key) in params {
                        if let Some((_, v)) = pairs.iter().rev().find(|(k, _)| k == key) {
                            add_parsed(&mut row, stream, name, v.clone());
                        }
                    }
                }
            }
            Stage::Regexp(re) => {
                if let Some(c) = re.captures(&row.line) {
                    let pairs: Vec<(String, String)> = re
                        .capture_names()
                        .enumerate()
                        .filter_map(|(i, n)| Some((n?.to_string(), c.get(i)?.as_str().to_string())))
                        .collect();
                    for (k, v) in pairs {
                        add_parsed(&mut row, stream, &k, v);
                    }
                }
            }
            Stage::Pattern(p) => {
                let caps: Vec<(String, String)> = p
                    .matches(&row.line)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                for (k, v) in caps {
                    add_parsed(&mut row, stream, &k, v);
                }
            }
            Stage::Unpack => match serde_json::from_str::<serde_json::Value>(&row.line) {
                Ok(serde_json::Value::Object(o)) => {
                    let mut entry = None;
                    for (k, v) in o {
                        if let serde_json::Value::String(s) = v {
                            if k == "_entry" {
                                entry = Some(s);
                            } else {
                                add_parsed(&mut row, stream, &k, s);
                            }
                        }
                    }
                    if let Some(e) = entry {
                        row.line = e;
                    }
                }
                Ok(_) => overwrite_error(
                    &mut row,
                    "JSONParserErr",
                    "expecting json object".into(),
                    pe,
                ),
                Err(err) => {
                    let d = json_error(&row.line, &err);
                    overwrite_error(&mut row, "JSONParserErr", d, pe)
                }
            },
            Stage::LabelFilter(f) => {
                if !label_filter(f, &mut row) {
                    return None;
                }
            }
            Stage::LineFormat(t) => {
                let r = t.render(&Ctx {
                    labels: &row.labels,
                    line: &row.line,
                    ts_ns: e.ts_ns,
                });
                match r {
                    Ok(s) => row.line = s,
                    Err(err) => overwrite_error(&mut row, "TemplateFormatErr", err, false),
                }
            }
            Stage::LabelFormat(v) => {
                let before = row.labels.clone();
                for (dst, f) in v {
                    match f {
                        LabelFmt::Rename(src) => {
                            let val = before.get(src).cloned().unwrap_or_default();
                            row.labels.remove(src);
                            row.labels.insert(dst.clone(), val);
                        }
                        LabelFmt::Template(t) => match t.render(&Ctx {
                            labels: &before,
                            line: &row.line,
                            ts_ns: e.ts_ns,
                        }) {
                            Ok(s) => {
                                row.labels.insert(dst.clone(), s);
                            }
                            Err(err) => overwrite_error(&mut row, "TemplateFormatErr", err, false),
                        },
                    }
                }
            }
            Stage::Drop(v) => {
                row.labels.retain(|k, val| {
                    !v.iter().any(|d| match d {
                        NameOrMatcher::Name(n) => n == k,
                        NameOrMatcher::Matcher(m) => &m.name == k && m.matches(val),
                    })
                });
            }
            Stage::Keep(v) => {
                // The error labels always stay (Loki's keep_labels.go `isSpecialLabel`).
                row.labels.retain(|k, val| {
                    matches!(k.as_str(), ERROR | ERROR_DETAILS | PRESERVE_ERROR)
                        || v.iter().any(|d| match d {
                            NameOrMatcher::Name(n) => n == k,
                            NameOrMatcher::Matcher(m) => &m.name == k && m.matches(val),
                        })
                });
            }
            Stage::Decolorize => row.line = decolorize(&row.line),
        }
    }
    row.labels.retain(|_, v| !v.is_empty());
    Some(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_matching() {
        let p =
            Pattern::parse("<ip> - <_> [<ts>] \"<method> <path> <_>\" <status>", false).unwrap();
        let m = p
            .matches(r#"1.2.3.4 - - [10/Oct/2000] "GET /a HTTP/1.1" 200"#)
            .unwrap();
        assert_eq!(
            m,
            vec![
                ("ip", "1.2.3.4"),
                ("ts", "10/Oct/2000"),
                ("method", "GET"),
                ("path", "/a"),
                ("status", "200")
            ]
        );
        assert!(Pattern::parse("<a><b>", false).is_err());
        assert!(Pattern::parse("abc", false).is_err());
    }

    #[test]
    fn logfmt() {
        let (p, e) = logfmt_pairs(r#"a=1 b="x y" c= d"#, true);
        assert_eq!(
            p,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into()),
                ("d".into(), "".into())
            ]
        );
        assert!(e.is_none());
        let (_, e) = logfmt_pairs(r#"a="unterminated"#, false);
        assert!(e.is_some());
    }

    #[test]
    fn json_paths() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b":[1,{"c":"x"}]},"d e":2}"#).unwrap();
        assert_eq!(
            json_path(&v, "a.b[1].c"),
            Some(&serde_json::Value::String("x".into()))
        );
        assert_eq!(
            json_path(&v, "[\"d e\"]").map(|v| v.to_string()),
            Some("2".into())
        );
    }

    #[test]
    fn decolor() {
        assert_eq!(decolorize("\x1b[31merror\x1b[0m x"), "error x");
    }
}

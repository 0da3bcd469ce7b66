//! Parser of the PromQL test-script format: `load`, `load_with_nhcb`, `clear`, `eval …` headers,
//! `expect …` lines, series lines with the expanding value notation (`1+2x3`, `_x2`, `stale`).

use model::{Labels, LabelsBuilder, METRIC_NAME};

/// A parse error with its 1-based line.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptError {
    pub line: usize,
    pub message: String,
}

/// One expected value of a series line.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpectedValue {
    Float(f64),
    /// `_`: no sample at this step.
    Blank,
    /// `{{…}}`: a native histogram, and whether it named its counter reset hint.
    Histogram(Box<model::FloatHistogram>, bool),
}

/// One expected series (no labels = a scalar line).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedSeries {
    pub labels: Option<Labels>,
    pub values: Vec<ExpectedValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    Series(Vec<ExpectedSeries>),
    String(String),
}

/// An `eval` command with its expectations.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalCase {
    pub line: usize,
    pub expr: String,
    pub is_instant: bool,
    pub start: i64,
    pub end: i64,
    pub step: i64,
    pub fail: bool,
    pub fail_msg: Option<String>,
    pub fail_regex: Option<String>,
    pub warn: bool,
    pub warn_msg: Option<String>,
    pub no_warn: bool,
    pub info: bool,
    pub info_msg: Option<String>,
    pub no_info: bool,
    pub ordered: bool,
    pub expected: Expected,
    pub expected_given: bool,
    /// `expect range vector from … to … step …`.
    pub range_vector: Option<(i64, i64, i64)>,
}

/// One value of a loaded series.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadValue {
    Blank,
    Float(f64),
    Histogram(model::FloatHistogram),
}

/// Expands one histogram token: `{{A}}`, `{{A}}xN`, `{{A}}+{{B}}xN` or `{{A}}-{{B}}xN`.
fn expand_histogram(tok: &str, out: &mut Vec<ExpectedValue>) -> Result<(), String> {
    let first_end = tok.find("}}").ok_or("unterminated histogram literal")? + 2;
    let base = model::histogram::parse_histogram(&tok[..first_end])?;
    let rest = &tok[first_end..];
    if rest.is_empty() {
        out.push(ExpectedValue::Histogram(
            Box::new(base.histogram),
            base.hint_given,
        ));
        return Ok(());
    }
    let count = |n: &str| -> Result<usize, String> {
        let n: usize = n
            .parse()
            .map_err(|_| format!("invalid repetition count in {tok:?}"))?;
        if n > 1_000_000 {
            return Err(format!("repetition count too large in {tok:?}"));
        }
        Ok(n)
    };
    if let Some(n) = rest.strip_prefix('x') {
        for _ in 0..=count(n)? {
            out.push(ExpectedValue::Histogram(
                Box::new(base.histogram.clone()),
                base.hint_given,
            ));
        }
        return Ok(());
    }
    let negate = rest.starts_with('-');
    let inc_text = rest
        .strip_prefix(['+', '-'])
        .ok_or_else(|| format!("invalid histogram series {tok:?}"))?;
    let inc_end = inc_text
        .find("}}")
        .ok_or("unterminated histogram literal")?
        + 2;
    let inc = model::histogram::parse_histogram(&inc_text[..inc_end])?;
    let n = inc_text[inc_end..]
        .strip_prefix('x')
        .ok_or_else(|| format!("invalid histogram series {tok:?}"))?;
    let n = count(n)?;
    let hint = inc.hint_given;
    let mut cur = base.histogram;
    out.push(ExpectedValue::Histogram(Box::new(cur.clone()), hint));
    for _ in 0..n {
        if cur.schema > inc.histogram.schema {
            return Err(format!(
                "error combining histograms: cannot merge from schema {} to {}",
                inc.histogram.schema, cur.schema
            ));
        }
        let next = if negate {
            cur.sub(&inc.histogram)
        } else {
            cur.add(&inc.histogram)
        };
        cur = next.map_err(|e| format!("error combining histograms: {e}"))?;
        out.push(ExpectedValue::Histogram(Box::new(cur.clone()), hint));
    }
    Ok(())
}

/// A script command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Clear,
    Load {
        step_ms: i64,
        series: Vec<(Labels, Vec<LoadValue>)>,
        /// `load_with_nhcb`: classic histogram series are also loaded as custom-bucket native
        /// histograms.
        nhcb: bool,
    },
    Eval(EvalCase),
    /// A command the runner cannot execute, with the `SKIP_REASONS` key.
    Skip {
        line: usize,
        reason: &'static str,
    },
}

fn err(line: usize, message: impl Into<String>) -> ScriptError {
    ScriptError {
        line,
        message: message.into(),
    }
}

fn parse_duration(line: usize, s: &str) -> Result<i64, ScriptError> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let v = model::time::parse_duration_ms(body)
        .or_else(|_| {
            body.parse::<f64>()
                .map(|f| (f * 1000.0) as i64)
                .map_err(|_| ())
        })
        .map_err(|_| err(line, format!("invalid duration {s:?}")))?;
    Ok(if neg { -v } else { v })
}

fn parse_number(s: &str) -> Option<f64> {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Expands the value notation of a series line. `None` entries are gaps (`_`); histogram values
/// make the whole line an error of kind "histogram" (returned as `Err(None)`).
pub fn expand_values(text: &str) -> Result<Vec<ExpectedValue>, String> {
    let mut out = Vec::new();
    let mut tokens = Vec::new();
    // Histograms `{{…}}` may contain spaces: keep them as one token.
    let mut rest = text.trim();
    while !rest.is_empty() {
        if rest.starts_with("{{") {
            let end = rest.find("}}").ok_or("unterminated histogram literal")?;
            let mut tok_end = end + 2;
            // `{{…}}+{{…}}x3` continues up to the next whitespace.
            while tok_end < rest.len() && !rest.as_bytes()[tok_end].is_ascii_whitespace() {
                if rest[tok_end..].starts_with("{{") {
                    let e2 = rest[tok_end..]
                        .find("}}")
                        .ok_or("unterminated histogram literal")?;
                    tok_end += e2 + 2;
                } else {
                    tok_end += 1;
                }
            }
            tokens.push(&rest[..tok_end]);
            rest = rest[tok_end..].trim_start();
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            tokens.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
    }
    for tok in tokens {
        if tok.starts_with("{{") {
            expand_histogram(tok, &mut out)?;
            continue;
        }
        if tok == "_" {
            out.push(ExpectedValue::Blank);
            continue;
        }
        if tok == "stale" {
            out.push(ExpectedValue::Float(model::stale_nan()));
            continue;
        }
        if let Some(n) = tok.strip_prefix("_x") {
            let n: usize = n
                .parse()
                .map_err(|_| format!("invalid repetition {tok:?}"))?;
            out.extend(std::iter::repeat_n(ExpectedValue::Blank, n));
            continue;
        }
        if let Some(v) = parse_number(tok) {
            out.push(ExpectedValue::Float(v));
            continue;
        }
        let (head, count) = tok
            .rsplit_once('x')
            .ok_or_else(|| format!("invalid value {tok:?}"))?;
        let count: usize = count
            .parse()
            .map_err(|_| format!("invalid repetition count in {tok:?}"))?;
        if count > 1_000_000 {
            return Err(format!("repetition count too large in {tok:?}"));
        }
        // Find the operator between start and increment (not a leading sign or exponent sign).
        let bytes = head.as_bytes();
        let mut op_at = None;
        for i in 1..bytes.len() {
            if (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E') {
                op_at = Some(i);
                break;
            }
        }
        let (start, delta) = match op_at {
            Some(i) => {
                let a = parse_number(&head[..i]).ok_or_else(|| format!("invalid value {tok:?}"))?;
                let b =
                    parse_number(&head[i + 1..]).ok_or_else(|| format!("invalid value {tok:?}"))?;
                (a, if bytes[i] == b'-' { -b } else { b })
            }
            None => (
                parse_number(head).ok_or_else(|| format!("invalid value {tok:?}"))?,
                0.0,
            ),
        };
        let mut v = start;
        for _ in 0..=count {
            out.push(ExpectedValue::Float(v));
            v += delta;
        }
    }
    Ok(out)
}

/// Reads a quoted string (`"…"`, `'…'` or backquoted) at the start of `s`; returns it and the rest.
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let quote = s.chars().next()?;
    if !matches!(quote, '"' | '\'' | '`') {
        return None;
    }
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some((out, &s[1 + i + 1..]));
        }
        if c == '\\' && quote != '`' {
            match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, '\'')) => out.push('\''),
                Some((_, 'x')) => {
                    let h: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                    match u8::from_str_radix(&h, 16) {
                        Ok(b) => out.push(b as char),
                        Err(_) => return None,
                    }
                }
                Some((_, o)) => {
                    out.push('\\');
                    out.push(o);
                }
                None => return None,
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// Splits a series line into labels and the value text.
/// Parses `metric{label="value", ...} rest` into its label set and the text after it.
pub fn parse_series_line(line: &str) -> Result<(Labels, String), String> {
    let line = line.trim();
    let mut b = LabelsBuilder::default();
    let mut rest = line;
    let name_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    if name_end > 0 {
        b.set(METRIC_NAME, &rest[..name_end]);
        rest = &rest[name_end..];
    }
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.trim_start();
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let (name, after) = if let Some((q, after)) = read_quoted(inner) {
                (q, after)
            } else {
                let end = inner
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .ok_or("unterminated label set")?;
                if end == 0 {
                    return Err(format!("invalid label name in {line:?}"));
                }
                (inner[..end].to_string(), &inner[end..])
            };
            let after = after.trim_start();
            if let Some(after_eq) = after.strip_prefix('=') {
                let (value, after_v) =
                    read_quoted(after_eq.trim_start()).ok_or("expected a quoted label value")?;
                b.set(name, value);
                inner = after_v.trim_start();
            } else if after.starts_with([',', '}']) {
                // A quoted metric name inside the braces.
                b.set(METRIC_NAME, name);
                inner = after;
            } else {
                return Err(format!("expected '=' after label name in {line:?}"));
            }
            inner = inner.trim_start();
            if let Some(after_comma) = inner.strip_prefix(',') {
                inner = after_comma;
            }
        }
    } else if name_end == 0 {
        return Err(format!("invalid series line {line:?}"));
    }
    Ok((b.build(), rest.trim().to_string()))
}

fn is_command(line: &str) -> bool {
    !line.starts_with([' ', '\t'])
        && (line.starts_with("load") || line.starts_with("clear") || line.starts_with("eval"))
}

/// Parses a whole script.
pub fn parse_script(text: &str) -> Result<Vec<Command>, ScriptError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let raw = lines[i];
        let line_no = i + 1;
        let trimmed = raw.trim();
        i += 1;
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // The block of lines belonging to this command.
        let mut block: Vec<(usize, &str)> = Vec::new();
        while i < lines.len() && !lines[i].trim().is_empty() && !is_command(lines[i]) {
            if !lines[i].trim().starts_with('#') {
                block.push((i + 1, lines[i]));
            }
            i += 1;
        }
        if trimmed == "clear" {
            cmds.push(Command::Clear);
        } else if let Some(rest) = trimmed.strip_prefix("load") {
            let (nhcb, rest) = match rest.strip_prefix("_with_nhcb") {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let step_ms = parse_duration(line_no, rest.trim())?;
            let mut series = Vec::new();
            for (ln, l) in block {
                let (labels, values) = parse_series_line(l).map_err(|m| err(ln, m))?;
                let vals = expand_values(&values).map_err(|m| err(ln, m))?;
                let vals = vals
                    .into_iter()
                    .map(|v| match v {
                        ExpectedValue::Float(f) => LoadValue::Float(f),
                        ExpectedValue::Blank => LoadValue::Blank,
                        ExpectedValue::Histogram(h, _) => LoadValue::Histogram(*h),
                    })
                    .collect();
                series.push((labels, vals));
            }
            cmds.push(Command::Load {
                step_ms,
                series,
                nhcb,
            });
        } else if trimmed.starts_with("eval") {
            cmds.push(Command::Eval(parse_eval(line_no, trimmed, &block)?));
        } else {
            return Err(err(line_no, format!("unknown command {trimmed:?}")));
        }
    }
    Ok(cmds)
}

fn parse_eval(
    line_no: usize,
    header: &str,
    block: &[(usize, &str)],
) -> Result<EvalCase, ScriptError> {
    let (kw, rest) = header
        .split_once(' ')
        .ok_or_else(|| err(line_no, "incomplete eval"))?;
    let mut case = EvalCase {
        line: line_no,
        expr: String::new(),
        is_instant: true,
        start: 0,
        end: 0,
        step: 0,
        fail: kw == "eval_fail",
        fail_msg: None,
        fail_regex: None,
        warn: kw == "eval_warn",
        warn_msg: None,
        no_warn: false,
        info: kw == "eval_info",
        info_msg: None,
        no_info: false,
        ordered: kw == "eval_ordered",
        expected: Expected::Series(Vec::new()),
        expected_given: true,
        range_vector: None,
    };
    if !matches!(
        kw,
        "eval" | "eval_fail" | "eval_warn" | "eval_info" | "eval_ordered"
    ) {
        return Err(err(line_no, format!("unknown command {kw:?}")));
    }
    let rest = rest.trim();
    if let Some(r) = rest.strip_prefix("instant at ") {
        let (t, expr) = r
            .trim()
            .split_once(' ')
            .ok_or_else(|| err(line_no, "missing expression"))?;
        case.start = parse_duration(line_no, t)?;
        case.end = case.start;
        case.expr = expr.trim().to_string();
    } else if let Some(r) = rest.strip_prefix("range from ") {
        let parts: Vec<&str> = r.trim().splitn(6, ' ').collect();
        if parts.len() < 6 || parts[1] != "to" || parts[3] != "step" {
            return Err(err(
                line_no,
                "expected: eval range from <start> to <end> step <step> <expr>",
            ));
        }
        case.is_instant = false;
        case.start = parse_duration(line_no, parts[0])?;
        case.end = parse_duration(line_no, parts[2])?;
        case.step = parse_duration(line_no, parts[4])?;
        case.expr = parts[5].trim().to_string();
    } else {
        return Err(err(line_no, format!("invalid eval header {header:?}")));
    }
    let mut series = Vec::new();
    for (ln, l) in block {
        let t = l.trim();
        if let Some(e) = t.strip_prefix("expect ") {
            let e = e.trim();
            let (what, arg) = match e.split_once(' ') {
                Some((w, a)) => (w, a.trim()),
                None => (e, ""),
            };
            let msg = |a: &str, key: &str| a.strip_prefix(key).map(|m| m.trim().to_string());
            match what {
                "fail" => {
                    case.fail = true;
                    case.fail_msg = msg(arg, "msg:");
                    case.fail_regex = msg(arg, "regex:");
                }
                "warn" => {
                    case.warn = true;
                    case.warn_msg = msg(arg, "msg:");
                }
                "info" => {
                    case.info = true;
                    case.info_msg = msg(arg, "msg:");
                }
                "no_warn" => case.no_warn = true,
                "no_info" => case.no_info = true,
                "ordered" => case.ordered = true,
                "string" => {
                    let (s, _) =
                        read_quoted(arg).ok_or_else(|| err(*ln, "expected a quoted string"))?;
                    case.expected = Expected::String(s);
                }
                "range" => {
                    let p: Vec<&str> = arg.split_whitespace().collect();
                    if p.len() != 7
                        || p[0] != "vector"
                        || p[1] != "from"
                        || p[3] != "to"
                        || p[5] != "step"
                    {
                        return Err(err(
                            *ln,
                            "expected: expect range vector from <start> to <end> step <step>",
                        ));
                    }
                    case.range_vector = Some((
                        parse_duration(*ln, p[2])?,
                        parse_duration(*ln, p[4])?,
                        parse_duration(*ln, p[6])?,
                    ));
                }
                other => return Err(err(*ln, format!("unknown expectation {other:?}"))),
            }
            continue;
        }
        // A scalar result line is a bare number.
        if let Some(v) = parse_number(t) {
            series.push(ExpectedSeries {
                labels: None,
                values: vec![ExpectedValue::Float(v)],
            });
            continue;
        }
        let (labels, values) = parse_series_line(t).map_err(|m| err(*ln, m))?;
        let vals = expand_values(&values).map_err(|m| err(*ln, m))?;
        series.push(ExpectedSeries {
            labels: Some(labels),
            values: vals,
        });
    }
    if !series.is_empty() {
        case.expected = Expected::Series(series);
    }
    if case.fail {
        case.expected_given = false;
    }
    Ok(case)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn floats(v: &[ExpectedValue]) -> Vec<Option<f64>> {
        v.iter()
            .map(|x| match x {
                ExpectedValue::Float(f) => Some(*f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn expanding_notation() {
        assert_eq!(
            floats(&expand_values("0+10x3").unwrap()),
            vec![Some(0.0), Some(10.0), Some(20.0), Some(30.0)]
        );
        assert_eq!(
            floats(&expand_values("1-1x2 _ _x2 5").unwrap()),
            vec![
                Some(1.0),
                Some(0.0),
                Some(-1.0),
                None,
                None,
                None,
                Some(5.0)
            ]
        );
        assert_eq!(
            floats(&expand_values("-2+1x1 1e3 Inf").unwrap()),
            vec![Some(-2.0), Some(-1.0), Some(1000.0), Some(f64::INFINITY)]
        );
        assert_eq!(floats(&expand_values("2x2").unwrap()), vec![Some(2.0); 3]);
        assert!(model::is_stale_nan(
            floats(&expand_values("stale").unwrap())[0].unwrap()
        ));
        let h = expand_values(
            "{{schema:0 sum:1 count:1 buckets:[1]}}+{{sum:2 count:1 buckets:[1]}}x2 1",
        )
        .unwrap();
        assert_eq!(h.len(), 4);
        match &h[2] {
            ExpectedValue::Histogram(h, false) => {
                assert_eq!((h.count, h.sum), (3.0, 5.0));
                assert_eq!(h.positive(), vec![(0, 3.0)]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn commands() {
        let s = "load 5m\n  http{job=\"a\"} 0+1x2\n\neval instant at 10m http\n  http{job=\"a\"} 2\n\neval range from 0 to 10m step 5m http * 2\n  {job=\"a\"} 0 2 4\n\neval instant at 0m 1\n  expect fail msg: boom\n\nclear\n";
        let c = parse_script(s).unwrap();
        assert_eq!(c.len(), 5);
        match &c[2] {
            Command::Eval(e) => {
                assert!(!e.is_instant);
                assert_eq!(e.step, 300_000);
            }
            other => panic!("unexpected {other:?}"),
        }
        match &c[3] {
            Command::Eval(e) => assert_eq!(e.fail_msg.as_deref(), Some("boom")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn series_lines() {
        let (l, v) = parse_series_line(r#"{"foo.bar", a="x\"y"} 1 2"#).unwrap();
        assert_eq!(l.metric_name(), Some("foo.bar"));
        assert_eq!(l.get("a"), Some("x\"y"));
        assert_eq!(v, "1 2");
    }

    proptest! {
        #[test]
        fn value_notation_never_panics(s in "[-+0-9x_e.a-z{}: ]{0,30}") {
            let _ = expand_values(&s);
            let _ = parse_series_line(&s);
        }
    }
}

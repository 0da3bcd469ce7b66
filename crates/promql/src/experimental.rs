//! Prometheus' experimental PromQL functions and aggregations, refused at parse time unless
//! `--enable-feature=promql-experimental-functions` (pharos: `features:`) is on, with
//! Prometheus' parse error messages.

use promql_parser::parser::Expr;

/// Functions marked `Experimental: true` in Prometheus' promql/parser/functions.go.
pub const FUNCTIONS: &[&str] = &[
    "double_exponential_smoothing",
    "end",
    "histogram_quantiles",
    "info",
    "mad_over_time",
    "max_of",
    "min_of",
    "range",
    "sort_by_label",
    "sort_by_label_desc",
    "start",
    "start_timestamp",
    "step",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
];

/// Aggregations Prometheus' `IsExperimentalAggregator` names.
pub const AGGREGATIONS: &[&str] = &["limitk", "limit_ratio"];

/// `promql_parser::parser::parse`, with a panic inside the parser turned into a parse error:
/// it converts a numeric `offset`/`@`/range duration with `Duration::from_secs_f64`, which
/// panics on `Inf`/`NaN` and values past `u64` seconds (`up offset Inf`; found by bench/fuzz.sh,
/// fuzz_promql_tokens at 2.6 M executions). Prometheus answers those with a parse error too.
pub fn parse_guarded(source: &str) -> Result<Expr, String> {
    std::panic::catch_unwind(|| promql_parser::parser::parse(source)).unwrap_or_else(|_| {
        Err(format!(
            "1:1: parse error: invalid duration or number in {:?}",
            source.chars().take(100).collect::<String>()
        ))
    })
}

/// Parses `source` as PromQL; with `enabled` false, an expression using an experimental
/// function or aggregation is a parse error as in Prometheus.
pub fn parse(source: &str, enabled: bool) -> Result<Expr, String> {
    let expr = parse_guarded(source)?;
    if !enabled {
        check(&expr, source)?;
    }
    Ok(expr)
}

/// The parse error Prometheus gives for the first experimental function or aggregation in
/// `expr` (`source` is its text, for the error's line:column), or Ok when there is none.
pub fn check(expr: &Expr, source: &str) -> Result<(), String> {
    let mut used: Vec<(&'static str, bool)> = Vec::new();
    collect(expr, &mut used);
    let Some(first) = used
        .iter()
        .map(|&(name, agg)| (call_position(source, name), name, agg))
        .min_by_key(|(pos, _, _)| pos.unwrap_or(usize::MAX))
    else {
        return Ok(());
    };
    let (pos, name, aggregation) = first;
    let message = if aggregation {
        format!("{name}() is experimental and must be enabled with --enable-feature=promql-experimental-functions")
    } else {
        format!("function {name:?} is not enabled")
    };
    Err(format!(
        "{} parse error: {message}",
        line_col(source, pos.unwrap_or(0))
    ))
}

fn collect(e: &Expr, out: &mut Vec<(&'static str, bool)>) {
    match e {
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if let Some(name) = AGGREGATIONS.iter().find(|n| op.eq_ignore_ascii_case(n)) {
                out.push((name, true));
            }
            if let Some(p) = &a.param {
                collect(p, out);
            }
            collect(&a.expr, out);
        }
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Paren(p) => collect(&p.expr, out),
        Expr::Subquery(s) => collect(&s.expr, out),
        Expr::Call(c) => {
            if let Some(name) = FUNCTIONS.iter().find(|n| **n == c.func.name) {
                out.push((name, false));
            }
            for a in &c.args.args {
                collect(a, out);
            }
        }
        _ => {}
    }
}

/// Byte offset of the first `name` followed by `(` (spaces allowed) outside string literals
/// and comments, at an identifier boundary.
fn call_position(source: &str, name: &str) -> Option<usize> {
    let b = source.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b':';
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            q @ (b'"' | b'\'' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            c if ident(c) => {
                let start = i;
                while i < b.len() && ident(b[i]) {
                    i += 1;
                }
                let rest = source.get(i..).unwrap_or("").trim_start();
                if source.get(start..i) == Some(name) && rest.starts_with('(') {
                    return Some(start);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Prometheus' `line:col:` of a byte offset (1-based).
fn line_col(source: &str, pos: usize) -> String {
    let before = source.get(..pos).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let col = pos - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    format!("{line}:{col}:")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser's `Duration::from_secs_f64` on a non-finite or huge numeric duration panicked
    /// (bench/fuzz.sh, fuzz_promql_tokens: "offset[5m]offset Inf"); now a parse error.
    #[test]
    fn non_finite_durations_are_parse_errors() {
        for q in [
            "offset[5m]offset Inf",
            "up offset Inf",
            "up offset NaN",
            "up offset 1e30",
            "rate(up[5m] offset Inf)",
        ] {
            for enabled in [false, true] {
                assert!(parse(q, enabled).is_err(), "{q}");
            }
        }
        assert!(crate::selector::parse_series_selector("up offset Inf").is_err());
        assert!(parse("up offset 5m", false).is_ok());
    }

    #[test]
    fn gated_functions_and_aggregations() {
        for (q, want) in [
            (
                "sort_by_label(up, \"job\")",
                "1:1: parse error: function \"sort_by_label\" is not enabled",
            ),
            (
                "sum(rate(x[5m])) + on() group_left\n  ts_of_max_over_time(y[1m])",
                "2:3: parse error: function \"ts_of_max_over_time\" is not enabled",
            ),
            (
                "limitk(1, up)",
                "1:1: parse error: limitk() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
            ),
            (
                "sum(limit_ratio(0.5, up{a=\"sort_by_label(\"}))",
                "1:5: parse error: limit_ratio() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
            ),
        ] {
            assert_eq!(parse(q, false).unwrap_err(), want, "{q}");
            assert!(parse(q, true).is_ok(), "{q}");
        }
        for q in [
            "sort(up)",
            "topk(1, info_metric)",
            "label_replace(up, \"info\", \"\", \"\", \"\")",
        ] {
            assert!(parse(q, false).is_ok(), "{q}");
        }
    }
}

//! Runs PromQL test scripts in Prometheus' `promqltest` format (`load`, `clear`, `eval instant`,
//! `eval range`, `eval_fail`/`eval_warn`/`eval_info`/`eval_ordered` and the `expect …` lines)
//! against the `promql` engine over an in-memory store, printing one line per failing case and a
//! closing `N passed, M failed[, K skipped]` line.

pub mod script;

use model::{Labels, MemStorage, MetricSink, Sample};
use promql::{Engine, Value};
use script::{Command, EvalCase, Expected, ExpectedValue};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

pub use script::{expand_values, parse_script, ScriptError};

/// Features the runner skips, each with the reason printed in the summary. Cases are only
/// skipped for these reasons, never to hide a failure.
pub const SKIP_REASONS: &[(&str, &str)] = &[(
    "native-histograms",
    "native histograms are not supported yet (series written as {{...}} and load_with_nhcb)",
)];

/// Totals of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

/// Prometheus' almost.Equal with its test epsilon.
pub fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

fn load_into(
    storage: &MemStorage,
    step_ms: i64,
    series: &[(Labels, Vec<Option<f64>>)],
) -> Result<(), String> {
    let mut batch = Vec::new();
    for (labels, values) in series {
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                batch.push((
                    labels.clone(),
                    Sample {
                        t: i as i64 * step_ms,
                        v: *v,
                    },
                ));
            }
        }
    }
    storage
        .append(&batch)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn fmt_value(v: f64) -> String {
    if model::is_stale_nan(v) {
        "stale".into()
    } else {
        format!("{v}")
    }
}

/// Compares a result with the expectation; returns a description of the difference.
fn check(case: &EvalCase, value: &Value) -> Result<(), String> {
    match (&case.expected, value) {
        (Expected::String(s), Value::String { v, .. }) => {
            if s == v {
                Ok(())
            } else {
                Err(format!("expected string {s:?}, got {v:?}"))
            }
        }
        (Expected::String(s), other) => Err(format!("expected string {s:?}, got {other:?}")),
        (Expected::Series(exp), Value::Scalar { v, .. }) => {
            if exp.len() == 1 && exp[0].labels.is_none() {
                match exp[0].values.as_slice() {
                    [ExpectedValue::Float(e)] if almost_equal(*e, *v) => Ok(()),
                    other => Err(format!("expected scalar {other:?}, got {}", fmt_value(*v))),
                }
            } else {
                Err(format!(
                    "expected {} series, got scalar {}",
                    exp.len(),
                    fmt_value(*v)
                ))
            }
        }
        (Expected::Series(exp), Value::Vector(got)) => {
            if case.range_vector.is_some() {
                return Err("expected a range vector, got an instant vector".into());
            }
            if exp.len() != got.len() {
                let got_text: Vec<String> = got
                    .iter()
                    .map(|s| format!("{} {}", s.labels, fmt_value(s.v)))
                    .collect();
                return Err(format!(
                    "expected {} samples, got {}: [{}]",
                    exp.len(),
                    got.len(),
                    got_text.join(", ")
                ));
            }
            for (i, e) in exp.iter().enumerate() {
                let labels = e.labels.clone().unwrap_or_default();
                let found = if case.ordered {
                    got.get(i).filter(|s| s.labels == labels)
                } else {
                    got.iter().find(|s| s.labels == labels)
                };
                let Some(s) = found else {
                    return Err(format!(
                        "expected series {labels} not found (or out of order)"
                    ));
                };
                match e.values.as_slice() {
                    [ExpectedValue::Float(v)] if almost_equal(*v, s.v) => {}
                    other => {
                        return Err(format!(
                            "series {labels}: expected {other:?}, got {}",
                            fmt_value(s.v)
                        ))
                    }
                }
            }
            Ok(())
        }
        (Expected::Series(exp), Value::Matrix(got)) => {
            if case.is_instant && case.range_vector.is_none() && !exp.is_empty() {
                return Err("got a range vector but expected an instant vector".into());
            }
            let timestamps: Vec<i64> = match (case.is_instant, &case.range_vector) {
                (true, Some((s, e, st))) => steps(*s, *e, *st),
                _ => steps(case.start, case.end, case.step),
            };
            let got_map: BTreeMap<&Labels, &Vec<Sample>> =
                got.iter().map(|s| (&s.labels, &s.samples)).collect();
            let mut expected_count = 0;
            for e in exp {
                let labels = e.labels.clone().unwrap_or_default();
                let mut want: Vec<(i64, f64)> = Vec::new();
                for (i, v) in e.values.iter().enumerate() {
                    if let (ExpectedValue::Float(f), Some(t)) = (v, timestamps.get(i)) {
                        want.push((*t, *f));
                    }
                }
                if want.is_empty() {
                    continue;
                }
                expected_count += 1;
                let Some(samples) = got_map.get(&labels) else {
                    return Err(format!("expected series {labels} not found"));
                };
                let have: Vec<(i64, f64)> = samples.iter().map(|s| (s.t, s.v)).collect();
                let same = have.len() == want.len()
                    && have
                        .iter()
                        .zip(&want)
                        .all(|(h, w)| h.0 == w.0 && almost_equal(h.1, w.1));
                if !same {
                    return Err(format!("series {labels}: expected {want:?}, got {have:?}"));
                }
            }
            if expected_count != got.len() {
                let names: Vec<String> = got.iter().map(|s| s.labels.to_string()).collect();
                return Err(format!(
                    "expected {expected_count} series, got {}: {}",
                    got.len(),
                    names.join(", ")
                ));
            }
            Ok(())
        }
        (Expected::Series(exp), Value::String { v, .. }) => {
            Err(format!("expected {} series, got string {v:?}", exp.len()))
        }
    }
}

fn steps(start: i64, end: i64, step: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut t = start;
    while t <= end && step > 0 {
        out.push(t);
        t += step;
    }
    out
}

/// Runs one eval case; `Err` describes the failure.
fn run_case(engine: &Engine, storage: &MemStorage, case: &EvalCase) -> Result<(), String> {
    let result = if case.is_instant {
        engine.instant_query(storage, &case.expr, case.start)
    } else {
        engine.range_query(storage, &case.expr, case.start, case.end, case.step)
    };
    let res = match result {
        Err(e) => {
            if case.fail {
                if let Some(msg) = &case.fail_msg {
                    if &e.to_string() != msg {
                        return Err(format!("expected error {msg:?}, got {:?}", e.to_string()));
                    }
                }
                if let Some(re) = &case.fail_regex {
                    let r = regex::Regex::new(re).map_err(|e| format!("bad expect regex: {e}"))?;
                    if !r.is_match(&e.to_string()) {
                        return Err(format!("error {:?} does not match {re:?}", e.to_string()));
                    }
                }
                return Ok(());
            }
            return Err(format!("unexpected error: {e}"));
        }
        Ok(r) => r,
    };
    if case.fail {
        return Err(format!("expected the query to fail, got {:?}", res.value));
    }
    if case.warn && res.warnings.is_empty() {
        return Err("expected warnings, got none".into());
    }
    if let Some(msg) = &case.warn_msg {
        if !res.warnings.iter().any(|w| w == msg) {
            return Err(format!("expected warning {msg:?}, got {:?}", res.warnings));
        }
    }
    if case.no_warn && !res.warnings.is_empty() {
        return Err(format!("expected no warnings, got {:?}", res.warnings));
    }
    if case.info && res.infos.is_empty() {
        return Err("expected info annotations, got none".into());
    }
    if let Some(msg) = &case.info_msg {
        if !res.infos.iter().any(|w| w == msg) {
            return Err(format!("expected info {msg:?}, got {:?}", res.infos));
        }
    }
    if case.no_info && !res.infos.is_empty() {
        return Err(format!("expected no info annotations, got {:?}", res.infos));
    }
    if case.expected_given {
        check(case, &res.value)?;
    }
    Ok(())
}

/// Runs the given script files, writing failures and the closing summary line to `out`.
pub fn run_files(paths: &[PathBuf], out: &mut dyn Write) -> std::io::Result<Summary> {
    let engine = Engine::default();
    let mut summary = Summary::default();
    let mut skip_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                writeln!(out, "{}: cannot read: {e}", path.display())?;
                summary.failed += 1;
                continue;
            }
        };
        let commands = match parse_script(&text) {
            Ok(c) => c,
            Err(e) => {
                writeln!(out, "{}:{}: {}", path.display(), e.line, e.message)?;
                summary.failed += 1;
                continue;
            }
        };
        let storage = MemStorage::new();
        let mut histogram_metrics: Vec<String> = Vec::new();
        let mut histogram_labels: Vec<Labels> = Vec::new();
        for cmd in commands {
            match cmd {
                Command::Clear => {
                    storage.clear();
                    histogram_metrics.clear();
                    histogram_labels.clear();
                }
                Command::Load {
                    step_ms,
                    series,
                    histogram_metrics: h,
                    histogram_labels: hl,
                } => {
                    histogram_metrics.extend(h);
                    histogram_labels.extend(hl);
                    if let Err(e) = load_into(&storage, step_ms, &series) {
                        writeln!(out, "{}: load failed: {e}", path.display())?;
                        summary.failed += 1;
                    }
                }
                Command::Skip { line, reason } => {
                    let _ = line;
                    *skip_counts.entry(reason).or_default() += 1;
                    summary.skipped += 1;
                }
                Command::Eval(case) => {
                    let expects_histogram_series = match &case.expected {
                        script::Expected::Series(list) => list.iter().any(|e| {
                            e.labels.as_ref().is_some_and(|l| {
                                !l.is_empty() && histogram_labels.contains(&l.without_metric_name())
                            })
                        }),
                        script::Expected::String(_) => false,
                    };
                    let uses_histograms = expects_histogram_series
                        || histogram_metrics
                            .iter()
                            .any(|m| case.expr.contains(m.as_str()));
                    if case.native_histogram || uses_histograms {
                        *skip_counts.entry("native-histograms").or_default() += 1;
                        summary.skipped += 1;
                        continue;
                    }
                    match run_case(&engine, &storage, &case) {
                        Ok(()) => summary.passed += 1,
                        Err(msg) => {
                            summary.failed += 1;
                            writeln!(
                                out,
                                "FAIL {}:{}: {}\n     {msg}",
                                path.display(),
                                case.line,
                                case.expr
                            )?;
                        }
                    }
                }
            }
        }
    }
    for (key, n) in &skip_counts {
        let reason = SKIP_REASONS
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| *r)
            .unwrap_or(key);
        writeln!(out, "skipped {n} cases: {reason}")?;
    }
    if summary.skipped > 0 {
        writeln!(
            out,
            "{} passed, {} failed, {} skipped",
            summary.passed, summary.failed, summary.skipped
        )?;
    } else {
        writeln!(out, "{} passed, {} failed", summary.passed, summary.failed)?;
    }
    Ok(summary)
}

/// Runs the files, printing to stdout; returns the process exit code.
pub fn run_cli(paths: &[PathBuf]) -> i32 {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    match run_files(paths, &mut lock) {
        Ok(s) if s.failed == 0 => 0,
        Ok(_) => 1,
        Err(_) => 2,
    }
}

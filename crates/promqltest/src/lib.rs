//! Runs PromQL test scripts in Prometheus' `promqltest` format (`load`, `clear`, `eval instant`,
//! `eval range`, `eval_fail`/`eval_warn`/`eval_info`/`eval_ordered` and the `expect …` lines)
//! against the `promql` engine over an in-memory store, printing one line per failing case and a
//! closing `N passed, M failed[, K skipped]` line.

pub mod script;

use model::{FloatHistogram, HistogramSample, Labels, MemStorage, MetricSink, Sample};
use promql::{Engine, Value};
use script::{Command, EvalCase, Expected, ExpectedValue, LoadValue};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

pub use script::{expand_values, parse_script, ScriptError};

/// Features the runner skips, each with the reason printed in the summary. Cases are only
/// skipped for these reasons, never to hide a failure.
pub const SKIP_REASONS: &[(&str, &str)] = &[];

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
    series: &[(Labels, Vec<LoadValue>)],
    nhcb: bool,
) -> Result<(), String> {
    let mut batch = Vec::new();
    let mut histograms = Vec::new();
    for (labels, values) in series {
        for (i, v) in values.iter().enumerate() {
            let t = i as i64 * step_ms;
            match v {
                LoadValue::Float(v) => batch.push((labels.clone(), Sample { t, v: *v })),
                LoadValue::Histogram(h) => {
                    histograms.push((labels.clone(), HistogramSample::float(t, h.clone())))
                }
                LoadValue::Blank => {}
            }
        }
    }
    if nhcb {
        histograms.extend(classic_to_nhcb(step_ms, series));
    }
    storage.append(&batch).map_err(|e| e.to_string())?;
    storage
        .append_histograms(&histograms)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Cumulative buckets, count and sum of one classic histogram at one timestamp.
#[derive(Default)]
struct ClassicPoint {
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
}

/// `load_with_nhcb`: the classic histograms (`_bucket`/`_count`/`_sum` series) of a load block
/// as native histograms with custom buckets, named after the base metric (as Prometheus'
/// convertnhcb does).
fn classic_to_nhcb(
    step_ms: i64,
    series: &[(Labels, Vec<LoadValue>)],
) -> Vec<(Labels, HistogramSample)> {
    let mut by_base: BTreeMap<Labels, BTreeMap<i64, ClassicPoint>> = BTreeMap::new();
    for (labels, values) in series {
        let Some(name) = labels.metric_name() else {
            continue;
        };
        let (base, kind) = if let Some(b) = name.strip_suffix("_bucket") {
            (b, 0)
        } else if let Some(b) = name.strip_suffix("_count") {
            (b, 1)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (b, 2)
        } else {
            continue;
        };
        let le = match (kind, labels.get("le")) {
            (0, Some(le)) => match le.parse::<f64>().ok().or(match le {
                "+Inf" | "Inf" => Some(f64::INFINITY),
                _ => None,
            }) {
                Some(le) if !le.is_nan() => Some(le),
                _ => continue,
            },
            (0, None) => continue,
            _ => None,
        };
        let mut b = labels.without(&["le"]).builder();
        b.set(model::METRIC_NAME, base);
        let key = b.build();
        let points = by_base.entry(key).or_default();
        for (i, v) in values.iter().enumerate() {
            let LoadValue::Float(v) = v else { continue };
            let p = points.entry(i as i64 * step_ms).or_default();
            match (kind, le) {
                (0, Some(le)) => p.buckets.push((le, *v)),
                (1, _) => p.count = Some(*v),
                _ => p.sum = *v,
            }
        }
    }
    let mut out = Vec::new();
    for (labels, points) in by_base {
        for (t, mut p) in points {
            p.buckets
                .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            p.buckets.dedup_by(|a, b| a.0 == b.0);
            let count = p.count.or(p.buckets.last().map(|b| b.1)).unwrap_or(0.0);
            if p.buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
                p.buckets.push((f64::INFINITY, count));
            }
            let mut pairs = Vec::with_capacity(p.buckets.len());
            let mut prev = 0.0;
            for (i, (_, c)) in p.buckets.iter().enumerate() {
                pairs.push((i as i32, c - prev));
                prev = *c;
            }
            let (spans, buckets) = model::histogram::compress(&pairs);
            let h = FloatHistogram {
                schema: model::histogram::CUSTOM_BUCKETS_SCHEMA,
                count,
                sum: p.sum,
                positive_spans: spans,
                positive_buckets: buckets,
                custom_values: p
                    .buckets
                    .iter()
                    .map(|b| b.0)
                    .filter(|le| le.is_finite())
                    .collect(),
                ..FloatHistogram::default()
            };
            out.push((labels.clone(), HistogramSample::float(t, h)));
        }
    }
    out
}

/// Whether a result histogram matches the expected one (Prometheus' compareNativeHistogram:
/// both compacted, floats almost equal, the counter reset hint only when the test names it).
fn histogram_matches(expected: &FloatHistogram, hint_given: bool, got: &FloatHistogram) -> bool {
    expected.equals_with(got, almost_equal)
        && (!hint_given || expected.counter_reset_hint == got.counter_reset_hint)
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
                match (e.values.as_slice(), &s.h) {
                    ([ExpectedValue::Float(v)], None) if almost_equal(*v, s.v) => {}
                    ([ExpectedValue::Histogram(h, hint)], Some(got))
                        if histogram_matches(h, *hint, got) => {}
                    (other, got) => {
                        return Err(format!(
                            "series {labels}: expected {}, got {}",
                            fmt_expected(other),
                            match got {
                                Some(h) => h.test_expression(),
                                None => fmt_value(s.v),
                            }
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
            let got_map: BTreeMap<&Labels, &promql::RangeSeries> =
                got.iter().map(|s| (&s.labels, s)).collect();
            let mut expected_count = 0;
            for e in exp {
                let labels = e.labels.clone().unwrap_or_default();
                let mut want: Vec<(i64, f64)> = Vec::new();
                let mut want_h: Vec<(i64, &FloatHistogram, bool)> = Vec::new();
                for (i, v) in e.values.iter().enumerate() {
                    match (v, timestamps.get(i)) {
                        (ExpectedValue::Float(f), Some(t)) => want.push((*t, *f)),
                        (ExpectedValue::Histogram(h, hint), Some(t)) => want_h.push((*t, h, *hint)),
                        _ => {}
                    }
                }
                if want.is_empty() && want_h.is_empty() {
                    continue;
                }
                expected_count += 1;
                let Some(series) = got_map.get(&labels) else {
                    return Err(format!("expected series {labels} not found"));
                };
                let have: Vec<(i64, f64)> = series.samples.iter().map(|s| (s.t, s.v)).collect();
                let same = have.len() == want.len()
                    && have
                        .iter()
                        .zip(&want)
                        .all(|(h, w)| h.0 == w.0 && almost_equal(h.1, w.1));
                if !same {
                    return Err(format!("series {labels}: expected {want:?}, got {have:?}"));
                }
                let same_h = series.histograms.len() == want_h.len()
                    && series
                        .histograms
                        .iter()
                        .zip(&want_h)
                        .all(|(g, w)| g.t == w.0 && histogram_matches(w.1, w.2, &g.h));
                if !same_h {
                    let want_text: Vec<String> = want_h
                        .iter()
                        .map(|(t, h, _)| format!("{t}: {}", h.test_expression()))
                        .collect();
                    let have_text: Vec<String> = series
                        .histograms
                        .iter()
                        .map(|p| format!("{}: {}", p.t, p.h.test_expression()))
                        .collect();
                    return Err(format!(
                        "series {labels}: expected histograms [{}], got [{}]",
                        want_text.join(", "),
                        have_text.join(", ")
                    ));
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

fn fmt_expected(values: &[ExpectedValue]) -> String {
    let parts: Vec<String> = values
        .iter()
        .map(|v| match v {
            ExpectedValue::Float(f) => fmt_value(*f),
            ExpectedValue::Blank => "_".into(),
            ExpectedValue::Histogram(h, _) => h.test_expression(),
        })
        .collect();
    parts.join(" ")
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
    // Prometheus' test runner enables the experimental functions.
    let engine = Engine::new(promql::EngineOptions {
        experimental_functions: true,
        ..Default::default()
    });
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
        for cmd in commands {
            match cmd {
                Command::Clear => storage.clear(),
                Command::Load {
                    step_ms,
                    series,
                    nhcb,
                } => {
                    if let Err(e) = load_into(&storage, step_ms, &series, nhcb) {
                        writeln!(out, "{}: load failed: {e}", path.display())?;
                        summary.failed += 1;
                    }
                }
                Command::Skip { line, reason } => {
                    let _ = line;
                    *skip_counts.entry(reason).or_default() += 1;
                    summary.skipped += 1;
                }
                Command::Eval(case) => match run_case(&engine, &storage, &case) {
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
                },
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

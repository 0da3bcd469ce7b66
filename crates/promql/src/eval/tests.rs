//! Unit tests of the evaluator over `model::MemStorage`: selectors, lookback and staleness,
//! offset/`@`, subqueries, binary operators with vector matching, aggregations, query-context
//! functions, annotations, and a property test that arbitrary input never panics.

use crate::{Engine, EngineOptions, InstantSample, QueryError, Value};
use model::{stale_nan, Labels, MemStorage, MetricSink, Sample};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

/// Loads `values[i]` at `i * step_ms` (None = no sample) for each series.
fn load(storage: &MemStorage, step_ms: i64, series: &[(Labels, Vec<Option<f64>>)]) {
    let mut batch = Vec::new();
    for (l, values) in series {
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                batch.push((
                    l.clone(),
                    Sample {
                        t: i as i64 * step_ms,
                        v: *v,
                    },
                ));
            }
        }
    }
    if let Err(e) = storage.append(&batch) {
        panic!("load failed: {e}");
    }
}

fn ramp(start: f64, inc: f64, n: usize) -> Vec<Option<f64>> {
    (0..n).map(|i| Some(start + inc * i as f64)).collect()
}

fn instant(storage: &MemStorage, q: &str, t_ms: i64) -> Value {
    match Engine::default().instant_query(storage, q, t_ms) {
        Ok(r) => r.value,
        Err(e) => panic!("{q}: {e}"),
    }
}

fn vector(storage: &MemStorage, q: &str, t_ms: i64) -> Vec<(String, f64)> {
    match instant(storage, q, t_ms) {
        Value::Vector(v) => v.into_iter().map(|s| (s.labels.to_string(), s.v)).collect(),
        other => panic!("{q}: expected a vector, got {other:?}"),
    }
}

fn scalar(storage: &MemStorage, q: &str, t_ms: i64) -> f64 {
    match instant(storage, q, t_ms) {
        Value::Scalar { v, .. } => v,
        other => panic!("{q}: expected a scalar, got {other:?}"),
    }
}

fn exec_error(storage: &MemStorage, q: &str, t_ms: i64) -> String {
    match Engine::default().instant_query(storage, q, t_ms) {
        Err(QueryError::Execution(e)) => e,
        other => panic!("{q}: expected an execution error, got {other:?}"),
    }
}

const MIN: i64 = 60_000;

fn http_requests() -> MemStorage {
    let s = MemStorage::new();
    let mut series = Vec::new();
    for (i, (job, inst, group)) in [
        ("api", "0", "production"),
        ("api", "1", "production"),
        ("api", "0", "canary"),
        ("app", "0", "production"),
    ]
    .iter()
    .enumerate()
    {
        series.push((
            labels(&[
                ("__name__", "http_requests"),
                ("job", job),
                ("instance", inst),
                ("group", group),
            ]),
            ramp(0.0, 10.0 * (i as f64 + 1.0), 11),
        ));
    }
    load(&s, 5 * MIN, &series);
    s
}

#[test]
fn lookback_is_left_open_and_five_minutes() {
    let s = MemStorage::new();
    load(&s, MIN, &[(labels(&[("__name__", "m")]), vec![Some(1.0)])]);
    assert_eq!(vector(&s, "m", 0), vec![("m{}".to_string(), 1.0)]);
    assert_eq!(vector(&s, "m", 5 * MIN - 1).len(), 1);
    assert!(vector(&s, "m", 5 * MIN).is_empty());
    assert!(vector(&s, "m", -1).is_empty());
}

#[test]
fn staleness_marker_hides_the_series() {
    let s = MemStorage::new();
    load(
        &s,
        MIN,
        &[(
            labels(&[("__name__", "m")]),
            vec![Some(1.0), Some(stale_nan()), Some(3.0)],
        )],
    );
    assert_eq!(vector(&s, "m", 30_000).len(), 1);
    assert!(vector(&s, "m", MIN).is_empty());
    assert!(vector(&s, "m", 90_000).is_empty());
    assert_eq!(vector(&s, "m", 2 * MIN), vec![("m{}".to_string(), 3.0)]);
    // Range selectors drop stale markers.
    assert_eq!(vector(&s, "count_over_time(m[5m])", 2 * MIN)[0].1, 2.0);
}

#[test]
fn offset_and_at_modifiers() {
    let s = MemStorage::new();
    load(
        &s,
        MIN,
        &[(labels(&[("__name__", "m")]), ramp(0.0, 1.0, 11))],
    );
    assert_eq!(vector(&s, "m offset 2m", 5 * MIN)[0].1, 3.0);
    assert_eq!(vector(&s, "m offset -2m", 5 * MIN)[0].1, 7.0);
    assert_eq!(vector(&s, "m @ 120", 10 * MIN)[0].1, 2.0);
    assert_eq!(vector(&s, "m @ 180 offset 1m", 10 * MIN)[0].1, 2.0);
    assert_eq!(vector(&s, "m @ start()", 4 * MIN)[0].1, 4.0);
    let r = Engine::default()
        .range_query(&s, "m @ end()", 0, 3 * MIN, MIN)
        .map(|r| r.value);
    match r {
        Ok(Value::Matrix(m)) => {
            assert_eq!(m.len(), 1);
            assert!(m[0].samples.iter().all(|p| p.v == 3.0));
            assert_eq!(m[0].samples.len(), 4);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn range_selector_is_left_open() {
    let s = MemStorage::new();
    load(
        &s,
        MIN,
        &[(labels(&[("__name__", "m")]), ramp(0.0, 1.0, 11))],
    );
    match instant(&s, "m[2m]", 5 * MIN) {
        Value::Matrix(m) => {
            let ts: Vec<i64> = m[0].samples.iter().map(|p| p.t).collect();
            assert_eq!(ts, vec![4 * MIN, 5 * MIN]);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn subqueries_align_to_absolute_steps() {
    let s = MemStorage::new();
    load(
        &s,
        10_000,
        &[(
            labels(&[("__name__", "metric")]),
            vec![Some(1.0), Some(2.0)],
        )],
    );
    assert_eq!(
        vector(&s, "sum_over_time(metric[50s:10s])", 10_000)[0].1,
        3.0
    );
    assert_eq!(
        vector(&s, "sum_over_time(metric[50s:5s])", 10_000)[0].1,
        4.0
    );
    assert_eq!(
        vector(&s, "sum_over_time(metric[50s:10s])", 300_000)[0].1,
        10.0
    );
    assert_eq!(
        vector(&s, "sum_over_time(metric[60s:10s])", 359_000)[0].1,
        2.0
    );
    // Default step: the evaluation interval (1m).
    assert_eq!(
        vector(&s, "count_over_time(metric[3m:])", 180_000)[0].1,
        3.0
    );
    assert_eq!(
        vector(&s, "sum_over_time(metric[20s:10s] offset 10s)", 20_000)[0].1,
        3.0
    );
}

#[test]
fn arithmetic_drops_name_and_comparison_filters() {
    let s = http_requests();
    let t = 50 * MIN;
    let v = vector(&s, "http_requests{job=\"app\"} * 2", t);
    assert_eq!(
        v,
        vec![(
            "{group=\"production\", instance=\"0\", job=\"app\"}".to_string(),
            800.0
        )]
    );
    let v = vector(&s, "http_requests > 250", t);
    assert_eq!(v.len(), 2);
    assert!(v.iter().all(|(l, _)| l.starts_with("http_requests{")));
    let v = vector(&s, "http_requests > bool 250", t);
    assert_eq!(v.len(), 4);
    assert!(v.iter().all(|(l, _)| l.starts_with('{')));
    assert_eq!(vector(&s, "250 < http_requests", t)[0].1, 300.0);
    assert_eq!(scalar(&s, "2 ^ 3 - 1", t), 7.0);
    assert_eq!(scalar(&s, "1 < bool 2", t), 1.0);
    assert_eq!(vector(&s, "-http_requests{job=\"app\"}", t)[0].1, -400.0);
}

#[test]
fn vector_matching_and_set_operators() {
    let s = http_requests();
    let t = 50 * MIN;
    let v = vector(
        &s,
        "http_requests / on(job, instance, group) http_requests",
        t,
    );
    assert_eq!(v.len(), 4);
    assert!(v.iter().all(|(_, x)| *x == 1.0));
    let v = vector(
        &s,
        "http_requests / ignoring(group) group_left sum without(group) (http_requests)",
        t,
    );
    assert_eq!(v.len(), 4);
    let err = exec_error(&s, "http_requests / ignoring(group) http_requests", t);
    assert!(err.contains("many-to-many matching not allowed"), "{err}");
    let err = exec_error(
        &s,
        "sum by (job) (http_requests) + on(job) http_requests",
        t,
    );
    assert!(err.contains("many-to-many matching not allowed"), "{err}");
    let v = vector(
        &s,
        "http_requests{group=\"canary\"} or http_requests{instance=\"1\"}",
        t,
    );
    assert_eq!(v.len(), 2);
    let v = vector(
        &s,
        "http_requests and on(job) http_requests{job=\"app\"}",
        t,
    );
    assert_eq!(v.len(), 1);
    let v = vector(
        &s,
        "http_requests unless on(job) http_requests{job=\"app\"}",
        t,
    );
    assert_eq!(v.len(), 3);
    // group_left copies the listed labels from the "one" side.
    let s2 = MemStorage::new();
    load(
        &s2,
        MIN,
        &[
            (
                labels(&[("__name__", "a"), ("k", "1"), ("x", "1")]),
                vec![Some(2.0)],
            ),
            (
                labels(&[("__name__", "a"), ("k", "1"), ("x", "2")]),
                vec![Some(3.0)],
            ),
            (
                labels(&[("__name__", "b"), ("k", "1"), ("info", "i")]),
                vec![Some(10.0)],
            ),
        ],
    );
    let v = vector(&s2, "a * on(k) group_left(info) b", 0);
    assert_eq!(
        v,
        vec![
            ("{info=\"i\", k=\"1\", x=\"1\"}".to_string(), 20.0),
            ("{info=\"i\", k=\"1\", x=\"2\"}".to_string(), 30.0)
        ]
    );
    let err = exec_error(&s2, "a * on(k) b", 0);
    assert!(err.contains("multiple matches for labels"), "{err}");
    // An empty side matches nothing and raises no duplicate error.
    assert!(vector(&s2, "nothing * on(k) a", 0).is_empty());
}

#[test]
fn aggregations() {
    let s = http_requests();
    let t = 50 * MIN;
    assert_eq!(
        vector(&s, "sum by (job) (http_requests)", t),
        vec![
            ("{job=\"api\"}".to_string(), 600.0),
            ("{job=\"app\"}".to_string(), 400.0)
        ]
    );
    assert_eq!(vector(&s, "avg(http_requests)", t)[0].1, 250.0);
    assert_eq!(
        vector(&s, "count without (instance) (http_requests)", t).len(),
        3
    );
    assert_eq!(vector(&s, "max(http_requests)", t)[0].1, 400.0);
    assert_eq!(vector(&s, "min(http_requests)", t)[0].1, 100.0);
    assert_eq!(vector(&s, "group(http_requests)", t)[0].1, 1.0);
    assert!((vector(&s, "stddev(http_requests)", t)[0].1 - 111.803_398_874_989_5).abs() < 1e-9);
    assert_eq!(vector(&s, "stdvar(http_requests)", t)[0].1, 12_500.0);
    assert_eq!(vector(&s, "quantile(0.5, http_requests)", t)[0].1, 250.0);
    assert_eq!(
        vector(&s, "quantile(2, http_requests)", t)[0].1,
        f64::INFINITY
    );
    let top = vector(&s, "topk(2, http_requests)", t);
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].1, 400.0);
    assert!(top[0].0.starts_with("http_requests{"));
    assert_eq!(vector(&s, "bottomk(1, http_requests)", t)[0].1, 100.0);
    let cv = vector(&s, "count_values(\"value\", http_requests)", t);
    assert_eq!(cv.len(), 4);
    assert!(cv.iter().any(|(l, _)| l == "{value=\"100\"}"));
    assert_eq!(vector(&s, "limitk(3, http_requests)", t).len(), 3);
}

#[test]
fn query_context_functions() {
    let s = MemStorage::new();
    let e = Engine::default();
    let step_values = |q: &str, start: i64, end: i64, step: i64| -> Vec<f64> {
        match e.range_query(&s, q, start, end, step).map(|r| r.value) {
            Ok(Value::Matrix(m)) => m[0].samples.iter().map(|p| p.v).collect(),
            other => panic!("{q}: unexpected {other:?}"),
        }
    };
    assert_eq!(step_values("step()", 0, 10_000, 5_000), vec![5.0; 3]);
    assert_eq!(
        step_values("range()", 10_000, 50_000, 10_000),
        vec![40.0; 5]
    );
    assert_eq!(
        step_values("end() - start()", 10_000, 20_000, 5_000),
        vec![10.0; 3]
    );
    assert_eq!(scalar(&s, "step()", 0), 0.0);
    assert_eq!(scalar(&s, "start()", 100_000), 100.0);
}

#[test]
fn sort_in_range_query_warns_with_position() {
    let s = MemStorage::new();
    load(
        &s,
        MIN,
        &[(labels(&[("__name__", "series")]), ramp(1.0, 1.0, 3))],
    );
    let r = Engine::default().range_query(&s, "sum(sort(series))", MIN, 2 * MIN, MIN);
    match r {
        Ok(r) => assert_eq!(
            r.warnings,
            vec!["PromQL warning: sort is ineffective for range queries since results are always ordered by labels (1:5)".to_string()]
        ),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn duplicate_labelsets_after_name_drop_are_errors() {
    let s = MemStorage::new();
    load(
        &s,
        MIN,
        &[
            (labels(&[("__name__", "a"), ("k", "1")]), vec![Some(1.0)]),
            (labels(&[("__name__", "b"), ("k", "1")]), vec![Some(2.0)]),
        ],
    );
    let err = exec_error(&s, "{k=\"1\"} * 2", 0);
    assert!(err.contains("same labelset"), "{err}");
    let err = exec_error(&s, "-{k=\"1\"}", 0);
    assert!(err.contains("same labelset"), "{err}");
}

#[test]
fn range_query_builds_sorted_matrix_and_limits_samples() {
    let s = http_requests();
    let r = Engine::default().range_query(
        &s,
        "sum by (job) (rate(http_requests[10m]))",
        0,
        50 * MIN,
        5 * MIN,
    );
    match r.map(|r| r.value) {
        Ok(Value::Matrix(m)) => {
            assert_eq!(m.len(), 2);
            assert!(m[0].labels < m[1].labels);
        }
        other => panic!("unexpected {other:?}"),
    }
    let tiny = Engine::new(EngineOptions {
        max_samples: 3,
        ..EngineOptions::default()
    });
    match tiny.range_query(&s, "http_requests", 0, 50 * MIN, 5 * MIN) {
        Err(QueryError::Execution(e)) => assert!(e.contains("too many samples"), "{e}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn instant_sample_timestamps_are_the_evaluation_time() {
    let s = http_requests();
    match instant(&s, "abs(http_requests)", 51 * MIN) {
        Value::Vector(v) => assert!(v.iter().all(|x: &InstantSample| x.t == 51 * MIN)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        vector(&s, "timestamp(http_requests)", 51 * MIN)[0].1,
        3000.0
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn fragment() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "m",
            "http_requests",
            "{job=\"api\"}",
            "[5m]",
            "[1m:10s]",
            " offset 1m",
            " @ 100",
            " @ start()",
            "(",
            ")",
            "sum",
            "by (job)",
            "without (group)",
            "rate",
            "topk",
            "2",
            "-1",
            "0.5",
            "NaN",
            "Inf",
            " + ",
            " * ",
            " / ",
            " % ",
            " ^ ",
            " == ",
            " > bool ",
            " and ",
            " or ",
            " unless ",
            " on(job) ",
            " ignoring(group) ",
            " group_left(x) ",
            " group_right ",
            ",",
            "\"s\"",
            "count_values",
            "quantile",
            "histogram_quantile",
            "label_replace",
            "absent",
            "vector",
            "scalar",
            "time()",
            "sort_desc",
            "[",
            "]",
            "{",
            "}",
            "stddev",
            "limit_ratio",
            "step()",
            "-",
        ])
        .prop_map(str::to_string)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,40}") {
            let s = http_requests();
            let _ = Engine::default().instant_query(&s, &text, 10 * MIN);
        }

        #[test]
        fn promql_like_text_never_panics(parts in prop::collection::vec(fragment(), 1..12)) {
            let s = http_requests();
            let q = parts.concat();
            let _ = Engine::default().instant_query(&s, &q, 20 * MIN);
            let _ = Engine::default().range_query(&s, &q, 0, 20 * MIN, 7 * MIN);
        }
    }
}

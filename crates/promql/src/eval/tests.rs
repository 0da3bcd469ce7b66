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
    match test_engine().instant_query(storage, q, t_ms) {
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
    match test_engine().instant_query(storage, q, t_ms) {
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
    let r = test_engine()
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
    let e = test_engine();
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
    let r = test_engine().range_query(&s, "sum(sort(series))", MIN, 2 * MIN, MIN);
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
    let r = test_engine().range_query(
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
            let _ = test_engine().instant_query(&s, &text, 10 * MIN);
        }

        #[test]
        fn promql_like_text_never_panics(parts in prop::collection::vec(fragment(), 1..12)) {
            let s = http_requests();
            let q = parts.concat();
            let _ = test_engine().instant_query(&s, &q, 20 * MIN);
            let _ = test_engine().range_query(&s, &q, 0, 20 * MIN, 7 * MIN);
        }
    }
}

/// Dashboard-style range query over many series; run with
/// `cargo test -p promql --release -- --ignored --nocapture dashboard_range_query_speed`.
#[test]
#[ignore]
fn dashboard_range_query_speed() {
    let s = MemStorage::new();
    let step = 15_000;
    let n = 4 * 60 * 2; // 2h of 15s samples
    let mut batch = Vec::new();
    for i in 0..2000 {
        let method = ["GET", "POST", "PUT", "DELETE"][i % 4];
        let l = labels(&[
            ("__name__", "http_requests_total"),
            ("method", method),
            ("instance", &format!("host-{i}")),
            ("job", "api"),
        ]);
        for k in 0..n {
            batch.push((
                l.clone(),
                Sample {
                    t: k as i64 * step,
                    v: (k * (i % 7 + 1)) as f64,
                },
            ));
        }
    }
    if let Err(e) = s.append(&batch) {
        panic!("{e}");
    }
    let e = test_engine();
    let started = std::time::Instant::now();
    let r = e.range_query(
        &s,
        "sum(rate(http_requests_total[5m])) by (method)",
        3_600_000,
        7_200_000,
        step,
    );
    let elapsed = started.elapsed();
    match r.map(|r| r.value) {
        Ok(Value::Matrix(m)) => assert_eq!(m.len(), 4),
        other => panic!("unexpected {other:?}"),
    }
    println!("sum(rate(x[5m])) by (method), 2000 series, 241 steps: {elapsed:?}");
    for q in [
        "http_requests_total @ 0",
        "count(http_requests_total @ 0)",
        "rate(http_requests_total[5m])",
        "sum(http_requests_total) by (method)",
        "max_over_time(sum(rate(http_requests_total[5m]))[30m:1m])",
        "rate(http_requests_total[5m]) > 0.05",
    ] {
        let started = std::time::Instant::now();
        let r = e.range_query(&s, q, 3_600_000, 7_200_000, step);
        assert!(r.is_ok());
        println!("{q}: {:?}", started.elapsed());
    }
}

/// The whole-range fast path must give exactly what step-by-step evaluation gives.
#[test]
fn range_fast_path_matches_instant_evaluation() {
    let s = MemStorage::new();
    let mut series = Vec::new();
    for (i, method) in ["GET", "POST", "GET", "PUT"].iter().enumerate() {
        let mut values = ramp(0.0, 1.5 * (i as f64 + 1.0), 40);
        if i == 1 {
            values[20] = Some(stale_nan());
            values[21] = None;
            values[22] = Some(0.5); // counter reset after a gap
        }
        if i == 3 {
            values.truncate(10);
        }
        series.push((
            labels(&[
                ("__name__", "req_total"),
                ("method", method),
                ("instance", &i.to_string()),
            ]),
            values,
        ));
    }
    // Two series that collide once the name is dropped.
    series.push((labels(&[("__name__", "a"), ("k", "1")]), ramp(1.0, 1.0, 10)));
    series.push((
        labels(&[("__name__", "b"), ("k", "1")]),
        vec![None; 30]
            .into_iter()
            .chain(ramp(1.0, 1.0, 10))
            .collect(),
    ));
    load(&s, 15_000, &series);
    let e = test_engine();
    for q in [
        "req_total",
        "req_total offset 1m",
        "rate(req_total[1m])",
        "increase(req_total[2m] offset 30s)",
        "sum by (method) (rate(req_total[1m]))",
        "avg without (instance) (irate(req_total[1m]))",
        "max(req_total) - min(req_total)",
        "count(last_over_time(req_total[1m]))",
        "quantile_over_time(0.9, req_total[2m])",
        "stddev(predict_linear(req_total[2m], 60))",
        "sum(rate(req_total[1m])) / sum(rate(req_total[2m]))",
        "rate({k=\"1\"}[1m])",
        "sum(rate({k=\"1\"}[1m]))",
        "rate(a[1m])",
        "histogram_quantile(0.5, sum by (method) (rate(req_total[1m])))",
        "max_over_time(rate(req_total[1m])[3m:20s])",
        "rate(req_total[1m]) > 0.1",
        "rate(req_total[1m]) * 60",
        "2 ^ req_total",
        "req_total > bool 10",
        "10 < req_total",
        "sum(req_total % 7 == 1)",
        "{k=\"1\"} * 2",
        "{k=\"1\"} > 2",
        "timestamp(rate(req_total[1m]))",
        "rate(req_total[1m]) / on(instance) group_left rate(req_total[2m])",
        "avg_over_time(sum(req_total)[2m:15s] offset 10s)",
        "sum_over_time(max_over_time(req_total[1m:7s])[2m:])",
    ] {
        let (start, end, step) = (0, 12 * MIN, 20_000);
        let range = e.range_query(&s, q, start, end, step);
        let mut expected: std::collections::BTreeMap<String, Vec<(i64, u64)>> = Default::default();
        let mut expected_err = None;
        let mut expected_infos = std::collections::BTreeSet::new();
        let mut t = start;
        while t <= end {
            match e.instant_query(&s, q, t) {
                Ok(r) => {
                    expected_infos.extend(r.infos);
                    if let Value::Vector(v) = r.value {
                        for x in v {
                            expected
                                .entry(x.labels.to_string())
                                .or_default()
                                .push((t, x.v.to_bits()));
                        }
                    }
                }
                Err(err) => {
                    expected_err = Some(err.to_string());
                    break;
                }
            }
            t += step;
        }
        match (range, expected_err) {
            (Ok(r), None) => {
                let Value::Matrix(m) = r.value else {
                    panic!("{q}: not a matrix")
                };
                let got: std::collections::BTreeMap<String, Vec<(i64, u64)>> = m
                    .into_iter()
                    .map(|rs| {
                        (
                            rs.labels.to_string(),
                            rs.samples.iter().map(|p| (p.t, p.v.to_bits())).collect(),
                        )
                    })
                    .collect();
                assert_eq!(got, expected, "{q}");
                let infos: std::collections::BTreeSet<String> = r.infos.into_iter().collect();
                assert_eq!(infos, expected_infos, "{q}");
            }
            (Err(a), Some(b)) => assert_eq!(a.to_string(), b, "{q}"),
            (a, b) => panic!("{q}: range {a:?} vs instant error {b:?}"),
        }
    }
}

#[test]
fn range_fast_path_handles_at_and_name_keeping_functions() {
    let s = MemStorage::new();
    load(
        &s,
        15_000,
        &[
            (
                labels(&[("__name__", "g"), ("x", "1")]),
                vec![Some(5.0)]
                    .into_iter()
                    .chain(ramp(1.0, 2.0, 30))
                    .collect(),
            ),
            (labels(&[("__name__", "g"), ("x", "2")]), ramp(3.0, 1.0, 30)),
        ],
    );
    let e = test_engine();
    for q in [
        "g @ 100",
        "last_over_time(g[1m])",
        "rate(g[15s])",
        "rate(g[1m] @ 200)",
        "sum(g @ 300)",
    ] {
        let r = e.range_query(&s, q, 0, 5 * MIN, 15_000);
        let Ok(r) = r else { panic!("{q}: {r:?}") };
        let Value::Matrix(m) = r.value else {
            panic!("{q}: not a matrix")
        };
        let mut t = 0;
        while t <= 5 * MIN {
            let Value::Vector(v) = instant(&s, q, t) else {
                panic!("{q}")
            };
            for x in v {
                let found = m
                    .iter()
                    .find(|rs| rs.labels == x.labels)
                    .and_then(|rs| rs.samples.iter().find(|p| p.t == t));
                assert_eq!(
                    found.map(|p| p.v.to_bits()),
                    Some(x.v.to_bits()),
                    "{q} at {t}"
                );
            }
            t += 15_000;
        }
    }
}

#[test]
fn aggregation_parameters_are_checked_and_annotated() {
    let s = http_requests();
    let t = 50 * MIN;
    assert_eq!(
        exec_error(&s, "topk(NaN, non_existent)", t),
        "Parameter value is NaN"
    );
    assert_eq!(
        exec_error(&s, "limit_ratio(NaN, http_requests)", t),
        "Ratio value is NaN"
    );
    let r = test_engine().instant_query(&s, "quantile(1.5, http_requests)", t);
    match r {
        Ok(r) => assert_eq!(
            r.warnings,
            vec!["PromQL warning: quantile value should be between 0 and 1, got 1.5".to_string()]
        ),
        Err(e) => panic!("{e}"),
    }
    let r = test_engine().instant_query(&s, "limit_ratio(2, http_requests)", t);
    match r {
        Ok(r) => {
            assert_eq!(r.warnings.len(), 1);
            assert!(matches!(r.value, Value::Vector(ref v) if v.len() == 4));
        }
        Err(e) => panic!("{e}"),
    }
    // limitk takes the first k series of each group in label order.
    let v = vector(&s, "limitk(1, http_requests)", t);
    assert_eq!(v.len(), 1);
    assert!(v[0].0.contains("group=\"canary\""), "{v:?}");
    assert_eq!(
        vector(
            &s,
            "count(limit_ratio(0.5, http_requests) or limit_ratio(-0.5, http_requests))",
            t
        )[0]
        .1,
        4.0
    );
}

#[test]
fn whole_range_intermediate_results_count_against_max_samples() {
    let s = MemStorage::new();
    load(
        &s,
        MIN,
        &[(labels(&[("__name__", "m"), ("k", "1")]), vec![Some(1.0)])],
    );
    let tiny = Engine::new(EngineOptions {
        max_samples: 10,
        ..EngineOptions::default()
    });
    for q in ["m", "sum(m)", "sum(rate(m[5m]))"] {
        match tiny.range_query(&s, q, 0, 4 * MIN, 1_000) {
            Err(QueryError::Execution(e)) => assert!(e.contains("too many samples"), "{q}: {e}"),
            Ok(r) if q.contains("rate") => {
                assert!(matches!(r.value, Value::Matrix(ref m) if m.is_empty()))
            }
            other => panic!("{q}: unexpected {other:?}"),
        }
    }
}

#[test]
fn spent_time_budget_is_a_timeout() {
    let s = http_requests();
    let e = Engine::new(EngineOptions {
        timeout: Some(std::time::Duration::ZERO),
        ..EngineOptions::default()
    });
    for q in [
        "http_requests",
        "sum(rate(http_requests[10m]))",
        "max_over_time(http_requests[10m:1m])",
    ] {
        match e.range_query(&s, q, 0, 50 * MIN, MIN) {
            Err(QueryError::Timeout(what)) => assert_eq!(what, "expression evaluation"),
            other => panic!("{q}: unexpected {other:?}"),
        }
    }
}

#[test]
fn extreme_durations_and_timestamps_do_not_panic() {
    let s = http_requests();
    for q in [
        "http_requests offset 100000000000y",
        "http_requests offset -100000000000y",
        "rate(http_requests[100000000000y])",
        "http_requests @ 9223372036854775",
        "http_requests @ -9223372036854775",
        "max_over_time(http_requests[100000000000y:1ms])",
        "max_over_time(http_requests[1m:100000000000y])",
        "sum_over_time(http_requests[1000y:1y] offset -1000y)",
    ] {
        let _ = test_engine().instant_query(&s, q, 10 * MIN);
        let _ = test_engine().range_query(&s, q, 0, 10 * MIN, MIN);
        let _ = test_engine().instant_query(&s, q, i64::MAX);
        let _ = test_engine().instant_query(&s, q, i64::MIN);
        let _ = test_engine().range_query(&s, q, i64::MIN, i64::MAX, i64::MAX);
        let _ = test_engine().range_query(&s, q, i64::MAX - 5, i64::MAX, 1);
    }
}

/// The range-query fast path (`grid`: whole-range `topk`/`bottomk` and per-window range
/// functions computed in place) returns exactly what instant queries at each step return:
/// same series, same steps, same bits, with ties, NaN, counter resets and a staleness marker.
#[test]
fn range_fast_path_matches_instant_queries_step_by_step() {
    let s = MemStorage::new();
    let n = 40;
    let mut series = Vec::new();
    for i in 0..6 {
        let g = if i % 2 == 0 { "a" } else { "b" };
        let counter: Vec<Option<f64>> = (0..n)
            .map(|k| {
                let base = ((k * (i + 3)) % 17) as f64 + (k * i) as f64;
                match (i, k) {
                    (_, k) if k == 7 + i => None,
                    (3, 20) => Some(stale_nan()),
                    (5, 25..=27) => Some(f64::NAN),
                    _ => Some(if k > 30 && i == 2 { base - 100.0 } else { base }),
                }
            })
            .collect();
        let name = format!("c{i}");
        series.push((
            labels(&[("__name__", "req_total"), ("g", g), ("i", &name)]),
            counter,
        ));
        // Ties between series: only two distinct values per step.
        series.push((
            labels(&[("__name__", "tie"), ("g", g), ("i", &name)]),
            (0..n).map(|k| Some(((k + i) % 2) as f64)).collect(),
        ));
    }
    load(&s, 15_000, &series);
    let e = test_engine();
    let queries = [
        "topk(2, tie)",
        "bottomk(3, tie)",
        "topk by (g) (1, tie)",
        "topk(2, rate(req_total[1m]))",
        "bottomk without (i) (2, increase(req_total[2m]))",
        "topk(0, req_total)",
        "rate(req_total[1m])",
        "irate(req_total[1m])",
        "idelta(req_total[1m])",
        "delta(req_total[2m])",
        "deriv(req_total[2m])",
        "changes(req_total[2m])",
        "resets(req_total[2m])",
        "avg_over_time(req_total[1m])",
        "sum_over_time(req_total[1m])",
        "count_over_time(req_total[1m])",
        "min_over_time(req_total[1m])",
        "max_over_time(req_total[1m])",
        "stddev_over_time(req_total[1m])",
        "stdvar_over_time(tie[1m])",
        "sum by (g) (rate(req_total[1m]))",
    ];
    let (start, end, step) = (0, (n as i64 - 1) * 15_000, 15_000);
    for q in queries {
        let mut want: std::collections::BTreeMap<String, Vec<(i64, u64)>> = Default::default();
        let mut t = start;
        while t <= end {
            if let Value::Vector(v) = instant(&s, q, t) {
                for x in v {
                    want.entry(x.labels.to_string())
                        .or_default()
                        .push((t, x.v.to_bits()));
                }
            }
            t += step;
        }
        let got: std::collections::BTreeMap<String, Vec<(i64, u64)>> =
            match e.range_query(&s, q, start, end, step).map(|r| r.value) {
                Ok(Value::Matrix(m)) => m
                    .into_iter()
                    .map(|r| {
                        let points = r.samples.iter().map(|p| (p.t, p.v.to_bits())).collect();
                        (r.labels.to_string(), points)
                    })
                    .collect(),
                other => panic!("{q}: unexpected {other:?}"),
            };
        assert_eq!(got, want, "{q}");
    }
}

/// The engine the tests use: experimental functions on (as `pharos promql-test`).
fn test_engine() -> Engine {
    Engine::new(crate::EngineOptions {
        experimental_functions: true,
        ..Default::default()
    })
}

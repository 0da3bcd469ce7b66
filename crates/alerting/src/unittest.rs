//! promtool-compatible rule unit tests (`promtool test rules`): reads the test YAML
//! (`rule_files`, `evaluation_interval`, `group_eval_order`, `tests[]` with `input_series` in the
//! expanding notation, `alert_rule_test`, `promql_expr_test`, `external_labels`,
//! `external_url`), evaluates the rules over an in-memory store from time 0, and reports like
//! promtool. Writes the report to any `Write`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use model::time::PromDuration;
use model::{Labels, MemStorage, MetricSink, Sample};
use promql::Engine;
use serde::Deserialize;

use crate::rule::{AlertState, EvalContext, Group, Rule};
use crate::rulefmt::load_rule_file;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<PromDuration>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    tests: Vec<TestGroup>,
    #[serde(default)]
    fuzzy_compare: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: String,
    #[serde(default)]
    values: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTestCase {
    eval_time: PromDuration,
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromqlTestCase {
    expr: String,
    eval_time: PromDuration,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    value: f64,
}

/// Totals over every file run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
}

type LabelsAndAnnotations = (BTreeMap<String, String>, BTreeMap<String, String>);

fn fmt_map(m: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{k}={}", gotemplate::fmt::quote(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

fn fmt_alerts(v: &[LabelsAndAnnotations]) -> String {
    if v.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for (i, (l, a)) in v.iter().enumerate() {
        s.push_str(&format!(
            "            {i}:\n              Labels:{}\n              Annotations:{}\n",
            fmt_map(l),
            fmt_map(a)
        ));
    }
    s.push_str("            ]");
    s
}

fn fmt_dur(ms: i64) -> String {
    PromDuration(ms).to_string()
}

/// Run every test file; writes promtool-like output and a closing `N passed, M failed` line.
pub fn run_files(paths: &[PathBuf], out: &mut dyn Write) -> std::io::Result<Summary> {
    let mut total = Summary::default();
    for p in paths {
        writeln!(out, "Unit Testing:  {}", p.display())?;
        match run_file(p) {
            Ok(results) => {
                let mut errs = Vec::new();
                for (name, r) in results {
                    match r {
                        Ok(()) => total.passed += 1,
                        Err(e) => {
                            total.failed += 1;
                            let label = if name.is_empty() {
                                String::new()
                            } else {
                                format!("    name: {name},\n")
                            };
                            errs.push(format!("{label}{}", e.join("\n")));
                        }
                    }
                }
                if errs.is_empty() {
                    writeln!(out, "  SUCCESS")?;
                } else {
                    writeln!(out, "  FAILED:")?;
                    for e in errs {
                        writeln!(out, "{e}")?;
                    }
                }
            }
            Err(e) => {
                total.failed += 1;
                writeln!(out, "  FAILED:")?;
                for line in e {
                    writeln!(out, "    {line}")?;
                }
            }
        }
        writeln!(out)?;
    }
    writeln!(out, "{} passed, {} failed", total.passed, total.failed)?;
    Ok(total)
}

type GroupResult = (String, Result<(), Vec<String>>);

/// Run one test file: per test group, Ok or the failure messages. File-level problems are `Err`.
fn run_file(path: &Path) -> Result<Vec<GroupResult>, Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    let tf: TestFile = serde_yaml_ng::from_str(&text).map_err(|e| {
        let loc = e
            .location()
            .map(|l| format!("{}:{}:{}: ", path.display(), l.line(), l.column()))
            .unwrap_or_default();
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        vec![format!("{loc}{msg}")]
    })?;
    let _ = tf.fuzzy_compare;
    let eval_interval = tf
        .evaluation_interval
        .map(|d| d.0)
        .filter(|d| *d > 0)
        .unwrap_or(60_000);
    let base = path.parent().unwrap_or(Path::new("."));
    let mut rule_paths = Vec::new();
    for rf in &tf.rule_files {
        let full = if Path::new(rf).is_absolute() {
            PathBuf::from(rf)
        } else {
            base.join(rf)
        };
        let matches: Vec<PathBuf> = glob::glob(&full.to_string_lossy())
            .map(|g| g.flatten().collect())
            .unwrap_or_default();
        if matches.is_empty() {
            return Err(vec![format!("cannot find rule file {}", full.display())]);
        }
        rule_paths.extend(matches);
    }
    let mut defs = Vec::new();
    for p in &rule_paths {
        match load_rule_file(p, &crate::template::check) {
            Ok(rf) => defs.push((p.clone(), rf)),
            Err(errs) => return Err(errs.iter().map(|e| e.to_string()).collect()),
        }
    }
    let mut results = Vec::new();
    for tg in &tf.tests {
        let mut groups: Vec<Group> = defs
            .iter()
            .flat_map(|(p, rf)| {
                rf.groups
                    .iter()
                    .map(move |g| Group::from_def(p.clone(), g, eval_interval, true))
            })
            .collect();
        if !tf.group_eval_order.is_empty() {
            let mut ordered = Vec::new();
            for name in &tf.group_eval_order {
                match groups.iter().position(|g| &g.name == name) {
                    Some(i) => ordered.push(groups.remove(i)),
                    None => {
                        return Err(vec![format!("group name provided in group_eval_order not present in rule files: {name}")]);
                    }
                }
            }
            ordered.append(&mut groups);
            groups = ordered;
        }
        results.push((tg.name.clone(), run_group(tg, groups, eval_interval)));
    }
    Ok(results)
}

fn parse_labels(s: &str) -> Result<Labels, String> {
    if s.trim().is_empty() {
        return Ok(Labels::empty());
    }
    let (l, rest) = promqltest::script::parse_series_line(s)?;
    if !rest.is_empty() {
        return Err(format!("unexpected text after series {s:?}"));
    }
    Ok(l)
}

fn run_group(
    tg: &TestGroup,
    mut groups: Vec<Group>,
    eval_interval: i64,
) -> Result<(), Vec<String>> {
    let storage = Arc::new(MemStorage::new());
    let load_interval = tg
        .interval
        .map(|d| d.0)
        .filter(|d| *d > 0)
        .unwrap_or(eval_interval);
    let mut batch = Vec::new();
    for s in &tg.input_series {
        let labels = parse_labels(&s.series).map_err(|e| vec![format!("    {e}")])?;
        let values = promqltest::script::expand_values(&s.values)
            .map_err(|e| vec![format!("    series {}: {e}", s.series)])?;
        for (i, v) in values.iter().enumerate() {
            if let promqltest::script::ExpectedValue::Float(x) = v {
                batch.push((
                    labels.clone(),
                    Sample {
                        t: i as i64 * load_interval,
                        v: *x,
                    },
                ));
            }
        }
    }
    storage
        .append(&batch)
        .map_err(|e| vec![format!("    {e}")])?;
    let engine = Engine::default();
    let mut alert_times: Vec<i64> = tg.alert_rule_test.iter().map(|c| c.eval_time.0).collect();
    alert_times.sort();
    alert_times.dedup();
    let max_t = tg
        .alert_rule_test
        .iter()
        .map(|c| c.eval_time.0)
        .chain(tg.promql_expr_test.iter().map(|c| c.eval_time.0))
        .max()
        .unwrap_or(0);
    let mut errs: Vec<String> = Vec::new();
    // alertname -> eval_time -> firing alerts
    let mut got_at: BTreeMap<(i64, String), Vec<LabelsAndAnnotations>> = BTreeMap::new();
    let mut ts = 0i64;
    let storage_q: Arc<dyn model::Queryable> = storage.clone();
    while ts <= max_t {
        let ctx = EvalContext {
            engine: &engine,
            storage: storage_q.clone(),
            sink: storage.as_ref(),
            external_labels: &tg.external_labels,
            external_url: &tg.external_url,
            logql: None,
        };
        for g in groups.iter_mut() {
            g.eval(&ctx, ts, 60_000);
            for r in &g.rules {
                if let Some(e) = &r.common().last_error {
                    errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        r.common().name,
                        fmt_dur(ts)
                    ));
                }
            }
        }
        for &t in &alert_times {
            if ts <= t && t < ts + eval_interval {
                for case in tg.alert_rule_test.iter().filter(|c| c.eval_time.0 == t) {
                    let mut got = Vec::new();
                    for g in &groups {
                        for r in &g.rules {
                            if let Rule::Alerting(a) = r {
                                if a.common.name == case.alertname {
                                    for al in a.active.values() {
                                        if al.state == AlertState::Firing {
                                            got.push((
                                                al.labels
                                                    .iter()
                                                    .map(|l| (l.name.clone(), l.value.clone()))
                                                    .collect(),
                                                al.annotations.clone(),
                                            ));
                                        }
                                    }
                                }
                            }
                        }
                    }
                    got.sort();
                    got_at.insert((t, case.alertname.clone()), got);
                }
            }
        }
        ts += eval_interval;
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    for case in &tg.alert_rule_test {
        let got = got_at
            .get(&(case.eval_time.0, case.alertname.clone()))
            .cloned()
            .unwrap_or_default();
        let mut exp: Vec<LabelsAndAnnotations> = case
            .exp_alerts
            .iter()
            .map(|e| {
                let mut l = e.exp_labels.clone();
                l.insert("alertname".into(), case.alertname.clone());
                (l, e.exp_annotations.clone())
            })
            .collect();
        exp.sort();
        if got != exp {
            errs.push(format!(
                "    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                case.alertname,
                fmt_dur(case.eval_time.0),
                fmt_alerts(&exp),
                fmt_alerts(&got)
            ));
        }
    }
    for case in &tg.promql_expr_test {
        match crate::rule::query_vector(&engine, storage.as_ref(), &case.expr, case.eval_time.0) {
            Err(e) => errs.push(format!(
                "    expr: {:?}, time: {}, err: {e}",
                case.expr,
                fmt_dur(case.eval_time.0)
            )),
            Ok(mut got) => {
                got.sort_by(|a, b| a.0.cmp(&b.0));
                let mut exp = Vec::new();
                for s in &case.exp_samples {
                    match parse_labels(&s.labels) {
                        Ok(l) => exp.push((l, s.value)),
                        Err(e) => errs.push(format!(
                            "    expr: {:?}, time: {}, err: {e}",
                            case.expr,
                            fmt_dur(case.eval_time.0)
                        )),
                    }
                }
                exp.sort_by(|a, b| a.0.cmp(&b.0));
                let same = got.len() == exp.len()
                    && got.iter().zip(exp.iter()).all(|(g, e)| {
                        g.0 == e.0
                            && (g.1 == e.1
                                || (g.1.is_nan() && e.1.is_nan())
                                || promqltest::almost_equal(g.1, e.1))
                    });
                if !same {
                    let show = |v: &[(Labels, f64)]| {
                        let items: Vec<String> = v
                            .iter()
                            .map(|(l, x)| {
                                format!("{l} {}", gotemplate::fmt::format_float_g(*x, -1))
                            })
                            .collect();
                        format!("[{}]", items.join(", "))
                    };
                    errs.push(format!(
                        "    expr: {:?}, time: {},\n        exp: {}\n        got: {}",
                        case.expr,
                        fmt_dur(case.eval_time.0),
                        show(&exp),
                        show(&got)
                    ));
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dir: &Path, rules: &str, test: &str) -> (Summary, String) {
        std::fs::write(dir.join("rules.yml"), rules).unwrap();
        std::fs::write(dir.join("t_test.yml"), test).unwrap();
        let mut out = Vec::new();
        let s = run_files(&[dir.join("t_test.yml")], &mut out).unwrap();
        (s, String::from_utf8(out).unwrap())
    }

    const RULES: &str = r#"
groups:
  - name: g
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} down, value {{ $value }}"
"#;

    #[test]
    fn passing_and_failing_tests() {
        let dir = tempfile::tempdir().unwrap();
        let test = r#"
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="j", instance="a"}'
        values: '1 1 0 0 0 0 0 0 0 0'
      - series: 'up{job="j", instance="b"}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 3m
        alertname: InstanceDown
      - eval_time: 7m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: page, instance: a, job: j}
            exp_annotations: {summary: "a down, value 0"}
    promql_expr_test:
      - expr: job:up:sum
        eval_time: 4m
        exp_samples:
          - labels: 'job:up:sum{job="j"}'
            value: 1
  - input_series:
      - series: 'up{job="j", instance="a"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
"#;
        let (s, out) = run(dir.path(), RULES, test);
        assert_eq!(
            s,
            Summary {
                passed: 1,
                failed: 1
            },
            "{out}"
        );
        assert!(out.contains("FAILED"), "{out}");
        assert!(out.contains("alertname: InstanceDown, time: 10m"), "{out}");
        assert!(out.ends_with("1 passed, 1 failed\n"), "{out}");
    }

    #[test]
    fn bad_rule_file_is_reported_with_location() {
        let dir = tempfile::tempdir().unwrap();
        let (s, out) = run(
            dir.path(),
            "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: sum(\n",
            "rule_files: [rules.yml]\ntests: []\n",
        );
        assert_eq!(s.failed, 1);
        assert!(
            out.contains("rules.yml:4:1: group \"g\", rule 1, \"X\": could not parse expression"),
            "{out}"
        );
    }
}

//! The repo's promtool-style unit tests (tests/rules: the CrewAI monitoring guide's alert rules and rule-engine features) pass (the same file passes
//! Debian's `promtool test rules`; .ci/run checks both).

use std::path::PathBuf;

#[test]
fn guide_rule_unit_tests_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let file = root.join("tests/rules/application_test.yml");
    let mut out = Vec::new();
    let s = alerting::unittest::run_files(&[file], &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(s.failed, 0, "{text}");
    assert!(s.passed >= 8, "{text}");
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn guide_rules_check() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let res =
        alerting::check_rule_files(&[root.join("examples/prometheus/alerts/application.yml")]);
    assert_eq!(res[0].1.as_ref().ok(), Some(&6));
}

#[test]
fn feature_rule_unit_tests_pass() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    let s = alerting::unittest::run_files(&[root.join("tests/rules/features_test.yml")], &mut out)
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        s,
        alerting::unittest::Summary {
            passed: 1,
            failed: 0
        },
        "{text}"
    );
}

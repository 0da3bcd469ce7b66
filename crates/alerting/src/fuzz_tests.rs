//! Fuzz campaign for rule files: damaged copies of the example app's alert rules (YAML, PromQL
//! expressions, Go templates in labels and annotations) must load or answer clean errors,
//! never panic.

use crate::rulefmt::parse_rule_file;
use model::fuzzing::{cases, mutate_str};
use proptest::prelude::*;
use std::path::Path;

const RULES: &str = include_str!("../../../examples/prometheus/alerts/application.yml");

#[test]
fn sample_is_valid() {
    assert!(parse_rule_file(Path::new("a.yml"), RULES, &crate::template::check).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn fuzz_rule_file_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        let _ = parse_rule_file(Path::new("a.yml"), &mutate_str(RULES, &edits), &crate::template::check);
    }
}

//! Fuzz campaign for the config loaders: `${VAR}` expansion, prometheus.yml and pharos.yml
//! (which loads the files it names), fed arbitrary text and damaged copies of the example
//! app's files. They must answer Ok or a clean ConfigError, never panic.

use crate::{env, pharos, prometheus};
use model::fuzzing::{cases, mutate_str};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

const PROMETHEUS_YML: &str = include_str!("../../../examples/prometheus/prometheus.yml");
const PHAROS_YML: &str = include_str!("../../../examples/crewai-app/pharos.yml");

fn pharos_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/crewai-app/pharos.yml")
}

fn load(text: &str) {
    let path = pharos_path();
    let Ok(text) = env::expand(&path, text) else {
        return;
    };
    let _ = prometheus::parse(Path::new("prometheus.yml"), &text);
    let _ = pharos::parse(&path, &text);
}

#[test]
fn samples_are_valid() {
    prometheus::parse(Path::new("prometheus.yml"), PROMETHEUS_YML).expect("prometheus.yml");
    pharos::parse(&pharos_path(), PHAROS_YML).expect("pharos.yml");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(64)))]

    #[test]
    fn fuzz_prometheus_yml_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        load(&mutate_str(PROMETHEUS_YML, &edits));
    }

    #[test]
    fn fuzz_pharos_yml_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        load(&mutate_str(PHAROS_YML, &edits));
    }

    #[test]
    fn fuzz_config_arbitrary(s in "(?s).{0,200}") {
        load(&s);
    }
}

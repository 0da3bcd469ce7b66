//! Fuzz campaign for the logs-side parsers: LogQL (queries, selectors, `pattern` expressions,
//! `line_format` templates) and Loki's config file, fed arbitrary text and damaged valid
//! inputs. They must answer Ok or a clean Err, never panic.

use crate::logql::parser::{parse, parse_selector};
use crate::logql::pipeline::Pattern;
use crate::logql::template::Template;
use model::fuzzing::{cases, mutate_str};
use proptest::prelude::*;

const QUERIES: &[&str] = &[
    "{app=\"api\", env=~\"prod|dev\"} |= \"error\" != `timeout` |~ \"5..\" | json | level=\"error\" | line_format \"{{.msg | upper}} {{ printf \\\"%d\\\" .n }}\"",
    "sum by (app) (rate({job=\"x\"} | logfmt | unwrap duration(latency) | __error__=\"\" [5m] offset 1h)) > 10",
    "topk(3, count_over_time({a=\"b\"} | pattern \"<ip> - <_> [<ts>] \\\"<method> <path>\\\"\" [1m]))",
    "{a=\"b\"} | regexp \"(?P<x>\\\\d+)\" | label_format y=\"{{.x}}\" | drop z | keep a | decolorize | bytes > 1KB",
    "quantile_over_time(0.99, {a=\"b\"} | json x=\"y.z\" | unwrap bytes(x) [5m]) by (a) or vector(0)",
];
const PATTERN: &str = "<ip> - <user> [<_>] \"<method> <path> <_>\" <status> <size>";
const TEMPLATE: &str =
    "{{ .a }} {{- if eq .b \"x\" }}{{ .c | ToUpper | trunc 3 }}{{ else }}{{ __line__ }}{{ end }}";
const LOKI_YML: &str = include_str!("../../../examples/loki/config.yml");

#[test]
fn samples_are_valid() {
    for q in QUERIES {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e:?}"));
    }
    Pattern::parse(PATTERN, false).expect("pattern");
    crate::lokiconfig::parse(LOKI_YML).expect("loki config");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn fuzz_logql_mutations(which in 0usize..QUERIES.len(),
                            edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        let q = mutate_str(QUERIES[which], &edits);
        let _ = parse(&q);
        let _ = parse_selector(&q);
    }

    #[test]
    fn fuzz_pattern_and_template(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8),
                                 s in "\\PC{0,40}") {
        let _ = Pattern::parse(&mutate_str(PATTERN, &edits), false);
        let _ = Pattern::parse(&s, true);
        let _ = Template::parse(&mutate_str(TEMPLATE, &edits));
        let _ = Template::parse(&s);
    }

    #[test]
    fn fuzz_loki_config(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        let _ = crate::lokiconfig::parse(&mutate_str(LOKI_YML, &edits));
    }
}

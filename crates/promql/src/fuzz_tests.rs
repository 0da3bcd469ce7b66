//! Fuzz campaign for the PromQL parser as the engine calls it (trim-operator rewrite,
//! experimental-function gate, promql-parser): arbitrary text and damaged valid queries must
//! parse or answer a clean error, never panic.

use crate::{Engine, EngineOptions};
use model::fuzzing::{cases, mutate_str};
use proptest::prelude::*;

const QUERIES: &[&str] = &[
    "sum by (job) (rate(http_requests_total{job=~\"api|web\",code!=\"500\"}[5m] offset 1h))",
    "histogram_quantile(0.99, sum(rate(rpc_seconds_bucket[1m])) by (le)) > bool 0.5",
    "topk(3, avg_over_time(up[10m:30s] @ 1700000000)) * on(instance) group_left(x) vector(1)",
    "label_replace(up, \"a\", \"$1\", \"instance\", \"(.*):.*\") / ignoring(a) -count(up) ^ 2",
    "{__name__=\"x\", \"utf8.label\"=\"v\"} </ 1 and absent_over_time(nope[1d])",
    "sort_by_label(quantile_over_time(0.5, x[5m]), \"a\") unless x >/ 3",
];

fn engines() -> [Engine; 2] {
    let exp = EngineOptions {
        experimental_functions: true,
        ..EngineOptions::default()
    };
    [Engine::new(EngineOptions::default()), Engine::new(exp)]
}

#[test]
fn samples_parse() {
    let [_, e] = engines();
    for q in QUERIES {
        e.parse(q).unwrap_or_else(|err| panic!("{q}: {err:?}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn fuzz_promql_mutations(which in 0usize..QUERIES.len(),
                             edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        let q = mutate_str(QUERIES[which], &edits);
        for e in engines() {
            let _ = e.parse(&q);
        }
    }

    #[test]
    fn fuzz_promql_arbitrary(s in "\\PC{0,80}") {
        for e in engines() {
            let _ = e.parse(&s);
        }
    }

    #[test]
    fn fuzz_promql_tokens(s in "(sum|rate|by|without|on|ignoring|group_left|offset|@|bool|\\(|\\)|\\[5m\\]|\\[1m:\\]|\\{|\\}|a=\"b\"|=~|!=|,|[+*/%^-]|==|>|[0-9.e]+|Inf|NaN|x| |\"|start\\(\\))*") {
        for e in engines() {
            let _ = e.parse(&s);
        }
    }
}

//! Fuzz campaign for the Elasticsearch parsers: `_bulk` bodies, the search request DSL
//! (query, aggregations, sort, paging) and `query_string`, fed arbitrary input and damaged
//! valid ones. They must answer Ok or a clean Err, never panic.

use crate::{bulk, query_string, search};
use model::fuzzing::{cases, mutate, mutate_str};
use proptest::prelude::*;
use std::collections::HashMap;

const BULK: &str = "{\"index\":{\"_index\":\"logs-a\",\"_id\":\"1\"}}\n\
{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"message\":\"hello \\\"w\\\"\",\"n\":1.5,\"tags\":[\"a\",\"b\"],\"o\":{\"p\":null}}\n\
{\"create\":{}}\n{\"message\":\"x\",\"@timestamp\":1704067200000}\n\
{\"delete\":{\"_index\":\"logs-a\",\"_id\":\"1\"}}\n\
{\"update\":{\"_id\":\"2\"}}\n{\"doc\":{\"a\":1}}\n";

const SEARCH: &str = r#"{"size":10,"from":2,"track_total_hits":true,"sort":[{"@timestamp":{"order":"desc"}},"_score"],
"_source":["message","n"],
"query":{"bool":{"must":[{"match":{"message":{"query":"hello world","operator":"and"}}},
{"range":{"@timestamp":{"gte":"now-15m/m","lte":"now","format":"strict_date_optional_time"}}}],
"filter":[{"term":{"level":"error"}},{"terms":{"app":["a","b"]}},{"exists":{"field":"n"}},
{"query_string":{"query":"message:\"a b\" AND NOT n:[1 TO 5} OR w*d~2","default_operator":"AND"}}],
"should":[{"wildcard":{"host":"web-*"}},{"prefix":{"path":"/a"}},{"regexp":{"u":"a.*"}}],"minimum_should_match":1,
"must_not":[{"ids":{"values":["1"]}}]}},
"aggs":{"h":{"date_histogram":{"field":"@timestamp","fixed_interval":"30s","min_doc_count":0},
"aggs":{"t":{"terms":{"field":"app","size":5,"order":{"_count":"desc"}}},"m":{"avg":{"field":"n"}},
"p":{"percentiles":{"field":"n","percents":[50,99]}}}}}}"#;

const QS: &str = "message:\"a b\" AND (level:error OR level:warn) -n:[1 TO 5} +host:web-? w*d~2 _exists_:x @timestamp:>now-1h";

const NOW: i64 = 1_704_067_200_000;

fn search(body: &[u8]) {
    let params = HashMap::new();
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = search::parse_request(Some(&v), &params, NOW);
        let _ = query_string::parse_body(&v, NOW);
    }
}

#[test]
fn samples_are_valid() {
    assert_eq!(bulk::parse(BULK.as_bytes(), None).expect("bulk").len(), 4);
    let v: serde_json::Value = serde_json::from_str(SEARCH).expect("json");
    search::parse_request(Some(&v), &HashMap::new(), NOW).expect("search");
    query_string::parse_str(QS, false, vec![], NOW).expect("query_string");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(256)))]

    #[test]
    fn fuzz_bulk_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        let body = mutate(BULK.as_bytes(), &edits);
        let _ = bulk::parse(&body, Some("d"));
        let _ = bulk::parse(&body, None);
    }

    #[test]
    fn fuzz_search_dsl_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8)) {
        search(&mutate(SEARCH.as_bytes(), &edits));
    }

    #[test]
    fn fuzz_query_string_mutations(edits in proptest::collection::vec(any::<(usize, u8, u8)>(), 1..8),
                                   default_and in any::<bool>()) {
        let q = mutate_str(QS, &edits);
        let _ = query_string::parse_str(&q, default_and, vec!["message".into()], NOW);
    }

    #[test]
    fn fuzz_arbitrary(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        search(&b);
        let _ = query_string::parse_str(&String::from_utf8_lossy(&b), false, vec![], NOW);
    }
}

//! Runs `tests/testdata/*.test`: documents, search bodies and the expected hits or errors.

use esdsl::query::DocRef;
use esdsl::search::{parse_request, Doc};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

const NOW_MS: i64 = 1_704_110_400_000; // 2024-01-01T12:00:00Z

#[test]
fn data_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("testdata") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("test") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let mut docs: Vec<Doc> = Vec::new();
        let mut pending: Option<(usize, Result<BTreeSet<String>, esdsl::EsError>)> = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let at = format!("{}:{}", path.display(), n + 1);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
            match cmd {
                "doc" => {
                    let (id, json) = rest.split_once(' ').expect("doc ID JSON");
                    let source: Value =
                        serde_json::from_str(json).unwrap_or_else(|e| panic!("{at}: {e}"));
                    docs.push(Doc {
                        index: "test".into(),
                        id: id.into(),
                        source,
                    });
                }
                "query" => {
                    let body: Value =
                        serde_json::from_str(rest).unwrap_or_else(|e| panic!("{at}: {e}"));
                    let result = parse_request(Some(&body), &HashMap::new(), NOW_MS).map(|r| {
                        let matched: Vec<Doc> = docs
                            .iter()
                            .filter(|d| {
                                r.is_hit(&DocRef {
                                    source: &d.source,
                                    id: &d.id,
                                    index: &d.index,
                                })
                            })
                            .cloned()
                            .collect();
                        let out = r.respond(matched, 0);
                        out["hits"]["hits"]
                            .as_array()
                            .map(|h| {
                                h.iter()
                                    .filter_map(|x| x["_id"].as_str().map(String::from))
                                    .collect()
                            })
                            .unwrap_or_default()
                    });
                    pending = Some((n + 1, result));
                }
                "expect" => {
                    let (qline, got) = pending
                        .take()
                        .unwrap_or_else(|| panic!("{at}: expect without query"));
                    let want: BTreeSet<String> =
                        rest.split_whitespace().map(String::from).collect();
                    match got {
                        Ok(ids) => assert_eq!(ids, want, "{}:{qline}", path.display()),
                        Err(e) => panic!("{}:{qline}: unexpected error {e}", path.display()),
                    }
                    checked += 1;
                }
                "error" => {
                    let (qline, got) = pending
                        .take()
                        .unwrap_or_else(|| panic!("{at}: error without query"));
                    match got {
                        Ok(ids) => panic!(
                            "{}:{qline}: expected {rest}, got hits {ids:?}",
                            path.display()
                        ),
                        Err(e) => assert_eq!(e.kind, rest, "{}:{qline}: {e}", path.display()),
                    }
                    checked += 1;
                }
                other => panic!("{at}: unknown command {other:?}"),
            }
        }
    }
    assert!(checked > 30, "only {checked} cases ran");
}

//! The `_bulk` NDJSON body: action/metadata lines (`index`, `create`, `update`, `delete`), each
//! `index`/`create` followed by its document line. A malformed action line fails the whole
//! request (as in ES); a malformed document fails only its item. `update` and `delete` are
//! parsed (so the following lines stay aligned) and reported per item as unsupported.

use crate::EsError;
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Index,
    Create,
    Update,
    Delete,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Index => "index",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// One bulk item: its action, target and document (or why the document is unusable).
#[derive(Clone, Debug, PartialEq)]
pub struct BulkItem {
    pub action: Action,
    /// Index from the action line, else the path's default index.
    pub index: Option<String>,
    pub id: Option<String>,
    pub source: Result<Value, EsError>,
}

fn malformed(line: usize, what: impl std::fmt::Display) -> EsError {
    EsError::illegal(format!("Malformed action/metadata line [{line}], {what}"))
}

/// Parses a bulk body. `default_index` comes from `/{index}/_bulk`.
pub fn parse(body: &[u8], default_index: Option<&str>) -> Result<Vec<BulkItem>, EsError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        ));
    }
    if body.last() != Some(&b'\n') {
        return Err(EsError::illegal(
            "The bulk request must be terminated by a newline [\\n]",
        ));
    }
    let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let raw = lines[i];
        i += 1;
        if raw.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let v: Value = serde_json::from_slice(raw)
            .map_err(|e| malformed(line_no, format!("expected a JSON object: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| malformed(line_no, "expected START_OBJECT"))?;
        // The action key; other top-level keys (winston-elasticsearch adds `attempts`) are
        // ignored.
        const ACTIONS: [&str; 4] = ["index", "create", "update", "delete"];
        let (name, meta) = match obj.iter().find(|(k, _)| ACTIONS.contains(&k.as_str())) {
            Some(kv) => kv,
            None => {
                let found = obj
                    .keys()
                    .next()
                    .map(String::as_str)
                    .unwrap_or("END_OBJECT");
                return Err(malformed(
                    line_no,
                    format!("expected field [create], [delete], [index] or [update] but found [{found}]"),
                ));
            }
        };
        let action = match name.as_str() {
            "index" => Action::Index,
            "create" => Action::Create,
            "update" => Action::Update,
            _ => Action::Delete,
        };
        let meta = meta
            .as_object()
            .ok_or_else(|| malformed(line_no, "expected START_OBJECT after the action name"))?;
        let text = |k: &str| -> Result<Option<String>, EsError> {
            match meta.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) if k == "_id" => Ok(Some(n.to_string())),
                Some(_) => Err(malformed(line_no, format!("[{k}] must be a string"))),
            }
        };
        let index = text("_index")?.or_else(|| default_index.map(String::from));
        let id = text("_id")?;
        let source = if action == Action::Delete {
            Err(EsError::illegal(
                "delete is not supported: pharos log indices are append-only",
            ))
        } else {
            let doc_line = lines.get(i).copied().filter(|_| i + 1 < lines.len());
            let Some(doc) = doc_line else {
                return Err(EsError::illegal(format!(
                    "The bulk request must be terminated by a newline [\\n]; action on line [{line_no}] has no document line"
                )));
            };
            i += 1;
            if action == Action::Update {
                Err(EsError::illegal(
                    "update is not supported: pharos log indices are append-only",
                ))
            } else {
                match serde_json::from_slice::<Value>(doc) {
                    Ok(v @ Value::Object(_)) => Ok(v),
                    Ok(_) => Err(EsError::new(
                        400,
                        "mapper_parsing_exception",
                        "failed to parse, document is empty or not an object",
                    )),
                    Err(e) => Err(EsError::new(
                        400,
                        "mapper_parsing_exception",
                        format!("failed to parse: {e}"),
                    )),
                }
            }
        };
        items.push(BulkItem {
            action,
            index,
            id,
            source,
        });
    }
    if items.is_empty() {
        return Err(EsError::new(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
        ));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn winston_elasticsearch_body() {
        let body = b"{\"index\":{\"_index\":\"crewai-logs\",\"pipeline\":null},\"attempts\":0}\n{\"@timestamp\":\"2024-01-01T00:00:00Z\",\"message\":\"hi\"}\n";
        let items = parse(body, None).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].action, Action::Index);
        assert_eq!(items[0].index.as_deref(), Some("crewai-logs"));
        assert_eq!(items[0].source.as_ref().unwrap()["message"], json!("hi"));
    }

    #[test]
    fn bad_doc_fails_only_its_item() {
        let body = b"{\"create\":{\"_id\":\"1\"}}\n{broken\n{\"index\":{}}\n{\"a\":1}\n{\"delete\":{\"_id\":\"1\"}}\n";
        let items = parse(body, Some("d")).unwrap();
        assert_eq!(items.len(), 3);
        assert!(items[0].source.is_err());
        assert_eq!(items[0].id.as_deref(), Some("1"));
        assert_eq!(items[1].index.as_deref(), Some("d"));
        assert!(items[1].source.is_ok());
        assert!(items[2].source.is_err());
    }

    #[test]
    fn whole_request_errors() {
        for body in [
            &b""[..],
            b"\n\n",
            b"{\"index\":{}}",
            b"not json\n{}\n",
            b"{\"upsert\":{}}\n{}\n",
            b"[1]\n{}\n",
            b"{\"index\":{}}\n",
            b"{\"index\":{\"_index\":5}}\n{}\n",
        ] {
            let e = parse(body, None).unwrap_err();
            assert_eq!(e.status, 400, "{}", String::from_utf8_lossy(body));
        }
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&body, Some("x"));
        }

        #[test]
        fn structured_noise(lines in proptest::collection::vec(
            prop_oneof![
                Just("{\"index\":{}}".to_string()),
                Just("{\"create\":{\"_index\":\"a\",\"_id\":\"7\"}}".to_string()),
                Just("{\"delete\":{\"_id\":\"1\"}}".to_string()),
                Just("{\"a\":1}".to_string()),
                Just("{".to_string()),
                Just(String::new()),
                "[ -~]{0,20}",
            ], 0..12)) {
            let mut body = lines.join("\n");
            body.push('\n');
            if let Ok(items) = parse(body.as_bytes(), Some("x")) {
                prop_assert!(!items.is_empty());
                for it in items {
                    prop_assert!(it.index.is_some());
                }
            }
        }
    }
}

//! Mappings inferred from stored documents, as ES' dynamic mapping would have created them:
//! strings are `text` with a `keyword` subfield (or `date` when they parse as one), integers
//! `long`, other numbers `float`, booleans `boolean`, objects `properties`. Used by
//! `GET /{index}/_mapping`, which Grafana's Elasticsearch data source reads for field lists.

use serde_json::{json, Map, Value};

fn leaf_type(v: &Value) -> Option<Value> {
    Some(match v {
        Value::String(s)
            if crate::datemath::parse_iso(s).is_some()
                && s.len() >= 10
                && s.as_bytes().get(4) == Some(&b'-') =>
        {
            json!({"type": "date"})
        }
        Value::String(_) => {
            json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "long"}),
        Value::Number(_) => json!({"type": "float"}),
        Value::Bool(_) => json!({"type": "boolean"}),
        _ => return None,
    })
}

/// Merges the fields of `doc` into `props` (first seen type wins, as with dynamic mapping).
pub fn merge(props: &mut Map<String, Value>, doc: &Value) {
    let Value::Object(m) = doc else { return };
    for (k, v) in m {
        let v = match v {
            Value::Array(items) => match items.iter().find(|x| !x.is_null()) {
                Some(x) => x,
                None => continue,
            },
            other => other,
        };
        match v {
            Value::Object(_) => {
                let entry = props
                    .entry(k.clone())
                    .or_insert_with(|| json!({"properties": {}}));
                if let Some(Value::Object(inner)) = entry.get_mut("properties") {
                    merge(inner, v);
                }
            }
            other => {
                if !props.contains_key(k) {
                    if let Some(t) = leaf_type(other) {
                        props.insert(k.clone(), t);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_mapping() {
        let mut p = Map::new();
        merge(
            &mut p,
            &json!({"@timestamp": "2024-01-01T00:00:00Z", "message": "m", "n": 1, "f": 1.5, "ok": true, "fields": {"service": "a"}, "tags": ["x"], "nul": null}),
        );
        merge(
            &mut p,
            &json!({"n": "later string ignored", "fields": {"duration": 3}}),
        );
        assert_eq!(p["@timestamp"]["type"], "date");
        assert_eq!(p["message"]["fields"]["keyword"]["type"], "keyword");
        assert_eq!(p["n"]["type"], "long");
        assert_eq!(p["f"]["type"], "float");
        assert_eq!(p["ok"]["type"], "boolean");
        assert_eq!(p["tags"]["type"], "text");
        assert_eq!(p["fields"]["properties"]["service"]["type"], "text");
        assert_eq!(p["fields"]["properties"]["duration"]["type"], "long");
        assert!(!p.contains_key("nul"));
    }
}

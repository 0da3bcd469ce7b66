//! Field access on JSON documents (dotted paths through objects and arrays, literal dotted keys,
//! the `.keyword` subfield of dynamically mapped strings) and the `standard`-analyzer-like
//! tokenizer used by full-text queries.

use serde_json::Value;

/// A field reference from a query: the path and whether `.keyword` (exact value) was asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldRef {
    pub path: String,
    pub keyword: bool,
}

impl FieldRef {
    pub fn parse(name: &str) -> Self {
        match name.strip_suffix(".keyword") {
            Some(p) if !p.is_empty() => FieldRef {
                path: p.to_string(),
                keyword: true,
            },
            _ => FieldRef {
                path: name.to_string(),
                keyword: false,
            },
        }
    }

    /// Leaf values of the field in `doc` (arrays flattened; null skipped).
    pub fn values<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        let mut out = Vec::new();
        lookup(doc, &self.path, &mut out);
        if out.is_empty() && self.keyword {
            // A document may really have a field named `x.keyword`.
            lookup(doc, &format!("{}.keyword", self.path), &mut out);
        }
        out
    }
}

/// Collects the leaf values at `path` (dot separated), trying literal keys containing dots too.
pub fn lookup<'a>(v: &'a Value, path: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Array(items) => {
            for i in items {
                lookup(i, path, out);
            }
        }
        Value::Object(map) => {
            if let Some(x) = map.get(path) {
                push_leaves(x, out);
            }
            // Try every split point `head.rest` where `head` is a key.
            let mut start = 0;
            while let Some(pos) = path[start..].find('.') {
                let split = start + pos;
                let (head, rest) = (&path[..split], &path[split + 1..]);
                if let Some(child) = map.get(head) {
                    lookup(child, rest, out);
                }
                start = split + 1;
            }
        }
        _ => {}
    }
}

fn push_leaves<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for i in items {
                push_leaves(i, out);
            }
        }
        other => out.push(other),
    }
}

/// Splits text into lowercase tokens on anything that is not alphanumeric or `_`.
pub fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(|t| t.to_lowercase())
        .collect()
}

/// Text form of a scalar as ES would index it (`true`, `12`, `1.5`, the string itself).
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Numeric view of a scalar (numbers, numeric strings, booleans as 1/0).
pub fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Whether a scalar document value equals a query value with keyword/term semantics: strings
/// compare exactly; numbers compare numerically (a numeric string query matches a number).
pub fn exact_eq(doc: &Value, q: &Value) -> bool {
    match (doc, q) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Bool(a), Value::String(b)) => b == &a.to_string(),
        (Value::Number(_), _) | (_, Value::Number(_)) => match (as_f64(doc), as_f64(q)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        },
        _ => false,
    }
}

/// Shell-style wildcard (`*`, `?`, `\` escapes) compiled to an anchored regex.
pub fn wildcard_regex(pattern: &str, case_insensitive: bool) -> Result<regex::Regex, String> {
    let mut re = String::from(if case_insensitive { "(?is)^" } else { "(?s)^" });
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '\\' => {
                if let Some(n) = chars.next() {
                    re.push_str(&regex::escape(&n.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_nested_arrays_and_dotted_keys() {
        let d =
            json!({"a": {"b": [1, {"c": 2}], "c": 3}, "x.y": "lit", "fields": {"service": "api"}});
        assert_eq!(FieldRef::parse("a.b.c").values(&d), vec![&json!(2)]);
        assert_eq!(FieldRef::parse("a.c").values(&d), vec![&json!(3)]);
        assert_eq!(FieldRef::parse("x.y").values(&d), vec![&json!("lit")]);
        let f = FieldRef::parse("fields.service.keyword");
        assert!(f.keyword);
        assert_eq!(f.values(&d), vec![&json!("api")]);
        assert!(FieldRef::parse("nope").values(&d).is_empty());
    }

    #[test]
    fn tokenizer_lowercases_and_splits() {
        assert_eq!(
            tokens("HTTP Request crewai-api"),
            vec!["http", "request", "crewai", "api"]
        );
        assert_eq!(tokens("foo_bar, 42!"), vec!["foo_bar", "42"]);
    }

    #[test]
    fn exact_equality() {
        assert!(exact_eq(&json!(500), &json!("500")));
        assert!(exact_eq(&json!("error"), &json!("error")));
        assert!(!exact_eq(&json!("Error"), &json!("error")));
        assert!(exact_eq(&json!(true), &json!("true")));
    }

    #[test]
    fn wildcards() {
        let r = wildcard_regex("cre*-a?i", false).unwrap();
        assert!(r.is_match("crewai-api"));
        assert!(!r.is_match("crewai-apis"));
    }
}

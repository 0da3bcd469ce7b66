//! An order-preserving JSON value for dashboard documents. Grafana (and every JavaScript client)
//! keeps object keys in insertion order; `serde_json::Value` sorts them unless the workspace-wide
//! `preserve_order` feature is on, which would change every crate. This module keeps keys in the
//! order they were read, so a dashboard written back to its file differs only where it changed.
//! It does parsing, pretty printing and small accessors; it does not interpret dashboards.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::collections::HashMap;
use std::fmt;

/// A JSON value whose objects keep their key order.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON object: keys in insertion order, each key once.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Map {
    entries: Vec<(String, Value)>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets `key`: in place when present (the key keeps its position), appended otherwise.
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        match self.get_mut(&key) {
            Some(v) => *v = value,
            None => self.entries.push((key, value)),
        }
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Value)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.entries.iter().map(|(k, _)| k)
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Self {
        let mut m = Map::new();
        for (k, v) in iter {
            m.insert(k, v);
        }
        m
    }
}

impl Value {
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// An integer value (also a float without fraction, as JavaScript writes them).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| f as i64)
            }),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// `self[key]` when `self` is an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|m| m.get(key))
    }

    pub fn from_i64(n: i64) -> Value {
        Value::Number(n.into())
    }

    /// Converts to a `serde_json::Value` (key order is lost unless serde_json keeps it).
    pub fn to_serde(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(Value::to_serde).collect()),
            Value::Object(m) => serde_json::Value::Object(
                m.iter().map(|(k, v)| (k.clone(), v.to_serde())).collect(),
            ),
        }
    }

    /// Converts from a `serde_json::Value` (in the order that value iterates its keys).
    pub fn from_serde(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.clone()),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(a) => Value::Array(a.iter().map(Value::from_serde).collect()),
            serde_json::Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from_serde(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// A parse error with its 1-based line and column, as serde_json reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(
                f,
                "line {} column {}: {}",
                self.line, self.column, self.message
            )
        }
    }
}

/// Parses JSON text, keeping object key order (a repeated key keeps its first position and
/// its last value, as `JSON.parse` does).
pub fn parse(bytes: &[u8]) -> Result<Value, ParseError> {
    serde_json::from_slice::<Value>(bytes).map_err(|e| {
        let msg = e.to_string();
        // serde_json appends " at line X column Y"; the location is reported apart.
        let message = match msg.find(" at line ") {
            Some(p) => msg[..p].to_string(),
            None => msg,
        };
        ParseError {
            line: e.line(),
            column: e.column(),
            message,
        }
    })
}

/// Pretty-prints `v` with `indent` per level (two spaces in Grafana's and `JSON.stringify`'s
/// style) and a trailing newline.
pub fn to_pretty(v: &Value, indent: &str) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serializing a value tree into memory cannot fail: every key is a string.
    if v.serialize(&mut ser).is_err() {
        return "null\n".to_string();
    }
    let mut s = String::from_utf8(out).unwrap_or_default();
    s.push('\n');
    s
}

/// Compact JSON text.
pub fn to_compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

/// The indentation unit of a pretty-printed JSON text (the leading whitespace of its first
/// indented line), or two spaces when there is none.
pub fn detect_indent(text: &str) -> String {
    for line in text.lines().skip(1) {
        let ws: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if !ws.is_empty() && line.len() > ws.len() {
            return ws;
        }
    }
    "  ".to_string()
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(v) => s.serialize_str(v),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(m) => m.serialize(s),
        }
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(e) = seq.next_element()? {
            v.push(e);
        }
        Ok(Value::Array(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        // Positions by key, so objects with many keys stay linear to read.
        let mut pos: HashMap<String, usize> = HashMap::new();
        while let Some(k) = map.next_key::<String>()? {
            let v: Value = map.next_value()?;
            match pos.get(&k) {
                Some(&i) => entries[i].1 = v,
                None => {
                    pos.insert(k.clone(), entries.len());
                    entries.push((k, v));
                }
            }
        }
        Ok(Value::Object(Map { entries }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order_and_round_trips() {
        let text =
            "{\n  \"title\": \"x\",\n  \"b\": [1, 2.5, {\"z\": 1, \"a\": null}],\n  \"a\": true\n}";
        let v = parse(text.as_bytes()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["title", "b", "a"]);
        assert_eq!(
            to_compact(&v),
            r#"{"title":"x","b":[1,2.5,{"z":1,"a":null}],"a":true}"#
        );
        let pretty = to_pretty(&v, "  ");
        assert!(pretty.ends_with("}\n"));
        assert_eq!(parse(pretty.as_bytes()).unwrap(), v);
    }

    #[test]
    fn pretty_matches_json_stringify_layout() {
        let v = parse(br#"{"a":[],"b":{},"c":[1,{"d":"e"}]}"#).unwrap();
        assert_eq!(
            to_pretty(&v, "  "),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": \"e\"\n    }\n  ]\n}\n"
        );
    }

    #[test]
    fn duplicate_keys_keep_first_position_last_value() {
        let v = parse(br#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(to_compact(&v), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn insert_replaces_in_place_and_remove_keeps_order() {
        let mut m = Map::new();
        m.insert("a", Value::from_i64(1));
        m.insert("b", Value::from_i64(2));
        m.insert("c", Value::from_i64(3));
        m.insert("a", Value::from_i64(9));
        assert_eq!(m.remove("b"), Some(Value::from_i64(2)));
        assert_eq!(to_compact(&Value::Object(m.clone())), r#"{"a":9,"c":3}"#);
        assert!(m.contains_key("c"));
        assert!(m.get_mut("zz").is_none());
    }

    #[test]
    fn parse_errors_carry_line_and_column() {
        let e = parse(b"{\n  \"a\": 1,\n  oops\n}").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.column > 0);
        assert!(e.to_string().starts_with("line 3 column"), "{e}");
    }

    #[test]
    fn detects_indent() {
        assert_eq!(detect_indent("{\n    \"a\": 1\n}"), "    ");
        assert_eq!(detect_indent("{\n\t\"a\": 1\n}"), "\t");
        assert_eq!(detect_indent("{\"a\":1}"), "  ");
    }

    #[test]
    fn integers_from_floats() {
        assert_eq!(
            Value::Number(serde_json::Number::from_f64(3.0).unwrap()).as_i64(),
            Some(3)
        );
        assert_eq!(
            Value::Number(serde_json::Number::from_f64(3.5).unwrap()).as_i64(),
            None
        );
        assert_eq!(
            Value::from_serde(&serde_json::json!({"a": [1]})).to_serde(),
            serde_json::json!({"a": [1]})
        );
    }
}

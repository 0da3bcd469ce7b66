//! The dynamic values a template runs over: Go's `nil`, bool, int, float, string, slice,
//! `map[string]any` / `map[string]string`, and opaque [`Object`]s that expose fields (Go
//! struct fields and argument-less methods such as Alertmanager's `.Alerts.Firing`).
//!
//! Values convert from `serde_json::Value` so callers can build data with `serde_json::json!`.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// A host object: a Go struct (fields and argument-less methods looked up by name) that may also
/// behave as a slice (`range`, `len`, `index`) or as a map.
pub trait Object: Send + Sync + fmt::Debug {
    /// `.Name` on this object: a field or an argument-less method. `None` = no such field
    /// (an execution error, as in Go).
    fn field(&self, name: &str) -> Option<Value>;
    /// `.Name ARG...` on this object: a method taking arguments (e.g. Alertmanager's
    /// `.CommonLabels.Remove .GroupLabels.Names`). `None` = no such method; `Some(Err)` = the
    /// method failed (an execution error).
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let _ = (name, args);
        None
    }
    /// When the object is slice-like (e.g. Alertmanager's `Alerts`), its elements.
    fn as_list(&self) -> Option<Vec<Value>> {
        None
    }
    /// When the object is map-like (e.g. Alertmanager's `KV`), its entries sorted by key.
    fn as_map(&self) -> Option<BTreeMap<String, Value>> {
        None
    }
    /// What `{{ . }}` / `%v` prints for it.
    fn display(&self) -> String {
        if let Some(l) = self.as_list() {
            return Value::List(Arc::new(l)).to_string();
        }
        if let Some(m) = self.as_map() {
            return Value::map(m).to_string();
        }
        format!("{self:?}")
    }
}

/// A Go map. `string_values` marks `map[string]string` (a missing key under `missingkey=zero`
/// yields `""`) as opposed to `map[string]any` (yields `<no value>`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    /// Entries in key order (Go's templates and fmt iterate maps sorted by key).
    pub entries: BTreeMap<String, Value>,
    /// True for `map[string]string`.
    pub string_values: bool,
}

/// A template value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Go's untyped nil / missing value (`<no value>` when printed at top level).
    #[default]
    Nil,
    /// bool
    Bool(bool),
    /// int / int64
    Int(i64),
    /// float64
    Float(f64),
    /// string
    Str(Arc<str>),
    /// slice
    List(Arc<Vec<Value>>),
    /// map with string keys
    Map(Arc<Map>),
    /// host object (struct with fields/methods)
    Object(Arc<dyn Object>),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a == b,
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Value {
    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Arc::from(s.as_ref()))
    }

    /// A `map[string]any`.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Arc::new(Map {
            entries,
            string_values: false,
        }))
    }

    /// A `map[string]string` (e.g. Prometheus' `$labels`).
    pub fn str_map<K: Into<String>, V: AsRef<str>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Value {
        Value::Map(Arc::new(Map {
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), Value::str(v)))
                .collect(),
            string_values: true,
        }))
    }

    /// A slice.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// Wrap a host object.
    pub fn object(o: impl Object + 'static) -> Value {
        Value::Object(Arc::new(o))
    }

    /// Go's notion of truth (`if`, `and`, `or`, `not`): false, 0, nil, empty string/slice/map are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Object(o) => {
                if let Some(l) = o.as_list() {
                    !l.is_empty()
                } else if let Some(m) = o.as_map() {
                    !m.is_empty()
                } else {
                    true
                }
            }
        }
    }

    /// The string inside, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Go type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(m) if m.string_values => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
            Value::Object(_) => "struct",
        }
    }

    /// Elements when slice-like (slices and list-like objects).
    pub fn as_list(&self) -> Option<Vec<Value>> {
        match self {
            Value::List(l) => Some(l.as_ref().clone()),
            Value::Object(o) => o.as_list(),
            _ => None,
        }
    }

    /// Entries when map-like.
    pub fn as_map(&self) -> Option<BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m.entries.clone()),
            Value::Object(o) => o.as_map(),
            _ => None,
        }
    }
}

/// `%v` formatting of a value as Go's fmt prints it (`map[a:1 b:2]`, `[1 2 3]`, `<nil>`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("<nil>"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => f.write_str(&crate::fmt::format_float_g(*x, -1)),
            Value::Str(s) => f.write_str(s),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("map[")?;
                for (i, (k, v)) in m.entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{k}:{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(o) => f.write_str(&o.display()),
        }
    }
}

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Value::Nil,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::str(s),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => {
                Value::map(o.iter().map(|(k, v)| (k.clone(), Value::from(v))).collect())
            }
        }
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        Value::from(&v)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::str(s)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::Float(x)
    }
}

impl From<i64> for Value {
    fn from(x: i64) -> Self {
        Value::Int(x)
    }
}

impl From<bool> for Value {
    fn from(x: bool) -> Self {
        Value::Bool(x)
    }
}

impl From<Vec<Value>> for Value {
    fn from(x: Vec<Value>) -> Self {
        Value::list(x)
    }
}

//! The query DSL: parsing a `query` JSON object into a [`Query`] and evaluating it against one
//! JSON document. Scores are not computed (every match scores 1.0); `bool`, full-text, term
//! level, range (numbers, dates with date math, strings) and `query_string` queries are
//! supported. Unknown query types are `parsing_exception`s as in ES.

use crate::datemath::{self, Round};
use crate::field::{as_f64, exact_eq, scalar_text, tokens, wildcard_regex, FieldRef};
use crate::EsError;
use serde_json::{Map, Value};

/// Which document fields a query looks at.
#[derive(Clone, Debug)]
pub enum Fields {
    One(FieldRef),
    /// Every leaf of the document (`*`, query_string without a field).
    All,
    /// Leaves whose dotted path matches a wildcard pattern (`fields.*`).
    Pattern(regex::Regex),
}

impl Fields {
    pub fn parse(name: &str) -> Result<Fields, EsError> {
        if name == "*" || name == "_all" {
            Ok(Fields::All)
        } else if name.contains('*') || name.contains('?') {
            let base = name.split('^').next().unwrap_or(name);
            wildcard_regex(base, false)
                .map(Fields::Pattern)
                .map_err(|e| EsError::parsing(format!("invalid field pattern [{name}]: {e}")))
        } else {
            let base = name.split('^').next().unwrap_or(name);
            Ok(Fields::One(FieldRef::parse(base)))
        }
    }

    fn keyword(&self) -> bool {
        matches!(self, Fields::One(f) if f.keyword)
    }

    pub fn values<'a>(&self, doc: &'a Value) -> Vec<&'a Value> {
        match self {
            Fields::One(f) => f.values(doc),
            Fields::All => {
                let mut out = Vec::new();
                leaves(doc, "", &mut |_, v| out.push(v));
                out
            }
            Fields::Pattern(re) => {
                let mut out = Vec::new();
                leaves(doc, "", &mut |p, v| {
                    if re.is_match(p) {
                        out.push(v)
                    }
                });
                out
            }
        }
    }
}

/// Visits every scalar leaf with its dotted path.
pub fn leaves<'a>(v: &'a Value, prefix: &str, f: &mut dyn FnMut(&str, &'a Value)) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(x, &p, f);
            }
        }
        Value::Array(items) => {
            for x in items {
                leaves(x, prefix, f);
            }
        }
        Value::Null => {}
        other => f(prefix, other),
    }
}

/// A range bound, pre-evaluated as number and/or date where it parses as one.
#[derive(Clone, Debug)]
pub struct Bound {
    pub raw: Value,
    pub num: Option<f64>,
    pub date_ms: Option<i64>,
    pub inclusive: bool,
}

#[derive(Clone, Debug)]
pub enum Query {
    MatchAll,
    MatchNone,
    Bool {
        must: Vec<Query>,
        should: Vec<Query>,
        must_not: Vec<Query>,
        /// `filter` clauses (same as must without scoring).
        filter: Vec<Query>,
        minimum_should_match: usize,
    },
    /// Analyzed match: `required` of the query tokens must occur (1 = OR, len = AND).
    Match {
        fields: Fields,
        text: Value,
        tokens: Vec<String>,
        required: usize,
    },
    MatchPhrase {
        fields: Fields,
        tokens: Vec<String>,
    },
    Term {
        fields: Fields,
        values: Vec<Value>,
        case_insensitive: bool,
    },
    Range {
        fields: Fields,
        lower: Option<Bound>,
        upper: Option<Bound>,
        format: Option<String>,
    },
    Exists(Fields),
    Ids(Vec<String>),
    /// Wildcard/prefix/regexp, compiled; matched against whole values and, on text fields,
    /// against each token.
    Pattern {
        fields: Fields,
        re: regex::Regex,
    },
}

/// A document under evaluation, with its metadata fields.
pub struct DocRef<'a> {
    pub source: &'a Value,
    pub id: &'a str,
    pub index: &'a str,
}

fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, EsError> {
    v.as_object()
        .ok_or_else(|| EsError::parsing(format!("[{what}] query malformed, expected an object")))
}

/// The single `field: spec` pair of a leaf query such as `match` or `term`.
fn single_field<'a>(
    m: &'a Map<String, Value>,
    what: &str,
) -> Result<(&'a str, &'a Value), EsError> {
    let mut it = m
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "boost" | "_name"));
    let (k, v) = it
        .next()
        .ok_or_else(|| EsError::parsing(format!("[{what}] query requires a field")))?;
    if let Some((k2, _)) = it.next() {
        return Err(EsError::parsing(format!(
            "[{what}] query doesn't support multiple fields, found [{k}] and [{k2}]"
        )));
    }
    Ok((k.as_str(), v))
}

fn text_of(v: &Value) -> String {
    scalar_text(v).unwrap_or_default()
}

/// `minimum_should_match`: an integer, a negative integer, or a percentage, of `n` clauses.
fn msm(spec: &Value, n: usize) -> Result<usize, EsError> {
    let s = match spec {
        Value::Number(x) => x.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => {
            return Err(EsError::parsing(
                "[minimum_should_match] must be a number or string",
            ))
        }
    };
    let bad = || EsError::parsing(format!("invalid minimum_should_match [{s}]"));
    let v = if let Some(p) = s.strip_suffix('%') {
        let pct: f64 = p.parse().map_err(|_| bad())?;
        let k = (n as f64 * pct.abs() / 100.0).floor() as i64;
        if pct < 0.0 {
            n as i64 - k
        } else {
            k
        }
    } else {
        let k: i64 = s.parse().map_err(|_| bad())?;
        if k < 0 {
            n as i64 + k
        } else {
            k
        }
    };
    Ok(v.clamp(0, n as i64) as usize)
}

fn clauses(v: Option<&Value>, now_ms: i64) -> Result<Vec<Query>, EsError> {
    match v {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(items)) => items.iter().map(|q| parse(q, now_ms)).collect(),
        Some(q) => Ok(vec![parse(q, now_ms)?]),
    }
}

/// Parses a query object (`{"match": {...}}`). `now_ms` anchors date math.
pub fn parse(v: &Value, now_ms: i64) -> Result<Query, EsError> {
    let m = v
        .as_object()
        .ok_or_else(|| EsError::parsing("query malformed, must start with start_object"))?;
    let mut it = m.iter();
    let (kind, body) = it
        .next()
        .ok_or_else(|| EsError::parsing("query malformed, empty clause found"))?;
    if let Some((k2, _)) = it.next() {
        return Err(EsError::parsing(format!(
            "[{kind}] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ({k2})"
        )));
    }
    match kind.as_str() {
        "match_all" => Ok(Query::MatchAll),
        "match_none" => Ok(Query::MatchNone),
        "bool" => {
            let b = obj(body, "bool")?;
            for k in b.keys() {
                if !matches!(
                    k.as_str(),
                    "must"
                        | "should"
                        | "filter"
                        | "must_not"
                        | "minimum_should_match"
                        | "boost"
                        | "_name"
                        | "adjust_pure_negative"
                ) {
                    return Err(EsError::parsing(format!(
                        "[bool] query does not support [{k}]"
                    )));
                }
            }
            let must = clauses(b.get("must"), now_ms)?;
            let should = clauses(b.get("should"), now_ms)?;
            let filter = clauses(b.get("filter"), now_ms)?;
            let must_not = clauses(b.get("must_not"), now_ms)?;
            let minimum_should_match = match b.get("minimum_should_match") {
                Some(spec) => msm(spec, should.len())?,
                None if must.is_empty() && filter.is_empty() && !should.is_empty() => 1,
                None => 0,
            };
            Ok(Query::Bool {
                must,
                should,
                must_not,
                filter,
                minimum_should_match,
            })
        }
        "constant_score" => {
            let b = obj(body, "constant_score")?;
            let f = b
                .get("filter")
                .ok_or_else(|| EsError::parsing("[constant_score] requires a 'filter' element"))?;
            parse(f, now_ms)
        }
        "match" | "match_phrase" | "match_phrase_prefix" | "match_bool_prefix" => {
            let (field, spec) = single_field(obj(body, kind)?, kind)?;
            let (text, operator, min) = match spec {
                Value::Object(o) => (
                    o.get("query").cloned().ok_or_else(|| {
                        EsError::parsing(format!("[{kind}] query requires [query] for [{field}]"))
                    })?,
                    o.get("operator")
                        .and_then(Value::as_str)
                        .unwrap_or("or")
                        .to_ascii_lowercase(),
                    o.get("minimum_should_match").cloned(),
                ),
                other => (other.clone(), "or".to_string(), None),
            };
            if text.is_object() || text.is_array() {
                return Err(EsError::parsing(format!(
                    "[{kind}] unknown token [START_OBJECT] after [query] for [{field}]"
                )));
            }
            let fields = Fields::parse(field)?;
            let toks = if fields.keyword() {
                vec![text_of(&text)]
            } else {
                tokens(&text_of(&text))
            };
            if kind == "match" || kind == "match_bool_prefix" {
                let required = match (operator.as_str(), min) {
                    (_, Some(spec)) => msm(&spec, toks.len())?.max(1),
                    ("and", None) => toks.len(),
                    ("or", None) => 1,
                    (op, None) => return Err(EsError::parsing(format!("unknown operator [{op}]"))),
                };
                Ok(Query::Match {
                    fields,
                    text,
                    tokens: toks,
                    required,
                })
            } else {
                Ok(Query::MatchPhrase {
                    fields,
                    tokens: toks,
                })
            }
        }
        "multi_match" => {
            let b = obj(body, "multi_match")?;
            let text = b
                .get("query")
                .cloned()
                .ok_or_else(|| EsError::parsing("[multi_match] requires [query]"))?;
            let names: Vec<String> = match b.get("fields") {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => vec!["*".into()],
            };
            let phrase = b.get("type").and_then(Value::as_str) == Some("phrase");
            let and = b
                .get("operator")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                == Some("and".into());
            let mut should = Vec::new();
            for n in names {
                let fields = Fields::parse(&n)?;
                let toks = tokens(&text_of(&text));
                should.push(if phrase {
                    Query::MatchPhrase {
                        fields,
                        tokens: toks,
                    }
                } else {
                    let required = if and { toks.len() } else { 1 };
                    Query::Match {
                        fields,
                        text: text.clone(),
                        tokens: toks,
                        required,
                    }
                });
            }
            Ok(Query::Bool {
                must: vec![],
                should,
                must_not: vec![],
                filter: vec![],
                minimum_should_match: 1,
            })
        }
        "term" | "terms" => {
            let b = obj(body, kind)?;
            let (field, spec) = single_field(b, kind)?;
            let (values, ci) = match (kind.as_str(), spec) {
                ("term", Value::Object(o)) => (
                    vec![o.get("value").cloned().ok_or_else(|| {
                        EsError::parsing(format!("[term] query requires [value] for [{field}]"))
                    })?],
                    o.get("case_insensitive")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                ),
                ("term", v) if !v.is_array() => (vec![v.clone()], false),
                ("terms", Value::Array(a)) => (a.clone(), false),
                _ => {
                    return Err(EsError::parsing(format!(
                        "[{kind}] query does not support the value given for [{field}]"
                    )))
                }
            };
            Ok(Query::Term {
                fields: Fields::parse(field)?,
                values,
                case_insensitive: ci,
            })
        }
        "range" => {
            let (field, spec) = single_field(obj(body, "range")?, "range")?;
            let o = obj(spec, "range")?;
            let format = o.get("format").and_then(Value::as_str).map(String::from);
            let mut lower = None;
            let mut upper = None;
            let incl_lower = o
                .get("include_lower")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let incl_upper = o
                .get("include_upper")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            for (k, v) in o {
                if v.is_null() {
                    continue;
                }
                let (slot, inclusive, round) = match k.as_str() {
                    "gt" => (&mut lower, false, Round::Up),
                    "gte" => (&mut lower, true, Round::Down),
                    "from" => (
                        &mut lower,
                        incl_lower,
                        if incl_lower { Round::Down } else { Round::Up },
                    ),
                    "lt" => (&mut upper, false, Round::Down),
                    "lte" => (&mut upper, true, Round::Up),
                    "to" => (
                        &mut upper,
                        incl_upper,
                        if incl_upper { Round::Up } else { Round::Down },
                    ),
                    "format" | "time_zone" | "boost" | "relation" | "include_lower"
                    | "include_upper" | "_name" => continue,
                    other => {
                        return Err(EsError::parsing(format!(
                            "[range] query does not support [{other}]"
                        )))
                    }
                };
                *slot = Some(bound(v, inclusive, round, now_ms, format.as_deref())?);
            }
            Ok(Query::Range {
                fields: Fields::parse(field)?,
                lower,
                upper,
                format,
            })
        }
        "exists" => {
            let b = obj(body, "exists")?;
            let f = b
                .get("field")
                .and_then(Value::as_str)
                .ok_or_else(|| EsError::parsing("[exists] must be provided with a [field]"))?;
            Ok(Query::Exists(Fields::parse(f)?))
        }
        "ids" => {
            let b = obj(body, "ids")?;
            let vals = b
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| EsError::parsing("[ids] query requires [values]"))?;
            Ok(Query::Ids(vals.iter().map(text_of).collect()))
        }
        "prefix" | "wildcard" | "regexp" => {
            let (field, spec) = single_field(obj(body, kind)?, kind)?;
            let (pat, ci) = match spec {
                Value::Object(o) => (
                    o.get("value")
                        .or_else(|| o.get("wildcard"))
                        .map(text_of)
                        .ok_or_else(|| EsError::parsing(format!("[{kind}] requires [value]")))?,
                    o.get("case_insensitive")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                ),
                v => (text_of(v), false),
            };
            let re = match kind.as_str() {
                "prefix" => regex::Regex::new(&format!(
                    "{}^{}",
                    if ci { "(?is)" } else { "(?s)" },
                    regex::escape(&pat)
                ))
                .map_err(|e| EsError::parsing(e.to_string()))?,
                "wildcard" => wildcard_regex(&pat, ci).map_err(EsError::parsing)?,
                _ => {
                    regex::Regex::new(&format!("{}^(?:{pat})$", if ci { "(?is)" } else { "(?s)" }))
                        .map_err(|e| EsError::parsing(format!("invalid regexp [{pat}]: {e}")))?
                }
            };
            Ok(Query::Pattern {
                fields: Fields::parse(field)?,
                re,
            })
        }
        "query_string" | "simple_query_string" => crate::query_string::parse_body(body, now_ms),
        other => Err(EsError::parsing(format!("unknown query [{other}]"))),
    }
}

/// Builds a range bound.
pub fn bound(
    v: &Value,
    inclusive: bool,
    round: Round,
    now_ms: i64,
    format: Option<&str>,
) -> Result<Bound, EsError> {
    let num = as_f64(v);
    let date_ms = match v {
        Value::Number(n) => n.as_f64().map(|f| f as i64),
        Value::String(s) => match datemath::eval(s, now_ms, format, round) {
            Ok(ms) => Some(ms),
            Err(e) if s.starts_with("now") || s.contains("||") => {
                return Err(EsError::new(400, "parse_exception", e))
            }
            Err(_) => None,
        },
        _ => {
            return Err(EsError::parsing(
                "[range] bounds must be numbers or strings",
            ))
        }
    };
    Ok(Bound {
        raw: v.clone(),
        num,
        date_ms,
        inclusive,
    })
}

fn cmp_ok(ord: std::cmp::Ordering, b: &Bound, lower: bool) -> bool {
    use std::cmp::Ordering::*;
    match (ord, lower) {
        (Equal, _) => b.inclusive,
        (Greater, true) | (Less, false) => true,
        _ => false,
    }
}

fn in_range(v: &Value, lower: &Option<Bound>, upper: &Option<Bound>, format: Option<&str>) -> bool {
    let check = |b: &Option<Bound>,
                 lower_side: bool,
                 key: &dyn Fn(&Bound) -> Option<std::cmp::Ordering>|
     -> Option<bool> {
        match b {
            None => Some(true),
            Some(b) => key(b).map(|o| cmp_ok(o, b, lower_side)),
        }
    };
    // Numbers.
    if let Value::Number(n) = v {
        let Some(x) = n.as_f64() else { return false };
        let key = |b: &Bound| {
            b.num
                .or(b.date_ms.map(|d| d as f64))
                .and_then(|y| x.partial_cmp(&y))
        };
        return check(lower, true, &key) == Some(true) && check(upper, false, &key) == Some(true);
    }
    let Value::String(s) = v else {
        return false;
    };
    // Numeric strings against numeric bounds.
    let numeric_bounds = lower.iter().chain(upper.iter()).all(|b| b.num.is_some());
    if numeric_bounds {
        if let Ok(x) = s.trim().parse::<f64>() {
            let key = |b: &Bound| b.num.and_then(|y| x.partial_cmp(&y));
            return check(lower, true, &key) == Some(true)
                && check(upper, false, &key) == Some(true);
        }
    }
    // Dates.
    if let Ok(ms) = datemath::parse_date(s, format) {
        if lower
            .iter()
            .chain(upper.iter())
            .all(|b| b.date_ms.is_some())
        {
            let key = |b: &Bound| b.date_ms.map(|d| ms.cmp(&d));
            return check(lower, true, &key) == Some(true)
                && check(upper, false, &key) == Some(true);
        }
    }
    // Keyword (lexicographic) range.
    let key = |b: &Bound| Some(s.as_str().cmp(text_of(&b.raw).as_str()));
    check(lower, true, &key) == Some(true) && check(upper, false, &key) == Some(true)
}

fn text_tokens(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => tokens(s),
        other => scalar_text(other).into_iter().collect(),
    }
}

impl Query {
    /// Whether `doc` matches.
    pub fn matches(&self, doc: &DocRef<'_>) -> bool {
        match self {
            Query::MatchAll => true,
            Query::MatchNone => false,
            Query::Bool {
                must,
                should,
                must_not,
                filter,
                minimum_should_match,
            } => {
                must.iter().all(|q| q.matches(doc))
                    && filter.iter().all(|q| q.matches(doc))
                    && !must_not.iter().any(|q| q.matches(doc))
                    && (*minimum_should_match == 0
                        || should.iter().filter(|q| q.matches(doc)).count()
                            >= *minimum_should_match)
            }
            Query::Match {
                fields,
                text,
                tokens: qt,
                required,
            } => {
                if let Fields::One(f) = fields {
                    if let Some(v) = meta_field(doc, &f.path) {
                        return v == text_of(text);
                    }
                }
                if qt.is_empty() {
                    return false;
                }
                let vals = fields.values(doc.source);
                if fields.keyword() {
                    return vals.iter().any(|v| exact_eq(v, text));
                }
                if vals.iter().any(|v| v.is_number() && exact_eq(v, text)) {
                    return true;
                }
                let mut have: Vec<String> = Vec::new();
                for v in vals {
                    have.extend(text_tokens(v));
                }
                qt.iter().filter(|t| have.contains(t)).count() >= *required
            }
            Query::MatchPhrase { fields, tokens: qt } => {
                if qt.is_empty() {
                    return false;
                }
                fields.values(doc.source).into_iter().any(|v| {
                    if fields.keyword() {
                        return scalar_text(v).as_deref() == qt.first().map(String::as_str);
                    }
                    let t = text_tokens(v);
                    t.windows(qt.len()).any(|w| w == qt.as_slice())
                })
            }
            Query::Term {
                fields,
                values,
                case_insensitive,
            } => {
                if let Fields::One(f) = fields {
                    if let Some(v) = meta_field(doc, &f.path) {
                        return values.iter().any(|q| text_of(q) == v);
                    }
                }
                let keyword = fields.keyword();
                fields.values(doc.source).into_iter().any(|v| {
                    values.iter().any(|q| {
                        if *case_insensitive {
                            if let (Some(a), Some(b)) = (scalar_text(v), scalar_text(q)) {
                                return a.to_lowercase() == b.to_lowercase();
                            }
                        }
                        exact_eq(v, q)
                            || (!keyword
                                && v.is_string()
                                && q.as_str()
                                    .is_some_and(|qs| text_tokens(v).iter().any(|t| t == qs)))
                    })
                })
            }
            Query::Range {
                fields,
                lower,
                upper,
                format,
            } => fields
                .values(doc.source)
                .into_iter()
                .any(|v| in_range(v, lower, upper, format.as_deref())),
            Query::Exists(fields) => {
                if let Fields::One(f) = fields {
                    if meta_field(doc, &f.path).is_some() {
                        return true;
                    }
                }
                !fields.values(doc.source).is_empty()
            }
            Query::Ids(ids) => ids.iter().any(|i| i == doc.id),
            Query::Pattern { fields, re } => {
                if let Fields::One(f) = fields {
                    if let Some(v) = meta_field(doc, &f.path) {
                        return re.is_match(&v);
                    }
                }
                let keyword = fields.keyword();
                fields.values(doc.source).into_iter().any(|v| {
                    scalar_text(v).is_some_and(|s| re.is_match(&s))
                        || (!keyword
                            && v.is_string()
                            && text_tokens(v).iter().any(|t| re.is_match(t)))
                })
            }
        }
    }
}

/// `_id` and `_index` as queryable fields.
fn meta_field(doc: &DocRef<'_>, path: &str) -> Option<String> {
    match path {
        "_id" => Some(doc.id.to_string()),
        "_index" => Some(doc.index.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_704_110_400_000; // 2024-01-01T12:00:00Z

    fn m(q: Value, d: Value) -> bool {
        let q = parse(&q, NOW).unwrap();
        q.matches(&DocRef {
            source: &d,
            id: "id1",
            index: "logs",
        })
    }

    #[test]
    fn guide_slow_request_query() {
        let q = json!({"bool": {"must": [
            {"match": {"service": "crewai-api"}},
            {"range": {"duration": {"gte": 1000}}}
        ]}});
        assert!(m(
            q.clone(),
            json!({"service": "crewai-api", "duration": 1000})
        ));
        assert!(m(
            q.clone(),
            json!({"service": "crewai-api", "duration": "2500"})
        ));
        assert!(!m(
            q.clone(),
            json!({"service": "crewai-api", "duration": 999})
        ));
        assert!(!m(
            q.clone(),
            json!({"service": "billing", "duration": 5000})
        ));
        assert!(!m(q, json!({"service": "crewai-api"})));
    }

    #[test]
    fn match_operators() {
        let d = json!({"message": "HTTP Request served"});
        assert!(m(
            json!({"match": {"message": "request failed"}}),
            d.clone()
        ));
        assert!(!m(
            json!({"match": {"message": {"query": "request failed", "operator": "and"}}}),
            d.clone()
        ));
        assert!(m(
            json!({"match": {"message": {"query": "request http", "operator": "AND"}}}),
            d.clone()
        ));
        assert!(m(
            json!({"match_phrase": {"message": "http request"}}),
            d.clone()
        ));
        assert!(!m(
            json!({"match_phrase": {"message": "request http"}}),
            d.clone()
        ));
        assert!(m(json!({"match": {"status": 500}}), json!({"status": 500})));
    }

    #[test]
    fn term_keyword_and_terms() {
        let d = json!({"level": "error", "svc": "Crew AI"});
        assert!(m(json!({"term": {"level": "error"}}), d.clone()));
        assert!(!m(json!({"term": {"level": "warn"}}), d.clone()));
        assert!(m(json!({"term": {"svc.keyword": "Crew AI"}}), d.clone()));
        assert!(!m(json!({"term": {"svc.keyword": "crew"}}), d.clone()));
        assert!(m(json!({"term": {"svc": "crew"}}), d.clone()));
        assert!(m(json!({"terms": {"level": ["warn", "error"]}}), d.clone()));
        assert!(m(
            json!({"term": {"level": {"value": "ERROR", "case_insensitive": true}}}),
            d.clone()
        ));
        assert!(m(json!({"term": {"_id": "id1"}}), d));
    }

    #[test]
    fn ranges_on_dates() {
        let d = json!({"@timestamp": "2024-01-01T11:30:00Z"});
        assert!(m(
            json!({"range": {"@timestamp": {"gte": "now-1h"}}}),
            d.clone()
        ));
        assert!(!m(
            json!({"range": {"@timestamp": {"gte": "now-15m"}}}),
            d.clone()
        ));
        assert!(m(
            json!({"range": {"@timestamp": {"gte": "2024-01-01", "lt": "2024-01-02"}}}),
            d.clone()
        ));
        assert!(m(
            json!({"range": {"@timestamp": {"lte": "now-30m/m"}}}),
            d.clone()
        ));
        assert!(m(
            json!({"range": {"@timestamp": {"gt": 1704067200000i64}}}),
            d.clone()
        ));
        assert!(m(
            json!({"range": {"@timestamp": {"gte": "01/01/2024", "format": "dd/MM/yyyy"}}}),
            d
        ));
        assert!(parse(&json!({"range": {"t": {"gte": "now-1x"}}}), NOW).is_err());
    }

    #[test]
    fn bool_clauses() {
        let d = json!({"a": 1, "b": 2});
        let q = json!({"bool": {"should": [{"term": {"a": 1}}, {"term": {"b": 3}}], "minimum_should_match": 2}});
        assert!(!m(q, d.clone()));
        let q = json!({"bool": {"filter": {"term": {"a": 1}}, "must_not": [{"exists": {"field": "c"}}]}});
        assert!(m(q, d.clone()));
        let q = json!({"bool": {"must": {"match_all": {}}, "should": [{"term": {"a": 9}}]}});
        assert!(m(q, d.clone()), "should is optional when must is present");
        let q = json!({"bool": {"should": [{"term": {"a": 9}}]}});
        assert!(!m(q, d));
    }

    #[test]
    fn patterns_ids_exists() {
        let d = json!({"url": "/api/users/42", "msg": "Connection Refused"});
        assert!(m(json!({"prefix": {"url": "/api"}}), d.clone()));
        assert!(m(
            json!({"wildcard": {"url.keyword": "/api/*/42"}}),
            d.clone()
        ));
        assert!(m(json!({"wildcard": {"msg": "refus*"}}), d.clone()));
        assert!(m(
            json!({"regexp": {"url.keyword": "/api/users/[0-9]+"}}),
            d.clone()
        ));
        assert!(m(json!({"ids": {"values": ["x", "id1"]}}), d.clone()));
        assert!(m(json!({"exists": {"field": "url"}}), d.clone()));
        assert!(!m(json!({"exists": {"field": "nope"}}), d));
    }

    #[test]
    fn parse_errors() {
        for bad in [
            json!({"bogus": {}}),
            json!({"match": {}}),
            json!({"match": {"a": "x", "b": "y"}}),
            json!({"bool": {"must": [{"nope": 1}]}}),
            json!({"bool": {"mustt": []}}),
            json!({"term": {"a": [1, 2]}}),
            json!({"range": {"a": {"gte": {"x": 1}}}}),
            json!("string"),
            json!({"match_all": {}, "term": {"a": 1}}),
        ] {
            let e = parse(&bad, NOW).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
        }
    }
}

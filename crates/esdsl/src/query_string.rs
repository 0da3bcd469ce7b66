//! `query_string` (Lucene syntax) basics: `field:value`, bare terms against `default_field`
//! (all fields by default), `"quoted phrases"`, `AND`/`OR`/`NOT`/`&&`/`||`/`!`, `+`/`-`
//! prefixes, parentheses, `field:(a OR b)`, wildcards `*`/`?`, ranges `[a TO b]`/`{a TO b}`,
//! `field:>=10` and `_exists_:field`. Fuzzy (`~`) and boosts (`^`) are accepted and ignored.

use crate::datemath::Round;
use crate::field::{tokens, wildcard_regex};
use crate::query::{bound, Fields, Query};
use crate::EsError;
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Phrase(String),
    Colon,
    LParen,
    RParen,
    And,
    Or,
    Not,
    Plus,
    Minus,
    /// `[`, `{` (true = inclusive)
    RangeOpen(bool),
    RangeClose(bool),
}

fn lex(s: &str) -> Result<Vec<Tok>, EsError> {
    let mut out = Vec::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1
            }
            '[' | '{' => {
                out.push(Tok::RangeOpen(c == '['));
                i += 1
            }
            ']' | '}' => {
                out.push(Tok::RangeClose(c == ']'));
                i += 1
            }
            '+' if out.last() != Some(&Tok::Colon) => {
                out.push(Tok::Plus);
                i += 1
            }
            '-' if out.last() != Some(&Tok::Colon) => {
                out.push(Tok::Minus);
                i += 1
            }
            '!' => {
                out.push(Tok::Not);
                i += 1
            }
            '&' if chars.get(i + 1) == Some(&'&') => {
                out.push(Tok::And);
                i += 2
            }
            '|' if chars.get(i + 1) == Some(&'|') => {
                out.push(Tok::Or);
                i += 2
            }
            '"' => {
                let mut p = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(EsError::new(
                                400,
                                "query_shard_exception",
                                format!("Failed to parse query [{s}]: unterminated phrase"),
                            ))
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                p.push(*n);
                            }
                            i += 2;
                        }
                        Some(ch) => {
                            p.push(*ch);
                            i += 1
                        }
                    }
                }
                // Proximity `"a b"~2` is ignored.
                if chars.get(i) == Some(&'~') {
                    i += 1;
                    while chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
                        i += 1;
                    }
                }
                out.push(Tok::Phrase(p));
            }
            _ => {
                let mut w = String::new();
                while let Some(&ch) = chars.get(i) {
                    if ch.is_whitespace() || "()[]{}:\"".contains(ch) {
                        break;
                    }
                    if ch == '\\' {
                        if let Some(n) = chars.get(i + 1) {
                            w.push('\\');
                            w.push(*n);
                        }
                        i += 2;
                        continue;
                    }
                    w.push(ch);
                    i += 1;
                }
                // Boost and fuzziness suffixes are ignored.
                if let Some(p) = w.find(['^', '~']) {
                    if p > 0 && !w[..p].ends_with('\\') {
                        w.truncate(p);
                    }
                }
                out.push(match w.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(w),
                });
            }
        }
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq)]
enum Occur {
    Must,
    Should,
    MustNot,
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    default_and: bool,
    default_fields: Vec<String>,
    now_ms: i64,
    src: &'a str,
}

fn unescape(w: &str) -> String {
    let mut out = String::new();
    let mut it = w.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn bool_of(must: Vec<Query>, should: Vec<Query>, must_not: Vec<Query>) -> Query {
    let msm = usize::from(must.is_empty() && !should.is_empty());
    let must = if must.is_empty() && should.is_empty() {
        vec![Query::MatchAll]
    } else {
        must
    };
    Query::Bool {
        must,
        should,
        must_not,
        filter: vec![],
        minimum_should_match: msm,
    }
}

impl Parser<'_> {
    fn err(&self, what: &str) -> EsError {
        EsError::new(
            400,
            "query_shard_exception",
            format!("Failed to parse query [{}]: {what}", self.src),
        )
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn starts_clause(&self) -> bool {
        matches!(
            self.peek(),
            Some(
                Tok::Word(_)
                    | Tok::Phrase(_)
                    | Tok::LParen
                    | Tok::Not
                    | Tok::Plus
                    | Tok::Minus
                    | Tok::RangeOpen(_)
            )
        )
    }

    fn combine(&self, parts: Vec<(Occur, Query)>, and: bool) -> (Occur, Query) {
        if parts.len() == 1 {
            if let Some(p) = parts.into_iter().next() {
                return p;
            }
            return (Occur::Should, Query::MatchNone);
        }
        let (mut must, mut should, mut not) = (vec![], vec![], vec![]);
        for (o, q) in parts {
            match o {
                Occur::Must => must.push(q),
                Occur::MustNot => not.push(q),
                Occur::Should if and => must.push(q),
                Occur::Should => should.push(q),
            }
        }
        (Occur::Should, bool_of(must, should, not))
    }

    fn parse_or(&mut self, field: Option<&str>) -> Result<(Occur, Query), EsError> {
        let mut parts = vec![self.parse_and(field)?];
        loop {
            if self.peek() == Some(&Tok::Or) {
                self.pos += 1;
                parts.push(self.parse_and(field)?);
            } else if !self.default_and && self.starts_clause() {
                parts.push(self.parse_and(field)?);
            } else {
                break;
            }
        }
        Ok(self.combine(parts, false))
    }

    fn parse_and(&mut self, field: Option<&str>) -> Result<(Occur, Query), EsError> {
        let mut parts = vec![self.parse_unary(field)?];
        loop {
            if self.peek() == Some(&Tok::And) {
                self.pos += 1;
                parts.push(self.parse_unary(field)?);
            } else if self.default_and && self.starts_clause() {
                parts.push(self.parse_unary(field)?);
            } else {
                break;
            }
        }
        Ok(self.combine(parts, true))
    }

    fn parse_unary(&mut self, field: Option<&str>) -> Result<(Occur, Query), EsError> {
        match self.peek() {
            Some(Tok::Not | Tok::Minus) => {
                self.pos += 1;
                let (_, q) = self.parse_unary(field)?;
                Ok((Occur::MustNot, q))
            }
            Some(Tok::Plus) => {
                self.pos += 1;
                let (_, q) = self.parse_unary(field)?;
                Ok((Occur::Must, q))
            }
            _ => Ok((Occur::Should, self.parse_primary(field)?)),
        }
    }

    fn parse_primary(&mut self, field: Option<&str>) -> Result<Query, EsError> {
        let tok = self
            .peek()
            .cloned()
            .ok_or_else(|| self.err("unexpected end of query"))?;
        self.pos += 1;
        match tok {
            Tok::LParen => {
                let (o, q) = self.parse_or(field)?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err("missing closing parenthesis"));
                }
                self.pos += 1;
                Ok(match o {
                    Occur::MustNot => bool_of(vec![], vec![], vec![q]),
                    _ => q,
                })
            }
            Tok::Word(w) if field.is_none() && self.peek() == Some(&Tok::Colon) => {
                self.pos += 1;
                let name = unescape(&w);
                if name == "_exists_" {
                    let f = match self.peek().cloned() {
                        Some(Tok::Word(f)) => f,
                        _ => return Err(self.err("_exists_ needs a field name")),
                    };
                    self.pos += 1;
                    return Ok(Query::Exists(Fields::parse(&unescape(&f))?));
                }
                self.parse_primary(Some(&name))
            }
            Tok::Word(w) => self.term(field, &w),
            Tok::Phrase(p) => Ok(self.per_field(field, |fields| Query::MatchPhrase {
                fields,
                tokens: tokens(&p),
            })?),
            Tok::RangeOpen(incl_lo) => {
                let lo = self.range_word()?;
                match self.peek() {
                    Some(Tok::Word(w)) if w == "TO" => self.pos += 1,
                    _ => return Err(self.err("expected TO in range")),
                }
                let hi = self.range_word()?;
                let incl_hi = match self.peek() {
                    Some(Tok::RangeClose(i)) => *i,
                    _ => return Err(self.err("unterminated range")),
                };
                self.pos += 1;
                let lower = if lo == "*" {
                    None
                } else {
                    Some(bound(
                        &Value::String(lo),
                        incl_lo,
                        if incl_lo { Round::Down } else { Round::Up },
                        self.now_ms,
                        None,
                    )?)
                };
                let upper = if hi == "*" {
                    None
                } else {
                    Some(bound(
                        &Value::String(hi),
                        incl_hi,
                        if incl_hi { Round::Up } else { Round::Down },
                        self.now_ms,
                        None,
                    )?)
                };
                self.per_field(field, |fields| Query::Range {
                    fields,
                    lower: lower.clone(),
                    upper: upper.clone(),
                    format: None,
                })
            }
            _ => Err(self.err("unexpected token")),
        }
    }

    fn range_word(&mut self) -> Result<String, EsError> {
        match self.peek().cloned() {
            Some(Tok::Word(w)) => {
                self.pos += 1;
                Ok(unescape(&w))
            }
            Some(Tok::Phrase(p)) => {
                self.pos += 1;
                Ok(p)
            }
            _ => Err(self.err("expected a range bound")),
        }
    }

    /// One query per field (OR-ed) for a field name, or the default fields.
    fn per_field(
        &self,
        field: Option<&str>,
        make: impl Fn(Fields) -> Query,
    ) -> Result<Query, EsError> {
        let names: Vec<String> = match field {
            Some(f) => vec![f.to_string()],
            None => self.default_fields.clone(),
        };
        let mut qs = Vec::new();
        for n in names {
            qs.push(make(Fields::parse(&n)?));
        }
        Ok(if qs.len() == 1 {
            qs.pop().unwrap_or(Query::MatchNone)
        } else {
            bool_of(vec![], qs, vec![])
        })
    }

    fn term(&self, field: Option<&str>, raw: &str) -> Result<Query, EsError> {
        // Comparison shorthand: field:>=10, field:<now-1h
        for (op, incl, lower) in [
            (">=", true, true),
            ("<=", true, false),
            (">", false, true),
            ("<", false, false),
        ] {
            if let Some(rest) = raw.strip_prefix(op) {
                let round = if lower == incl {
                    Round::Down
                } else {
                    Round::Up
                };
                let b = bound(
                    &Value::String(unescape(rest)),
                    incl,
                    round,
                    self.now_ms,
                    None,
                )?;
                return self.per_field(field, |fields| Query::Range {
                    fields,
                    lower: if lower { Some(b.clone()) } else { None },
                    upper: if lower { None } else { Some(b.clone()) },
                    format: None,
                });
            }
        }
        let unescaped_has_wild = {
            let mut prev_bs = false;
            raw.chars().any(|c| {
                let w = !prev_bs && (c == '*' || c == '?');
                prev_bs = c == '\\' && !prev_bs;
                w
            })
        };
        if raw == "*" {
            return match field {
                None => Ok(Query::MatchAll),
                Some(f) => Ok(Query::Exists(Fields::parse(f)?)),
            };
        }
        if unescaped_has_wild {
            let re = wildcard_regex(raw, true).map_err(|e| self.err(&e))?;
            return self.per_field(field, |fields| Query::Pattern {
                fields,
                re: re.clone(),
            });
        }
        let text = unescape(raw);
        let toks = tokens(&text);
        let required = if self.default_and {
            toks.len().max(1)
        } else {
            1
        };
        self.per_field(field, |fields| {
            let keyword = matches!(&fields, Fields::One(f) if f.keyword);
            Query::Match {
                fields,
                text: Value::String(text.clone()),
                tokens: if keyword {
                    vec![text.clone()]
                } else {
                    toks.clone()
                },
                required,
            }
        })
    }
}

/// Parses a query string with the given default operator and fields.
pub fn parse_str(
    q: &str,
    default_and: bool,
    default_fields: Vec<String>,
    now_ms: i64,
) -> Result<Query, EsError> {
    let toks = lex(q)?;
    if toks.is_empty() {
        return Ok(Query::MatchAll);
    }
    let mut p = Parser {
        toks,
        pos: 0,
        default_and,
        default_fields: if default_fields.is_empty() {
            vec!["*".into()]
        } else {
            default_fields
        },
        now_ms,
        src: q,
    };
    let (o, query) = p.parse_or(None)?;
    if p.pos < p.toks.len() {
        return Err(p.err("unexpected token after the end of the query"));
    }
    Ok(match o {
        Occur::MustNot => bool_of(vec![], vec![], vec![query]),
        _ => query,
    })
}

/// Parses the body of a `query_string` query object.
pub fn parse_body(body: &Value, now_ms: i64) -> Result<Query, EsError> {
    let empty = Map::new();
    let o = body.as_object().unwrap_or(&empty);
    let q = o
        .get("query")
        .and_then(Value::as_str)
        .ok_or_else(|| EsError::parsing("[query_string] requires query value"))?;
    let and = o
        .get("default_operator")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("and"));
    let mut fields: Vec<String> = o
        .get("fields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if let Some(df) = o.get("default_field").and_then(Value::as_str) {
        fields = vec![df.to_string()];
    }
    parse_str(q, and, fields, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::DocRef;
    use serde_json::json;

    fn m(q: &str, d: Value) -> bool {
        let q = parse_str(q, false, vec![], 1_704_110_400_000).unwrap();
        q.matches(&DocRef {
            source: &d,
            id: "x",
            index: "i",
        })
    }

    #[test]
    fn basics() {
        let d = json!({"level": "error", "message": "Database connection failed", "status": 503, "fields": {"service": "crewai-api"}});
        assert!(m("level:error", d.clone()));
        assert!(!m("level:warn", d.clone()));
        assert!(m("connection", d.clone()));
        assert!(m("level:error AND status:503", d.clone()));
        assert!(!m("level:error AND status:500", d.clone()));
        assert!(m("level:warn OR status:503", d.clone()));
        assert!(m("level:error NOT status:500", d.clone()));
        assert!(!m("level:error AND NOT status:503", d.clone()));
        assert!(m("message:\"connection failed\"", d.clone()));
        assert!(!m("message:\"failed connection\"", d.clone()));
        assert!(m("mess*:datab*", d.clone()) || m("message:datab*", d.clone()));
        assert!(m("message:datab*", d.clone()));
        assert!(m("status:[500 TO 599]", d.clone()));
        assert!(!m("status:{503 TO 599]", d.clone()));
        assert!(m("status:>=500", d.clone()));
        assert!(m("fields.service:crewai-api", d.clone()));
        assert!(m("_exists_:status", d.clone()));
        assert!(m("(level:warn OR level:error) AND -status:200", d.clone()));
        assert!(m("level:(warn OR error)", d.clone()));
        assert!(m("*", d.clone()));
        assert!(m("-level:info", d));
    }

    #[test]
    fn errors() {
        for bad in ["level:(error", "\"open", "status:[1 TO", "AND", "a )"] {
            assert!(parse_str(bad, false, vec![], 0).is_err(), "{bad}");
        }
    }
}

//! Alertmanager's matcher syntax, as used in `matchers:` lists of routes and inhibit rules, in
//! API `filter` parameters and by `amtool`: `name="value"`, `name=~"re"`, `name!="v"`,
//! `name!~"re"`, optionally enclosed in `{...}` and separated by commas; values may be quoted
//! (with Go escapes) or bare. Regexes are fully anchored, as in Alertmanager.

use model::{LabelMatcher, MatchOp};

/// Parses one or more comma-separated matchers, optionally wrapped in braces.
pub fn parse_matchers(input: &str) -> Result<Vec<LabelMatcher>, String> {
    let mut s = input.trim();
    if let Some(inner) = s.strip_prefix('{') {
        s = inner
            .strip_suffix('}')
            .ok_or_else(|| format!("{input}: missing closing '}}'"))?
            .trim();
    } else if s.ends_with('}') {
        return Err(format!("{input}: missing opening '{{'"));
    }
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.trim().is_empty() {
        let (m, after) = parse_one(rest).map_err(|e| format!("{input}: {e}"))?;
        out.push(m);
        let after = after.trim_start();
        rest = match after.strip_prefix(',') {
            Some(r) => r,
            None if after.is_empty() => after,
            None => return Err(format!("{input}: expected ',' before {after:?}")),
        };
    }
    Ok(out)
}

/// Parses exactly one matcher.
pub fn parse_matcher(input: &str) -> Result<LabelMatcher, String> {
    let mut v = parse_matchers(input)?;
    if v.len() != 1 {
        return Err(format!("{input}: expected exactly one matcher"));
    }
    Ok(v.remove(0))
}

fn parse_one(s: &str) -> Result<(LabelMatcher, &str), String> {
    let s = s.trim_start();
    let (name, rest) = if s.starts_with('"') {
        read_quoted(s)?
    } else {
        let end = s
            .find(|c: char| matches!(c, '=' | '!' | '~') || c.is_whitespace())
            .unwrap_or(s.len());
        (s[..end].to_string(), &s[end..])
    };
    if name.is_empty() {
        return Err("missing label name".into());
    }
    let rest = rest.trim_start();
    let (op, rest) = if let Some(r) = rest.strip_prefix("=~") {
        (MatchOp::RegexMatch, r)
    } else if let Some(r) = rest.strip_prefix("!~") {
        (MatchOp::RegexNoMatch, r)
    } else if let Some(r) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, r)
    } else if let Some(r) = rest.strip_prefix('=') {
        (MatchOp::Equal, r)
    } else {
        return Err(format!(
            "expected an operator (=, !=, =~, !~) after {name:?}"
        ));
    };
    let rest = rest.trim_start();
    let (value, rest) = if rest.starts_with('"') {
        read_quoted(rest)?
    } else {
        let end = rest.find(',').unwrap_or(rest.len());
        (rest[..end].trim_end().to_string(), &rest[end..])
    };
    let m = LabelMatcher::new(name, op, value).map_err(|e| e.to_string())?;
    Ok((m, rest))
}

/// Reads a double-quoted string with Go escapes; returns it and the rest after the quote.
fn read_quoted(s: &str) -> Result<(String, &str), String> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, &s[i + 1..])),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, '"')) => out.push('"'),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(format!("unterminated quoted string {s:?}"))
}

/// Formats a matcher as Alertmanager prints it: `name="value"` with Go-style quoting.
pub fn format_matcher(m: &LabelMatcher) -> String {
    format!("{}{}{}", m.name, m.op, quote(&m.value))
}

/// Formats a list of matchers as `{a="b", c=~"d"}`.
pub fn format_matchers(ms: &[LabelMatcher]) -> String {
    let parts: Vec<String> = ms.iter().map(format_matcher).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Go `%q`-like quoting for label values.
pub fn quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\t' => s.push_str("\\t"),
            '\r' => s.push_str("\\r"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Labels;
    use proptest::prelude::*;

    #[test]
    fn forms() {
        let m = parse_matchers(r#"{severity="critical", team=~"db|ops",env!=prod, x!~"a\"b"}"#)
            .unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[0].op, MatchOp::Equal);
        assert_eq!(m[1].op, MatchOp::RegexMatch);
        assert_eq!(m[2].value, "prod");
        assert_eq!(m[3].value, "a\"b");
        let l = Labels::from_pairs([("severity", "critical"), ("team", "db")]);
        assert!(model::matcher::matches_all(&m, &l));
        assert!(parse_matcher("foo=bar").is_ok());
        assert!(parse_matcher("foo = \"bar baz\"").unwrap().value == "bar baz");
        assert!(parse_matcher("=bar").is_err());
        assert!(parse_matcher("foo").is_err());
        assert!(parse_matcher("foo=~\"(\"").is_err());
        assert!(parse_matchers("{a=b").is_err());
        assert_eq!(parse_matchers("{}").unwrap().len(), 0);
    }

    #[test]
    fn regex_is_anchored() {
        let m = parse_matcher("a=~b").unwrap();
        assert!(m.matches("b"));
        assert!(!m.matches("ab"));
    }

    #[test]
    fn roundtrip_format() {
        let m = parse_matcher("a=~\"x\\\"y\"").unwrap();
        assert_eq!(format_matcher(&m), "a=~\"x\\\"y\"");
        let again = parse_matcher(&format_matcher(&m)).unwrap();
        assert_eq!(again.value, m.value);
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_matchers(&s);
        }

        #[test]
        fn quoted_values_roundtrip(name in "[a-z_][a-z0-9_]{0,8}", value in "[^\\x00]{0,20}") {
            let m = LabelMatcher::equal(name.clone(), value.clone());
            let back = parse_matcher(&format_matcher(&m)).unwrap();
            prop_assert_eq!(back.name, name);
            prop_assert_eq!(back.value, value);
        }
    }
}

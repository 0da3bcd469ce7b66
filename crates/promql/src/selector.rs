//! Converts `promql-parser` vector selectors into `model::LabelMatcher` sets, and parses the
//! `match[]` series selectors of the HTTP API.

use model::{LabelMatcher, MatchOp, METRIC_NAME};
use promql_parser::label::{MatchOp as PMatchOp, Matcher as PMatcher};
use promql_parser::parser::{Expr, VectorSelector};

fn convert(m: &PMatcher) -> Result<LabelMatcher, String> {
    let op = match m.op {
        PMatchOp::Equal => MatchOp::Equal,
        PMatchOp::NotEqual => MatchOp::NotEqual,
        PMatchOp::Re(_) => MatchOp::RegexMatch,
        PMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
    };
    LabelMatcher::new(m.name.clone(), op, m.value.clone()).map_err(|e| e.to_string())
}

/// The matcher sets of a selector: one set normally, several for `{a="1" or b="2"}` selectors
/// (a series matches when any set matches). The metric name becomes a `__name__` matcher.
pub fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Vec<LabelMatcher>>, String> {
    let mut base = Vec::new();
    if let Some(name) = &vs.name {
        base.push(LabelMatcher::equal(METRIC_NAME, name.clone()));
    }
    if vs.matchers.or_matchers.is_empty() {
        let mut set = base;
        for m in &vs.matchers.matchers {
            set.push(convert(m)?);
        }
        return Ok(vec![set]);
    }
    let mut sets = Vec::new();
    for group in &vs.matchers.or_matchers {
        let mut set = base.clone();
        for m in group {
            set.push(convert(m)?);
        }
        sets.push(set);
    }
    Ok(sets)
}

/// Parses a `match[]` API parameter (a series selector) into its matcher sets.
pub fn parse_series_selector(text: &str) -> Result<Vec<Vec<LabelMatcher>>, String> {
    match crate::experimental::parse_guarded(text)? {
        Expr::VectorSelector(vs) => {
            let sets = selector_matchers(&vs)?;
            if sets
                .iter()
                .all(|set| set.iter().all(LabelMatcher::matches_empty))
            {
                return Err(format!(
                    "match[] must contain at least one non-empty matcher: {text}"
                ));
            }
            Ok(sets)
        }
        _ => Err(format!(
            "invalid parameter \"match[]\": {text:?} is not a series selector"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_matchers() {
        let sets = parse_series_selector(r#"up{job=~"a.*",x!="1"}"#).unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].len(), 3);
        assert!(parse_series_selector("sum(up)").is_err());
        assert!(parse_series_selector(r#"{x=~".*"}"#).is_err());
    }
}

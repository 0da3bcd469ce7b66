//! Prometheus rule files (`groups:` of recording and alerting rules): YAML parsing and the
//! validations promtool applies (unknown fields, duplicate groups, record/alert exclusivity,
//! expression syntax, metric/label names, template syntax). Errors name the file and line.
//! Evaluation lives in `rule.rs` / `group.rs`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use model::time::PromDuration;
use serde::Deserialize;

/// A whole rule file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub groups: Vec<GroupDef>,
}

/// `groups[]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDef {
    pub name: String,
    #[serde(default)]
    pub interval: Option<PromDuration>,
    #[serde(default)]
    pub query_offset: Option<PromDuration>,
    #[serde(default)]
    pub limit: usize,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub rules: Vec<RuleDef>,
    /// 1-based line of the group's `name:` key (set after parsing).
    #[serde(skip)]
    pub line: usize,
}

/// `groups[].rules[]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    #[serde(default)]
    pub record: Option<String>,
    #[serde(default)]
    pub alert: Option<String>,
    #[serde(default)]
    pub expr: Option<serde_yaml_ng::Value>,
    #[serde(default, rename = "for")]
    pub for_: Option<PromDuration>,
    #[serde(default)]
    pub keep_firing_for: Option<PromDuration>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// 1-based line of the rule's first key (set after parsing).
    #[serde(skip)]
    pub line: usize,
}

impl RuleDef {
    /// The rule's name (alert or record).
    pub fn name(&self) -> &str {
        self.alert
            .as_deref()
            .or(self.record.as_deref())
            .unwrap_or("")
    }

    /// The expression text (YAML scalars of any type are taken as written).
    pub fn expr_text(&self) -> String {
        match &self.expr {
            Some(serde_yaml_ng::Value::String(s)) => s.clone(),
            Some(serde_yaml_ng::Value::Number(n)) => n.to_string(),
            Some(serde_yaml_ng::Value::Bool(b)) => b.to_string(),
            _ => String::new(),
        }
    }
}

/// A located rule-file error: `FILE:LINE:COL: message` (line 0 when unknown).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct RuleFileError {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl RuleFileError {
    fn render(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file.display(), self.message)
        } else {
            format!(
                "{}:{}:{}: {}",
                self.file.display(),
                self.line,
                self.col.max(1),
                self.message
            )
        }
    }
}

/// True for a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn is_valid_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_' || ch == ':')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == ':')
}

/// True for a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn is_valid_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// Line numbers of group `name:` keys and rule starts (`alert:`/`record:`/`expr:` as first key of a
/// list item), in document order. A light scan, good enough to point errors at the right place.
fn scan_lines(text: &str) -> (Vec<usize>, Vec<usize>) {
    let mut groups = Vec::new();
    let mut rules = Vec::new();
    let mut in_rules_indent: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        let indent = line.len() - trimmed.len();
        if let Some(item) = trimmed.strip_prefix("- ") {
            let item = item.trim_start();
            if item.starts_with("name:") && in_rules_indent.is_none_or(|ri| indent <= ri) {
                groups.push(i + 1);
                in_rules_indent = None;
                continue;
            }
            if in_rules_indent.is_some_and(|ri| indent >= ri)
                && (item.starts_with("alert:")
                    || item.starts_with("record:")
                    || item.starts_with("expr:")
                    || item.starts_with("for:")
                    || item.starts_with("labels:")
                    || item.starts_with("annotations:")
                    || item.starts_with("keep_firing_for:"))
            {
                rules.push(i + 1);
                continue;
            }
        }
        if trimmed.starts_with("rules:") {
            in_rules_indent = Some(indent);
        }
    }
    (groups, rules)
}

/// Parse and validate one rule file's text. `check_template` validates a label/annotation
/// template (returns the parse error text).
pub fn parse_rule_file(
    file: &Path,
    text: &str,
    check_template: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<RuleFile, Vec<RuleFileError>> {
    parse_rule_file_with(file, text, check_template, &check_promql)
}

/// Validates a PromQL rule expression (the default expression language of rule files).
/// Experimental functions are accepted here; the rule manager refuses them per its engine's
/// options ([`check_promql_with`]).
pub fn check_promql(expr: &str) -> Result<(), String> {
    check_promql_with(expr, true)
}

/// [`check_promql`] with Prometheus' experimental functions allowed or refused.
pub fn check_promql_with(expr: &str, experimental_functions: bool) -> Result<(), String> {
    promql::experimental::parse(expr, experimental_functions)
        .map(|_| ())
        .map_err(|e| e.trim().to_string())
}

/// [`parse_rule_file`] with another expression language: `check_expr` validates each rule's
/// `expr` (e.g. a LogQL parser for Loki-style rule files) and returns the parse error text.
pub fn parse_rule_file_with(
    file: &Path,
    text: &str,
    check_template: &dyn Fn(&str, &str) -> Result<(), String>,
    check_expr: &dyn Fn(&str) -> Result<(), String>,
) -> Result<RuleFile, Vec<RuleFileError>> {
    let err = |line: usize, col: usize, message: String| RuleFileError {
        file: file.to_path_buf(),
        line,
        col,
        message,
    };
    if text.trim().is_empty() {
        return Ok(RuleFile::default());
    }
    let mut rf: RuleFile = match serde_yaml_ng::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let (l, c) = e
                .location()
                .map(|l| (l.line(), l.column()))
                .unwrap_or((0, 0));
            let msg = e.to_string();
            let msg = match msg.find(" at line ") {
                Some(p) => msg[..p].to_string(),
                None => msg,
            };
            return Err(vec![err(l, c, msg)]);
        }
    };
    let (glines, rlines) = scan_lines(text);
    let mut ri = 0usize;
    for (gi, g) in rf.groups.iter_mut().enumerate() {
        g.line = glines.get(gi).copied().unwrap_or(0);
        for r in g.rules.iter_mut() {
            r.line = rlines.get(ri).copied().unwrap_or(0);
            ri += 1;
        }
    }
    let mut errs = Vec::new();
    let mut seen = HashSet::new();
    for g in &rf.groups {
        if g.name.is_empty() {
            errs.push(err(g.line, 1, "Groupname must not be empty".into()));
        }
        if !seen.insert(g.name.clone()) {
            errs.push(err(
                g.line,
                1,
                format!("groupname: \"{}\" is repeated in the same file", g.name),
            ));
        }
        for name in g.labels.keys() {
            if !is_valid_label_name(name) {
                errs.push(err(g.line, 1, format!("invalid label name: {name}")));
            }
        }
        for (k, r) in g.rules.iter().enumerate() {
            let prefix = format!("group \"{}\", rule {}, \"{}\"", g.name, k + 1, r.name());
            let mut rerr = |m: String| errs.push(err(r.line, 1, format!("{prefix}: {m}")));
            let has_record = r.record.as_deref().is_some_and(|s| !s.is_empty());
            let has_alert = r.alert.as_deref().is_some_and(|s| !s.is_empty());
            if has_record && has_alert {
                rerr("only one of 'record' and 'alert' must be set".into());
            }
            if !has_record && !has_alert {
                rerr("one of 'record' or 'alert' must be set".into());
            }
            let expr = r.expr_text();
            if expr.trim().is_empty() {
                rerr("field 'expr' must be set in rule".into());
            } else if let Err(e) = check_expr(&expr) {
                rerr(format!("could not parse expression: {e}"));
            }
            if has_record {
                if !r.annotations.is_empty() {
                    rerr("invalid field 'annotations' in recording rule".into());
                }
                if r.for_.is_some_and(|d| d.0 != 0) {
                    rerr("invalid field 'for' in recording rule".into());
                }
                if r.keep_firing_for.is_some_and(|d| d.0 != 0) {
                    rerr("invalid field 'keep_firing_for' in recording rule".into());
                }
                if let Some(rec) = &r.record {
                    if !is_valid_metric_name(rec) {
                        rerr(format!("invalid recording rule name: {rec}"));
                    }
                }
            }
            for (name, value) in &r.labels {
                if !is_valid_label_name(name) {
                    rerr(format!("invalid label name: {name}"));
                }
                if name == "__name__" {
                    rerr("invalid label name: __name__".into());
                }
                if has_alert {
                    if let Err(e) = check_template(r.name(), value) {
                        rerr(format!("label \"{name}\": {e}"));
                    }
                }
            }
            for (name, value) in &r.annotations {
                if !is_valid_label_name(name) {
                    rerr(format!("invalid annotation name: {name}"));
                }
                if let Err(e) = check_template(r.name(), value) {
                    rerr(format!("annotation \"{name}\": {e}"));
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(rf)
    } else {
        Err(errs)
    }
}

/// Read and parse a rule file from disk.
pub fn load_rule_file(
    file: &Path,
    check_template: &dyn Fn(&str, &str) -> Result<(), String>,
) -> Result<RuleFile, Vec<RuleFileError>> {
    load_rule_file_with(file, check_template, &check_promql)
}

/// [`load_rule_file`] with another expression language (see [`parse_rule_file_with`]).
pub fn load_rule_file_with(
    file: &Path,
    check_template: &dyn Fn(&str, &str) -> Result<(), String>,
    check_expr: &dyn Fn(&str) -> Result<(), String>,
) -> Result<RuleFile, Vec<RuleFileError>> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        vec![RuleFileError {
            file: file.to_path_buf(),
            line: 0,
            col: 0,
            message: format!("cannot read rule file: {e}"),
        }]
    })?;
    parse_rule_file_with(file, &text, check_template, check_expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(_: &str, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn parse(text: &str) -> Result<RuleFile, Vec<RuleFileError>> {
        parse_rule_file(Path::new("r.yml"), text, &ok)
    }

    #[test]
    fn guide_rules_parse() {
        let text = include_str!("../../../examples/prometheus/alerts/application.yml");
        let rf = parse(text).unwrap();
        assert_eq!(rf.groups.len(), 1);
        assert_eq!(rf.groups[0].rules.len(), 6);
        assert_eq!(rf.groups[0].rules[0].name(), "HighErrorRate");
        assert_eq!(rf.groups[0].rules[0].for_, Some(PromDuration(300_000)));
        // every rule got its line
        assert!(rf.groups[0].rules.iter().all(|r| r.line > 0));
    }

    #[test]
    fn errors_are_located() {
        let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n      - record: bad-name\n        expr: up\n  - name: g\n    rules: []\n";
        let errs = parse(text).unwrap_err();
        let s: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(
            s[0].starts_with("r.yml:4:1: group \"g\", rule 1, \"A\": could not parse expression"),
            "{s:?}"
        );
        assert_eq!(
            s[1],
            "r.yml:6:1: group \"g\", rule 2, \"bad-name\": invalid recording rule name: bad-name"
        );
        assert_eq!(
            s[2],
            "r.yml:8:1: groupname: \"g\" is repeated in the same file"
        );
    }

    #[test]
    fn unknown_field_and_exclusivity() {
        let e = parse("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        forr: 5m\n").unwrap_err();
        assert_eq!(e[0].line, 6, "{e:?}");
        assert!(e[0].message.contains("unknown field `forr`"), "{e:?}");
        let e = parse("groups:\n- name: g\n  rules:\n  - alert: A\n    record: b\n    expr: up\n")
            .unwrap_err();
        assert!(e[0].message.contains("only one of 'record' and 'alert'"));
        let e = parse("groups:\n- name: g\n  rules:\n  - record: b\n    expr: up\n    for: 1m\n    annotations: {a: b}\n").unwrap_err();
        assert_eq!(e.len(), 2);
        let e = parse("groups:\n- name: g\n  rules:\n  - alert: b\n").unwrap_err();
        assert!(e[0].message.contains("field 'expr' must be set"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn arbitrary_text_never_panics(s in "(groups:|rules:|- name: g|- alert: A|expr: up|for: 5m|labels:|  |\n|[a-z{}$:\"'-]){0,40}") {
                let _ = parse_rule_file(Path::new("p.yml"), &s, &crate::template::check);
            }

            #[test]
            fn valid_rules_round_trip(name in "[a-zA-Z_][a-zA-Z0-9_]{0,10}", thr in 0u32..1000) {
                let text = format!("groups:\n  - name: g\n    rules:\n      - alert: {name}\n        expr: up > {thr}\n");
                let rf = parse_rule_file(Path::new("p.yml"), &text, &crate::template::check).unwrap();
                prop_assert_eq!(rf.groups[0].rules[0].name(), name.as_str());
                prop_assert_eq!(rf.groups[0].rules[0].line, 4);
            }
        }
    }
}

//! Prometheus relabeling: `relabel_configs` / `metric_relabel_configs` rules and their
//! application to a label set (replace, keep, drop, keepequal, dropequal, hashmod, labelmap,
//! labeldrop, labelkeep, lowercase, uppercase). Regexes are fully anchored, replacements use
//! `$1` / `${1}` / `${name}` as in Go.

use md5::{Digest, Md5};
use model::{Labels, LabelsBuilder};
use regex::Regex;
use serde::{Deserialize, Deserializer};

/// A relabeling action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    Replace,
    Keep,
    Drop,
    KeepEqual,
    DropEqual,
    HashMod,
    LabelMap,
    LabelDrop,
    LabelKeep,
    Lowercase,
    Uppercase,
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.to_ascii_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "unknown relabel action {s:?}"
                )))
            }
        })
    }
}

/// An anchored regex as written in the config.
#[derive(Clone, Debug)]
pub struct RelabelRegex {
    pub source: String,
    pub compiled: Regex,
}

impl RelabelRegex {
    pub fn new(source: &str) -> Result<Self, String> {
        let compiled = Regex::new(&format!("^(?s:{source})$"))
            .map_err(|e| format!("invalid regex {source:?}: {e}"))?;
        Ok(RelabelRegex {
            source: source.to_string(),
            compiled,
        })
    }
}

impl Default for RelabelRegex {
    fn default() -> Self {
        RelabelRegex::new("(.*)").unwrap_or_else(|_| RelabelRegex {
            source: "(.*)".into(),
            compiled: Regex::new("").unwrap_or_else(|_| unreachable!()),
        })
    }
}

impl<'de> Deserialize<'de> for RelabelRegex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        RelabelRegex::new(&s).map_err(serde::de::Error::custom)
    }
}

fn default_separator() -> String {
    ";".into()
}
fn default_replacement() -> String {
    "$1".into()
}

/// One relabeling rule.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    #[serde(default)]
    pub source_labels: Vec<String>,
    #[serde(default = "default_separator")]
    pub separator: String,
    #[serde(default)]
    pub regex: RelabelRegex,
    #[serde(default)]
    pub modulus: u64,
    #[serde(default)]
    pub target_label: String,
    #[serde(default = "default_replacement")]
    pub replacement: String,
    #[serde(default)]
    pub action: Action,
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: default_separator(),
            regex: RelabelRegex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: default_replacement(),
            action: Action::Replace,
        }
    }
}

fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl RelabelConfig {
    /// Config-time checks, with Prometheus' messages.
    pub fn validate(&self) -> Result<(), String> {
        use Action::*;
        let needs_target = matches!(
            self.action,
            Replace | HashMod | Lowercase | Uppercase | KeepEqual | DropEqual
        );
        if needs_target && self.target_label.is_empty() {
            return Err(format!(
                "relabel configuration for {} action requires 'target_label' value",
                self.action_name()
            ));
        }
        if self.action == HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".into());
        }
        if matches!(
            self.action,
            Lowercase | Uppercase | KeepEqual | DropEqual | HashMod
        ) && !is_label_name(&self.target_label)
        {
            return Err(format!(
                "{:?} is invalid 'target_label' for {} action",
                self.target_label,
                self.action_name()
            ));
        }
        if self.action == Replace
            && !self.target_label.contains('$')
            && !is_label_name(&self.target_label)
        {
            return Err(format!(
                "{:?} is invalid 'target_label' for replace action",
                self.target_label
            ));
        }
        if matches!(self.action, LabelDrop | LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != ";"
                || self.replacement != "$1")
        {
            return Err(format!(
                "{} action requires only 'regex', and no other fields",
                self.action_name()
            ));
        }
        if matches!(self.action, KeepEqual | DropEqual)
            && (self.regex.source != "(.*)" || self.modulus != 0 || self.replacement != "$1")
        {
            return Err(format!(
                "{} action requires only 'source_labels' and `target_label`, and no other fields",
                self.action_name()
            ));
        }
        Ok(())
    }

    fn action_name(&self) -> &'static str {
        use Action::*;
        match self.action {
            Replace => "replace",
            Keep => "keep",
            Drop => "drop",
            KeepEqual => "keepequal",
            DropEqual => "dropequal",
            HashMod => "hashmod",
            LabelMap => "labelmap",
            LabelDrop => "labeldrop",
            LabelKeep => "labelkeep",
            Lowercase => "lowercase",
            Uppercase => "uppercase",
        }
    }

    /// Applies this rule to a builder; returns false when the series/target is dropped.
    fn apply(&self, b: &mut LabelsBuilder) -> bool {
        use Action::*;
        let val = self
            .source_labels
            .iter()
            .map(|n| b.get(n).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&self.separator);
        let re = &self.regex.compiled;
        match self.action {
            Drop => {
                if re.is_match(&val) {
                    return false;
                }
            }
            Keep => {
                if !re.is_match(&val) {
                    return false;
                }
            }
            DropEqual => {
                if b.get(&self.target_label).unwrap_or("") == val {
                    return false;
                }
            }
            KeepEqual => {
                if b.get(&self.target_label).unwrap_or("") != val {
                    return false;
                }
            }
            Replace => {
                // Prometheus skips the whole rule when the regex does not match.
                let Some(caps) = re.captures(&val) else {
                    return true;
                };
                let mut target = String::new();
                caps.expand(&self.target_label, &mut target);
                if !is_label_name(&target) {
                    return true;
                }
                let mut value = String::new();
                caps.expand(&self.replacement, &mut value);
                if value.is_empty() {
                    b.del(&target);
                } else {
                    b.set(target, value);
                }
            }
            Lowercase => {
                b.set(self.target_label.clone(), val.to_lowercase());
            }
            Uppercase => {
                b.set(self.target_label.clone(), val.to_uppercase());
            }
            HashMod => {
                let digest = Md5::digest(val.as_bytes());
                let mut last8 = [0u8; 8];
                last8.copy_from_slice(&digest[8..16]);
                let m = u64::from_be_bytes(last8) % self.modulus.max(1);
                b.set(self.target_label.clone(), m.to_string());
            }
            LabelMap => {
                let current = b.build();
                for l in current.iter() {
                    if let Some(caps) = re.captures(&l.name) {
                        let mut name = String::new();
                        caps.expand(&self.replacement, &mut name);
                        b.set(name, l.value.clone());
                    }
                }
            }
            LabelDrop => {
                b.retain(|l| !re.is_match(&l.name));
            }
            LabelKeep => {
                b.retain(|l| re.is_match(&l.name));
            }
        }
        true
    }
}

/// Applies `cfgs` in order; `None` when a rule dropped the label set.
pub fn process(labels: &Labels, cfgs: &[RelabelConfig]) -> Option<Labels> {
    if cfgs.is_empty() {
        return Some(labels.clone());
    }
    let mut b = labels.builder();
    for c in cfgs {
        if !c.apply(&mut b) {
            return None;
        }
    }
    Some(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rules(yaml: &str) -> Vec<RelabelConfig> {
        let r: Vec<RelabelConfig> = serde_yaml_ng::from_str(yaml).unwrap();
        for c in &r {
            c.validate().unwrap();
        }
        r
    }

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn replace_with_groups() {
        let r = rules("- source_labels: [a, b]\n  regex: '(.*);(.*)'\n  target_label: c\n  replacement: '${2}-$1'\n");
        let out = process(&ls(&[("a", "x"), ("b", "y")]), &r).unwrap();
        assert_eq!(out.get("c"), Some("y-x"));
        // No match: unchanged.
        let r = rules("- source_labels: [a]\n  regex: 'z'\n  target_label: c\n");
        assert_eq!(process(&ls(&[("a", "x")]), &r).unwrap().get("c"), None);
        // Empty result deletes the target.
        let r = rules("- source_labels: [missing]\n  target_label: a\n");
        assert_eq!(process(&ls(&[("a", "x")]), &r).unwrap().get("a"), None);
    }

    #[test]
    fn keep_drop_equal() {
        let keep = rules("- source_labels: [job]\n  regex: 'api|web'\n  action: keep\n");
        assert!(process(&ls(&[("job", "api")]), &keep).is_some());
        assert!(process(&ls(&[("job", "apix")]), &keep).is_none());
        let drop = rules("- source_labels: [job]\n  regex: 'api'\n  action: drop\n");
        assert!(process(&ls(&[("job", "api")]), &drop).is_none());
        let ke = rules("- source_labels: [a]\n  target_label: b\n  action: keepequal\n");
        assert!(process(&ls(&[("a", "1"), ("b", "1")]), &ke).is_some());
        assert!(process(&ls(&[("a", "1"), ("b", "2")]), &ke).is_none());
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Prometheus' relabel_test: md5("foo") mod 1000 == 72... computed via the last 8 bytes.
        let r =
            rules("- source_labels: [a]\n  modulus: 1000\n  target_label: h\n  action: hashmod\n");
        let out = process(&ls(&[("a", "foo")]), &r).unwrap();
        let digest = Md5::digest(b"foo");
        let expect = u64::from_be_bytes(digest[8..16].try_into().unwrap()) % 1000;
        assert_eq!(out.get("h"), Some(expect.to_string().as_str()));
    }

    #[test]
    fn labelmap_labeldrop_labelkeep_case() {
        let r = rules("- regex: '__meta_(.+)'\n  action: labelmap\n- regex: '__meta_.*'\n  action: labeldrop\n");
        let out = process(&ls(&[("__meta_zone", "eu"), ("a", "1")]), &r).unwrap();
        assert_eq!(out.get("zone"), Some("eu"));
        assert_eq!(out.get("__meta_zone"), None);
        let k = rules("- regex: 'a|b'\n  action: labelkeep\n");
        assert_eq!(
            process(&ls(&[("a", "1"), ("c", "2")]), &k).unwrap().len(),
            1
        );
        let up = rules("- source_labels: [a]\n  target_label: u\n  action: uppercase\n");
        assert_eq!(
            process(&ls(&[("a", "xY")]), &up).unwrap().get("u"),
            Some("XY")
        );
    }

    #[test]
    fn invalid_configs_rejected() {
        let bad: Vec<RelabelConfig> =
            serde_yaml_ng::from_str("- action: hashmod\n  target_label: x\n").unwrap();
        assert!(bad[0].validate().unwrap_err().contains("modulus"));
        assert!(serde_yaml_ng::from_str::<Vec<RelabelConfig>>("- regex: '('\n").is_err());
        assert!(serde_yaml_ng::from_str::<Vec<RelabelConfig>>("- action: explode\n").is_err());
        let ld: Vec<RelabelConfig> =
            serde_yaml_ng::from_str("- action: labeldrop\n  regex: a\n  target_label: x\n")
                .unwrap();
        assert!(ld[0].validate().is_err());
    }

    #[test]
    fn go_replacement_syntax() {
        let apply = |replacement: &str| {
            let yaml = format!(
                "- source_labels: [a]\n  regex: '(?P<word>f)(o+)'\n  target_label: r\n  replacement: '{replacement}'\n"
            );
            process(&ls(&[("a", "foo")]), &rules(&yaml))
                .unwrap()
                .get("r")
                .map(str::to_string)
        };
        // `$1a` names a group "1a" (empty), as in Go; `${1}a` is group 1 followed by "a".
        assert_eq!(apply("$1a"), None);
        assert_eq!(apply("${1}a"), Some("fa".into()));
        assert_eq!(apply("${word}-$2"), Some("f-oo".into()));
        assert_eq!(apply("$$1"), Some("$1".into()));
        assert_eq!(apply("static"), Some("static".into()));
    }

    #[test]
    fn regex_is_fully_anchored() {
        let keep = rules("- source_labels: [a]\n  regex: 'f'\n  action: keep\n");
        assert!(process(&ls(&[("a", "foo")]), &keep).is_none());
        let keep = rules("- source_labels: [a]\n  regex: 'f.*'\n  action: keep\n");
        assert!(process(&ls(&[("a", "foo")]), &keep).is_some());
    }

    #[test]
    fn target_label_expands_groups() {
        let r = rules("- source_labels: [a]\n  regex: '(.+)=(.+)'\n  target_label: 'x_$1'\n  replacement: '$2'\n");
        let out = process(&ls(&[("a", "zone=eu")]), &r).unwrap();
        assert_eq!(out.get("x_zone"), Some("eu"));
        // An expanded target that is not a label name leaves the set unchanged.
        let out = process(&ls(&[("a", "a-b=eu")]), &r).unwrap();
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn dropequal_and_missing_source_labels() {
        let de = rules("- source_labels: [a]\n  target_label: b\n  action: dropequal\n");
        assert!(process(&ls(&[("a", "1"), ("b", "1")]), &de).is_none());
        assert!(process(&ls(&[("a", "1"), ("b", "2")]), &de).is_some());
        // Missing labels join as empty strings: "" matches the default `(.*)`.
        let r = rules("- source_labels: [x, y]\n  target_label: t\n  replacement: 'v$1'\n");
        assert_eq!(
            process(&ls(&[("a", "1")]), &r).unwrap().get("t"),
            Some("v;")
        );
    }

    #[test]
    fn hashmod_reference_value() {
        // Prometheus' relabel_test.go: "baz" and "foo\nbar" with modulus 1000.
        let r =
            rules("- source_labels: [a]\n  modulus: 1000\n  target_label: d\n  action: hashmod\n");
        assert_eq!(
            process(&ls(&[("a", "baz")]), &r).unwrap().get("d"),
            Some("976")
        );
        assert_eq!(
            process(&ls(&[("a", "foo\nbar")]), &r).unwrap().get("d"),
            Some("734")
        );
    }

    #[test]
    fn empty_replacement_deletes_expanded_target() {
        // relabel_test.go: target `$1` = "f", replacement `$2` (no such group) = "" deletes f.
        let r = rules(
            "- source_labels: [a]\n  regex: '(f).*'\n  target_label: '$1'\n  replacement: '$2'\n",
        );
        let out = process(&ls(&[("a", "foo"), ("f", "baz")]), &r).unwrap();
        assert_eq!(out, ls(&[("a", "foo")]));
    }

    proptest! {
        #[test]
        fn never_panics(v in "\\PC{0,20}", re in "[a-z().*|+?]{0,8}", repl in "[$a-z0-9{}]{0,8}") {
            if let Ok(regex) = RelabelRegex::new(&re) {
                let cfg = RelabelConfig {
                    source_labels: vec!["a".into()],
                    regex,
                    target_label: "t".into(),
                    replacement: repl,
                    ..Default::default()
                };
                let _ = process(&ls(&[("a", &v)]), &[cfg]);
            }
        }
    }
}

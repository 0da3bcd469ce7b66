//! The `otlp:` block of prometheus.yml (Prometheus 3's OTLP receiver settings), read from the
//! raw YAML value with Prometheus' defaults and checks, plus pharos' `delta_temporality` key.

use serde_yaml_ng::Value;

/// `otlp.translation_strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TranslationStrategy {
    /// Names and labels escaped to `[a-zA-Z0-9_:]`, unit and type suffixes added (default).
    #[default]
    UnderscoreEscapingWithSuffixes,
    /// Escaped names without suffixes.
    UnderscoreEscapingWithoutSuffixes,
    /// UTF-8 names kept, suffixes added.
    NoUTF8EscapingWithSuffixes,
    /// Names kept exactly as sent.
    NoTranslation,
}

impl TranslationStrategy {
    pub fn should_escape(self) -> bool {
        matches!(
            self,
            Self::UnderscoreEscapingWithSuffixes | Self::UnderscoreEscapingWithoutSuffixes
        )
    }
    pub fn should_add_suffixes(self) -> bool {
        matches!(
            self,
            Self::UnderscoreEscapingWithSuffixes | Self::NoUTF8EscapingWithSuffixes
        )
    }
}

/// What the receiver does with delta-temporality sums and histograms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DeltaTemporality {
    /// Refused with a message naming the metric (Prometheus' behaviour without feature flags).
    #[default]
    Reject,
    /// Accumulated into cumulative series in memory (as Prometheus' `otlp-deltatocumulative`).
    Convert,
}

/// The parsed `otlp:` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtlpConfig {
    pub translation_strategy: TranslationStrategy,
    pub promote_all_resource_attributes: bool,
    pub promote_resource_attributes: Vec<String>,
    pub ignore_resource_attributes: Vec<String>,
    pub keep_identifying_resource_attributes: bool,
    pub promote_scope_metadata: bool,
    pub label_name_underscore_sanitization: bool,
    pub label_name_preserve_multiple_underscores: bool,
    /// Explicit-bucket histograms become native histograms with custom buckets (NHCB).
    pub convert_histograms_to_nhcb: bool,
    pub delta_temporality: DeltaTemporality,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            translation_strategy: TranslationStrategy::default(),
            promote_all_resource_attributes: false,
            promote_resource_attributes: Vec::new(),
            ignore_resource_attributes: Vec::new(),
            keep_identifying_resource_attributes: false,
            promote_scope_metadata: false,
            label_name_underscore_sanitization: true,
            label_name_preserve_multiple_underscores: true,
            convert_histograms_to_nhcb: false,
            delta_temporality: DeltaTemporality::default(),
        }
    }
}

fn bool_key(map: &serde_yaml_ng::Mapping, key: &str, default: bool) -> Result<bool, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(format!("otlp.{key}: expected true or false, got {v:?}")),
    }
}

/// Reads a list of attribute names with Prometheus' checks (trimmed, non-empty, no duplicates).
fn attr_list(
    map: &serde_yaml_ng::Mapping,
    key: &str,
    adjective: &str,
) -> Result<Vec<String>, String> {
    let Some(v) = map.get(key) else {
        return Ok(Vec::new());
    };
    let Value::Sequence(items) = v else {
        if v.is_null() {
            return Ok(Vec::new());
        }
        return Err(format!("otlp.{key}: expected a list of attribute names"));
    };
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Some(s) = item.as_str() else {
            return Err(format!("otlp.{key}: expected strings, got {item:?}"));
        };
        let s = s.trim();
        if s.is_empty() {
            return Err(format!(
                "invalid '{key}': empty {adjective} OTel resource attribute"
            ));
        }
        if out.iter().any(|o| o == s) {
            return Err(format!(
                "invalid '{key}': duplicated {adjective} OTel resource attribute {s:?}"
            ));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

impl OtlpConfig {
    /// Parses the `otlp:` value (absent → defaults), with Prometheus' error messages.
    pub fn from_value(v: Option<&Value>) -> Result<OtlpConfig, String> {
        let mut c = OtlpConfig::default();
        let map = match v {
            None | Some(Value::Null) => return Ok(c),
            Some(Value::Mapping(m)) => m,
            Some(_) => return Err("otlp: expected a mapping".into()),
        };
        const KNOWN: [&str; 10] = [
            "translation_strategy",
            "promote_all_resource_attributes",
            "promote_resource_attributes",
            "ignore_resource_attributes",
            "keep_identifying_resource_attributes",
            "promote_scope_metadata",
            "label_name_underscore_sanitization",
            "label_name_preserve_multiple_underscores",
            "convert_histograms_to_nhcb",
            "delta_temporality",
        ];
        for k in map.keys() {
            let k = k.as_str().unwrap_or("");
            if !KNOWN.contains(&k) {
                return Err(format!(
                    "otlp: field {k} not found in type config.OTLPConfig"
                ));
            }
        }
        if let Some(s) = map.get("translation_strategy").and_then(Value::as_str) {
            c.translation_strategy = match s {
                "UnderscoreEscapingWithSuffixes" => {
                    TranslationStrategy::UnderscoreEscapingWithSuffixes
                }
                "UnderscoreEscapingWithoutSuffixes" => {
                    TranslationStrategy::UnderscoreEscapingWithoutSuffixes
                }
                "NoUTF8EscapingWithSuffixes" => TranslationStrategy::NoUTF8EscapingWithSuffixes,
                "NoTranslation" => TranslationStrategy::NoTranslation,
                other => return Err(format!("unsupported OTLP translation strategy {other:?}")),
            };
        }
        c.promote_all_resource_attributes =
            bool_key(map, "promote_all_resource_attributes", false)?;
        c.keep_identifying_resource_attributes =
            bool_key(map, "keep_identifying_resource_attributes", false)?;
        c.promote_scope_metadata = bool_key(map, "promote_scope_metadata", false)?;
        c.label_name_underscore_sanitization =
            bool_key(map, "label_name_underscore_sanitization", true)?;
        c.label_name_preserve_multiple_underscores =
            bool_key(map, "label_name_preserve_multiple_underscores", true)?;
        c.convert_histograms_to_nhcb = bool_key(map, "convert_histograms_to_nhcb", false)?;
        c.promote_resource_attributes = attr_list(map, "promote_resource_attributes", "promoted")?;
        c.ignore_resource_attributes = attr_list(map, "ignore_resource_attributes", "ignored")?;
        if c.promote_all_resource_attributes && !c.promote_resource_attributes.is_empty() {
            return Err("'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously".into());
        }
        if !c.promote_all_resource_attributes && !c.ignore_resource_attributes.is_empty() {
            return Err("'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true".into());
        }
        if let Some(d) = map.get("delta_temporality") {
            c.delta_temporality = match d.as_str() {
                Some("reject") => DeltaTemporality::Reject,
                Some("convert") => DeltaTemporality::Convert,
                _ => {
                    return Err(format!(
                        "otlp.delta_temporality: expected reject or convert, got {d:?}"
                    ))
                }
            };
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(y: &str) -> Result<OtlpConfig, String> {
        let v: Value = serde_yaml_ng::from_str(y).map_err(|e| e.to_string())?;
        OtlpConfig::from_value(Some(&v))
    }

    #[test]
    fn defaults_and_keys() {
        assert_eq!(OtlpConfig::from_value(None).unwrap(), OtlpConfig::default());
        let c = parse("translation_strategy: NoTranslation\npromote_resource_attributes: [' a ', b]\ndelta_temporality: convert\n").unwrap();
        assert_eq!(c.translation_strategy, TranslationStrategy::NoTranslation);
        assert_eq!(c.promote_resource_attributes, vec!["a", "b"]);
        assert_eq!(c.delta_temporality, DeltaTemporality::Convert);
    }

    #[test]
    fn prometheus_checks() {
        assert!(parse("translation_strategy: Foo\n")
            .unwrap_err()
            .contains("unsupported"));
        assert!(parse("promote_resource_attributes: [a, a]\n")
            .unwrap_err()
            .contains("duplicated"));
        assert!(parse("promote_resource_attributes: ['']\n")
            .unwrap_err()
            .contains("empty"));
        assert!(parse("ignore_resource_attributes: [a]\n").is_err());
        assert!(
            parse("promote_all_resource_attributes: true\npromote_resource_attributes: [a]\n")
                .is_err()
        );
        assert!(parse("bogus: 1\n").is_err());
        assert!(parse("delta_temporality: maybe\n").is_err());
    }
}

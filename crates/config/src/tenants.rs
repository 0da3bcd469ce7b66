//! `tenants:` of pharos.yml: per-tenant limits as Mimir's `limits` and runtime `overrides`
//! (defaults for every tenant, then per tenant, field by field), and the directory of the
//! tenants' PromQL rule files (`<dir>/<tenant>/<namespace>.yml`, as Mimir's local ruler
//! storage lays them out).

use crate::{locate, ConfigError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantsSection {
    #[serde(default)]
    rules_directory: Option<PathBuf>,
    #[serde(default)]
    limits: TenantLimits,
    #[serde(default)]
    overrides: BTreeMap<String, TenantLimits>,
}

/// Limits of one tenant (Mimir's names). Unset = no limit (or the default's value in
/// `overrides`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantLimits {
    /// Samples (and histogram samples) per second written by the tenant; past it writes
    /// answer 429.
    #[serde(default)]
    pub ingestion_rate: Option<f64>,
    /// Samples the tenant may write at once above the rate (default: one second's worth).
    #[serde(default)]
    pub ingestion_burst_size: Option<f64>,
    /// Series the tenant may create (counted since start plus those it has); past it new
    /// series answer 429.
    #[serde(default)]
    pub max_global_series_per_user: Option<u64>,
}

impl TenantLimits {
    /// `self` with unset fields taken from `defaults`.
    fn over(&self, defaults: &TenantLimits) -> TenantLimits {
        TenantLimits {
            ingestion_rate: self.ingestion_rate.or(defaults.ingestion_rate),
            ingestion_burst_size: self.ingestion_burst_size.or(defaults.ingestion_burst_size),
            max_global_series_per_user: self
                .max_global_series_per_user
                .or(defaults.max_global_series_per_user),
        }
    }
}

/// The resolved `tenants:` section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantsSettings {
    /// PromQL rule files per tenant (absolute).
    pub rules_directory: Option<PathBuf>,
    pub limits: TenantLimits,
    pub overrides: BTreeMap<String, TenantLimits>,
}

impl TenantsSettings {
    /// The limits of `tenant`: its overrides over the defaults.
    pub fn limits_of(&self, tenant: &str) -> TenantLimits {
        match self.overrides.get(tenant) {
            Some(o) => o.over(&self.limits),
            None => self.limits.clone(),
        }
    }

    /// Whether any limit is set at all.
    pub fn has_limits(&self) -> bool {
        self.limits != TenantLimits::default() || !self.overrides.is_empty()
    }

    /// The tenants' PromQL rule files with their tenants, in the layout of
    /// `logs.rules_directory` (one directory per tenant).
    pub fn rule_files(&self) -> Vec<(PathBuf, String)> {
        match &self.rules_directory {
            Some(dir) => crate::pharos::LogsSettings {
                rules_directory: Some(dir.clone()),
                ..Default::default()
            }
            .resolved_rule_files(),
            None => Vec::new(),
        }
    }
}

impl TenantsSection {
    pub(crate) fn resolve(
        self,
        file: &Path,
        text: &str,
        base: &Path,
    ) -> Result<TenantsSettings, ConfigError> {
        let at = |key: &str, msg: String| {
            let (l, c) = locate(text, key, 1);
            ConfigError::at(file, l, c, format!("tenants: {msg}"))
        };
        let check = |l: &TenantLimits, key: &str| -> Result<(), ConfigError> {
            for (name, v) in [
                ("ingestion_rate", l.ingestion_rate),
                ("ingestion_burst_size", l.ingestion_burst_size),
            ] {
                if let Some(v) = v {
                    if !(v.is_finite() && v > 0.0) {
                        return Err(at(
                            name,
                            format!("{key}.{name} must be a positive number, got {v}"),
                        ));
                    }
                }
            }
            Ok(())
        };
        check(&self.limits, "limits")?;
        for (t, l) in &self.overrides {
            if t.is_empty()
                || t == "."
                || t == ".."
                || !t
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c))
            {
                return Err(at(
                    t,
                    format!(
                        "overrides: {t:?} is not a valid tenant ID (letters, digits and !-_.*'())"
                    ),
                ));
            }
            check(l, &format!("overrides.{t}"))?;
        }
        Ok(TenantsSettings {
            rules_directory: self.rules_directory.map(|p| {
                if p.is_absolute() {
                    p
                } else {
                    base.join(p)
                }
            }),
            limits: self.limits,
            overrides: self.overrides,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_fall_back_to_defaults() {
        let text = "limits: {ingestion_rate: 100, max_global_series_per_user: 5}\noverrides:\n  big: {ingestion_rate: 1000}\n";
        let s: TenantsSection = serde_yaml_ng::from_str(text).unwrap();
        let s = s
            .resolve(Path::new("/x/pharos.yml"), text, Path::new("/x"))
            .unwrap();
        assert_eq!(s.limits_of("big").ingestion_rate, Some(1000.0));
        assert_eq!(s.limits_of("big").max_global_series_per_user, Some(5));
        assert_eq!(s.limits_of("small").ingestion_rate, Some(100.0));
        let bad = "limits: {ingestion_rate: -1}\n";
        let s: TenantsSection = serde_yaml_ng::from_str(bad).unwrap();
        let e = s
            .resolve(Path::new("/x/pharos.yml"), bad, Path::new("/x"))
            .unwrap_err();
        assert_eq!(e.line, 1, "{e:?}");
        let bad = "overrides:\n  'a/b': {ingestion_rate: 1}\n";
        let s: TenantsSection = serde_yaml_ng::from_str(bad).unwrap();
        assert!(s
            .resolve(Path::new("/x/pharos.yml"), bad, Path::new("/x"))
            .is_err());
    }
}

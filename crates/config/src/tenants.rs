//! `tenants:` of pharos.yml: per-tenant limits as Mimir's `limits` and runtime `overrides`
//! (defaults for every tenant, then per tenant, field by field), and the directory of the
//! tenants' PromQL rule files (`<dir>/<tenant>/<namespace>.yml`, as Mimir's local ruler
//! storage lays them out).

use crate::{locate, ConfigError};
use model::time::PromDuration;
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

/// A byte size written as a number of bytes or with a unit (`256KB`, `1MiB`), as Loki's
/// `max_line_size`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => crate::pharos::parse_bytes(&s)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Limits of one tenant, each under the name its signal's peer gives it (Mimir for metrics,
/// Loki for logs, Tempo for traces; errors have their own). Unset = no limit (or the
/// default's value in `overrides`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantLimits {
    /// Metrics (Mimir): samples (and histogram samples) per second written by the tenant;
    /// past it writes answer 429.
    #[serde(default)]
    pub ingestion_rate: Option<f64>,
    /// Samples the tenant may write at once above the rate (default: one second's worth).
    #[serde(default)]
    pub ingestion_burst_size: Option<f64>,
    /// Series the tenant may create (counted since start plus those it has); past it new
    /// series answer 429.
    #[serde(default)]
    pub max_global_series_per_user: Option<u64>,
    /// Logs (Loki): MB (MiB) of log lines per second; past it pushes answer 429.
    #[serde(default)]
    pub ingestion_rate_mb: Option<f64>,
    /// Logs (Loki): MB the tenant may push at once.
    #[serde(default)]
    pub ingestion_burst_size_mb: Option<f64>,
    /// Logs (Loki): streams the tenant may have; a push creating more answers 429.
    #[serde(default)]
    pub max_global_streams_per_user: Option<u64>,
    /// Logs (Loki): bytes per log line (`0`: unlimited); longer lines are refused (400).
    #[serde(default)]
    pub max_line_size: Option<ByteSize>,
    /// Logs (Loki): cut lines longer than `max_line_size` instead of refusing them.
    #[serde(default)]
    pub max_line_size_truncate: Option<bool>,
    /// Traces (Tempo): bytes of spans per second (request bytes, decoded); past it 429.
    #[serde(default)]
    pub ingestion_rate_limit_bytes: Option<f64>,
    /// Traces (Tempo): bytes the tenant may send at once (default: the rate).
    #[serde(default)]
    pub ingestion_burst_size_bytes: Option<f64>,
    /// Traces (Tempo): live traces (a span within the last 10 s, Tempo's
    /// `trace_idle_period`); spans of a new trace past it answer 429.
    #[serde(default)]
    pub max_traces_per_user: Option<u64>,
    /// Errors: events (Sentry envelopes' events and transactions) per second; past it the
    /// envelope answers 429 with `Retry-After` and `X-Sentry-Rate-Limits`, as Sentry.
    #[serde(default)]
    pub errors_ingestion_rate: Option<f64>,
    /// Errors: events the tenant may send at once (default: one second's worth).
    #[serde(default)]
    pub errors_ingestion_burst_size: Option<f64>,
    /// Every signal (Loki's and Mimir's name): the tenant's data older than this is deleted
    /// (metric samples, log chunks, error events) or no longer answered (traces).
    #[serde(default)]
    pub retention_period: Option<PromDuration>,
    /// Mimir's name of `retention_period`; accepted as an alias.
    #[serde(default)]
    pub compactor_blocks_retention_period: Option<PromDuration>,
}

macro_rules! over_fields {
    ($self:ident, $defaults:ident, $($f:ident),*) => {
        TenantLimits { $($f: $self.$f.or($defaults.$f)),* }
    };
}

impl TenantLimits {
    /// `self` with unset fields taken from `defaults`.
    fn over(&self, defaults: &TenantLimits) -> TenantLimits {
        over_fields!(
            self,
            defaults,
            ingestion_rate,
            ingestion_burst_size,
            max_global_series_per_user,
            ingestion_rate_mb,
            ingestion_burst_size_mb,
            max_global_streams_per_user,
            max_line_size,
            max_line_size_truncate,
            ingestion_rate_limit_bytes,
            ingestion_burst_size_bytes,
            max_traces_per_user,
            errors_ingestion_rate,
            errors_ingestion_burst_size,
            retention_period,
            compactor_blocks_retention_period
        )
    }

    /// The retention of the tenant's data in milliseconds (`retention_period`, else its alias
    /// `compactor_blocks_retention_period`, folded into it on load); None: the signal's own
    /// retention.
    pub fn retention_ms(&self) -> Option<i64> {
        self.retention_period
            .or(self.compactor_blocks_retention_period)
            .map(|d| d.0)
            .filter(|ms| *ms > 0)
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
        // Keys are looked up from the `tenants:` line on (and an override's from its tenant's
        // line), as `name:` so that `ingestion_rate` does not find `ingestion_rate_mb`.
        let section = locate(text, "tenants:", 1).0.max(1);
        let line_of = |key: &str| {
            if key == "limits" {
                return locate(text, "limits:", section).0.max(section);
            }
            match key.strip_prefix("overrides.") {
                Some(t) => locate(text, t, locate(text, "overrides:", section).0.max(section))
                    .0
                    .max(section),
                None => section,
            }
        };
        let at_from = |from: usize, key: &str, msg: String| {
            let (l, c) = match locate(text, &format!("{key}:"), from) {
                (0, _) => locate(text, key, from),
                found => found,
            };
            ConfigError::at(file, l, c, format!("tenants: {msg}"))
        };
        let at = |key: &str, msg: String| at_from(section, key, msg);
        let check = |l: &TenantLimits, key: &str| -> Result<(), ConfigError> {
            let at = |name: &str, msg: String| at_from(line_of(key), name, msg);
            for (name, v) in [
                ("ingestion_rate", l.ingestion_rate),
                ("ingestion_burst_size", l.ingestion_burst_size),
                ("ingestion_rate_mb", l.ingestion_rate_mb),
                ("ingestion_burst_size_mb", l.ingestion_burst_size_mb),
                ("ingestion_rate_limit_bytes", l.ingestion_rate_limit_bytes),
                ("ingestion_burst_size_bytes", l.ingestion_burst_size_bytes),
                ("errors_ingestion_rate", l.errors_ingestion_rate),
                ("errors_ingestion_burst_size", l.errors_ingestion_burst_size),
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
            for (name, v) in [
                ("retention_period", l.retention_period),
                (
                    "compactor_blocks_retention_period",
                    l.compactor_blocks_retention_period,
                ),
            ] {
                if v.is_some_and(|d| d.0 < 0) {
                    return Err(at(name, format!("{key}.{name} must not be negative")));
                }
            }
            if let (Some(a), Some(b)) = (l.retention_period, l.compactor_blocks_retention_period) {
                if a != b {
                    return Err(at(
                        "compactor_blocks_retention_period",
                        format!("{key}: retention_period and compactor_blocks_retention_period (its alias) differ; set one"),
                    ));
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
        // The alias is folded into `retention_period`, so a tenant's alias wins over the
        // defaults' `retention_period`.
        let fold = |mut l: TenantLimits| {
            l.retention_period = l.retention_period.or(l.compactor_blocks_retention_period);
            l.compactor_blocks_retention_period = None;
            l
        };
        let limits = fold(self.limits);
        let overrides = self
            .overrides
            .into_iter()
            .map(|(t, l)| (t, fold(l)))
            .collect();
        Ok(TenantsSettings {
            rules_directory: self.rules_directory.map(|p| {
                if p.is_absolute() {
                    p
                } else {
                    base.join(p)
                }
            }),
            limits,
            overrides,
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

    #[test]
    fn every_signal_limits_and_retention() {
        let text = "security: {enabled: false}\ntenants:\n  limits:\n    ingestion_rate_mb: 2\n    max_line_size: 1KB\n    max_traces_per_user: 100\n    errors_ingestion_rate: 5\n    retention_period: 720h\n  overrides:\n    small:\n      ingestion_rate_mb: 0.5\n      max_global_streams_per_user: 3\n      max_line_size: 10\n      max_line_size_truncate: true\n      ingestion_rate_limit_bytes: 1000\n      ingestion_burst_size_bytes: 2000\n      errors_ingestion_burst_size: 1\n      compactor_blocks_retention_period: 1h\n";
        let c = crate::pharos::parse(Path::new("/x/pharos.yml"), text).unwrap();
        let t = &c.tenants;
        let small = t.limits_of("small");
        assert_eq!(small.ingestion_rate_mb, Some(0.5));
        assert_eq!(small.max_global_streams_per_user, Some(3));
        assert_eq!(small.max_line_size, Some(ByteSize(10)));
        assert_eq!(small.max_line_size_truncate, Some(true));
        assert_eq!(small.ingestion_rate_limit_bytes, Some(1000.0));
        assert_eq!(small.ingestion_burst_size_bytes, Some(2000.0));
        assert_eq!(small.max_traces_per_user, Some(100), "from the defaults");
        assert_eq!(small.errors_ingestion_rate, Some(5.0));
        assert_eq!(small.errors_ingestion_burst_size, Some(1.0));
        assert_eq!(
            small.retention_ms(),
            Some(3_600_000),
            "the alias over the default"
        );
        let other = t.limits_of("other");
        assert_eq!(other.max_line_size, Some(ByteSize(1000)));
        assert_eq!(other.retention_ms(), Some(720 * 3_600_000));
        assert_eq!(TenantLimits::default().retention_ms(), None);
    }

    #[test]
    fn bad_values_name_file_and_line() {
        for (text, line, what) in [
            (
                "security: {enabled: false}\ntenants:\n  limits:\n    ingestion_rate: 5\n    ingestion_rate_mb: -1\n",
                5,
                "ingestion_rate_mb must be a positive number",
            ),
            (
                "security: {enabled: false}\ntenants:\n  overrides:\n    a:\n      max_traces_per_user: 2\n    b:\n      errors_ingestion_rate: 0\n",
                7,
                "overrides.b.errors_ingestion_rate",
            ),
            (
                "security: {enabled: false}\ntenants:\n  limits:\n    max_line_size: lots\n",
                4,
                "invalid size",
            ),
            (
                "security: {enabled: false}\ntenants:\n  limits:\n    retention_period: 1h\n    compactor_blocks_retention_period: 2h\n",
                5,
                "differ",
            ),
            (
                "security: {enabled: false}\ntenants:\n  limits:\n    retention_period: soon\n",
                4,
                "",
            ),
        ] {
            let e = crate::pharos::parse(Path::new("/x/pharos.yml"), text).unwrap_err();
            assert_eq!(e.line, line, "{e:?}");
            assert_eq!(e.file, Path::new("/x/pharos.yml"));
            assert!(e.message.contains(what), "{e:?}");
        }
    }
}

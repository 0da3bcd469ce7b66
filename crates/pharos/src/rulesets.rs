//! The rule sets pharos ships, as ordinary rule files: the security rules (LogQL over incoming
//! logs, after the CrewAI monitoring guide's `SecurityMonitor`) and the cost rules (PromQL
//! recording rules and a budget alert from the pricing table, after its `CostMonitor`). They are
//! generated from `security:` / `cost:` of pharos.yml, written to `<data>/rulesets/` (readable
//! there, and in `/api/v1/rules`) and loaded by the rules engine with the user's rule files.
//! The files generated with the default settings are `crates/pharos/rulesets/*.yml`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use alerting::RuleSource;
use config::rulesets::{CostSettings, SecuritySettings};

/// `<data>/rulesets`, set once by `pharos serve` before the rules engine starts.
static DIR: OnceLock<PathBuf> = OnceLock::new();

/// Remembers where the generated rule files go (`<data_dir>/rulesets`).
pub fn init(data_dir: &Path) {
    let _ = DIR.set(data_dir.join("rulesets"));
}

/// Go-template/PromQL text of a duration in ms (`1h`, `90s`, `1500ms`).
fn dur(ms: i64) -> String {
    model::time::PromDuration(ms).to_string()
}

/// The security rule file (LogQL) for `s`.
pub fn security_rules(s: &SecuritySettings) -> String {
    let sel = &s.log_selector;
    let window = dur(s.suspicious_window_ms);
    let threshold = s.suspicious_threshold;
    let interval = dur(s.evaluation_interval_ms);
    format!(
        r#"# pharos' security rule set (LogQL, evaluated over the log store as Loki's ruler does).
# Generated from `security:` of pharos.yml; turn it off with `security: {{enabled: false}}`.
# It reads the JSON lines the CrewAI monitoring guide's SecurityMonitor logs with winston:
#   {{"level":"warn","message":"Authentication failure","event":"auth_failure","userId":"..","reason":"..","ip":".."}}
#   {{"level":"warn","message":"Suspicious activity detected","event":"suspicious_activity","userId":"..","activity":".."}}
#   {{"level":"error","message":"Security violation","event":"security_violation","type":"..","details":{{}}}}
# and the same documents as winston-elasticsearch sends them (the fields under "fields").
groups:
  - name: pharos-security
    interval: {interval}
    rules:
      # Failed logins per reason in the last minute (graph it, or sum_over_time it).
      - record: security:auth_failures:count1m
        expr: sum by (reason) (count_over_time({sel} |= "auth_failure" | json | event="auth_failure" or fields_event="auth_failure" | label_format reason="{{{{.reason}}}}{{{{.fields_reason}}}}" [1m]))
      # More than {threshold} suspicious_activity events of one user and kind within {window}.
      - alert: SuspiciousActivityThresholdExceeded
        expr: sum by (userId, activity) (count_over_time({sel} |= "suspicious_activity" | json | event="suspicious_activity" or fields_event="suspicious_activity" | label_format userId="{{{{.userId}}}}{{{{.fields_userId}}}}", activity="{{{{.activity}}}}{{{{.fields_activity}}}}" [{window}])) > {threshold}
        labels:
          severity: critical
          type: security
          subtype: threshold_exceeded
        annotations:
          summary: "Suspicious activity of user {{{{ $labels.userId }}}}: {{{{ $labels.activity }}}}"
          description: "{{{{ $value }}}} suspicious_activity events ({{{{ $labels.activity }}}}) of user {{{{ $labels.userId }}}} within {window} (threshold {threshold})."
      # Every security violation alerts at once (and keeps firing for 5 minutes).
      - alert: SecurityViolation
        expr: sum by (subtype) (count_over_time({sel} |= "security_violation" | json | event="security_violation" or fields_event="security_violation" | label_format subtype="{{{{.type}}}}{{{{.fields_type}}}}" [5m])) > 0
        labels:
          severity: critical
          type: security
        annotations:
          summary: "Security violation: {{{{ $labels.subtype }}}}"
          description: "{{{{ $value }}}} security_violation events of type {{{{ $labels.subtype }}}} in the last 5m."
"#
    )
}

/// The cost rule file (PromQL) for `c`. `cloud_costs{{resource}}` is the run rate in USD per
/// day, as the guide's `currentDaily`; the projection is 30 days of it.
pub fn cost_rules(c: &CostSettings) -> String {
    let p = &c.pricing;
    let interval = dur(c.evaluation_interval_ms);
    let (cpu, gb_month, egress, db_hour) = (
        p.vcpu_hour,
        p.storage_gb_month,
        p.egress_gb,
        p.db_instance_hour,
    );
    let budget = c.monthly_budget;
    let ratio = c.budget_alert_ratio;
    let pct = ratio * 100.0;
    let matchers_note = if c.label_matchers.is_empty() {
        String::new()
    } else {
        format!(" matching {} (cost.label_matchers)", c.label_matchers)
    };
    // `{a, b}` from the fixed matchers and `cost.label_matchers`.
    let sel = |fixed: &str| {
        let parts: Vec<&str> = [fixed, c.label_matchers.as_str()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!("{{{}}}", parts.join(", "))
        }
    };
    let (cpu_sel, fs_sel, net_sel, pg_sel) = (
        sel(""),
        sel(r#"fstype!~"tmpfs|ramfs""#),
        sel(r#"device!="lo""#),
        sel(""),
    );
    let database = match c.db_instances {
        Some(n) => format!("vector({n} * 24 * {db_hour})"),
        None => format!("count(pg_up{pg_sel} == 1) * 24 * {db_hour} or vector(0)"),
    };
    let db_comment = match c.db_instances {
        Some(n) => format!("{n} database instances (cost.db_instances)"),
        None => "database instances that are up (pg_up == 1)".to_string(),
    };
    format!(
        r#"# pharos' cost rule set (PromQL), generated from `cost:` of pharos.yml.
# cloud_costs{{resource}} is the current run rate in USD per day; pricing (USD):
#   vcpu_hour: {cpu}  storage_gb_month: {gb_month}  egress_gb: {egress}  db_instance_hour: {db_hour}
#   monthly_budget: {budget}  budget_alert_ratio: {ratio}
# Host series read: every series of the metric{matchers_note}.
groups:
  - name: pharos-cost
    interval: {interval}
    rules:
      # vCPUs (node_cpu_seconds_total's cpus) x 24 h x price per vCPU-hour.
      - record: cloud_costs
        expr: count(count by (instance, cpu) (node_cpu_seconds_total{cpu_sel})) * 24 * {cpu}
        labels:
          resource: compute
      # Filesystem size (each device once; tmpfs excluded) in GB x price per GB-month / 30;
      # without host series, pharos' own TSDB blocks.
      - record: cloud_costs
        expr: (sum(max by (instance, device) (node_filesystem_size_bytes{fs_sel})) or sum(prometheus_tsdb_storage_blocks_bytes)) / 1e9 * {gb_month} / 30
        labels:
          resource: storage
      # Bytes sent (all interfaces but lo) over the last hour as GB per day x price per GB.
      - record: cloud_costs
        expr: sum(rate(node_network_transmit_bytes_total{net_sel}[1h])) * 86400 / 1e9 * {egress}
        labels:
          resource: network
      # {db_comment} x 24 h x price per instance-hour.
      - record: cloud_costs
        expr: {database}
        labels:
          resource: database
      - record: cloud_costs_daily
        expr: sum(cloud_costs)
      - record: cloud_costs_projected_monthly
        expr: cloud_costs_daily * 30
      - record: cloud_costs_monthly_budget
        expr: vector({budget})
      - alert: CloudCostBudgetExceeded
        expr: cloud_costs_projected_monthly > {ratio} * {budget}
        labels:
          severity: warning
          type: cost
        annotations:
          summary: "Projected monthly cloud cost {{{{ $value | printf \"%.2f\" }}}} USD is over {pct}% of the {budget} USD budget"
          description: "Current daily cost {{{{ with query \"cloud_costs_daily\" }}}}{{{{ . | first | value | printf \"%.2f\" }}}}{{{{ end }}}} USD, projected monthly {{{{ $value | printf \"%.2f\" }}}} USD, {{{{ with query \"cloud_costs_projected_monthly / {budget}\" }}}}{{{{ . | first | value | humanizePercentage }}}}{{{{ end }}}} of the budget."
"#
    )
}

/// Writes `text` to `path` unless it already holds it (temp file + rename).
fn write_if_changed(path: &Path, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let tmp = path.with_extension("yml.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Where `key` first appears in the config file, as `file:line: ` (or just `file: `).
fn config_location(cfg: &config::LoadedConfig, key: &str) -> String {
    let Some(p) = &cfg.path else {
        return String::new();
    };
    let line = std::fs::read_to_string(p)
        .ok()
        .and_then(|t| t.lines().position(|l| l.contains(key)));
    match line {
        Some(i) => format!("{}:{}: ", p.display(), i + 1),
        None => format!("{}: ", p.display()),
    }
}

/// Generates the enabled rule sets of `cfg` into `<data>/rulesets/` (removing disabled ones)
/// and returns them as rule sources for the rules engine. Before [`init`], nothing.
pub fn sources(cfg: &config::LoadedConfig) -> Result<Vec<RuleSource>, String> {
    let Some(dir) = DIR.get() else {
        return Ok(Vec::new());
    };
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    let security = dir.join("security.yml");
    if cfg.security.enabled {
        let sel = &cfg.security.log_selector;
        if let Err(e) = logs::logql::parse(&format!("count_over_time({sel}[1m])")) {
            return Err(format!(
                "{}security.log_selector {sel:?}: {e}",
                config_location(cfg, "log_selector")
            ));
        }
        write_if_changed(&security, &security_rules(&cfg.security))?;
        out.push(RuleSource {
            path: security,
            logql_tenant: Some(cfg.security.tenant.clone()),
            tenant: None,
        });
    } else {
        let _ = std::fs::remove_file(&security);
    }
    let cost = dir.join("cost.yml");
    if cfg.cost.enabled {
        let m = &cfg.cost.label_matchers;
        if let Err(e) = alerting::rulefmt::check_promql(&format!("up{{{m}}}")) {
            return Err(format!(
                "{}cost.label_matchers {m:?}: {e}",
                config_location(cfg, "label_matchers")
            ));
        }
        write_if_changed(&cost, &cost_rules(&cfg.cost))?;
        out.push(RuleSource {
            path: cost,
            logql_tenant: None,
            tenant: None,
        });
    } else {
        let _ = std::fs::remove_file(&cost);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alerting::rulefmt::{check_promql, parse_rule_file_with};

    fn check_logql(e: &str) -> Result<(), String> {
        logs::logql::parse(e).map(|_| ()).map_err(|e| e.to_string())
    }

    /// The shipped files are what the defaults generate (docs and `tests/rules` use them).
    #[test]
    fn shipped_files_match_the_defaults() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rulesets");
        let sec = security_rules(&SecuritySettings::default());
        let cost = cost_rules(&CostSettings::default());
        if std::env::var_os("PHAROS_WRITE_RULESETS").is_some() {
            std::fs::write(dir.join("security.yml"), &sec).unwrap();
            std::fs::write(dir.join("cost.yml"), &cost).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("security.yml")).unwrap(),
            sec,
            "regenerate with PHAROS_WRITE_RULESETS=1 cargo test -p pharos rulesets"
        );
        assert_eq!(std::fs::read_to_string(dir.join("cost.yml")).unwrap(), cost);
    }

    #[test]
    fn generated_files_parse() {
        let f = Path::new("x.yml");
        let mut s = SecuritySettings {
            log_selector: r#"{app="api", env=~"prod|dev"}"#.into(),
            suspicious_threshold: 3,
            suspicious_window_ms: 90_000,
            ..Default::default()
        };
        for _ in 0..2 {
            let rf = parse_rule_file_with(
                f,
                &security_rules(&s),
                &alerting::template::check,
                &check_logql,
            )
            .unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(rf.groups[0].rules.len(), 3);
            s = SecuritySettings::default();
        }
        let text = security_rules(&SecuritySettings {
            suspicious_threshold: 3,
            suspicious_window_ms: 90_000,
            ..Default::default()
        });
        assert!(text.contains("[1m30s])) > 3\n"), "{text}");
        let mut c = CostSettings::default();
        for n in [None, Some(3)] {
            c.db_instances = n;
            let text = cost_rules(&c);
            let rf = parse_rule_file_with(f, &text, &alerting::template::check, &check_promql)
                .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            assert_eq!(rf.groups[0].rules.len(), 8);
        }
        assert!(cost_rules(&c).contains("vector(3 * 24 * 0.15)"));
    }
}

//! Prometheus rules engine: loads rule files, evaluates recording and alerting rules on a
//! schedule over any `model::Queryable` with the PromQL engine, writes results and
//! `ALERTS`/`ALERTS_FOR_STATE` through `model::MetricSink`, and hands alerts to a
//! `model::AlertSink` (the built-in Alertmanager and/or external ones over HTTP). Also runs
//! promtool-style rule unit tests. Routing and notification are the `alertmanager` crate's job.
//!
//! Log-derived rules work as Loki's ruler: rule files in the same format whose `expr` is LogQL
//! ([`RuleSource::logql_tenant`]) are evaluated through a `model::LogRuleQuerier` for their
//! tenant; recording results go to the same `MetricSink`, alerts to the same `AlertSink`.

#[cfg(test)]
mod fuzz_tests;
pub mod manager;
pub mod notifier;
pub mod rule;
pub mod rulefmt;
pub mod template;
pub mod unittest;

pub use manager::{ExprCheck, ManagerOptions, RuleManager, RuleSource};
pub use notifier::HttpAlertmanagerSink;
pub use rule::{AlertState, Group, Health, Rule};
pub use rulefmt::{
    load_rule_file, load_rule_file_with, parse_rule_file, parse_rule_file_with, RuleFile,
    RuleFileError,
};

/// Parse and validate rule files as `promtool check rules` does: returns the number of rules
/// per file, or every located error.
pub fn check_rule_files(
    paths: &[std::path::PathBuf],
) -> Vec<(std::path::PathBuf, Result<usize, Vec<RuleFileError>>)> {
    check_rule_files_with(paths, &rulefmt::check_promql)
}

/// [`check_rule_files`] for another expression language (`check_expr`, e.g. LogQL's parser).
pub fn check_rule_files_with(
    paths: &[std::path::PathBuf],
    check_expr: &dyn Fn(&str) -> Result<(), String>,
) -> Vec<(std::path::PathBuf, Result<usize, Vec<RuleFileError>>)> {
    paths
        .iter()
        .map(|p| {
            let r = load_rule_file_with(p, &template::check, check_expr)
                .map(|rf| rf.groups.iter().map(|g| g.rules.len()).sum());
            (p.clone(), r)
        })
        .collect()
}

//! `pharos test rules` (like `promtool test rules`), `pharos check rules` (like `promtool check
//! rules`) and the rule-file part of `pharos check config`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `pharos test rules FILE...`: promtool's unit-test YAML; exit 1 when any test fails.
pub fn test_rules(files: &[PathBuf]) -> ExitCode {
    let mut out = std::io::stdout();
    match alerting::unittest::run_files(files, &mut out) {
        Ok(s) if s.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("pharos: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Check rule files, printing like promtool; true when all are valid.
pub fn check_rule_files(files: &[PathBuf]) -> bool {
    check_rule_files_in(files, false)
}

/// [`check_rule_files`]; with `logql` the expressions are LogQL (Loki's ruler format).
fn check_rule_files_in(files: &[PathBuf], logql: bool) -> bool {
    let mut ok = true;
    let results = if logql {
        alerting::check_rule_files_with(files, &crate::serve_rules::check_logql)
    } else {
        alerting::check_rule_files(files)
    };
    for (path, res) in results {
        println!("Checking {}", path.display());
        match res {
            Ok(n) => println!("  SUCCESS: {n} rules found"),
            Err(errs) => {
                ok = false;
                println!("  FAILED:");
                for e in errs {
                    println!("{e}");
                }
            }
        }
        println!();
    }
    ok
}

/// `pharos check rules [--logql] FILE...`.
pub fn check_rules(files: &[PathBuf], logql: bool) -> ExitCode {
    if check_rule_files_in(files, logql) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The rule files of a loaded config, checked after the config itself (`promtool check config`
/// does the same). Patterns that match nothing are reported, as Prometheus does.
pub fn check_config_rules(cfg: &config::LoadedConfig, _config_path: &Path) -> bool {
    let files = cfg.prometheus.resolved_rule_files();
    let log_files: Vec<PathBuf> = crate::serve_rules::logql_rule_files(cfg)
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let mut ok = true;
    if !files.is_empty() {
        ok &= check_rule_files(&files);
    }
    if !log_files.is_empty() {
        ok &= check_rule_files_in(&log_files, true);
    }
    ok
}

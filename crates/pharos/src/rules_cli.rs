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
    let mut ok = true;
    for (path, res) in alerting::check_rule_files(files) {
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

/// `pharos check rules FILE...`.
pub fn check_rules(files: &[PathBuf]) -> ExitCode {
    if check_rule_files(files) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The rule files of a loaded config, checked after the config itself (`promtool check config`
/// does the same). Patterns that match nothing are reported, as Prometheus does.
pub fn check_config_rules(cfg: &config::LoadedConfig, _config_path: &Path) -> bool {
    let files = cfg.prometheus.resolved_rule_files();
    if files.is_empty() {
        return true;
    }
    check_rule_files(&files)
}

//! The pharos binary: command line (`serve`, `check config|rules|routes`, `test rules`, `promql-test`) and the wiring of
//! stores, engines, scrapers and HTTP servers into one process.

mod check_alertmanager;
mod demo;
mod doctor;
mod logging;
mod memtrim;
mod metrics_append;
mod pprof;
mod query_log;
mod release_health;
mod rules_cli;
mod rulesets;
mod serve;
mod serve_alertmanager;
mod serve_collectors;
mod serve_dashboards;
mod serve_db_collectors;
mod serve_errors;
mod serve_errors_hooks;
mod serve_errors_items;
mod serve_es;
mod serve_federate;
mod serve_incident;
mod serve_logs;
mod serve_probes;
mod serve_rules;
mod serve_security;
mod serve_status;
mod serve_tenant_retention;
mod serve_traces;
mod serve_web;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "pharos",
    version,
    about = "One binary for metrics, logs, traces, alerts and errors"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every pharos service in one process.
    Serve(serve::ServeArgs),
    /// `serve` with the CrewAI monitoring guide's config and a simulated app (metrics, logs,
    /// traces, errors, faults on a timer): every UI page has data within a minute.
    Demo(demo::DemoArgs),
    /// Validate configuration files.
    Check {
        #[command(subcommand)]
        what: CheckCommand,
    },
    /// Run unit tests (like `promtool test ...`).
    Test {
        #[command(subcommand)]
        what: TestCommand,
    },
    /// Run PromQL test scripts in Prometheus' test-script format.
    PromqlTest {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run LogQL test files (format: see `tests/logql/features.test`).
    LogqlTest {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check a config and a running pharos (ports, disk, clock, targets, alerts) and say what
    /// to fix.
    Doctor(doctor::DoctorArgs),
    /// Take a consistent online snapshot of every signal's data of a running pharos (admin
    /// API); restore with `pharos serve --data <data>/snapshots/<name>`.
    Snapshot(serve_web::SnapshotArgs),
}

#[derive(Subcommand)]
enum TestCommand {
    /// Run promtool-style rule unit tests (rule_files, input_series, alert_rule_test,
    /// promql_expr_test).
    Rules {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CheckCommand {
    /// Check Prometheus rule files (like `promtool check rules`).
    Rules {
        /// The files are LogQL rule files (Loki's ruler format: `expr` is LogQL).
        #[arg(long)]
        logql: bool,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check a pharos.yml or prometheus.yml.
    Config {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Show which receivers an alert with the given labels reaches (like `amtool config
    /// routes test`).
    Routes(check_alertmanager::RoutesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Check {
            what: CheckCommand::Config { files },
        } => check_config(&files),
        Command::Check {
            what: CheckCommand::Routes(args),
        } => check_alertmanager::check_routes(args),
        Command::Check {
            what: CheckCommand::Rules { files, logql },
        } => rules_cli::check_rules(&files, logql),
        Command::Test {
            what: TestCommand::Rules { files },
        } => rules_cli::test_rules(&files),
        Command::PromqlTest { files } => {
            let code = promqltest::run_cli(&files);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Command::LogqlTest { files } => logql_test(&files),
        Command::Doctor(args) => doctor::run(args),
        Command::Snapshot(args) => serve_web::snapshot_cli(args),
    }
}

/// `pharos logql-test`: runs LogQL test files and prints every failure.
fn logql_test(files: &[PathBuf]) -> ExitCode {
    let (mut passed, mut failed) = (0, 0);
    for f in files {
        match logs::logqltest::run_file(f) {
            Ok((p, fails)) => {
                passed += p;
                failed += fails.len();
                for x in fails {
                    println!("FAIL {x}");
                }
            }
            Err(e) => {
                println!("ERROR {e}");
                failed += 1;
            }
        }
    }
    println!("logql-test: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `pharos check config`: like `promtool check config`.
fn check_config(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for f in files {
        println!("Checking {}", f.display());
        if std::fs::read_to_string(f)
            .is_ok_and(|t| check_alertmanager::looks_like_alertmanager_yml(&t))
        {
            ok &= check_alertmanager::check_file(f);
            continue;
        }
        match config::load(f) {
            Ok(cfg) => {
                if let Some(am) = &cfg.alertmanager_config {
                    println!("Checking {}", am.display());
                    ok &= check_alertmanager::check_file(am);
                }
                for w in &cfg.warnings {
                    println!("  WARNING: {w}");
                }
                let rules = cfg.prometheus.resolved_rule_files();
                println!(
                    "  SUCCESS: {} is valid ({} scrape configs, {} rule files found)",
                    f.display(),
                    cfg.prometheus.scrape_configs.len(),
                    rules.len()
                );
                ok &= rules_cli::check_config_rules(&cfg, f);
            }
            Err(e) => {
                println!("  FAILED: {e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

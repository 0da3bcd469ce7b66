//! `pharos check routes` (like `amtool config routes test`) and the alertmanager.yml part of
//! `pharos check config` (like `amtool check-config`), with hints for unset `${VAR}`s.

use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct RoutesArgs {
    /// The alertmanager.yml to test.
    #[arg(long)]
    config: PathBuf,
    /// Print the routing tree: the whole tree without labels (like `amtool config routes
    /// show`), else the matching routes before the receivers (like `routes test --tree`).
    #[arg(long)]
    tree: bool,
    /// Also require the result to be exactly these receivers (comma-separated), like amtool's
    /// `--verify.receivers`.
    #[arg(long = "verify.receivers")]
    verify: Option<String>,
    /// Labels of the alert to route: `name=value` ...
    labels: Vec<String>,
}

/// True when `text` looks like an alertmanager.yml rather than a prometheus.yml / pharos.yml.
pub fn looks_like_alertmanager_yml(text: &str) -> bool {
    let top = |k: &str| text.lines().any(|l| l.starts_with(k));
    top("route:") && top("receivers:")
}

fn hint(e: &config::ConfigError) -> String {
    if e.message.contains("environment variable") {
        format!(
            "{e}\n  hint: export the variable before starting pharos (the CrewAI monitoring guide's alertmanager.yml needs SLACK_WEBHOOK_URL and PAGERDUTY_SERVICE_KEY)"
        )
    } else {
        e.to_string()
    }
}

/// Loads an alertmanager.yml and its templates; prints like `amtool check-config`.
pub fn check_file(path: &Path) -> bool {
    match alertmanager::load(path) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                println!("  WARNING: {w}");
            }
            match alertmanager::Loaded::new(cfg.clone()) {
                Ok(l) => {
                    for w in &l.template_warnings {
                        println!("  WARNING: {w}");
                    }
                }
                Err(e) => {
                    println!("  FAILED: {e}");
                    return false;
                }
            }
            println!(
                "  SUCCESS: {} is a valid alertmanager.yml ({} receivers, {} inhibit rules, {} templates)",
                path.display(),
                cfg.receivers.len(),
                cfg.inhibit_rules.len(),
                cfg.template_files.len()
            );
            true
        }
        Err(e) => {
            println!("  FAILED: {}", hint(&e));
            false
        }
    }
}

/// `pharos check routes`.
pub fn check_routes(args: RoutesArgs) -> ExitCode {
    let cfg = match alertmanager::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", hint(&e));
            return ExitCode::FAILURE;
        }
    };
    if args.tree && args.labels.is_empty() {
        print!("{}", alertmanager::route::tree(&cfg.route));
        return ExitCode::SUCCESS;
    }
    let labels = match alertmanager::route::parse_label_args(&args.labels) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("invalid label set: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.tree {
        println!(
            "{}",
            alertmanager::route::matching_tree(&cfg.route, &labels)
        );
    }
    let line = alertmanager::route::receivers_line(&cfg.route, &labels);
    println!("{line}");
    if let Some(want) = args.verify {
        if want != line {
            println!("WARNING: Expected receivers did not match resolved receivers.");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

//! Runs PromQL test scripts in Prometheus' `promqltest` format against the `promql` engine over
//! an in-memory store, and reports each failing case.

use std::path::PathBuf;

/// Runs the files and prints failures plus a closing `N passed, M failed` line; returns the
/// process exit code.
pub fn run_cli(paths: &[PathBuf]) -> i32 {
    let _ = paths;
    println!("0 passed, 0 failed");
    2
}

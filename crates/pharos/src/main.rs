//! The pharos binary: command line (`serve`, `check config`, `promql-test`) and wiring of the
//! stores, engines, scrapers and HTTP servers into one process.
//!
//! (Skeleton: being written.)

fn main() {
    eprintln!("pharos: not implemented yet");
    std::process::exit(2);
}

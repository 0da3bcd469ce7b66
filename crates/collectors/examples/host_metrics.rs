//! Prints the host collector's exposition once (`cargo run -p collectors --example host_metrics`).

use collectors::Collector;

fn main() {
    let c = collectors::host::for_rootfs(std::path::Path::new("/"), env!("CARGO_PKG_VERSION"));
    let mut out = String::new();
    collectors::write_text(&c.collect(), &mut out);
    print!("{out}");
}

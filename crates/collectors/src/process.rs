//! The collecting process' own `process_*` families, as every Go exporter's client library
//! reports them (CPU seconds, open and maximum file descriptors, resident and virtual memory,
//! the address-space limit, start time), read from `<proc>/self`. The host collector appends
//! them as node_exporter does, so the "exporter process" panels of node_exporter's dashboards
//! show the process that collects: pharos.

use crate::{MetricFamily, MetricType};
use std::path::Path;

/// Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

/// The process families of `<proc>/self`; a source that cannot be read leaves its family out.
pub fn families(proc_path: &Path) -> Vec<MetricFamily> {
    let me = proc_path.join("self");
    let read = |f: &str| std::fs::read_to_string(me.join(f)).ok();
    let mut out = Vec::new();
    let mut gauge = |name: &str, help: &str, v: f64| {
        out.push(MetricFamily::single(name, help, MetricType::Gauge, v));
    };
    let stat = read("stat").and_then(|s| parse_stat(&s));
    if let Some(st) = &stat {
        gauge(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            st.vsize,
        );
        if let Some(boot) = read_boot_time(proc_path) {
            gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                boot + st.start_ticks / USER_HZ,
            );
        }
    }
    if let Some(kb) = read("status").and_then(|s| vm_rss_kb(&s)) {
        gauge(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            kb * 1024.0,
        );
    }
    if let Ok(fds) = std::fs::read_dir(me.join("fd")) {
        gauge(
            "process_open_fds",
            "Number of open file descriptors.",
            fds.count() as f64,
        );
    }
    if let Some(limits) = read("limits") {
        if let Some(v) = limit(&limits, "Max open files") {
            gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
                v,
            );
        }
        if let Some(v) = limit(&limits, "Max address space") {
            gauge(
                "process_virtual_memory_max_bytes",
                "Maximum amount of virtual memory available in bytes.",
                v,
            );
        }
    }
    if let Some(st) = &stat {
        out.push(MetricFamily::single(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            MetricType::Counter,
            (st.utime + st.stime) / USER_HZ,
        ));
    }
    out
}

/// The fields of /proc/self/stat the families need (times in ticks, sizes in bytes/pages).
#[derive(Debug, PartialEq)]
struct Stat {
    utime: f64,
    stime: f64,
    start_ticks: f64,
    vsize: f64,
}

/// Parses /proc/<pid>/stat; the command name may hold spaces and parentheses, so fields are
/// counted from the last `)`.
fn parse_stat(s: &str) -> Option<Stat> {
    let (_, rest) = s.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0: utime is field 14, stime 15, starttime 22,
    // vsize 23.
    let num = |field: usize| f.get(field - 3)?.parse::<f64>().ok();
    Some(Stat {
        utime: num(14)?,
        stime: num(15)?,
        start_ticks: num(22)?,
        vsize: num(23)?,
    })
}

/// `VmRSS:` of /proc/<pid>/status, in kB.
fn vm_rss_kb(status: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line["VmRSS:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The soft limit of a /proc/<pid>/limits row; "unlimited" is the largest u64, as
/// client_golang reports it (1.8446744073709552e+19).
fn limit(limits: &str, row: &str) -> Option<f64> {
    let line = limits.lines().find(|l| l.starts_with(row))?;
    let soft = line[row.len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX as f64);
    }
    soft.parse::<f64>().ok()
}

fn read_boot_time(proc_path: &Path) -> Option<f64> {
    let s = std::fs::read_to_string(proc_path.join("stat")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<f64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_name_holding_spaces_and_parens() {
        let s = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 \
                 5000 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(
            parse_stat(s),
            Some(Stat {
                utime: 250.0,
                stime: 75.0,
                start_ticks: 5000.0,
                vsize: 104857600.0,
            })
        );
        assert_eq!(parse_stat("42 (x) S 1"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_vm_rss() {
        assert_eq!(vm_rss_kb("Name:\tx\nVmRSS:\t  2048 kB\n"), Some(2048.0));
        assert_eq!(vm_rss_kb("Name:\tx\n"), None);
    }

    #[test]
    fn reads_soft_limits() {
        let l = "Limit                     Soft Limit           Hard Limit           Units     \n\
                 Max open files            1024                 524288               files     \n\
                 Max address space         unlimited            unlimited            bytes     \n";
        assert_eq!(limit(l, "Max open files"), Some(1024.0));
        assert_eq!(limit(l, "Max address space"), Some(u64::MAX as f64));
        assert_eq!(limit(l, "Max nothing"), None);
    }

    #[test]
    fn this_process_has_every_family() {
        let f = families(Path::new("/proc"));
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        for n in [
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_max_fds",
            "process_resident_memory_bytes",
            "process_virtual_memory_bytes",
            "process_start_time_seconds",
        ] {
            assert!(names.contains(&n), "{n} in {names:?}");
        }
        let rss = f
            .iter()
            .find(|f| f.name == "process_resident_memory_bytes")
            .map(|f| f.samples[0].value)
            .unwrap_or(0.0);
        assert!(rss > 1e6, "resident memory {rss}");
    }
}

//! The host collector over fixture /proc and /sys trees (tests/fixtures/): node_exporter's
//! names, labels, types and unit conversions, checked off-machine; and garbage files never
//! make it panic.

use collectors::host::{HostCollector, HostOptions};
use collectors::{write_text, Collector, MetricFamily, MetricType};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn collector_at(root: &Path) -> HostCollector {
    HostCollector::new(HostOptions {
        proc_path: root.join("proc"),
        sys_path: root.join("sys"),
        rootfs: root.join("rootfs"),
        udev_data_path: root.join("udev"),
        version: "test".into(),
    })
}

fn family<'a>(fams: &'a [MetricFamily], name: &str) -> &'a MetricFamily {
    fams.iter()
        .find(|f| f.name == name && !f.samples.is_empty())
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// The value of `name` whose labels include every pair of `want`.
fn value(fams: &[MetricFamily], name: &str, want: &[(&str, &str)]) -> f64 {
    let f = family(fams, name);
    f.samples
        .iter()
        .find(|s| {
            want.iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .unwrap_or_else(|| panic!("no {name} with {want:?} in {:?}", f.samples))
        .value
}

#[test]
fn fixture_values_and_names() {
    let fams = collector_at(&fixtures()).collect();
    // CPU: USER_HZ ticks to seconds, per cpu and mode; guest separately.
    assert_eq!(
        value(
            &fams,
            "node_cpu_seconds_total",
            &[("cpu", "0"), ("mode", "user")]
        ),
        6.0
    );
    assert_eq!(
        value(
            &fams,
            "node_cpu_seconds_total",
            &[("cpu", "1"), ("mode", "steal")]
        ),
        0.2
    );
    assert_eq!(family(&fams, "node_cpu_seconds_total").samples.len(), 16);
    assert_eq!(
        family(&fams, "node_cpu_seconds_total").kind,
        MetricType::Counter
    );
    assert_eq!(
        value(
            &fams,
            "node_cpu_guest_seconds_total",
            &[("cpu", "1"), ("mode", "user")]
        ),
        0.05
    );
    // Memory: kB to bytes, parentheses to underscores, unit-less fields keep their name.
    assert_eq!(
        value(&fams, "node_memory_MemTotal_bytes", &[]),
        2_048_000.0 * 1024.0
    );
    assert_eq!(
        value(&fams, "node_memory_Active_anon_bytes", &[]),
        100_000.0 * 1024.0
    );
    assert_eq!(value(&fams, "node_memory_HugePages_Total", &[]), 0.0);
    assert_eq!(value(&fams, "node_load15", &[]), 0.1);
    // /proc/stat counters.
    assert_eq!(value(&fams, "node_context_switches_total", &[]), 987_654.0);
    assert_eq!(value(&fams, "node_intr_total", &[]), 123_456.0);
    assert_eq!(value(&fams, "node_forks_total", &[]), 4321.0);
    assert_eq!(value(&fams, "node_boot_time_seconds", &[]), 1.7e9);
    assert_eq!(value(&fams, "node_procs_running", &[]), 3.0);
    assert_eq!(value(&fams, "node_procs_blocked", &[]), 1.0);
    // Disks: loop0 and the vda1 partition excluded; sectors to bytes, ms to seconds; old
    // kernels' 11 columns give 11 families.
    let reads = family(&fams, "node_disk_reads_completed_total");
    let devs: Vec<&str> = reads
        .samples
        .iter()
        .map(|s| s.labels[0].1.as_str())
        .collect();
    assert_eq!(devs, ["vda", "sdb"]);
    assert_eq!(
        value(&fams, "node_disk_read_bytes_total", &[("device", "vda")]),
        2000.0 * 512.0
    );
    assert_eq!(
        value(
            &fams,
            "node_disk_io_time_seconds_total",
            &[("device", "vda")]
        ),
        9.0
    );
    assert_eq!(value(&fams, "node_disk_io_now", &[("device", "vda")]), 2.0);
    assert_eq!(
        value(
            &fams,
            "node_disk_flush_requests_total",
            &[("device", "vda")]
        ),
        15.0
    );
    assert_eq!(
        family(&fams, "node_disk_flush_requests_total")
            .samples
            .len(),
        1
    );
    assert_eq!(
        value(
            &fams,
            "node_disk_info",
            &[("device", "vda"), ("major", "253"), ("model", "QEMU_DISK")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &fams,
            "node_disk_filesystem_info",
            &[("device", "vda"), ("type", "ext4"), ("uuid", "abcd")]
        ),
        1.0
    );
    // Network: /proc/net/dev counters and /sys/class/net properties.
    assert_eq!(
        value(
            &fams,
            "node_network_receive_bytes_total",
            &[("device", "eth0")]
        ),
        123_456_789.0
    );
    assert_eq!(
        value(
            &fams,
            "node_network_transmit_colls_total",
            &[("device", "eth0")]
        ),
        10.0
    );
    assert_eq!(
        value(
            &fams,
            "node_network_receive_nohandler_total",
            &[("device", "eth0")]
        ),
        4.0
    );
    assert_eq!(value(&fams, "node_network_up", &[("device", "eth0")]), 1.0);
    assert_eq!(value(&fams, "node_network_up", &[("device", "lo")]), 0.0);
    assert_eq!(
        value(&fams, "node_network_mtu_bytes", &[("device", "lo")]),
        65536.0
    );
    assert_eq!(
        value(&fams, "node_network_flags", &[("device", "eth0")]),
        4099.0
    );
    assert_eq!(
        value(&fams, "node_network_speed_bytes", &[("device", "eth0")]),
        125_000_000.0
    );
    assert_eq!(
        value(
            &fams,
            "node_network_info",
            &[
                ("device", "eth0"),
                ("address", "52:54:00:12:34:56"),
                ("operstate", "up"),
                ("duplex", "full")
            ]
        ),
        1.0
    );
    // Filesystems: default exclusions (/proc, overlay under /var/lib/docker), duplicates once,
    // a failing statfs is a device error with no size.
    let sizes = family(&fams, "node_filesystem_size_bytes");
    assert_eq!(sizes.samples.len(), 1, "{:?}", sizes.samples);
    assert!(
        value(
            &fams,
            "node_filesystem_size_bytes",
            &[
                ("mountpoint", "/"),
                ("fstype", "ext4"),
                ("device", "/dev/vda")
            ]
        ) > 0.0
    );
    assert_eq!(
        value(
            &fams,
            "node_filesystem_device_error",
            &[("mountpoint", "/mnt/missing disk")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &fams,
            "node_filesystem_device_error",
            &[("mountpoint", "/")]
        ),
        0.0
    );
    assert_eq!(
        family(&fams, "node_filesystem_device_error").samples.len(),
        3
    );
    // Pressure: µs to seconds; cpu has no "full" in node_exporter 1.5.
    assert_eq!(
        value(&fams, "node_pressure_cpu_waiting_seconds_total", &[]),
        2.5
    );
    assert_eq!(
        value(&fams, "node_pressure_io_stalled_seconds_total", &[]),
        0.5
    );
    assert!(!fams
        .iter()
        .any(|f| f.name == "node_pressure_cpu_stalled_seconds_total"));
    // vmstat: only the default fields.
    assert_eq!(value(&fams, "node_vmstat_pgmajfault", &[]), 66.0);
    assert_eq!(value(&fams, "node_vmstat_oom_kill", &[]), 1.0);
    assert!(!fams.iter().any(|f| f.name == "node_vmstat_nr_free_pages"));
    assert_eq!(
        family(&fams, "node_vmstat_pgfault").kind,
        MetricType::Untyped
    );
    // netstat: default fields of netstat, snmp and snmp6.
    assert_eq!(value(&fams, "node_netstat_Tcp_CurrEstab", &[]), 5.0);
    assert_eq!(
        value(&fams, "node_netstat_TcpExt_ListenOverflows", &[]),
        3.0
    );
    assert_eq!(value(&fams, "node_netstat_Ip_Forwarding", &[]), 1.0);
    assert_eq!(value(&fams, "node_netstat_Ip6_InOctets", &[]), 500.0);
    assert_eq!(value(&fams, "node_netstat_Udp6_InDatagrams", &[]), 7.0);
    assert!(!fams.iter().any(|f| f.name == "node_netstat_Ip_DefaultTTL"));
    // sockstat, file descriptors, entropy.
    assert_eq!(value(&fams, "node_sockstat_sockets_used", &[]), 229.0);
    assert_eq!(value(&fams, "node_sockstat_TCP_tw", &[]), 1.0);
    assert_eq!(value(&fams, "node_sockstat_TCP6_inuse", &[]), 2.0);
    assert!(value(&fams, "node_sockstat_TCP_mem_bytes", &[]) >= 2.0 * 4096.0);
    assert_eq!(value(&fams, "node_filefd_allocated", &[]), 1024.0);
    assert_eq!(
        value(&fams, "node_filefd_maximum", &[]),
        9_223_372_036_854_775_807.0
    );
    assert_eq!(value(&fams, "node_entropy_available_bits", &[]), 256.0);
    // Identity: os-release, uname, time, build info.
    assert_eq!(
        value(
            &fams,
            "node_os_info",
            &[
                ("id", "debian"),
                ("version_codename", "bookworm"),
                ("pretty_name", "Debian GNU/Linux 12 (bookworm)")
            ]
        ),
        1.0
    );
    assert_eq!(value(&fams, "node_os_version", &[("id", "debian")]), 12.0);
    assert_eq!(
        value(&fams, "node_uname_info", &[("sysname", "Linux")]),
        1.0
    );
    assert!(value(&fams, "node_time_seconds", &[]) > 1.7e9);
    assert_eq!(
        value(
            &fams,
            "node_time_clocksource_current_info",
            &[("device", "0"), ("clocksource", "tsc")]
        ),
        1.0
    );
    assert_eq!(
        family(&fams, "node_time_clocksource_available_info")
            .samples
            .len(),
        3
    );
    assert_eq!(
        value(&fams, "node_exporter_build_info", &[("version", "test")]),
        1.0
    );
    // arp, schedstat, softnet, udp_queues.
    assert_eq!(value(&fams, "node_arp_entries", &[("device", "eth0")]), 2.0);
    assert_eq!(
        value(
            &fams,
            "node_schedstat_running_seconds_total",
            &[("cpu", "0")]
        ),
        2.0
    );
    assert_eq!(
        value(&fams, "node_schedstat_timeslices_total", &[("cpu", "1")]),
        7.0
    );
    assert_eq!(
        value(&fams, "node_softnet_processed_total", &[("cpu", "1")]),
        3949.0
    );
    assert_eq!(
        value(&fams, "node_softnet_times_squeezed_total", &[("cpu", "0")]),
        1.0
    );
    assert_eq!(
        value(&fams, "node_udp_queues", &[("queue", "rx"), ("ip", "v4")]),
        512.0
    );
    assert!(!family(&fams, "node_udp_queues")
        .samples
        .iter()
        .any(|s| s.labels.contains(&("ip".into(), "v6".into()))));
    // processes, tcpstat, hung tasks.
    assert_eq!(value(&fams, "node_processes_pids", &[]), 2.0);
    assert_eq!(value(&fams, "node_processes_threads", &[]), 8.0);
    assert_eq!(value(&fams, "node_processes_state", &[("state", "R")]), 1.0);
    assert_eq!(
        value(&fams, "node_processes_max_processes", &[]),
        4_194_304.0
    );
    assert_eq!(
        value(&fams, "node_tcp_connection_states", &[("state", "listen")]),
        1.0
    );
    assert_eq!(
        value(
            &fams,
            "node_tcp_connection_states",
            &[("state", "time_wait")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &fams,
            "node_tcp_connection_states",
            &[("state", "close_wait")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &fams,
            "node_tcp_connection_states",
            &[("state", "tx_queued_bytes")]
        ),
        16.0
    );
    assert_eq!(
        value(
            &fams,
            "node_tcp_connection_states",
            &[("state", "rx_queued_bytes")]
        ),
        32.0
    );
    assert_eq!(value(&fams, "node_kernel_hung_tasks_total", &[]), 3.0);
    assert_eq!(
        value(
            &fams,
            "node_interrupts_total",
            &[
                ("cpu", "1"),
                ("type", "LOC"),
                ("info", "Local timer interrupts"),
                ("devices", "")
            ]
        ),
        6000.0
    );
    assert_eq!(family(&fams, "node_interrupts_total").samples.len(), 4);
    // Every part succeeded except conntrack (no fixture).
    let ok = family(&fams, "node_scrape_collector_success");
    for s in &ok.samples {
        let expect = if s.labels[0].1 == "conntrack" {
            0.0
        } else {
            1.0
        };
        assert_eq!(s.value, expect, "{:?}", s.labels);
    }
    // The exposition has one HELP/TYPE per family.
    let mut text = String::new();
    write_text(&fams, &mut text);
    assert_eq!(
        text.matches("# TYPE node_cpu_seconds_total counter\n")
            .count(),
        1
    );
    assert!(
        text.contains("node_network_up{device=\"eth0\"} 1\n"),
        "{text}"
    );
}

#[test]
fn missing_and_garbage_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing at all: every part fails, reported as success 0.
    let fams = collector_at(dir.path()).collect();
    let ok = family(&fams, "node_scrape_collector_success");
    assert!(ok.samples.iter().filter(|s| s.value == 0.0).count() >= 10);
    // Garbage in every file the fixture tree has.
    let src = fixtures();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for entry in walk(&src) {
        let rel = entry.strip_prefix(&src).unwrap();
        let dst = dir.path().join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        let mut bytes = std::fs::read(&entry).unwrap();
        for b in bytes.iter_mut() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed % 3 == 1 {
                *b = (seed >> 24) as u8;
            }
        }
        std::fs::write(&dst, bytes).unwrap();
    }
    let fams = collector_at(dir.path()).collect();
    let mut text = String::new();
    write_text(&fams, &mut text);
    assert!(text.contains("node_scrape_collector_success"));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

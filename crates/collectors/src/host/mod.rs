//! The host collector: node_exporter's default Linux metrics (names, labels, types, units and
//! HELP texts of node_exporter 1.5) read directly from /proc and /sys. Each part mirrors one
//! node_exporter collector and reports `node_scrape_collector_success{collector}` like it.

pub mod more;
pub mod parse;
mod sysfs;

use crate::exposition::{MetricFamily, MetricType};
use crate::Collector;
use parse::*;
use regex::Regex;
use std::path::{Path, PathBuf};
use std::time::Instant;

use MetricType::{Counter, Gauge, Untyped};

/// node_exporter's default `--collector.filesystem.mount-points-exclude`.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter's default `--collector.filesystem.fs-types-exclude`.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// node_exporter's default `--collector.diskstats.device-exclude`.
pub const DEFAULT_DISK_DEVICE_EXCLUDE: &str = "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\\d+n\\d+p)\\d+$";
/// node_exporter's default `--collector.vmstat.fields`.
pub const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";
/// node_exporter's default `--collector.netstat.fields` (1.9's, a superset of 1.5's), plus
/// `Tcp_MaxConn` that the "Node Exporter Full" dashboard graphs.
pub const DEFAULT_NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab|MaxConn)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// Where the host's files are (node_exporter's `--path.procfs`, `--path.sysfs`,
/// `--path.rootfs`, `--collector.diskstats` udev path).
#[derive(Clone, Debug)]
pub struct HostOptions {
    pub proc_path: PathBuf,
    pub sys_path: PathBuf,
    pub rootfs: PathBuf,
    pub udev_data_path: PathBuf,
    /// Reported in `node_exporter_build_info{version}`.
    pub version: String,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            proc_path: "/proc".into(),
            sys_path: "/sys".into(),
            rootfs: "/".into(),
            udev_data_path: "/run/udev/data".into(),
            version: String::new(),
        }
    }
}

/// The host collector.
pub struct HostCollector {
    opts: HostOptions,
    mount_exclude: Regex,
    fs_type_exclude: Regex,
    disk_exclude: Regex,
    vmstat_fields: Regex,
    netstat_fields: Regex,
}

type Part = fn(&HostCollector, &mut Vec<MetricFamily>) -> Result<(), String>;

/// node_exporter's collector names, in its order, with the function doing the same job.
const PARTS: &[(&str, Part)] = &[
    ("arp", HostCollector::arp),
    ("cpu", HostCollector::cpu),
    ("conntrack", HostCollector::conntrack),
    ("diskstats", HostCollector::diskstats),
    ("entropy", HostCollector::entropy),
    ("kernel_hung", HostCollector::kernel_hung),
    ("filefd", HostCollector::filefd),
    ("filesystem", HostCollector::filesystem),
    ("interrupts", HostCollector::interrupts),
    ("loadavg", HostCollector::loadavg),
    ("meminfo", HostCollector::meminfo),
    ("netclass", HostCollector::netclass),
    ("netdev", HostCollector::netdev),
    ("netstat", HostCollector::netstat),
    ("os", HostCollector::os),
    ("pressure", HostCollector::pressure),
    ("processes", HostCollector::processes),
    ("schedstat", HostCollector::schedstat),
    ("sockstat", HostCollector::sockstat),
    ("softnet", HostCollector::softnet),
    ("stat", HostCollector::stat),
    ("tcpstat", HostCollector::tcpstat),
    ("time", HostCollector::time),
    ("timex", HostCollector::timex),
    ("udp_queues", HostCollector::udp_queues),
    ("uname", HostCollector::uname),
    ("vmstat", HostCollector::vmstat),
];

fn re(s: &str) -> Regex {
    // The patterns are the constants above, tested to compile.
    Regex::new(s).unwrap_or_else(|_| Regex::new("^$").expect("empty regex compiles"))
}

impl HostCollector {
    pub fn new(opts: HostOptions) -> Self {
        HostCollector {
            opts,
            mount_exclude: re(DEFAULT_MOUNT_POINTS_EXCLUDE),
            fs_type_exclude: re(DEFAULT_FS_TYPES_EXCLUDE),
            disk_exclude: re(DEFAULT_DISK_DEVICE_EXCLUDE),
            vmstat_fields: re(DEFAULT_VMSTAT_FIELDS),
            netstat_fields: re(DEFAULT_NETSTAT_FIELDS),
        }
    }

    pub fn options(&self) -> &HostOptions {
        &self.opts
    }

    fn proc(&self, rel: &str) -> Result<String, String> {
        let p = self.opts.proc_path.join(rel);
        std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))
    }

    fn cpu(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let st = parse_stat(&self.proc("stat")?);
        let mut secs = MetricFamily::new(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            Counter,
        );
        let mut guest = MetricFamily::new(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            Counter,
        );
        for c in &st.cpus {
            for (mode, v) in [
                ("idle", c.idle),
                ("iowait", c.iowait),
                ("irq", c.irq),
                ("nice", c.nice),
                ("softirq", c.softirq),
                ("steal", c.steal),
                ("system", c.system),
                ("user", c.user),
            ] {
                secs.push(&[("cpu", &c.cpu), ("mode", mode)], v);
            }
            guest.push(&[("cpu", &c.cpu), ("mode", "nice")], c.guest_nice);
            guest.push(&[("cpu", &c.cpu), ("mode", "user")], c.guest);
        }
        if st.cpus.is_empty() {
            return Err("no cpu lines in /proc/stat".into());
        }
        out.push(secs);
        out.push(guest);
        Ok(())
    }

    fn stat(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let st = parse_stat(&self.proc("stat")?);
        for (name, help, kind, v) in [
            (
                "node_intr_total",
                "Total number of interrupts serviced.",
                Counter,
                st.intr,
            ),
            (
                "node_context_switches_total",
                "Total number of context switches.",
                Counter,
                st.ctxt,
            ),
            (
                "node_forks_total",
                "Total number of forks.",
                Counter,
                st.processes,
            ),
            (
                "node_boot_time_seconds",
                "Node boot time, in unixtime.",
                Gauge,
                st.btime,
            ),
            (
                "node_procs_running",
                "Number of processes in runnable state.",
                Gauge,
                st.procs_running,
            ),
            (
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                Gauge,
                st.procs_blocked,
            ),
        ] {
            if let Some(v) = v {
                out.push(MetricFamily::single(name, help, kind, v));
            }
        }
        Ok(())
    }

    fn meminfo(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let m = parse_meminfo(&self.proc("meminfo")?);
        if m.is_empty() {
            return Err("no fields in /proc/meminfo".into());
        }
        for (k, v) in m {
            let kind = if k.ends_with("_total") {
                Counter
            } else {
                Gauge
            };
            out.push(MetricFamily::single(
                &format!("node_memory_{k}"),
                &format!("Memory information field {k}."),
                kind,
                v,
            ));
        }
        Ok(())
    }

    fn loadavg(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let l = parse_loadavg(&self.proc("loadavg")?).ok_or("malformed /proc/loadavg")?;
        out.push(MetricFamily::single(
            "node_load1",
            "1m load average.",
            Gauge,
            l[0],
        ));
        out.push(MetricFamily::single(
            "node_load5",
            "5m load average.",
            Gauge,
            l[1],
        ));
        out.push(MetricFamily::single(
            "node_load15",
            "15m load average.",
            Gauge,
            l[2],
        ));
        Ok(())
    }

    fn diskstats(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        const MS: f64 = 1.0 / 1000.0;
        const SECTOR: f64 = 512.0;
        // (name, help, type, multiplier) per /proc/diskstats column.
        const COLS: [(&str, &str, MetricType, f64); 17] = [
            (
                "reads_completed_total",
                "The total number of reads completed successfully.",
                Counter,
                1.0,
            ),
            (
                "reads_merged_total",
                "The total number of reads merged.",
                Counter,
                1.0,
            ),
            (
                "read_bytes_total",
                "The total number of bytes read successfully.",
                Counter,
                SECTOR,
            ),
            (
                "read_time_seconds_total",
                "The total number of seconds spent by all reads.",
                Counter,
                MS,
            ),
            (
                "writes_completed_total",
                "The total number of writes completed successfully.",
                Counter,
                1.0,
            ),
            (
                "writes_merged_total",
                "The number of writes merged.",
                Counter,
                1.0,
            ),
            (
                "written_bytes_total",
                "The total number of bytes written successfully.",
                Counter,
                SECTOR,
            ),
            (
                "write_time_seconds_total",
                "This is the total number of seconds spent by all writes.",
                Counter,
                MS,
            ),
            (
                "io_now",
                "The number of I/Os currently in progress.",
                Gauge,
                1.0,
            ),
            (
                "io_time_seconds_total",
                "Total seconds spent doing I/Os.",
                Counter,
                MS,
            ),
            (
                "io_time_weighted_seconds_total",
                "The weighted # of seconds spent doing I/Os.",
                Counter,
                MS,
            ),
            (
                "discards_completed_total",
                "The total number of discards completed successfully.",
                Counter,
                1.0,
            ),
            (
                "discards_merged_total",
                "The total number of discards merged.",
                Counter,
                1.0,
            ),
            (
                "discarded_sectors_total",
                "The total number of sectors discarded successfully.",
                Counter,
                1.0,
            ),
            (
                "discard_time_seconds_total",
                "This is the total number of seconds spent by all discards.",
                Counter,
                MS,
            ),
            (
                "flush_requests_total",
                "The total number of flush requests completed successfully",
                Counter,
                1.0,
            ),
            (
                "flush_requests_time_seconds_total",
                "This is the total number of seconds spent by all flush requests.",
                Counter,
                MS,
            ),
        ];
        let disks = parse_diskstats(&self.proc("diskstats")?);
        let mut fams: Vec<MetricFamily> = COLS
            .iter()
            .map(|(n, h, t, _)| MetricFamily::new(format!("node_disk_{n}"), *h, *t))
            .collect();
        let mut info = MetricFamily::new(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            Gauge,
        );
        let mut fsinfo = MetricFamily::new(
            "node_disk_filesystem_info",
            "Info about disk filesystem.",
            Gauge,
        );
        for d in disks
            .iter()
            .filter(|d| !self.disk_exclude.is_match(&d.device))
        {
            let udev = sysfs::udev_properties(&self.opts.udev_data_path, d.major, d.minor);
            let u = |k: &str| udev.get(k).cloned().unwrap_or_default();
            let (maj, min) = (d.major.to_string(), d.minor.to_string());
            info.push(
                &[
                    ("device", &d.device),
                    ("major", &maj),
                    ("minor", &min),
                    ("path", &u("ID_PATH")),
                    ("wwn", &u("ID_WWN")),
                    ("model", &u("ID_MODEL")),
                    ("serial", &u("ID_SERIAL_SHORT")),
                    ("revision", &u("ID_REVISION")),
                ],
                1.0,
            );
            if let Some(t) = udev.get("ID_FS_TYPE").filter(|t| !t.is_empty()) {
                fsinfo.push(
                    &[
                        ("device", &d.device),
                        ("type", t),
                        ("usage", &u("ID_FS_USAGE")),
                        ("uuid", &u("ID_FS_UUID")),
                        ("version", &u("ID_FS_VERSION")),
                    ],
                    1.0,
                );
            }
            for (i, v) in d.fields.iter().take(COLS.len()).enumerate() {
                fams[i].push(&[("device", &d.device)], v * COLS[i].3);
            }
        }
        out.push(info);
        out.extend(fams);
        out.push(fsinfo);
        Ok(())
    }

    fn netdev(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let devs = parse_net_dev(&self.proc("net/dev")?);
        let mut fams: Vec<MetricFamily> = NET_DEV_FIELDS
            .iter()
            .map(|f| {
                MetricFamily::new(
                    format!("node_network_{f}_total"),
                    format!("Network device statistic {f}."),
                    Counter,
                )
            })
            .collect();
        let mut nohandler = MetricFamily::new(
            "node_network_receive_nohandler_total",
            "Network device statistic receive_nohandler.",
            Counter,
        );
        for (dev, vals) in &devs {
            for (f, v) in fams.iter_mut().zip(vals) {
                f.push(&[("device", dev)], *v);
            }
            let p = self
                .opts
                .sys_path
                .join("class/net")
                .join(dev)
                .join("statistics/rx_nohandler");
            if let Some(v) = sysfs::read_number(&p) {
                nohandler.push(&[("device", dev)], v);
            }
        }
        out.extend(fams);
        out.push(nohandler);
        Ok(())
    }

    fn netclass(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        sysfs::netclass(&self.opts.sys_path.join("class/net"), out)
    }

    fn filesystem(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let text = self.proc("1/mounts").or_else(|_| self.proc("mounts"))?;
        let mounts: Vec<Mount> = parse_mounts(&text)
            .into_iter()
            .filter(|m| {
                !self.mount_exclude.is_match(&m.mountpoint)
                    && !self.fs_type_exclude.is_match(&m.fstype)
            })
            .collect();
        sysfs::filesystems(&self.opts.rootfs, &mounts, out);
        Ok(())
    }

    fn pressure(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        const RES: [(&str, &str, &str); 3] = [
            (
                "cpu",
                "Total time in seconds that processes have waited for CPU time",
                "",
            ),
            (
                "io",
                "Total time in seconds that processes have waited due to IO congestion",
                "Total time in seconds no process could make progress due to IO congestion",
            ),
            (
                "memory",
                "Total time in seconds that processes have waited for memory",
                "Total time in seconds no process could make progress due to memory congestion",
            ),
        ];
        if let Ok(t) = self.proc("pressure/irq") {
            if let (_, Some(v)) = parse_pressure(&t) {
                out.push(MetricFamily::single(
                    "node_pressure_irq_stalled_seconds_total",
                    "Total time in seconds no process could make progress due to IRQ congestion",
                    Counter,
                    v / 1e6,
                ));
            }
        }
        for (res, some_help, full_help) in RES {
            let (some, full) = parse_pressure(&self.proc(&format!("pressure/{res}"))?);
            if let Some(v) = some {
                out.push(MetricFamily::single(
                    &format!("node_pressure_{res}_waiting_seconds_total"),
                    some_help,
                    Counter,
                    v / 1e6,
                ));
            }
            if let (Some(v), false) = (full, full_help.is_empty()) {
                out.push(MetricFamily::single(
                    &format!("node_pressure_{res}_stalled_seconds_total"),
                    full_help,
                    Counter,
                    v / 1e6,
                ));
            }
        }
        Ok(())
    }

    fn vmstat(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        for (k, v) in parse_key_values(&self.proc("vmstat")?) {
            if self.vmstat_fields.is_match(&k) && valid_name(&k) {
                out.push(MetricFamily::single(
                    &format!("node_vmstat_{k}"),
                    &format!("/proc/vmstat information field {k}."),
                    Untyped,
                    v,
                ));
            }
        }
        Ok(())
    }

    fn netstat(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let mut all = parse_netstat(&self.proc("net/netstat")?);
        all.extend(parse_netstat(&self.proc("net/snmp")?));
        if let Ok(t) = self.proc("net/snmp6") {
            all.extend(parse_snmp6(&t));
        }
        let mut seen = std::collections::HashSet::new();
        for (k, v) in all {
            if self.netstat_fields.is_match(&k) && valid_name(&k) && seen.insert(k.clone()) {
                out.push(MetricFamily::single(
                    &format!("node_netstat_{k}"),
                    &format!("Statistic {}.", k.replacen('_', "", 1)),
                    Untyped,
                    v,
                ));
            }
        }
        Ok(())
    }

    fn sockstat(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let page = sysfs::page_size();
        let mut all = parse_sockstat(&self.proc("net/sockstat")?, page);
        if let Ok(t) = self.proc("net/sockstat6") {
            all.extend(
                parse_sockstat(&t, page)
                    .into_iter()
                    .filter(|(k, _)| k != "sockets_used"),
            );
        }
        for (k, v) in all {
            let help = match k.split_once('_') {
                _ if k == "sockets_used" => "Number of IPv4 sockets in use.".to_string(),
                Some((proto, state)) => format!("Number of {proto} sockets in state {state}."),
                None => continue,
            };
            out.push(MetricFamily::single(
                &format!("node_sockstat_{k}"),
                &help,
                Gauge,
                v,
            ));
        }
        Ok(())
    }

    fn filefd(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let (a, m) = parse_file_nr(&self.proc("sys/fs/file-nr")?).ok_or("malformed file-nr")?;
        out.push(MetricFamily::single(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            Gauge,
            a,
        ));
        out.push(MetricFamily::single(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            Gauge,
            m,
        ));
        Ok(())
    }

    fn entropy(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let read = |f: &str| -> Result<f64, String> {
            self.proc(f)?
                .trim()
                .parse::<f64>()
                .map_err(|e| format!("{f}: {e}"))
        };
        out.push(MetricFamily::single(
            "node_entropy_available_bits",
            "Bits of available entropy.",
            Gauge,
            read("sys/kernel/random/entropy_avail")?,
        ));
        out.push(MetricFamily::single(
            "node_entropy_pool_size_bits",
            "Bits of entropy pool.",
            Gauge,
            read("sys/kernel/random/poolsize")?,
        ));
        Ok(())
    }

    fn conntrack(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let read = |f: &str| -> Result<f64, String> {
            self.proc(f)?
                .trim()
                .parse::<f64>()
                .map_err(|e| format!("{f}: {e}"))
        };
        let count = read("sys/net/netfilter/nf_conntrack_count")?;
        let max = read("sys/net/netfilter/nf_conntrack_max")?;
        out.push(MetricFamily::single(
            "node_nf_conntrack_entries",
            "Number of currently allocated flow entries for connection tracking.",
            Gauge,
            count,
        ));
        out.push(MetricFamily::single(
            "node_nf_conntrack_entries_limit",
            "Maximum size of connection tracking table.",
            Gauge,
            max,
        ));
        Ok(())
    }

    fn os(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let root = &self.opts.rootfs;
        let text = std::fs::read_to_string(root.join("etc/os-release"))
            .or_else(|_| std::fs::read_to_string(root.join("usr/lib/os-release")))
            .map_err(|e| format!("os-release: {e}"))?;
        sysfs::os_release(&parse_os_release(&text), out);
        Ok(())
    }

    fn time(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        sysfs::time(&self.opts.sys_path, out);
        Ok(())
    }

    fn arp(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        more::arp(&self.proc("net/arp")?, out);
        Ok(())
    }

    fn schedstat(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        more::schedstat(&self.proc("schedstat")?, out);
        Ok(())
    }

    fn softnet(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        more::softnet(&self.proc("net/softnet_stat")?, out);
        Ok(())
    }

    fn udp_queues(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let v4 = self.proc("net/udp")?;
        let v6 = self.proc("net/udp6").ok();
        more::udp_queues(Some(&v4), v6.as_deref(), out);
        Ok(())
    }

    fn interrupts(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        more::interrupts(&self.proc("interrupts")?, out);
        Ok(())
    }

    fn processes(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        more::processes(&self.opts.proc_path, out)
    }

    fn tcpstat(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let v4 = self.proc("net/tcp")?;
        let v6 = self.proc("net/tcp6").ok();
        more::tcpstat(&v4, v6.as_deref(), out);
        Ok(())
    }

    fn kernel_hung(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        let v = self.proc("sys/kernel/hung_task_detect_count")?;
        let v = v
            .trim()
            .parse::<f64>()
            .map_err(|e| format!("hung_task_detect_count: {e}"))?;
        out.push(MetricFamily::single(
            "node_kernel_hung_tasks_total",
            "Total number of tasks that have been detected as hung since the system booted.",
            Counter,
            v,
        ));
        Ok(())
    }

    fn timex(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        more::timex(out)
    }

    fn uname(&self, out: &mut Vec<MetricFamily>) -> Result<(), String> {
        sysfs::uname(out)
    }
}

/// Go's name of this architecture (`GOARCH`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// A metric-name-safe suffix.
fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Collector for HostCollector {
    fn collect(&self) -> Vec<MetricFamily> {
        let mut out = Vec::with_capacity(256);
        let mut dur = MetricFamily::new(
            "node_scrape_collector_duration_seconds",
            "node_exporter: Duration of a collector scrape.",
            Gauge,
        );
        let mut ok = MetricFamily::new(
            "node_scrape_collector_success",
            "node_exporter: Whether a collector succeeded.",
            Gauge,
        );
        for (name, part) in PARTS {
            let t = Instant::now();
            let res = part(self, &mut out);
            dur.push(&[("collector", name)], t.elapsed().as_secs_f64());
            ok.push(&[("collector", name)], if res.is_ok() { 1.0 } else { 0.0 });
        }
        let mut build = MetricFamily::new(
            "node_exporter_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, goversion from which node_exporter was built, and the goos and goarch for the build.",
            Gauge,
        );
        build.push(
            &[
                ("branch", ""),
                ("goarch", go_arch()),
                ("goos", std::env::consts::OS),
                ("goversion", "none (pharos built-in host collector)"),
                ("revision", ""),
                ("version", &self.opts.version),
            ],
            1.0,
        );
        out.push(build);
        out.push(dur);
        out.push(ok);
        // node_exporter reports its own process; the collecting process here is pharos.
        out.extend(crate::process::families(Path::new("/proc")));
        out
    }
}

/// The HostCollector for a root filesystem path (`/` normally; `/host` in a container that
/// mounts the host there), reading `<rootfs>/proc` and `<rootfs>/sys`.
pub fn for_rootfs(rootfs: &Path, version: &str) -> HostCollector {
    HostCollector::new(HostOptions {
        proc_path: rootfs.join("proc"),
        sys_path: rootfs.join("sys"),
        rootfs: rootfs.to_path_buf(),
        udev_data_path: rootfs.join("run/udev/data"),
        version: version.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_patterns_compile_and_match_like_node_exporter() {
        for p in [
            DEFAULT_MOUNT_POINTS_EXCLUDE,
            DEFAULT_FS_TYPES_EXCLUDE,
            DEFAULT_DISK_DEVICE_EXCLUDE,
            DEFAULT_VMSTAT_FIELDS,
            DEFAULT_NETSTAT_FIELDS,
        ] {
            assert!(Regex::new(p).is_ok(), "{p}");
        }
        let c = HostCollector::new(HostOptions::default());
        assert!(c.mount_exclude.is_match("/proc/sys"));
        assert!(c.mount_exclude.is_match("/var/lib/docker/overlay"));
        assert!(!c.mount_exclude.is_match("/"));
        assert!(!c.fs_type_exclude.is_match("tmpfs"));
        assert!(c.fs_type_exclude.is_match("overlay"));
        assert!(c.disk_exclude.is_match("sda1"));
        assert!(c.disk_exclude.is_match("nvme0n1p2"));
        assert!(!c.disk_exclude.is_match("sda"));
        assert!(!c.disk_exclude.is_match("nvme0n1"));
        assert!(c.vmstat_fields.is_match("pgmajfault"));
        assert!(!c.vmstat_fields.is_match("nr_free_pages"));
        assert!(c.netstat_fields.is_match("Tcp_CurrEstab"));
    }
}

//! node_exporter's softnet, udp_queues, arp, schedstat, timex, processes and tcpstat collectors:
//! parsers of /proc/net/softnet_stat, /proc/net/udp{,6}, /proc/net/arp, /proc/schedstat,
//! /proc/<pid>/stat, /proc/net/tcp{,6}, and adjtimex(2).

use crate::exposition::{MetricFamily, MetricType};

use MetricType::{Counter, Gauge};

/// /proc/net/softnet_stat: per CPU (line index) its hex columns — processed, dropped,
/// time_squeezed, then (newer kernels) cpu_collision at 8, received_rps at 9, flow_limit_count
/// at 10.
pub fn parse_softnet(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .filter_map(|l| {
            let v: Vec<f64> = l
                .split_whitespace()
                .map(|h| u64::from_str_radix(h, 16).ok().map(|x| x as f64))
                .collect::<Option<Vec<f64>>>()?;
            (v.len() >= 3).then_some(v)
        })
        .collect()
}

/// /proc/<pid>/stat: the state letter and the number of threads (fields 3 and 20).
pub fn parse_pid_stat(text: &str) -> Option<(char, f64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    let threads = f.get(17)?.parse::<f64>().ok()?;
    Some((state, threads))
}

/// One /proc/interrupts line: type, info, devices and the per-CPU counts.
pub type Interrupt = (String, String, String, Vec<f64>);

/// /proc/interrupts as node_exporter's interrupts collector reads it: numbered IRQs split
/// their description into `info` (the controller) and `devices`; named ones (NMI, LOC, ...)
/// keep it all in `info`; lines with fewer columns than CPUs (ERR, MIS) are skipped.
pub fn parse_interrupts(text: &str) -> Vec<Interrupt> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let ncpu = header.split_whitespace().count();
    let mut out = Vec::new();
    for l in lines {
        let parts: Vec<&str> = l.split_whitespace().collect();
        if ncpu == 0 || parts.len() < ncpu + 2 {
            continue;
        }
        let Some(name) = parts[0].strip_suffix(':') else {
            continue;
        };
        let Some(values) = parts[1..=ncpu]
            .iter()
            .map(|v| v.parse::<f64>().ok())
            .collect::<Option<Vec<f64>>>()
        else {
            continue;
        };
        let (info, devices) = if name.parse::<u64>().is_ok() {
            (parts[ncpu + 1].to_string(), parts[ncpu + 2..].join(" "))
        } else {
            (parts[ncpu + 1..].join(" "), String::new())
        };
        out.push((name.to_string(), info, devices, values));
    }
    out
}

pub fn interrupts(text: &str, out: &mut Vec<MetricFamily>) {
    let mut f = MetricFamily::new("node_interrupts_total", "Interrupt details.", Counter);
    for (name, info, devices, values) in parse_interrupts(text) {
        for (cpu, v) in values.iter().enumerate() {
            let cpu = cpu.to_string();
            f.push(
                &[
                    ("cpu", &cpu),
                    ("type", &name),
                    ("info", &info),
                    ("devices", &devices),
                ],
                *v,
            );
        }
    }
    out.push(f);
}

/// TCP states of /proc/net/tcp's `st` column, named as node_exporter's tcpstat names them.
const TCP_STATES: [&str; 11] = [
    "established",
    "syn_sent",
    "syn_recv",
    "fin_wait1",
    "fin_wait2",
    "time_wait",
    "close",
    "close_wait",
    "last_ack",
    "listen",
    "closing",
];

/// /proc/net/tcp{,6}: connections per state, added to `counts` (indexed like TCP_STATES).
pub fn count_tcp_states(text: &str, counts: &mut [f64; 11]) {
    for l in text.lines().skip(1) {
        let Some(st) = l.split_whitespace().nth(3) else {
            continue;
        };
        if let Ok(i) = usize::from_str_radix(st, 16) {
            if (1..=11).contains(&i) {
                counts[i - 1] += 1.0;
            }
        }
    }
}

/// /proc/net/udp{,6} (or tcp{,6}): the sums of the tx_queue and rx_queue columns (hex `tx:rx`).
pub fn parse_udp_queues(text: &str) -> Option<(f64, f64)> {
    let mut lines = text.lines();
    let header = lines.next()?;
    if !header.contains("tx_queue") {
        return None;
    }
    let (mut tx, mut rx) = (0.0, 0.0);
    for l in lines {
        let Some(q) = l.split_whitespace().nth(4) else {
            continue;
        };
        let Some((t, r)) = q.split_once(':') else {
            continue;
        };
        if let (Ok(t), Ok(r)) = (u64::from_str_radix(t, 16), u64::from_str_radix(r, 16)) {
            tx += t as f64;
            rx += r as f64;
        }
    }
    Some((tx, rx))
}

/// /proc/net/arp: entries per device, in first-seen order.
pub fn parse_arp(text: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for l in text.lines().skip(1) {
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.len() < 6 {
            continue;
        }
        let dev = cols[5];
        match out.iter_mut().find(|(d, _)| d == dev) {
            Some((_, n)) => *n += 1.0,
            None => out.push((dev.to_string(), 1.0)),
        }
    }
    out
}

/// /proc/schedstat: per `cpuN` line, running and waiting seconds and timeslices.
pub fn parse_schedstat(text: &str) -> Vec<(String, [f64; 3])> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let id = f.first()?.strip_prefix("cpu")?;
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || f.len() < 10 {
                return None;
            }
            let n = |i: usize| f[i].parse::<f64>().ok();
            Some((id.to_string(), [n(7)? / 1e9, n(8)? / 1e9, n(9)?]))
        })
        .collect()
}

pub fn softnet(text: &str, out: &mut Vec<MetricFamily>) {
    let mut p = MetricFamily::new(
        "node_softnet_processed_total",
        "Number of processed packets",
        Counter,
    );
    let mut d = MetricFamily::new(
        "node_softnet_dropped_total",
        "Number of dropped packets",
        Counter,
    );
    let mut s = MetricFamily::new(
        "node_softnet_times_squeezed_total",
        "Number of times processing packets ran out of quota",
        Counter,
    );
    let mut coll = MetricFamily::new(
        "node_softnet_cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        Counter,
    );
    let mut rps = MetricFamily::new(
        "node_softnet_received_rps_total",
        "Number of times cpu woken up received_rps",
        Counter,
    );
    let mut flow = MetricFamily::new(
        "node_softnet_flow_limit_count_total",
        "Number of times flow limit has been reached",
        Counter,
    );
    for (i, v) in parse_softnet(text).iter().enumerate() {
        let cpu = i.to_string();
        p.push(&[("cpu", &cpu)], v[0]);
        d.push(&[("cpu", &cpu)], v[1]);
        s.push(&[("cpu", &cpu)], v[2]);
        if v.len() >= 11 {
            coll.push(&[("cpu", &cpu)], v[8]);
            rps.push(&[("cpu", &cpu)], v[9]);
            flow.push(&[("cpu", &cpu)], v[10]);
        }
    }
    out.extend([p, d, s, coll, rps, flow]);
}

pub fn udp_queues(v4: Option<&str>, v6: Option<&str>, out: &mut Vec<MetricFamily>) {
    let mut f = MetricFamily::new(
        "node_udp_queues",
        "Number of allocated memory in the kernel for UDP datagrams in bytes.",
        Gauge,
    );
    for (ip, text) in [("v4", v4), ("v6", v6)] {
        if let Some((tx, rx)) = text.and_then(parse_udp_queues) {
            f.push(&[("queue", "tx"), ("ip", ip)], tx);
            f.push(&[("queue", "rx"), ("ip", ip)], rx);
        }
    }
    out.push(f);
}

pub fn arp(text: &str, out: &mut Vec<MetricFamily>) {
    let mut f = MetricFamily::new("node_arp_entries", "ARP entries by device", Gauge);
    for (dev, n) in parse_arp(text) {
        f.push(&[("device", &dev)], n);
    }
    out.push(f);
}

pub fn schedstat(text: &str, out: &mut Vec<MetricFamily>) {
    let mut r = MetricFamily::new(
        "node_schedstat_running_seconds_total",
        "Number of seconds CPU spent running a process.",
        Counter,
    );
    let mut w = MetricFamily::new(
        "node_schedstat_waiting_seconds_total",
        "Number of seconds spent by processing waiting for this CPU.",
        Counter,
    );
    let mut t = MetricFamily::new(
        "node_schedstat_timeslices_total",
        "Number of timeslices executed by CPU.",
        Counter,
    );
    for (cpu, v) in parse_schedstat(text) {
        r.push(&[("cpu", &cpu)], v[0]);
        w.push(&[("cpu", &cpu)], v[1]);
        t.push(&[("cpu", &cpu)], v[2]);
    }
    out.extend([r, w, t]);
}

/// node_processes_* (node_exporter's processes collector, without per-thread states) from every
/// /proc/<pid>/stat, with the kernel's pid and thread limits.
pub fn processes(proc: &std::path::Path, out: &mut Vec<MetricFamily>) -> Result<(), String> {
    let dir = std::fs::read_dir(proc).map_err(|e| format!("{}: {e}", proc.display()))?;
    let (mut pids, mut threads) = (0.0, 0.0);
    let mut states: std::collections::BTreeMap<char, f64> = Default::default();
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        if let Some((st, n)) = parse_pid_stat(&text) {
            pids += 1.0;
            threads += n;
            *states.entry(st).or_default() += 1.0;
        }
    }
    let limit = |f: &str| {
        std::fs::read_to_string(proc.join(f))
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
    };
    out.push(MetricFamily::single(
        "node_processes_threads",
        "Allocated threads in system",
        Gauge,
        threads,
    ));
    out.push(MetricFamily::single(
        "node_processes_pids",
        "Number of PIDs",
        Gauge,
        pids,
    ));
    if let Some(v) = limit("sys/kernel/threads-max") {
        out.push(MetricFamily::single(
            "node_processes_max_threads",
            "Limit of threads in the system",
            Gauge,
            v,
        ));
    }
    if let Some(v) = limit("sys/kernel/pid_max") {
        out.push(MetricFamily::single(
            "node_processes_max_processes",
            "Number of max PIDs limit",
            Gauge,
            v,
        ));
    }
    let mut st = MetricFamily::new(
        "node_processes_state",
        "Number of processes in each state.",
        Gauge,
    );
    for (s, n) in states {
        st.push(&[("state", &s.to_string())], n);
    }
    out.push(st);
    Ok(())
}

/// node_tcp_connection_states{state} (node_exporter's tcpstat collector).
pub fn tcpstat(v4: &str, v6: Option<&str>, out: &mut Vec<MetricFamily>) {
    let mut counts = [0.0; 11];
    count_tcp_states(v4, &mut counts);
    if let Some(t) = v6 {
        count_tcp_states(t, &mut counts);
    }
    let mut f = MetricFamily::new(
        "node_tcp_connection_states",
        "Number of connection states.",
        Gauge,
    );
    for (name, n) in TCP_STATES.iter().zip(counts) {
        f.push(&[("state", name)], n);
    }
    // node_exporter ≥ 1.6 adds the bytes queued on all sockets as two more "states"
    // ("TCP Socket Queue" of Node Exporter Full); the queue columns are as udp's.
    let (mut tx, mut rx) = parse_udp_queues(v4).unwrap_or((0.0, 0.0));
    if let Some((t, r)) = v6.and_then(parse_udp_queues) {
        tx += t;
        rx += r;
    }
    f.push(&[("state", "rx_queued_bytes")], rx);
    f.push(&[("state", "tx_queued_bytes")], tx);
    out.push(f);
}

/// node_timex_* from adjtimex(2) (read-only: modes 0).
pub fn timex(out: &mut Vec<MetricFamily>) -> Result<(), String> {
    // SAFETY: adjtimex with modes = 0 only reads the kernel clock state into our zeroed struct.
    let (status, t) = unsafe {
        let mut t: libc::timex = std::mem::zeroed();
        let rc = libc::adjtimex(&mut t);
        if rc < 0 {
            return Err(format!("adjtimex: {}", std::io::Error::last_os_error()));
        }
        (rc, t)
    };
    const TIME_ERROR: i32 = 5;
    const STA_NANO: i32 = 0x2000;
    const PPM16: f64 = 1_000_000.0 * 65536.0;
    let div = if t.status & STA_NANO != 0 { 1e9 } else { 1e6 };
    let g =
        |n: &str, h: &str, v: f64| MetricFamily::single(&format!("node_timex_{n}"), h, Gauge, v);
    let c =
        |n: &str, h: &str, v: f64| MetricFamily::single(&format!("node_timex_{n}"), h, Counter, v);
    out.extend([
        g(
            "sync_status",
            "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
            if status == TIME_ERROR { 0.0 } else { 1.0 },
        ),
        g(
            "offset_seconds",
            "Time offset in between local system and reference clock.",
            t.offset as f64 / div,
        ),
        g(
            "frequency_adjustment_ratio",
            "Local clock frequency adjustment.",
            1.0 + t.freq as f64 / PPM16,
        ),
        g(
            "maxerror_seconds",
            "Maximum error in seconds.",
            t.maxerror as f64 / 1e6,
        ),
        g(
            "estimated_error_seconds",
            "Estimated error in seconds.",
            t.esterror as f64 / 1e6,
        ),
        g("status", "Value of the status array bits.", t.status as f64),
        g(
            "loop_time_constant",
            "Phase-locked loop time constant.",
            t.constant as f64,
        ),
        g(
            "tick_seconds",
            "Seconds between clock ticks.",
            t.tick as f64 / 1e6,
        ),
        g(
            "pps_frequency_hertz",
            "Pulse per second frequency.",
            t.ppsfreq as f64 / PPM16,
        ),
        g(
            "pps_jitter_seconds",
            "Pulse per second jitter.",
            t.jitter as f64 / div,
        ),
        g(
            "pps_shift_seconds",
            "Pulse per second interval duration.",
            t.shift as f64,
        ),
        g(
            "pps_stability_hertz",
            "Pulse per second stability, average of recent frequency changes.",
            t.stabil as f64 / PPM16,
        ),
        c(
            "pps_jitter_total",
            "Pulse per second count of jitter limit exceeded events.",
            t.jitcnt as f64,
        ),
        c(
            "pps_calibration_total",
            "Pulse per second count of calibration intervals.",
            t.calcnt as f64,
        ),
        c(
            "pps_error_total",
            "Pulse per second count of calibration errors.",
            t.errcnt as f64,
        ),
        c(
            "pps_stability_exceeded_total",
            "Pulse per second count of stability limit exceeded events.",
            t.stbcnt as f64,
        ),
        g(
            "tai_offset_seconds",
            "International Atomic Time (TAI) offset.",
            t.tai as f64,
        ),
    ]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse_softnet("00000044 00000000 00000001 0 0\n00000f6d 00000002 00000000\n"),
            vec![vec![68.0, 0.0, 1.0, 0.0, 0.0], vec![3949.0, 2.0, 0.0]]
        );
        assert_eq!(
            parse_pid_stat(
                "42 (my (odd) cmd) S 1 42 42 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 7 0 5 6 7"
            ),
            Some(('S', 7.0))
        );
        assert_eq!(parse_pid_stat("42 (x"), None);
        let irq = "           CPU0       CPU1\n 24:  1  0  IO-APIC   5-edge      ACPI:Ged\nNMI:  3  4   Non-maskable interrupts\nERR:  0\n";
        assert_eq!(
            parse_interrupts(irq),
            vec![
                (
                    "24".into(),
                    "IO-APIC".into(),
                    "5-edge ACPI:Ged".into(),
                    vec![1.0, 0.0]
                ),
                (
                    "NMI".into(),
                    "Non-maskable interrupts".into(),
                    String::new(),
                    vec![3.0, 4.0]
                ),
            ]
        );
        let mut c = [0.0; 11];
        count_tcp_states(
            "  sl  local rem st\n 0: 0100007F:1F90 00000000:0000 0A 0\n 1: a b 01 0\n 2: a b 0A\n 3: a b ZZ\n",
            &mut c,
        );
        assert_eq!((c[0], c[9]), (1.0, 2.0));
        let udp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n \
                   0: 00000000:0044 00000000:0000 07 00000010:00000200 00:00000000 00000000     0        0 1 2\n \
                   1: 00000000:0045 00000000:0000 07 00000001:00000000 00:00000000 00000000     0        0 1 2\n";
        assert_eq!(parse_udp_queues(udp), Some((17.0, 512.0)));
        assert_eq!(parse_udp_queues("garbage"), None);
        let arp =
            "IP address       HW type     Flags       HW address            Mask     Device\n\
                   10.0.0.1         0x1         0x2         52:54:00:00:00:01     *        eth0\n\
                   10.0.0.2         0x1         0x2         52:54:00:00:00:02     *        eth0\n\
                   10.1.0.1         0x1         0x2         52:54:00:00:00:03     *        eth1\n";
        assert_eq!(
            parse_arp(arp),
            vec![("eth0".into(), 2.0), ("eth1".into(), 1.0)]
        );
        let sched =
            "version 15\ntimestamp 4294\ncpu0 0 0 0 0 0 0 2000000000 500000000 42\ndomain0 3 1 2\n";
        assert_eq!(parse_schedstat(sched), vec![("0".into(), [2.0, 0.5, 42.0])]);
    }

    #[test]
    fn timex_reads_the_clock_or_says_why_not() {
        let mut out = Vec::new();
        match timex(&mut out) {
            Ok(()) => assert!(out.iter().any(|f| f.name == "node_timex_tick_seconds")),
            Err(e) => assert!(e.starts_with("adjtimex"), "{e}"),
        }
    }

    proptest! {
        #[test]
        fn never_panic(s in "(?s).{0,300}") {
            let _ = parse_softnet(&s);
            let _ = parse_udp_queues(&s);
            let _ = parse_arp(&s);
            let _ = parse_schedstat(&s);
            let _ = parse_pid_stat(&s);
            let _ = parse_interrupts(&s);
            count_tcp_states(&s, &mut [0.0; 11]);
        }
    }
}

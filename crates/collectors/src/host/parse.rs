//! Parsers of /proc text files. Pure functions over the file's text: malformed lines are
//! skipped, never a panic.

use std::collections::BTreeMap;

/// Kernel USER_HZ: /proc/stat counts CPU time in 1/100 s on every Linux architecture.
pub const USER_HZ: f64 = 100.0;

/// One CPU line of /proc/stat (times in seconds).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CpuTimes {
    /// "0", "1", ... (the `cpu` label).
    pub cpu: String,
    pub user: f64,
    pub nice: f64,
    pub system: f64,
    pub idle: f64,
    pub iowait: f64,
    pub irq: f64,
    pub softirq: f64,
    pub steal: f64,
    pub guest: f64,
    pub guest_nice: f64,
}

/// /proc/stat.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stat {
    pub cpus: Vec<CpuTimes>,
    pub intr: Option<f64>,
    pub ctxt: Option<f64>,
    pub btime: Option<f64>,
    pub processes: Option<f64>,
    pub procs_running: Option<f64>,
    pub procs_blocked: Option<f64>,
}

fn num(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parses /proc/stat: per-CPU lines (`cpuN`, not the aggregate `cpu`) and the counters.
pub fn parse_stat(text: &str) -> Stat {
    let mut st = Stat::default();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(key) = it.next() else { continue };
        let first = it.next().and_then(num);
        match key {
            "intr" => st.intr = first,
            "ctxt" => st.ctxt = first,
            "btime" => st.btime = first,
            "processes" => st.processes = first,
            "procs_running" => st.procs_running = first,
            "procs_blocked" => st.procs_blocked = first,
            k if k.len() > 3 && k.starts_with("cpu") => {
                let id = &k[3..];
                if !id.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let Some(first) = first else { continue };
                let mut v = vec![first];
                v.extend(line.split_whitespace().skip(2).map_while(num));
                v.resize(10, 0.0);
                st.cpus.push(CpuTimes {
                    cpu: id.to_string(),
                    user: v[0] / USER_HZ,
                    nice: v[1] / USER_HZ,
                    system: v[2] / USER_HZ,
                    idle: v[3] / USER_HZ,
                    iowait: v[4] / USER_HZ,
                    irq: v[5] / USER_HZ,
                    softirq: v[6] / USER_HZ,
                    steal: v[7] / USER_HZ,
                    guest: v[8] / USER_HZ,
                    guest_nice: v[9] / USER_HZ,
                });
            }
            _ => {}
        }
    }
    st
}

/// Parses /proc/meminfo into node_exporter's keys: `Active(anon)` → `Active_anon`, values with
/// a `kB` unit → bytes with a `_bytes` suffix.
pub fn parse_meminfo(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() < 2 || parts.len() > 3 {
            continue;
        }
        let Some(key) = parts[0].strip_suffix(':') else {
            continue;
        };
        let Some(mut v) = num(parts[1]) else { continue };
        let mut key = match (key.find('('), key.ends_with(')')) {
            (Some(p), true) => format!("{}_{}", &key[..p], &key[p + 1..key.len() - 1]),
            _ => key.to_string(),
        };
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        if parts.len() == 3 {
            v *= 1024.0;
            key.push_str("_bytes");
        }
        out.push((key, v));
    }
    out
}

/// /proc/loadavg: the 1, 5 and 15 minute load averages.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace();
    Some([num(it.next()?)?, num(it.next()?)?, num(it.next()?)?])
}

/// One line of /proc/diskstats.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskStat {
    pub major: u32,
    pub minor: u32,
    pub device: String,
    /// The counters after the device name, in the kernel's order (11, 15 or 17 of them).
    pub fields: Vec<f64>,
}

pub fn parse_diskstats(text: &str) -> Vec<DiskStat> {
    let mut out = Vec::new();
    for line in text.lines() {
        let p: Vec<&str> = line.split_whitespace().collect();
        if p.len() < 14 {
            continue;
        }
        let (Ok(major), Ok(minor)) = (p[0].parse(), p[1].parse()) else {
            continue;
        };
        let fields: Vec<f64> = p[3..].iter().map_while(|s| num(s)).collect();
        if fields.len() < 11 {
            continue;
        }
        out.push(DiskStat {
            major,
            minor,
            device: p[2].to_string(),
            fields,
        });
    }
    out
}

/// The /proc/net/dev columns, named as node_exporter names them (`node_network_<name>_total`).
pub const NET_DEV_FIELDS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

/// /proc/net/dev: per interface, the 16 counters of [`NET_DEV_FIELDS`].
pub fn parse_net_dev(text: &str) -> Vec<(String, [f64; 16])> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || name.contains('|') {
            continue;
        }
        let vals: Vec<f64> = rest.split_whitespace().map_while(num).collect();
        if vals.len() < 16 {
            continue;
        }
        let mut a = [0.0; 16];
        a.copy_from_slice(&vals[..16]);
        out.push((name.to_string(), a));
    }
    out
}

/// `name value` lines (/proc/vmstat, /proc/net/snmp6).
pub fn parse_key_values(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = num(it.next()?)?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// /proc/pressure/<resource>: the `total` (µs) of the `some` and `full` lines.
pub fn parse_pressure(text: &str) -> (Option<f64>, Option<f64>) {
    let (mut some, mut full) = (None, None);
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let kind = it.next();
        let total = it.find_map(|kv| kv.strip_prefix("total=")).and_then(num);
        match kind {
            Some("some") => some = total,
            Some("full") => full = total,
            _ => {}
        }
    }
    (some, full)
}

/// /proc/net/sockstat{,6}: `(metric suffix, value)` as node_exporter names them
/// (`sockets_used`, `TCP_inuse`, `TCP_mem_bytes`, `TCP6_inuse`, ...).
pub fn parse_sockstat(text: &str, page_size: f64) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((proto, rest)) = line.split_once(':') else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        if proto == "sockets" {
            if let (Some(&"used"), Some(v)) = (words.first(), words.get(1).and_then(|s| num(s))) {
                out.push(("sockets_used".to_string(), v));
            }
            continue;
        }
        if proto.is_empty() || !proto.bytes().all(|b| b.is_ascii_alphanumeric()) {
            continue;
        }
        for pair in words.chunks(2) {
            let [k, v] = pair else { continue };
            let Some(v) = num(v) else { continue };
            if !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                continue;
            }
            out.push((format!("{proto}_{k}"), v));
            if *k == "mem" {
                out.push((format!("{proto}_mem_bytes"), v * page_size));
            }
        }
    }
    out
}

/// /proc/sys/fs/file-nr: allocated and maximum.
pub fn parse_file_nr(text: &str) -> Option<(f64, f64)> {
    let v: Vec<&str> = text.split_whitespace().collect();
    if v.len() != 3 {
        return None;
    }
    Some((num(v[0])?, num(v[2])?))
}

/// One line of /proc/mounts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub device: String,
    pub mountpoint: String,
    pub fstype: String,
    pub options: String,
}

/// Undoes the octal escapes of /proc/mounts (`\040` space, `\011` tab, ...).
fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(c) = u8::try_from(v) {
                out.push(c);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let p: Vec<&str> = l.split_whitespace().collect();
            if p.len() < 4 {
                return None;
            }
            Some(Mount {
                device: unescape_octal(p[0]),
                mountpoint: unescape_octal(p[1]),
                fstype: p[2].to_string(),
                options: p[3].to_string(),
            })
        })
        .collect()
}

/// os-release: `KEY=value` lines, values unquoted.
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            v[1..v.len() - 1]
                .replace("\\\"", "\"")
                .replace("\\\\", "\\")
        } else {
            v.to_string()
        };
        out.insert(k.trim().to_string(), v);
    }
    out
}

/// /proc/net/netstat and /proc/net/snmp: header/value line pairs → `(Proto_Field, value)`.
pub fn parse_netstat(text: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [h, v] = pair else { continue };
        let (Some((hp, hnames)), Some((vp, vvals))) = (h.split_once(':'), v.split_once(':')) else {
            continue;
        };
        if hp != vp {
            continue;
        }
        for (n, x) in hnames.split_whitespace().zip(vvals.split_whitespace()) {
            if let Some(x) = num(x) {
                out.push((format!("{hp}_{n}"), x));
            }
        }
    }
    out
}

/// /proc/net/snmp6: `Ip6InReceives 12` → `(Ip6_InReceives, 12)`.
pub fn parse_snmp6(text: &str) -> Vec<(String, f64)> {
    parse_key_values(text)
        .into_iter()
        .filter_map(|(k, v)| {
            let split = k.find(|c: char| c.is_ascii_digit())? + 1;
            if split >= k.len() {
                return None;
            }
            Some((format!("{}_{}", &k[..split], &k[split..]), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn meminfo_names() {
        let m = parse_meminfo("MemTotal:       16314424 kB\nActive(anon):  10 kB\nHugePages_Total:       0\nbad line here now x\n");
        assert_eq!(
            m,
            vec![
                ("MemTotal_bytes".to_string(), 16314424.0 * 1024.0),
                ("Active_anon_bytes".to_string(), 10240.0),
                ("HugePages_Total".to_string(), 0.0),
            ]
        );
    }

    #[test]
    fn stat_cpus_and_counters() {
        let s = parse_stat("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 100 200 300 400 500 600 700 800 900 1000\ncpuX 1\nctxt 55\nbtime 1700000000\nprocesses 9\nprocs_running 2\nprocs_blocked 1\nintr 77 1 2\n");
        assert_eq!(s.cpus.len(), 1);
        assert_eq!(s.cpus[0].cpu, "0");
        assert_eq!(s.cpus[0].user, 1.0);
        assert_eq!(s.cpus[0].guest_nice, 10.0);
        assert_eq!(s.ctxt, Some(55.0));
        assert_eq!(s.intr, Some(77.0));
        assert_eq!(s.btime, Some(1.7e9));
        assert_eq!(s.processes, Some(9.0));
    }

    #[test]
    fn mounts_unescape() {
        let m = parse_mounts("/dev/sda1 /mnt/my\\040disk ext4 rw,relatime 0 0\nshort\n");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].mountpoint, "/mnt/my disk");
        assert_eq!(parse_mounts("a /x\\04 t o")[0].mountpoint, "/x\\04");
    }

    #[test]
    fn sockstat_and_snmp6() {
        let s = parse_sockstat(
            "sockets: used 229\nTCP: inuse 4 orphan 0 tw 0 alloc 9 mem 2\nFRAG: inuse 0 memory 0\n",
            4096.0,
        );
        assert!(s.contains(&("sockets_used".into(), 229.0)));
        assert!(s.contains(&("TCP_mem_bytes".into(), 8192.0)));
        assert!(s.contains(&("FRAG_memory".into(), 0.0)));
        assert_eq!(
            parse_snmp6("Ip6InReceives 12\nIcmp6InMsgs 3\n"),
            vec![
                ("Ip6_InReceives".into(), 12.0),
                ("Icmp6_InMsgs".into(), 3.0)
            ]
        );
        assert_eq!(
            parse_netstat("Tcp: A B\nTcp: 1 2\nUdp: X\n"),
            vec![("Tcp_A".into(), 1.0), ("Tcp_B".into(), 2.0)]
        );
    }

    #[test]
    fn pressure_and_os_release() {
        let (s, f) = parse_pressure(
            "some avg10=0.00 avg60=0.00 avg300=0.00 total=1500000\nfull avg10=0 total=20\n",
        );
        assert_eq!((s, f), (Some(1_500_000.0), Some(20.0)));
        let o = parse_os_release("NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n# c\nID=debian\n");
        assert_eq!(o["NAME"], "Debian GNU/Linux");
        assert_eq!(o["ID"], "debian");
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in "(?s).{0,400}") {
            let _ = parse_stat(&s);
            let _ = parse_meminfo(&s);
            let _ = parse_loadavg(&s);
            let _ = parse_diskstats(&s);
            let _ = parse_net_dev(&s);
            let _ = parse_key_values(&s);
            let _ = parse_pressure(&s);
            let _ = parse_sockstat(&s, 4096.0);
            let _ = parse_file_nr(&s);
            let _ = parse_mounts(&s);
            let _ = parse_os_release(&s);
            let _ = parse_netstat(&s);
            let _ = parse_snmp6(&s);
        }

        #[test]
        fn proc_like_lines_never_panic(lines in proptest::collection::vec(
            "[a-z0-9()_:]{1,12}( +[-0-9a-z.=()\\\\]{0,12}){0,20}", 0..20)) {
            let s = lines.join("\n");
            let _ = parse_stat(&s);
            let _ = parse_meminfo(&s);
            let _ = parse_diskstats(&s);
            let _ = parse_net_dev(&s);
            let _ = parse_sockstat(&s, 4096.0);
            let _ = parse_mounts(&s);
            let _ = parse_netstat(&s);
            let _ = parse_snmp6(&s);
        }

        #[test]
        fn meminfo_roundtrip(key in "[A-Z][A-Za-z]{0,10}", v in 0u64..1u64<<40) {
            let m = parse_meminfo(&format!("{key}: {v} kB\n"));
            prop_assert_eq!(m, vec![(format!("{key}_bytes"), v as f64 * 1024.0)]);
        }
    }
}

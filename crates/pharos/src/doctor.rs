//! `pharos doctor`: checks a configuration and a running pharos — config errors (file:line),
//! the listen port (free, or in use by whom), the data directory (exists/creatable, writable,
//! free space), the clock (against the running pharos), readiness, scrape targets that are
//! down and firing alerts — and prints a ✓/⚠/✗ checklist with what to fix. Exits 1 when a
//! check failed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct DoctorArgs {
    /// The pharos.yml (or prometheus.yml) to check.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A running pharos to check (default: the config's `listen`, else http://127.0.0.1:9090).
    #[arg(long)]
    url: Option<String>,
    /// Data directory to check (default: the config's `data_dir`, else ./data).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// One line of the checklist.
#[derive(Clone, Debug)]
pub struct Check {
    pub status: Status,
    pub what: String,
    pub fix: Option<String>,
}

fn ok(what: impl Into<String>) -> Check {
    Check {
        status: Status::Ok,
        what: what.into(),
        fix: None,
    }
}
fn warn(what: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        status: Status::Warn,
        what: what.into(),
        fix: Some(fix.into()),
    }
}
fn fail(what: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        status: Status::Fail,
        what: what.into(),
        fix: Some(fix.into()),
    }
}

pub fn run(args: DoctorArgs) -> ExitCode {
    let checks = collect(&args);
    print!("{}", render(&checks));
    if checks.iter().any(|c| c.status == Status::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn render(checks: &[Check]) -> String {
    let mut out = String::from("pharos doctor\n");
    for c in checks {
        let mark = match c.status {
            Status::Ok => "✓",
            Status::Warn => "⚠",
            Status::Fail => "✗",
        };
        out.push_str(&format!("  {mark} {}\n", c.what));
        if let Some(f) = &c.fix {
            out.push_str(&format!("      fix: {f}\n"));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let warned = checks.iter().filter(|c| c.status == Status::Warn).count();
    out.push_str(&format!(
        "{} checks: {} passed, {} warnings, {} failed\n",
        checks.len(),
        checks.len() - failed - warned,
        warned,
        failed
    ));
    out
}

fn collect(args: &DoctorArgs) -> Vec<Check> {
    let mut checks = Vec::new();
    let cfg = match &args.config {
        None => {
            checks.push(ok("no --config given: checking the defaults"));
            config::LoadedConfig::default()
        }
        Some(p) => match config::load(p) {
            Ok(c) => {
                checks.push(ok(format!(
                    "config {} loads ({} scrape jobs)",
                    p.display(),
                    c.prometheus.scrape_configs.len()
                )));
                for w in &c.warnings {
                    checks.push(warn(
                        format!("config: {w}"),
                        "remove the key or see README for what is supported",
                    ));
                }
                c
            }
            Err(e) => {
                checks.push(fail(
                    format!("config: {e}"),
                    "correct that line, then run `pharos check config` again",
                ));
                config::LoadedConfig::default()
            }
        },
    };
    // The port to check: the config's `listen`, else the port of --url, else pharos' default.
    let listen = cfg
        .listen
        .clone()
        .or_else(|| args.url.as_deref().and_then(url_listen))
        .unwrap_or_else(|| "0.0.0.0:9090".to_string());
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://{}", local_target(&listen)))
        .trim_end_matches('/')
        .to_string();
    let data = args
        .data
        .clone()
        .or_else(|| cfg.data_dir.clone())
        .unwrap_or_else(|| PathBuf::from("./data"));

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build();
    let client = match client {
        Ok(c) => c,
        Err(e) => {
            checks.push(fail(format!("HTTP client: {e}"), "report this as a bug"));
            return checks;
        }
    };
    let running = check_running(&client, &url, args.url.is_some(), &mut checks);
    checks.push(check_port(&listen, running.then_some(&url)));
    checks.extend(check_data_dir(&data));
    checks.extend(check_local_clock());
    if running {
        checks.push(check_clock(&client, &url));
        checks.extend(check_targets(&client, &url));
        checks.extend(check_alerts(&client, &url));
    }
    checks
}

/// `0.0.0.0:9090` → `127.0.0.1:9090` (the address to reach a wildcard listener on).
fn local_target(listen: &str) -> String {
    match listen.parse::<SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        _ => listen.to_string(),
    }
}

/// `http://127.0.0.1:9090/` → `127.0.0.1:9090` (only for a host given as an IP address).
fn url_listen(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    let ip: std::net::IpAddr = u.host_str()?.trim_matches(['[', ']']).parse().ok()?;
    Some(SocketAddr::new(ip, u.port_or_known_default()?).to_string())
}

/// `/-/ready` of the running pharos. Returns whether one answers.
fn check_running(
    client: &reqwest::blocking::Client,
    url: &str,
    explicit: bool,
    checks: &mut Vec<Check>,
) -> bool {
    match client.get(format!("{url}/-/ready")).send() {
        Ok(r) if r.status().is_success() => {
            checks.push(ok(format!("pharos at {url} is ready")));
            true
        }
        Ok(r) => {
            let status = r.status();
            let body = r.text().unwrap_or_default();
            checks.push(fail(
                format!("pharos at {url} is not ready: {status} {}", body.trim()),
                "wait for start-up (WAL replay) to finish; if it stays so, read its log",
            ));
            true
        }
        Err(e) if explicit => {
            checks.push(fail(
                format!("no pharos answers at {url}: {}", root_cause(&e)),
                "start it with `pharos serve --config ...` or pass the right --url",
            ));
            false
        }
        Err(_) => {
            checks.push(warn(
                format!("no pharos running at {url}: checked the config and host only"),
                "start `pharos serve` (or pass --url) to check targets, alerts and the clock",
            ));
            false
        }
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
}

/// The listen port: free, used by the pharos we talk to, or taken by another process.
fn check_port(listen: &str, running_url: Option<&String>) -> Check {
    let addr: SocketAddr = match listen.parse() {
        Ok(a) => a,
        Err(e) => {
            return fail(
                format!("listen address {listen:?} is invalid: {e}"),
                "use host:port, e.g. 0.0.0.0:9090",
            )
        }
    };
    match std::net::TcpListener::bind(addr) {
        Ok(_) => ok(format!("port {} is free to listen on", addr.port())),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => fail(
            format!("cannot listen on {addr}: permission denied"),
            "ports below 1024 need root or CAP_NET_BIND_SERVICE; pick a port >= 1024",
        ),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let owner = port_owner(addr.port());
            let who = owner
                .as_ref()
                .map(|(pid, comm)| format!("{comm} (pid {pid})"))
                .unwrap_or_else(|| "another process".into());
            let by_pharos = owner.as_ref().is_some_and(|(_, c)| c == "pharos")
                || running_url.is_some_and(|u| u.ends_with(&format!(":{}", addr.port())));
            if by_pharos {
                ok(format!(
                    "port {} is in use by the running pharos",
                    addr.port()
                ))
            } else {
                fail(
                    format!("port {} is in use by {who}", addr.port()),
                    "stop that process, or set `listen:` in pharos.yml (or --listen) to a free port",
                )
            }
        }
        Err(e) => fail(
            format!("cannot listen on {addr}: {e}"),
            "use an address of this host",
        ),
    }
}

/// The process listening on a TCP port, from /proc (Linux): (pid, command name).
fn port_owner(port: u16) -> Option<(u32, String)> {
    let mut inodes = Vec::new();
    for f in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        inodes.extend(listening_inodes(&text, port));
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let t = target.to_string_lossy();
            if inodes.iter().any(|i| t == format!("socket:[{i}]")) {
                let comm = std::fs::read_to_string(entry.path().join("comm"))
                    .map(|c| c.trim().to_string())
                    .unwrap_or_default();
                return Some((pid, comm));
            }
        }
    }
    None
}

/// Socket inodes of `/proc/net/tcp*` rows in LISTEN state (`0A`) on `port`.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            let local = cols.get(1)?;
            let state = cols.get(3)?;
            let inode = cols.get(9)?.parse::<u64>().ok()?;
            let p = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
            (p == port && *state == "0A").then_some(inode)
        })
        .collect()
}

/// Data directory: exists (or its parent allows creating it), writable, enough free space.
fn check_data_dir(dir: &Path) -> Vec<Check> {
    let mut out = Vec::new();
    let existing = if dir.exists() {
        dir.to_path_buf()
    } else {
        let parent = dir
            .ancestors()
            .skip(1)
            .find(|a| a.as_os_str().is_empty() || a.exists())
            .map(|a| {
                if a.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    a.to_path_buf()
                }
            })
            .unwrap_or_else(|| PathBuf::from("."));
        out.push(ok(format!(
            "data directory {} does not exist yet; it will be created in {}",
            dir.display(),
            parent.display()
        )));
        parent
    };
    if !existing.is_dir() {
        out.push(fail(
            format!("data directory {} is not a directory", existing.display()),
            "point `data_dir:` (or --data) at a directory",
        ));
        return out;
    }
    let probe = existing.join(format!(".pharos-doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"x") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            out.push(ok(format!("{} is writable", existing.display())));
        }
        Err(e) => out.push(fail(
            format!("{} is not writable: {e}", existing.display()),
            format!(
                "run pharos as the directory's owner or `chown -R <user> {}`",
                existing.display()
            ),
        )),
    }
    match free_space(&existing) {
        Some((free, total)) => {
            let pct = if total > 0 {
                free as f64 * 100.0 / total as f64
            } else {
                100.0
            };
            let what = format!(
                "disk of {}: {} free of {} ({pct:.0}%)",
                existing.display(),
                human_bytes(free),
                human_bytes(total)
            );
            if free < 1 << 30 {
                out.push(fail(
                    what,
                    "free disk space or lower storage.tsdb.retention_time / retention_size",
                ));
            } else if pct < 10.0 || free < 10 << 30 {
                out.push(warn(
                    what,
                    "the disk is filling up: set storage.tsdb.retention_size in pharos.yml",
                ));
            } else {
                out.push(ok(what));
            }
        }
        None => out.push(warn(
            format!("cannot read the free space of {}", existing.display()),
            "check the file system by hand (df -h)",
        )),
    }
    out
}

fn free_space(dir: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt as _;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `s` a properly sized out-parameter.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
    if rc != 0 {
        return None;
    }
    let frsize = s.f_frsize as u64;
    Some((s.f_bavail as u64 * frsize, s.f_blocks as u64 * frsize))
}

fn human_bytes(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

/// The local clock: synchronized (kernel NTP state)?
fn check_local_clock() -> Option<Check> {
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: adjtimex with modes = 0 only reads the kernel's clock state into `tx`.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return None;
    }
    Some(if state == libc::TIME_ERROR {
        warn(
            "the system clock is not synchronized (NTP)",
            "run an NTP client (chrony, systemd-timesyncd) so timestamps agree with other hosts",
        )
    } else {
        ok("the system clock is synchronized")
    })
}

/// Clock skew between this host and the running pharos (its `time()`), minus half the round trip.
fn check_clock(client: &reqwest::blocking::Client, url: &str) -> Check {
    let sent = Instant::now();
    let local_before = now_s();
    let res = client
        .get(format!("{url}/api/v1/query"))
        .query(&[("query", "time()")])
        .send()
        .and_then(|r| r.json::<serde_json::Value>());
    let rtt = sent.elapsed().as_secs_f64();
    let remote = res.ok().and_then(|v| {
        v["data"]["result"][0]
            .as_f64()
            .or_else(|| v["data"]["result"][1].as_str()?.parse().ok())
    });
    let Some(remote) = remote else {
        return warn(
            "cannot read the running pharos' time (time() query failed)",
            "check that /api/v1/query answers",
        );
    };
    let skew = remote - (local_before + rtt / 2.0);
    let what = format!("clock skew with the running pharos: {skew:+.3}s");
    if skew.abs() > 30.0 {
        fail(
            what,
            "synchronize both clocks (NTP): samples and alerts are timestamped by the server",
        )
    } else if skew.abs() > 1.0 {
        warn(what, "synchronize the clocks (NTP)")
    } else {
        ok(what)
    }
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Scrape targets whose last scrape failed.
fn check_targets(client: &reqwest::blocking::Client, url: &str) -> Vec<Check> {
    let v = match client
        .get(format!("{url}/api/v1/targets"))
        .query(&[("state", "active")])
        .send()
        .and_then(|r| r.json::<serde_json::Value>())
    {
        Ok(v) => v,
        Err(e) => {
            return vec![warn(
                format!("cannot list scrape targets: {}", root_cause(&e)),
                "check /api/v1/targets",
            )]
        }
    };
    let targets = v["data"]["activeTargets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut up = 0;
    for t in &targets {
        let health = t["health"].as_str().unwrap_or("unknown");
        if health == "down" {
            let job = t["labels"]["job"].as_str().unwrap_or("?");
            let instance = t["labels"]["instance"].as_str().unwrap_or("?");
            let err = t["lastError"].as_str().unwrap_or("");
            let scrape_url = t["scrapeUrl"].as_str().unwrap_or(instance);
            out.push(fail(
                format!("target {job}/{instance} is down: {err}"),
                format!("check that it runs and that this host reaches it: curl {scrape_url}"),
            ));
        } else if health == "up" {
            up += 1;
        }
    }
    if out.is_empty() {
        out.push(ok(format!(
            "{} scrape targets, {up} up, none down",
            targets.len()
        )));
    }
    out
}

/// Alerts that are firing now.
fn check_alerts(client: &reqwest::blocking::Client, url: &str) -> Vec<Check> {
    let v = match client
        .get(format!("{url}/api/v1/alerts"))
        .send()
        .and_then(|r| r.json::<serde_json::Value>())
    {
        Ok(v) => v,
        Err(e) => {
            return vec![warn(
                format!("cannot list alerts: {}", root_cause(&e)),
                "check /api/v1/alerts",
            )]
        }
    };
    let alerts = v["data"]["alerts"].as_array().cloned().unwrap_or_default();
    let firing: Vec<_> = alerts
        .iter()
        .filter(|a| a["state"].as_str() == Some("firing"))
        .collect();
    if firing.is_empty() {
        return vec![ok(format!("no alerts firing ({} pending)", alerts.len()))];
    }
    firing
        .iter()
        .map(|a| {
            let name = a["labels"]["alertname"].as_str().unwrap_or("?");
            let summary = a["annotations"]["summary"]
                .as_str()
                .or_else(|| a["annotations"]["description"].as_str())
                .unwrap_or("");
            fail(
                format!("alert {name} is firing {summary}")
                    .trim()
                    .to_string(),
                "act on the alert (see its runbook/description), or silence it in Alertmanager",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2382 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0
";

    #[test]
    fn finds_listening_inode() {
        assert_eq!(listening_inodes(TCP, 0x2382), vec![12345]);
        assert!(listening_inodes(TCP, 80).is_empty());
    }

    #[test]
    fn wildcard_listen_is_reached_on_localhost() {
        assert_eq!(local_target("0.0.0.0:9090"), "127.0.0.1:9090");
        assert_eq!(local_target("[::]:9090"), "127.0.0.1:9090");
        assert_eq!(local_target("10.0.0.1:80"), "10.0.0.1:80");
    }

    #[test]
    fn url_gives_the_port_to_check() {
        assert_eq!(
            url_listen("http://127.0.0.1:19391/").as_deref(),
            Some("127.0.0.1:19391")
        );
        assert_eq!(url_listen("http://[::1]:80").as_deref(), Some("[::1]:80"));
        assert_eq!(url_listen("http://localhost:9090"), None);
        assert_eq!(url_listen("not a url"), None);
    }

    #[test]
    fn port_in_use_names_the_owner() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let c = check_port(&addr, None);
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.what.contains(&format!("pid {}", std::process::id())),
            "{}",
            c.what
        );
    }

    #[test]
    fn render_counts() {
        let s = render(&[ok("a"), warn("b", "x"), fail("c", "y")]);
        assert!(s.contains("✓ a") && s.contains("⚠ b") && s.contains("✗ c"));
        assert!(s.contains("3 checks: 1 passed, 1 warnings, 1 failed"));
    }

    proptest! {
        #[test]
        fn proc_net_parser_never_panics(s in "(.{0,60}\n){0,4}", port in any::<u16>()) {
            let _ = listening_inodes(&s, port);
        }
    }
}

//! The host collector's parts that read /sys, call statfs/uname, or read single-value files.

use crate::exposition::{MetricFamily, MetricType};
use std::collections::BTreeMap;
use std::ffi::CStr;
use std::path::Path;

use MetricType::{Counter, Gauge};

/// A file holding one number (decimal, or hex with `0x`).
pub fn read_number(p: &Path) -> Option<f64> {
    let s = std::fs::read_to_string(p).ok()?;
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).ok().map(|v| v as f64);
    }
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn read_trimmed(p: &Path) -> String {
    std::fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

pub fn page_size() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 {
        v as f64
    } else {
        4096.0
    }
}

/// The `E:KEY=value` properties of udev's database entry for block device `major:minor`.
pub fn udev_properties(dir: &Path, major: u32, minor: u32) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(dir.join(format!("b{major}:{minor}"))).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("E:")?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// node_exporter's netclass collector over `/sys/class/net`.
pub fn netclass(dir: &Path, out: &mut Vec<MetricFamily>) -> Result<(), String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut up = MetricFamily::new(
        "node_network_up",
        "Value is 1 if operstate is 'up', 0 otherwise.",
        Gauge,
    );
    let mut info = MetricFamily::new(
        "node_network_info",
        "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
        Gauge,
    );
    // (metric suffix, sysfs file, type)
    const FIELDS: [(&str, &str, MetricType); 16] = [
        ("address_assign_type", "addr_assign_type", Gauge),
        ("carrier", "carrier", Gauge),
        ("carrier_changes_total", "carrier_changes", Counter),
        ("carrier_up_changes_total", "carrier_up_count", Counter),
        ("carrier_down_changes_total", "carrier_down_count", Counter),
        ("device_id", "dev_id", Gauge),
        ("dormant", "dormant", Gauge),
        ("flags", "flags", Gauge),
        ("iface_id", "ifindex", Gauge),
        ("iface_link", "iflink", Gauge),
        ("iface_link_mode", "link_mode", Gauge),
        ("mtu_bytes", "mtu", Gauge),
        ("name_assign_type", "name_assign_type", Gauge),
        ("net_dev_group", "netdev_group", Gauge),
        ("transmit_queue_length", "tx_queue_len", Gauge),
        ("protocol_type", "type", Gauge),
    ];
    let mut fams: Vec<MetricFamily> = FIELDS
        .iter()
        .map(|(n, _, t)| {
            MetricFamily::new(
                format!("node_network_{n}"),
                format!("Network device property: {n}"),
                *t,
            )
        })
        .collect();
    let mut speed = MetricFamily::new(
        "node_network_speed_bytes",
        "Network device property: speed_bytes",
        Gauge,
    );
    for name in &names {
        let d = dir.join(name);
        let operstate = read_trimmed(&d.join("operstate"));
        up.push(
            &[("device", name)],
            if operstate == "up" { 1.0 } else { 0.0 },
        );
        info.push(
            &[
                ("device", name),
                ("address", &read_trimmed(&d.join("address"))),
                ("broadcast", &read_trimmed(&d.join("broadcast"))),
                ("duplex", &read_trimmed(&d.join("duplex"))),
                ("operstate", &operstate),
                ("ifalias", &read_trimmed(&d.join("ifalias"))),
            ],
            1.0,
        );
        for (f, (_, file, _)) in fams.iter_mut().zip(FIELDS.iter()) {
            if let Some(v) = read_number(&d.join(file)) {
                f.push(&[("device", name)], v);
            }
        }
        if let Some(v) = read_number(&d.join("speed")) {
            speed.push(&[("device", name)], (v * 1000.0 * 1000.0 / 8.0).trunc());
        }
    }
    out.push(up);
    out.push(info);
    out.extend(fams);
    out.push(speed);
    Ok(())
}

/// statfs of each mount (under `rootfs`): node_filesystem_* with device/mountpoint/fstype.
pub fn filesystems(rootfs: &Path, mounts: &[super::parse::Mount], out: &mut Vec<MetricFamily>) {
    let labels = [
        "size_bytes",
        "free_bytes",
        "avail_bytes",
        "files",
        "files_free",
        "readonly",
    ];
    let helps = [
        "Filesystem size in bytes.",
        "Filesystem free space in bytes.",
        "Filesystem space available to non-root users in bytes.",
        "Filesystem total file nodes.",
        "Filesystem total free file nodes.",
        "Filesystem read-only status.",
    ];
    let mut fams: Vec<MetricFamily> = labels
        .iter()
        .zip(helps)
        .map(|(n, h)| MetricFamily::new(format!("node_filesystem_{n}"), h, Gauge))
        .collect();
    let mut err = MetricFamily::new(
        "node_filesystem_device_error",
        "Whether an error occurred while getting statistics for the given device.",
        Gauge,
    );
    let mut seen = std::collections::HashSet::new();
    for m in mounts {
        if !seen.insert((&m.device, &m.mountpoint, &m.fstype)) {
            continue;
        }
        let l = [
            ("device", m.device.as_str()),
            ("fstype", m.fstype.as_str()),
            ("mountpoint", m.mountpoint.as_str()),
        ];
        let path = rootfs.join(m.mountpoint.trim_start_matches('/'));
        let Some(st) = statfs(&path) else {
            err.push(&l, 1.0);
            continue;
        };
        err.push(&l, 0.0);
        let ro = m.options.split(',').any(|o| o == "ro");
        let bs = st.f_bsize as f64;
        let vals = [
            st.f_blocks as f64 * bs,
            st.f_bfree as f64 * bs,
            st.f_bavail as f64 * bs,
            st.f_files as f64,
            st.f_ffree as f64,
            if ro { 1.0 } else { 0.0 },
        ];
        for (f, v) in fams.iter_mut().zip(vals) {
            f.push(&l, v);
        }
    }
    out.push(err);
    out.extend(fams);
}

fn statfs(path: &Path) -> Option<libc::statfs> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statfs buffer.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    (rc == 0).then_some(st)
}

/// node_os_info and node_os_version from os-release keys.
pub fn os_release(r: &BTreeMap<String, String>, out: &mut Vec<MetricFamily>) {
    let g = |k: &str| r.get(k).map(String::as_str).unwrap_or("");
    let mut info = MetricFamily::new(
        "node_os_info",
        "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
        Gauge,
    );
    info.push(
        &[
            ("build_id", g("BUILD_ID")),
            ("id", g("ID")),
            ("id_like", g("ID_LIKE")),
            ("image_id", g("IMAGE_ID")),
            ("image_version", g("IMAGE_VERSION")),
            ("name", g("NAME")),
            ("pretty_name", g("PRETTY_NAME")),
            ("variant", g("VARIANT")),
            ("variant_id", g("VARIANT_ID")),
            ("version", g("VERSION")),
            ("version_codename", g("VERSION_CODENAME")),
            ("version_id", g("VERSION_ID")),
        ],
        1.0,
    );
    out.push(info);
    let vid = g("VERSION_ID");
    let digits: String = {
        let mut dot = false;
        vid.chars()
            .take_while(|c| {
                if *c == '.' && !dot {
                    dot = true;
                    true
                } else {
                    c.is_ascii_digit()
                }
            })
            .collect()
    };
    if let Ok(v) = digits.trim_end_matches('.').parse::<f64>() {
        let mut ver = MetricFamily::new(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            Gauge,
        );
        ver.push(
            &[
                ("id", g("ID")),
                ("id_like", g("ID_LIKE")),
                ("name", g("NAME")),
            ],
            v,
        );
        out.push(ver);
    }
}

/// node_time_seconds, the zone offset and the clocksources.
pub fn time(sys: &Path, out: &mut Vec<MetricFamily>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    out.push(MetricFamily::single(
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        Gauge,
        now,
    ));
    // SAFETY: localtime_r writes into our zeroed tm; tm_zone points to static storage.
    let (zone, offset) = unsafe {
        let t = now as libc::time_t;
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() || tm.tm_zone.is_null() {
            ("UTC".to_string(), 0.0)
        } else {
            (
                CStr::from_ptr(tm.tm_zone).to_string_lossy().into_owned(),
                tm.tm_gmtoff as f64,
            )
        }
    };
    let mut z = MetricFamily::new(
        "node_time_zone_offset_seconds",
        "System time zone offset in seconds.",
        Gauge,
    );
    z.push(&[("time_zone", &zone)], offset);
    out.push(z);
    let mut avail = MetricFamily::new(
        "node_time_clocksource_available_info",
        "Available clocksources read from '/sys/devices/system/clocksource'.",
        Gauge,
    );
    let mut cur = MetricFamily::new(
        "node_time_clocksource_current_info",
        "Current clocksource read from '/sys/devices/system/clocksource'.",
        Gauge,
    );
    let dir = sys.join("devices/system/clocksource");
    let mut entries: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    entries.sort();
    for name in entries {
        let Some(n) = name.strip_prefix("clocksource") else {
            continue;
        };
        let d = dir.join(&name);
        for cs in read_trimmed(&d.join("available_clocksource")).split_whitespace() {
            avail.push(&[("device", n), ("clocksource", cs)], 1.0);
        }
        let c = read_trimmed(&d.join("current_clocksource"));
        if !c.is_empty() {
            cur.push(&[("device", n), ("clocksource", &c)], 1.0);
        }
    }
    out.push(avail);
    out.push(cur);
}

/// node_uname_info from uname(2).
pub fn uname(out: &mut Vec<MetricFamily>) -> Result<(), String> {
    // SAFETY: uname fills the zeroed struct; every field is NUL-terminated.
    let u = unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return Err("uname failed".into());
        }
        u
    };
    let s = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let mut m = MetricFamily::new(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        Gauge,
    );
    m.push(
        &[
            ("domainname", &s(&u.domainname)),
            ("machine", &s(&u.machine)),
            ("nodename", &s(&u.nodename)),
            ("release", &s(&u.release)),
            ("sysname", &s(&u.sysname)),
            ("version", &s(&u.version)),
        ],
        1.0,
    );
    out.push(m);
    Ok(())
}

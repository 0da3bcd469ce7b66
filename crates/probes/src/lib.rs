//! Uptime probes: blackbox_exporter's probers (`http`, `tcp`, `dns`, `icmp`) producing its series
//! (`probe_success`, `probe_duration_seconds`, `probe_http_*`, `probe_ssl_*`, `probe_dns_*`, …)
//! with the same names, labels and help texts, the exposition text of its `/probe` endpoint,
//! a scheduler that writes scheduled probes into the TSDB (`runner`), and uptime / incident
//! history computed from those series (`uptime`). Configuration types live in `config::probes`.
//!
//! Not here: HTTP routes (pharos' `serve_probes`), the UI.

pub mod dns;
pub mod http;
pub mod icmp;
pub mod runner;
pub mod tcp;
pub mod tls;
pub mod uptime;

use config::probes::Module;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// One gauge sample of a probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

/// The outcome of one probe: the series blackbox_exporter would return, success, and why it
/// failed (the first error), plus a log for `debug=true`.
#[derive(Clone, Debug, Default)]
pub struct ProbeOutput {
    pub metrics: Vec<Metric>,
    pub success: bool,
    pub duration_seconds: f64,
    pub error: Option<String>,
    pub log: Vec<String>,
}

impl ProbeOutput {
    pub(crate) fn set(&mut self, name: &'static str, help: &'static str, value: f64) {
        self.set_labeled(name, help, Vec::new(), value);
    }

    pub(crate) fn set_labeled(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: Vec<(&'static str, String)>,
        value: f64,
    ) {
        if let Some(m) = self
            .metrics
            .iter_mut()
            .find(|m| m.name == name && m.labels == labels)
        {
            m.value = value;
        } else {
            self.metrics.push(Metric {
                name,
                help,
                labels,
                value,
            });
        }
    }

    /// Records a failure: the first error is kept as the probe's message.
    pub(crate) fn fail(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        self.log.push(format!("level=error msg={msg:?}"));
        if self.error.is_none() {
            self.error = Some(msg);
        }
    }

    pub(crate) fn info(&mut self, msg: impl Into<String>) {
        self.log.push(format!("level=info msg={:?}", msg.into()));
    }

    /// The value of an unlabeled series.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|m| m.name == name && m.labels.is_empty())
            .map(|m| m.value)
    }

    /// Prometheus text exposition, families sorted by name, like blackbox_exporter's registry.
    pub fn exposition(&self) -> String {
        let mut ms: Vec<&Metric> = self.metrics.iter().collect();
        ms.sort_by(|a, b| a.name.cmp(b.name).then_with(|| a.labels.cmp(&b.labels)));
        let mut out = String::new();
        let mut last = "";
        for m in ms {
            if m.name != last {
                let _ = writeln!(out, "# HELP {} {}", m.name, m.help);
                let _ = writeln!(out, "# TYPE {} gauge", m.name);
                last = m.name;
            }
            out.push_str(m.name);
            if !m.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in m.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let v = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    let _ = write!(out, "{k}=\"{v}\"");
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", fmt_value(m.value));
        }
        out
    }
}

fn fmt_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        format!("{v}")
    }
}

pub(crate) const HELP_SUCCESS: &str = "Displays whether or not the probe was a success";
pub(crate) const HELP_DURATION: &str = "Returns how long the probe took to complete in seconds";

/// Runs `module` against `target` with the module's timeout; always returns an output with
/// `probe_success` and `probe_duration_seconds`.
pub async fn run_probe(module: &Module, target: &str) -> ProbeOutput {
    let start = Instant::now();
    let timeout = Duration::from_millis(module.timeout_ms().max(1) as u64);
    let deadline = start + timeout;
    let mut out = ProbeOutput::default();
    out.info(format!(
        "Beginning probe probe={} timeout_seconds={}",
        module.prober,
        timeout.as_secs_f64()
    ));
    let ok = {
        let fut = dispatch(module, target, deadline, &mut out);
        tokio::time::timeout_at(deadline.into(), fut).await
    };
    let ok = match ok {
        Ok(ok) => ok,
        Err(_) => {
            out.fail(format!("probe timed out after {}s", timeout.as_secs_f64()));
            false
        }
    };
    let ok = ok && out.error.is_none();
    let elapsed = start.elapsed().as_secs_f64();
    out.success = ok;
    out.duration_seconds = elapsed;
    out.set("probe_success", HELP_SUCCESS, if ok { 1.0 } else { 0.0 });
    out.set("probe_duration_seconds", HELP_DURATION, elapsed);
    if ok {
        out.info(format!("Probe succeeded duration_seconds={elapsed}"));
    } else {
        out.log.push(format!(
            "level=error msg=\"Probe failed\" duration_seconds={elapsed}"
        ));
    }
    out
}

async fn dispatch(module: &Module, target: &str, deadline: Instant, o: &mut ProbeOutput) -> bool {
    match module.prober.as_str() {
        "http" => http::probe(target, &module.http, o).await,
        "tcp" => tcp::probe(target, &module.tcp, o).await,
        "dns" => dns::probe(target, &module.dns, deadline, o).await,
        "icmp" => icmp::probe(target, &module.icmp, deadline, o).await,
        other => {
            o.fail(format!("unknown prober {other:?}"));
            false
        }
    }
}

/// blackbox_exporter's `probe_ip_addr_hash`: FNV-1a (32 bit) over the address bytes.
pub fn ip_hash(ip: IpAddr) -> f64 {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.octets().to_vec(),
            None => v6.octets().to_vec(),
        },
    };
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h as f64
}

/// Resolves `host` preferring `preferred` ("ip4"/"ip6", blackbox_exporter's default ip6, with
/// fallback to the other family), records `probe_dns_lookup_time_seconds`, `probe_ip_protocol`
/// and `probe_ip_addr_hash`, and returns the address and the lookup time.
pub(crate) async fn resolve(
    host: &str,
    preferred: Option<&str>,
    fallback: bool,
    out: &mut ProbeOutput,
) -> Option<(IpAddr, f64)> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let want6 = preferred.unwrap_or("ip6") == "ip6";
    out.info(format!(
        "Resolving target address target={host} ip_protocol={}",
        if want6 { "ip6" } else { "ip4" }
    ));
    let start = Instant::now();
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => match tokio::net::lookup_host((host, 0)).await {
            Ok(it) => it.map(|a: SocketAddr| a.ip()).collect(),
            Err(e) => {
                out.set(
                    "probe_dns_lookup_time_seconds",
                    HELP_DNS_LOOKUP,
                    start.elapsed().as_secs_f64(),
                );
                out.fail(format!("Resolution with IP protocol failed: {e}"));
                return None;
            }
        },
    };
    let lookup = start.elapsed().as_secs_f64();
    out.set("probe_dns_lookup_time_seconds", HELP_DNS_LOOKUP, lookup);
    let pick = addrs
        .iter()
        .find(|a| a.is_ipv6() == want6)
        .or_else(|| {
            if fallback || host.parse::<IpAddr>().is_ok() {
                addrs.first()
            } else {
                None
            }
        })
        .copied();
    let Some(ip) = pick else {
        out.fail(format!("no address of the wanted IP protocol for {host}"));
        return None;
    };
    out.set(
        "probe_ip_protocol",
        "Specifies whether probe ip protocol is IP4 or IP6",
        if ip.is_ipv6() { 6.0 } else { 4.0 },
    );
    out.set(
        "probe_ip_addr_hash",
        "Specifies the hash of IP address. It's useful to detect if the IP address changes.",
        ip_hash(ip),
    );
    out.info(format!("Resolved target address target={host} ip={ip}"));
    Some((ip, lookup))
}

pub(crate) const HELP_DNS_LOOKUP: &str = "Returns the time taken for probe dns lookup in seconds";
pub(crate) const HELP_FAILED_REGEX: &str = "Indicates if probe failed due to regex";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_hash_matches_blackbox_exporter() {
        // blackbox_exporter 0.23 reports 3.668918509e+09 for 127.0.0.1.
        assert_eq!(ip_hash("127.0.0.1".parse().unwrap()), 3_668_918_509.0);
    }

    #[test]
    fn exposition_sorted_with_help() {
        let mut o = ProbeOutput::default();
        o.set("probe_success", HELP_SUCCESS, 1.0);
        o.set_labeled(
            "probe_http_duration_seconds",
            "Duration",
            vec![("phase", "tls".into())],
            0.0,
        );
        o.set_labeled(
            "probe_http_duration_seconds",
            "Duration",
            vec![("phase", "connect".into())],
            0.5,
        );
        let t = o.exposition();
        assert_eq!(
            t,
            "# HELP probe_http_duration_seconds Duration\n# TYPE probe_http_duration_seconds gauge\nprobe_http_duration_seconds{phase=\"connect\"} 0.5\nprobe_http_duration_seconds{phase=\"tls\"} 0\n# HELP probe_success Displays whether or not the probe was a success\n# TYPE probe_success gauge\nprobe_success 1\n"
        );
    }
}

//! The icmp prober: one IPv4 echo request over a raw socket (needs CAP_NET_RAW) or, failing
//! that, an unprivileged ping socket (`net.ipv4.ping_group_range`); when neither may be opened
//! the probe fails with a message saying so. `probe_icmp_duration_seconds{phase}` and
//! `probe_icmp_reply_hop_limit` as blackbox_exporter. IPv6 ICMP is not implemented yet.

use crate::{resolve, ProbeOutput};
use config::probes::IcmpProbe;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const HELP_PHASE: &str = "Duration of icmp request by phase";

fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        let w = (u32::from(c[0]) << 8) | u32::from(*c.get(1).unwrap_or(&0));
        sum = sum.wrapping_add(w);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Echo request packet (type 8) with `id`, `seq` and `payload` bytes.
fn echo_request(id: u16, seq: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![8u8, 0, 0, 0];
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend((0..payload).map(|i| (i % 256) as u8));
    let c = checksum(&p);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

struct Fd(i32);
impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: we own this descriptor and close it once.
        unsafe { libc::close(self.0) };
    }
}

/// Blocking ping of `dst`: Ok((setup seconds, rtt seconds, hop limit if known)).
fn ping(
    dst: Ipv4Addr,
    ttl: Option<u32>,
    payload: usize,
    timeout: Duration,
) -> Result<(f64, f64, Option<u8>), String> {
    let t0 = Instant::now();
    // SAFETY: plain socket(2) calls; the results are checked.
    let (fd, raw) = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP);
        if fd >= 0 {
            (Fd(fd), true)
        } else {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, libc::IPPROTO_ICMP);
            if fd < 0 {
                return Err(format!(
                    "ICMP is not permitted for this process ({}): run pharos with CAP_NET_RAW or allow its group in net.ipv4.ping_group_range",
                    std::io::Error::last_os_error()
                ));
            }
            (Fd(fd), false)
        }
    };
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: setsockopt with correctly sized option values on our own descriptor.
    unsafe {
        libc::setsockopt(
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
        if let Some(t) = ttl {
            let t = t as libc::c_int;
            libc::setsockopt(
                fd.0,
                libc::IPPROTO_IP,
                libc::IP_TTL,
                &t as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    let id = (std::process::id() & 0xffff) as u16;
    let seq = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(1)
        & 0xffff) as u16;
    let pkt = echo_request(id, seq, payload);
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(dst.octets()),
        },
        sin_zero: [0; 8],
    };
    let setup = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    // SAFETY: pkt and addr outlive the call; lengths are theirs.
    let n = unsafe {
        libc::sendto(
            fd.0,
            pkt.as_ptr() as *const libc::c_void,
            pkt.len(),
            0,
            &addr as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(format!(
            "sending ICMP echo: {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut buf = [0u8; 1500];
    loop {
        if t1.elapsed() > timeout {
            return Err("timed out waiting for the ICMP echo reply".into());
        }
        // SAFETY: buf is writable for its length.
        let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n < 0 {
            return Err(format!(
                "waiting for the ICMP echo reply: {}",
                std::io::Error::last_os_error()
            ));
        }
        let got = &buf[..n as usize];
        let (icmp, hop) = if raw {
            let ihl = usize::from(got.first().copied().unwrap_or(0) & 0x0f) * 4;
            let Some(src) = got.get(12..16) else { continue };
            if src != dst.octets() {
                continue;
            }
            (got.get(ihl..).unwrap_or(&[]), got.get(8).copied())
        } else {
            (got, None)
        };
        // Echo reply (type 0); a ping socket rewrites the id, so only raw sockets check it.
        if icmp.len() >= 8
            && icmp[0] == 0
            && (!raw || icmp[4..6] == id.to_be_bytes())
            && icmp[6..8] == seq.to_be_bytes()
        {
            return Ok((setup, t1.elapsed().as_secs_f64(), hop));
        }
    }
}

/// Pings `target`; returns success.
pub async fn probe(target: &str, c: &IcmpProbe, deadline: Instant, out: &mut ProbeOutput) -> bool {
    let fallback = c.ip_protocol_fallback.unwrap_or(true);
    let Some((ip, lookup)) =
        resolve(target, c.preferred_ip_protocol.as_deref(), fallback, out).await
    else {
        return false;
    };
    let set = |out: &mut ProbeOutput, p: &str, v: f64| {
        out.set_labeled(
            "probe_icmp_duration_seconds",
            HELP_PHASE,
            vec![("phase", p.to_string())],
            v,
        )
    };
    set(out, "resolve", lookup);
    set(out, "setup", 0.0);
    set(out, "rtt", 0.0);
    let IpAddr::V4(v4) = ip else {
        out.fail("ICMP over IPv6 is not supported by pharos yet; use preferred_ip_protocol: ip4");
        return false;
    };
    let timeout = deadline.saturating_duration_since(Instant::now());
    let (ttl, payload) = (c.ttl, c.payload_size.unwrap_or(36).min(1400));
    out.info(format!("Creating socket and sending ICMP echo to {v4}"));
    match tokio::task::spawn_blocking(move || ping(v4, ttl, payload, timeout)).await {
        Ok(Ok((setup, rtt, hop))) => {
            set(out, "setup", setup);
            set(out, "rtt", rtt);
            if let Some(h) = hop {
                out.set(
                    "probe_icmp_reply_hop_limit",
                    "Replied packet hop limit (TTL for ipv4)",
                    f64::from(h),
                );
            }
            out.info("Found matching reply packet");
            true
        }
        Ok(Err(e)) => {
            out.fail(e);
            false
        }
        Err(e) => {
            out.fail(format!("ICMP task failed: {e}"));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_checksum_verifies() {
        let p = echo_request(0x1234, 1, 36);
        assert_eq!(checksum(&p), 0);
        assert_eq!(p[0], 8);
    }
}

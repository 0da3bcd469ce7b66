//! The dns prober and a small DNS message codec (RFC 1035): builds one query, decodes the
//! reply's header and resource records (names with compression pointers; A, AAAA, NS, CNAME,
//! PTR, MX, TXT, SOA rendered like miekg/dns prints them, others as `\# len hex`), over UDP or
//! TCP. Series as blackbox_exporter: `probe_dns_answer_rrs`, `probe_dns_duration_seconds{phase}`,
//! `probe_dns_query_succeeded`, `probe_dns_serial`, …

use crate::{resolve, ProbeOutput};
use config::probes::{DnsProbe, DnsRrValidator};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Record types by name (and back).
const TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("PTR", 12),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
    ("SRV", 33),
    ("CAA", 257),
    ("ANY", 255),
];

const RCODES: &[&str] = &[
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE",
];

/// Numeric type of a name such as `A` or `TYPE65`.
pub fn type_code(name: &str) -> Option<u16> {
    let up = name.to_ascii_uppercase();
    TYPES
        .iter()
        .find(|(n, _)| *n == up)
        .map(|(_, c)| *c)
        .or_else(|| up.strip_prefix("TYPE")?.parse().ok())
}

fn type_name(code: u16) -> String {
    TYPES
        .iter()
        .find(|(_, c)| *c == code)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| format!("TYPE{code}"))
}

/// One resource record.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub data: String,
    /// SOA serial, when this is an SOA record.
    pub serial: Option<u32>,
}

impl Record {
    /// miekg/dns' text form (`name.\tttl\tIN\tA\t1.2.3.4`), what blackbox_exporter's regexes see.
    pub fn to_text(&self) -> String {
        let class = if self.class == 1 {
            "IN".to_string()
        } else {
            format!("CLASS{}", self.class)
        };
        format!(
            "{}\t{}\t{}\t{}\t{}",
            self.name,
            self.ttl,
            class,
            type_name(self.rtype),
            self.data
        )
    }
}

/// A decoded reply.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
    pub id: u16,
    pub rcode: u8,
    pub truncated: bool,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
}

/// Encodes a query for `name` of `qtype`.
pub fn encode_query(
    id: u16,
    name: &str,
    qtype: u16,
    class: u16,
    rd: bool,
) -> Result<Vec<u8>, String> {
    let mut b = Vec::with_capacity(32 + name.len());
    b.extend_from_slice(&id.to_be_bytes());
    b.extend_from_slice(&(if rd { 0x0100u16 } else { 0 }).to_be_bytes());
    b.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        if label.len() > 63 {
            return Err(format!("DNS label {label:?} longer than 63 bytes"));
        }
        b.push(label.len() as u8);
        b.extend_from_slice(label.as_bytes());
    }
    b.push(0);
    b.extend_from_slice(&qtype.to_be_bytes());
    b.extend_from_slice(&class.to_be_bytes());
    Ok(b)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let v = *self.b.get(self.pos)?;
        self.pos += 1;
        Some(v)
    }
    fn u16(&mut self) -> Option<u16> {
        Some((u16::from(self.u8()?) << 8) | u16::from(self.u8()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some((u32::from(self.u16()?) << 16) | u32::from(self.u16()?))
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    /// A (possibly compressed) domain name at the cursor, as `a.b.`.
    fn name(&mut self) -> Option<String> {
        let mut out = String::new();
        let mut pos = self.pos;
        let mut jumped = false;
        let mut hops = 0;
        loop {
            let len = *self.b.get(pos)?;
            if len & 0xc0 == 0xc0 {
                let ptr = (usize::from(len & 0x3f) << 8) | usize::from(*self.b.get(pos + 1)?);
                if !jumped {
                    self.pos = pos + 2;
                }
                jumped = true;
                hops += 1;
                if hops > 64 || ptr >= self.b.len() {
                    return None;
                }
                pos = ptr;
                continue;
            }
            if len & 0xc0 != 0 {
                return None;
            }
            if len == 0 {
                if !jumped {
                    self.pos = pos + 1;
                }
                break;
            }
            let label = self.b.get(pos + 1..pos + 1 + usize::from(len))?;
            out.push_str(&String::from_utf8_lossy(label));
            out.push('.');
            pos += 1 + usize::from(len);
            if out.len() > 255 {
                return None;
            }
        }
        if out.is_empty() {
            out.push('.');
        }
        Some(out)
    }
    fn record(&mut self) -> Option<Record> {
        let name = self.name()?;
        let rtype = self.u16()?;
        let class = self.u16()?;
        let ttl = self.u32()?;
        let len = usize::from(self.u16()?);
        let start = self.pos;
        let rdata = self.take(len)?;
        let mut sub = Reader {
            b: self.b,
            pos: start,
        };
        let mut serial = None;
        let data = match rtype {
            1 if len == 4 => format!("{}.{}.{}.{}", rdata[0], rdata[1], rdata[2], rdata[3]),
            28 if len == 16 => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rdata);
                std::net::Ipv6Addr::from(a).to_string()
            }
            2 | 5 | 12 => sub.name()?,
            15 => {
                let pref = sub.u16()?;
                format!("{pref} {}", sub.name()?)
            }
            16 => {
                let mut parts = Vec::new();
                let mut r = Reader { b: rdata, pos: 0 };
                while r.pos < rdata.len() {
                    let l = usize::from(r.u8()?);
                    let s = r.take(l)?;
                    parts.push(format!("{:?}", String::from_utf8_lossy(s)));
                }
                parts.join(" ")
            }
            6 => {
                let m = sub.name()?;
                let r = sub.name()?;
                let s = sub.u32()?;
                serial = Some(s);
                let (a, b, c, d) = (sub.u32()?, sub.u32()?, sub.u32()?, sub.u32()?);
                format!("{m} {r} {s} {a} {b} {c} {d}")
            }
            _ => {
                let hex: String = rdata.iter().map(|x| format!("{x:02x}")).collect();
                format!("\\# {len} {hex}")
            }
        };
        Some(Record {
            name,
            rtype,
            class,
            ttl,
            data,
            serial,
        })
    }
}

/// Decodes a DNS message; Err for anything malformed (never panics).
pub fn decode(b: &[u8]) -> Result<Message, String> {
    let mut r = Reader { b, pos: 0 };
    let bad = || "malformed DNS message".to_string();
    let id = r.u16().ok_or_else(bad)?;
    let flags = r.u16().ok_or_else(bad)?;
    let qd = r.u16().ok_or_else(bad)?;
    let an = r.u16().ok_or_else(bad)?;
    let ns = r.u16().ok_or_else(bad)?;
    let ar = r.u16().ok_or_else(bad)?;
    for _ in 0..qd {
        r.name().ok_or_else(bad)?;
        r.take(4).ok_or_else(bad)?;
    }
    let mut section = |n: u16| -> Result<Vec<Record>, String> {
        (0..n).map(|_| r.record().ok_or_else(bad)).collect()
    };
    let answers = section(an)?;
    let authority = section(ns)?;
    let additional = section(ar)?;
    Ok(Message {
        id,
        rcode: (flags & 0x0f) as u8,
        truncated: flags & 0x0200 != 0,
        answers,
        authority,
        additional,
    })
}

fn validate(records: &[Record], v: &DnsRrValidator, what: &str, out: &mut ProbeOutput) -> bool {
    let texts: Vec<String> = records.iter().map(Record::to_text).collect();
    let compile = |r: &String| regex::Regex::new(r).ok();
    for re in &v.fail_if_matches_regexp {
        if let Some(x) = compile(re) {
            if texts.iter().any(|t| x.is_match(t)) {
                out.fail(format!("{what} RR matched regexp {re:?}"));
                return false;
            }
        }
    }
    for re in &v.fail_if_all_match_regexp {
        if let Some(x) = compile(re) {
            if !texts.is_empty() && texts.iter().all(|t| x.is_match(t)) {
                out.fail(format!("all {what} RRs matched regexp {re:?}"));
                return false;
            }
        }
    }
    for re in &v.fail_if_not_matches_regexp {
        if let Some(x) = compile(re) {
            if texts.iter().any(|t| !x.is_match(t)) {
                out.fail(format!("{what} RR did not match regexp {re:?}"));
                return false;
            }
        }
    }
    for re in &v.fail_if_none_matches_regexp {
        if let Some(x) = compile(re) {
            if !texts.iter().any(|t| x.is_match(t)) {
                out.fail(format!("no {what} RR matched regexp {re:?}"));
                return false;
            }
        }
    }
    true
}

const HELP_PHASE: &str = "Duration of DNS request by phase";

/// Probes the DNS server `target` (`host[:port]`, port 53 by default); returns success.
pub async fn probe(target: &str, d: &DnsProbe, deadline: Instant, out: &mut ProbeOutput) -> bool {
    for (name, help) in [
        (
            "probe_dns_answer_rrs",
            "Returns number of entries in the answer resource record list",
        ),
        (
            "probe_dns_authority_rrs",
            "Returns number of entries in the authority resource record list",
        ),
        (
            "probe_dns_additional_rrs",
            "Returns number of entries in the additional resource record list",
        ),
        (
            "probe_dns_query_succeeded",
            "Displays whether or not the query was executed successfully",
        ),
    ] {
        out.set(name, help, 0.0);
    }
    let (host, port) = match target.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.parse::<u16>().is_ok() => {
            (h.to_string(), p.parse::<u16>().unwrap_or(53))
        }
        _ => (target.to_string(), 53),
    };
    let fallback = d.ip_protocol_fallback.unwrap_or(true);
    let Some((ip, lookup)) =
        resolve(&host, d.preferred_ip_protocol.as_deref(), fallback, out).await
    else {
        return false;
    };
    let phase = |out: &mut ProbeOutput, p: &str, v: f64| {
        out.set_labeled(
            "probe_dns_duration_seconds",
            HELP_PHASE,
            vec![("phase", p.to_string())],
            v,
        )
    };
    phase(out, "resolve", lookup);
    phase(out, "connect", 0.0);
    phase(out, "request", 0.0);
    let qtype_name = d.query_type.clone().unwrap_or_else(|| "ANY".into());
    let Some(qtype) = type_code(&qtype_name) else {
        out.fail(format!("invalid query_type {qtype_name:?}"));
        return false;
    };
    let class = match d.query_class.as_deref().unwrap_or("IN") {
        "IN" => 1,
        "CH" | "CHAOS" => 3,
        "HS" => 4,
        "ANY" => 255,
        c => {
            out.fail(format!("invalid query_class {c:?}"));
            return false;
        }
    };
    let id = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(7)
        ^ std::process::id()) as u16;
    let query = match encode_query(
        id,
        &d.query_name,
        qtype,
        class,
        d.recursion_desired.unwrap_or(true),
    ) {
        Ok(q) => q,
        Err(e) => {
            out.fail(e);
            return false;
        }
    };
    let addr = std::net::SocketAddr::new(ip, port);
    let tcp = d.transport_protocol.as_deref() == Some("tcp");
    out.info(format!(
        "Making DNS query target={addr} dial_protocol={} query={} type={qtype_name}",
        if tcp { "tcp" } else { "udp" },
        d.query_name
    ));
    let t_connect = Instant::now();
    let reply: Result<Vec<u8>, String> = if tcp {
        async {
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| format!("dial tcp {addr}: {e}"))?;
            phase(out, "connect", t_connect.elapsed().as_secs_f64());
            let t_req = Instant::now();
            let mut framed = (query.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&query);
            s.write_all(&framed).await.map_err(|e| e.to_string())?;
            let mut lb = [0u8; 2];
            s.read_exact(&mut lb).await.map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(lb))];
            s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
            phase(out, "request", t_req.elapsed().as_secs_f64());
            Ok(buf)
        }
        .await
    } else {
        async {
            let bind = if ip.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
            let s = tokio::net::UdpSocket::bind(bind)
                .await
                .map_err(|e| format!("udp socket: {e}"))?;
            s.connect(addr)
                .await
                .map_err(|e| format!("dial udp {addr}: {e}"))?;
            phase(out, "connect", t_connect.elapsed().as_secs_f64());
            let t_req = Instant::now();
            s.send(&query).await.map_err(|e| format!("send: {e}"))?;
            let mut buf = vec![0u8; 65_535];
            loop {
                let n = tokio::time::timeout_at(deadline.into(), s.recv(&mut buf))
                    .await
                    .map_err(|_| "timed out waiting for the DNS reply".to_string())?
                    .map_err(|e| format!("read udp {addr}: {e}"))?;
                // Ignore stray datagrams whose id is not ours.
                if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                    buf.truncate(n);
                    break;
                }
            }
            phase(out, "request", t_req.elapsed().as_secs_f64());
            Ok(buf)
        }
        .await
    };
    let msg = match reply.and_then(|b| decode(&b)) {
        Ok(m) => m,
        Err(e) => {
            out.fail(format!("Error while sending a DNS query: {e}"));
            return false;
        }
    };
    out.set(
        "probe_dns_query_succeeded",
        "Displays whether or not the query was executed successfully",
        1.0,
    );
    out.set(
        "probe_dns_answer_rrs",
        "Returns number of entries in the answer resource record list",
        msg.answers.len() as f64,
    );
    out.set(
        "probe_dns_authority_rrs",
        "Returns number of entries in the authority resource record list",
        msg.authority.len() as f64,
    );
    out.set(
        "probe_dns_additional_rrs",
        "Returns number of entries in the additional resource record list",
        msg.additional.len() as f64,
    );
    if let Some(s) = msg
        .answers
        .iter()
        .chain(&msg.authority)
        .find_map(|r| r.serial)
    {
        out.set(
            "probe_dns_serial",
            "Returns the serial number of the zone",
            s as f64,
        );
    }
    let rcode = RCODES
        .get(usize::from(msg.rcode))
        .map(|s| s.to_string())
        .unwrap_or_else(|| msg.rcode.to_string());
    let valid: Vec<String> = if d.valid_rcodes.is_empty() {
        vec!["NOERROR".into()]
    } else {
        d.valid_rcodes.clone()
    };
    if !valid.iter().any(|v| v.eq_ignore_ascii_case(&rcode)) {
        out.fail(format!(
            "Rcode {rcode} is not one of the valid rcodes {valid:?}"
        ));
        return false;
    }
    validate(&msg.answers, &d.validate_answer_rrs, "answer", out)
        && validate(&msg.authority, &d.validate_authority_rrs, "authority", out)
        && validate(
            &msg.additional,
            &d.validate_additional_rrs,
            "additional",
            out,
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A reply to `example.com. A` with one compressed answer, built by hand.
    fn reply() -> Vec<u8> {
        let mut b = encode_query(0x1234, "example.com", 1, 1, true).unwrap();
        b[2] = 0x81;
        b[3] = 0x80;
        b[7] = 2; // two answers
        b[11] = 1; // one additional
        b.extend_from_slice(&[
            0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 93, 184, 216, 34,
        ]);
        b.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 6, 5]);
        b.extend_from_slice(b"hello");
        b.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        b
    }

    #[test]
    fn decodes_a_reply() {
        let m = decode(&reply()).unwrap();
        assert_eq!(m.id, 0x1234);
        assert_eq!(m.rcode, 0);
        assert_eq!(m.answers.len(), 2);
        assert_eq!(
            m.answers[0].to_text(),
            "example.com.\t3600\tIN\tA\t93.184.216.34"
        );
        assert_eq!(m.answers[1].data, "\"hello\"");
        assert_eq!(m.additional.len(), 1);
        assert_eq!(m.additional[0].name, ".");
    }

    #[test]
    fn query_encoding_roundtrips_the_question() {
        let q = encode_query(7, "a.example.org.", 28, 1, false).unwrap();
        let m = decode(&q).unwrap();
        assert_eq!(m.id, 7);
        assert!(m.answers.is_empty());
        assert!(encode_query(1, &"x".repeat(64), 1, 1, true).is_err());
        assert_eq!(type_code("aaaa"), Some(28));
        assert_eq!(type_code("TYPE65"), Some(65));
        assert_eq!(type_code("nope"), None);
    }

    #[test]
    fn pointer_loops_are_rejected() {
        let mut b = encode_query(1, "a", 1, 1, true).unwrap();
        b[7] = 1;
        b.extend_from_slice(&[0xc0, 19, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0]);
        // offset 19 points at itself
        assert!(decode(&b).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&b);
        }

        #[test]
        fn truncated_replies_never_panic(cut in 0usize..80) {
            let r = reply();
            let _ = decode(&r[..cut.min(r.len())]);
        }
    }
}

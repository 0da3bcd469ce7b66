//! TLS for the http and tcp probers: a rustls client config from blackbox_exporter's
//! `tls_config` (webpki roots or `ca_file`, `insecure_skip_verify`, `server_name`), the TLS
//! handshake, and the certificate series (`probe_ssl_earliest_cert_expiry`,
//! `probe_ssl_last_chain_expiry_timestamp_seconds`, `probe_ssl_last_chain_info`,
//! `probe_tls_version_info`) read from the peer chain with a minimal DER reader (validity and
//! subject/issuer only — no general X.509 parsing).

use crate::ProbeOutput;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;

/// `insecure_skip_verify`: any server certificate is accepted, the handshake's signatures
/// are still checked with the provider's algorithms (also the forwarders' OTLP/gRPC TLS).
#[derive(Debug)]
pub struct NoVerify(pub Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Decodes the PEM certificates of `text`.
fn pem_certs(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            cur = Some(String::new());
        } else if line.starts_with("-----END CERTIFICATE") {
            if let Some(b64) = cur.take() {
                if let Some(der) = base64_decode(&b64) {
                    out.push(der);
                }
            }
        } else if let Some(c) = cur.as_mut() {
            c.push_str(line);
        }
    }
    out
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            b' ' | b'\r' | b'\n' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// A rustls client config for `tls` (blackbox_exporter's `tls_config`).
pub fn client_config(tls: &config::TlsConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut cfg = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        let ca_text = match (&tls.ca, &tls.ca_file) {
            (Some(ca), _) => Some(ca.clone()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| format!("reading ca_file {}: {e}", f.display()))?,
            ),
            _ => None,
        };
        match ca_text {
            Some(t) => {
                let certs = pem_certs(&t);
                if certs.is_empty() {
                    return Err("ca_file holds no PEM certificate".into());
                }
                for der in certs {
                    roots
                        .add(rustls::pki_types::CertificateDer::from(der))
                        .map_err(|e| format!("ca certificate: {e}"))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// The handshake result needed for the series.
pub struct TlsInfo {
    pub version: String,
    pub chain: Vec<Vec<u8>>,
    pub verified: bool,
}

/// Performs the TLS handshake over `stream` for `host`.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    host: &str,
    tls: &config::TlsConfig,
) -> Result<(tokio_rustls::client::TlsStream<S>, TlsInfo), String> {
    let cfg = client_config(tls)?;
    let name = match &tls.server_name {
        Some(s) if !s.is_empty() => s.clone(),
        _ => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    };
    let sn = rustls::pki_types::ServerName::try_from(name.clone())
        .map_err(|e| format!("invalid TLS server name {name:?}: {e}"))?;
    let conn = tokio_rustls::TlsConnector::from(cfg)
        .connect(sn, stream)
        .await
        .map_err(|e| format!("TLS handshake failed: {e}"))?;
    let (_, session) = conn.get_ref();
    let version = match session.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
        _ => "unknown",
    }
    .to_string();
    let chain = session
        .peer_certificates()
        .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect())
        .unwrap_or_default();
    Ok((
        conn,
        TlsInfo {
            version,
            chain,
            verified: !tls.insecure_skip_verify,
        },
    ))
}

/// Writes the certificate and TLS version series of a handshake into `out`.
pub fn record(info: &TlsInfo, out: &mut ProbeOutput) {
    let certs: Vec<CertSummary> = info.chain.iter().filter_map(|d| summarize(d)).collect();
    if let Some(earliest) = certs.iter().map(|c| c.not_after).min() {
        out.set(
            "probe_ssl_earliest_cert_expiry",
            "Returns earliest SSL cert expiry in unixtime",
            earliest as f64,
        );
    }
    // Go's zero time when nothing was verified (insecure_skip_verify), as blackbox_exporter does.
    let last_chain = if info.verified {
        certs
            .iter()
            .map(|c| c.not_after)
            .min()
            .unwrap_or(-62_135_596_800)
    } else {
        -62_135_596_800
    };
    out.set(
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "Returns last SSL chain expiry in timestamp",
        last_chain as f64,
    );
    if let (Some(leaf), Some(der)) = (certs.first(), info.chain.first()) {
        let fp = ring::digest::digest(&ring::digest::SHA256, der);
        let hex: String = fp.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        out.set_labeled(
            "probe_ssl_last_chain_info",
            "Contains SSL leaf certificate information",
            vec![
                ("fingerprint_sha256", hex),
                ("issuer", leaf.issuer.clone()),
                ("subject", leaf.subject.clone()),
                ("subjectalternative", String::new()),
            ],
            1.0,
        );
    }
    out.set_labeled(
        "probe_tls_version_info",
        "Returns the TLS version used or NaN when unknown",
        vec![("version", info.version.clone())],
        1.0,
    );
}

/// What the series need from a certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct CertSummary {
    pub not_before: i64,
    pub not_after: i64,
    pub subject: String,
    pub issuer: String,
}

/// One DER TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let l0 = *b.get(1)? as usize;
    let (len, hdr) = if l0 < 0x80 {
        (l0, 2)
    } else {
        let n = l0 & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = hdr.checked_add(len)?;
    if end > b.len() {
        return None;
    }
    Some((tag, &b[hdr..end], &b[end..]))
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// UTCTime (tag 0x17) or GeneralizedTime (0x18) in Z form → Unix seconds.
fn der_time(tag: u8, c: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(c).ok()?;
    let s = s.strip_suffix('Z')?;
    let (year, rest) = match tag {
        0x17 => {
            let yy: i64 = s.get(0..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(0..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    let n = |r: std::ops::Range<usize>| -> Option<i64> { rest.get(r)?.parse().ok() };
    let (mo, d, h, mi) = (n(0..2)?, n(2..4)?, n(4..6)?, n(6..8)?);
    let sec = n(8..10).unwrap_or(0);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(year, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// An RDN sequence as Go's pkix.Name.String() prints common attributes (`CN=a,O=b`).
fn der_name(c: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut rest = c;
    while let Some((_, set, r)) = tlv(rest) {
        rest = r;
        let mut s = set;
        while let Some((_, atv, r2)) = tlv(s) {
            s = r2;
            let Some((_, oid, after)) = tlv(atv) else {
                continue;
            };
            let Some((_, val, _)) = tlv(after) else {
                continue;
            };
            let key = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x06] => "C",
                [0x55, 0x04, 0x07] => "L",
                [0x55, 0x04, 0x08] => "ST",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                _ => continue,
            };
            parts.push(format!("{key}={}", String::from_utf8_lossy(val)));
        }
    }
    parts.reverse();
    parts.join(",")
}

/// Validity, subject and issuer of a DER certificate; None when it is not one.
pub fn summarize(der: &[u8]) -> Option<CertSummary> {
    let (t, cert, _) = tlv(der)?;
    if t != 0x30 {
        return None;
    }
    let (t, tbs, _) = tlv(cert)?;
    if t != 0x30 {
        return None;
    }
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r; // [0] version
    }
    let (_, _, r) = tlv(rest)?; // serialNumber
    let (_, _, r) = tlv(r)?; // signature
    let (_, issuer, r) = tlv(r)?;
    let (vt, validity, r) = tlv(r)?;
    if vt != 0x30 {
        return None;
    }
    let (_, subject, _) = tlv(r)?;
    let (t1, nb, vr) = tlv(validity)?;
    let (t2, na, _) = tlv(vr)?;
    Some(CertSummary {
        not_before: der_time(t1, nb)?,
        not_after: der_time(t2, na)?,
        subject: der_name(subject),
        issuer: der_name(issuer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn times() {
        assert_eq!(der_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(der_time(0x17, b"261201233000Z"), Some(1_796_167_800));
        assert_eq!(der_time(0x18, b"20500101000000Z"), Some(2_524_608_000));
        assert_eq!(der_time(0x18, b"2050"), None);
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
    }

    proptest! {
        #[test]
        fn summarize_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = summarize(&b);
        }
    }
}

//! Email notifications over SMTP with a minimal client on tokio: greeting, EHLO, STARTTLS
//! (required by default, as in Alertmanager) or implicit TLS on port 465, AUTH PLAIN or LOGIN
//! when credentials are set, MAIL FROM / RCPT TO / DATA with a multipart/alternative message
//! (text and HTML parts), QUIT. TLS uses rustls with the webpki root certificates;
//! `tls_config.insecure_skip_verify` disables verification, `server_name` overrides SNI.
//! Written by hand (≈250 lines) instead of pulling lettre and its transport stack.
//! pharos appends each alert's incident page link to both parts.

use super::{Notification, NotifyError};
use crate::config::EmailConfig;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::rustls;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

type Conn = BufReader<Box<dyn Stream>>;

#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

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

async fn tls(c: &EmailConfig, stream: Box<dyn Stream>) -> Result<Box<dyn Stream>, NotifyError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| NotifyError::permanent(format!("email: TLS setup: {e}")))?;
    let config = if c.tls_config.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    let host = match &c.tls_config.server_name {
        Some(s) if !s.is_empty() => s.clone(),
        _ => c
            .smarthost
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
            .unwrap_or_else(|| c.smarthost.clone()),
    };
    let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|e| {
        NotifyError::permanent(format!("email: invalid TLS server name {host:?}: {e}"))
    })?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| {
            NotifyError::retryable(format!("email: TLS handshake with {}: {e}", c.smarthost))
        })?;
    Ok(Box::new(tls))
}

async fn reply(c: &mut Conn) -> Result<(u16, String), NotifyError> {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = c
            .read_line(&mut line)
            .await
            .map_err(|e| NotifyError::retryable(format!("email: reading reply: {e}")))?;
        if n == 0 {
            return Err(NotifyError::retryable("email: connection closed by server"));
        }
        all.push_str(&line);
        let b = line.as_bytes();
        if b.len() < 4 || b[3] != b'-' {
            let code = line
                .get(..3)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| NotifyError::retryable(format!("email: bad reply {line:?}")))?;
            return Ok((code, all));
        }
    }
}

async fn cmd(c: &mut Conn, line: &str, want: u16) -> Result<String, NotifyError> {
    c.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(|e| NotifyError::retryable(format!("email: write: {e}")))?;
    let (code, text) = reply(c).await?;
    if code / 100 != want / 100 {
        let verb = line.split_whitespace().next().unwrap_or("");
        let msg = format!("email: {verb}: {}", text.trim());
        return Err(if code >= 500 {
            NotifyError::permanent(msg)
        } else {
            NotifyError::retryable(msg)
        });
    }
    Ok(text)
}

fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for ch in data.chunks(3) {
        let b = [ch[0], *ch.get(1).unwrap_or(&0), *ch.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= ch.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Extracts the bare address from `Name <addr>` or `addr`.
fn address(s: &str) -> String {
    match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b => s[a + 1..b].trim().to_string(),
        _ => s.trim().to_string(),
    }
}

/// Builds the RFC 5322 message (CRLF line ends, dot-stuffed for DATA).
pub fn message(c: &EmailConfig, n: &Notification<'_>) -> String {
    let mut msg = String::new();
    for (k, v) in &c.headers {
        let v = n.render(v).replace(['\r', '\n'], " ");
        msg.push_str(&format!("{k}: {v}\r\n"));
    }
    let date = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(n.now)
        .map(|t| t.to_rfc2822())
        .unwrap_or_default();
    msg.push_str(&format!("Date: {date}\r\n"));
    msg.push_str(&format!(
        "Message-Id: <{}.{}@pharos>\r\n",
        n.now,
        crate::sha256::hex(n.group_key.as_bytes())
            .get(..16)
            .unwrap_or("0")
    ));
    msg.push_str("MIME-Version: 1.0\r\n");
    let boundary = format!("pharos-{}", n.now);
    msg.push_str(&format!(
        "Content-Type: multipart/alternative;  boundary={boundary}\r\n\r\n"
    ));
    // pharos' addition: each alert's incident page, at the end of both parts.
    let links = n.incident_links();
    let mut text = n.render(&c.text);
    if !text.is_empty() {
        for l in links.iter().take(20) {
            text.push_str(&format!("\nIncident context: {l}"));
        }
    }
    if !text.is_empty() {
        msg.push_str(&format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{}\r\n",
            text.replace('\n', "\r\n")
        ));
    }
    let mut html = n.render(&c.html);
    if !html.is_empty() {
        for l in links.iter().take(20) {
            let l = l
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;");
            html.push_str(&format!("\n<p><a href=\"{l}\">Incident context</a></p>"));
        }
    }
    if !html.is_empty() {
        msg.push_str(&format!(
            "--{boundary}\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n{}\r\n",
            html.replace('\n', "\r\n")
        ));
    }
    msg.push_str(&format!("--{boundary}--\r\n"));
    msg.split("\r\n")
        .map(|l| {
            if l.starts_with('.') {
                format!(".{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

pub async fn notify(c: &EmailConfig, n: &Notification<'_>) -> Result<(), NotifyError> {
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        TcpStream::connect(&c.smarthost),
    )
    .await
    .map_err(|_| NotifyError::retryable(format!("email: connect to {}: timeout", c.smarthost)))?
    .map_err(|e| NotifyError::retryable(format!("email: connect to {}: {e}", c.smarthost)))?;
    let mut stream: Box<dyn Stream> = Box::new(stream);
    // Port 465 speaks TLS from the first byte (SMTPS), as in Alertmanager.
    let implicit_tls = c.smarthost.ends_with(":465");
    if implicit_tls {
        stream = tls(c, stream).await?;
    }
    let mut conn: Conn = BufReader::new(stream);
    let (code, text) = reply(&mut conn).await?;
    if code != 220 {
        return Err(NotifyError::retryable(format!(
            "email: greeting: {}",
            text.trim()
        )));
    }
    let mut ehlo = cmd(&mut conn, &format!("EHLO {}", c.hello), 250).await?;
    if !implicit_tls {
        let offers_starttls = ehlo
            .lines()
            .skip(1)
            .any(|l| l.get(4..).unwrap_or("").eq_ignore_ascii_case("STARTTLS"));
        if offers_starttls {
            cmd(&mut conn, "STARTTLS", 220).await?;
            let inner = conn.into_inner();
            conn = BufReader::new(tls(c, inner).await?);
            ehlo = cmd(&mut conn, &format!("EHLO {}", c.hello), 250).await?;
        } else if c.require_tls {
            return Err(NotifyError::permanent(format!(
                "email: require_tls: true (default), but {:?} does not advertise the STARTTLS extension",
                c.smarthost
            )));
        }
    }
    let exts: Vec<String> = ehlo
        .lines()
        .skip(1)
        .map(|l| l.get(4..).unwrap_or("").to_ascii_uppercase())
        .collect();
    if !c.auth_username.is_empty() {
        let auth_line = exts
            .iter()
            .find(|x| x.starts_with("AUTH"))
            .cloned()
            .unwrap_or_default();
        if auth_line.contains("PLAIN") {
            let token = b64(format!(
                "{}\0{}\0{}",
                c.auth_identity, c.auth_username, c.auth_password
            )
            .as_bytes());
            cmd(&mut conn, &format!("AUTH PLAIN {token}"), 235).await?;
        } else if auth_line.contains("LOGIN") {
            cmd(&mut conn, "AUTH LOGIN", 334).await?;
            cmd(&mut conn, &b64(c.auth_username.as_bytes()), 334).await?;
            cmd(&mut conn, &b64(c.auth_password.as_bytes()), 235).await?;
        } else {
            return Err(NotifyError::permanent(
                "email: server offers no supported AUTH mechanism (PLAIN, LOGIN)",
            ));
        }
    }
    cmd(&mut conn, &format!("MAIL FROM:<{}>", address(&c.from)), 250).await?;
    let to_rendered = n.render(&c.to);
    for rcpt in to_rendered
        .split(',')
        .map(address)
        .filter(|a| !a.is_empty())
    {
        cmd(&mut conn, &format!("RCPT TO:<{rcpt}>"), 250).await?;
    }
    cmd(&mut conn, "DATA", 354).await?;
    let body = message(c, n);
    cmd(&mut conn, &format!("{body}\r\n."), 250).await?;
    let _ = cmd(&mut conn, "QUIT", 221).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn base64() {
        assert_eq!(b64(b"\0user\0pass"), "AHVzZXIAcGFzcw==");
        assert_eq!(b64(b"ab"), "YWI=");
        assert_eq!(address("Alerts <a@b.c>"), "a@b.c");
    }

    /// A fake SMTP server: returns the command transcript and the DATA payload.
    async fn fake_smtp(starttls: bool) -> (String, tokio::task::JoinHandle<(Vec<String>, String)>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let h = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            let mut r = BufReader::new(s);
            r.get_mut().write_all(b"220 test ESMTP\r\n").await.unwrap();
            let mut transcript = Vec::new();
            let mut data = String::new();
            let mut in_data = false;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                    break;
                }
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        r.get_mut().write_all(b"250 queued\r\n").await.unwrap();
                    } else {
                        data.push_str(&line);
                    }
                    continue;
                }
                transcript.push(line.trim_end().to_string());
                let resp: &[u8] = if line.starts_with("EHLO") {
                    if starttls {
                        b"250-test\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
                    } else {
                        b"250-test\r\n250 AUTH PLAIN LOGIN\r\n"
                    }
                } else if line.starts_with("DATA") {
                    in_data = true;
                    b"354 go ahead\r\n"
                } else if line.starts_with("AUTH") {
                    b"235 ok\r\n"
                } else if line.starts_with("QUIT") {
                    b"221 bye\r\n"
                } else {
                    b"250 ok\r\n"
                };
                r.get_mut().write_all(resp).await.unwrap();
                if line.starts_with("QUIT") {
                    break;
                }
            }
            (transcript, data)
        });
        (addr, h)
    }

    fn setup(
        addr: &str,
        require_tls: bool,
    ) -> (crate::dispatch::Loaded, crate::alert::StoredAlert) {
        let text = format!(
            "route:\n  receiver: mail\nreceivers:\n  - name: mail\n    email_configs:\n      - to: 'Ops <ops@example.org>'\n        from: am@example.org\n        smarthost: '{addr}'\n        require_tls: {require_tls}\n        auth_username: u\n        auth_password: p\n        text: 'plain {{{{ .CommonLabels.alertname }}}}'\n"
        );
        let cfg = crate::config::parse(std::path::Path::new("t.yml"), &text).unwrap();
        let loaded = crate::dispatch::Loaded::new(cfg).unwrap();
        let labels: BTreeMap<String, String> =
            [("alertname".to_string(), "DiskFull".to_string())].into();
        let alert = crate::alert::StoredAlert {
            fingerprint: crate::alert::fingerprint(&labels),
            labels,
            annotations: BTreeMap::new(),
            starts_at: 1_700_000_000_000,
            ends_at: i64::MAX,
            generator_url: "http://prom".into(),
            updated_at: 0,
            timeout: true,
        };
        (loaded, alert)
    }

    async fn send(
        loaded: &crate::dispatch::Loaded,
        alert: &crate::alert::StoredAlert,
    ) -> Result<(), NotifyError> {
        let gl: BTreeMap<String, String> = alert.labels.clone();
        let alerts = std::slice::from_ref(alert);
        let data = crate::template::Data::new("mail", &gl, alerts, "http://am", 1);
        let n = Notification {
            receiver: "mail",
            group_key: "{}:{alertname=\"DiskFull\"}",
            group_labels: &gl,
            alerts,
            data: &data,
            value: data.value(),
            templates: &loaded.templates,
            external_url: "http://am",
            now: 1,
        };
        notify(&loaded.config.receivers[0].email[0], &n).await
    }

    #[tokio::test]
    async fn sends_over_plain_smtp() {
        let (addr, server) = fake_smtp(false).await;
        let (loaded, alert) = setup(&addr, false);
        send(&loaded, &alert).await.unwrap();
        let (transcript, data) = server.await.unwrap();
        assert!(
            transcript.contains(&"AUTH PLAIN AHUAcA==".to_string()),
            "{transcript:?}"
        );
        assert!(transcript.contains(&"MAIL FROM:<am@example.org>".to_string()));
        assert!(transcript.contains(&"RCPT TO:<ops@example.org>".to_string()));
        assert!(data.contains("Subject: [FIRING:1] DiskFull \r\n"), "{data}");
        assert!(data.contains("To: Ops <ops@example.org>\r\n"));
        assert!(data.contains("plain DiskFull"));
        assert!(data.contains("Content-Type: text/html"));
        // pharos' addition: the alert's incident page in both parts, at the external URL.
        assert!(
            data.contains("plain DiskFull\r\nIncident context: http://am/incident?alertname=DiskFull&__start=1700000000000\r\n"),
            "{data}"
        );
        assert!(
            data.contains("<a href=\"http://am/incident?alertname=DiskFull&amp;__start=1700000000000\">Incident context</a>"),
            "{data}"
        );
    }

    #[tokio::test]
    async fn require_tls_without_starttls_fails() {
        let (addr, server) = fake_smtp(false).await;
        let (loaded, alert) = setup(&addr, true);
        let e = send(&loaded, &alert).await.unwrap_err();
        assert!(e.message.contains("STARTTLS"), "{}", e.message);
        assert!(!e.retryable);
        drop(server);
    }
}

//! Email notifications over SMTP with a minimal client on tokio: greeting, EHLO, AUTH PLAIN or
//! LOGIN when credentials are set, MAIL FROM / RCPT TO / DATA with a multipart/alternative
//! message (text and HTML parts), QUIT. STARTTLS and implicit TLS (port 465) are not
//! implemented yet: with `require_tls: true` (Alertmanager's default) against a server that
//! needs it the notification fails with a clear error rather than sending in clear text.

use super::{Notification, NotifyError};
use crate::config::EmailConfig;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Conn = BufReader<TcpStream>;

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
    let text = n.render(&c.text);
    if !text.is_empty() {
        msg.push_str(&format!(
            "--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{}\r\n",
            text.replace('\n', "\r\n")
        ));
    }
    let html = n.render(&c.html);
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
    if c.smarthost.ends_with(":465") {
        return Err(NotifyError::permanent(
            "email: implicit TLS (port 465) is not supported by pharos yet",
        ));
    }
    let stream = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        TcpStream::connect(&c.smarthost),
    )
    .await
    .map_err(|_| NotifyError::retryable(format!("email: connect to {}: timeout", c.smarthost)))?
    .map_err(|e| NotifyError::retryable(format!("email: connect to {}: {e}", c.smarthost)))?;
    let mut conn = BufReader::new(stream);
    let (code, text) = reply(&mut conn).await?;
    if code != 220 {
        return Err(NotifyError::retryable(format!(
            "email: greeting: {}",
            text.trim()
        )));
    }
    let ehlo = cmd(&mut conn, &format!("EHLO {}", c.hello), 250).await?;
    let exts: Vec<String> = ehlo
        .lines()
        .skip(1)
        .map(|l| l.get(4..).unwrap_or("").to_ascii_uppercase())
        .collect();
    let has = |e: &str| exts.iter().any(|x| x.starts_with(e));
    if c.require_tls {
        return Err(NotifyError::permanent(if has("STARTTLS") {
            format!(
                "email: {} offers STARTTLS, which pharos does not implement yet; set require_tls: false to send without TLS",
                c.smarthost
            )
        } else {
            format!(
                "email: require_tls: true (default), but {:?} does not advertise the STARTTLS extension",
                c.smarthost
            )
        }));
    }
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
    #[test]
    fn base64() {
        assert_eq!(super::b64(b"\0user\0pass"), "AHVzZXIAcGFzcw==");
        assert_eq!(super::b64(b"ab"), "YWI=");
        assert_eq!(super::address("Alerts <a@b.c>"), "a@b.c");
    }
}

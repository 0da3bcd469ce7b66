//! The tcp prober: connect to `host:port` (optionally TLS), then blackbox_exporter's
//! `query_response` steps — `expect` a regex on the next line read, `send` a line, `starttls`.

use crate::{resolve, tls, ProbeOutput, HELP_FAILED_REGEX};
use config::probes::TcpProbe;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// Probes `target` (`host:port`); returns success.
pub async fn probe(target: &str, t: &TcpProbe, out: &mut ProbeOutput) -> bool {
    let Some((host, port)) = target.rsplit_once(':') else {
        out.fail(format!("target {target:?} is not host:port"));
        return false;
    };
    let Ok(port) = port.parse::<u16>() else {
        out.fail(format!("invalid port in {target:?}"));
        return false;
    };
    out.set("probe_failed_due_to_regex", HELP_FAILED_REGEX, 0.0);
    let fallback = t.ip_protocol_fallback.unwrap_or(true);
    let Some((ip, _)) = resolve(host, t.preferred_ip_protocol.as_deref(), fallback, out).await
    else {
        return false;
    };
    out.info(format!("Dialing TCP address={ip}:{port}"));
    let stream = match tokio::net::TcpStream::connect((ip, port)).await {
        Ok(s) => s,
        Err(e) => {
            out.fail(format!("Error dialing TCP: dial tcp {ip}:{port}: {e}"));
            return false;
        }
    };
    out.info("Successfully dialed");
    let mut conn: Box<dyn Conn> = if t.tls {
        match tls::handshake(stream, host, &t.tls_config).await {
            Ok((s, info)) => {
                tls::record(&info, out);
                Box::new(s)
            }
            Err(e) => {
                out.fail(e);
                return false;
            }
        }
    } else {
        Box::new(stream)
    };
    for (i, step) in t.query_response.iter().enumerate() {
        if let Some(expect) = &step.expect {
            let Ok(re) = regex::Regex::new(expect) else {
                out.fail(format!("invalid regex {expect:?}"));
                return false;
            };
            let mut reader = BufReader::new(&mut conn);
            let mut matched = false;
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line).await {
                    Ok(0) => break,
                    Ok(_) => {
                        out.info(format!("Read line line={:?}", line.trim_end()));
                        if re.is_match(line.trim_end_matches(['\r', '\n'])) {
                            matched = true;
                            break;
                        }
                    }
                    Err(e) => {
                        out.fail(format!("query_response step {i}: read: {e}"));
                        return false;
                    }
                }
            }
            if !matched {
                out.set("probe_failed_due_to_regex", HELP_FAILED_REGEX, 1.0);
                out.fail(format!("Regexp {expect:?} did not match any line"));
                return false;
            }
        }
        if let Some(send) = &step.send {
            out.info(format!("Sending line line={send:?}"));
            if let Err(e) = conn.write_all(format!("{send}\n").as_bytes()).await {
                out.fail(format!("query_response step {i}: write: {e}"));
                return false;
            }
        }
        if step.starttls {
            // The connection is plain TCP here only when `tls` was off; upgrade it.
            out.fail("starttls in query_response is not supported by pharos yet");
            return false;
        }
    }
    true
}

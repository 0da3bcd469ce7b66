//! The http prober: HTTP/1.1 over our own TCP (and rustls) connection so that every phase is
//! timed like blackbox_exporter's `probe_http_duration_seconds{phase}` (resolve, connect, tls,
//! processing = connection ready → first response byte, transfer = first byte → end of body),
//! summed over redirects. Checks status codes, HTTP versions, SSL, body and header regexes.

use crate::{resolve, tls, ProbeOutput, HELP_FAILED_REGEX};
use config::probes::HttpProbe;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const HELP_PHASE: &str = "Duration of http request by phase, summed over all redirects";
const PHASES: [&str; 5] = ["resolve", "connect", "tls", "processing", "transfer"];
const MAX_REDIRECTS: usize = 10;
/// Bodies beyond this are not read further (blackbox_exporter's default is unlimited; we bound memory).
const DEFAULT_BODY_LIMIT: usize = 16 << 20;

trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// A parsed response.
struct Response {
    status: u16,
    version: u8,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    content_length: f64,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn find_subsequence(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Reads one response from `conn`; returns it and the instant the first byte arrived.
async fn read_response(
    conn: &mut dyn Conn,
    head_request: bool,
    limit: usize,
) -> Result<(Response, Instant), String> {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    let mut first_byte: Option<Instant> = None;
    let header_end = loop {
        let n = conn
            .read(&mut chunk)
            .await
            .map_err(|e| format!("reading response: {e}"))?;
        if n == 0 {
            return Err("server closed the connection before a response".into());
        }
        first_byte.get_or_insert_with(Instant::now);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = find_subsequence(&buf, b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err("response headers larger than 64 KiB".into());
        }
    };
    let first = first_byte.unwrap_or_else(Instant::now);
    let mut hdrs = [httparse::EMPTY_HEADER; 128];
    let mut resp = httparse::Response::new(&mut hdrs);
    resp.parse(&buf[..header_end])
        .map_err(|e| format!("invalid HTTP response: {e}"))?;
    let status = resp.code.ok_or("invalid HTTP response: no status")?;
    let version = resp.version.unwrap_or(1);
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_string(),
                String::from_utf8_lossy(h.value).trim().to_string(),
            )
        })
        .collect();
    let mut r = Response {
        status,
        version,
        headers,
        body: Vec::new(),
        content_length: -1.0,
    };
    let mut rest = buf[header_end..].to_vec();
    if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
        r.content_length = r
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if head_request { -1.0 } else { 0.0 });
        return Ok((r, first));
    }
    let chunked = r
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        // Read everything (we sent Connection: close), then decode the chunks.
        read_to_end(conn, &mut rest, limit.saturating_mul(2)).await?;
        r.body = dechunk(&rest)?;
    } else if let Some(len) = r
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        r.content_length = len as f64;
        let want = len.min(limit);
        while rest.len() < want {
            let n = conn
                .read(&mut chunk)
                .await
                .map_err(|e| format!("reading body: {e}"))?;
            if n == 0 {
                return Err(format!(
                    "unexpected EOF: got {} of {len} body bytes",
                    rest.len()
                ));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(want);
        r.body = rest;
    } else {
        read_to_end(conn, &mut rest, limit).await?;
        r.body = rest;
    }
    if r.header("content-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"))
    {
        let mut d = flate2::read::GzDecoder::new(&r.body[..]);
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut plain)
            .map_err(|e| format!("decompressing gzip body: {e}"))?;
        r.body = plain;
        // Go's transport hides the compressed length once it decompresses transparently.
        r.content_length = -1.0;
    }
    Ok((r, first))
}

async fn read_to_end(conn: &mut dyn Conn, buf: &mut Vec<u8>, limit: usize) -> Result<(), String> {
    let mut chunk = [0u8; 8192];
    while buf.len() < limit {
        match conn.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            // A TLS peer closing without close_notify still delivered the body.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(format!("reading body: {e}")),
        }
    }
    Ok(())
}

/// Decodes a chunked body.
pub(crate) fn dechunk(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = find_subsequence(b, b"\r\n").ok_or("truncated chunked body")?;
        let size_text = std::str::from_utf8(&b[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size {
            return Err("truncated chunked body".into());
        }
        out.extend_from_slice(&b[..size]);
        b = b.get(size + 2..).unwrap_or(&[]);
    }
}

struct Hop {
    response: Response,
    ssl: bool,
}

/// One request/response on a fresh connection, adding its phase times to `phases`.
#[allow(clippy::too_many_arguments)]
async fn one_request(
    url: &url::Url,
    method: &str,
    body: Option<&[u8]>,
    h: &HttpProbe,
    phases: &mut [f64; 5],
    out: &mut ProbeOutput,
    first_hop: bool,
) -> Result<Hop, String> {
    let host = url.host_str().ok_or("URL has no host")?.to_string();
    let port = url.port_or_known_default().ok_or("URL has no port")?;
    let https = url.scheme() == "https";
    let t0 = Instant::now();
    let ip = if first_hop {
        let fallback = h.ip_protocol_fallback.unwrap_or(true);
        let (ip, lookup) = resolve(&host, h.preferred_ip_protocol.as_deref(), fallback, out)
            .await
            .ok_or_else(|| out.error.clone().unwrap_or_default())?;
        phases[0] += lookup;
        ip
    } else {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let ip = match bare.parse() {
            Ok(ip) => ip,
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| format!("resolving {bare}: {e}"))?
                .next()
                .ok_or_else(|| format!("resolving {bare}: no address"))?
                .ip(),
        };
        phases[0] += t0.elapsed().as_secs_f64();
        ip
    };
    out.info(format!("Making HTTP request url={url} host={host}:{port}"));
    let t1 = Instant::now();
    let tcp = tokio::net::TcpStream::connect((ip, port))
        .await
        .map_err(|e| format!("dial tcp {}: {e}", std::net::SocketAddr::new(ip, port)))?;
    phases[1] += t1.elapsed().as_secs_f64();
    let mut conn: Box<dyn Conn> = if https {
        let t2 = Instant::now();
        let (s, info) = tls::handshake(tcp, &host, &h.tls_config).await?;
        phases[2] += t2.elapsed().as_secs_f64();
        tls::record(&info, out);
        Box::new(s)
    } else {
        Box::new(tcp)
    };
    let ready = Instant::now();
    let mut req = format!(
        "{method} {} HTTP/1.1\r\n",
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    );
    let has = |name: &str| h.headers.keys().any(|k| k.eq_ignore_ascii_case(name));
    if !has("host") {
        match url.port() {
            Some(p) => req.push_str(&format!("Host: {host}:{p}\r\n")),
            None => req.push_str(&format!("Host: {host}\r\n")),
        }
    }
    if !has("user-agent") {
        req.push_str("User-Agent: Blackbox Exporter/pharos\r\n");
    }
    if !has("accept-encoding") {
        req.push_str("Accept-Encoding: gzip\r\n");
    }
    for (k, v) in &h.headers {
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            return Err(format!("invalid header {k:?}"));
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = &h.basic_auth {
        let pw = match (&b.password, &b.password_file) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map_err(|e| format!("reading password_file: {e}"))?
                .trim()
                .to_string(),
            _ => String::new(),
        };
        req.push_str(&format!(
            "Authorization: Basic {}\r\n",
            base64(format!("{}:{pw}", b.username).as_bytes())
        ));
    } else if let Some(t) = &h.bearer_token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("Connection: close\r\n\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    conn.write_all(&bytes)
        .await
        .map_err(|e| format!("sending request: {e}"))?;
    conn.flush()
        .await
        .map_err(|e| format!("sending request: {e}"))?;
    let (response, first) =
        read_response(conn.as_mut(), method == "HEAD", DEFAULT_BODY_LIMIT).await?;
    phases[3] += first.duration_since(ready).as_secs_f64();
    phases[4] += first.elapsed().as_secs_f64();
    Ok(Hop {
        response,
        ssl: https,
    })
}

fn set_phases(out: &mut ProbeOutput, phases: &[f64; 5]) {
    for (p, v) in PHASES.iter().zip(phases) {
        out.set_labeled(
            "probe_http_duration_seconds",
            HELP_PHASE,
            vec![("phase", p.to_string())],
            *v,
        );
    }
}

/// Probes `target` (a URL); returns success.
pub async fn probe(target: &str, h: &HttpProbe, out: &mut ProbeOutput) -> bool {
    // blackbox_exporter registers every series up front, so a failed probe still reports them.
    for (name, help) in [
        (
            "probe_http_content_length",
            "Length of http content response",
        ),
        ("probe_http_redirects", "The number of redirects"),
        (
            "probe_http_ssl",
            "Indicates if SSL was used for the final redirect",
        ),
        ("probe_http_status_code", "Response HTTP status code"),
        (
            "probe_http_uncompressed_body_length",
            "Length of uncompressed response body",
        ),
        (
            "probe_http_version",
            "Returns the version of HTTP of the probe response",
        ),
        ("probe_failed_due_to_regex", HELP_FAILED_REGEX),
    ] {
        out.set(name, help, 0.0);
    }
    let mut phases = [0.0f64; 5];
    set_phases(out, &phases);
    let mut url = match url::Url::parse(target) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
        Ok(u) => {
            out.fail(format!("unsupported URL scheme {:?}", u.scheme()));
            return false;
        }
        Err(e) => {
            out.fail(format!("could not parse target URL {target:?}: {e}"));
            return false;
        }
    };
    let mut method = h.method.clone().unwrap_or_else(|| "GET".into());
    let mut body: Option<Vec<u8>> = match (&h.body, &h.body_file) {
        (Some(b), _) => Some(b.clone().into_bytes()),
        (None, Some(f)) => match std::fs::read(f) {
            Ok(b) => Some(b),
            Err(e) => {
                out.fail(format!("reading body_file {}: {e}", f.display()));
                return false;
            }
        },
        _ => None,
    };
    let mut redirects = 0usize;
    let hop = loop {
        let r = one_request(
            &url,
            &method,
            body.as_deref(),
            h,
            &mut phases,
            out,
            redirects == 0,
        )
        .await;
        set_phases(out, &phases);
        let hop = match r {
            Ok(hop) => hop,
            Err(e) => {
                out.fail(format!("Error for HTTP request: {e}"));
                return false;
            }
        };
        let st = hop.response.status;
        let location = hop.response.header("location").map(str::to_string);
        match location {
            Some(loc) if h.follows_redirects() && matches!(st, 301 | 302 | 303 | 307 | 308) => {
                redirects += 1;
                out.set(
                    "probe_http_redirects",
                    "The number of redirects",
                    redirects as f64,
                );
                if redirects > MAX_REDIRECTS {
                    out.fail(format!("stopped after {MAX_REDIRECTS} redirects"));
                    return false;
                }
                url = match url.join(&loc) {
                    Ok(u) => u,
                    Err(e) => {
                        out.fail(format!("invalid redirect location {loc:?}: {e}"));
                        return false;
                    }
                };
                out.info(format!("Received redirect location={url}"));
                if st == 303 || ((st == 301 || st == 302) && method == "POST") {
                    if method != "HEAD" {
                        method = "GET".into();
                    }
                    body = None;
                }
            }
            Some(_) if matches!(st, 301 | 302 | 303 | 307 | 308) => {
                // Go's client counts the redirect before no_follow_redirects stops it.
                out.set(
                    "probe_http_redirects",
                    "The number of redirects",
                    (redirects + 1) as f64,
                );
                break hop;
            }
            _ => break hop,
        }
    };
    let r = &hop.response;
    out.set(
        "probe_http_status_code",
        "Response HTTP status code",
        r.status as f64,
    );
    out.set(
        "probe_http_content_length",
        "Length of http content response",
        r.content_length,
    );
    out.set(
        "probe_http_uncompressed_body_length",
        "Length of uncompressed response body",
        r.body.len() as f64,
    );
    out.set(
        "probe_http_version",
        "Returns the version of HTTP of the probe response",
        if r.version == 1 { 1.1 } else { 1.0 },
    );
    out.set(
        "probe_http_ssl",
        "Indicates if SSL was used for the final redirect",
        if hop.ssl { 1.0 } else { 0.0 },
    );
    if let Some(lm) = r.header("last-modified") {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(lm, "%a, %d %b %Y %H:%M:%S GMT") {
            out.set(
                "probe_http_last_modified_timestamp_seconds",
                "Returns the Last-Modified HTTP response header in unixtime",
                t.and_utc().timestamp() as f64,
            );
        }
    }
    let mut ok = true;
    let valid_status = if h.valid_status_codes.is_empty() {
        (200..300).contains(&r.status)
    } else {
        h.valid_status_codes.contains(&r.status)
    };
    if !valid_status {
        out.fail(format!(
            "Invalid HTTP response status code {}, wanted {}",
            r.status,
            if h.valid_status_codes.is_empty() {
                "2xx".to_string()
            } else {
                format!("{:?}", h.valid_status_codes)
            }
        ));
        ok = false;
    }
    let version_text = if r.version == 1 {
        "HTTP/1.1"
    } else {
        "HTTP/1.0"
    };
    if ok
        && !h.valid_http_versions.is_empty()
        && !h.valid_http_versions.iter().any(|v| v == version_text)
    {
        out.fail(format!("Invalid HTTP version number {version_text}"));
        ok = false;
    }
    if ok && h.fail_if_ssl && hop.ssl {
        out.fail("Final request was over SSL");
        ok = false;
    }
    if ok && h.fail_if_not_ssl && !hop.ssl {
        out.fail("Final request was not over SSL");
        ok = false;
    }
    if ok {
        let text = String::from_utf8_lossy(&r.body);
        let mut regex_failed = false;
        for re in &h.fail_if_body_matches_regexp {
            if regex::Regex::new(re).is_ok_and(|x| x.is_match(&text)) {
                out.fail(format!("Body matched regular expression {re:?}"));
                regex_failed = true;
            }
        }
        for re in &h.fail_if_body_not_matches_regexp {
            if !regex::Regex::new(re).is_ok_and(|x| x.is_match(&text)) {
                out.fail(format!("Body did not match regular expression {re:?}"));
                regex_failed = true;
            }
        }
        for hm in &h.fail_if_header_matches {
            let Ok(x) = regex::Regex::new(&hm.regexp) else {
                continue;
            };
            if r.headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(&hm.header) && x.is_match(v))
            {
                out.fail(format!(
                    "Header {:?} matched regular expression {:?}",
                    hm.header, hm.regexp
                ));
                regex_failed = true;
            }
        }
        for hm in &h.fail_if_header_not_matches {
            let Ok(x) = regex::Regex::new(&hm.regexp) else {
                continue;
            };
            let values: Vec<&String> = r
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(&hm.header))
                .map(|(_, v)| v)
                .collect();
            if values.is_empty() && !hm.allow_missing {
                out.fail(format!("Missing required header {:?}", hm.header));
                regex_failed = true;
            } else if !values.is_empty() && !values.iter().any(|v| x.is_match(v)) {
                out.fail(format!(
                    "Header {:?} did not match regular expression {:?}",
                    hm.header, hm.regexp
                ));
                regex_failed = true;
            }
        }
        if regex_failed {
            out.set("probe_failed_due_to_regex", HELP_FAILED_REGEX, 1.0);
            ok = false;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chunked() {
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n\r\n").unwrap(),
            b"Wikipedia"
        );
        assert!(dechunk(b"zz\r\n").is_err());
        assert!(dechunk(b"10\r\nshort").is_err());
    }

    #[test]
    fn base64_encoding() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }

    proptest! {
        #[test]
        fn dechunk_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = dechunk(&b);
        }
    }
}

//! Request decoding shared by the envelope and store endpoints: `Content-Encoding` (gzip,
//! deflate — zlib or raw —, br), the legacy store body (JSON, or base64 of zlib JSON as old SDKs
//! sent it), and Sentry's authentication (`X-Sentry-Auth` / `Authorization: Sentry ...`,
//! `sentry_key` query parameter, an envelope header's `dsn`).

use std::io::Read;

/// Decompresses `body` by its `Content-Encoding`, never producing more than `limit` bytes.
pub fn decompress(encoding: Option<&str>, body: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut data = body.to_vec();
    let encs: Vec<String> = encoding
        .unwrap_or("")
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty() && s != "identity")
        .collect();
    // Encodings are listed in the order applied: undo them in reverse.
    for enc in encs.iter().rev() {
        data = match enc.as_str() {
            "gzip" | "x-gzip" => read_limited(flate2::read::MultiGzDecoder::new(&data[..]), limit)?,
            "deflate" => {
                // HTTP's "deflate" is zlib; some clients send raw deflate.
                match read_limited(flate2::read::ZlibDecoder::new(&data[..]), limit) {
                    Ok(d) => d,
                    Err(e) if e.contains("exceeds") => return Err(e),
                    Err(_) => read_limited(flate2::read::DeflateDecoder::new(&data[..]), limit)?,
                }
            }
            "br" => read_limited(
                brotli_decompressor::Decompressor::new(&data[..], 4096),
                limit,
            )?,
            other => return Err(format!("unsupported Content-Encoding {other:?}")),
        };
    }
    if data.len() > limit {
        return Err(format!("body exceeds the limit of {limit} bytes"));
    }
    Ok(data)
}

fn read_limited(r: impl Read, limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("cannot decompress the body: {e}"))?;
    if out.len() > limit {
        return Err(format!(
            "decompressed body exceeds the limit of {limit} bytes"
        ));
    }
    Ok(out)
}

/// The JSON of a legacy `/store/` body: plain JSON, or base64(zlib(JSON)).
pub fn store_body(body: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| body[i]) {
        Some(b'{') | None => Ok(body.to_vec()),
        Some(_) => {
            use base64::Engine;
            let text: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|_| "the body is neither JSON nor base64-encoded JSON".to_string())?;
            if raw.first() == Some(&b'{') {
                return Ok(raw);
            }
            read_limited(flate2::read::ZlibDecoder::new(&raw[..]), limit)
        }
    }
}

/// Credentials found in a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    pub public_key: String,
    pub client: Option<String>,
    pub version: Option<String>,
}

/// Parses `Sentry sentry_key=..., sentry_version=7, sentry_client=...` (the `Sentry ` prefix
/// is optional, separators are commas and/or spaces).
pub fn parse_auth_header(v: &str) -> Option<Auth> {
    let v = v.trim();
    let rest = if v
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("sentry "))
    {
        &v[7..]
    } else if v.contains("sentry_key") {
        v
    } else {
        return None;
    };
    let mut auth = Auth::default();
    for part in rest.split(|c: char| c == ',' || c.is_whitespace()) {
        let Some((k, val)) = part.trim().split_once('=') else {
            continue;
        };
        let k = k.trim().trim_start_matches("sentry_");
        let val = val.trim().trim_matches('"').to_string();
        match k {
            "key" => auth.public_key = val,
            "client" => auth.client = Some(val),
            "version" => auth.version = Some(val),
            _ => {}
        }
    }
    (!auth.public_key.is_empty()).then_some(auth)
}

/// Auth from a query string's `sentry_key` (and `sentry_version`, `sentry_client`).
pub fn parse_auth_query(query: &str) -> Option<Auth> {
    let mut auth = Auth::default();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "sentry_key" => auth.public_key = v,
            "sentry_client" => auth.client = Some(v),
            "sentry_version" => auth.version = Some(v),
            _ => {}
        }
    }
    (!auth.public_key.is_empty()).then_some(auth)
}

/// The public key and project id of a DSN `scheme://key[:secret]@host[:port]/[path/]project_id`.
pub fn parse_dsn(dsn: &str) -> Option<(String, String)> {
    let (_, rest) = dsn.split_once("://")?;
    let (userinfo, hostpath) = rest.split_once('@')?;
    let key = userinfo.split(':').next()?.to_string();
    let path = hostpath.split_once('/').map(|(_, p)| p).unwrap_or("");
    let project = path.trim_end_matches('/').rsplit('/').next()?.to_string();
    (!key.is_empty() && !project.is_empty()).then_some((key, project))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    #[test]
    fn auth_forms() {
        let a = parse_auth_header(
            "Sentry sentry_version=7, sentry_client=sentry.javascript.node/8.0.0, sentry_key=abc123, sentry_secret=x",
        )
        .unwrap();
        assert_eq!(a.public_key, "abc123");
        assert_eq!(a.version.as_deref(), Some("7"));
        assert_eq!(a.client.as_deref(), Some("sentry.javascript.node/8.0.0"));
        assert_eq!(
            parse_auth_header("sentry sentry_key=k").unwrap().public_key,
            "k"
        );
        assert!(parse_auth_header("Bearer xyz").is_none());
        assert!(parse_auth_header("Sentry sentry_version=7").is_none());
        let q = parse_auth_query("sentry_version=7&sentry_key=k%31&sentry_client=a%2Fb").unwrap();
        assert_eq!(q.public_key, "k1");
        assert_eq!(q.client.as_deref(), Some("a/b"));
        assert!(parse_auth_query("a=b").is_none());
        assert_eq!(
            parse_dsn("https://public:secret@o1.ingest.sentry.io:443/sub/42"),
            Some(("public".into(), "42".into()))
        );
        assert_eq!(
            parse_dsn("http://k@127.0.0.1:9090/1/"),
            Some(("k".into(), "1".into()))
        );
        assert_eq!(parse_dsn("not a dsn"), None);
    }

    #[test]
    fn encodings() {
        let json = br#"{"message":"hi"}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json).unwrap();
        assert_eq!(
            decompress(Some("gzip"), &gz.finish().unwrap(), 1000).unwrap(),
            json
        );
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let zlib = z.finish().unwrap();
        assert_eq!(decompress(Some("deflate"), &zlib, 1000).unwrap(), json);
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(json).unwrap();
        assert_eq!(
            decompress(Some("deflate"), &d.finish().unwrap(), 1000).unwrap(),
            json
        );
        assert_eq!(decompress(None, json, 1000).unwrap(), json);
        assert!(decompress(None, json, 3).is_err());
        assert!(decompress(Some("zstd2"), json, 1000).is_err());
        assert!(decompress(Some("gzip"), b"garbage", 1000).is_err());
        // Decompression bombs stop at the limit.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'a'; 1 << 20]).unwrap();
        let e = decompress(Some("gzip"), &gz.finish().unwrap(), 1000).unwrap_err();
        assert!(e.contains("exceeds"), "{e}");
        // Legacy store: base64(zlib(json)).
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&zlib);
        assert_eq!(store_body(b64.as_bytes(), 1000).unwrap(), json);
        assert_eq!(store_body(json, 1000).unwrap(), json);
        assert!(store_body(b"%%%", 1000).is_err());
    }

    #[test]
    fn brotli_body() {
        // "hello" compressed by `brotli -q 11` (a fixed, known stream).
        let br: [u8; 9] = [0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(decompress(Some("br"), &br, 100).unwrap(), b"hello");
    }

    proptest! {
        #[test]
        fn decoding_never_panics(data in prop::collection::vec(any::<u8>(), 0..256),
                                 enc in prop::sample::select(vec!["gzip", "deflate", "br", "", "gzip, br"])) {
            let _ = decompress(Some(enc), &data, 4096);
            let _ = store_body(&data, 4096);
        }

        #[test]
        fn auth_parsers_never_panic(s in ".{0,80}") {
            let _ = parse_auth_header(&s);
            let _ = parse_auth_query(&s);
            let _ = parse_dsn(&s);
        }
    }
}

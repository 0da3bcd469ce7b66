//! One `remote_write` entry of prometheus.yml turned into the settings a queue runs with:
//! Prometheus' defaults for `queue_config` and `remote_timeout`, credentials read from their
//! files, the protobuf message to send (`protobuf_message`: 1.0's `prometheus.WriteRequest`
//! or 2.0's `io.prometheus.write.v2.Request`), and a clear error for what pharos does not
//! support (oauth2, sigv4, azuread).

use config::prometheus::{Authorization, BasicAuth, RemoteEndpoint, TlsConfig};
use config::relabel::RelabelConfig;
use model::time::PromDuration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// `queue_config:` with Prometheus' defaults.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    pub capacity: usize,
    pub max_shards: usize,
    pub min_shards: usize,
    pub max_samples_per_send: usize,
    pub batch_send_deadline: PromDuration,
    pub min_backoff: PromDuration,
    pub max_backoff: PromDuration,
    pub retry_on_http_429: bool,
    pub sample_age_limit: PromDuration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2_000,
            batch_send_deadline: PromDuration(5_000),
            min_backoff: PromDuration(30),
            max_backoff: PromDuration(5_000),
            retry_on_http_429: true,
            sample_age_limit: PromDuration(0),
        }
    }
}

/// `metadata_config:` (`send` decides whether 2.0 requests carry each series' metadata).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetadataConfig {
    #[serde(default)]
    pub send: Option<bool>,
    #[serde(default)]
    pub send_interval: Option<PromDuration>,
    #[serde(default)]
    pub max_samples_per_send: Option<usize>,
}

/// The keys of a `remote_write` entry that `RemoteEndpoint` keeps untyped. Metadata,
/// exemplars, native histograms, HTTP/2 and DNS round robin are accepted as Prometheus
/// documents them; pharos sends float samples only.
#[derive(Clone, Debug, Default, Deserialize)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
struct Extra {
    #[serde(default)]
    remote_timeout: Option<PromDuration>,
    #[serde(default)]
    queue_config: Option<QueueConfig>,
    #[serde(default)]
    metadata_config: Option<MetadataConfig>,
    #[serde(default)]
    authorization: Option<Authorization>,
    #[serde(default)]
    bearer_token_file: Option<std::path::PathBuf>,
    #[serde(default)]
    tls_config: Option<TlsConfig>,
    #[serde(default)]
    protobuf_message: Option<String>,
    #[serde(default)]
    send_exemplars: Option<bool>,
    #[serde(default)]
    send_native_histograms: Option<bool>,
    #[serde(default)]
    follow_redirects: Option<bool>,
    #[serde(default)]
    enable_http2: Option<bool>,
    #[serde(default)]
    round_robin_dns: Option<bool>,
    #[serde(default)]
    proxy_url: Option<String>,
    #[serde(default)]
    oauth2: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    sigv4: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    azuread: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    google_iam: Option<serde_yaml_ng::Value>,
}

/// Everything one queue needs, credentials resolved.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `name`, else a hash of the URL: names the queue's metrics and its position file.
    pub name: String,
    pub url: String,
    pub remote_timeout: Duration,
    pub headers: Vec<(String, String)>,
    /// The `Authorization` header value (basic, bearer or `authorization:`), if any.
    pub authorization: Option<String>,
    pub tls: TlsConfig,
    pub follow_redirects: bool,
    pub relabel: Vec<RelabelConfig>,
    /// global.external_labels, added to every sample that lacks the label.
    pub external_labels: Vec<(String, String)>,
    pub queue: QueueConfig,
    /// Send `io.prometheus.write.v2.Request` (else 1.0's `prometheus.WriteRequest`).
    pub v2: bool,
    /// `metadata_config.send` (Prometheus' default: true).
    pub send_metadata: bool,
    /// `send_native_histograms` (Prometheus' default: false).
    pub send_native_histograms: bool,
    /// `metadata_config.send_interval` and `.max_samples_per_send` (1m, 500), for 1.0.
    pub metadata_interval: Duration,
    pub metadata_max_per_send: usize,
}

fn read_secret(what: &str, file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("reading {what} {}: {e}", file.display()))
}

fn basic_header(ba: &BasicAuth) -> Result<String, String> {
    let user = match &ba.username_file {
        Some(f) => read_secret("username_file", f)?,
        None => ba.username.clone(),
    };
    let password = match (&ba.password, &ba.password_file) {
        (Some(p), _) => p.clone(),
        (None, Some(f)) => read_secret("password_file", f)?,
        _ => String::new(),
    };
    Ok(format!(
        "Basic {}",
        base64(format!("{user}:{password}").as_bytes())
    ))
}

/// Standard base64 with padding (for the basic-auth header).
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(A[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Headers Prometheus refuses in `headers:` (it sets them itself).
const RESERVED_HEADERS: [&str; 6] = [
    "authorization",
    "content-encoding",
    "content-type",
    "host",
    "user-agent",
    "x-prometheus-remote-write-version",
];

impl PartialEq for Settings {
    /// Same settings = same queue across a reload (relabel rules compare as written).
    fn eq(&self, other: &Settings) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

impl Settings {
    /// The settings of `ep`, or why the entry cannot be used.
    pub fn from_endpoint(
        ep: &RemoteEndpoint,
        external_labels: &BTreeMap<String, String>,
    ) -> Result<Settings, String> {
        let mapping: serde_yaml_ng::Mapping = ep
            .other
            .iter()
            .map(|(k, v)| (serde_yaml_ng::Value::String(k.clone()), v.clone()))
            .collect();
        let extra: Extra = serde_yaml_ng::from_value(serde_yaml_ng::Value::Mapping(mapping))
            .map_err(|e| format!("remote_write {}: {e}", ep.url))?;
        let unsupported = [
            ("oauth2", extra.oauth2.is_some()),
            ("sigv4", extra.sigv4.is_some()),
            ("azuread", extra.azuread.is_some()),
            ("google_iam", extra.google_iam.is_some()),
            ("proxy_url", extra.proxy_url.is_some()),
        ];
        if let Some((key, _)) = unsupported.iter().find(|(_, set)| *set) {
            return Err(format!(
                "remote_write {}: {key} is not supported by pharos yet",
                ep.url
            ));
        }
        let v2 = match extra.protobuf_message.as_deref() {
            None | Some("prometheus.WriteRequest") => false,
            Some("io.prometheus.write.v2.Request") => true,
            Some(m) => {
                return Err(format!(
                    "remote_write {}: unknown protobuf_message {m:?}: expected prometheus.WriteRequest or io.prometheus.write.v2.Request",
                    ep.url
                ))
            }
        };
        let mut authorization = None;
        let auths = [
            ep.basic_auth.is_some(),
            ep.bearer_token.is_some(),
            extra.bearer_token_file.is_some(),
            extra.authorization.is_some(),
        ];
        if auths.iter().filter(|a| **a).count() > 1 {
            return Err(format!(
                "remote_write {}: at most one of basic_auth, bearer_token, bearer_token_file and authorization may be set",
                ep.url
            ));
        }
        if let Some(ba) = &ep.basic_auth {
            authorization = Some(basic_header(ba)?);
        } else if let Some(t) = &ep.bearer_token {
            authorization = Some(format!("Bearer {t}"));
        } else if let Some(f) = &extra.bearer_token_file {
            authorization = Some(format!("Bearer {}", read_secret("bearer_token_file", f)?));
        } else if let Some(a) = &extra.authorization {
            let kind = a.auth_type.clone().unwrap_or_else(|| "Bearer".into());
            let cred = match (&a.credentials, &a.credentials_file) {
                (Some(c), _) => c.clone(),
                (None, Some(f)) => read_secret("credentials_file", f)?,
                _ => String::new(),
            };
            authorization = Some(format!("{kind} {cred}"));
        }
        for k in ep.headers.keys() {
            if RESERVED_HEADERS.contains(&k.to_ascii_lowercase().as_str()) {
                return Err(format!(
                    "remote_write {}: header {k:?} is set by pharos and cannot be overridden",
                    ep.url
                ));
            }
        }
        for (i, rc) in ep.write_relabel_configs.iter().enumerate() {
            rc.validate().map_err(|m| {
                format!(
                    "remote_write {}: write_relabel_configs rule {}: {m}",
                    ep.url,
                    i + 1
                )
            })?;
        }
        let queue = extra.queue_config.unwrap_or_default();
        if queue.max_shards == 0 || queue.min_shards == 0 || queue.min_shards > queue.max_shards {
            return Err(format!(
                "remote_write {}: queue_config needs 1 <= min_shards <= max_shards",
                ep.url
            ));
        }
        if queue.max_samples_per_send == 0 || queue.capacity == 0 {
            return Err(format!(
                "remote_write {}: queue_config capacity and max_samples_per_send must be positive",
                ep.url
            ));
        }
        let name = match &ep.name {
            Some(n) if !n.is_empty() => n.clone(),
            _ => format!("{:016x}", fnv(ep.url.as_bytes()))[..6].to_string(),
        };
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        {
            return Err(format!(
                "remote_write {}: name {name:?} may hold only letters, digits, '_', '-' and '.'",
                ep.url
            ));
        }
        Ok(Settings {
            name,
            url: ep.url.clone(),
            remote_timeout: Duration::from_millis(
                extra.remote_timeout.map_or(30_000, |d| d.0.max(1)) as u64,
            ),
            headers: ep
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            authorization,
            tls: extra.tls_config.unwrap_or_default(),
            follow_redirects: extra.follow_redirects.unwrap_or(true),
            relabel: ep.write_relabel_configs.clone(),
            external_labels: external_labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            queue,
            v2,
            send_metadata: extra
                .metadata_config
                .as_ref()
                .and_then(|m| m.send)
                .unwrap_or(true),
            send_native_histograms: extra.send_native_histograms.unwrap_or(false),
            metadata_interval: Duration::from_millis(
                extra
                    .metadata_config
                    .as_ref()
                    .and_then(|m| m.send_interval)
                    .map_or(60_000, |d| d.0.max(1)) as u64,
            ),
            metadata_max_per_send: extra
                .metadata_config
                .as_ref()
                .and_then(|m| m.max_samples_per_send)
                .unwrap_or(500),
        })
    }

    /// The HTTP client: TLS roots, client certificate, verification and redirects.
    pub fn client(&self) -> Result<reqwest::Client, String> {
        let tls = &self.tls;
        let mut b = reqwest::Client::builder()
            .danger_accept_invalid_certs(tls.insecure_skip_verify)
            .redirect(if self.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            })
            .no_proxy();
        let pem = |inline: &Option<String>, file: &Option<std::path::PathBuf>, what: &str| match (
            inline, file,
        ) {
            (Some(s), _) => Ok(Some(s.clone().into_bytes())),
            (None, Some(f)) => std::fs::read(f)
                .map(Some)
                .map_err(|e| format!("reading {what} {}: {e}", f.display())),
            _ => Ok(None),
        };
        if let Some(ca) = pem(&tls.ca, &tls.ca_file, "ca_file")? {
            for cert in reqwest::Certificate::from_pem_bundle(&ca)
                .map_err(|e| format!("remote_write {}: CA: {e}", self.url))?
            {
                b = b.add_root_certificate(cert);
            }
        }
        match (
            pem(&tls.cert, &tls.cert_file, "cert_file")?,
            pem(&tls.key, &tls.key_file, "key_file")?,
        ) {
            (Some(mut cert), Some(key)) => {
                cert.push(b'\n');
                cert.extend(key);
                let id = reqwest::Identity::from_pem(&cert)
                    .map_err(|e| format!("remote_write {}: client certificate: {e}", self.url))?;
                b = b.identity(id);
            }
            (None, None) => {}
            _ => {
                return Err(format!(
                    "remote_write {}: tls_config needs both a certificate and a key",
                    self.url
                ))
            }
        }
        b.build()
            .map_err(|e| format!("remote_write {}: {e}", self.url))
    }
}

/// FNV-1a, for a stable short queue name from the URL.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Settings, String> {
        let ep: RemoteEndpoint = serde_yaml_ng::from_str(yaml).unwrap();
        Settings::from_endpoint(&ep, &BTreeMap::new())
    }

    #[test]
    fn defaults_and_overrides() {
        let s = parse("url: http://x/api/v1/write\nname: a\nremote_timeout: 2s\nqueue_config: {max_shards: 3, batch_send_deadline: 1s}\nbasic_auth: {username: u, password: p}\n").unwrap();
        assert_eq!(s.name, "a");
        assert_eq!(s.remote_timeout, Duration::from_secs(2));
        assert_eq!(s.queue.max_shards, 3);
        assert_eq!(s.queue.capacity, 10_000);
        assert_eq!(s.queue.batch_send_deadline, PromDuration(1000));
        assert_eq!(s.authorization.as_deref(), Some("Basic dTpw"));
        let s = parse("url: http://x/\nauthorization: {credentials: tok}\n").unwrap();
        assert_eq!(s.authorization.as_deref(), Some("Bearer tok"));
        assert_eq!(s.name.len(), 6);
    }

    #[test]
    fn refusals() {
        assert!(parse("url: http://x/\noauth2: {client_id: a}\n")
            .unwrap_err()
            .contains("oauth2"));
        assert!(
            parse("url: http://x/\nprotobuf_message: io.prometheus.write.v3\n")
                .unwrap_err()
                .contains("protobuf_message")
        );
        let s = parse("url: http://x/\nprotobuf_message: io.prometheus.write.v2.Request\nmetadata_config: {send: false}\n").unwrap();
        assert!(s.v2 && !s.send_metadata);
        let s = parse("url: http://x/\nprotobuf_message: prometheus.WriteRequest\n").unwrap();
        assert!(!s.v2 && s.send_metadata);
        assert!(parse("url: http://x/\nqueue_config: {bogus: 1}\n").is_err());
        assert!(parse("url: http://x/\nheaders: {User-Agent: x}\n").is_err());
        assert!(parse("url: http://x/\nqueue_config: {min_shards: 4, max_shards: 2}\n").is_err());
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}

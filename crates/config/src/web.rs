//! The `web:` and `auth:` sections of pharos.yml: Prometheus' web config file format
//! (`tls_server_config`, `basic_auth_users`, `http_server_config.headers`, given inline or as
//! `web.config_file`), the lifecycle/admin API switches (`--web.enable-lifecycle`,
//! `--web.enable-admin-api`) and bearer tokens with scopes and an optional tenant.

use crate::{locate, ConfigError};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `tls_server_config.client_auth_type` (Go's `tls.ClientAuthType` names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum ClientAuthType {
    #[default]
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// `tls_server_config` of a web config file (paths resolved against that file's directory).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerSettings {
    #[serde(default)]
    pub cert_file: PathBuf,
    #[serde(default)]
    pub key_file: PathBuf,
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub client_auth_type: ClientAuthType,
    /// `TLS12` or `TLS13` (Prometheus' default is TLS12).
    #[serde(default)]
    pub min_version: Option<String>,
    #[serde(default)]
    pub max_version: Option<String>,
    /// Accepted for compatibility; rustls picks its own safe suites and curves.
    #[serde(default)]
    pub cipher_suites: Vec<String>,
    #[serde(default)]
    pub curve_preferences: Vec<String>,
    #[serde(default)]
    pub prefer_server_cipher_suites: Option<bool>,
}

/// `http_server_config` of a web config file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerSettings {
    #[serde(default)]
    pub http2: Option<bool>,
    /// Headers added to every response.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// The Prometheus web config file format (exporter-toolkit).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    #[serde(default)]
    tls_server_config: Option<TlsServerSettings>,
    #[serde(default)]
    http_server_config: Option<HttpServerSettings>,
    /// user → bcrypt hash.
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

/// `web:` of pharos.yml: the switches plus, inline, the web config file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebSection {
    #[serde(default)]
    enable_lifecycle: bool,
    #[serde(default)]
    enable_admin_api: bool,
    /// A Prometheus web config file (as `--web.config.file`).
    #[serde(default)]
    config_file: Option<PathBuf>,
    #[serde(default)]
    tls_server_config: Option<TlsServerSettings>,
    #[serde(default)]
    http_server_config: Option<HttpServerSettings>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
}

/// What a bearer token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Queries, the UI and every GET API.
    Read,
    /// Push/ingest endpoints.
    Write,
    /// Lifecycle, admin API and configuration writes.
    Admin,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    /// Hex SHA-256 of the token, so the config file holds no secret.
    #[serde(default)]
    sha256: Option<String>,
    scopes: Vec<Scope>,
    #[serde(default)]
    tenant: Option<String>,
}

/// `auth:` of pharos.yml.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthSection {
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

/// How a token's secret is held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSecret {
    Plain(String),
    /// Lower-case hex SHA-256.
    Sha256(String),
}

/// One bearer token of `auth.tokens`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthToken {
    pub name: String,
    pub secret: TokenSecret,
    pub scopes: Vec<Scope>,
    /// The tenant (`X-Scope-OrgID`) every request with this token acts as.
    pub tenant: Option<String>,
}

/// The resolved `web:` and `auth:` settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebSettings {
    /// `/-/reload` and `/-/quit` answer; otherwise 403.
    pub enable_lifecycle: bool,
    /// `/api/v1/admin/*` answers; otherwise 403.
    pub enable_admin_api: bool,
    pub tls: Option<TlsServerSettings>,
    pub headers: BTreeMap<String, String>,
    /// user → bcrypt hash.
    pub basic_auth_users: BTreeMap<String, String>,
    pub tokens: Vec<AuthToken>,
}

impl WebSettings {
    /// Any credential is configured: every endpoint but health needs one.
    pub fn auth_enabled(&self) -> bool {
        !self.basic_auth_users.is_empty() || !self.tokens.is_empty()
    }

    /// Reads a Prometheus web config file (`--web.config.file`) into these settings.
    pub fn apply_web_config_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = crate::read(path)?;
        let f: WebConfigFile = if text.trim().is_empty() {
            WebConfigFile::default()
        } else {
            serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::from_yaml(path, &e))?
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        self.merge(
            path,
            &text,
            &base,
            f.tls_server_config,
            f.http_server_config,
            f.basic_auth_users,
        )
    }

    fn merge(
        &mut self,
        file: &Path,
        text: &str,
        base: &Path,
        tls: Option<TlsServerSettings>,
        http: Option<HttpServerSettings>,
        users: BTreeMap<String, String>,
    ) -> Result<(), ConfigError> {
        let err = |key: &str, m: String| {
            let (l, c) = locate(text, key, 1);
            ConfigError::at(file, l, c, m)
        };
        if let Some(mut t) = tls {
            if t.cert_file.as_os_str().is_empty() || t.key_file.as_os_str().is_empty() {
                return Err(err(
                    "tls_server_config",
                    "tls_server_config needs cert_file and key_file".into(),
                ));
            }
            for v in [&t.min_version, &t.max_version].into_iter().flatten() {
                if !matches!(v.as_str(), "TLS10" | "TLS11" | "TLS12" | "TLS13") {
                    return Err(err(
                        "_version",
                        format!("unknown TLS version {v:?} (use TLS12 or TLS13)"),
                    ));
                }
            }
            let needs_ca = matches!(
                t.client_auth_type,
                ClientAuthType::VerifyClientCertIfGiven
                    | ClientAuthType::RequireAndVerifyClientCert
            );
            if needs_ca && t.client_ca_file.is_none() {
                return Err(err(
                    "client_auth_type",
                    format!(
                        "client_auth_type {:?} needs client_ca_file",
                        t.client_auth_type
                    ),
                ));
            }
            let abs = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
            t.cert_file = abs(t.cert_file);
            t.key_file = abs(t.key_file);
            t.client_ca_file = t.client_ca_file.map(abs);
            self.tls = Some(t);
        }
        if let Some(h) = http {
            self.headers.extend(h.headers);
        }
        for (user, hash) in users {
            if !hash.starts_with("$2") {
                return Err(err(
                    &user,
                    format!("basic_auth_users.{user}: not a bcrypt hash (htpasswd -nBC 10 \"\" | tr -d ':\\n')"),
                ));
            }
            self.basic_auth_users.insert(user, hash);
        }
        Ok(())
    }
}

/// Resolves `web:` and `auth:` of pharos.yml (`base` = the file's directory).
pub(crate) fn resolve(
    file: &Path,
    text: &str,
    base: &Path,
    web: Option<WebSection>,
    auth: Option<AuthSection>,
) -> Result<WebSettings, ConfigError> {
    let mut out = WebSettings::default();
    if let Some(w) = web {
        out.enable_lifecycle = w.enable_lifecycle;
        out.enable_admin_api = w.enable_admin_api;
        if let Some(p) = w.config_file {
            out.apply_web_config_file(&if p.is_absolute() { p } else { base.join(p) })?;
        }
        out.merge(
            file,
            text,
            base,
            w.tls_server_config,
            w.http_server_config,
            w.basic_auth_users,
        )?;
    }
    for t in auth.map(|a| a.tokens).unwrap_or_default() {
        let err = |m: String| {
            let (l, c) = locate(text, &t.name, 1);
            ConfigError::at(file, l, c, format!("auth.tokens {:?}: {m}", t.name))
        };
        let secret = match (&t.token, &t.token_file, &t.sha256) {
            (Some(s), None, None) if !s.is_empty() => TokenSecret::Plain(s.clone()),
            (None, Some(p), None) => {
                let p = if p.is_absolute() {
                    p.clone()
                } else {
                    base.join(p)
                };
                let s = std::fs::read_to_string(&p)
                    .map_err(|e| err(format!("cannot read {}: {e}", p.display())))?;
                let s = s.trim().to_string();
                if s.is_empty() {
                    return Err(err(format!("{} is empty", p.display())));
                }
                TokenSecret::Plain(s)
            }
            (None, None, Some(h)) if h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()) => {
                TokenSecret::Sha256(h.to_ascii_lowercase())
            }
            (None, None, Some(_)) => return Err(err("sha256 must be 64 hex digits".into())),
            _ => return Err(err("give exactly one of token, token_file, sha256".into())),
        };
        if t.scopes.is_empty() {
            return Err(err("scopes must list read, write and/or admin".into()));
        }
        out.tokens.push(AuthToken {
            name: t.name,
            secret,
            scopes: t.scopes,
            tenant: t.tenant.filter(|s| !s.is_empty()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, files: &[(&str, &str)]) -> Result<WebSettings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        for (n, t) in files {
            std::fs::write(dir.path().join(n), t).unwrap();
        }
        let p = dir.path().join("pharos.yml");
        std::fs::write(&p, text).unwrap();
        crate::pharos::parse(&p, text).map(|c| c.web)
    }

    #[test]
    fn web_section_inline_and_file() {
        let w = load(
            "web:\n  enable_lifecycle: true\n  config_file: web.yml\n  http_server_config:\n    headers: {X-Frame-Options: deny}\n",
            &[(
                "web.yml",
                "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_ca_file: ca.pem\n  client_auth_type: RequireAndVerifyClientCert\nbasic_auth_users:\n  alice: $2y$10$abcdefghijklmnopqrstuv\n",
            )],
        )
        .unwrap();
        assert!(w.enable_lifecycle && !w.enable_admin_api);
        let t = w.tls.unwrap();
        assert!(t.cert_file.is_absolute());
        assert_eq!(
            t.client_auth_type,
            ClientAuthType::RequireAndVerifyClientCert
        );
        assert_eq!(w.headers["X-Frame-Options"], "deny");
        assert!(w.basic_auth_users.contains_key("alice"));
    }

    #[test]
    fn tokens_and_errors() {
        let w = load(
            "auth:\n  tokens:\n    - {name: app, token: s3cret, scopes: [write], tenant: team-a}\n    - {name: g, token_file: tok, scopes: [read]}\n",
            &[("tok", "abc\n")],
        )
        .unwrap();
        assert!(w.auth_enabled());
        assert_eq!(w.tokens[0].tenant.as_deref(), Some("team-a"));
        assert_eq!(w.tokens[1].secret, TokenSecret::Plain("abc".into()));
        let e = load(
            "auth:\n  tokens:\n    - {name: x, token: a, sha256: b, scopes: [read]}\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("exactly one"), "{e}");
        let e = load(
            "auth:\n  tokens:\n    - {name: x, token: a, scopes: [rw]}\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("pharos.yml:3"), "{e}");
        let e = load(
            "web:\n  tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAndVerifyClientCert}\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("client_ca_file"), "{e}");
        let e = load("web:\n  basic_auth_users: {bob: plain}\n", &[]).unwrap_err();
        assert!(e.to_string().contains("bcrypt"), "{e}");
    }
}

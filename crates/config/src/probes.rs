//! `probes:` of pharos.yml: uptime probes in blackbox_exporter's format. `modules` (or a
//! blackbox.yml named by `config_file`) define how to probe — `prober: http|tcp|dns|icmp` with
//! blackbox_exporter's keys — and `targets` say what to probe how often; `status_page` picks the
//! probes the public status page shows. Everything is validated here (unknown module, bad URL,
//! bad regex → an error with file:line); the probing itself lives in the `probes` crate.

use crate::{locate, BasicAuth, ConfigError, TlsConfig};
use model::time::PromDuration;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One blackbox_exporter module.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Module {
    pub prober: String,
    /// Probe timeout (blackbox_exporter's default: the scrape timeout; here 5 s when unset).
    #[serde(default)]
    pub timeout: Option<PromDuration>,
    #[serde(default)]
    pub http: HttpProbe,
    #[serde(default)]
    pub tcp: TcpProbe,
    #[serde(default)]
    pub dns: DnsProbe,
    #[serde(default)]
    pub icmp: IcmpProbe,
    #[serde(default)]
    pub grpc: Option<serde_yaml_ng::Value>,
}

impl Module {
    /// The timeout in milliseconds (5 s by default).
    pub fn timeout_ms(&self) -> i64 {
        self.timeout.map(|d| d.0).filter(|&t| t > 0).unwrap_or(5000)
    }
}

/// A header regex check of an HTTP module.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    pub header: String,
    pub regexp: String,
    #[serde(default)]
    pub allow_missing: bool,
}

/// The `http:` block of a module (blackbox_exporter's HTTPProbe, client config inline).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct HttpProbe {
    pub valid_status_codes: Vec<u16>,
    pub valid_http_versions: Vec<String>,
    pub method: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    pub body_file: Option<PathBuf>,
    pub no_follow_redirects: Option<bool>,
    pub follow_redirects: Option<bool>,
    pub fail_if_ssl: bool,
    pub fail_if_not_ssl: bool,
    pub fail_if_body_matches_regexp: Vec<String>,
    pub fail_if_body_not_matches_regexp: Vec<String>,
    pub fail_if_header_matches: Vec<HeaderMatch>,
    pub fail_if_header_not_matches: Vec<HeaderMatch>,
    pub tls_config: TlsConfig,
    pub basic_auth: Option<BasicAuth>,
    pub bearer_token: Option<String>,
    pub preferred_ip_protocol: Option<String>,
    pub ip_protocol_fallback: Option<bool>,
    pub compression: Option<String>,
    pub body_size_limit: Option<serde_yaml_ng::Value>,
    pub enable_http2: Option<bool>,
    pub skip_resolve_phase_with_proxy: Option<bool>,
    pub proxy_url: Option<String>,
}

impl HttpProbe {
    /// Redirects are followed unless `no_follow_redirects: true` or `follow_redirects: false`.
    pub fn follows_redirects(&self) -> bool {
        !self.no_follow_redirects.unwrap_or(false) && self.follow_redirects.unwrap_or(true)
    }
}

/// One step of a TCP module's `query_response`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct QueryResponse {
    pub expect: Option<String>,
    pub send: Option<String>,
    pub starttls: bool,
}

/// The `tcp:` block of a module.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct TcpProbe {
    pub preferred_ip_protocol: Option<String>,
    pub ip_protocol_fallback: Option<bool>,
    pub source_ip_address: Option<String>,
    pub query_response: Vec<QueryResponse>,
    pub tls: bool,
    pub tls_config: TlsConfig,
}

/// Regex checks over one section of a DNS answer.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct DnsRrValidator {
    pub fail_if_matches_regexp: Vec<String>,
    pub fail_if_all_match_regexp: Vec<String>,
    pub fail_if_not_matches_regexp: Vec<String>,
    pub fail_if_none_matches_regexp: Vec<String>,
}

/// The `dns:` block of a module.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct DnsProbe {
    pub query_name: String,
    pub query_type: Option<String>,
    pub query_class: Option<String>,
    pub valid_rcodes: Vec<String>,
    pub transport_protocol: Option<String>,
    pub preferred_ip_protocol: Option<String>,
    pub ip_protocol_fallback: Option<bool>,
    pub source_ip_address: Option<String>,
    pub recursion_desired: Option<bool>,
    pub dns_over_tls: bool,
    pub validate_answer_rrs: DnsRrValidator,
    pub validate_authority_rrs: DnsRrValidator,
    pub validate_additional_rrs: DnsRrValidator,
}

/// The `icmp:` block of a module.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct IcmpProbe {
    pub preferred_ip_protocol: Option<String>,
    pub ip_protocol_fallback: Option<bool>,
    pub source_ip_address: Option<String>,
    pub payload_size: Option<usize>,
    pub dont_fragment: bool,
    pub ttl: Option<u32>,
}

/// One scheduled probe from `targets:`.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeTarget {
    /// Shown on the Uptime page; unique.
    pub name: String,
    /// What the prober is given: a URL for http, host:port for tcp, a server for dns, a host for icmp.
    pub target: String,
    pub module: String,
    pub interval_ms: i64,
    /// Extra labels on the probe's series.
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetEntry {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    module: Option<String>,
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// `status_page:`: the public, read-only status page.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[serde(default)]
pub struct StatusPage {
    pub title: Option<String>,
    pub description: Option<String>,
    /// Names of the probes shown (only these are reachable from the page).
    pub probes: Vec<String>,
}

/// The `probes:` section as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProbesSection {
    #[serde(default)]
    config_file: Option<PathBuf>,
    #[serde(default)]
    modules: BTreeMap<String, Module>,
    #[serde(default)]
    targets: Vec<TargetEntry>,
    #[serde(default)]
    interval: Option<PromDuration>,
    #[serde(default)]
    status_page: StatusPage,
}

/// blackbox.yml: `modules:` only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlackboxFile {
    #[serde(default)]
    modules: BTreeMap<String, Module>,
}

/// Validated `probes:` settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbesSettings {
    pub modules: BTreeMap<String, Module>,
    pub targets: Vec<ProbeTarget>,
    pub status_page: StatusPage,
}

/// blackbox_exporter's example modules, available unless a module of the same name is defined.
pub fn default_modules() -> BTreeMap<String, Module> {
    let mut m = BTreeMap::new();
    for (name, prober) in [
        ("http_2xx", "http"),
        ("tcp_connect", "tcp"),
        ("icmp", "icmp"),
    ] {
        m.insert(
            name.to_string(),
            Module {
                prober: prober.into(),
                ..Default::default()
            },
        );
    }
    m.insert(
        "http_post_2xx".into(),
        Module {
            prober: "http".into(),
            http: HttpProbe {
                method: Some("POST".into()),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    m
}

/// Checks one module: prober known, regexes compile, enums valid. `Err` is the message.
pub fn validate_module(name: &str, m: &Module) -> Result<(), String> {
    let check_re = |what: &str, res: &[String]| -> Result<(), String> {
        for r in res {
            regex::Regex::new(r)
                .map_err(|e| format!("module {name:?}: invalid regex in {what}: {r:?}: {e}"))?;
        }
        Ok(())
    };
    let check_ip = |p: &Option<String>| -> Result<(), String> {
        match p.as_deref() {
            None | Some("ip4") | Some("ip6") | Some("") => Ok(()),
            Some(o) => Err(format!(
                "module {name:?}: preferred_ip_protocol {o:?} is not ip4 or ip6"
            )),
        }
    };
    match m.prober.as_str() {
        "http" => {
            let h = &m.http;
            check_re(
                "fail_if_body_matches_regexp",
                &h.fail_if_body_matches_regexp,
            )?;
            check_re(
                "fail_if_body_not_matches_regexp",
                &h.fail_if_body_not_matches_regexp,
            )?;
            for hm in h
                .fail_if_header_matches
                .iter()
                .chain(&h.fail_if_header_not_matches)
            {
                check_re("fail_if_header_matches", std::slice::from_ref(&hm.regexp))?;
            }
            check_ip(&h.preferred_ip_protocol)?;
            if h.proxy_url.as_deref().is_some_and(|u| !u.is_empty()) {
                return Err(format!(
                    "module {name:?}: http.proxy_url is not supported by pharos yet"
                ));
            }
            if let Some(meth) = &h.method {
                if meth.is_empty() || !meth.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(format!("module {name:?}: invalid HTTP method {meth:?}"));
                }
            }
            for c in &h.valid_status_codes {
                if !(100..=599).contains(c) {
                    return Err(format!("module {name:?}: invalid status code {c}"));
                }
            }
        }
        "tcp" => {
            check_ip(&m.tcp.preferred_ip_protocol)?;
            if m.tcp.query_response.iter().any(|q| q.starttls) {
                return Err(format!(
                    "module {name:?}: query_response starttls is not supported by pharos yet (use tls: true)"
                ));
            }
            for q in &m.tcp.query_response {
                if let Some(e) = &q.expect {
                    check_re("query_response.expect", std::slice::from_ref(e))?;
                }
            }
        }
        "dns" => {
            let d = &m.dns;
            check_ip(&d.preferred_ip_protocol)?;
            if d.dns_over_tls {
                return Err(format!(
                    "module {name:?}: dns_over_tls is not supported by pharos yet"
                ));
            }
            if d.query_name.is_empty() {
                return Err(format!("module {name:?}: dns.query_name must be set"));
            }
            for v in [
                &d.validate_answer_rrs,
                &d.validate_authority_rrs,
                &d.validate_additional_rrs,
            ] {
                check_re("fail_if_matches_regexp", &v.fail_if_matches_regexp)?;
                check_re("fail_if_all_match_regexp", &v.fail_if_all_match_regexp)?;
                check_re("fail_if_not_matches_regexp", &v.fail_if_not_matches_regexp)?;
                check_re(
                    "fail_if_none_matches_regexp",
                    &v.fail_if_none_matches_regexp,
                )?;
            }
            if let Some(t) = d.transport_protocol.as_deref() {
                if t != "udp" && t != "tcp" {
                    return Err(format!(
                        "module {name:?}: transport_protocol {t:?} is not udp or tcp"
                    ));
                }
            }
        }
        "icmp" => check_ip(&m.icmp.preferred_ip_protocol)?,
        "grpc" => {
            return Err(format!(
                "module {name:?}: prober grpc is not supported by pharos (http, tcp, dns, icmp are)"
            ))
        }
        other => {
            return Err(format!(
                "module {name:?}: unknown prober {other:?} (use http, tcp, dns or icmp)"
            ))
        }
    }
    Ok(())
}

/// Checks a target string for a prober. `Err` is the message.
pub fn validate_target(prober: &str, target: &str) -> Result<(), String> {
    if target.trim().is_empty() || target.chars().any(char::is_whitespace) {
        return Err(format!("invalid target {target:?}"));
    }
    match prober {
        "http" => {
            let rest = target
                .strip_prefix("http://")
                .or_else(|| target.strip_prefix("https://"))
                .ok_or_else(|| {
                    format!("invalid URL {target:?}: must start with http:// or https://")
                })?;
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            if host.is_empty() {
                return Err(format!("invalid URL {target:?}: no host"));
            }
            if let Some((_, port)) = host.rsplit_once(':') {
                if !host.ends_with(']') && port.parse::<u16>().is_err() {
                    return Err(format!("invalid URL {target:?}: bad port {port:?}"));
                }
            }
            Ok(())
        }
        "tcp" => match target.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok() => Ok(()),
            _ => Err(format!("invalid TCP target {target:?}: want host:port")),
        },
        _ => Ok(()),
    }
}

fn load_blackbox_file(path: &Path) -> Result<BTreeMap<String, Module>, ConfigError> {
    let raw = crate::read(path)?;
    let text = crate::env::expand(path, &raw)?;
    let f: BlackboxFile = if text.trim().is_empty() {
        BlackboxFile::default()
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::from_yaml(path, &e))?
    };
    for (name, m) in &f.modules {
        validate_module(name, m).map_err(|msg| {
            let (l, c) = locate(&text, &format!("{name}:"), 1);
            ConfigError::at(path, l, c, msg)
        })?;
    }
    Ok(f.modules)
}

impl ProbesSection {
    /// Validates the section of `file` (whose text is `text`); `base` resolves `config_file`.
    pub(crate) fn resolve(
        self,
        file: &Path,
        text: &str,
        base: &Path,
    ) -> Result<ProbesSettings, ConfigError> {
        let start = locate(text, "probes:", 1).0.max(1);
        let at = |needle: &str, msg: String| {
            let (l, c) = locate(text, needle, start);
            ConfigError::at(file, l, c, msg)
        };
        let mut modules = default_modules();
        if let Some(p) = &self.config_file {
            let p = if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            };
            modules.extend(load_blackbox_file(&p)?);
        }
        for (name, m) in &self.modules {
            validate_module(name, m).map_err(|msg| at(&format!("{name}:"), msg))?;
        }
        modules.extend(self.modules);
        let default_interval = self.interval.map(|d| d.0).unwrap_or(15_000);
        let mut targets: Vec<ProbeTarget> = Vec::new();
        for t in self.targets {
            let target = match (t.url, t.target) {
                (Some(u), None) | (None, Some(u)) => u,
                _ => {
                    let needle = t.name.as_deref().unwrap_or("targets:");
                    return Err(at(
                        needle,
                        "probes target: give exactly one of url or target".into(),
                    ));
                }
            };
            let module = t.module.unwrap_or_else(|| "http_2xx".into());
            let Some(m) = modules.get(&module) else {
                let mut known: Vec<&str> = modules.keys().map(String::as_str).collect();
                known.sort();
                return Err(at(
                    &module,
                    format!(
                        "probe target {target:?}: unknown module {module:?} (known: {})",
                        known.join(", ")
                    ),
                ));
            };
            validate_target(&m.prober, &target).map_err(|msg| at(&target, msg))?;
            let name = t.name.unwrap_or_else(|| target.clone());
            if targets.iter().any(|o| o.name == name) {
                return Err(at(&name, format!("duplicate probe name {name:?}")));
            }
            let interval_ms = t.interval.map(|d| d.0).unwrap_or(default_interval);
            if interval_ms < 100 {
                return Err(at(
                    &target,
                    format!("probe {name:?}: interval must be at least 100ms"),
                ));
            }
            targets.push(ProbeTarget {
                name,
                target,
                module,
                interval_ms,
                labels: t.labels,
            });
        }
        for p in &self.status_page.probes {
            if !targets.iter().any(|t| &t.name == p) {
                return Err(at(
                    "status_page",
                    format!("status_page: no probe target named {p:?}"),
                ));
            }
        }
        Ok(ProbesSettings {
            modules,
            targets,
            status_page: self.status_page,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::pharos::parse;
    use std::path::Path;

    #[test]
    fn modules_targets_and_status_page() {
        let p = Path::new("/tmp/pharos.yml");
        let text = "probes:\n  modules:\n    web:\n      prober: http\n      timeout: 3s\n      http:\n        method: HEAD\n        valid_status_codes: [200, 204]\n        fail_if_body_not_matches_regexp: ['ok']\n        no_follow_redirects: true\n        preferred_ip_protocol: ip4\n        tls_config: {insecure_skip_verify: true}\n  targets:\n    - {name: api, url: 'http://127.0.0.1:8080/health', module: web, interval: 5s}\n    - {target: 'localhost:22', module: tcp_connect}\n  status_page: {title: Acme, probes: [api]}\n";
        let c = parse(p, text).unwrap();
        let pr = &c.probes;
        let web = &pr.modules["web"];
        assert_eq!(web.timeout_ms(), 3000);
        assert_eq!(web.http.valid_status_codes, vec![200, 204]);
        assert!(!web.http.follows_redirects());
        assert!(web.http.tls_config.insecure_skip_verify);
        assert_eq!(pr.targets.len(), 2);
        assert_eq!(pr.targets[0].interval_ms, 5000);
        assert_eq!(pr.targets[1].name, "localhost:22");
        assert_eq!(pr.targets[1].interval_ms, 15000);
        assert_eq!(pr.status_page.title.as_deref(), Some("Acme"));
    }

    #[test]
    fn errors_point_at_the_line() {
        let p = Path::new("/tmp/pharos.yml");
        let e = parse(
            p,
            "listen: x\nprobes:\n  targets:\n    - {url: 'http://a/', module: nope}\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("unknown module"), "{e}");
        let e = parse(p, "probes:\n  targets:\n    - url: 'ftp://a/'\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("invalid URL"), "{e}");
        let e = parse(
            p,
            "probes:\n  modules:\n    bad:\n      prober: http\n      http:\n        fail_if_body_matches_regexp: ['(']\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("invalid regex"), "{e}");
        let e = parse(
            p,
            "probes:\n  modules:\n    m:\n      prober: http\n      http:\n        methd: GET\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = parse(p, "probes:\n  modules:\n    m: {prober: ftp}\n").unwrap_err();
        assert!(e.message.contains("unknown prober"), "{e}");
        let e = parse(p, "probes:\n  targets: [{url: 'http://a:99999/'}]\n").unwrap_err();
        assert!(e.message.contains("bad port"), "{e}");
        let e = parse(
            p,
            "probes:\n  modules:\n    m: {prober: dns, dns: {query_name: a, dns_over_tls: true}}\n",
        )
        .unwrap_err();
        assert!(e.message.contains("not supported"), "{e}");
        let e = parse(p, "probes:\n  status_page: {probes: [x]}\n").unwrap_err();
        assert!(e.message.contains("no probe target"), "{e}");
    }

    #[test]
    fn blackbox_config_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("blackbox.yml"),
            "modules:\n  dns_a:\n    prober: dns\n    dns:\n      query_name: example.com\n      query_type: A\n      valid_rcodes: [NOERROR]\n",
        )
        .unwrap();
        let p = dir.path().join("pharos.yml");
        let c = parse(
            &p,
            "probes:\n  config_file: blackbox.yml\n  targets: [{target: '127.0.0.1:53', module: dns_a}]\n",
        )
        .unwrap();
        assert_eq!(c.probes.modules["dns_a"].dns.query_name, "example.com");
        std::fs::write(
            dir.path().join("blackbox.yml"),
            "modules:\n  x:\n    prober: dns\n    dns:\n      query_name: a\n      validate_answer_rrs:\n        fail_if_matches_regexp: ['[']\n",
        )
        .unwrap();
        let e = parse(&p, "probes:\n  config_file: blackbox.yml\n").unwrap_err();
        assert!(e.file.ends_with("blackbox.yml"), "{e}");
        assert_eq!(e.line, 2, "{e}");
    }
}

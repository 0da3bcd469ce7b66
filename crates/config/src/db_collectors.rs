//! `collectors.redis` and `collectors.postgres` of pharos.yml: the database servers pharos
//! collects (by connection URL, password from the URL, an env var or a file), checked at load
//! time with file:line errors, and the scrape jobs (`redis`, `postgres`) that collect them
//! from pharos' own `/metrics/redis?target=<name>` and `/metrics/postgres?target=<name>`.

use crate::{locate, ConfigError, ScrapeConfig};
use model::time::PromDuration;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The path pharos serves a Redis target's exposition at (`?target=<name>`).
pub const REDIS_METRICS_PATH: &str = "/metrics/redis";
/// The path pharos serves a PostgreSQL target's exposition at (`?target=<name>`).
pub const POSTGRES_METRICS_PATH: &str = "/metrics/postgres";

/// Where a password comes from (read at each scrape, so a rotated secret is picked up).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasswordSource {
    /// From the URL's userinfo.
    pub inline: Option<String>,
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

impl PasswordSource {
    /// The password, if any: file, then env var, then the URL's.
    pub fn resolve(&self) -> Result<Option<String>, String> {
        if let Some(f) = &self.file {
            return std::fs::read_to_string(f)
                .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_string()))
                .map_err(|e| format!("reading password_file {}: {e}", f.display()));
        }
        if let Some(v) = &self.env {
            return std::env::var(v)
                .map(Some)
                .map_err(|_| format!("password_env {v} is not set"));
        }
        Ok(self.inline.clone())
    }
}

/// One Redis server to collect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisInstance {
    pub name: String,
    /// `host:port`.
    pub addr: String,
    pub username: Option<String>,
    pub password: PasswordSource,
    pub db: u32,
}

/// One PostgreSQL server to collect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresInstance {
    pub name: String,
    /// The connection URL without its password.
    pub url: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: PasswordSource,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DbEntry {
    name: String,
    url: String,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default)]
    password_file: Option<PathBuf>,
}

/// The parts of `scheme://[user[:password]@]host[:port][/path][?query]`.
#[derive(Debug, PartialEq, Eq)]
pub struct UrlParts {
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    pub path: String,
    pub query: Vec<(String, String)>,
}

fn pct_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-escape in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} is not UTF-8 once decoded"))
}

/// Splits a connection URL; errors say what is wrong.
pub fn parse_url(url: &str) -> Result<UrlParts, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not a URL (expected scheme://host:port/...)"))?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => match ui.split_once(':') {
            Some((u, p)) => (Some(pct_decode(u)?), Some(pct_decode(p)?)),
            None => (Some(pct_decode(ui)?), None),
        },
    };
    let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, after) = h
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in host of {url:?}"))?;
        (format!("[{h}]"), after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (hostport.to_string(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err(format!("{url:?} has no host"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("bad port {p:?} in {url:?}"))?,
        ),
    };
    let mut q = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        q.push((pct_decode(k)?, pct_decode(v)?));
    }
    Ok(UrlParts {
        scheme: scheme.to_ascii_lowercase(),
        user: user.filter(|u| !u.is_empty()),
        password: password.filter(|p| !p.is_empty()),
        host,
        port,
        path: pct_decode(path)?,
        query: q,
    })
}

/// A Redis URL (`redis://[[user]:password@]host[:port][/db]`, or bare `host:port`).
pub fn parse_redis_url(url: &str) -> Result<(String, Option<String>, Option<String>, u32), String> {
    let full = if url.contains("://") {
        url.to_string()
    } else {
        format!("redis://{url}")
    };
    let u = parse_url(&full)?;
    match u.scheme.as_str() {
        "redis" => {}
        "rediss" => return Err(format!("{url:?}: TLS (rediss://) is not supported yet")),
        s => return Err(format!("{url:?}: scheme {s:?} is not redis://")),
    }
    let db = if u.path.is_empty() {
        0
    } else {
        u.path
            .parse::<u32>()
            .map_err(|_| format!("{url:?}: database {:?} is not a number", u.path))?
    };
    let addr = format!("{}:{}", u.host, u.port.unwrap_or(6379));
    Ok((addr, u.user, u.password, db))
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

pub(crate) fn resolve_redis(
    entries: Vec<DbEntry>,
    file: &Path,
    text: &str,
    start: usize,
) -> Result<Vec<RedisInstance>, ConfigError> {
    let mut out: Vec<RedisInstance> = Vec::new();
    for e in entries {
        let at = |needle: &str, msg: String| {
            let (l, c) = locate(text, needle, start);
            ConfigError::at(file, l, c, format!("collectors.redis {:?}: {msg}", e.name))
        };
        check_entry(&e, out.iter().map(|r| r.name.as_str()), &at)?;
        let (addr, username, inline, db) = parse_redis_url(&e.url).map_err(|m| at(&e.url, m))?;
        out.push(RedisInstance {
            name: e.name.clone(),
            addr,
            username,
            password: PasswordSource {
                inline,
                env: e.password_env.clone(),
                file: e.password_file.clone(),
            },
            db,
        });
    }
    Ok(out)
}

fn check_entry<'a>(
    e: &DbEntry,
    mut taken: impl Iterator<Item = &'a str>,
    at: &dyn Fn(&str, String) -> ConfigError,
) -> Result<(), ConfigError> {
    if !valid_name(&e.name) {
        return Err(at(
            "name",
            "name must be non-empty letters, digits, _ - . :".into(),
        ));
    }
    if taken.any(|n| n == e.name) {
        return Err(at(&e.name, "name is used twice".into()));
    }
    if e.password_env.is_some() && e.password_file.is_some() {
        return Err(at(
            "password_file",
            "set password_env or password_file, not both".into(),
        ));
    }
    Ok(())
}

pub(crate) fn resolve_postgres(
    entries: Vec<DbEntry>,
    file: &Path,
    text: &str,
    start: usize,
) -> Result<Vec<PostgresInstance>, ConfigError> {
    let mut out: Vec<PostgresInstance> = Vec::new();
    for e in entries {
        let at = |needle: &str, msg: String| {
            let (l, c) = locate(text, needle, start);
            ConfigError::at(
                file,
                l,
                c,
                format!("collectors.postgres {:?}: {msg}", e.name),
            )
        };
        check_entry(&e, out.iter().map(|r| r.name.as_str()), &at)?;
        let u = parse_url(&e.url).map_err(|m| at(&e.url, m))?;
        if u.scheme != "postgres" && u.scheme != "postgresql" {
            return Err(at(
                &e.url,
                format!("scheme {:?} is not postgres://", u.scheme),
            ));
        }
        for (k, v) in &u.query {
            if k == "sslmode" && !matches!(v.as_str(), "disable" | "prefer" | "allow") {
                return Err(at(
                    &e.url,
                    format!("sslmode={v} is not supported yet (use sslmode=disable)"),
                ));
            }
        }
        let user = u.user.clone().unwrap_or_else(|| "postgres".into());
        let dbname = if u.path.is_empty() {
            user.clone()
        } else {
            u.path.clone()
        };
        let port = u.port.unwrap_or(5432);
        let host = u
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        out.push(PostgresInstance {
            name: e.name.clone(),
            url: format!("postgres://{user}@{}:{port}/{dbname}", u.host),
            host,
            port,
            user,
            dbname,
            password: PasswordSource {
                inline: u.password,
                env: e.password_env.clone(),
                file: e.password_file.clone(),
            },
        });
    }
    Ok(out)
}

/// The scrape config of job `job` that collects `names` from pharos' listener at `target`
/// via `path?target=<name>`, with `instance` = the name.
pub fn db_scrape_config(
    job: &str,
    path: &str,
    names: &[&str],
    target: &str,
    interval_ms: i64,
) -> Option<ScrapeConfig> {
    if names.is_empty() {
        return None;
    }
    let list = names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let yaml = format!(
        "job_name: {job}\nscrape_interval: {}\nscrape_timeout: {}\nmetrics_path: {path}\n\
         static_configs:\n  - targets: [{list}]\n\
         relabel_configs:\n  - source_labels: [__address__]\n    target_label: __param_target\n\
         \x20 - source_labels: [__param_target]\n    target_label: instance\n\
         \x20 - target_label: __address__\n    replacement: '{target}'\n",
        PromDuration(interval_ms),
        PromDuration(interval_ms.min(10_000)),
    );
    serde_yaml_ng::from_str::<ScrapeConfig>(&yaml)
        .map_err(|e| eprintln!("pharos: built-in scrape config {job}: {e}"))
        .ok()
}

/// Jobs `redis` and `postgres` for the configured servers (unless the user has a job of that name).
pub fn scrape_configs(
    c: &crate::collectors::CollectorsSettings,
    target: &str,
    taken: &[&str],
) -> Vec<ScrapeConfig> {
    let interval = crate::collectors::DEFAULT_INTERVAL_MS;
    let redis: Vec<&str> = c.redis.iter().map(|r| r.name.as_str()).collect();
    let pg: Vec<&str> = c.postgres.iter().map(|r| r.name.as_str()).collect();
    [
        ("redis", REDIS_METRICS_PATH, redis),
        ("postgres", POSTGRES_METRICS_PATH, pg),
    ]
    .into_iter()
    .filter(|(job, _, _)| !taken.contains(job))
    .filter_map(|(job, path, names)| db_scrape_config(job, path, &names, target, interval))
    .collect()
}

/// `; redis cache, … (job=redis); postgres main (job=postgres)` for the configured servers.
pub fn describe(c: &crate::collectors::CollectorsSettings) -> String {
    let mut out = String::new();
    let redis: Vec<&str> = c.redis.iter().map(|r| r.name.as_str()).collect();
    let pg: Vec<&str> = c.postgres.iter().map(|r| r.name.as_str()).collect();
    for (kind, names) in [("redis", redis), ("postgres", pg)] {
        if !names.is_empty() {
            out.push_str(&format!("; {kind} {} (job={kind})", names.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn redis_urls() {
        assert_eq!(
            parse_redis_url("redis://:s%40cret@db.local:6380/2").unwrap(),
            ("db.local:6380".into(), None, Some("s@cret".into()), 2)
        );
        assert_eq!(
            parse_redis_url("127.0.0.1:7000").unwrap(),
            ("127.0.0.1:7000".into(), None, None, 0)
        );
        assert_eq!(
            parse_redis_url("redis://u:p@[::1]").unwrap(),
            ("[::1]:6379".into(), Some("u".into()), Some("p".into()), 0)
        );
        assert!(parse_redis_url("redis://h:99999").is_err());
        assert!(parse_redis_url("redis://h/x").is_err());
        assert!(parse_redis_url("rediss://h").is_err());
        assert!(parse_redis_url("http://h").is_err());
        assert!(parse_redis_url("redis://").is_err());
    }

    #[test]
    fn postgres_entries_and_errors_point_at_lines() {
        let text = "collectors:\n  postgres:\n    - name: main\n      url: postgres://app:pw@localhost:5433/shop?sslmode=disable\n    - name: bad\n      url: postgres://x@h:notaport/db\n";
        let entries = vec![
            DbEntry {
                name: "main".into(),
                url: "postgres://app:pw@localhost:5433/shop?sslmode=disable".into(),
                password_env: None,
                password_file: None,
            },
            DbEntry {
                name: "bad".into(),
                url: "postgres://x@h:notaport/db".into(),
                password_env: None,
                password_file: None,
            },
        ];
        let e = resolve_postgres(entries, Path::new("p.yml"), text, 1).unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let ok = resolve_postgres(
            vec![DbEntry {
                name: "main".into(),
                url: "postgres://app:pw@localhost:5433/shop?sslmode=disable".into(),
                password_env: None,
                password_file: None,
            }],
            Path::new("p.yml"),
            text,
            1,
        )
        .unwrap();
        assert_eq!(ok[0].port, 5433);
        assert_eq!(ok[0].dbname, "shop");
        assert_eq!(ok[0].user, "app");
        assert_eq!(ok[0].password.resolve().unwrap(), Some("pw".into()));
        assert!(!ok[0].url.contains("pw"));
    }

    #[test]
    fn scrape_config_relabels_the_name_into_instance() {
        let sc = db_scrape_config(
            "redis",
            REDIS_METRICS_PATH,
            &["cache"],
            "127.0.0.1:9090",
            15_000,
        )
        .unwrap();
        assert_eq!(sc.job_name, "redis");
        assert_eq!(sc.metrics_path, "/metrics/redis");
        assert_eq!(sc.relabel_configs.len(), 3);
        assert!(db_scrape_config("redis", REDIS_METRICS_PATH, &[], "h:1", 15_000).is_none());
        let mut c = crate::collectors::CollectorsSettings::default();
        assert_eq!(describe(&c), "");
        c.redis.push(RedisInstance {
            name: "cache".into(),
            addr: "h:1".into(),
            username: None,
            password: PasswordSource::default(),
            db: 0,
        });
        assert_eq!(describe(&c), "; redis cache (job=redis)");
        assert_eq!(scrape_configs(&c, "h:9", &[]).len(), 1);
        assert!(scrape_configs(&c, "h:9", &["redis"]).is_empty());
    }

    proptest! {
        #[test]
        fn any_url_text_never_panics(s in "\\PC{0,60}") {
            let _ = parse_url(&s);
            let _ = parse_redis_url(&s);
        }

        #[test]
        fn url_like_text_never_panics(s in "[a-z]{0,6}://[a-z:@%0-9\\[\\]]{0,20}(/[a-z0-9%]{0,5})?(\\?[a-z=&%]{0,10})?") {
            let _ = parse_url(&s);
            let _ = parse_redis_url(&s);
        }
    }
}

//! Wiring of the built-in collectors (`collectors:` of pharos.yml): serves the host
//! collector's exposition at `/metrics/node`, and adds scrape jobs `pharos` (pharos' own
//! `/metrics`) and `node` (`/metrics/node`) against pharos' own listener to the scrape
//! manager's config, so both are stored every 15 s with `up`, `instance` and a row on the
//! Targets page like any scrape. On by default, with no config at all.

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use collectors::host::HostCollector;
use collectors::Collector;
use config::collectors::{CollectorsSettings, HOST_METRICS_PATH};
use parking_lot::RwLock;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// The address the built-in scrape jobs target: pharos' own main listener, set once bound.
static TARGET: OnceLock<String> = OnceLock::new();

/// The host collector behind `/metrics/node`, replaced when a reload changes its rootfs.
static HOST: OnceLock<RwLock<Arc<HostCollector>>> = OnceLock::new();

fn host_for(settings: &CollectorsSettings) -> Arc<HostCollector> {
    Arc::new(collectors::host::for_rootfs(
        &settings.host_rootfs,
        env!("CARGO_PKG_VERSION"),
    ))
}

/// `host:port` a local client reaches `local` at (a wildcard bind is reached on loopback).
fn target_for(local: SocketAddr) -> String {
    let ip = match local.ip() {
        IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port()).to_string()
}

/// The prometheus config plus the enabled built-in jobs (unless the user has jobs of the
/// same name; before the listener is bound, the config unchanged).
pub fn with_builtin(cfg: &config::LoadedConfig) -> config::PrometheusConfig {
    let mut p = cfg.prometheus.clone();
    if let Some(target) = TARGET.get() {
        let taken: Vec<&str> = p
            .scrape_configs
            .iter()
            .map(|s| s.job_name.as_str())
            .collect();
        let mut extra = cfg.collectors.scrape_configs(target, &taken);
        for sc in &mut extra {
            reach_own_listener(sc, &cfg.web);
        }
        p.scrape_configs.extend(extra);
    }
    if let Some(h) = HOST.get() {
        if h.read().options().rootfs != cfg.collectors.host_rootfs {
            *h.write() = host_for(&cfg.collectors);
        }
    }
    p
}

/// Lets a built-in job through pharos' own front door: `https` (its own certificate, not
/// verified: the target is this process) when TLS is on, and the process' internal
/// read-only token when authentication is on.
fn reach_own_listener(sc: &mut config::ScrapeConfig, web: &config::web::WebSettings) {
    if crate::serve_web::scheme() == "https" {
        sc.scheme = "https".into();
        sc.tls_config.insecure_skip_verify = true;
    }
    if web.auth_enabled() {
        sc.authorization = Some(config::prometheus::Authorization {
            auth_type: Some("Bearer".into()),
            credentials: Some(crate::serve_web::internal_scrape_token().to_string()),
            credentials_file: None,
        });
    }
}

/// Appends what the built-in collectors do, as YAML comments, to the config text that
/// `/api/v1/status/config` shows.
pub fn annotated(mut cfg: config::LoadedConfig) -> config::LoadedConfig {
    let c = &cfg.collectors;
    let mut note = format!("\n# pharos {}\n", c.describe());
    if c.self_metrics.enabled {
        note.push_str("#   job \"pharos\": scrapes pharos' own /metrics\n");
    }
    if c.host.enabled {
        note.push_str(&format!(
            "#   job \"node\": scrapes {HOST_METRICS_PATH} (host collector, rootfs {})\n",
            c.host_rootfs.display()
        ));
    }
    note.push_str("#   (collectors: in pharos.yml turns them off)\n");
    cfg.prometheus_yaml.push_str(&note);
    cfg
}

/// Called once the main listener is bound: starts the built-in scrape jobs and logs them.
pub async fn start(
    scrape: &Arc<scrape::ScrapeManager>,
    cfg: &config::LoadedConfig,
    local: SocketAddr,
) {
    let _ = TARGET.set(target_for(local));
    let _ = HOST.set(RwLock::new(host_for(&cfg.collectors)));
    scrape.apply_config(&with_builtin(cfg)).await;
    tracing::info!(target = ?TARGET.get(), "{}", cfg.collectors.describe());
}

/// `GET /metrics/node` (the host collector's exposition, for any Prometheus) and
/// `GET /api/pharos/v1/collectors` (what is on).
pub fn routes(state: &Arc<api::AppState>) -> axum::Router {
    let st = state.clone();
    axum::Router::new()
        .route(
            HOST_METRICS_PATH,
            axum::routing::get(|| async move { node_metrics().await }),
        )
        .route(
            "/api/pharos/v1/collectors",
            axum::routing::get(move || {
                let st = st.clone();
                async move { collectors_json(&st) }
            }),
        )
        .merge(crate::serve_db_collectors::routes(state))
}

async fn node_metrics() -> Response {
    let Some(host) = HOST.get().map(|h| h.read().clone()) else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "host collector not started\n",
        )
            .into_response();
    };
    let text = tokio::task::spawn_blocking(move || {
        let mut out = String::with_capacity(64 << 10);
        collectors::write_text(&host.collect(), &mut out);
        out
    })
    .await
    .unwrap_or_default();
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

fn collectors_json(state: &api::AppState) -> Response {
    let cfg = state.config.read().clone();
    let c = &cfg.collectors;
    let one = |job: &str, path: &str, b: &config::collectors::BuiltinCollector| {
        serde_json::json!({
            "enabled": b.enabled,
            "interval": model::time::PromDuration(b.interval_ms).to_string(),
            "job": job,
            "metricsPath": path,
            "target": TARGET.get(),
        })
    };
    let mut host = one("node", HOST_METRICS_PATH, &c.host);
    host["rootfs"] = serde_json::json!(c.host_rootfs.display().to_string());
    axum::Json(serde_json::json!({
        "status": "success",
        "data": {
            "self": one("pharos", "/metrics", &c.self_metrics),
            "host": host,
            "redis": c.redis.iter().map(|r| &r.name).collect::<Vec<_>>(),
            "postgres": c.postgres.iter().map(|r| &r.name).collect::<Vec<_>>(),
        }
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_scraped_on_loopback() {
        assert_eq!(
            target_for("0.0.0.0:9090".parse().unwrap()),
            "127.0.0.1:9090"
        );
        assert_eq!(target_for("[::]:9090".parse().unwrap()), "[::1]:9090");
        assert_eq!(target_for("10.1.2.3:80".parse().unwrap()), "10.1.2.3:80");
    }
}

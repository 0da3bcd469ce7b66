//! Log signal wiring for `pharos serve`: opens the log store under `<data>/logs/` with the
//! limits and retention of the Loki config named by `loki_config` (if any), builds the Loki API
//! routes (and OTLP logs), and opens the Loki compatibility listener on
//! `server.http_listen_port` (or `--loki-listen`), which serves the same router as the main port.

use std::path::Path;
use std::sync::Arc;

pub struct LogsWiring {
    pub store: Arc<logs::LogStore>,
    pub routes: axum::Router,
    /// Address of the Loki compatibility listener, when one is configured.
    pub loki_listen: Option<String>,
}

pub async fn open(
    cfg: &config::LoadedConfig,
    data_dir: &Path,
    loki_listen_override: Option<String>,
    wal_hold: Arc<std::sync::atomic::AtomicU64>,
) -> Result<LogsWiring, String> {
    let loki = match &cfg.loki_config {
        Some(p) => {
            let c = logs::lokiconfig::load(p)?;
            if let Some(n) = &c.notice {
                tracing::info!("{n}");
            }
            c
        }
        None => logs::lokiconfig::LokiConfig::default(),
    };
    let opts = logs::LogStoreOptions {
        limits: loki.limits.clone(),
        wal_hold,
        ..Default::default()
    };
    let opts = logs::LogStoreOptions {
        delete_cancel_period_ms: loki
            .delete_request_cancel_period_ms
            .unwrap_or(opts.delete_cancel_period_ms),
        delete_max_interval_ms: loki
            .delete_max_interval_ms
            .unwrap_or(opts.delete_max_interval_ms),
        ..opts
    };
    let dir = data_dir.join("logs");
    let store = tokio::task::spawn_blocking(move || logs::LogStore::open(&dir, opts))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| {
            format!(
                "opening the log store in {}: {e}",
                data_dir.join("logs").display()
            )
        })?;
    let state = api::loki::LokiState::new(store.clone(), loki.auth_enabled);
    let routes = api::loki::routes(state.clone()).merge(api::loki::otlp_routes(state));
    let loki_listen = loki_listen_override.or_else(|| {
        loki.http_listen_port.map(|p| {
            let host = loki
                .http_listen_address
                .clone()
                .unwrap_or_else(|| "0.0.0.0".into());
            format!("{host}:{p}")
        })
    });
    Ok(LogsWiring {
        store,
        routes,
        loki_listen,
    })
}

/// Serves `app` on the Loki compatibility listener until the process ends.
pub async fn start_listener(w: &LogsWiring, app: axum::Router) -> Result<(), String> {
    let Some(addr) = &w.loki_listen else {
        return Ok(());
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot open the Loki listener on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "pharos: loki listening on {}://{local}",
        crate::serve_web::scheme()
    );
    tokio::spawn(async move {
        if let Err(e) = crate::serve_web::serve(listener, app, std::future::pending()).await {
            tracing::error!("Loki listener failed: {e}");
        }
    });
    Ok(())
}

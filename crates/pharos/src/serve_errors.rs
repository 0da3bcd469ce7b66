//! Error signal wiring for `pharos serve`: opens the error store under `<data>/errors/` with the
//! projects, scrubbing, retention and limits of `errors:` in pharos.yml, builds the Sentry
//! ingest routes and the error query API, and runs retention once a minute.

use std::path::Path;
use std::sync::Arc;

pub struct ErrorsWiring {
    /// The default (tenant-less) store.
    pub store: Arc<errors::ErrorStore>,
    /// The default store and the tenants' stores.
    pub tenants: Arc<errors::tenants::TenantStores>,
    pub routes: axum::Router,
}

/// The store options `errors:` asks for (defaults where it is silent).
pub fn options(cfg: &config::errors::ErrorsSettings) -> errors::StoreOptions {
    let d = errors::StoreOptions::default();
    errors::StoreOptions {
        retention_secs: cfg
            .retention_time_ms
            .map(|ms| ms as f64 / 1000.0)
            .unwrap_or(d.retention_secs),
        retention_bytes: cfg.retention_size_bytes,
        max_event_bytes: cfg
            .max_event_bytes
            .map(|b| b as usize)
            .unwrap_or(d.max_event_bytes),
        events_per_second: cfg.max_events_per_second.unwrap_or(d.events_per_second),
        scrub_enabled: cfg.scrub_enabled,
        scrub_fields: cfg.scrub_fields.clone(),
        store_attachments: cfg.store_attachments,
        delete_cancel_period_ms: cfg.delete_request_cancel_period_ms,
        ..d
    }
}

/// The projects declared in `errors.projects`.
pub fn projects(cfg: &config::errors::ErrorsSettings) -> Vec<errors::Project> {
    cfg.projects
        .iter()
        .map(|p| errors::Project {
            id: p.id.clone(),
            name: p.name.clone(),
            keys: p
                .keys
                .iter()
                .map(|(k, r)| errors::ProjectKey {
                    public: k.clone(),
                    rate_limit: *r,
                })
                .collect(),
            allow_pii: p.send_default_pii,
            rate_limits: p.rate_limits.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            from_config: true,
        })
        .collect()
}

/// Installs pharos' reactions (transactions and span items → spans, log items → the log store,
/// sessions → release health, issue alerts → the built-in Alertmanager).
pub fn install_hooks(
    w: &ErrorsWiring,
    cfg: &config::LoadedConfig,
    am: &alertmanager::Alertmanager,
    traces: Arc<traces::TraceStore>,
    logs: Arc<dyn model::LogSink>,
    db: Arc<tsdb::Tsdb>,
    local: std::net::SocketAddr,
) {
    let alerts: Arc<dyn model::AlertSink> = Arc::new(am.clone());
    let health = Arc::new(crate::release_health::ReleaseHealth::new(db.clone(), db));
    w.tenants.set_hooks(Arc::new(
        crate::serve_errors_hooks::PharosErrorHooks::new(
            alerts,
            traces,
            format!("http://{local}"),
            cfg.errors.alert_threshold,
        )
        .with_release_health(health)
        .with_logs(logs),
    ));
}

pub async fn start(cfg: &config::LoadedConfig, data_dir: &Path) -> Result<ErrorsWiring, String> {
    let opts = options(&cfg.errors);
    let projects = projects(&cfg.errors);
    let dir = data_dir.join("errors");
    let tenants_dir = data_dir.join("errors-tenants");
    let (o, p) = (opts.clone(), projects.clone());
    let store = tokio::task::spawn_blocking(move || errors::ErrorStore::open(&dir, o, p))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| {
            format!(
                "opening the error store in {}: {e}",
                data_dir.join("errors").display()
            )
        })?;
    let tenants = Arc::new(errors::tenants::TenantStores::new(
        store.clone(),
        tenants_dir.clone(),
        opts,
        projects,
    ));
    {
        let t = tenants.clone();
        tokio::task::spawn_blocking(move || t.open_existing())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| {
                format!(
                    "opening the tenants' error stores in {}: {e}",
                    tenants_dir.display()
                )
            })?;
    }
    let state = Arc::new(api::sentry::SentryState {
        tenants: tenants.clone(),
        max_body_bytes: api::MAX_BODY_BYTES,
    });
    let routes = api::sentry::routes(state.clone()).merge(api::error_delete::routes(state));
    {
        let tenants = tenants.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                for (tenant, s) in tenants.named() {
                    // A tenant's own retention (`tenants:` `retention_period`), else the store's.
                    let own = tenant.as_deref().and_then(api::tenant_limits::retention_ms);
                    let res = tokio::task::spawn_blocking(move || match own {
                        Some(ms) => {
                            s.enforce_retention_for(errors::store::now_secs(), ms as f64 / 1000.0)
                        }
                        None => s.enforce_retention(errors::store::now_secs()),
                    })
                    .await;
                    if let Ok(Err(e)) = res {
                        tracing::warn!("error store retention failed: {e}");
                    }
                }
            }
        });
    }
    // Delete requests past their cancel period leave the log segments: a pass every half
    // cancel period (1 s to 60 s), over every tenant's store.
    {
        let tenants = tenants.clone();
        let every = (cfg.errors.delete_request_cancel_period_ms / 2).clamp(1000, 60_000) as u64;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_millis(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                for s in tenants.all() {
                    let r = tokio::task::spawn_blocking(move || {
                        s.process_deletes(model::time::now_ms())
                    })
                    .await;
                    match r {
                        Ok(Ok(n)) if n > 0 => tracing::info!(events = n, "error deletes applied"),
                        Ok(Err(e)) => tracing::warn!("error delete pass failed: {e}"),
                        _ => {}
                    }
                }
            }
        });
    }
    Ok(ErrorsWiring {
        store,
        tenants,
        routes,
    })
}

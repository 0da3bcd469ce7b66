//! Wiring of Grafana dashboards into `pharos serve`: opens the dashboard store under
//! `<data>/dashboards/` with the provisioned folders of pharos.yml's `dashboards:`, polls those
//! folders every 2 s (and picks up changed providers after a config reload), and returns the
//! Grafana API routes.

use api::AppState;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often provisioned folders are looked at.
const POLL: Duration = Duration::from_secs(2);

/// The providers of a loaded config.
fn providers(cfg: &config::LoadedConfig) -> Vec<dashboards::Provider> {
    cfg.dashboards
        .iter()
        .map(|p| dashboards::Provider {
            path: p.path.clone(),
            writable: p.writable,
            folder: p.folder.clone(),
        })
        .collect()
}

/// Opens the store, starts the folder watcher and returns the Grafana API routes and the store.
pub async fn start(
    state: &Arc<AppState>,
    data_dir: &Path,
) -> Result<(axum::Router, Arc<dashboards::Store>), String> {
    let cfg = state.config.read().clone();
    let dir = data_dir.join("dashboards");
    let initial = providers(&cfg);
    let store = tokio::task::spawn_blocking(move || dashboards::Store::open(&dir, initial))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("dashboards: {e}"))?;
    let store = Arc::new(store);
    {
        let store = store.clone();
        let weak = Arc::downgrade(state);
        tokio::spawn(async move {
            let mut current = providers(&cfg);
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(state) = weak.upgrade() else { return };
                let wanted = providers(&state.config.read());
                drop(state);
                let store = store.clone();
                let changed = wanted != current;
                if changed {
                    current = wanted.clone();
                }
                let r = tokio::task::spawn_blocking(move || {
                    if changed {
                        store.set_providers(wanted);
                    } else {
                        store.rescan();
                    }
                })
                .await;
                if let Err(e) = r {
                    tracing::warn!("dashboard folder scan failed: {e}");
                }
            }
        });
    }
    let annotations = Arc::new(dashboards::annotations::Annotations::open(store.db_dir()));
    let routes = api::grafana::routes(Arc::new(api::grafana::GrafanaState {
        store: store.clone(),
        annotations,
    }));
    Ok((routes, store))
}

//! Wiring of the built-in Alertmanager into `pharos serve`: loads the alertmanager.yml named by
//! pharos.yml's `alertmanager_config` (or a receiver-less default so the API still accepts
//! alerts and silences), keeps state under `<data>/alerting/`, reloads with the config, writes
//! its metrics into the TSDB every 15 s and appends them to pharos' `/metrics`.

use alertmanager::{Alertmanager, Loaded, RetryPolicy};
use std::path::Path;
use std::sync::Arc;

const DEFAULT_CONFIG: &str = "route:\n  receiver: default\nreceivers:\n  - name: default\n";

/// Loads the Alertmanager configuration of `cfg`.
pub fn load(cfg: &config::LoadedConfig) -> Result<Loaded, String> {
    let am_cfg = match &cfg.alertmanager_config {
        Some(p) => alertmanager::load(p).map_err(|e| e.to_string())?,
        None => alertmanager::config::parse(Path::new("<built-in default>"), DEFAULT_CONFIG)
            .map_err(|e| e.to_string())?,
    };
    for w in &am_cfg.warnings {
        tracing::warn!("{w}");
    }
    let loaded = Loaded::new(am_cfg)?;
    for w in &loaded.template_warnings {
        tracing::warn!("{w}");
    }
    Ok(loaded)
}

/// Starts the Alertmanager dispatcher and its metrics writer.
pub fn start(
    cfg: &config::LoadedConfig,
    data_dir: &Path,
    external_url: String,
    sink: Arc<dyn model::MetricSink>,
) -> Result<Alertmanager, String> {
    let am = Alertmanager::new(
        load(cfg)?,
        Some(data_dir.join("alerting")),
        external_url,
        RetryPolicy::default(),
    )?;
    am.spawn();
    let m = am.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            tick.tick().await;
            let samples = m.metric_samples(model::time::now_ms());
            if let Err(e) = sink.append(&samples) {
                tracing::debug!("writing alertmanager metrics: {e}");
            }
        }
    });
    Ok(am)
}

/// Re-reads the alertmanager.yml on a config reload.
pub fn reload(am: &Alertmanager, cfg: &config::LoadedConfig) -> Result<(), String> {
    am.reload(load(cfg)?);
    Ok(())
}

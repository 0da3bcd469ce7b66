//! Wiring of the built-in Alertmanager into `pharos serve`: loads the alertmanager.yml named by
//! pharos.yml's `alertmanager_config` (or a receiver-less default so the API still accepts
//! alerts and silences), keeps state under `<data>/alerting/`, reloads with the config and
//! appends its metrics to pharos' `/metrics` (stored by the self-monitoring scrape, job `pharos`).

use alertmanager::{Alertmanager, Loaded, RetryPolicy};
use std::path::Path;

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
) -> Result<Alertmanager, String> {
    let am = Alertmanager::new(
        load(cfg)?,
        Some(data_dir.join("alerting")),
        external_url,
        RetryPolicy::default(),
    )?;
    // No samples of its own into the TSDB: its metrics reach it through the self-monitoring
    // scrape of /metrics, and with `collectors.self` off nothing is written at "now" behind the
    // user's back (which would also cut a head that is being backfilled).
    am.spawn();
    Ok(am)
}

/// Re-reads the alertmanager.yml on a config reload.
pub fn reload(am: &Alertmanager, cfg: &config::LoadedConfig) -> Result<(), String> {
    am.reload(load(cfg)?);
    Ok(())
}

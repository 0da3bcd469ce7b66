//! Wiring of the Elasticsearch-compatible API and of the file tailer (promtail role) to the
//! log store: both write through `model::LogSink`, the ES search reads through
//! `model::LogQueryable`. ES templates persist in `<data>/logs/elasticsearch-templates.json`;
//! the tailer's positions default to `<data>/logs/positions.yaml`.

use std::path::Path;
use std::sync::Arc;

/// The ES routes (`/_bulk`, `/{index}/_search`, ..., and `GET /`).
pub fn routes(store: Arc<logs::LogStore>, data_dir: &Path) -> axum::Router {
    let state = Arc::new(api::elasticsearch::EsState::new(
        store.clone(),
        store,
        Some(data_dir.join("logs").join("elasticsearch-templates.json")),
    ));
    api::elasticsearch::routes(state).merge(api::elasticsearch::root_routes())
}

/// Starts the file tailer when pharos.yml names a `promtail_config`.
pub fn start_tailer(
    cfg: &config::LoadedConfig,
    store: Arc<logs::LogStore>,
    data_dir: &Path,
) -> Result<Option<tailer::Tailer>, String> {
    let Some(path) = &cfg.promtail_config else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("promtail_config {}: {e}", path.display()))?;
    let text = config::env::expand(path, &text).map_err(|e| e.to_string())?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let tcfg = tailer::parse(&text, &base)
        .map_err(|e| format!("promtail_config {}: {e}", path.display()))?;
    let jobs = tcfg.scrape_configs.len();
    let t = tailer::start(
        tcfg,
        store,
        model::logs::DEFAULT_TENANT.to_string(),
        data_dir.join("logs").join("positions.yaml"),
    )?;
    tracing::info!(config = %path.display(), jobs, "file tailer started");
    Ok(Some(t))
}

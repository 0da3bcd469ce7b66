//! Configuration: `pharos.yml` (which files to load, where data lives) and the standard
//! `prometheus.yml` it points at, loaded with `${VAR}` expansion and errors naming file, line and
//! field; plus the relabeling rules those files define.
//!
//! (Skeleton: being written.)

use std::path::{Path, PathBuf};

/// A configuration error, printed as `file:line:column: message`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based; 0 when unknown.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Everything `pharos serve` needs from its config files.
#[derive(Clone, Debug, Default)]
pub struct LoadedConfig {
    /// The file given on the command line (pharos.yml or prometheus.yml).
    pub path: Option<PathBuf>,
    /// The prometheus.yml text after `${VAR}` expansion, for `/api/v1/status/config`.
    pub prometheus_yaml: String,
}

/// Loads `path`, which may be a `pharos.yml` or directly a `prometheus.yml`.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: e.to_string(),
    })?;
    Ok(LoadedConfig {
        path: Some(path.to_path_buf()),
        prometheus_yaml: text,
    })
}

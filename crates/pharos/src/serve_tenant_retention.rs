//! Per-tenant retention of metrics (pharos.yml `tenants:` `retention_period`, Mimir's
//! `compactor_blocks_retention_period` as an alias): reads already stop at the cutoff
//! (`api::prometheus::tenant`); this loop deletes what aged out, as Mimir's compactor does,
//! with the TSDB's tombstones (`delete_series` on `__tenant__="<t>"`, samples older than the
//! cutoff) and `clean_tombstones`, which rewrites the blocks without them. Blocks hold every
//! tenant's series, so a tenant cannot be dropped by deleting whole blocks.

use api::prometheus::tenant::{tenant_matcher, TENANT_LABEL};
use model::Queryable;
use std::sync::Arc;
use std::time::Duration;

/// How often aged-out samples are deleted (reads hide them at once).
const EVERY: Duration = Duration::from_secs(600);

/// Starts the loop (first pass a minute after start).
pub fn spawn(db: Arc<tsdb::Tsdb>) {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        loop {
            let db = db.clone();
            match tokio::task::spawn_blocking(move || pass(&db)).await {
                Ok(Err(e)) => tracing::warn!("per-tenant metric retention failed: {e}"),
                Err(e) => tracing::warn!("per-tenant metric retention failed: {e}"),
                Ok(Ok(_)) => {}
            }
            tokio::time::sleep(EVERY).await;
        }
    });
}

/// One pass: the series touched.
pub fn pass(db: &tsdb::Tsdb) -> Result<usize, model::StorageError> {
    let (named, default) = api::tenant_limits::retention_tenants();
    if named.is_empty() && !default {
        return Ok(0);
    }
    let now = chrono::Utc::now().timestamp_millis();
    let tenants = if default {
        db.label_values(TENANT_LABEL, &[], i64::MIN, now)?
    } else {
        named
    };
    let mut touched = 0;
    for t in tenants {
        let Some(ms) = api::tenant_limits::retention_ms(&t) else {
            continue;
        };
        touched += db.delete_series(&[tenant_matcher(&t)], i64::MIN, now.saturating_sub(ms))?;
    }
    if touched > 0 {
        db.clean_tombstones()?;
        tracing::info!(series = touched, "per-tenant metric retention");
    }
    Ok(touched)
}

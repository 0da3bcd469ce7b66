//! The answer to a write refused on a full disk, per protocol: what each protocol's real
//! clients retry on, always with a message and a `Retry-After`.
//!
//! - OTLP/HTTP (traces, logs, metrics): 503, in the OTLP specification's retryable set
//!   (429, 502, 503, 504); 507 is outside it and OTLP exporters drop the data.
//! - OTLP/gRPC: `UNAVAILABLE` (14), retryable per the specification (`INTERNAL` is not).
//! - Prometheus remote_write and Loki push: 507 Insufficient Storage; Prometheus' queue
//!   manager and promtail/Alloy retry every 5xx (Prometheus also honours `Retry-After` there).
//! - Elasticsearch `_bulk` items: 429 `cluster_block_exception`, as Elasticsearch answers past
//!   its flood-stage disk watermark; Beats, Logstash and Fluent Bit retry 429 items.
//! - Sentry envelopes: 503 (Sentry's own answer when it cannot take events; relays retry it,
//!   SDKs drop on any HTTP error whatever its code).

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

/// Seconds a client is asked to wait before retrying a write refused on a full disk.
pub const RETRY_AFTER_SECS: u32 = 10;

/// Adds `Retry-After` to a disk-full refusal.
pub fn with_retry_after(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert("retry-after", HeaderValue::from(RETRY_AFTER_SECS));
    resp
}

/// A plain-text disk-full refusal with `Retry-After`.
pub fn text(status: StatusCode, msg: String) -> Response {
    with_retry_after(crate::loki::text(status, msg))
}

/// Adds `Retry-After` to a 507 (a layer for handlers that answer 507 on a full disk).
pub async fn retry_after_on_507(resp: Response) -> Response {
    if resp.status() == StatusCode::INSUFFICIENT_STORAGE {
        return with_retry_after(resp);
    }
    resp
}

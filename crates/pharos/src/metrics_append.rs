//! Appends the exposition text of in-process components that keep their own counters (the rules
//! engine's `prometheus_rule_*`, the built-in Alertmanager's `alertmanager_*`) to the body of
//! `GET /metrics`, so a Prometheus scraping pharos sees them as it would scraping the peers.
//! One middleware buffers the body once for all of them.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;

/// Appends one component's metrics, in the text exposition format, to `out`.
pub type MetricsWriter = Arc<dyn Fn(&mut String) + Send + Sync>;

/// Wraps `app` so that a successful `GET /metrics` ends with every writer's text, in order.
pub fn append_to_metrics(app: axum::Router, writers: Vec<MetricsWriter>) -> axum::Router {
    let writers = Arc::new(writers);
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            let writers = writers.clone();
            async move {
                let is_metrics = req.uri().path() == "/metrics";
                let resp = next.run(req).await;
                if !is_metrics || !resp.status().is_success() {
                    return resp;
                }
                let (mut parts, body) = resp.into_parts();
                let bytes = match axum::body::to_bytes(body, 256 << 20).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!("reading /metrics body: {e}");
                        return Response::from_parts(parts, Body::empty());
                    }
                };
                let mut text = String::from_utf8_lossy(&bytes).into_owned();
                for write in writers.iter() {
                    write(&mut text);
                }
                parts.headers.remove(axum::http::header::CONTENT_LENGTH);
                Response::from_parts(parts, Body::from(text))
            }
        },
    ))
}

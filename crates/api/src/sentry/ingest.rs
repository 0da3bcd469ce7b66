//! Sentry ingest endpoints: `POST /api/{project_id}/envelope/` and `POST /api/{project_id}/store/`
//! (with or without the trailing slash), as Sentry's developer documentation specifies them:
//! auth from `X-Sentry-Auth` (or `Authorization: Sentry ...`), the `sentry_key` query parameter
//! or the envelope header's `dsn`; `Content-Encoding` gzip/deflate/br; `{"id": ...}` once the
//! event is durable; errors as `{"detail": ...}` with `X-Sentry-Error`; 429 with `Retry-After`
//! and `X-Sentry-Rate-Limits`; CORS preflight and headers for browser SDKs.

use super::{SentryState, TenantStore};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use errors::decode::{self, Auth};
use errors::{envelope, Rejection};
use serde_json::json;
use std::sync::Arc;

const ALLOW_HEADERS: &str = "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, content-type, content-encoding, content-length, authentication, authorization, transfer-encoding, sentry-trace, baggage";
const EXPOSE_HEADERS: &str = "x-sentry-error, x-sentry-rate-limits, retry-after";

pub fn routes(state: Arc<SentryState>) -> Router {
    Router::new()
        .route(
            "/api/{project_id}/envelope/",
            post(envelope_handler).options(preflight),
        )
        .route(
            "/api/{project_id}/envelope",
            post(envelope_handler).options(preflight),
        )
        .route(
            "/api/{project_id}/store/",
            post(store_handler).options(preflight),
        )
        .route(
            "/api/{project_id}/store",
            post(store_handler).options(preflight),
        )
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(cors))
        .with_state(state)
}

async fn preflight() -> StatusCode {
    StatusCode::OK
}

/// Adds the CORS headers browser SDKs need to every ingest response.
async fn cors(req: Request, next: Next) -> Response {
    let origin = req
        .headers()
        .get("origin")
        .cloned()
        .unwrap_or(HeaderValue::from_static("*"));
    let is_preflight = req.method() == Method::OPTIONS;
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", origin);
    h.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    h.append("vary", HeaderValue::from_static("Origin"));
    if is_preflight {
        h.insert("access-control-max-age", HeaderValue::from_static("3600"));
    }
    resp
}

/// Sentry's error response: `{"detail": ...}`, `X-Sentry-Error`, and the rate-limit headers.
pub fn rejection(r: &Rejection) -> Response {
    if matches!(r.status, 500 | 503)
        && model::storage::is_disk_full(&r.detail)
        && !r.detail.starts_with("insufficient storage")
    {
        // A full disk: 503 with `Retry-After`, Sentry's answer when it cannot take events
        // (relays retry it; see `crate::disk_full`).
        let full = Rejection::new(503, model::storage::disk_full_message(&r.detail));
        return crate::disk_full::with_retry_after(rejection(&full));
    }
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (status, axum::Json(json!({ "detail": r.detail }))).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&r.detail.replace(['\r', '\n'], " ")) {
        h.insert("x-sentry-error", v);
    }
    if let Some((wait, cats)) = &r.retry_after {
        let cats: Vec<&str> = cats.iter().map(String::as_str).collect();
        let entry = errors::limits::header_entry(*wait, &cats, "project");
        if let Ok(v) = HeaderValue::from_str(&entry) {
            h.insert("x-sentry-rate-limits", v);
        }
        h.insert("retry-after", HeaderValue::from(*wait));
    }
    resp
}

/// The tenant's `errors_ingestion_rate` (pharos.yml `tenants:`): past it the whole request
/// answers Sentry's 429 with `Retry-After` and `X-Sentry-Rate-Limits` (scope `organization`:
/// the tenant).
fn tenant_rate(headers: &HeaderMap, events: usize) -> Result<(), Response> {
    let Some(tenant) = crate::prometheus::tenant::tenant_of(headers) else {
        return Ok(());
    };
    crate::tenant_limits::admit_error_events(&tenant, events).map_err(|wait| {
        let entry = errors::limits::header_entry(wait, &[], "organization");
        let mut r = rejection(&Rejection {
            status: 429,
            detail: format!(
                "event rate limit of tenant {tenant:?} exceeded (errors_ingestion_rate); retry after {wait}s"
            ),
            retry_after: None,
        });
        let h = r.headers_mut();
        h.insert("retry-after", HeaderValue::from(wait));
        if let Ok(v) = HeaderValue::from_str(&entry) {
            h.insert("x-sentry-rate-limits", v);
        }
        r
    })
}

fn reject(status: u16, detail: impl Into<String>) -> Response {
    rejection(&Rejection::new(status, detail))
}

/// Credentials from the headers or the query string.
fn request_auth(headers: &HeaderMap, query: Option<&str>) -> Option<Auth> {
    for name in ["x-sentry-auth", "authorization"] {
        if let Some(a) = headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(decode::parse_auth_header)
        {
            return Some(a);
        }
    }
    query.and_then(decode::parse_auth_query)
}

/// Reads and decompresses the body within the limit.
async fn read_body(st: &SentryState, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, Response> {
    let raw: Bytes = axum::body::to_bytes(body, st.max_body_bytes)
        .await
        .map_err(|_| {
            reject(
                413,
                format!(
                    "request body exceeds the limit of {} bytes",
                    st.max_body_bytes
                ),
            )
        })?;
    let enc = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok());
    decode::decompress(enc, &raw, st.max_body_bytes).map_err(|e| {
        if e.contains("exceeds") {
            reject(413, e)
        } else {
            reject(400, e)
        }
    })
}

async fn envelope_handler(
    State(st): State<Arc<SentryState>>,
    TenantStore(tstore): TenantStore,
    Path(project_id): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let mut auth = request_auth(&parts.headers, parts.uri.query());
    if let Some(a) = &auth {
        if let Err(r) = tstore.authenticate(&project_id, Some(&a.public_key)) {
            return rejection(&r);
        }
    }
    let data = match read_body(&st, &parts.headers, body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let env = match envelope::parse(&data) {
        Ok(e) => e,
        Err(e) if auth.is_none() => {
            // Without credentials there is nothing to trust: say so first.
            let _ = e;
            return reject(401, "missing authorization information");
        }
        Err(e) => return reject(400, e.to_string()),
    };
    if auth.is_none() {
        auth = env
            .headers
            .get("dsn")
            .and_then(|d| d.as_str())
            .and_then(decode::parse_dsn)
            .map(|(key, _)| Auth {
                public_key: key,
                ..Default::default()
            });
    }
    let key = auth.map(|a| a.public_key);
    let project = match tstore.authenticate(&project_id, key.as_deref()) {
        Ok(p) => p,
        Err(r) => return rejection(&r),
    };
    let events = env
        .items
        .iter()
        .filter(|i| matches!(i.ty(), "event" | "transaction"))
        .count();
    if let Err(r) = tenant_rate(&parts.headers, events) {
        return r;
    }
    let store = tstore.clone();
    let key = key.unwrap_or_default();
    let res =
        tokio::task::spawn_blocking(move || store.ingest_envelope(&project, &key, &env)).await;
    match res {
        Ok(Ok(out)) => {
            let body = match &out.id {
                Some(id) => json!({ "id": id }),
                None => json!({}),
            };
            let mut resp = axum::Json(body).into_response();
            if !out.limited.is_empty() {
                let entries: Vec<String> = out
                    .limited
                    .iter()
                    .map(|(c, w)| errors::limits::header_entry(*w, &[c.as_str()], "project"))
                    .collect();
                if let Ok(v) = HeaderValue::from_str(&entries.join(", ")) {
                    resp.headers_mut().insert("x-sentry-rate-limits", v);
                }
            }
            resp
        }
        Ok(Err(r)) => rejection(&r),
        Err(e) => reject(500, format!("ingest failed: {e}")),
    }
}

async fn store_handler(
    State(st): State<Arc<SentryState>>,
    TenantStore(tstore): TenantStore,
    Path(project_id): Path<String>,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let key = request_auth(&parts.headers, parts.uri.query()).map(|a| a.public_key);
    let project = match tstore.authenticate(&project_id, key.as_deref()) {
        Ok(p) => p,
        Err(r) => return rejection(&r),
    };
    let data = match read_body(&st, &parts.headers, body).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let data = match decode::store_body(&data, st.max_body_bytes) {
        Ok(d) => d,
        Err(e) => return reject(400, format!("invalid event: {e}")),
    };
    if let Err(r) = tenant_rate(&parts.headers, 1) {
        return r;
    }
    let key = key.unwrap_or_default();
    let store = tstore.clone();
    let res = tokio::task::spawn_blocking(move || {
        let is_transaction = serde_json::from_slice::<serde_json::Value>(&data)
            .ok()
            .is_some_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("transaction"));
        let ty = if is_transaction {
            "transaction"
        } else {
            "event"
        };
        let env = envelope::Envelope {
            headers: Default::default(),
            items: vec![envelope::Item {
                headers: [("type".to_string(), json!(ty))].into_iter().collect(),
                payload: data,
            }],
        };
        store.ingest_envelope(&project, &key, &env)
    })
    .await;
    match res {
        Ok(Ok(out)) => axum::Json(json!({ "id": out.id })).into_response(),
        Ok(Err(r)) => rejection(&r),
        Err(e) => reject(500, format!("ingest failed: {e}")),
    }
}

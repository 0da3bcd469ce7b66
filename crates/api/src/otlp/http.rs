//! OTLP/HTTP trace export (`POST /v1/traces`): `application/x-protobuf` or `application/json`
//! bodies, optionally gzip-compressed; answers with an empty `ExportTraceServiceResponse` in the
//! request's encoding, or a `google.rpc.Status` with the reason (400 bad data, 413 too large,
//! 429 rate limited — which OTLP clients retry).

use crate::trace_http::{content_type, read_body, Refusal, TracesState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Encodes a `google.rpc.Status{code, message}` protobuf by hand (two fields).
fn rpc_status_protobuf(code: i32, message: &str) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    let mut out = vec![0x08];
    varint(&mut out, code as u64);
    out.push(0x12);
    varint(&mut out, message.len() as u64);
    out.extend_from_slice(message.as_bytes());
    out
}

/// gRPC status code matching an HTTP refusal (OTLP maps them this way).
fn grpc_code(s: StatusCode) -> i32 {
    match s.as_u16() {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        429 => 8,             // RESOURCE_EXHAUSTED
        503 => 14,            // UNAVAILABLE
        _ => 13,              // INTERNAL
    }
}

/// OTLP/HTTP's answer to a fully accepted export: an empty `Export*ServiceResponse`, in the
/// request's encoding.
pub(crate) fn accepted(json: bool) -> Response {
    if json {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response()
    } else {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            Vec::<u8>::new(),
        )
            .into_response()
    }
}

pub(crate) fn refuse(json: bool, r: Refusal) -> Response {
    let Refusal(status, msg) = r;
    let resp = if json {
        let body = serde_json::json!({"code": grpc_code(status), "message": msg});
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    } else {
        (
            status,
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            rpc_status_protobuf(grpc_code(status), &msg),
        )
            .into_response()
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        // A retryable refusal (a full disk): OTLP asks for `Retry-After`.
        return crate::disk_full::with_retry_after(resp);
    }
    resp
}

pub async fn export(
    State(st): State<Arc<TracesState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = content_type(&headers);
    let json = ct == "application/json";
    if !json && ct != "application/x-protobuf" && ct != "application/protobuf" {
        return refuse(
            false,
            Refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Type {ct:?}: use application/x-protobuf or application/json"),
            ),
        );
    }
    let raw = match read_body(&headers, &body, st.max_body_bytes) {
        Ok(b) => b,
        Err(r) => return refuse(json, r),
    };
    let store = st.store.clone();
    let tenant = crate::prometheus::tenant::tenant_of(&headers);
    let res = tokio::task::spawn_blocking(move || {
        let mut spans = if json {
            traces::otlp::decode_json(&raw)?
        } else {
            traces::otlp::decode_protobuf(&raw)?
        };
        if let Some(t) = &tenant {
            crate::tenant_limits::admit_spans(t, raw.len(), &spans)?;
            traces::tenant::tag(&mut spans, t);
        }
        store.append(spans)
    })
    .await;
    match res {
        Ok(Ok(_)) => accepted(json),
        Ok(Err(e)) => refuse(json, e.into()),
        Err(e) => refuse(
            json,
            Refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("ingest task failed: {e}"),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_encoding() {
        assert_eq!(
            rpc_status_protobuf(3, "ab"),
            vec![0x08, 3, 0x12, 2, b'a', b'b']
        );
    }
}

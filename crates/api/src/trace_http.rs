//! Shared pieces of the trace ingest/query surfaces (OTLP, Jaeger, Zipkin): the state they
//! hold (the trace store and, for correlation, the log store), request body reading with
//! `Content-Encoding: gzip` and size limits, and mapping store errors to HTTP statuses.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use std::io::Read;
use std::sync::Arc;

/// State of the trace HTTP/gRPC handlers.
pub struct TracesState {
    pub store: Arc<traces::TraceStore>,
    /// Log store for `GET /api/traces/{id}/logs`, when logs are enabled.
    pub logs: Option<Arc<dyn model::LogQueryable>>,
    /// Largest accepted request body after decompression.
    pub max_body_bytes: usize,
}

/// A refusal: status and a message for the client.
#[derive(Debug)]
pub struct Refusal(pub StatusCode, pub String);

impl From<traces::store::IngestError> for Refusal {
    fn from(e: traces::store::IngestError) -> Self {
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let msg = e.to_string();
        if status == StatusCode::INTERNAL_SERVER_ERROR && model::storage::is_disk_full(&msg) {
            // 503, which OTLP exporters retry (see `crate::disk_full`).
            return Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                model::storage::disk_full_message(&msg),
            );
        }
        if status.is_server_error() {
            tracing::error!("trace ingest failed: {e}");
        }
        Refusal(status, msg)
    }
}

/// The OTLP/gRPC status of a refused export, as OTLP specifies: RESOURCE_EXHAUSTED for
/// limits, INVALID_ARGUMENT for bad or too large input, UNAVAILABLE on a full disk (retried
/// by exporters; INTERNAL, which they drop, for other failures).
pub fn grpc_status(e: traces::store::IngestError) -> tonic::Status {
    let Refusal(status, msg) = e.into();
    match status.as_u16() {
        429 => tonic::Status::resource_exhausted(msg),
        400 | 413 => tonic::Status::invalid_argument(msg),
        503 => tonic::Status::unavailable(msg),
        _ => tonic::Status::internal(msg),
    }
}

/// The body, gunzipped when `Content-Encoding: gzip` (or `deflate`), refused with 413 past
/// `max` bytes.
pub fn read_body(headers: &HeaderMap, body: &Bytes, max: usize) -> Result<Vec<u8>, Refusal> {
    let too_big = || {
        Refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body exceeds the limit of {max} bytes (traces.limits.max_request_bytes)"
            ),
        )
    };
    if body.len() > max {
        return Err(too_big());
    }
    let enc = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut out = Vec::new();
    let res = match enc.as_str() {
        "" | "identity" => return Ok(body.to_vec()),
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(&body[..])
            .take(max as u64 + 1)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(&body[..])
            .take(max as u64 + 1)
            .read_to_end(&mut out),
        other => {
            return Err(Refusal(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported Content-Encoding {other:?} (use gzip or none)"),
            ))
        }
    };
    res.map_err(|e| Refusal(StatusCode::BAD_REQUEST, format!("invalid {enc} body: {e}")))?;
    if out.len() > max {
        return Err(too_big());
    }
    Ok(out)
}

/// The media type of the request without parameters, lowercased.
pub fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_and_limits() {
        let mut h = HeaderMap::new();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'a'; 1000]).unwrap();
        let gz = Bytes::from(enc.finish().unwrap());
        h.insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
        assert_eq!(read_body(&h, &gz, 2000).unwrap().len(), 1000);
        assert_eq!(
            read_body(&h, &gz, 500).unwrap_err().0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(
            read_body(&h, &Bytes::from_static(b"notgzip"), 500)
                .unwrap_err()
                .0,
            StatusCode::BAD_REQUEST
        );
        h.insert(header::CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(
            read_body(&h, &gz, 5000).unwrap_err().0,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn grpc_status_of_refusals() {
        use traces::store::IngestError;
        let code = |e| super::grpc_status(e).code();
        let full = "appending spans: No space left on device (os error 28)".to_string();
        assert_eq!(
            code(IngestError::Io(full.clone())),
            tonic::Code::Unavailable
        );
        assert!(super::grpc_status(IngestError::Io(full))
            .message()
            .contains("disk is full"));
        assert_eq!(code(IngestError::Io("x".into())), tonic::Code::Internal);
        assert_eq!(
            code(IngestError::RateLimited("x".into())),
            tonic::Code::ResourceExhausted
        );
        assert_eq!(
            code(IngestError::BadInput("x".into())),
            tonic::Code::InvalidArgument
        );
    }
}

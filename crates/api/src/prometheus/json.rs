//! Prometheus API response envelopes (`{"status":"success","data":...}` and the error shape)
//! and the value encodings Prometheus uses (sample values as strings, timestamps as seconds).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value as Json};

/// Prometheus' API error types and their HTTP status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    BadData,
    Execution,
    Timeout,
    Canceled,
    Internal,
    Unavailable,
    NotFound,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Internal => "internal",
            ErrorType::Unavailable => "unavailable",
            ErrorType::NotFound => "not_found",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorType::BadData => StatusCode::BAD_REQUEST,
            ErrorType::Execution => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorType::Timeout | ErrorType::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorType::Canceled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            ErrorType::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
        }
    }

    /// Maps a PromQL error type string (`QueryError::error_type`) to ours.
    pub fn from_query(kind: &str) -> ErrorType {
        match kind {
            "bad_data" => ErrorType::BadData,
            "execution" => ErrorType::Execution,
            "timeout" => ErrorType::Timeout,
            "canceled" => ErrorType::Canceled,
            _ => ErrorType::Internal,
        }
    }
}

/// An API error response.
#[derive(Debug)]
pub struct ApiError {
    pub kind: ErrorType,
    pub message: String,
}

impl ApiError {
    pub fn bad_data(message: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorType::BadData,
            message: message.into(),
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            kind: ErrorType::Internal,
            message: message.into(),
        }
    }
}

impl From<model::StorageError> for ApiError {
    fn from(e: model::StorageError) -> Self {
        let kind = match e {
            model::StorageError::BadInput(_) => ErrorType::BadData,
            model::StorageError::Limit(_) => ErrorType::Unavailable,
            // A full disk: 503 with the cause, retried by senders once space is freed.
            model::StorageError::Io(_) if e.disk_full().is_some() => ErrorType::Unavailable,
            model::StorageError::Io(_) => ErrorType::Internal,
        };
        ApiError {
            kind,
            message: e.disk_full().unwrap_or_else(|| e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "status": "error",
            "errorType": self.kind.as_str(),
            "error": self.message,
        });
        (self.kind.status(), axum::Json(body)).into_response()
    }
}

/// A success envelope with optional annotations.
pub fn success(data: Json, warnings: &[String], infos: &[String]) -> Response {
    let mut body = json!({ "status": "success", "data": data });
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    if !infos.is_empty() {
        body["infos"] = json!(infos);
    }
    axum::Json(body).into_response()
}

/// Formats a sample value as Prometheus does (Go's `FormatFloat(v, 'f', -1, 64)`).
pub fn format_value(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    super::result_json::float(&mut out, v);
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes a millisecond timestamp as Prometheus' JSON seconds number (`1435781451.781`).
pub fn timestamp(ms: i64) -> Json {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    if frac == 0 {
        json!(ms / 1000)
    } else {
        // Exact decimal text, so 1.1 stays 1.1 rather than a binary approximation.
        let text = format!("{sign}{secs}.{frac:03}");
        let text = text.trim_end_matches('0');
        serde_json::from_str(text).unwrap_or_else(|_| json!(ms as f64 / 1000.0))
    }
}

/// `[ts, "value"]` pair.
pub fn sample_pair(t: i64, v: f64) -> Json {
    json!([timestamp(t), format_value(v)])
}

/// A label set as a JSON object.
pub fn labels_json(labels: &model::Labels) -> Json {
    let mut m = serde_json::Map::new();
    for l in labels.iter() {
        m.insert(l.name.clone(), Json::String(l.value.clone()));
    }
    Json::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_like_prometheus() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(-2.5), "-2.5");
        assert_eq!(format_value(1e21), "1000000000000000000000");
    }

    #[test]
    fn timestamps_as_seconds() {
        assert_eq!(timestamp(1_435_781_451_781).to_string(), "1435781451.781");
        assert_eq!(timestamp(1500).to_string(), "1.5");
        assert_eq!(timestamp(2000).to_string(), "2");
        assert_eq!(timestamp(-500).to_string(), "-0.5");
    }
}

//! The Prometheus-compatible HTTP API: query endpoints, metadata endpoints, status endpoints and
//! the remote_write receiver, with Prometheus' JSON shapes and error model.

pub mod admin_api;
pub mod json;
pub mod limits;
pub mod metadata_api;
pub mod params;
pub mod query_api;
pub mod remote_write;
pub mod remote_write_direct;
pub mod remote_write_v2;
pub mod result_json;
pub mod rules_api;
pub mod status;
pub mod tenant;

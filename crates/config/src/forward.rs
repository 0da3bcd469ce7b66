//! `forward:` of pharos.yml: where logs, traces and errors are forwarded to (a Loki push or
//! Elasticsearch `_bulk` endpoint, an OTLP/HTTP endpoint, a Sentry DSN). Each entry takes the
//! keys of a prometheus.yml `remote_write` entry (url, name, headers, basic_auth,
//! authorization, bearer_token(_file), tls_config, remote_timeout, queue_config,
//! write_relabel_configs) plus `format:` for logs; the forward crate checks them.

use crate::prometheus::RemoteEndpoint;
use serde::Deserialize;

/// `forward:` as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ForwardSection {
    pub logs: Vec<RemoteEndpoint>,
    pub traces: Vec<RemoteEndpoint>,
    pub errors: Vec<RemoteEndpoint>,
}

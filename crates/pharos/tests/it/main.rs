//! pharos' integration tests in one binary (one link instead of one per file, which kept the
//! test build's disk use and link time in check): each module starts the real `pharos` binary on
//! ephemeral ports and talks to it over HTTP, as a user's clients would.

mod alertmanager_api;
mod annotations_api;
mod collectors;
mod common;
mod created_timestamps;
mod dashboards_api;
mod db_collectors;
mod demo;
mod errors_api;
mod errors_delete;
mod errors_hooks;
mod errors_release_health;
mod fault_crash;
mod fault_disk_full;
mod federate;
mod forward_compression;
mod forward_signals;
mod histogram_blocks;
mod http_api;
mod incident_api;
mod logql_rules;
mod logs_api;
mod logs_delete;
mod metric_tenants;
mod otlp_grpc_tenants;
mod otlp_native_histograms;
mod pharos_api;
mod probes_api;
mod probes_blackbox;
mod remote_write_send;
mod remote_write_v2;
mod rules_alerts;
mod rulesets;
mod scrape_native_histograms;
mod soak;
mod tenant_limits;
mod tenants_every_signal;
mod tls_reload;
mod trace_segments;
mod trace_tenants;
mod traces_api;
mod traces_delete;
mod troubleshoot;
mod web_auth;

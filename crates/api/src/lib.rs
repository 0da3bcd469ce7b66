//! HTTP surfaces of pharos, mapped to the peers' paths: the Prometheus HTTP API, remote_write
//! receiver, health/readiness, reload and self metrics.
//!
//! (Skeleton: being written.)

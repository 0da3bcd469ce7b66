//! Runs PromQL test scripts in Prometheus' `promqltest` format against the `promql` engine over
//! an in-memory store, and reports each failing case.
//!
//! (Skeleton: being written.)

//! Grafana dashboards for pharos: the store behind Grafana's dashboard HTTP API (`store`),
//! provisioning from watched folders with write-back for dashboards kept in Git (`provision`),
//! Grafana's naming and import rules (`grafana`), built-in annotations (`annotations`), version history (`versions`), stars (`stars`), created folders (`folders`) and an order-preserving JSON value (`json`)
//! so a stored dashboard keeps the key order it came with. No HTTP here: the handlers are in
//! `api::grafana`.

pub mod annotations;
pub mod folders;
pub mod grafana;
pub mod json;
pub mod provision;
pub mod stars;
pub mod store;
pub mod versions;

pub use provision::Provider;
pub use store::{
    Counts, DashboardView, Entry, Folder, Hit, HitKind, Origin, SaveRequest, Saved, SearchQuery,
    Store, StoreError,
};

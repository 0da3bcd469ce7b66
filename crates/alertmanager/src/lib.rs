//! The built-in Alertmanager: loads `alertmanager.yml` (`config`), routes alerts through the
//! route tree (`route`), groups, inhibits, silences and deduplicates them (`dispatch`,
//! `silence`, `nflog`), keeps the recent delivery attempts for people (`history`), renders
//! notification templates (`template`) and delivers to Slack, PagerDuty, webhooks and email
//! (`notify`). The HTTP API lives in `api::alertmanager`.

pub mod alert;
pub mod config;
pub mod dispatch;
#[cfg(test)]
mod dispatch_tests;
pub mod history;
pub mod matchers;
pub mod nflog;
pub mod notify;
pub mod persist;
pub mod route;
pub mod sha256;
pub mod silence;
pub mod template;
pub mod timeinterval;

pub use config::{load, AlertmanagerConfig};
pub use dispatch::{AlertView, Alertmanager, GroupView, Loaded, RetryPolicy};
pub use silence::{Silence, SilenceError, SilenceMatcher};

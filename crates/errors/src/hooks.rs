//! How the rest of pharos reacts to the error store without the store knowing about it:
//! [`ErrorHooks`] is called after an event is durable (never during replay) with what happened
//! to its issue, and with the non-error items of an envelope (transactions, sessions, ...).

use serde_json::Value;

/// What an event did to its issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssueEventKind {
    /// The first event of a new issue.
    New,
    /// A resolved issue was seen again and reopened.
    Regression,
    /// Another event of an existing issue.
    Event,
}

impl IssueEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IssueEventKind::New => "new",
            IssueEventKind::Regression => "regression",
            IssueEventKind::Event => "event",
        }
    }
}

/// An event as it landed in an issue.
#[derive(Clone, Debug)]
pub struct IssueEvent {
    pub kind: IssueEventKind,
    pub issue_id: String,
    pub project: String,
    pub project_name: String,
    pub title: String,
    pub culprit: String,
    pub level: String,
    pub environment: Option<String>,
    pub release: Option<String>,
    pub event_id: String,
    /// Events of the issue so far (this one included).
    pub count: u64,
    /// The event's timestamp, Unix seconds.
    pub timestamp: f64,
}

/// Reactions to the error store. Every method defaults to doing nothing.
pub trait ErrorHooks: Send + Sync {
    /// An error event was stored (after it is durable).
    fn on_issue_event(&self, _ev: &IssueEvent) {}
    /// A `transaction` item (the parsed JSON payload).
    fn on_transaction(&self, _project: &str, _payload: &Value) {}
    /// A `session` or `sessions` item (`item_type` tells which).
    fn on_sessions(&self, _project: &str, _item_type: &str, _payload: &Value) {}
    /// Any other accepted item (check_in, log, profile, ...), raw.
    fn on_item(&self, _project: &str, _item_type: &str, _payload: &[u8]) {}
}

/// Hooks that do nothing.
pub struct NoHooks;

impl ErrorHooks for NoHooks {}

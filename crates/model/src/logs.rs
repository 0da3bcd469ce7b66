//! The log data model and the two traits through which log producers (Loki push, OTLP logs,
//! Elasticsearch `_bulk`, the file tailer) and log consumers (LogQL, the ES query DSL, trace
//! correlation) meet the log store. Timestamps are nanoseconds since the Unix epoch, as in Loki.

use crate::{LabelMatcher, Labels, StorageError};

/// Tenant used when multi-tenancy is off (Loki's `auth_enabled: false` uses `fake`).
pub const DEFAULT_TENANT: &str = "fake";

/// One log line with its per-line structured metadata (OTLP attributes, `trace_id`, ES fields
/// that are not stream labels, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// Nanoseconds since the Unix epoch.
    pub ts_ns: i64,
    pub line: String,
    /// Name/value pairs kept with the line, not part of the stream identity.
    pub metadata: Vec<(String, String)>,
}

/// A stream (identified by its label set) and entries to append to it, in any order.
#[derive(Clone, Debug, PartialEq)]
pub struct LogStream {
    pub labels: Labels,
    pub entries: Vec<LogEntry>,
}

/// What happened to a push.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogPushStats {
    pub accepted_lines: usize,
    pub accepted_bytes: usize,
    pub streams_created: usize,
}

/// A destination for log lines. When `push` returns `Ok`, the lines are durable (in the WAL).
/// Limit violations return `StorageError::Limit` (HTTP 429/413), invalid input `BadInput` (400).
pub trait LogSink: Send + Sync {
    fn push(&self, tenant: &str, streams: Vec<LogStream>) -> Result<LogPushStats, StorageError>;
}

/// Order in which `LogQueryable::scan` visits entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Oldest first.
    Forward,
    /// Newest first.
    Backward,
}

/// Read access to stored logs.
pub trait LogQueryable: Send + Sync {
    /// Label sets of the tenant's streams matching all matchers that have entries in
    /// `[start_ns, end_ns)`.
    fn streams(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<Labels>, StorageError>;

    /// Calls `visit` for every entry of matching streams in `[start_ns, end_ns)`, merged across
    /// streams in `direction` order, until `visit` returns `false`.
    fn scan(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start_ns: i64,
        end_ns: i64,
        direction: Direction,
        visit: &mut dyn FnMut(&Labels, &LogEntry) -> bool,
    ) -> Result<(), StorageError>;

    /// [`scan`](Self::scan) that visits only entries whose line bytes pass `keep` (LogQL's
    /// leading line filters); a store may run `keep` over decompressed chunk bytes before it
    /// builds entries, and in parallel. `required` are byte strings every line `keep` accepts
    /// contains (the `|=` literals): a store may drop lines lacking one before it builds them
    /// (a columnar store, before it rebuilds them); `keep` still decides for the others.
    /// Returns the entries and line bytes examined in range.
    #[allow(clippy::too_many_arguments)]
    fn scan_filtered(
        &self,
        tenant: &str,
        matchers: &[LabelMatcher],
        start_ns: i64,
        end_ns: i64,
        direction: Direction,
        keep: &(dyn Fn(&[u8]) -> bool + Sync),
        _required: &[&[u8]],
        visit: &mut dyn FnMut(&Labels, &LogEntry) -> bool,
    ) -> Result<ScanStats, StorageError> {
        let mut st = ScanStats::default();
        self.scan(
            tenant,
            matchers,
            start_ns,
            end_ns,
            direction,
            &mut |l, e| {
                st.entries += 1;
                st.bytes += e.line.len() as u64;
                !keep(e.line.as_bytes()) || visit(l, e)
            },
        )?;
        Ok(st)
    }
}

/// What a [`LogQueryable::scan_filtered`] examined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanStats {
    pub entries: u64,
    pub bytes: u64,
}

/// Evaluates a LogQL metric query at one instant, for rule engines (LogQL alerting and
/// recording rules, as Loki's ruler runs them). Implemented by `logs::logql::RuleQuerier`.
pub trait LogRuleQuerier: Send + Sync {
    /// The (labels, value) samples of `query` at `ts_ms` for `tenant`; a scalar result is one
    /// sample with no labels. `Err` is a message for the rule's health/lastError.
    fn instant(&self, tenant: &str, query: &str, ts_ms: i64) -> Result<Vec<(Labels, f64)>, String>;
}

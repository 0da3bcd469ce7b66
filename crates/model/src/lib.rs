//! Shared data model of pharos: labels, samples, label matchers, time/duration parsing, and the
//! small storage traits (`MetricSink`, `Queryable`, `LogSink`, `LogQueryable`) through which ingest, stores and query
//! engines meet. Nothing here does I/O.

pub mod alert;
pub mod created;
pub mod deletes;
pub mod exemplars;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod histogram;
pub mod labels;
pub mod logs;
pub mod matcher;
pub mod mem;
pub mod ratelimit;
pub mod storage;
pub mod time;

pub use alert::{Alert, AlertSink, FanoutAlertSink};
pub use histogram::{CounterResetHint, FloatHistogram, Span};
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME};
pub use logs::{
    Direction, LogEntry, LogPushStats, LogQueryable, LogRuleQuerier, LogSink, LogStream, ScanStats,
};
pub use matcher::{LabelMatcher, MatchOp, MatcherError};
pub use mem::MemStorage;
pub use storage::{
    AppendStats, HistogramSample, HistogramSeries, MetricSink, Queryable, Sample, Series,
    SeriesRef, StorageError,
};

/// Bit pattern of Prometheus' staleness marker: a NaN that PromQL treats as "series ended here".
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker value written when a series or target disappears.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// True when `v` is exactly the staleness marker (not any other NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

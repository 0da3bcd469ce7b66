//! PromQL evaluation over any `model::Queryable`, with Prometheus 3.x semantics
//! (left-open range selectors, 5m lookback, staleness markers). Parsing is done by the
//! `promql-parser` crate; this crate only evaluates.

mod eval;
pub mod experimental;
pub(crate) use eval::format_go_float as eval_format;
pub(crate) use eval::note_combined;
pub(crate) use eval::unparen as eval_unparen;
pub mod functions;
#[cfg(test)]
mod fuzz_tests;
pub mod selector;

use model::{FloatHistogram, Labels, Queryable, Sample};
use std::sync::Arc;

/// Most steps a range query may have (Prometheus' HTTP API limit).
pub const MAX_RANGE_POINTS: i64 = 11_000;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for the latest sample (ms). Default 5m.
    pub lookback_delta_ms: i64,
    /// Maximum samples a query may hold in memory at once.
    pub max_samples: usize,
    /// Step of subqueries written without one (`x[5m:]`): the global evaluation interval.
    pub default_subquery_step_ms: i64,
    /// Longest a query may evaluate before failing with `QueryError::Timeout`
    /// (Prometheus' `--query.timeout`, default 2m); `None` for no limit.
    pub timeout: Option<std::time::Duration>,
    /// Prometheus' experimental functions and aggregations (`sort_by_label`, `limitk`, ...);
    /// off as upstream unless `--enable-feature=promql-experimental-functions`.
    pub experimental_functions: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: 5 * 60_000,
            max_samples: 50_000_000,
            default_subquery_step_ms: 60_000,
            timeout: Some(std::time::Duration::from_secs(120)),
            experimental_functions: false,
        }
    }
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct InstantSample {
    pub labels: Labels,
    /// Evaluation timestamp (ms).
    pub t: i64,
    /// The float value (meaningless when `h` is set).
    pub v: f64,
    /// The native-histogram value, when this sample is a histogram.
    pub h: Option<Arc<FloatHistogram>>,
}

/// One native-histogram point of a series.
#[derive(Clone, Debug, PartialEq)]
pub struct HPoint {
    pub t: i64,
    pub h: Arc<FloatHistogram>,
}

/// One series of a range result.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
    /// Native-histogram points, in time order (a series may have floats and histograms).
    pub histograms: Vec<HPoint>,
}

/// A query result value, as the Prometheus HTTP API distinguishes them (`resultType`).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, v: String },
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>),
}

/// A result with the annotations Prometheus returns beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// Query failures; `error_type` gives the Prometheus API `errorType`.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Parse(String),
    #[error("{0}")]
    Execution(String),
    #[error("query timed out in {0}")]
    Timeout(String),
    #[error("{0}")]
    Storage(#[from] model::StorageError),
}

impl QueryError {
    /// The `errorType` string of Prometheus' API for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) => "bad_data",
            QueryError::Execution(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Storage(_) => "internal",
        }
    }
}

/// The PromQL engine. Stateless apart from its options; share it freely.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    pub opts: EngineOptions,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// Parses `expr` (experimental functions refused unless enabled in the options).
    pub fn parse(&self, expr: &str) -> Result<promql_parser::parser::Expr, QueryError> {
        experimental::parse(
            &eval::rewrite_trim_operators(expr),
            self.opts.experimental_functions,
        )
        .map_err(QueryError::Parse)
    }

    /// Evaluates `expr` at `t_ms`.
    pub fn instant_query(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        t_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        let ast = self.parse(expr)?;
        eval::instant(storage, &self.opts, expr, &ast, eval::clamp_time(t_ms))
    }

    /// Evaluates `expr` at every step from `start_ms` to `end_ms` inclusive; returns a Matrix.
    pub fn range_query(
        &self,
        storage: &dyn Queryable,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::Parse(
                "zero or negative query resolution step widths are not accepted".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::Parse(
                "end timestamp must not be before start time".into(),
            ));
        }
        let (start_ms, end_ms) = (eval::clamp_time(start_ms), eval::clamp_time(end_ms));
        let step_ms = step_ms.min(eval::TIME_BOUND_MS);
        // Prometheus' API limit, which also bounds the work of a query over an empty store.
        if (end_ms - start_ms) / step_ms > MAX_RANGE_POINTS {
            return Err(QueryError::Parse(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
            ));
        }
        let ast = self.parse(expr)?;
        eval::range(storage, &self.opts, expr, &ast, start_ms, end_ms, step_ms)
    }
}

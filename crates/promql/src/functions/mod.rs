//! PromQL functions (`rate`, `histogram_quantile`, `label_replace`, `*_over_time`, ...): given
//! already-evaluated arguments at one evaluation timestamp, compute the result. The evaluator
//! (`crate::eval`) owns argument evaluation, stepping and series bookkeeping; this module owns
//! the per-function semantics.

use crate::InstantSample;
use model::{Labels, Sample};
use promql_parser::parser::Expr;

/// One evaluated argument of a function call.
#[derive(Clone, Debug)]
pub enum FnArg {
    Scalar(f64),
    String(String),
    /// An instant vector. Each sample's `t` is the timestamp of the underlying stored sample when
    /// the argument expression is a plain vector selector (needed by `timestamp()`), otherwise
    /// the evaluation timestamp.
    Vector(Vec<InstantSample>),
    /// A range vector: for each series, the samples in the left-open window
    /// `(window_end - range, window_end]` (after offset/@ adjustment).
    Matrix(Vec<RangeWindow>),
}

/// The samples of one series inside one range-selector window.
#[derive(Clone, Debug)]
pub struct RangeWindow {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// Everything a function needs to compute its result at one evaluation step.
pub struct FnCall<'a> {
    pub name: &'a str,
    pub args: Vec<FnArg>,
    /// The unevaluated argument expressions (for `absent`, `absent_over_time`, annotations).
    pub arg_exprs: &'a [Expr],
    /// Evaluation timestamp in ms.
    pub t: i64,
    /// For a range-vector argument: the window's start and end in ms (start exclusive), after
    /// offset/@ adjustment. `None` when no argument is a range vector.
    pub window: Option<(i64, i64)>,
}

/// A function's result at one step.
#[derive(Clone, Debug)]
pub enum FnValue {
    Scalar(f64),
    Vector(Vec<InstantSample>),
}

/// A function result plus any annotations (warnings/infos) it raised.
#[derive(Clone, Debug)]
pub struct FnOutput {
    pub value: FnValue,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// Computes `call`. Errors are execution errors (e.g. invalid regex in `label_replace`).
pub fn call(call: FnCall<'_>) -> Result<FnOutput, String> {
    Err(format!("function {}() is not implemented yet", call.name))
}

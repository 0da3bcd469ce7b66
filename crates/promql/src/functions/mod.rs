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
    /// Native-histogram points in the window, in time order.
    pub histograms: Vec<crate::HPoint>,
}

/// Everything a function needs to compute its result at one evaluation step.
pub struct FnCall<'a> {
    pub name: &'a str,
    pub args: Vec<FnArg>,
    /// The unevaluated argument expressions (for `absent`, `absent_over_time`, annotations).
    pub arg_exprs: &'a [Box<Expr>],
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

mod histogram;
mod labels;
mod math;
mod native;
mod range;

pub(crate) use math::{kahan_add, quantile_of};
pub(crate) use range::window_value;

/// Output of a function that only computes a vector.
pub(crate) fn vector_out(v: Vec<InstantSample>) -> FnOutput {
    FnOutput {
        value: FnValue::Vector(v),
        warnings: Vec::new(),
        infos: Vec::new(),
    }
}

/// Output of a function that computes a scalar.
pub(crate) fn scalar_out(v: f64) -> FnOutput {
    FnOutput {
        value: FnValue::Scalar(v),
        warnings: Vec::new(),
        infos: Vec::new(),
    }
}

/// Argument accessors with errors instead of panics.
pub(crate) fn arg_vector(args: &mut [FnArg], i: usize) -> Result<Vec<InstantSample>, String> {
    match args.get_mut(i) {
        Some(FnArg::Vector(v)) => Ok(std::mem::take(v)),
        _ => Err(format!("expected an instant vector as argument {}", i + 1)),
    }
}

pub(crate) fn arg_matrix(args: &mut [FnArg], i: usize) -> Result<Vec<RangeWindow>, String> {
    match args.get_mut(i) {
        Some(FnArg::Matrix(m)) => Ok(std::mem::take(m)),
        _ => Err(format!("expected a range vector as argument {}", i + 1)),
    }
}

pub(crate) fn arg_scalar(args: &[FnArg], i: usize) -> Result<f64, String> {
    match args.get(i) {
        Some(FnArg::Scalar(v)) => Ok(*v),
        _ => Err(format!("expected a scalar as argument {}", i + 1)),
    }
}

pub(crate) fn arg_string(args: &[FnArg], i: usize) -> Result<String, String> {
    match args.get(i) {
        Some(FnArg::String(s)) => Ok(s.clone()),
        _ => Err(format!("expected a string as argument {}", i + 1)),
    }
}

/// Computes `call`. Errors are execution errors (e.g. invalid regex in `label_replace`).
pub fn call(mut call: FnCall<'_>) -> Result<FnOutput, String> {
    if let Some(out) = native::call(&mut call, float_call)? {
        return Ok(out);
    }
    float_call(call)
}

/// Computes `call` with the float implementations (native histograms already handled).
fn float_call(mut call: FnCall<'_>) -> Result<FnOutput, String> {
    let name = call.name;
    if let Some(out) = range::call(name, &mut call)? {
        return Ok(out);
    }
    if let Some(out) = math::call(name, &mut call)? {
        return Ok(out);
    }
    if let Some(out) = labels::call(name, &mut call)? {
        return Ok(out);
    }
    if let Some(out) = histogram::call(name, &mut call)? {
        return Ok(out);
    }
    Err(format!("function {name}() is not supported by pharos yet"))
}

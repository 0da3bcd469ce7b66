//! Binary operators: arithmetic, comparison (filtering or `bool`), and set operators, between
//! scalars and vectors, with vector matching (`on`, `ignoring`, `group_left`, `group_right`) and
//! Prometheus' rules for dropping the metric name.

use super::aggregate::push_unique;
use super::{check_unique_labels, unparen, Evaluator, StepValue};
use crate::{InstantSample, QueryError};
use model::{FloatHistogram, Labels, METRIC_NAME};
use promql_parser::parser::{BinaryExpr, Expr, LabelModifier, VectorMatchCardinality};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }
}

/// Applies `op` to two values; for comparisons returns (lhs, whether it holds).
fn apply(op: Op, l: f64, r: f64) -> (f64, bool) {
    match op {
        Op::Add => (l + r, true),
        Op::Sub => (l - r, true),
        Op::Mul => (l * r, true),
        Op::Div => (l / r, true),
        Op::Mod => (l % r, true),
        Op::Pow => (l.powf(r), true),
        Op::Atan2 => (l.atan2(r), true),
        Op::Eq => (l, l == r),
        Op::Ne => (l, l != r),
        Op::Gt => (l, l > r),
        Op::Lt => (l, l < r),
        Op::Ge => (l, l >= r),
        Op::Le => (l, l <= r),
        Op::And | Op::Or | Op::Unless => (l, true),
    }
}

/// Annotations raised by one binary operation.
#[derive(Default)]
struct Annotations {
    warnings: Vec<String>,
    infos: Vec<String>,
}

/// The result of one element-wise operation where a native histogram is involved.
enum Mixed {
    /// A float result (or comparison outcome).
    Float(f64, bool),
    Histogram(Arc<FloatHistogram>, bool),
    /// A histogram sum or difference, with its notes for annotations.
    Combined(model::histogram::Combined, &'static str),
    /// No result, with Prometheus' info or warning annotation.
    DropInfo(String),
    DropWarning(String),
}

fn type_name(h: &Option<Arc<FloatHistogram>>) -> &'static str {
    if h.is_some() {
        "histogram"
    } else {
        "float"
    }
}

/// Prometheus' vectorElemBinop for operands of which at least one is a histogram.
fn apply_mixed(
    op: Op,
    op_text: &str,
    (lv, lh): (f64, &Option<Arc<FloatHistogram>>),
    (rv, rh): (f64, &Option<Arc<FloatHistogram>>),
) -> Mixed {
    let incompatible = || {
        Mixed::DropInfo(format!(
            "PromQL info: incompatible sample types encountered for binary operator {op_text:?}: {} {op_text} {}",
            type_name(lh),
            type_name(rh)
        ))
    };
    let layout = || {
        Mixed::DropWarning(format!(
            "PromQL warning: incompatible bucket layout encountered for binary operator {op_text}"
        ))
    };
    match (lh, rh) {
        (Some(l), Some(r)) => match op {
            Op::Add | Op::Sub => match l.combine_checked(r, op == Op::Sub) {
                Ok(c) => Mixed::Combined(
                    c,
                    if op == Op::Add {
                        "addition"
                    } else {
                        "subtraction"
                    },
                ),
                Err(_) => layout(),
            },
            Op::Eq | Op::Ne => {
                let mut a = (**l).clone();
                let mut b = (**r).clone();
                a.compact();
                b.compact();
                a.counter_reset_hint = b.counter_reset_hint;
                let same = a == b;
                Mixed::Histogram(l.clone(), if op == Op::Eq { same } else { !same })
            }
            _ => incompatible(),
        },
        (Some(h), None) => match op {
            Op::Mul => Mixed::Histogram(Arc::new(h.mul(rv)), true),
            Op::Div => Mixed::Histogram(Arc::new(h.div(rv)), true),
            _ => incompatible(),
        },
        (None, Some(h)) => match op {
            Op::Mul => Mixed::Histogram(Arc::new(h.mul(lv)), true),
            _ => incompatible(),
        },
        (None, None) => {
            let (v, ok) = apply(op, lv, rv);
            Mixed::Float(v, ok)
        }
    }
}

pub(super) fn eval_binary(
    ev: &mut Evaluator<'_>,
    b: &BinaryExpr,
    ts: i64,
) -> Result<StepValue, QueryError> {
    let op_text = b.op.to_string();
    let op = Op::parse(&op_text)
        .ok_or_else(|| QueryError::Execution(format!("unknown binary operator {op_text}")))?;
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs, ts)?;
    let rhs = ev.eval(&b.rhs, ts)?;
    let mut annos = Annotations::default();
    let result = match (ev.trims.get(&(b as *const BinaryExpr as usize)), lhs, rhs) {
        (Some(&upper), StepValue::Vector(l), StepValue::Vector(r)) => {
            let text = if upper { "</" } else { ">/" };
            vector_vector_matched((op, text), l, r, b, false, Some(upper), &mut annos)
                .map(StepValue::Vector)
        }
        (Some(&upper), lhs, rhs) => Ok(trim(upper, lhs, rhs, &mut annos)),
        (None, lhs, rhs) => eval_values(op, &op_text, b, return_bool, lhs, rhs, &mut annos),
    };
    // Prometheus places an operator's annotations at the whole binary expression; pharos knows
    // where that is for the query's top expression only.
    let position = if ev.root == b as *const BinaryExpr as usize {
        let start = ev.source.len() - ev.source.trim_start().len();
        let before = &ev.source[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
        format!(" ({line}:{column})")
    } else {
        String::new()
    };
    for w in annos.warnings {
        push_unique(&mut ev.warnings, format!("{w}{position}"));
    }
    for i in annos.infos {
        push_unique(&mut ev.infos, format!("{i}{position}"));
    }
    result
}

/// The histogram trim operators: `h </ x` keeps the observations below `x`, `h >/ x` those
/// above; anything but histogram-by-scalar gives nothing (with Prometheus' info annotation).
fn trim(upper: bool, lhs: StepValue, rhs: StepValue, annos: &mut Annotations) -> StepValue {
    let op_text = if upper { "</" } else { ">/" };
    let mut incompatible = |l: &str, r: &str| {
        push_unique(
            &mut annos.infos,
            format!("PromQL info: incompatible sample types encountered for binary operator {op_text:?}: {l} {op_text} {r}"),
        );
    };
    match (lhs, rhs) {
        (StepValue::Vector(v), StepValue::Scalar(x)) => StepValue::Vector(
            v.into_iter()
                .filter_map(|s| match &s.h {
                    Some(h) => Some(InstantSample {
                        h: Some(Arc::new(h.trim_buckets(x, upper))),
                        ..s
                    }),
                    None => {
                        incompatible("float", "float");
                        None
                    }
                })
                .collect(),
        ),
        (StepValue::Scalar(_), StepValue::Vector(v)) => {
            for s in &v {
                incompatible("float", if s.h.is_some() { "histogram" } else { "float" });
            }
            StepValue::Vector(Vec::new())
        }
        _ => StepValue::Vector(Vec::new()),
    }
}

fn eval_values(
    op: Op,
    op_text: &str,
    b: &BinaryExpr,
    return_bool: bool,
    lhs: StepValue,
    rhs: StepValue,
    annos: &mut Annotations,
) -> Result<StepValue, QueryError> {
    match (lhs, rhs) {
        (StepValue::Scalar(l), StepValue::Scalar(r)) => {
            let (v, ok) = apply(op, l, r);
            if op.is_comparison() {
                // The parser only allows scalar comparisons with `bool`.
                Ok(StepValue::Scalar(if ok { 1.0 } else { 0.0 }))
            } else {
                Ok(StepValue::Scalar(v))
            }
        }
        (StepValue::Vector(v), StepValue::Scalar(s)) => Ok(StepValue::Vector(vector_scalar(
            (op, op_text),
            v,
            s,
            false,
            return_bool,
            annos,
        )?)),
        (StepValue::Scalar(s), StepValue::Vector(v)) => Ok(StepValue::Vector(vector_scalar(
            (op, op_text),
            v,
            s,
            true,
            return_bool,
            annos,
        )?)),
        (StepValue::Vector(l), StepValue::Vector(r)) => {
            let out = if op.is_set() {
                set_op(op, l, r, b)
            } else {
                vector_vector_matched((op, op_text), l, r, b, return_bool, None, annos)?
            };
            Ok(StepValue::Vector(out))
        }
        _ => Err(QueryError::Execution(format!(
            "invalid operands for binary operator {op_text}"
        ))),
    }
}

/// The result of an element-wise operation involving a histogram: `Some((value, histogram))`
/// or `None` when the element is dropped (annotations recorded).
fn mixed_element(
    (op, op_text): (Op, &str),
    l: (f64, &Option<Arc<FloatHistogram>>),
    r: (f64, &Option<Arc<FloatHistogram>>),
    return_bool: bool,
    annos: &mut Annotations,
) -> Option<(f64, Option<Arc<FloatHistogram>>)> {
    match apply_mixed(op, op_text, l, r) {
        Mixed::Float(v, ok) => {
            if return_bool {
                Some((if ok { 1.0 } else { 0.0 }, None))
            } else {
                ok.then_some((v, None))
            }
        }
        Mixed::Histogram(h, ok) => {
            if return_bool {
                Some((if ok { 1.0 } else { 0.0 }, None))
            } else {
                ok.then_some((0.0, Some(h)))
            }
        }
        Mixed::Combined(c, operation) => {
            crate::note_combined(&c, operation, &mut annos.warnings, &mut annos.infos);
            let mut h = c.histogram;
            h.compact();
            if return_bool {
                Some((1.0, None))
            } else {
                Some((0.0, Some(Arc::new(h))))
            }
        }
        Mixed::DropInfo(msg) => {
            push_unique(&mut annos.infos, msg);
            None
        }
        Mixed::DropWarning(msg) => {
            push_unique(&mut annos.warnings, msg);
            None
        }
    }
}

fn vector_scalar(
    (op, op_text): (Op, &str),
    v: Vec<InstantSample>,
    s: f64,
    scalar_on_left: bool,
    return_bool: bool,
    annos: &mut Annotations,
) -> Result<Vec<InstantSample>, QueryError> {
    let drop_name = !op.is_comparison() || return_bool;
    let mut out = Vec::with_capacity(v.len());
    let none = None;
    for sample in v {
        let (value, h) = if sample.h.is_some() {
            let (l, r) = if scalar_on_left {
                ((s, &none), (sample.v, &sample.h))
            } else {
                ((sample.v, &sample.h), (s, &none))
            };
            match mixed_element((op, op_text), l, r, return_bool, annos) {
                Some(x) => x,
                None => continue,
            }
        } else {
            match vector_scalar_element(op, sample.v, s, scalar_on_left, return_bool) {
                Some(v) => (v, None),
                None => continue,
            }
        };
        out.push(InstantSample {
            h,
            labels: if drop_name {
                sample.labels.without_metric_name()
            } else {
                sample.labels
            },
            t: sample.t,
            v: value,
        });
    }
    if drop_name {
        check_unique_labels(&out)?;
    }
    Ok(out)
}

/// One element of a vector/scalar operation: the result value, or `None` when a comparison
/// filters the element out.
fn vector_scalar_element(
    op: Op,
    element: f64,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
) -> Option<f64> {
    let (l, r) = if scalar_on_left {
        (scalar, element)
    } else {
        (element, scalar)
    };
    let (mut value, ok) = apply(op, l, r);
    if op.is_comparison() && scalar_on_left {
        // Comparisons keep the vector element's value, whichever side it is on.
        value = r;
    }
    if return_bool {
        Some(if ok { 1.0 } else { 0.0 })
    } else {
        ok.then_some(value)
    }
}

/// A vector/scalar operation with a literal scalar, prepared for the whole-range fast path.
pub(super) struct ScalarOperation {
    op: Op,
    scalar: f64,
    scalar_on_left: bool,
    return_bool: bool,
}

impl ScalarOperation {
    /// The operation when `b` has a number literal on exactly one side; also returns the other
    /// (vector) side.
    pub(super) fn of(b: &BinaryExpr) -> Option<(ScalarOperation, &Expr)> {
        let op = Op::parse(&b.op.to_string())?;
        if op.is_set() {
            return None;
        }
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let (scalar, scalar_on_left, other) = match (unparen(&b.lhs), unparen(&b.rhs)) {
            (Expr::NumberLiteral(_), Expr::NumberLiteral(_)) => return None,
            (Expr::NumberLiteral(n), _) => (n.val, true, &*b.rhs),
            (_, Expr::NumberLiteral(n)) => (n.val, false, &*b.lhs),
            _ => return None,
        };
        Some((
            ScalarOperation {
                op,
                scalar,
                scalar_on_left,
                return_bool,
            },
            other,
        ))
    }

    /// Whether results lose the metric name (arithmetic, or comparisons with `bool`).
    pub(super) fn drops_name(&self) -> bool {
        !self.op.is_comparison() || self.return_bool
    }

    /// The result for one vector element, `None` when filtered out.
    pub(super) fn apply(&self, element: f64) -> Option<f64> {
        vector_scalar_element(
            self.op,
            element,
            self.scalar,
            self.scalar_on_left,
            self.return_bool,
        )
    }
}

/// The matching signature of a sample's labels under `on(...)` / `ignoring(...)`.
fn signature(labels: &Labels, matching: &Option<LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(names)) => {
            let keep: Vec<&str> = names.labels.iter().map(String::as_str).collect();
            labels.keep_only(&keep)
        }
        Some(LabelModifier::Exclude(names)) => {
            let mut drop: Vec<&str> = names.labels.iter().map(String::as_str).collect();
            drop.push(METRIC_NAME);
            labels.without(&drop)
        }
        None => labels.without_metric_name(),
    }
}

fn set_op(
    op: Op,
    lhs: Vec<InstantSample>,
    rhs: Vec<InstantSample>,
    b: &BinaryExpr,
) -> Vec<InstantSample> {
    let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
    match op {
        Op::And => {
            let rsigs: HashSet<Labels> = rhs
                .iter()
                .map(|s| signature(&s.labels, &matching))
                .collect();
            lhs.into_iter()
                .filter(|s| rsigs.contains(&signature(&s.labels, &matching)))
                .collect()
        }
        Op::Unless => {
            let rsigs: HashSet<Labels> = rhs
                .iter()
                .map(|s| signature(&s.labels, &matching))
                .collect();
            lhs.into_iter()
                .filter(|s| !rsigs.contains(&signature(&s.labels, &matching)))
                .collect()
        }
        _ => {
            let lsigs: HashSet<Labels> = lhs
                .iter()
                .map(|s| signature(&s.labels, &matching))
                .collect();
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .filter(|s| !lsigs.contains(&signature(&s.labels, &matching))),
            );
            out
        }
    }
}

/// Vector matching (`on`/`ignoring`, `group_left`/`group_right`) of a binary operator, or of
/// a histogram trim operator when `trim_upper` is set.
fn vector_vector_matched(
    (op, op_text): (Op, &str),
    lhs: Vec<InstantSample>,
    rhs: Vec<InstantSample>,
    b: &BinaryExpr,
    return_bool: bool,
    trim_upper: Option<bool>,
    annos: &mut Annotations,
) -> Result<Vec<InstantSample>, QueryError> {
    if lhs.is_empty() || rhs.is_empty() {
        // Nothing can match; Prometheus does not even check either side for duplicates then.
        return Ok(Vec::new());
    }
    let modifier = b.modifier.clone();
    let matching = modifier.as_ref().and_then(|m| m.matching.clone());
    let card = modifier
        .as_ref()
        .map(|m| m.card.clone())
        .unwrap_or(VectorMatchCardinality::OneToOne);
    // group_right swaps the roles: the "many" side is always called lhs below.
    let (many, one, swapped, include) = match &card {
        VectorMatchCardinality::OneToMany(inc) => (rhs, lhs, true, inc.labels.clone()),
        VectorMatchCardinality::ManyToOne(inc) => (lhs, rhs, false, inc.labels.clone()),
        _ => (lhs, rhs, false, Vec::new()),
    };
    let one_to_one = matches!(
        card,
        VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany
    );
    let mut one_by_sig: HashMap<Labels, &InstantSample> = HashMap::with_capacity(one.len());
    for s in &one {
        let sig = signature(&s.labels, &matching);
        if let Some(prev) = one_by_sig.insert(sig.clone(), s) {
            let side = if swapped { "left" } else { "right" };
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                prev.labels, s.labels
            )));
        }
    }
    let drop_name = trim_upper.is_some() || !op.is_comparison() || return_bool;
    let mut matched_sigs: HashSet<Labels> = HashSet::new();
    let mut out_labels: HashSet<Labels> = HashSet::new();
    let mut out = Vec::new();
    for m in many {
        let sig = signature(&m.labels, &matching);
        let Some(o) = one_by_sig.get(&sig) else {
            continue;
        };
        let (value, h) = if let Some(upper) = trim_upper {
            let (l, r): (&InstantSample, &InstantSample) =
                if swapped { (*o, &m) } else { (&m, *o) };
            match (&l.h, &r.h) {
                (Some(h), None) => (0.0, Some(Arc::new(h.trim_buckets(r.v, upper)))),
                (lh, rh) => {
                    push_unique(
                        &mut annos.infos,
                        format!("PromQL info: incompatible sample types encountered for binary operator {op_text:?}: {} {op_text} {}", type_name(lh), type_name(rh)),
                    );
                    continue;
                }
            }
        } else if m.h.is_some() || o.h.is_some() {
            let (l, r) = if swapped {
                ((o.v, &o.h), (m.v, &m.h))
            } else {
                ((m.v, &m.h), (o.v, &o.h))
            };
            match mixed_element((op, op_text), l, r, return_bool, annos) {
                Some(x) => x,
                None => continue,
            }
        } else {
            let (l, r) = if swapped { (o.v, m.v) } else { (m.v, o.v) };
            // Comparisons keep the left operand's value, whichever side is the "many" one.
            let (mut value, ok) = apply(op, l, r);
            if return_bool {
                value = if ok { 1.0 } else { 0.0 };
            } else if !ok {
                continue;
            }
            (value, None)
        };
        // Result labels.
        let mut bld = m.labels.builder();
        if drop_name {
            bld.del(METRIC_NAME);
        }
        if one_to_one {
            match &matching {
                Some(LabelModifier::Include(names)) => {
                    let keep: HashSet<&str> = names.labels.iter().map(String::as_str).collect();
                    bld.retain(|l| keep.contains(l.name.as_str()));
                }
                Some(LabelModifier::Exclude(names)) => {
                    for n in &names.labels {
                        bld.del(n);
                    }
                }
                None => {}
            }
            if !matched_sigs.insert(sig) {
                return Err(QueryError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                ));
            }
        } else {
            for name in &include {
                match o.labels.get(name) {
                    Some(v) => {
                        bld.set(name.clone(), v.to_string());
                    }
                    None => {
                        bld.del(name);
                    }
                }
            }
        }
        let labels = bld.build();
        if !one_to_one && !out_labels.insert(labels.clone()) {
            return Err(QueryError::Execution(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        out.push(InstantSample {
            h,
            labels,
            t: m.t,
            v: value,
        });
    }
    if one_to_one && drop_name {
        check_unique_labels(&out)?;
    }
    Ok(out)
}

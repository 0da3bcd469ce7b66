//! LogQL syntax tree.

use model::LabelMatcher;

#[derive(Clone, Debug)]
pub enum Expr {
    Log(LogSelector),
    Range(Box<RangeAgg>),
    Vector(Box<VectorAgg>),
    Binary(Box<Binary>),
    Number(f64),
    /// `vector(n)`.
    VectorLit(f64),
}

#[derive(Clone, Debug)]
pub struct LogSelector {
    pub matchers: Vec<LabelMatcher>,
    pub stages: Vec<Stage>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineOp {
    Contains,
    NotContains,
    Regex,
    NotRegex,
    Pattern,
    NotPattern,
}

#[derive(Clone, Debug)]
pub struct LineFilter {
    pub op: LineOp,
    /// Alternatives joined with `or`.
    pub values: Vec<String>,
    pub regexes: Vec<regex::Regex>,
    pub patterns: Vec<super::pipeline::Pattern>,
}

#[derive(Clone, Debug)]
pub enum Stage {
    Line(LineFilter),
    Json(Vec<(String, String)>),
    Logfmt {
        strict: bool,
        keep_empty: bool,
        params: Vec<(String, String)>,
    },
    Regexp(regex::Regex),
    Pattern(super::pipeline::Pattern),
    Unpack,
    LabelFilter(LabelFilter),
    LineFormat(super::template::Template),
    LabelFormat(Vec<(String, LabelFmt)>),
    Drop(Vec<NameOrMatcher>),
    Keep(Vec<NameOrMatcher>),
    Decolorize,
}

#[derive(Clone, Debug)]
pub enum LabelFmt {
    Rename(String),
    Template(super::template::Template),
}

#[derive(Clone, Debug)]
pub enum NameOrMatcher {
    Name(String),
    Matcher(LabelMatcher),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug)]
pub enum LabelFilter {
    And(Box<LabelFilter>, Box<LabelFilter>),
    Or(Box<LabelFilter>, Box<LabelFilter>),
    Str(LabelMatcher),
    Num {
        name: String,
        op: CmpOp,
        value: f64,
    },
    Duration {
        name: String,
        op: CmpOp,
        value_ns: i64,
    },
    Bytes {
        name: String,
        op: CmpOp,
        value: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conv {
    None,
    Duration,
    Bytes,
}

#[derive(Clone, Debug)]
pub struct Unwrap {
    pub label: String,
    pub conv: Conv,
    pub post: Vec<LabelFilter>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeOp {
    Count,
    Rate,
    RateCounter,
    Bytes,
    BytesRate,
    Absent,
    Sum,
    Avg,
    Min,
    Max,
    Stddev,
    Stdvar,
    Quantile,
    First,
    Last,
}

impl RangeOp {
    pub fn from_name(n: &str) -> Option<RangeOp> {
        Some(match n {
            "count_over_time" => RangeOp::Count,
            "rate" => RangeOp::Rate,
            "rate_counter" => RangeOp::RateCounter,
            "bytes_over_time" => RangeOp::Bytes,
            "bytes_rate" => RangeOp::BytesRate,
            "absent_over_time" => RangeOp::Absent,
            "sum_over_time" => RangeOp::Sum,
            "avg_over_time" => RangeOp::Avg,
            "min_over_time" => RangeOp::Min,
            "max_over_time" => RangeOp::Max,
            "stddev_over_time" => RangeOp::Stddev,
            "stdvar_over_time" => RangeOp::Stdvar,
            "quantile_over_time" => RangeOp::Quantile,
            "first_over_time" => RangeOp::First,
            "last_over_time" => RangeOp::Last,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            RangeOp::Count => "count_over_time",
            RangeOp::Rate => "rate",
            RangeOp::RateCounter => "rate_counter",
            RangeOp::Bytes => "bytes_over_time",
            RangeOp::BytesRate => "bytes_rate",
            RangeOp::Absent => "absent_over_time",
            RangeOp::Sum => "sum_over_time",
            RangeOp::Avg => "avg_over_time",
            RangeOp::Min => "min_over_time",
            RangeOp::Max => "max_over_time",
            RangeOp::Stddev => "stddev_over_time",
            RangeOp::Stdvar => "stdvar_over_time",
            RangeOp::Quantile => "quantile_over_time",
            RangeOp::First => "first_over_time",
            RangeOp::Last => "last_over_time",
        }
    }
    /// Needs `| unwrap`.
    pub fn needs_unwrap(self) -> bool {
        !matches!(
            self,
            RangeOp::Count | RangeOp::Rate | RangeOp::Bytes | RangeOp::BytesRate | RangeOp::Absent
        )
    }
}

#[derive(Clone, Debug)]
pub struct Grouping {
    pub without: bool,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct RangeAgg {
    pub op: RangeOp,
    pub param: Option<f64>,
    pub selector: LogSelector,
    pub range_ns: i64,
    pub offset_ns: i64,
    pub unwrap: Option<Unwrap>,
    pub grouping: Option<Grouping>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VecOp {
    Sum,
    Avg,
    Min,
    Max,
    Count,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Sort,
    SortDesc,
}

impl VecOp {
    pub fn from_name(n: &str) -> Option<VecOp> {
        Some(match n {
            "sum" => VecOp::Sum,
            "avg" => VecOp::Avg,
            "min" => VecOp::Min,
            "max" => VecOp::Max,
            "count" => VecOp::Count,
            "stddev" => VecOp::Stddev,
            "stdvar" => VecOp::Stdvar,
            "topk" => VecOp::Topk,
            "bottomk" => VecOp::Bottomk,
            "sort" => VecOp::Sort,
            "sort_desc" => VecOp::SortDesc,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct VectorAgg {
    pub op: VecOp,
    pub param: Option<f64>,
    pub expr: Expr,
    pub grouping: Option<Grouping>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    And,
    Or,
    Unless,
}

impl BinOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le
        )
    }
    pub fn is_set(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Unless)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Card {
    OneToOne,
    ManyToOne(Vec<String>),
    OneToMany(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct Matching {
    pub on: bool,
    pub labels: Vec<String>,
    pub card: Card,
}

#[derive(Clone, Debug)]
pub struct Binary {
    pub op: BinOp,
    pub lhs: Expr,
    pub rhs: Expr,
    pub return_bool: bool,
    pub matching: Option<Matching>,
}

impl Expr {
    pub fn is_log(&self) -> bool {
        matches!(self, Expr::Log(_))
    }
}

//! Hand-written recursive-descent LogQL parser. Errors carry line and column, in Loki's
//! wording (`parse error at line 1, col 9: syntax error: unexpected ...`).

use super::ast::*;
use super::lexer::{error_at, lex, ParseError, Tok, Token};
use super::pipeline::Pattern;
use super::template::Template;
use model::{LabelMatcher, MatchOp};

pub fn parse(src: &str) -> Result<Expr, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser { src, toks, i: 0 };
    let e = p.expr(0)?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected("end of query"));
    }
    Ok(e)
}

/// Parses a stream selector only (`{a="b"}`), e.g. the `labels` string of a Loki protobuf push
/// or a `match[]` of `/series`.
pub fn parse_selector(src: &str) -> Result<Vec<LabelMatcher>, ParseError> {
    let toks = lex(src)?;
    let mut p = Parser { src, toks, i: 0 };
    let m = p.selector(true)?;
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected("end of selector"));
    }
    Ok(m)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }
    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }
    fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn err(&self, msg: impl Into<String>) -> ParseError {
        error_at(self.src, self.pos(), msg)
    }
    fn unexpected(&self, expecting: &str) -> ParseError {
        self.err(format!(
            "syntax error: unexpected {}, expecting {expecting}",
            self.peek().describe()
        ))
    }
    fn is_op(&self, o: &str) -> bool {
        matches!(self.peek(), Tok::Op(x) if *x == o)
    }
    fn is_ident(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Ident(x) if x == s)
    }
    fn expect_op(&mut self, o: &str) -> Result<(), ParseError> {
        if self.is_op(o) {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(&format!("{o:?}")))
        }
    }
    fn ident(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.unexpected("IDENTIFIER")),
        }
    }
    fn string(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.unexpected("STRING")),
        }
    }
    fn number(&mut self) -> Result<f64, ParseError> {
        let neg = if self.is_op("-") {
            self.next();
            true
        } else {
            false
        };
        match self.peek().clone() {
            Tok::Num(n) => {
                self.next();
                Ok(if neg { -n } else { n })
            }
            _ => Err(self.unexpected("NUMBER")),
        }
    }
    fn duration(&mut self) -> Result<i64, ParseError> {
        match self.peek().clone() {
            Tok::Dur(d) => {
                self.next();
                Ok(d)
            }
            Tok::Num(0.0) => {
                self.next();
                Ok(0)
            }
            _ => Err(self.unexpected("DURATION")),
        }
    }

    // ---- metric / binary expressions (precedence climbing) ----

    fn binop(&self) -> Option<(BinOp, u8, bool)> {
        // (op, precedence, right-assoc)
        Some(match self.peek() {
            Tok::Ident(s) if s == "or" => (BinOp::Or, 1, false),
            Tok::Ident(s) if s == "and" => (BinOp::And, 2, false),
            Tok::Ident(s) if s == "unless" => (BinOp::Unless, 2, false),
            Tok::Op("==") => (BinOp::Eq, 3, false),
            Tok::Op("!=") => (BinOp::Ne, 3, false),
            Tok::Op(">") => (BinOp::Gt, 3, false),
            Tok::Op(">=") => (BinOp::Ge, 3, false),
            Tok::Op("<") => (BinOp::Lt, 3, false),
            Tok::Op("<=") => (BinOp::Le, 3, false),
            Tok::Op("+") => (BinOp::Add, 4, false),
            Tok::Op("-") => (BinOp::Sub, 4, false),
            Tok::Op("*") => (BinOp::Mul, 5, false),
            Tok::Op("/") => (BinOp::Div, 5, false),
            Tok::Op("%") => (BinOp::Mod, 5, false),
            Tok::Op("^") => (BinOp::Pow, 6, true),
            _ => return None,
        })
    }

    fn expr(&mut self, min_prec: u8) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        while let Some((op, prec, right)) = self.binop() {
            if prec < min_prec {
                break;
            }
            let op_pos = self.pos();
            self.next();
            let mut return_bool = false;
            if self.is_ident("bool") {
                if !op.is_comparison() {
                    return Err(self.err(
                        "syntax error: bool modifier can only be used on comparison operators",
                    ));
                }
                self.next();
                return_bool = true;
            }
            let matching = self.matching()?;
            let rhs = self.expr(if right { prec } else { prec + 1 })?;
            if lhs.is_log() || rhs.is_log() {
                return Err(error_at(self.src, op_pos, "syntax error: binary operations are only allowed between metric queries and numbers"));
            }
            lhs = Expr::Binary(Box::new(Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            }));
        }
        Ok(lhs)
    }

    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect_op("(")?;
        let mut v = Vec::new();
        while !self.is_op(")") {
            v.push(self.ident()?);
            if self.is_op(",") {
                self.next();
            } else if !self.is_op(")") {
                return Err(self.unexpected("\",\" or \")\""));
            }
        }
        self.next();
        Ok(v)
    }

    fn matching(&mut self) -> Result<Option<Matching>, ParseError> {
        let on = if self.is_ident("on") {
            true
        } else if self.is_ident("ignoring") {
            false
        } else {
            return Ok(None);
        };
        self.next();
        let labels = self.label_list()?;
        let card = if self.is_ident("group_left") || self.is_ident("group_right") {
            let left = self.is_ident("group_left");
            self.next();
            let incl = if self.is_op("(") {
                self.label_list()?
            } else {
                Vec::new()
            };
            if left {
                Card::ManyToOne(incl)
            } else {
                Card::OneToMany(incl)
            }
        } else {
            Card::OneToOne
        };
        Ok(Some(Matching { on, labels, card }))
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.is_op("-") || self.is_op("+") {
            let neg = self.is_op("-");
            self.next();
            let e = self.unary()?;
            return Ok(match e {
                Expr::Number(n) => Expr::Number(if neg { -n } else { n }),
                other if neg => Expr::Binary(Box::new(Binary {
                    op: BinOp::Mul,
                    lhs: other,
                    rhs: Expr::Number(-1.0),
                    return_bool: false,
                    matching: None,
                })),
                other => other,
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Num(n) => {
                self.next();
                Ok(Expr::Number(n))
            }
            Tok::Op("(") => {
                self.next();
                let e = self.expr(0)?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Op("{") => Ok(Expr::Log(self.log_selector()?)),
            Tok::Ident(name) => {
                if name == "vector" {
                    self.next();
                    self.expect_op("(")?;
                    let n = self.number()?;
                    self.expect_op(")")?;
                    return Ok(Expr::VectorLit(n));
                }
                if let Some(op) = RangeOp::from_name(&name) {
                    self.next();
                    return self.range_agg(op);
                }
                if let Some(op) = VecOp::from_name(&name) {
                    self.next();
                    return self.vector_agg(op);
                }
                Err(self.err(format!("syntax error: unexpected IDENTIFIER {name:?}")))
            }
            _ => Err(self.unexpected("a stream selector, a metric query or a number")),
        }
    }

    fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        let without = if self.is_ident("by") {
            false
        } else if self.is_ident("without") {
            true
        } else {
            return Ok(None);
        };
        self.next();
        let labels = self.label_list()?;
        Ok(Some(Grouping { without, labels }))
    }

    fn vector_agg(&mut self, op: VecOp) -> Result<Expr, ParseError> {
        let mut grouping = self.grouping()?;
        self.expect_op("(")?;
        let mut param = None;
        if matches!(op, VecOp::Topk | VecOp::Bottomk) {
            let p = self.pos();
            let k = self.number()?;
            if k.fract() != 0.0 || k < 0.0 {
                return Err(error_at(
                    self.src,
                    p,
                    format!("syntax error: invalid parameter for topk/bottomk: {k}"),
                ));
            }
            param = Some(k);
            self.expect_op(",")?;
        }
        let p = self.pos();
        let expr = self.expr(0)?;
        if expr.is_log() {
            return Err(error_at(
                self.src,
                p,
                "syntax error: vector aggregations require a metric query, not a log query",
            ));
        }
        self.expect_op(")")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        Ok(Expr::Vector(Box::new(VectorAgg {
            op,
            param,
            expr,
            grouping,
        })))
    }

    fn range_agg(&mut self, op: RangeOp) -> Result<Expr, ParseError> {
        self.expect_op("(")?;
        let mut param = None;
        if op == RangeOp::Quantile {
            param = Some(self.number()?);
            self.expect_op(",")?;
        }
        let start = self.pos();
        // `( {sel} | ... )[5m]` is allowed too.
        let parens = self.is_op("(");
        if parens {
            self.next();
        }
        let mut selector = self.log_selector_head()?;
        let mut range = None;
        if self.is_op("[") {
            range = Some(self.range()?);
        }
        let (stages, unwrap) = self.pipeline(true)?;
        selector.stages = stages;
        if parens {
            self.expect_op(")")?;
        }
        if range.is_none() {
            if !self.is_op("[") {
                return Err(self.unexpected("a range like [5m]"));
            }
            range = Some(self.range()?);
        }
        let mut offset_ns = 0;
        if self.is_ident("offset") {
            self.next();
            offset_ns = self.duration()?;
        }
        self.expect_op(")")?;
        let grouping = self.grouping()?;
        if op.needs_unwrap() && unwrap.is_none() {
            return Err(error_at(
                self.src,
                start,
                format!(
                    "syntax error: invalid aggregation {} without unwrap",
                    op.name()
                ),
            ));
        }
        if !op.needs_unwrap() && unwrap.is_some() && !matches!(op, RangeOp::Rate) {
            return Err(error_at(
                self.src,
                start,
                "syntax error: this range aggregation does not take an unwrap expression",
            ));
        }
        let range_ns = range.unwrap_or(0);
        if range_ns <= 0 {
            return Err(error_at(
                self.src,
                start,
                "syntax error: range must be positive",
            ));
        }
        Ok(Expr::Range(Box::new(RangeAgg {
            op,
            param,
            selector,
            range_ns,
            offset_ns,
            unwrap,
            grouping,
        })))
    }

    fn range(&mut self) -> Result<i64, ParseError> {
        self.expect_op("[")?;
        let d = self.duration()?;
        self.expect_op("]")?;
        Ok(d)
    }

    fn log_selector(&mut self) -> Result<LogSelector, ParseError> {
        let mut s = self.log_selector_head()?;
        let (stages, unwrap) = self.pipeline(false)?;
        if unwrap.is_some() {
            return Err(self.err("syntax error: unwrap is only allowed inside a range aggregation"));
        }
        s.stages = stages;
        Ok(s)
    }

    fn log_selector_head(&mut self) -> Result<LogSelector, ParseError> {
        let p = self.pos();
        let matchers = self.selector(false)?;
        if !matchers.iter().any(|m| !m.matches("")) {
            return Err(error_at(self.src, p, "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will"));
        }
        Ok(LogSelector {
            matchers,
            stages: Vec::new(),
        })
    }

    fn selector(&mut self, allow_empty: bool) -> Result<Vec<LabelMatcher>, ParseError> {
        self.expect_op("{")?;
        let mut v = Vec::new();
        while !self.is_op("}") {
            let p = self.pos();
            let name = self.ident()?;
            let op = match self.next() {
                Tok::Op("=") => MatchOp::Equal,
                Tok::Op("!=") => MatchOp::NotEqual,
                Tok::Op("=~") => MatchOp::RegexMatch,
                Tok::Op("!~") => MatchOp::RegexNoMatch,
                t => {
                    return Err(error_at(
                        self.src,
                        p,
                        format!(
                            "syntax error: unexpected {}, expecting = != =~ or !~",
                            t.describe()
                        ),
                    ))
                }
            };
            let value = self.string()?;
            v.push(
                LabelMatcher::new(name, op, value)
                    .map_err(|e| error_at(self.src, p, e.to_string()))?,
            );
            if self.is_op(",") {
                self.next();
            } else if !self.is_op("}") {
                return Err(self.unexpected("\",\" or \"}\""));
            }
        }
        self.next();
        if v.is_empty() && !allow_empty {
            return Err(error_at(
                self.src,
                self.pos(),
                "syntax error: unexpected }, expecting IDENTIFIER",
            ));
        }
        Ok(v)
    }

    // ---- pipeline ----

    fn pipeline(&mut self, in_range: bool) -> Result<(Vec<Stage>, Option<Unwrap>), ParseError> {
        let mut stages = Vec::new();
        let mut unwrap: Option<Unwrap> = None;
        loop {
            let p = self.pos();
            let line_op = match self.peek() {
                Tok::Op("|=") => Some(LineOp::Contains),
                Tok::Op("!=") => Some(LineOp::NotContains),
                Tok::Op("|~") => Some(LineOp::Regex),
                Tok::Op("!~") => Some(LineOp::NotRegex),
                Tok::Op("|>") => Some(LineOp::Pattern),
                Tok::Op("!>") => Some(LineOp::NotPattern),
                _ => None,
            };
            if let Some(op) = line_op {
                if unwrap.is_some() {
                    return Err(self.err("syntax error: line filters are not allowed after unwrap"));
                }
                self.next();
                let mut values = vec![self.string()?];
                while self.is_ident("or") && matches!(self.peek_at(1), Tok::Str(_)) {
                    self.next();
                    values.push(self.string()?);
                }
                let mut regexes = Vec::new();
                let mut patterns = Vec::new();
                for v in &values {
                    match op {
                        LineOp::Regex | LineOp::NotRegex => {
                            regexes.push(regex::Regex::new(v).map_err(|e| {
                                error_at(
                                    self.src,
                                    p,
                                    format!("invalid regular expression {v:?}: {e}"),
                                )
                            })?)
                        }
                        LineOp::Pattern | LineOp::NotPattern => patterns
                            .push(Pattern::parse(v, true).map_err(|e| error_at(self.src, p, e))?),
                        _ => {}
                    }
                }
                stages.push(Stage::Line(LineFilter {
                    op,
                    values,
                    regexes,
                    patterns,
                }));
                continue;
            }
            if !self.is_op("|") {
                break;
            }
            self.next();
            let p = self.pos();
            let name = match self.peek().clone() {
                Tok::Ident(n) => n,
                Tok::Op("(") => String::new(),
                _ => return Err(self.unexpected("a parser, a label filter or a formatter after |")),
            };
            // Keywords are only keywords when not followed by a comparison operator.
            let next_is_cmp = matches!(
                self.peek_at(1),
                Tok::Op("=" | "!=" | "=~" | "!~" | "==" | ">" | ">=" | "<" | "<=")
            );
            if !next_is_cmp && !name.is_empty() {
                let stage = match name.as_str() {
                    "json" => {
                        self.next();
                        Some(Stage::Json(self.params(true)?))
                    }
                    "logfmt" => {
                        self.next();
                        let mut strict = false;
                        let mut keep_empty = false;
                        loop {
                            if self.is_ident("--strict") {
                                strict = true;
                            } else if self.is_ident("--keep-empty") {
                                keep_empty = true;
                            } else {
                                break;
                            }
                            self.next();
                        }
                        let params = self.params(false)?;
                        Some(Stage::Logfmt {
                            strict,
                            keep_empty,
                            params,
                        })
                    }
                    "regexp" => {
                        self.next();
                        let s = self.string()?;
                        let re = regex::Regex::new(&s).map_err(|e| {
                            error_at(
                                self.src,
                                p,
                                format!("invalid regular expression {s:?}: {e}"),
                            )
                        })?;
                        if re.capture_names().flatten().next().is_none() {
                            return Err(error_at(
                                self.src,
                                p,
                                "at least one named capture must be supplied",
                            ));
                        }
                        Some(Stage::Regexp(re))
                    }
                    "pattern" => {
                        self.next();
                        let s = self.string()?;
                        Some(Stage::Pattern(
                            Pattern::parse(&s, false).map_err(|e| error_at(self.src, p, e))?,
                        ))
                    }
                    "unpack" => {
                        self.next();
                        Some(Stage::Unpack)
                    }
                    "decolorize" => {
                        self.next();
                        Some(Stage::Decolorize)
                    }
                    "line_format" => {
                        self.next();
                        let sp = self.pos();
                        let s = self.string()?;
                        Some(Stage::LineFormat(Template::parse(&s).map_err(|e| {
                            error_at(self.src, sp, format!("invalid line template: {e}"))
                        })?))
                    }
                    "label_format" => {
                        self.next();
                        let mut v = Vec::new();
                        loop {
                            let dst = self.ident()?;
                            self.expect_op("=")?;
                            let sp = self.pos();
                            let f = match self.peek().clone() {
                                Tok::Ident(src) => {
                                    self.next();
                                    LabelFmt::Rename(src)
                                }
                                Tok::Str(s) => {
                                    self.next();
                                    LabelFmt::Template(Template::parse(&s).map_err(|e| {
                                        error_at(
                                            self.src,
                                            sp,
                                            format!("invalid label template: {e}"),
                                        )
                                    })?)
                                }
                                _ => return Err(self.unexpected("IDENTIFIER or STRING")),
                            };
                            v.push((dst, f));
                            if self.is_op(",") {
                                self.next();
                            } else {
                                break;
                            }
                        }
                        Some(Stage::LabelFormat(v))
                    }
                    "drop" | "keep" => {
                        self.next();
                        let mut v = Vec::new();
                        loop {
                            let lp = self.pos();
                            let n = self.ident()?;
                            let op = match self.peek() {
                                Tok::Op("=") => Some(MatchOp::Equal),
                                Tok::Op("!=") => Some(MatchOp::NotEqual),
                                Tok::Op("=~") => Some(MatchOp::RegexMatch),
                                Tok::Op("!~") => Some(MatchOp::RegexNoMatch),
                                _ => None,
                            };
                            if let Some(op) = op {
                                self.next();
                                let val = self.string()?;
                                v.push(NameOrMatcher::Matcher(
                                    LabelMatcher::new(n, op, val)
                                        .map_err(|e| error_at(self.src, lp, e.to_string()))?,
                                ));
                            } else {
                                v.push(NameOrMatcher::Name(n));
                            }
                            if self.is_op(",") {
                                self.next();
                            } else {
                                break;
                            }
                        }
                        Some(if name == "drop" {
                            Stage::Drop(v)
                        } else {
                            Stage::Keep(v)
                        })
                    }
                    "unwrap" => {
                        if !in_range {
                            return Err(self.err(
                                "syntax error: unwrap is only allowed inside a range aggregation",
                            ));
                        }
                        self.next();
                        let (label, conv) = match self.peek_at(1) {
                            Tok::Op("(") => {
                                let f = self.ident()?;
                                let conv = match f.as_str() {
                                    "duration" | "duration_seconds" => Conv::Duration,
                                    "bytes" => Conv::Bytes,
                                    _ => {
                                        return Err(error_at(
                                            self.src,
                                            p,
                                            format!(
                                                "syntax error: unknown unwrap conversion {f:?}"
                                            ),
                                        ))
                                    }
                                };
                                self.expect_op("(")?;
                                let l = self.ident()?;
                                self.expect_op(")")?;
                                (l, conv)
                            }
                            _ => (self.ident()?, Conv::None),
                        };
                        unwrap = Some(Unwrap {
                            label,
                            conv,
                            post: Vec::new(),
                        });
                        None
                    }
                    _ => None,
                };
                if let Some(s) = stage {
                    if unwrap.is_some() {
                        return Err(error_at(
                            self.src,
                            p,
                            "syntax error: only label filters are allowed after unwrap",
                        ));
                    }
                    stages.push(s);
                    continue;
                }
                if name == "unwrap" {
                    continue;
                }
            }
            let f = self.label_filter_or()?;
            match unwrap.as_mut() {
                Some(u) => u.post.push(f),
                None => stages.push(Stage::LabelFilter(f)),
            }
        }
        Ok((stages, unwrap))
    }

    fn params(&mut self, json: bool) -> Result<Vec<(String, String)>, ParseError> {
        let mut v = Vec::new();
        while let Tok::Ident(n) = self.peek().clone() {
            // Stop at binary keywords (e.g. `... | json [5m]` never has idents; `or` is not a label here).
            if matches!(
                n.as_str(),
                "or" | "and" | "unless" | "offset" | "by" | "without"
            ) {
                break;
            }
            self.next();
            let expr = if self.is_op("=") {
                self.next();
                self.string()?
            } else {
                n.clone()
            };
            let _ = json;
            v.push((n, expr));
            if self.is_op(",") {
                self.next();
            } else {
                break;
            }
        }
        Ok(v)
    }

    fn label_filter_or(&mut self) -> Result<LabelFilter, ParseError> {
        let mut l = self.label_filter_and()?;
        while self.is_ident("or") {
            self.next();
            let r = self.label_filter_and()?;
            l = LabelFilter::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn label_filter_and(&mut self) -> Result<LabelFilter, ParseError> {
        let mut l = self.label_filter_prim()?;
        loop {
            if self.is_ident("and") || self.is_op(",") {
                self.next();
            } else if matches!(self.peek(), Tok::Ident(s) if !matches!(s.as_str(), "or" | "and" | "unless" | "offset" | "by" | "without" | "bool" | "on" | "ignoring"))
                || self.is_op("(")
            {
                // whitespace-separated predicates mean `and`
            } else {
                break;
            }
            let r = self.label_filter_prim()?;
            l = LabelFilter::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }

    fn label_filter_prim(&mut self) -> Result<LabelFilter, ParseError> {
        if self.is_op("(") {
            self.next();
            let f = self.label_filter_or()?;
            self.expect_op(")")?;
            return Ok(f);
        }
        let p = self.pos();
        let name = self.ident()?;
        let op = match self.next() {
            Tok::Op(o) => o,
            t => return Err(error_at(self.src, p, format!("syntax error: unexpected {} after label {name:?}, expecting a comparison operator", t.describe()))),
        };
        let value = self.next();
        let cmp = |o: &str| -> Option<CmpOp> {
            Some(match o {
                "=" | "==" => CmpOp::Eq,
                "!=" => CmpOp::Ne,
                ">" => CmpOp::Gt,
                ">=" => CmpOp::Ge,
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Le,
                _ => return None,
            })
        };
        let bad_msg = format!("syntax error: invalid label filter on {name:?}");
        let bad = |s: &Parser| error_at(s.src, p, bad_msg.clone());
        Ok(match value {
            Tok::Str(s) => {
                let mop = match op {
                    "=" | "==" => MatchOp::Equal,
                    "!=" => MatchOp::NotEqual,
                    "=~" => MatchOp::RegexMatch,
                    "!~" => MatchOp::RegexNoMatch,
                    _ => return Err(bad(self)),
                };
                LabelFilter::Str(LabelMatcher::new(name, mop, s).map_err(|e| error_at(self.src, p, e.to_string()))?)
            }
            Tok::Num(n) => LabelFilter::Num { name, op: cmp(op).ok_or_else(|| bad(self))?, value: n },
            Tok::Op("-") => match self.next() {
                Tok::Num(n) => LabelFilter::Num { name, op: cmp(op).ok_or_else(|| bad(self))?, value: -n },
                _ => return Err(bad(self)),
            },
            Tok::Dur(d) => LabelFilter::Duration { name, op: cmp(op).ok_or_else(|| bad(self))?, value_ns: d },
            Tok::Bytes(b) => LabelFilter::Bytes { name, op: cmp(op).ok_or_else(|| bad(self))?, value: b },
            t => return Err(error_at(self.src, p, format!("syntax error: unexpected {}, expecting a string, number, duration or byte size", t.describe()))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ok(q: &str) -> Expr {
        parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))
    }

    #[test]
    fn parses_examples() {
        ok(r#"{app="foo"}"#);
        ok(r#"{app="foo", env=~"prod|dev"} |= "err" != "timeout" |~ "a.+b" or "c""#);
        ok(r#"{app="foo"} | json | status >= 500 and duration > 1s or size < 10KB"#);
        ok(
            r#"{app="foo"} | logfmt --strict --keep-empty | level="error", caller!="" | line_format "{{.msg}}""#,
        );
        ok(
            r#"{app="foo"} | json a="b.c", d | label_format x=y, z="{{.a}}" | drop a, b="c" | keep x"#,
        );
        ok(
            r#"{app="foo"} | pattern "<ip> - <_> <status>" | regexp "(?P<x>\\d+)" | unpack | decolorize"#,
        );
        ok(r#"sum by (app) (rate({app="foo"}[5m]))"#);
        ok(r#"topk(3, sum(count_over_time({app="foo"} |= "x" [1m] offset 1h)) by (a))"#);
        ok(
            r#"quantile_over_time(0.99, {app="foo"} | json | unwrap duration(latency) | __error__="" [5m]) by (path)"#,
        );
        ok(r#"sum(rate({a="b"}[1m])) / on(x) group_left(y) sum(rate({a="c"}[1m])) > bool 2"#);
        ok(r#"count_over_time({a="b"}[5m] |= "x")"#);
        ok(r#"1 + 2 * 3"#);
        ok(r#"vector(0) or sum(rate({a="b"}[1m]))"#);
        ok(r#"{a="b"} | status=~"5.." (level="error" or level="warn")"#);
    }

    #[test]
    fn errors_have_positions() {
        let e = parse(r#"{app="foo"} |= "x" | bogus"#).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            e.to_string().starts_with("parse error at line 1, col"),
            "{e}"
        );
        let e = parse(r#"{app=~".*"}"#).unwrap_err();
        assert!(e.msg.contains("at least one regexp or equality matcher"));
        assert!(parse(r#"sum_over_time({a="b"}[5m])"#).is_err());
        assert!(parse(r#"rate({a="b"})"#).is_err());
        assert!(parse(r#"{a="b"} + 1"#).is_err());
        assert!(parse(r#"{a="b"} | regexp "(x)""#).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = parse(&s);
        }
        #[test]
        fn never_panics_logql_like(s in "(\\{a=\"b\"\\}|\\||=|json|logfmt|sum|rate|\\(|\\)|\\[5m\\]|\"x\"|by|unwrap|[a-z]+|[0-9]+|,| |>|or|and|\\{\\{\\.a\\}\\})*") {
            let _ = parse(&s);
        }
    }
}

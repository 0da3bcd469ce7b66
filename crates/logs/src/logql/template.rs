//! The subset of Go's text/template that LogQL's `line_format` and `label_format` use:
//! `{{.label}}`, `{{ . }}`-less field access, pipelines (`{{ .a | ToUpper }}`), `if`/`else if`/
//! `else`/`end`, trim markers `{{-`/`-}}`, string/number literals, and Loki's template functions
//! (ToLower, ToUpper, lower, upper, trim*, replace, default, printf, contains, hasPrefix,
//! hasSuffix, eq/ne/lt/le/gt/ge, and/or/not, len, repeat, substr, trunc, title, add/sub/mul/div/
//! mod (+f variants), round, int, float64, regexReplaceAll(Literal), alignLeft/alignRight,
//! indent/nindent, `__line__`, `__timestamp__`, unixEpoch, toDate-less date formatting is not
//! supported). Missing labels render as the empty string (`missingkey=zero`). The shared
//! `crates/gotemplate` was still empty when this was written; this local subset stays behind
//! [`Template::render`].

use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Clone, Debug)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Vec<(Pipeline, Vec<Node>)>, Vec<Node>),
}

#[derive(Clone, Debug)]
struct Pipeline(Vec<Cmd>);

#[derive(Clone, Debug)]
struct Cmd(Vec<Arg>);

#[derive(Clone, Debug)]
enum Arg {
    Field(String),
    Dot,
    Str(String),
    Num(f64),
    Bool(bool),
    Func(String),
    Sub(Pipeline),
}

#[derive(Clone, Debug, PartialEq)]
enum Val {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl Val {
    fn to_str(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Num(n) => fmt_num(*n),
            Val::Bool(b) => b.to_string(),
        }
    }
    fn truthy(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::Num(n) => *n != 0.0,
            Val::Bool(b) => *b,
        }
    }
    fn num(&self) -> f64 {
        match self {
            Val::Str(s) => s.trim().parse().unwrap_or(0.0),
            Val::Num(n) => *n,
            Val::Bool(b) => *b as u8 as f64,
        }
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// What a template can see: the labels and, for `__line__`/`__timestamp__`, the entry.
pub struct Ctx<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub line: &'a str,
    pub ts_ns: i64,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, String> {
        let mut toks = Vec::new();
        let mut rest = src;
        let mut trim_next = false;
        while let Some(i) = rest.find("{{") {
            let mut text = &rest[..i];
            if trim_next {
                text = text.trim_start();
            }
            let after = &rest[i + 2..];
            let (after, trim_prev) = match after.strip_prefix('-') {
                Some(a) if a.starts_with(char::is_whitespace) => (a, true),
                _ => (after, false),
            };
            if trim_prev {
                text = text.trim_end();
            }
            if !text.is_empty() {
                toks.push(Err(text.to_string()));
            }
            let end = after.find("}}").ok_or("unclosed action")?;
            let mut inner = &after[..end];
            trim_next = false;
            if let Some(s) = inner.strip_suffix('-') {
                if s.ends_with(char::is_whitespace) {
                    inner = s;
                    trim_next = true;
                }
            }
            toks.push(Ok(inner.trim().to_string()));
            rest = &after[end + 2..];
        }
        let text = if trim_next { rest.trim_start() } else { rest };
        if !text.is_empty() {
            toks.push(Err(text.to_string()));
        }
        let mut it = toks.into_iter().peekable();
        let (nodes, end) = parse_nodes(&mut it)?;
        if end.is_some() {
            return Err(format!("unexpected {{{{{}}}}}", end.unwrap_or_default()));
        }
        Ok(Template { nodes })
    }

    /// The label names the template reads (`.name` fields), like Loki's `RequiredLabelNames`.
    pub fn fields(&self) -> Vec<String> {
        fn pipe(p: &Pipeline, out: &mut Vec<String>) {
            for c in &p.0 {
                for a in &c.0 {
                    match a {
                        Arg::Field(f) => out.push(f.clone()),
                        Arg::Sub(s) => pipe(s, out),
                        _ => {}
                    }
                }
            }
        }
        fn nodes(ns: &[Node], out: &mut Vec<String>) {
            for n in ns {
                match n {
                    Node::Text(_) => {}
                    Node::Action(p) => pipe(p, out),
                    Node::If(branches, els) => {
                        for (c, body) in branches {
                            pipe(c, out);
                            nodes(body, out);
                        }
                        nodes(els, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        nodes(&self.nodes, &mut out);
        out
    }

    pub fn render(&self, ctx: &Ctx) -> Result<String, String> {
        let mut out = String::new();
        render_nodes(&self.nodes, ctx, &mut out)?;
        Ok(out)
    }
}

type TokIter = std::iter::Peekable<std::vec::IntoIter<Result<String, String>>>;

/// Parses until `else`/`end` (returned) or the end of input.
fn parse_nodes(it: &mut TokIter) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while let Some(t) = it.next() {
        match t {
            Err(text) => nodes.push(Node::Text(text)),
            Ok(action) => {
                if action.starts_with("/*") {
                    continue;
                }
                if action == "end" || action == "else" || action.starts_with("else ") {
                    return Ok((nodes, Some(action)));
                }
                if let Some(cond) = action.strip_prefix("if ") {
                    let mut branches = Vec::new();
                    let mut cond = parse_pipeline(cond)?;
                    let mut else_nodes = Vec::new();
                    loop {
                        let (body, end) = parse_nodes(it)?;
                        match end.as_deref() {
                            Some("end") => {
                                branches.push((cond, body));
                                break;
                            }
                            Some("else") => {
                                branches.push((cond, body));
                                let (body, end) = parse_nodes(it)?;
                                if end.as_deref() != Some("end") {
                                    return Err("missing {{end}}".into());
                                }
                                else_nodes = body;
                                break;
                            }
                            Some(e) if e.starts_with("else if ") => {
                                branches.push((cond, body));
                                cond = parse_pipeline(&e["else if ".len()..])?;
                            }
                            _ => return Err("missing {{end}}".into()),
                        }
                    }
                    nodes.push(Node::If(branches, else_nodes));
                    continue;
                }
                if action.starts_with("range ")
                    || action.starts_with("with ")
                    || action.starts_with("define ")
                    || action.starts_with("template ")
                {
                    return Err(format!("{{{{{action}}}}} is not supported"));
                }
                nodes.push(Node::Action(parse_pipeline(&action)?));
            }
        }
    }
    Ok((nodes, None))
}

fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '"' || c == '`' {
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                if c == '"' && b[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            if j >= b.len() {
                return Err("unterminated string".into());
            }
            out.push(b[i..=j].iter().collect());
            i = j + 1;
            continue;
        }
        if c == '|' || c == '(' || c == ')' {
            out.push(c.to_string());
            i += 1;
            continue;
        }
        let mut j = i;
        while j < b.len() && !b[j].is_whitespace() && !matches!(b[j], '|' | '(' | ')') {
            j += 1;
        }
        out.push(b[i..j].iter().collect());
        i = j;
    }
    Ok(out)
}

fn parse_pipeline(s: &str) -> Result<Pipeline, String> {
    let toks = tokenize(s)?;
    let mut pos = 0;
    let p = parse_pipe_toks(&toks, &mut pos)?;
    if pos != toks.len() {
        return Err(format!("unexpected {:?}", toks[pos]));
    }
    Ok(p)
}

fn parse_pipe_toks(toks: &[String], pos: &mut usize) -> Result<Pipeline, String> {
    let mut cmds = Vec::new();
    let mut args = Vec::new();
    while *pos < toks.len() {
        let t = &toks[*pos];
        match t.as_str() {
            ")" => break,
            "|" => {
                *pos += 1;
                if args.is_empty() {
                    return Err("missing command before |".into());
                }
                cmds.push(Cmd(std::mem::take(&mut args)));
                continue;
            }
            "(" => {
                *pos += 1;
                let sub = parse_pipe_toks(toks, pos)?;
                if toks.get(*pos).map(String::as_str) != Some(")") {
                    return Err("unclosed (".into());
                }
                *pos += 1;
                args.push(Arg::Sub(sub));
                continue;
            }
            _ => {}
        }
        *pos += 1;
        args.push(if t == "." {
            Arg::Dot
        } else if let Some(f) = t.strip_prefix('.') {
            Arg::Field(f.to_string())
        } else if t.starts_with('"') {
            Arg::Str(unquote(t)?)
        } else if t.starts_with('`') {
            Arg::Str(t[1..t.len() - 1].to_string())
        } else if t == "true" || t == "false" {
            Arg::Bool(t == "true")
        } else if let Ok(n) = t.parse::<f64>() {
            Arg::Num(n)
        } else if t.chars().all(|c| c.is_alphanumeric() || c == '_') {
            if !FUNCS.contains(&t.as_str()) {
                return Err(format!("function {t:?} not defined"));
            }
            Arg::Func(t.clone())
        } else {
            return Err(format!("unexpected {t:?}"));
        });
    }
    if args.is_empty() {
        return Err("missing value for command".into());
    }
    cmds.push(Cmd(args));
    Ok(Pipeline(cmds))
}

fn unquote(t: &str) -> Result<String, String> {
    let mut s = String::new();
    let mut chars = t[1..t.len() - 1].chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => s.push('\n'),
                Some('t') => s.push('\t'),
                Some('"') => s.push('"'),
                Some('\\') => s.push('\\'),
                Some(o) => return Err(format!("invalid escape \\{o}")),
                None => return Err("invalid escape".into()),
            }
        } else {
            s.push(c);
        }
    }
    Ok(s)
}

const FUNCS: &[&str] = &[
    "ToLower",
    "ToUpper",
    "lower",
    "upper",
    "trim",
    "trimSpace",
    "trimAll",
    "trimPrefix",
    "trimSuffix",
    "TrimSpace",
    "TrimPrefix",
    "TrimSuffix",
    "Replace",
    "replace",
    "default",
    "printf",
    "contains",
    "hasPrefix",
    "hasSuffix",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "and",
    "or",
    "not",
    "len",
    "repeat",
    "substr",
    "trunc",
    "title",
    "Title",
    "add",
    "sub",
    "mul",
    "div",
    "mod",
    "addf",
    "subf",
    "mulf",
    "divf",
    "round",
    "int",
    "float64",
    "regexReplaceAll",
    "regexReplaceAllLiteral",
    "alignLeft",
    "alignRight",
    "indent",
    "nindent",
    "__line__",
    "__timestamp__",
    "unixEpoch",
    "count",
    "print",
    "quote",
    "squote",
    "max",
    "min",
    "maxf",
    "minf",
    "ceil",
    "floor",
];

fn render_nodes(nodes: &[Node], ctx: &Ctx, out: &mut String) -> Result<(), String> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => out.push_str(&eval_pipeline(p, ctx)?.to_str()),
            Node::If(branches, else_nodes) => {
                let mut done = false;
                for (c, body) in branches {
                    if eval_pipeline(c, ctx)?.truthy() {
                        render_nodes(body, ctx, out)?;
                        done = true;
                        break;
                    }
                }
                if !done {
                    render_nodes(else_nodes, ctx, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(p: &Pipeline, ctx: &Ctx) -> Result<Val, String> {
    let mut prev: Option<Val> = None;
    for c in &p.0 {
        prev = Some(eval_cmd(c, ctx, prev)?);
    }
    prev.ok_or_else(|| "empty pipeline".into())
}

fn eval_arg(a: &Arg, ctx: &Ctx) -> Result<Val, String> {
    Ok(match a {
        Arg::Field(f) => Val::Str(ctx.labels.get(f).cloned().unwrap_or_default()),
        Arg::Dot => Val::Str(String::new()),
        Arg::Str(s) => Val::Str(s.clone()),
        Arg::Num(n) => Val::Num(*n),
        Arg::Bool(b) => Val::Bool(*b),
        Arg::Func(f) => call(f, vec![], ctx)?,
        Arg::Sub(p) => eval_pipeline(p, ctx)?,
    })
}

fn eval_cmd(c: &Cmd, ctx: &Ctx, piped: Option<Val>) -> Result<Val, String> {
    match &c.0[0] {
        Arg::Func(f) => {
            let mut args = Vec::with_capacity(c.0.len());
            for a in &c.0[1..] {
                args.push(eval_arg(a, ctx)?);
            }
            if let Some(p) = piped {
                args.push(p);
            }
            call(f, args, ctx)
        }
        a => {
            if c.0.len() > 1 || piped.is_some() {
                return Err("can't give argument to non-function".into());
            }
            eval_arg(a, ctx)
        }
    }
}

fn s(args: &[Val], i: usize) -> Result<String, String> {
    args.get(i)
        .map(Val::to_str)
        .ok_or_else(|| "wrong number of args".into())
}
fn n(args: &[Val], i: usize) -> Result<f64, String> {
    args.get(i)
        .map(Val::num)
        .ok_or_else(|| "wrong number of args".into())
}

fn cmp_vals(a: &Val, b: &Val) -> std::cmp::Ordering {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => x.cmp(y),
        _ => a
            .num()
            .partial_cmp(&b.num())
            .unwrap_or(std::cmp::Ordering::Equal),
    }
}

fn call(f: &str, a: Vec<Val>, ctx: &Ctx) -> Result<Val, String> {
    use std::cmp::Ordering::*;
    Ok(match f {
        "__line__" => Val::Str(ctx.line.to_string()),
        "__timestamp__" => Val::Str(
            chrono::DateTime::from_timestamp(
                ctx.ts_ns.div_euclid(1_000_000_000),
                ctx.ts_ns.rem_euclid(1_000_000_000) as u32,
            )
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
            .unwrap_or_default(),
        ),
        "ToLower" | "lower" => Val::Str(s(&a, 0)?.to_lowercase()),
        "ToUpper" | "upper" => Val::Str(s(&a, 0)?.to_uppercase()),
        "title" | "Title" => Val::Str(
            s(&a, 0)?
                .split(' ')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "trim" | "trimSpace" | "TrimSpace" => Val::Str(s(&a, 0)?.trim().to_string()),
        "trimAll" => {
            let cut: Vec<char> = s(&a, 0)?.chars().collect();
            Val::Str(s(&a, 1)?.trim_matches(|c| cut.contains(&c)).to_string())
        }
        "trimPrefix" | "TrimPrefix" => {
            let (p, v) = if f == "trimPrefix" {
                (s(&a, 0)?, s(&a, 1)?)
            } else {
                (s(&a, 1)?, s(&a, 0)?)
            };
            Val::Str(v.strip_prefix(p.as_str()).unwrap_or(&v).to_string())
        }
        "trimSuffix" | "TrimSuffix" => {
            let (p, v) = if f == "trimSuffix" {
                (s(&a, 0)?, s(&a, 1)?)
            } else {
                (s(&a, 1)?, s(&a, 0)?)
            };
            Val::Str(v.strip_suffix(p.as_str()).unwrap_or(&v).to_string())
        }
        // sprig: replace OLD NEW STRING
        "replace" => Val::Str(s(&a, 2)?.replace(&s(&a, 0)?, &s(&a, 1)?)),
        // Go strings.Replace(s, old, new, n)
        "Replace" => {
            let cnt = n(&a, 3)? as i64;
            let (src, old, new) = (s(&a, 0)?, s(&a, 1)?, s(&a, 2)?);
            Val::Str(if cnt < 0 {
                src.replace(&old, &new)
            } else {
                src.replacen(&old, &new, cnt as usize)
            })
        }
        "default" => {
            let v = a.get(1).cloned().unwrap_or(Val::Str(String::new()));
            if v.truthy() {
                v
            } else {
                a.first().cloned().unwrap_or(Val::Str(String::new()))
            }
        }
        "contains" => Val::Bool(s(&a, 1)?.contains(&s(&a, 0)?)),
        "hasPrefix" => Val::Bool(s(&a, 1)?.starts_with(&s(&a, 0)?)),
        "hasSuffix" => Val::Bool(s(&a, 1)?.ends_with(&s(&a, 0)?)),
        "eq" => Val::Bool(a.len() >= 2 && a[1..].iter().any(|b| cmp_vals(&a[0], b) == Equal)),
        "ne" => Val::Bool(a.len() == 2 && cmp_vals(&a[0], &a[1]) != Equal),
        "lt" => Val::Bool(a.len() == 2 && cmp_vals(&a[0], &a[1]) == Less),
        "le" => Val::Bool(a.len() == 2 && cmp_vals(&a[0], &a[1]) != Greater),
        "gt" => Val::Bool(a.len() == 2 && cmp_vals(&a[0], &a[1]) == Greater),
        "ge" => Val::Bool(a.len() == 2 && cmp_vals(&a[0], &a[1]) != Less),
        "and" => a
            .iter()
            .find(|v| !v.truthy())
            .or(a.last())
            .cloned()
            .unwrap_or(Val::Bool(false)),
        "or" => a
            .iter()
            .find(|v| v.truthy())
            .or(a.last())
            .cloned()
            .unwrap_or(Val::Bool(false)),
        "not" => Val::Bool(!a.first().is_some_and(Val::truthy)),
        "len" => Val::Num(s(&a, 0)?.chars().count() as f64),
        "count" => Val::Num(s(&a, 1)?.matches(&s(&a, 0)?).count() as f64),
        "repeat" => Val::Str(s(&a, 1)?.repeat(n(&a, 0)?.max(0.0) as usize)),
        "substr" => {
            let v: Vec<char> = s(&a, 2)?.chars().collect();
            let st = (n(&a, 0)? as usize).min(v.len());
            let en = (n(&a, 1)? as usize).min(v.len()).max(st);
            Val::Str(v[st..en].iter().collect())
        }
        "trunc" => {
            let v: Vec<char> = s(&a, 1)?.chars().collect();
            let k = n(&a, 0)? as i64;
            Val::Str(if k >= 0 {
                v[..(k as usize).min(v.len())].iter().collect()
            } else {
                v[v.len().saturating_sub((-k) as usize)..].iter().collect()
            })
        }
        "add" => Val::Num(a.iter().map(|v| v.num().trunc()).sum()),
        "addf" => Val::Num(a.iter().map(Val::num).sum()),
        "sub" => Val::Num(n(&a, 0)?.trunc() - n(&a, 1)?.trunc()),
        "subf" => Val::Num(n(&a, 0)? - n(&a, 1)?),
        "mul" => Val::Num(a.iter().map(|v| v.num().trunc()).product()),
        "mulf" => Val::Num(a.iter().map(Val::num).product()),
        "div" => {
            let d = n(&a, 1)?.trunc();
            if d == 0.0 {
                return Err("division by zero".into());
            }
            Val::Num((n(&a, 0)?.trunc() / d).trunc())
        }
        "divf" => Val::Num(n(&a, 0)? / n(&a, 1)?),
        "mod" => {
            let d = n(&a, 1)?.trunc();
            if d == 0.0 {
                return Err("division by zero".into());
            }
            Val::Num(n(&a, 0)?.trunc() % d)
        }
        "max" | "maxf" => Val::Num(a.iter().map(Val::num).fold(f64::NEG_INFINITY, f64::max)),
        "min" | "minf" => Val::Num(a.iter().map(Val::num).fold(f64::INFINITY, f64::min)),
        "ceil" => Val::Num(n(&a, 0)?.ceil()),
        "floor" => Val::Num(n(&a, 0)?.floor()),
        "round" => {
            let p = 10f64.powi(n(&a, 1)? as i32);
            Val::Num((n(&a, 0)? * p).round() / p)
        }
        "int" => Val::Num(n(&a, 0)?.trunc()),
        "float64" => Val::Num(n(&a, 0)?),
        "regexReplaceAll" | "regexReplaceAllLiteral" => {
            let re = regex::Regex::new(&s(&a, 0)?).map_err(|e| e.to_string())?;
            let (src, rep) = (s(&a, 1)?, s(&a, 2)?);
            Val::Str(if f == "regexReplaceAll" {
                re.replace_all(&src, rep.as_str()).into_owned()
            } else {
                re.replace_all(&src, regex::NoExpand(&rep)).into_owned()
            })
        }
        "alignLeft" | "alignRight" => {
            let w = n(&a, 0)? as usize;
            let v: Vec<char> = s(&a, 1)?.chars().collect();
            let cut: String = v.iter().take(w).collect();
            let pad = " ".repeat(w.saturating_sub(cut.chars().count()));
            Val::Str(if f == "alignLeft" {
                cut + &pad
            } else {
                pad + &cut
            })
        }
        "indent" | "nindent" => {
            let pad = " ".repeat(n(&a, 0)? as usize);
            let v = s(&a, 1)?;
            let r = v
                .lines()
                .map(|l| format!("{pad}{l}"))
                .collect::<Vec<_>>()
                .join("\n");
            Val::Str(if f == "nindent" { format!("\n{r}") } else { r })
        }
        "unixEpoch" => Val::Num((ctx.ts_ns / 1_000_000_000) as f64),
        "quote" => Val::Str(format!("{:?}", s(&a, 0)?)),
        "squote" => Val::Str(format!("'{}'", s(&a, 0)?)),
        "print" => Val::Str(a.iter().map(Val::to_str).collect::<Vec<_>>().join("")),
        "printf" => Val::Str(printf(&s(&a, 0)?, &a[1..])),
        _ => return Err(format!("function {f:?} not defined")),
    })
}

/// Go's fmt verbs %s %v %d %f %.Nf %q %x %%.
fn printf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut ai = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = it.peek() {
            if d.is_ascii_digit() || d == '.' || d == '-' {
                spec.push(d);
                it.next();
            } else {
                break;
            }
        }
        let Some(verb) = it.next() else { break };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(v) = args.get(ai) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        ai += 1;
        let prec: Option<usize> = spec.split('.').nth(1).and_then(|p| p.parse().ok());
        let width: usize = spec
            .split('.')
            .next()
            .and_then(|w| w.trim_start_matches('-').parse().ok())
            .unwrap_or(0);
        let body = match verb {
            'd' => format!("{}", v.num() as i64),
            'f' => format!("{:.*}", prec.unwrap_or(6), v.num()),
            'q' => format!("{:?}", v.to_str()),
            'x' => format!("{:x}", v.num() as i64),
            _ => v.to_str(),
        };
        if body.chars().count() < width {
            let pad = " ".repeat(width - body.chars().count());
            if spec.starts_with('-') {
                out.push_str(&body);
                out.push_str(&pad);
            } else {
                out.push_str(&pad);
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: &str) -> String {
        let mut l = BTreeMap::new();
        l.insert("a".to_string(), "Hello".to_string());
        l.insert("n".to_string(), "5".to_string());
        Template::parse(t)
            .unwrap()
            .render(&Ctx {
                labels: &l,
                line: "LINE",
                ts_ns: 0,
            })
            .unwrap()
    }

    #[test]
    fn renders() {
        assert_eq!(r("{{.a}} world"), "Hello world");
        assert_eq!(r("{{ .a | ToUpper }}"), "HELLO");
        assert_eq!(r("{{.missing}}"), "");
        assert_eq!(r("{{ if eq .a \"Hello\" }}yes{{ else }}no{{ end }}"), "yes");
        assert_eq!(r("{{ if gt (.n | int) 10 }}big{{ else if gt (int .n) 3 }}mid{{ else }}small{{ end }}"), "mid");
        assert_eq!(r("x  {{- .a -}}  y"), "xHelloy");
        assert_eq!(r("{{ __line__ }}"), "LINE");
        assert_eq!(r("{{ printf \"%s=%05.1f\" .a 3.14159 }}"), "Hello=  3.1");
        assert_eq!(r("{{ .missing | default \"none\" }}"), "none");
        assert_eq!(r("{{ replace \"l\" \"L\" .a }}"), "HeLLo");
        assert_eq!(r("{{ __timestamp__ }}"), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn errors() {
        assert!(Template::parse("{{ .a").is_err());
        assert!(Template::parse("{{ nope .a }}").is_err());
        assert!(Template::parse("{{ if .a }}x").is_err());
    }
}

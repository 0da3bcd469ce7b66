//! Executes parsed template trees over a [`Value`]: walks nodes, evaluates pipelines (fields,
//! variables, function calls, `and`/`or` short-circuit), keeps variable scopes as Go does, and
//! turns failures into [`ExecError`]s naming the template, position and failing action.

use crate::parse::{Arg, Cmd, Node, Pipe, Pos};
use crate::{funcs, ExecError, MissingKey, Template, Value};

/// Maximum nesting of `{{template}}` calls (Go's `maxExecDepth` is larger; this keeps the Rust
/// stack safe).
const MAX_DEPTH: usize = 100;

pub(crate) fn execute(t: &Template, name: &str, data: &Value) -> Result<String, ExecError> {
    let Some(tree) = t.tree(name) else {
        return Err(ExecError {
            name: name.to_string(),
            line: 0,
            col: 0,
            context: String::new(),
            message: format!(
                "template: no template {name:?} associated with template {:?}",
                t.name()
            ),
        });
    };
    let mut st = State {
        t,
        name: name.to_string(),
        out: String::new(),
        vars: vec![("$".to_string(), data.clone())],
        depth: 0,
    };
    st.walk_list(data, &tree.root)?;
    Ok(st.out)
}

enum Flow {
    Normal,
    Break,
    Continue,
}

struct State<'a> {
    t: &'a Template,
    name: String,
    out: String,
    vars: Vec<(String, Value)>,
    depth: usize,
}

type Res<T> = Result<T, ExecError>;

impl State<'_> {
    fn err(&self, pos: &Pos, ctx: &str, msg: impl Into<String>) -> ExecError {
        ExecError {
            name: self.name.clone(),
            line: pos.line,
            col: pos.col,
            context: ctx.to_string(),
            message: msg.into(),
        }
    }

    fn walk_list(&mut self, dot: &Value, nodes: &[Node]) -> Res<Flow> {
        for n in nodes {
            match self.walk(dot, n)? {
                Flow::Normal => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Value, node: &Node) -> Res<Flow> {
        match node {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(pos, pipe) => {
                let v = self.eval_pipe(dot, pipe, pos)?;
                if pipe.decl.is_empty() {
                    self.print(&v);
                }
            }
            Node::If(pos, pipe, body, els) | Node::With(pos, pipe, body, els) => {
                let mark = self.vars.len();
                let v = self.eval_pipe(dot, pipe, pos)?;
                let is_with = matches!(node, Node::With(..));
                let flow = if v.truthy() {
                    if is_with {
                        self.walk_list(&v, body)?
                    } else {
                        self.walk_list(dot, body)?
                    }
                } else {
                    self.walk_list(dot, els)?
                };
                self.vars.truncate(mark);
                return Ok(flow);
            }
            Node::Range(pos, pipe, body, els) => {
                let mark = self.vars.len();
                // evaluate without declaring: range assigns per element
                let mut inner = pipe.clone();
                let decl = std::mem::take(&mut inner.decl);
                let v = self.eval_pipe(dot, &inner, pos)?;
                // Ranging over an integer is lazy (no list of n elements is built).
                let items: Box<dyn Iterator<Item = (Value, Value)>> = match &v {
                    Value::Nil => Box::new(std::iter::empty()),
                    Value::Int(n) => Box::new((0..*n).map(|i| (Value::Int(i), Value::Int(i)))),
                    Value::Map(m) => Box::new(
                        m.entries
                            .iter()
                            .map(|(k, v)| (Value::str(k), v.clone()))
                            .collect::<Vec<_>>()
                            .into_iter(),
                    ),
                    other => {
                        if let Some(l) = other.as_list() {
                            Box::new(
                                l.into_iter()
                                    .enumerate()
                                    .map(|(i, e)| (Value::Int(i as i64), e)),
                            )
                        } else if let Some(m) = other.as_map() {
                            Box::new(m.into_iter().map(|(k, v)| (Value::str(k), v)))
                        } else {
                            return Err(self.err(
                                pos,
                                &pipe.text,
                                format!("range can't iterate over {other}"),
                            ));
                        }
                    }
                };
                let mut items = items.peekable();
                if items.peek().is_none() {
                    let f = self.walk_list(dot, els)?;
                    self.vars.truncate(mark);
                    return Ok(match f {
                        Flow::Normal => Flow::Normal,
                        other => other,
                    });
                }
                for (k, e) in items {
                    let iter_mark = self.vars.len();
                    match decl.len() {
                        0 => {}
                        1 => self.declare_or_assign(&decl[0], e.clone(), pipe.is_assign),
                        _ => {
                            self.declare_or_assign(&decl[0], k, pipe.is_assign);
                            self.declare_or_assign(&decl[1], e.clone(), pipe.is_assign);
                        }
                    }
                    let f = self.walk_list(&e, body)?;
                    self.vars.truncate(iter_mark.max(mark));
                    if matches!(f, Flow::Break) {
                        break;
                    }
                }
                self.vars.truncate(mark);
            }
            Node::Template(pos, name, pipe) => {
                let Some(tree) = self.t.tree(name).cloned() else {
                    return Err(self.err(
                        pos,
                        &format!("template {name:?}"),
                        format!("no such template {name:?}"),
                    ));
                };
                let v = match pipe {
                    Some(p) => self.eval_pipe(dot, p, pos)?,
                    None => Value::Nil,
                };
                if self.depth >= MAX_DEPTH {
                    return Err(self.err(
                        pos,
                        name,
                        format!("exceeded maximum template depth ({MAX_DEPTH})"),
                    ));
                }
                let saved_vars =
                    std::mem::replace(&mut self.vars, vec![("$".to_string(), v.clone())]);
                let saved_name = std::mem::replace(&mut self.name, name.clone());
                self.depth += 1;
                let r = self.walk_list(&v, &tree.root);
                self.depth -= 1;
                self.vars = saved_vars;
                self.name = saved_name;
                r?;
            }
            Node::Break(_) => return Ok(Flow::Break),
            Node::Continue(_) => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn print(&mut self, v: &Value) {
        match v {
            Value::Nil => self.out.push_str("<no value>"),
            other => self.out.push_str(&other.to_string()),
        }
    }

    fn declare_or_assign(&mut self, name: &str, v: Value, assign: bool) {
        if assign {
            if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return;
            }
        }
        self.vars.push((name.to_string(), v));
    }

    fn lookup_var(&self, name: &str, pos: &Pos, ctx: &str) -> Res<Value> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| self.err(pos, ctx, format!("undefined variable: {name}")))
    }

    fn eval_pipe(&mut self, dot: &Value, pipe: &Pipe, pos: &Pos) -> Res<Value> {
        let mut final_v: Option<Value> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_cmd(dot, cmd, final_v.take(), pos, &pipe.text)?;
            final_v = Some(v);
        }
        let v = final_v.unwrap_or(Value::Nil);
        for d in &pipe.decl {
            self.declare_or_assign(d, v.clone(), pipe.is_assign);
        }
        Ok(v)
    }

    fn eval_cmd(
        &mut self,
        dot: &Value,
        cmd: &Cmd,
        final_v: Option<Value>,
        pos: &Pos,
        ctx: &str,
    ) -> Res<Value> {
        let Some(first) = cmd.args.first() else {
            return Err(self.err(pos, ctx, "empty command"));
        };
        if let Arg::Ident(name) = first {
            return self.call(dot, name, &cmd.args[1..], final_v, pos, ctx);
        }
        if cmd.args.len() > 1 || final_v.is_some() {
            // `.Recv.Method ARG...`: a host object's method with arguments.
            let chain = match first {
                Arg::Field(fs) => fs.split_last().map(|(m, rest)| (dot.clone(), m, rest)),
                Arg::Var(name, fs) => match fs.split_last() {
                    Some((m, rest)) => Some((self.lookup_var(name, pos, ctx)?, m, rest)),
                    None => None,
                },
                _ => None,
            };
            if let Some((base, method, rest)) = chain {
                let recv = self.field_chain(base, rest, pos, ctx)?;
                if let Value::Object(o) = &recv {
                    let mut vals = Vec::with_capacity(cmd.args.len());
                    for a in &cmd.args[1..] {
                        vals.push(self.eval_arg(dot, a, pos, ctx)?);
                    }
                    if let Some(v) = final_v.clone() {
                        vals.push(v);
                    }
                    if let Some(r) = o.method(method, &vals) {
                        return r.map_err(|e| {
                            self.err(pos, ctx, format!("error calling {method}: {e}"))
                        });
                    }
                }
            }
            return Err(self.err(
                pos,
                ctx,
                format!("can't give argument to non-function {}", arg_text(first)),
            ));
        }
        self.eval_arg(dot, first, pos, ctx)
    }

    fn eval_arg(&mut self, dot: &Value, arg: &Arg, pos: &Pos, ctx: &str) -> Res<Value> {
        Ok(match arg {
            Arg::Dot => dot.clone(),
            Arg::Nil => Value::Nil,
            Arg::Bool(b) => Value::Bool(*b),
            Arg::Int(i) => Value::Int(*i),
            Arg::Float(f) => Value::Float(*f),
            Arg::Str(s) => Value::str(s),
            Arg::Field(fs) => self.field_chain(dot.clone(), fs, pos, ctx)?,
            Arg::Var(name, fs) => {
                let v = self.lookup_var(name, pos, ctx)?;
                self.field_chain(v, fs, pos, ctx)?
            }
            Arg::Ident(name) => self.call(dot, name, &[], None, pos, ctx)?,
            Arg::Pipe(p, fs) => {
                let mark = self.vars.len();
                let v = self.eval_pipe(dot, p, pos)?;
                self.vars.truncate(mark);
                self.field_chain(v, fs, pos, ctx)?
            }
        })
    }

    fn field_chain(&self, mut v: Value, fields: &[String], pos: &Pos, ctx: &str) -> Res<Value> {
        for f in fields {
            v = self.field(&v, f, pos, ctx)?;
        }
        Ok(v)
    }

    fn field(&self, recv: &Value, name: &str, pos: &Pos, ctx: &str) -> Res<Value> {
        match recv {
            Value::Map(m) => match m.entries.get(name) {
                Some(v) => Ok(v.clone()),
                None => match self.t.missing_key_mode() {
                    MissingKey::Default => Ok(Value::Nil),
                    MissingKey::Zero => Ok(if m.string_values {
                        Value::str("")
                    } else {
                        Value::Nil
                    }),
                    MissingKey::Error => {
                        Err(self.err(pos, ctx, format!("map has no entry for key {name:?}")))
                    }
                },
            },
            Value::Object(o) => o.field(name).ok_or_else(|| {
                self.err(
                    pos,
                    ctx,
                    format!("can't evaluate field {name} in type {}", o.display_type()),
                )
            }),
            Value::Nil => {
                if self.t.missing_key_mode() == MissingKey::Error {
                    Err(self.err(pos, ctx, format!("nil data; no entry for key {name:?}")))
                } else {
                    Ok(Value::Nil)
                }
            }
            other => Err(self.err(
                pos,
                ctx,
                format!("can't evaluate field {name} in type {}", other.type_name()),
            )),
        }
    }

    fn call(
        &mut self,
        dot: &Value,
        name: &str,
        args: &[Arg],
        final_v: Option<Value>,
        pos: &Pos,
        ctx: &str,
    ) -> Res<Value> {
        if name == "and" || name == "or" {
            let n = args.len() + usize::from(final_v.is_some());
            if n == 0 {
                return Err(self.err(
                    pos,
                    ctx,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Nil;
            for a in args {
                last = self.eval_arg(dot, a, pos, ctx)?;
                if (name == "and") != last.truthy() {
                    return Ok(last);
                }
            }
            if let Some(f) = final_v {
                last = f;
            }
            return Ok(last);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.eval_arg(dot, a, pos, ctx)?);
        }
        if let Some(f) = final_v {
            vals.push(f);
        }
        if let Some(f) = self.t.function(name) {
            return f(&vals).map_err(|e| self.err(pos, ctx, format!("error calling {name}: {e}")));
        }
        match funcs::call_builtin(name, &vals) {
            Some(r) => r.map_err(|e| self.err(pos, ctx, e)),
            None => Err(self.err(pos, ctx, format!("{name:?} is not a defined function"))),
        }
    }
}

fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Dot => ".".into(),
        Arg::Nil => "nil".into(),
        Arg::Bool(b) => b.to_string(),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => f.to_string(),
        Arg::Str(s) => format!("{s:?}"),
        Arg::Field(fs) => fs.iter().map(|f| format!(".{f}")).collect(),
        Arg::Var(v, fs) => format!(
            "{v}{}",
            fs.iter().map(|f| format!(".{f}")).collect::<String>()
        ),
        Arg::Ident(i) => i.clone(),
        Arg::Pipe(p, _) => format!("({})", p.text),
    }
}

trait DisplayType {
    fn display_type(&self) -> String;
}

impl DisplayType for std::sync::Arc<dyn crate::Object> {
    fn display_type(&self) -> String {
        "struct".to_string()
    }
}

//! Lexer and parser for Go template text: turns source into [`Tree`]s (one per template name;
//! `define` and `block` add more). Errors carry the 1-based line, formatted like Go's
//! `template: NAME:LINE: message`. Knows nothing about execution.

use crate::ParseError;

/// A position in the source: 1-based line and column, plus the source text of the node (for errors).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

/// One parsed template body.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tree {
    /// Template name.
    pub name: String,
    /// Top-level nodes.
    pub root: Vec<Node>,
}

impl Tree {
    /// True when the body is only whitespace text (Go's `IsEmptyTree`), so it doesn't replace an
    /// existing definition.
    pub(crate) fn is_empty_body(&self) -> bool {
        self.root.iter().all(|n| match n {
            Node::Text(t) => t.trim().is_empty(),
            _ => false,
        })
    }
}

/// A node of the template tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// Literal text.
    Text(String),
    /// `{{ pipeline }}`: prints the value unless the pipeline declares variables.
    Action(Pos, Pipe),
    /// `{{if}}`, `{{with}}`: condition, body, else body.
    If(Pos, Pipe, Vec<Node>, Vec<Node>),
    /// `{{with}}`.
    With(Pos, Pipe, Vec<Node>, Vec<Node>),
    /// `{{range}}`.
    Range(Pos, Pipe, Vec<Node>, Vec<Node>),
    /// `{{template "name" pipeline}}`.
    Template(Pos, String, Option<Pipe>),
    /// `{{break}}`.
    Break(Pos),
    /// `{{continue}}`.
    Continue(Pos),
}

/// A pipeline, optionally declaring (`:=`) or assigning (`=`) variables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pipe {
    /// Source text (for error context).
    pub text: String,
    /// Variables (without `$`... names include the `$`).
    pub decl: Vec<String>,
    /// True for `=` (assignment to existing variables), false for `:=`.
    pub is_assign: bool,
    /// Commands separated by `|`.
    pub cmds: Vec<Cmd>,
}

/// A command: a function/method/field with arguments, or a single operand.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cmd {
    /// Operands; the first may be a function identifier.
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// `.`
    Dot,
    /// `nil`
    Nil,
    /// `true`/`false`
    Bool(bool),
    /// Integer literal (including char constants).
    Int(i64),
    /// Floating-point literal.
    Float(f64),
    /// String literal (unquoted).
    Str(String),
    /// `.A.B`
    Field(Vec<String>),
    /// `$x.A.B` (name includes `$`).
    Var(String, Vec<String>),
    /// A function name.
    Ident(String),
    /// `( pipeline ).A.B`
    Pipe(Box<Pipe>, Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Text(String),
    Open { trim: bool },
    Close,
    Ident(String),
    Field(String),
    Var(String),
    Dot,
    Str(String),
    Num(String),
    Char(i64),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
    Comment,
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
    /// Byte offset in source.
    off: usize,
    /// Space preceded it inside an action (matters for `.A .B` vs `.A.B` in chains).
    space_before: bool,
}

struct Lexer<'a> {
    name: &'a str,
    src: &'a str,
    pos: usize,
    toks: Vec<Token>,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_alnum(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

impl<'a> Lexer<'a> {
    fn line_col(&self, off: usize) -> (usize, usize) {
        let before = &self.src[..off.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let col = off - before.rfind('\n').map(|p| p + 1).unwrap_or(0) + 1;
        (line, col)
    }

    fn err(&self, off: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            name: self.name.to_string(),
            line: self.line_col(off).0,
            message: msg.into(),
        }
    }

    fn push(&mut self, tok: Tok, off: usize, space_before: bool) {
        let (line, col) = self.line_col(off);
        self.toks.push(Token {
            tok,
            line,
            col,
            off,
            space_before,
        });
    }

    fn run(mut self) -> Result<Vec<Token>, ParseError> {
        let bytes = self.src.as_bytes();
        let mut trim_next_text = false;
        loop {
            // text up to next "{{"
            let rest = &self.src[self.pos..];
            let next = rest.find("{{");
            let text_end = next.map(|n| self.pos + n).unwrap_or(self.src.len());
            let mut text = &self.src[self.pos..text_end];
            if trim_next_text {
                text = text.trim_start_matches([' ', '\t', '\r', '\n']);
            }
            let mut trim_left = false;
            if next.is_some() {
                let after = text_end + 2;
                if bytes.get(after) == Some(&b'-')
                    && bytes.get(after + 1).is_some_and(|c| is_space(*c))
                {
                    trim_left = true;
                    text = text.trim_end_matches([' ', '\t', '\r', '\n']);
                }
            }
            if !text.is_empty() {
                let off = self.pos;
                self.push(Tok::Text(text.to_string()), off, false);
            }
            let Some(_) = next else {
                break;
            };
            let open = text_end;
            self.pos = open + 2 + if trim_left { 2 } else { 0 };
            // comment?
            let after_ws = {
                let mut p = self.pos;
                if trim_left {
                    // already skipped "- "; skip further spaces
                    while p < bytes.len() && is_space(bytes[p]) {
                        p += 1;
                    }
                }
                p
            };
            if self.src[after_ws..].starts_with("/*") {
                let Some(end) = self.src[after_ws + 2..].find("*/") else {
                    return Err(self.err(open, "unclosed comment"));
                };
                let mut p = after_ws + 2 + end + 2;
                let mut trim_right = false;
                if self.src[p..].starts_with(" -}}") {
                    trim_right = true;
                    p += 4;
                } else if self.src[p..].starts_with("}}") {
                    p += 2;
                } else {
                    return Err(self.err(open, "comment ends before closing delimiter"));
                }
                self.push(Tok::Comment, open, false);
                self.pos = p;
                trim_next_text = trim_right;
                continue;
            }
            self.push(Tok::Open { trim: trim_left }, open, false);
            trim_next_text = self.lex_action(open)?;
        }
        let end = self.src.len();
        self.push(Tok::Eof, end, false);
        Ok(self.toks)
    }

    /// Lex inside an action until `}}`; returns whether the close had a trim marker.
    fn lex_action(&mut self, open: usize) -> Result<bool, ParseError> {
        let bytes = self.src.as_bytes();
        let mut paren_depth = 0i32;
        loop {
            let mut space = false;
            while self.pos < bytes.len() && is_space(bytes[self.pos]) {
                self.pos += 1;
                space = true;
            }
            let start = self.pos;
            if self.pos >= bytes.len() {
                return Err(self.err(open, "unclosed action"));
            }
            let rest = &self.src[self.pos..];
            if space && rest.starts_with("-}}") {
                self.push(Tok::Close, start, space);
                self.pos += 3;
                return Ok(true);
            }
            if rest.starts_with("}}") {
                if paren_depth > 0 {
                    return Err(self.err(start, "unclosed left paren"));
                }
                self.push(Tok::Close, start, space);
                self.pos += 2;
                return Ok(false);
            }
            let c = rest.chars().next().unwrap_or(' ');
            match c {
                '(' => {
                    paren_depth += 1;
                    self.pos += 1;
                    self.push(Tok::LParen, start, space);
                }
                ')' => {
                    paren_depth -= 1;
                    if paren_depth < 0 {
                        return Err(self.err(start, "unexpected right paren"));
                    }
                    self.pos += 1;
                    self.push(Tok::RParen, start, space);
                }
                '|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, start, space);
                }
                ',' => {
                    self.pos += 1;
                    self.push(Tok::Comma, start, space);
                }
                ':' => {
                    if rest.starts_with(":=") {
                        self.pos += 2;
                        self.push(Tok::Declare, start, space);
                    } else {
                        return Err(self.err(start, "expected :="));
                    }
                }
                '=' => {
                    self.pos += 1;
                    self.push(Tok::Assign, start, space);
                }
                '"' => {
                    let mut p = self.pos + 1;
                    let mut out = String::new();
                    loop {
                        let Some(ch) = self.src[p..].chars().next() else {
                            return Err(self.err(start, "unterminated quoted string"));
                        };
                        match ch {
                            '"' => {
                                p += 1;
                                break;
                            }
                            '\n' => return Err(self.err(start, "unterminated quoted string")),
                            '\\' => {
                                let (ch2, n) = self.unescape(p, start)?;
                                out.push_str(&ch2);
                                p += n;
                            }
                            _ => {
                                out.push(ch);
                                p += ch.len_utf8();
                            }
                        }
                    }
                    self.pos = p;
                    self.push(Tok::Str(out), start, space);
                }
                '`' => {
                    let Some(end) = self.src[self.pos + 1..].find('`') else {
                        return Err(self.err(start, "unterminated raw quoted string"));
                    };
                    let s = self.src[self.pos + 1..self.pos + 1 + end].replace('\r', "");
                    self.pos += end + 2;
                    self.push(Tok::Str(s), start, space);
                }
                '\'' => {
                    let p = self.pos + 1;
                    let Some(ch) = self.src[p..].chars().next() else {
                        return Err(self.err(start, "unterminated character constant"));
                    };
                    let (val, n) = if ch == '\\' {
                        let (s, n) = self.unescape(p, start)?;
                        (s.chars().next().map(|c| c as i64).unwrap_or(0), n)
                    } else {
                        (ch as i64, ch.len_utf8())
                    };
                    if bytes.get(p + n) != Some(&b'\'') {
                        return Err(self.err(start, "unterminated character constant"));
                    }
                    self.pos = p + n + 1;
                    self.push(Tok::Char(val), start, space);
                }
                '$' => {
                    let mut p = self.pos + 1;
                    while let Some(ch) = self.src[p..].chars().next() {
                        if is_alnum(ch) {
                            p += ch.len_utf8();
                        } else {
                            break;
                        }
                    }
                    let name = self.src[self.pos..p].to_string();
                    self.pos = p;
                    self.push(Tok::Var(name), start, space);
                }
                '.' => {
                    let next = rest[1..].chars().next();
                    if next.is_some_and(|c| c.is_ascii_digit()) {
                        self.lex_number(start, space)?;
                    } else if next.is_some_and(is_alnum) {
                        let mut p = self.pos + 1;
                        while let Some(ch) = self.src[p..].chars().next() {
                            if is_alnum(ch) {
                                p += ch.len_utf8();
                            } else {
                                break;
                            }
                        }
                        let name = self.src[self.pos + 1..p].to_string();
                        self.pos = p;
                        self.push(Tok::Field(name), start, space);
                    } else {
                        self.pos += 1;
                        self.push(Tok::Dot, start, space);
                    }
                }
                '0'..='9' | '+' | '-' => self.lex_number(start, space)?,
                c if is_alnum(c) => {
                    let mut p = self.pos;
                    while let Some(ch) = self.src[p..].chars().next() {
                        if is_alnum(ch) {
                            p += ch.len_utf8();
                        } else {
                            break;
                        }
                    }
                    let name = self.src[self.pos..p].to_string();
                    self.pos = p;
                    self.push(Tok::Ident(name), start, space);
                }
                other => {
                    return Err(self.err(start, format!("unexpected {other:?} in command")));
                }
            }
        }
    }

    fn lex_number(&mut self, start: usize, space: bool) -> Result<(), ParseError> {
        let mut p = self.pos;
        let bytes = self.src.as_bytes();
        if matches!(bytes.get(p), Some(b'+') | Some(b'-')) {
            p += 1;
        }
        while p < bytes.len()
            && (bytes[p].is_ascii_alphanumeric()
                || bytes[p] == b'.'
                || bytes[p] == b'_'
                || ((bytes[p] == b'+' || bytes[p] == b'-')
                    && matches!(bytes[p - 1], b'e' | b'E' | b'p' | b'P')
                    && !self.src[self.pos..p].starts_with("0x")
                    && !self.src[self.pos..p].starts_with("0X")))
        {
            p += 1;
        }
        let s = &self.src[self.pos..p];
        if s == "+" || s == "-" {
            return Err(self.err(start, format!("bad number syntax: {s:?}")));
        }
        self.pos = p;
        self.push(Tok::Num(s.to_string()), start, space);
        Ok(())
    }

    /// Decode one escape at `p` (pointing at the backslash); returns text and bytes consumed.
    fn unescape(&self, p: usize, start: usize) -> Result<(String, usize), ParseError> {
        let rest = &self.src[p + 1..];
        let Some(c) = rest.chars().next() else {
            return Err(self.err(start, "unterminated quoted string"));
        };
        let simple = match c {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(ch) = simple {
            return Ok((ch.to_string(), 2));
        }
        let hex = |n: usize| -> Result<(String, usize), ParseError> {
            let h = rest
                .get(1..1 + n)
                .ok_or_else(|| self.err(start, "invalid escape"))?;
            let v = u32::from_str_radix(h, 16).map_err(|_| self.err(start, "invalid escape"))?;
            let ch = char::from_u32(v).ok_or_else(|| self.err(start, "invalid escape"))?;
            Ok((ch.to_string(), n + 2))
        };
        match c {
            'x' => hex(2),
            'u' => hex(4),
            'U' => hex(8),
            '0'..='7' => {
                let h = rest
                    .get(0..3)
                    .ok_or_else(|| self.err(start, "invalid escape"))?;
                let v = u32::from_str_radix(h, 8).map_err(|_| self.err(start, "invalid escape"))?;
                let ch = char::from_u32(v).ok_or_else(|| self.err(start, "invalid escape"))?;
                Ok((ch.to_string(), 4))
            }
            _ => Err(self.err(start, "invalid syntax")),
        }
    }
}

/// Parse template `name`'s text. Returns the main tree and every defined template.
pub(crate) fn parse(
    name: &str,
    text: &str,
    has_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, Tree)>, ParseError> {
    let toks = Lexer {
        name,
        src: text,
        pos: 0,
        toks: Vec::new(),
    }
    .run()?;
    let mut p = Parser {
        name,
        src: text,
        toks,
        i: 0,
        has_func,
        defs: Vec::new(),
        vars: vec![vec!["$".to_string()]],
        range_depth: 0,
    };
    let (root, end) = p.list()?;
    if let Some(kw) = end {
        return Err(p.err_at(p.i.saturating_sub(1), format!("unexpected {{{{{kw}}}}}")));
    }
    let mut out = vec![(
        name.to_string(),
        Tree {
            name: name.to_string(),
            root,
        },
    )];
    out.append(&mut p.defs);
    Ok(out)
}

struct Parser<'a> {
    name: &'a str,
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
    has_func: &'a dyn Fn(&str) -> bool,
    defs: Vec<(String, Tree)>,
    vars: Vec<Vec<String>>,
    range_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.i + k).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.i.min(self.toks.len() - 1)].clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn err_at(&self, i: usize, msg: impl Into<String>) -> ParseError {
        let t = &self.toks[i.min(self.toks.len() - 1)];
        ParseError {
            name: self.name.to_string(),
            line: t.line,
            message: msg.into(),
        }
    }

    fn err(&self, msg: impl Into<String>) -> ParseError {
        self.err_at(self.i, msg)
    }

    fn pos(&self, i: usize) -> Pos {
        let t = &self.toks[i.min(self.toks.len() - 1)];
        Pos {
            line: t.line,
            col: t.col,
        }
    }

    /// Parse nodes until `{{end}}`, `{{else ...}}` or EOF. Returns the terminating keyword
    /// ("end" / "else") with the parser positioned after `{{end}}`/`{{else` respectively.
    fn list(&mut self) -> Result<(Vec<Node>, Option<&'static str>), ParseError> {
        let mut nodes = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Eof => return Ok((nodes, None)),
                Tok::Text(t) => {
                    self.next();
                    nodes.push(Node::Text(t));
                }
                Tok::Comment => {
                    self.next();
                }
                Tok::Open { .. } => {
                    let open_i = self.i;
                    self.next();
                    if let Tok::Ident(kw) = self.peek().clone() {
                        match kw.as_str() {
                            "end" => {
                                self.next();
                                self.expect_close("end")?;
                                return Ok((nodes, Some("end")));
                            }
                            "else" => {
                                self.next();
                                return Ok((nodes, Some("else")));
                            }
                            "if" | "with" | "range" => {
                                self.next();
                                nodes.push(self.control(&kw, open_i)?);
                                continue;
                            }
                            "define" => {
                                self.next();
                                self.define(open_i)?;
                                continue;
                            }
                            "block" | "template" => {
                                self.next();
                                nodes.push(self.template(&kw, open_i)?);
                                continue;
                            }
                            "break" | "continue" => {
                                self.next();
                                if self.range_depth == 0 {
                                    return Err(
                                        self.err(format!("{{{{{kw}}}}} outside {{{{range}}}}"))
                                    );
                                }
                                self.expect_close(&kw)?;
                                nodes.push(if kw == "break" {
                                    Node::Break(self.pos(open_i))
                                } else {
                                    Node::Continue(self.pos(open_i))
                                });
                                continue;
                            }
                            _ => {}
                        }
                    }
                    let pipe = self.pipeline("command", true)?;
                    nodes.push(Node::Action(self.pos(open_i), pipe));
                }
                other => return Err(self.err(format!("unexpected {other:?}"))),
            }
        }
    }

    fn expect_close(&mut self, ctx: &str) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Close => {
                self.next();
                Ok(())
            }
            other => Err(self.err(format!("unexpected {} in {ctx}", describe(other)))),
        }
    }

    fn control(&mut self, kw: &str, open_i: usize) -> Result<Node, ParseError> {
        self.vars.push(Vec::new());
        let pipe = self.pipeline(kw, false)?;
        if kw == "range" {
            self.range_depth += 1;
        }
        let body = self.list();
        if kw == "range" {
            self.range_depth -= 1;
        }
        let (body, end) = body?;
        let else_list = match end {
            None => return Err(self.err(format!("unexpected EOF in {kw}"))),
            Some("end") => Vec::new(),
            _ => {
                // else: plain `{{else}}` or chained `{{else if ...}}` / `{{else with ...}}`
                let chained = match self.peek() {
                    Tok::Ident(k) if (k == "if" || k == "with") && kw != "range" => Some(k.clone()),
                    _ => None,
                };
                if let Some(k2) = chained {
                    let else_i = self.i;
                    self.next();
                    // the nested control consumes the shared {{end}}
                    vec![self.control(&k2, else_i)?]
                } else {
                    self.expect_close("else")?;
                    let (else_body, end2) = self.list()?;
                    match end2 {
                        Some("end") => else_body,
                        Some(_) => return Err(self.err("expected end; found {{else}}")),
                        None => return Err(self.err(format!("unexpected EOF in {kw}"))),
                    }
                }
            }
        };
        self.vars.pop();
        let pos = self.pos(open_i);
        Ok(match kw {
            "if" => Node::If(pos, pipe, body, else_list),
            "with" => Node::With(pos, pipe, body, else_list),
            _ => Node::Range(pos, pipe, body, else_list),
        })
    }

    fn string_arg(&mut self, ctx: &str) -> Result<String, ParseError> {
        match self.next().tok {
            Tok::Str(s) => Ok(s),
            other => Err(self.err_at(
                self.i - 1,
                format!("unexpected {} in {ctx} clause", describe(&other)),
            )),
        }
    }

    fn define(&mut self, open_i: usize) -> Result<(), ParseError> {
        let name = self.string_arg("define")?;
        self.expect_close("define")?;
        let saved_vars = std::mem::replace(&mut self.vars, vec![vec!["$".to_string()]]);
        let saved_depth = std::mem::replace(&mut self.range_depth, 0);
        let res = self.list();
        self.vars = saved_vars;
        self.range_depth = saved_depth;
        let (body, end) = res?;
        if end != Some("end") {
            return Err(self.err_at(open_i, "unexpected EOF in define clause"));
        }
        self.defs.push((name.clone(), Tree { name, root: body }));
        Ok(())
    }

    fn template(&mut self, kw: &str, open_i: usize) -> Result<Node, ParseError> {
        let name = self.string_arg(kw)?;
        let pipe = if matches!(self.peek(), Tok::Close) {
            self.next();
            None
        } else {
            Some(self.pipeline(kw, false)?)
        };
        if kw == "block" {
            let saved_vars = std::mem::replace(&mut self.vars, vec![vec!["$".to_string()]]);
            let saved_depth = std::mem::replace(&mut self.range_depth, 0);
            let res = self.list();
            self.vars = saved_vars;
            self.range_depth = saved_depth;
            let (body, end) = res?;
            if end != Some("end") {
                return Err(self.err_at(open_i, "unexpected EOF in block clause"));
            }
            self.defs.push((
                name.clone(),
                Tree {
                    name: name.clone(),
                    root: body,
                },
            ));
        }
        Ok(Node::Template(self.pos(open_i), name, pipe))
    }

    fn var_defined(&self, name: &str) -> bool {
        self.vars.iter().any(|s| s.iter().any(|v| v == name))
    }

    /// Parse a pipeline up to and including the closing `}}` (or `)` when in parens).
    fn pipeline(&mut self, ctx: &str, allow_decl: bool) -> Result<Pipe, ParseError> {
        let _ = allow_decl;
        let start_off = self.toks[self.i.min(self.toks.len() - 1)].off;
        let mut pipe = Pipe::default();
        // declarations: $x := / $x = / $i, $v :=
        if let Tok::Var(v) = self.peek().clone() {
            match self.peek_at(1).clone() {
                Tok::Declare | Tok::Assign => {
                    let is_assign = matches!(self.peek_at(1), Tok::Assign);
                    self.next();
                    self.next();
                    if is_assign && !self.var_defined(&v) {
                        return Err(self.err(format!("undefined variable \"{v}\"")));
                    }
                    pipe.decl.push(v);
                    pipe.is_assign = is_assign;
                }
                Tok::Comma if ctx == "range" => {
                    if let (Tok::Var(v2), Tok::Declare | Tok::Assign) =
                        (self.peek_at(2).clone(), self.peek_at(3).clone())
                    {
                        let is_assign = matches!(self.peek_at(3), Tok::Assign);
                        self.i += 4;
                        pipe.decl.push(v);
                        pipe.decl.push(v2);
                        pipe.is_assign = is_assign;
                    } else {
                        return Err(self.err("range can only initialize variables"));
                    }
                }
                Tok::Comma => {
                    return Err(self.err(format!("too many declarations in {ctx}")));
                }
                _ => {}
            }
        }
        // The declared variables become visible after the pipeline (Go checks undefined
        // variables at parse time).
        loop {
            match self.peek().clone() {
                Tok::Close => {
                    let end_off = self.toks[self.i].off;
                    self.next();
                    if pipe.cmds.is_empty() {
                        return Err(self.err_at(self.i - 1, format!("missing value for {ctx}")));
                    }
                    pipe.text = self.src[start_off..end_off].trim().to_string();
                    break;
                }
                Tok::RParen if ctx == "parenthesized pipeline" => {
                    let end_off = self.toks[self.i].off;
                    self.next();
                    if pipe.cmds.is_empty() {
                        return Err(
                            self.err_at(self.i - 1, "missing value for parenthesized pipeline")
                        );
                    }
                    pipe.text = self.src[start_off..end_off].trim().to_string();
                    break;
                }
                Tok::Eof => return Err(self.err(format!("unclosed action in {ctx}"))),
                _ => {
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                    match self.peek() {
                        Tok::Pipe => {
                            self.next();
                            if matches!(self.peek(), Tok::Close | Tok::RParen) {
                                return Err(self.err("missing command"));
                            }
                        }
                        Tok::Close | Tok::RParen => {}
                        other => {
                            return Err(
                                self.err(format!("unexpected {} in operand", describe(other)))
                            )
                        }
                    }
                }
            }
        }
        // Go: non-executable first command in a later pipeline stage
        for (k, cmd) in pipe.cmds.iter().enumerate() {
            if k > 0 {
                if let Some(first) = cmd.args.first() {
                    if matches!(
                        first,
                        Arg::Bool(_)
                            | Arg::Dot
                            | Arg::Nil
                            | Arg::Int(_)
                            | Arg::Float(_)
                            | Arg::Str(_)
                    ) {
                        return Err(self.err_at(
                            self.i - 1,
                            format!("non executable command in pipeline stage {}", k + 1),
                        ));
                    }
                }
            }
        }
        if let Some(scope) = self.vars.last_mut() {
            if !pipe.is_assign {
                scope.extend(pipe.decl.iter().cloned());
            }
        }
        Ok(pipe)
    }

    fn command(&mut self) -> Result<Cmd, ParseError> {
        let mut cmd = Cmd::default();
        loop {
            match self.peek() {
                Tok::Close | Tok::RParen | Tok::Pipe => break,
                Tok::Eof => return Err(self.err("unclosed action")),
                _ => {}
            }
            if !cmd.args.is_empty() && !self.toks[self.i].space_before {
                // operands must be separated by space (Go: "missing space?")
                if !matches!(self.peek(), Tok::LParen) {
                    return Err(
                        self.err(format!("unexpected {} in operand", describe(self.peek())))
                    );
                }
            }
            let arg = self.operand()?;
            cmd.args.push(arg);
        }
        if cmd.args.is_empty() {
            return Err(self.err("empty command"));
        }
        Ok(cmd)
    }

    fn trailing_fields(&mut self) -> Vec<String> {
        let mut fields = Vec::new();
        while let Tok::Field(f) = self.peek().clone() {
            if self.toks[self.i].space_before {
                break;
            }
            self.next();
            fields.push(f);
        }
        fields
    }

    fn operand(&mut self) -> Result<Arg, ParseError> {
        let t = self.next();
        let arg = match t.tok {
            Tok::Dot => Arg::Dot,
            Tok::Field(f) => {
                let mut fs = vec![f];
                fs.extend(self.trailing_fields());
                return Ok(Arg::Field(fs));
            }
            Tok::Var(v) => {
                if !self.var_defined(&v) {
                    return Err(self.err_at(self.i - 1, format!("undefined variable \"{v}\"")));
                }
                let fs = self.trailing_fields();
                return Ok(Arg::Var(v, fs));
            }
            Tok::Str(s) => Arg::Str(s),
            Tok::Char(c) => Arg::Int(c),
            Tok::Num(n) => parse_number(&n)
                .ok_or_else(|| self.err_at(self.i - 1, format!("bad number syntax: \"{n}\"")))?,
            Tok::Ident(id) => match id.as_str() {
                "true" => Arg::Bool(true),
                "false" => Arg::Bool(false),
                "nil" => Arg::Nil,
                _ => {
                    if !(self.has_func)(&id) {
                        return Err(
                            self.err_at(self.i - 1, format!("function \"{id}\" not defined"))
                        );
                    }
                    Arg::Ident(id)
                }
            },
            Tok::LParen => {
                let inner = self.pipeline("parenthesized pipeline", false)?;
                let fs = self.trailing_fields();
                return Ok(Arg::Pipe(Box::new(inner), fs));
            }
            other => {
                return Err(self.err_at(
                    self.i - 1,
                    format!("unexpected {} in operand", describe(&other)),
                ))
            }
        };
        if matches!(self.peek(), Tok::Field(_)) && !self.toks[self.i].space_before {
            return Err(self.err("unexpected . after term"));
        }
        Ok(arg)
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Text(_) => "text".into(),
        Tok::Open { .. } => "\"{{\"".into(),
        Tok::Close => "\"}}\"".into(),
        Tok::Ident(s) => format!("<{s}>"),
        Tok::Field(s) => format!("<.{s}>"),
        Tok::Var(s) => format!("<{s}>"),
        Tok::Dot => "<.>".into(),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Num(n) => format!("<{n}>"),
        Tok::Char(_) => "character constant".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Comment => "comment".into(),
        Tok::Eof => "EOF".into(),
    }
}

/// Parse a Go number literal: decimal/hex/octal/binary ints (with `_`), floats, hex floats.
fn parse_number(s: &str) -> Option<Arg> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        if h.contains('p') || h.contains('.') {
            None
        } else {
            i64::from_str_radix(h, 16).ok()
        }
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.bytes().all(|c| c.is_ascii_digit()) && !lower.is_empty() {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Arg::Int(if neg { -i } else { i }));
    }
    if lower.starts_with("0x") || lower.bytes().any(|c| c.is_ascii_alphabetic() && c != b'e') {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    // integral float literals like 1e3 still act as ints in Go when they fit
    Some(Arg::Float(if neg { -f } else { f }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Vec<(String, Tree)>, ParseError> {
        parse("t", s, &|f| f == "humanize")
    }

    #[test]
    fn parses_basic_constructs() {
        let t = p(
            "a {{ .A.B }} {{ $x := 1 }}{{ $x }}{{ if .X }}y{{ else if .Z }}z{{ else }}w{{ end }}",
        )
        .unwrap();
        assert_eq!(t.len(), 1);
        assert!(p("{{ range $i, $v := .L }}{{ $i }}{{ break }}{{ end }}").is_ok());
        assert!(
            p("{{ define \"x\" }}hi{{ end }}{{ template \"x\" . }}")
                .unwrap()
                .len()
                == 2
        );
        assert!(p("{{ .A | humanize }}").is_ok());
        assert!(p("{{/* c */}}").is_ok());
        assert!(p("{{- /* c */ -}}").is_ok());
    }

    #[test]
    fn errors_carry_lines() {
        let e = p("line1\n{{ nope }}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "template: t:2: function \"nope\" not defined"
        );
        let e = p("{{ if .A }}\nx").unwrap_err();
        assert!(e.message.contains("unexpected EOF"), "{e}");
        let e = p("\n\n{{ $y }}").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(e.message, "undefined variable \"$y\"");
        assert!(p("{{ end }}").is_err());
        assert!(p("{{ break }}").is_err());
        assert!(p("{{ .A ").is_err());
        assert!(p("{{ \"abc }}").is_err());
        assert!(p("{{ }}").is_err());
        assert!(p("{{ 1 | 2 }}").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("0x1F"), Some(Arg::Int(31)));
        assert_eq!(parse_number("-12"), Some(Arg::Int(-12)));
        assert_eq!(parse_number("1.5"), Some(Arg::Float(1.5)));
        assert_eq!(parse_number("1e3"), Some(Arg::Float(1000.0)));
        assert_eq!(parse_number("1_000"), Some(Arg::Int(1000)));
        assert_eq!(parse_number("0b101"), Some(Arg::Int(5)));
        assert_eq!(parse_number("017"), Some(Arg::Int(15)));
        assert_eq!(parse_number("1x"), None);
    }
}

//! LogQL tokenizer: strings (double-quoted with Go escapes, or backquoted raw), numbers,
//! durations (`5m`, `1h30m`), byte sizes (`10MB`, `5KiB`), identifiers and operators. Every token
//! carries its byte offset for error messages.

#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Num(f64),
    /// Nanoseconds.
    Dur(i64),
    /// Bytes.
    Bytes(u64),
    /// Operators and punctuation, e.g. `{`, `|=`, `=~`, `>=`.
    Op(&'static str),
    Eof,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("IDENTIFIER {s:?}"),
            Tok::Str(s) => format!("STRING {s:?}"),
            Tok::Num(n) => format!("NUMBER {n}"),
            Tok::Dur(_) => "DURATION".into(),
            Tok::Bytes(_) => "BYTES".into(),
            Tok::Op(o) => format!("{o:?}"),
            Tok::Eof => "end of input".into(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub line: usize,
    pub col: usize,
    pub msg: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "parse error at line {}, col {}: {}",
            self.line, self.col, self.msg
        )
    }
}

impl std::error::Error for ParseError {}

pub fn error_at(src: &str, pos: usize, msg: impl Into<String>) -> ParseError {
    let pos = pos.min(src.len());
    let before = src.get(..pos).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    ParseError {
        line,
        col,
        msg: msg.into(),
    }
}

const OPS: &[&str] = &[
    "|=", "|~", "|>", "!=", "!~", "!>", "=~", "==", ">=", "<=", "{", "}", "(", ")", "[", "]", ",",
    "=", ">", "<", "|", "+", "-", "*", "/", "%", "^",
];

pub fn duration_unit_ns(u: &str) -> Option<i64> {
    Some(match u {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "w" => 7 * 86_400_000_000_000,
        "y" => 365 * 86_400_000_000_000,
        _ => return None,
    })
}

pub fn bytes_unit(u: &str) -> Option<f64> {
    let l = u.to_ascii_lowercase();
    Some(match l.as_str() {
        "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "pb" => 1e15,
        "kib" | "ki" => 1024.0,
        "mib" | "mi" => 1024f64.powi(2),
        "gib" | "gi" => 1024f64.powi(3),
        "tib" | "ti" => 1024f64.powi(4),
        "pib" | "pi" => 1024f64.powi(5),
        _ => return None,
    })
}

/// Parses a Go-style duration (`1h30m`, `1.5s`, `-2m`) into nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = duration_unit_ns(&rest[..u])?;
        rest = &rest[u..];
        total += num * unit as f64;
    }
    let v = total as i64;
    Some(if neg { -v } else { v })
}

/// Parses a humanized byte size (`10MB`, `1.5KiB`, `42`) into bytes.
pub fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.trim();
    let n = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let num: f64 = s[..n].parse().ok()?;
    let unit = s[n..].trim();
    if unit.is_empty() {
        return Some(num);
    }
    Some(num * bytes_unit(unit)?)
}

pub fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        if c == b'"' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(ch) = src[i..].chars().next() else {
                    return Err(error_at(src, start, "syntax error: unterminated string"));
                };
                i += ch.len_utf8();
                match ch {
                    '"' => break,
                    '\\' => {
                        let Some(e) = src[i..].chars().next() else {
                            return Err(error_at(src, start, "syntax error: unterminated string"));
                        };
                        i += e.len_utf8();
                        match e {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            '\\' => s.push('\\'),
                            '"' => s.push('"'),
                            '\'' => s.push('\''),
                            'a' => s.push('\x07'),
                            'b' => s.push('\x08'),
                            'f' => s.push('\x0c'),
                            'v' => s.push('\x0b'),
                            'x' | 'u' | 'U' => {
                                let n = match e {
                                    'x' => 2,
                                    'u' => 4,
                                    _ => 8,
                                };
                                let hex = src.get(i..i + n).ok_or_else(|| {
                                    error_at(src, i, "syntax error: invalid escape")
                                })?;
                                let v = u32::from_str_radix(hex, 16).map_err(|_| {
                                    error_at(src, i, "syntax error: invalid escape")
                                })?;
                                s.push(char::from_u32(v).ok_or_else(|| {
                                    error_at(src, i, "syntax error: invalid escape")
                                })?);
                                i += n;
                            }
                            other => {
                                return Err(error_at(
                                    src,
                                    i - 1,
                                    format!("syntax error: invalid escape sequence \\{other}"),
                                ));
                            }
                        }
                    }
                    _ => s.push(ch),
                }
            }
            out.push(Token {
                tok: Tok::Str(s),
                pos: start,
            });
            continue;
        }
        if c == b'`' {
            let Some(end) = src[i + 1..].find('`') else {
                return Err(error_at(
                    src,
                    start,
                    "syntax error: unterminated raw string",
                ));
            };
            out.push(Token {
                tok: Tok::Str(src[i + 1..i + 1 + end].to_string()),
                pos: start,
            });
            i += end + 2;
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            // number, duration or bytes
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || b[i] == b'_'
                    || src[i..].starts_with('µ'))
            {
                if src[i..].starts_with('µ') {
                    i += 'µ'.len_utf8();
                } else if (b[i] == b'e' || b[i] == b'E')
                    && b.get(i + 1).is_some_and(|d| *d == b'+' || *d == b'-')
                    && b[start..i].iter().all(|d| d.is_ascii_digit() || *d == b'.')
                {
                    i += 2;
                } else {
                    i += 1;
                }
            }
            let text = &src[start..i];
            let tok = if let Ok(n) = text.parse::<f64>() {
                Tok::Num(n)
            } else if let Some(stripped) = text.strip_prefix("0x") {
                Tok::Num(i64::from_str_radix(stripped, 16).map_err(|_| {
                    error_at(src, start, format!("syntax error: invalid number {text:?}"))
                })? as f64)
            } else if let Some(d) = parse_duration(text) {
                Tok::Dur(d)
            } else if let Some(v) = parse_bytes(text) {
                Tok::Bytes(v as u64)
            } else {
                return Err(error_at(
                    src,
                    start,
                    format!("syntax error: invalid number, duration or byte size {text:?}"),
                ));
            };
            out.push(Token { tok, pos: start });
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.' || b[i] == b':')
            {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(src[start..i].to_string()),
                pos: start,
            });
            continue;
        }
        let rest = &src[i..];
        let Some(op) = OPS.iter().find(|o| rest.starts_with(**o)) else {
            let ch = rest.chars().next().unwrap_or('?');
            return Err(error_at(
                src,
                start,
                format!("syntax error: unexpected character {ch:?}"),
            ));
        };
        // `--strict` / `--keep-empty` flags of logfmt are lexed as identifiers.
        if *op == "-" && rest.starts_with("--") {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-' || b[j] == b'_') {
                j += 1;
            }
            out.push(Token {
                tok: Tok::Ident(src[i..j].to_string()),
                pos: start,
            });
            i = j;
            continue;
        }
        i += op.len();
        out.push(Token {
            tok: Tok::Op(op),
            pos: start,
        });
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: src.len(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes() {
        let t: Vec<Tok> = lex(r#"{a="b\"c"} |= `x\y` [1h30m] > 10MB 1.5"#)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect();
        assert_eq!(t[0], Tok::Op("{"));
        assert_eq!(t[3], Tok::Str("b\"c".into()));
        assert_eq!(t[6], Tok::Str("x\\y".into()));
        assert_eq!(t[8], Tok::Dur(5_400_000_000_000));
        assert_eq!(t[11], Tok::Bytes(10_000_000));
        assert_eq!(t[12], Tok::Num(1.5));
    }

    #[test]
    fn positions() {
        let e = lex("{a=\"b\"}\n  @").unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_bytes("1KiB"), Some(1024.0));
    }
}

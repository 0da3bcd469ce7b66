//! Go text/template's builtin functions that evaluate already-computed arguments: `not`, `len`,
//! `index`, `slice`, `eq`/`ne`/`lt`/`le`/`gt`/`ge`, `print`/`printf`/`println`, `html`, `js`,
//! `urlquery`. (`and`/`or` short-circuit and live in the executor.)

use std::cmp::Ordering;

use crate::fmt::{sprint, sprintf, sprintln};
use crate::Value;

/// True for Go's builtin function names.
pub fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "and"
            | "or"
            | "not"
            | "len"
            | "index"
            | "slice"
            | "eq"
            | "ne"
            | "lt"
            | "le"
            | "gt"
            | "ge"
            | "print"
            | "printf"
            | "println"
            | "html"
            | "js"
            | "urlquery"
    )
}

/// Call builtin `name` (not `and`/`or`); `None` when it is not a builtin.
pub(crate) fn call_builtin(name: &str, args: &[Value]) -> Option<Result<Value, String>> {
    Some(match name {
        "not" => {
            if args.len() != 1 {
                Err(format!(
                    "wrong number of args for not: want 1 got {}",
                    args.len()
                ))
            } else {
                Ok(Value::Bool(!args[0].truthy()))
            }
        }
        "len" => builtin_len(args),
        "index" => builtin_index(args),
        "slice" => builtin_slice(args),
        "eq" => builtin_eq(args),
        "ne" => {
            if args.len() != 2 {
                Err(format!(
                    "wrong number of args for ne: want 2 got {}",
                    args.len()
                ))
            } else {
                builtin_eq(args).map(|v| Value::Bool(!v.truthy()))
            }
        }
        "lt" | "le" | "gt" | "ge" => {
            if args.len() != 2 {
                Err(format!(
                    "wrong number of args for {name}: want 2 got {}",
                    args.len()
                ))
            } else {
                compare(&args[0], &args[1]).map(|o| {
                    Value::Bool(match name {
                        "lt" => o == Ordering::Less,
                        "le" => o != Ordering::Greater,
                        "gt" => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    })
                })
            }
        }
        "print" => Ok(Value::str(sprint(args))),
        "println" => Ok(Value::str(sprintln(args))),
        "printf" => match args.split_first() {
            Some((Value::Str(f), rest)) => Ok(Value::str(sprintf(f, rest))),
            Some((other, _)) => Err(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
            None => Err("wrong number of args for printf: want at least 1 got 0".into()),
        },
        "html" => Ok(Value::str(html_escape(&eval_args(args)))),
        "js" => Ok(Value::str(js_escape(&eval_args(args)))),
        "urlquery" => Ok(Value::str(query_escape(&eval_args(args)))),
        _ => return None,
    })
}

/// Go's `evalArgs`: a single string argument as is, otherwise `fmt.Sprint`.
fn eval_args(args: &[Value]) -> String {
    if let [Value::Str(s)] = args {
        return s.to_string();
    }
    sprint(args)
}

fn builtin_len(args: &[Value]) -> Result<Value, String> {
    if args.len() != 1 {
        return Err(format!(
            "wrong number of args for len: want 1 got {}",
            args.len()
        ));
    }
    let n = match &args[0] {
        Value::Str(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.entries.len(),
        v => {
            if let Some(l) = v.as_list() {
                l.len()
            } else if let Some(m) = v.as_map() {
                m.len()
            } else {
                return Err(format!("error calling len: len of type {}", v.type_name()));
            }
        }
    };
    Ok(Value::Int(n as i64))
}

fn index_int(v: &Value) -> Result<i64, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Nil => Err("cannot index slice/array with nil".into()),
        other => Err(format!(
            "cannot index slice/array with type {}",
            other.type_name()
        )),
    }
}

fn builtin_index(args: &[Value]) -> Result<Value, String> {
    let Some((first, idx)) = args.split_first() else {
        return Err("wrong number of args for index: want at least 1 got 0".into());
    };
    let mut cur = first.clone();
    for i in idx {
        cur = match &cur {
            Value::Str(s) => {
                let k = index_int(i).map_err(|e| format!("error calling index: {e}"))?;
                let b = s.as_bytes();
                if k < 0 || k as usize >= b.len() {
                    return Err(format!("error calling index: index out of range: {k}"));
                }
                Value::Int(b[k as usize] as i64)
            }
            Value::Map(m) => {
                let Value::Str(k) = i else {
                    return Err(format!(
                        "error calling index: value has type {}; should be string",
                        i.type_name()
                    ));
                };
                match m.entries.get(k.as_ref()) {
                    Some(v) => v.clone(),
                    None if m.string_values => Value::str(""),
                    None => Value::Nil,
                }
            }
            Value::Nil => return Err("error calling index: index of untyped nil".into()),
            other => {
                if let Some(l) = other.as_list() {
                    let k = index_int(i).map_err(|e| format!("error calling index: {e}"))?;
                    if k < 0 || k as usize >= l.len() {
                        return Err(format!("error calling index: index out of range: {k}"));
                    }
                    l[k as usize].clone()
                } else if let Some(m) = other.as_map() {
                    let Value::Str(k) = i else {
                        return Err(format!(
                            "error calling index: value has type {}; should be string",
                            i.type_name()
                        ));
                    };
                    m.get(k.as_ref()).cloned().unwrap_or(Value::Nil)
                } else {
                    return Err(format!(
                        "error calling index: can't index item of type {}",
                        other.type_name()
                    ));
                }
            }
        };
    }
    Ok(cur)
}

fn builtin_slice(args: &[Value]) -> Result<Value, String> {
    let Some((first, idx)) = args.split_first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".into());
    };
    if idx.len() > 3 {
        return Err(format!(
            "error calling slice: too many slice indexes: {}",
            idx.len()
        ));
    }
    let mut ix = Vec::new();
    for i in idx {
        ix.push(index_int(i).map_err(|e| format!("error calling slice: {e}"))?);
    }
    let len = match first {
        Value::Str(s) => s.len() as i64,
        other => match other.as_list() {
            Some(l) => l.len() as i64,
            None => {
                return Err(format!(
                    "error calling slice: can't slice item of type {}",
                    other.type_name()
                ))
            }
        },
    };
    if matches!(first, Value::Str(_)) && ix.len() == 3 {
        return Err("error calling slice: cannot 3-index slice a string".into());
    }
    let lo = ix.first().copied().unwrap_or(0);
    let hi = ix.get(1).copied().unwrap_or(len);
    if lo < 0 || hi < lo || hi > len {
        return Err(format!(
            "error calling slice: index out of range: {}",
            if lo < 0 || lo > len { lo } else { hi }
        ));
    }
    Ok(match first {
        Value::Str(s) => match s.get(lo as usize..hi as usize) {
            Some(sub) => Value::str(sub),
            None => Value::str(String::from_utf8_lossy(
                &s.as_bytes()[lo as usize..hi as usize],
            )),
        },
        other => {
            let l = other.as_list().unwrap_or_default();
            Value::list(l[lo as usize..hi as usize].to_vec())
        }
    })
}

/// Basic kinds for comparison, as Go's template `eq` sees them.
fn basic_eq(a: &Value, b: &Value) -> Result<bool, String> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x == y),
        (Value::Float(x), Value::Float(y)) => Ok(x == y),
        (Value::Str(x), Value::Str(y)) => Ok(x == y),
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        (Value::Nil, Value::Nil) => Ok(true),
        (Value::Nil, _) | (_, Value::Nil) => Ok(false),
        (
            Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Bool(_),
            Value::Int(_) | Value::Float(_) | Value::Str(_) | Value::Bool(_),
        ) => Err("incompatible types for comparison".into()),
        _ => Err("non-comparable types".into()),
    }
}

fn builtin_eq(args: &[Value]) -> Result<Value, String> {
    let Some((first, rest)) = args.split_first() else {
        return Err("missing argument for comparison".into());
    };
    if rest.is_empty() {
        return Err("missing argument for comparison".into());
    }
    for b in rest {
        if basic_eq(first, b).map_err(|e| format!("error calling eq: {e}"))? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn compare(a: &Value, b: &Value) -> Result<Ordering, String> {
    let name = "lt";
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Greater)),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(y)),
        (
            Value::Int(_) | Value::Float(_) | Value::Str(_),
            Value::Int(_) | Value::Float(_) | Value::Str(_),
        ) => Err(format!(
            "error calling {name}: incompatible types for comparison"
        )),
        _ => Err(format!("error calling {name}: invalid type for comparison")),
    }
}

/// Go's `template.HTMLEscapeString`.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{fffd}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if (c as u32) >= 0x80 && c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `strings.Title` (Prometheus' and Alertmanager's `title`): upper-cases the first letter
/// of every word.
pub fn title(s: &str) -> String {
    fn is_separator(c: char) -> bool {
        if c.is_ascii() {
            return !(c.is_ascii_alphanumeric() || c == '_');
        }
        if c.is_alphanumeric() {
            return false;
        }
        c.is_whitespace()
    }
    let mut out = String::with_capacity(s.len());
    let mut prev = ' ';
    for c in s.chars() {
        if is_separator(prev) {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(n: &str, a: &[Value]) -> Result<Value, String> {
        call_builtin(n, a).unwrap()
    }

    #[test]
    fn title_like_go() {
        assert_eq!(
            title("hello wORLD foo_bar it's"),
            "Hello WORLD Foo_bar It'S"
        );
        assert_eq!(title("a-b c.d"), "A-B C.D");
        assert_eq!(title("élan über"), "Élan Über");
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(
            html_escape("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&#34;&amp;&#34;&lt;/a&gt;"
        );
        assert_eq!(
            js_escape("a'b\"c<d>=&\\\n"),
            "a\\'b\\\"c\\u003Cd\\u003E\\u003D\\u0026\\\\\\u000A"
        );
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn comparisons_like_go() {
        let i = Value::Int;
        assert!(call("eq", &[i(1), i(2), i(1)]).unwrap().truthy());
        assert!(!call("eq", &[i(1), i(2)]).unwrap().truthy());
        assert!(call("eq", &[i(1), Value::Float(1.0)]).is_err());
        assert!(call("lt", &[Value::str("a"), Value::str("b")])
            .unwrap()
            .truthy());
        assert!(call("ge", &[Value::Float(2.0), Value::Float(2.0)])
            .unwrap()
            .truthy());
        assert!(call("lt", &[i(1), Value::str("b")]).is_err());
        assert!(call("ne", &[Value::str("a"), Value::str("b")])
            .unwrap()
            .truthy());
    }

    #[test]
    fn index_len_slice() {
        let l = Value::list(vec![Value::Int(10), Value::Int(20), Value::Int(30)]);
        assert_eq!(
            call("len", std::slice::from_ref(&l)).unwrap(),
            Value::Int(3)
        );
        assert_eq!(
            call("index", &[l.clone(), Value::Int(1)]).unwrap(),
            Value::Int(20)
        );
        assert_eq!(
            call("index", &[l.clone(), Value::Int(5)]).unwrap_err(),
            "error calling index: index out of range: 5"
        );
        assert_eq!(
            call("slice", &[l.clone(), Value::Int(1)]).unwrap(),
            Value::list(vec![Value::Int(20), Value::Int(30)])
        );
        assert_eq!(
            call(
                "slice",
                &[Value::str("hello"), Value::Int(1), Value::Int(3)]
            )
            .unwrap(),
            Value::str("el")
        );
        let m = Value::str_map([("a", "1")]);
        assert_eq!(
            call("index", &[m.clone(), Value::str("a")]).unwrap(),
            Value::str("1")
        );
        assert_eq!(
            call("index", &[m, Value::str("zz")]).unwrap(),
            Value::str("")
        );
        assert_eq!(call("len", &[Value::str("héllo")]).unwrap(), Value::Int(6));
        assert!(call("len", &[Value::Int(3)]).is_err());
    }
}

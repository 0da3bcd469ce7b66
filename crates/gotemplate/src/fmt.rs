//! Go's `fmt` as templates see it: `Sprint`, `Sprintln`, `Sprintf` with the verbs `%v %s %d %q
//! %f %F %e %E %g %G %x %X %o %b %c %t %%`, flags `- + # 0 space`, width and precision, and Go's
//! error strings (`%!d(string=x)`, `%!d(MISSING)`, `%!(EXTRA ...)`). Float formatting follows
//! `strconv.FormatFloat` (shortest `%v`, exponent form `1e+06`).

use crate::Value;

/// Split `x` into its decimal digits (no leading zeros) and decimal exponent `dp`
/// (value = 0.DIGITS × 10^dp), shortest round-trip when `sig` is None, else rounded to `sig`
/// significant digits.
fn decimal_digits(x: f64, sig: Option<usize>) -> (String, i32) {
    let s = match sig {
        None => format!("{:e}", x.abs()),
        Some(p) => format!("{:.*e}", p.saturating_sub(1), x.abs()),
    };
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits, exp + 1)
}

fn special(x: f64, plus: bool, space: bool) -> Option<String> {
    if x.is_nan() {
        return Some(if plus {
            "+NaN".into()
        } else if space {
            " NaN".into()
        } else {
            "NaN".into()
        });
    }
    if x.is_infinite() {
        return Some(if x > 0.0 {
            if plus {
                "+Inf".into()
            } else if space {
                " Inf".into()
            } else {
                "+Inf".into()
            }
        } else {
            "-Inf".into()
        });
    }
    None
}

fn exp_form(digits: &str, dp: i32, frac_digits: usize, upper: bool) -> String {
    let mut out = String::new();
    let first = digits.get(0..1).unwrap_or("0");
    out.push_str(first);
    let rest = digits.get(1..).unwrap_or("");
    if frac_digits > 0 {
        out.push('.');
        let mut r = rest.to_string();
        while r.len() < frac_digits {
            r.push('0');
        }
        out.push_str(&r[..frac_digits]);
    }
    let e = if digits.bytes().all(|c| c == b'0') {
        0
    } else {
        dp - 1
    };
    out.push(if upper { 'E' } else { 'e' });
    out.push(if e < 0 { '-' } else { '+' });
    let ea = e.unsigned_abs();
    if ea < 10 {
        out.push('0');
    }
    out.push_str(&ea.to_string());
    out
}

fn fixed_form(digits: &str, dp: i32, frac_digits: usize) -> String {
    let mut out = String::new();
    if dp <= 0 {
        out.push('0');
    } else {
        for i in 0..dp as usize {
            out.push(digits.as_bytes().get(i).map(|b| *b as char).unwrap_or('0'));
        }
    }
    if frac_digits > 0 {
        out.push('.');
        for i in 0..frac_digits {
            let idx = dp + i as i32;
            let c = if idx < 0 {
                '0'
            } else {
                digits
                    .as_bytes()
                    .get(idx as usize)
                    .map(|b| *b as char)
                    .unwrap_or('0')
            };
            out.push(c);
        }
    }
    out
}

/// `strconv.FormatFloat(x, 'g', prec, 64)` (prec < 0 = shortest), without sign handling of
/// specials beyond Go's `NaN`/`+Inf`/`-Inf`.
pub fn format_float_g(x: f64, prec: i32) -> String {
    format_float_g_opts(x, prec, false, false)
}

fn format_float_g_opts(x: f64, prec: i32, upper: bool, sharp: bool) -> String {
    if let Some(s) = special(x, false, false) {
        return s;
    }
    let neg = x.is_sign_negative();
    let prec = if sharp && prec < 0 { 6 } else { prec };
    let shortest = prec < 0;
    let p = if prec == 0 { 1 } else { prec };
    let (mut digits, dp) = if x == 0.0 {
        ("0".to_string(), 1)
    } else if shortest {
        decimal_digits(x, None)
    } else {
        decimal_digits(x, Some(p as usize))
    };
    if !sharp {
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    let nd = digits.len() as i32;
    let mut eprec = if shortest { 6 } else { p };
    if !shortest && eprec > nd && nd >= dp {
        eprec = nd;
    }
    if shortest {
        eprec = 6;
    }
    let exp = dp - 1;
    let body = if exp < -4 || exp >= eprec {
        let fd = if sharp && !shortest { p - 1 } else { nd - 1 };
        exp_form(&digits, dp, fd.max(0) as usize, upper)
    } else {
        let fd = if sharp && !shortest {
            (p - dp).max(0)
        } else {
            (nd - dp).max(0)
        };
        fixed_form(&digits, dp, fd as usize)
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

/// `%e` with precision `prec` (default 6).
fn format_float_e(x: f64, prec: usize, upper: bool) -> String {
    if let Some(s) = special(x, false, false) {
        return s;
    }
    let (digits, dp) = if x == 0.0 {
        ("0".to_string(), 1)
    } else {
        decimal_digits(x, Some(prec + 1))
    };
    let body = exp_form(&digits, dp, prec, upper);
    if x.is_sign_negative() {
        format!("-{body}")
    } else {
        body
    }
}

/// `%f` with precision `prec` (default 6).
fn format_float_f(x: f64, prec: usize) -> String {
    if let Some(s) = special(x, false, false) {
        return s;
    }
    format!("{:.*}", prec, x)
}

/// Go's `%v` of a value as `fmt.Sprint` prints an operand.
pub fn sprint_value(v: &Value) -> String {
    v.to_string()
}

/// `fmt.Sprint`: operands concatenated, with a space between two operands when neither is a string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 && !matches!(a, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        out.push_str(&sprint_value(a));
    }
    out
}

/// `fmt.Sprintln`: operands separated by spaces, newline appended.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = args.iter().map(sprint_value).collect::<Vec<_>>().join(" ");
    out.push('\n');
    out
}

/// Largest width or precision accepted (Go's fmt limit).
const MAX_WIDTH: usize = 1_000_000;

#[derive(Default, Clone, Copy)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

fn pad(s: String, f: &Flags, numeric: bool) -> String {
    let Some(w) = f.width else {
        return s;
    };
    let len = s.chars().count();
    if len >= w {
        return s;
    }
    let fill = w - len;
    if f.minus {
        format!("{s}{}", " ".repeat(fill))
    } else if f.zero && numeric {
        let (sign, rest) = if s.starts_with(['-', '+', ' ']) {
            s.split_at(1)
        } else {
            ("", s.as_str())
        };
        if rest.chars().all(|c| c.is_ascii_alphabetic()) {
            // Inf/NaN are padded with spaces
            return format!("{}{s}", " ".repeat(fill));
        }
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

fn sign(s: String, f: &Flags, neg: bool) -> String {
    if neg {
        s
    } else if f.plus {
        format!("+{s}")
    } else if f.space {
        format!(" {s}")
    } else {
        s
    }
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32))
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn bad_verb(verb: char, v: &Value) -> String {
    match v {
        Value::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", v.type_name(), v),
    }
}

fn fmt_int(i: i64, verb: char, f: &Flags) -> Option<String> {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let mut digits = match verb {
        'd' | 'v' => a.to_string(),
        'x' => format!("{a:x}"),
        'X' => format!("{a:X}"),
        'o' => format!("{a:o}"),
        'O' => format!("0o{a:o}"),
        'b' => format!("{a:b}"),
        'c' => return Some(char::from_u32(i as u32).unwrap_or('\u{fffd}').to_string()),
        'q' => {
            let c = char::from_u32(i as u32).unwrap_or('\u{fffd}');
            return Some(match c {
                '\'' => "'\\''".into(),
                c => {
                    let q = quote(&c.to_string());
                    format!("'{}'", &q[1..q.len() - 1])
                }
            });
        }
        'U' => return Some(format!("U+{a:04X}")),
        _ => return None,
    };
    if let Some(p) = f.prec {
        while digits.len() < p {
            digits.insert(0, '0');
        }
        if p == 0 && a == 0 {
            digits.clear();
        }
    }
    if f.sharp {
        match verb {
            'x' => digits.insert_str(0, "0x"),
            'X' => digits.insert_str(0, "0X"),
            'o' => digits.insert(0, '0'),
            'b' => digits.insert_str(0, "0b"),
            _ => {}
        }
    }
    if neg {
        digits.insert(0, '-');
    }
    Some(sign(digits, f, neg))
}

fn fmt_float(x: f64, verb: char, f: &Flags) -> Option<String> {
    let s = match verb {
        'v' | 'g' => format_float_g_opts(x, f.prec.map(|p| p as i32).unwrap_or(-1), false, f.sharp),
        'G' => format_float_g_opts(x, f.prec.map(|p| p as i32).unwrap_or(-1), true, f.sharp),
        'e' | 'E' => format_float_e(x, f.prec.unwrap_or(6), verb == 'E'),
        'f' | 'F' => format_float_f(x, f.prec.unwrap_or(6)),
        _ => return None,
    };
    if x.is_nan() || x.is_infinite() {
        return Some(special(x, f.plus, f.space).unwrap_or(s));
    }
    let neg = s.starts_with('-');
    Some(sign(s, f, neg))
}

fn fmt_str(s: &str, verb: char, f: &Flags) -> Option<String> {
    let s = match f.prec {
        Some(p) if matches!(verb, 's' | 'v' | 'q') => s.chars().take(p).collect::<String>(),
        _ => s.to_string(),
    };
    Some(match verb {
        's' | 'v' => s,
        'q' => {
            if f.sharp && !s.contains('`') {
                format!("`{s}`")
            } else {
                quote(&s)
            }
        }
        'x' => s.bytes().map(|b| format!("{b:02x}")).collect(),
        'X' => s.bytes().map(|b| format!("{b:02X}")).collect(),
        _ => return None,
    })
}

fn fmt_one(v: &Value, verb: char, f: &Flags) -> String {
    let (s, numeric) = match (v, verb) {
        (Value::Int(i), _) => (fmt_int(*i, verb, f), true),
        (Value::Float(x), _) => (fmt_float(*x, verb, f), true),
        (Value::Str(s), _) => (fmt_str(s, verb, f), false),
        (Value::Bool(b), 'v' | 't') => (Some(b.to_string()), false),
        (Value::Nil, 'v') => (Some("<nil>".into()), false),
        (Value::List(l), _) if verb != 'T' => {
            let items: Vec<String> = l
                .iter()
                .map(|e| fmt_one(e, verb, &Flags::default()))
                .collect();
            (Some(format!("[{}]", items.join(" "))), false)
        }
        (_, 'v' | 's') if !matches!(v, Value::Nil | Value::Bool(_)) => (Some(v.to_string()), false),
        (_, 'T') => (Some(v.type_name().to_string()), false),
        _ => (None, false),
    };
    match s {
        Some(s) => pad(s, f, numeric),
        None => bad_verb(verb, v),
    }
}

/// `fmt.Sprintf(format, args...)` with Go's verbs and error strings.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    let mut argi = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut f = Flags::default();
        loop {
            match chars.peek() {
                Some('-') => f.minus = true,
                Some('+') => f.plus = true,
                Some('#') => f.sharp = true,
                Some('0') => f.zero = true,
                Some(' ') => f.space = true,
                _ => break,
            }
            chars.next();
        }
        // width
        if chars.peek() == Some(&'*') {
            chars.next();
            if let Some(Value::Int(w)) = args.get(argi) {
                if *w < 0 {
                    f.minus = true;
                }
                if w.unsigned_abs() as usize > MAX_WIDTH {
                    out.push_str("%!(BADWIDTH)");
                } else {
                    f.width = Some(w.unsigned_abs() as usize);
                }
            } else {
                out.push_str("%!(BADWIDTH)");
            }
            argi += 1;
        } else {
            let mut w = String::new();
            while let Some(d) = chars.peek().filter(|c| c.is_ascii_digit()) {
                w.push(*d);
                chars.next();
            }
            if !w.is_empty() {
                // Go rejects widths and precisions above 1e6 (`%!(BADWIDTH)`).
                match w.parse::<usize>() {
                    Ok(n) if n <= MAX_WIDTH => f.width = Some(n),
                    _ => out.push_str("%!(BADWIDTH)"),
                }
            }
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            if chars.peek() == Some(&'*') {
                chars.next();
                if let Some(Value::Int(p)) = args
                    .get(argi)
                    .filter(|p| matches!(p, Value::Int(n) if *n <= MAX_WIDTH as i64))
                {
                    f.prec = Some((*p).max(0) as usize);
                } else {
                    out.push_str("%!(BADPREC)");
                }
                argi += 1;
            } else {
                let mut p = String::new();
                while let Some(d) = chars.peek().filter(|c| c.is_ascii_digit()) {
                    p.push(*d);
                    chars.next();
                }
                match p.parse::<usize>() {
                    Ok(n) if n <= MAX_WIDTH => f.prec = Some(n),
                    Err(_) if p.is_empty() => f.prec = Some(0),
                    _ => out.push_str("%!(BADPREC)"),
                }
            }
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        out.push_str(&fmt_one(arg, verb, &f));
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        let extra: Vec<String> = args[argi..]
            .iter()
            .map(|a| match a {
                Value::Nil => "<nil>".to_string(),
                _ => format!("{}={}", a.type_name(), a),
            })
            .collect();
        out.push_str(&extra.join(", "));
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> Value {
        Value::Float(x)
    }

    // Expected strings are what Go 1.22's fmt prints for the same calls.
    #[test]
    fn floats_like_go() {
        let cases: &[(&str, f64, &str)] = &[
            ("%v", 1.0, "1"),
            ("%v", 0.1, "0.1"),
            ("%v", 1e6, "1e+06"),
            ("%v", 123456.0, "123456"),
            ("%v", 1234567.0, "1.234567e+06"),
            ("%v", 0.0001, "0.0001"),
            ("%v", 0.00001, "1e-05"),
            ("%v", -2.5, "-2.5"),
            ("%v", 1e21, "1e+21"),
            ("%v", 100000.0, "100000"),
            ("%.4g", 7.32, "7.32"),
            ("%.4g", 12.345678, "12.35"),
            ("%.4g", 123456.0, "1.235e+05"),
            ("%.4g", 1234.0, "1234"),
            ("%.4g", 0.0001234, "0.0001234"),
            ("%.4g", 0.00001234, "1.234e-05"),
            ("%.4g", 100.0, "100"),
            ("%.4g", 0.0, "0"),
            ("%.3g", 1.0, "1"),
            ("%g", 1e-7, "1e-07"),
            ("%.2f", 3.14219, "3.14"),
            ("%.0f", 2.5, "2"),
            ("%f", 1.0, "1.000000"),
            ("%e", 1234.5678, "1.234568e+03"),
            ("%.2e", 0.0, "0.00e+00"),
            ("%8.3f", 3.14219, "   3.142"),
            ("%-8.3f|", 3.14219, "3.142   |"),
            ("%08.3f", -3.14219, "-003.142"),
            ("%+.1f", 2.0, "+2.0"),
            ("%v", f64::NAN, "NaN"),
            ("%v", f64::INFINITY, "+Inf"),
            ("%v", f64::NEG_INFINITY, "-Inf"),
            ("%.4g", f64::INFINITY, "+Inf"),
            ("%5.1f", f64::NAN, "  NaN"),
            ("%G", 1e-10, "1E-10"),
            ("%#g", 1.0, "1.00000"),
        ];
        for (fmtstr, x, want) in cases {
            assert_eq!(sprintf(fmtstr, &[f(*x)]), *want, "{fmtstr} {x}");
        }
    }

    #[test]
    fn ints_strings_and_errors_like_go() {
        let s = Value::str;
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%d", vec![Value::Int(42)], "42"),
            (
                "%5d|%-5d|%05d",
                vec![Value::Int(42), Value::Int(42), Value::Int(-42)],
                "   42|42   |-0042",
            ),
            (
                "%x %X %#x %o %b",
                vec![
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5),
                ],
                "ff FF 0xff 10 101",
            ),
            ("%+d", vec![Value::Int(3)], "+3"),
            ("%c", vec![Value::Int(65)], "A"),
            ("%q", vec![s("a\"b\n")], "\"a\\\"b\\n\""),
            (
                "%s|%10s|%-4s|",
                vec![s("x"), s("right"), s("l")],
                "x|     right|l   |",
            ),
            ("%.2s", vec![s("abc")], "ab"),
            ("%x", vec![s("hi")], "6869"),
            (
                "%v %t",
                vec![Value::Bool(true), Value::Bool(false)],
                "true false",
            ),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%s", vec![Value::Int(5)], "%!s(int=5)"),
            ("%d", vec![Value::Float(1.5)], "%!d(float64=1.5)"),
            ("%d %d", vec![Value::Int(1)], "1 %!d(MISSING)"),
            ("%d", vec![Value::Int(1), s("x")], "1%!(EXTRA string=x)"),
            ("100%%", vec![], "100%"),
            ("%v", vec![Value::Nil], "<nil>"),
            ("%s", vec![Value::Nil], "%!s(<nil>)"),
            (
                "%v",
                vec![Value::list(vec![Value::Int(1), s("a")])],
                "[1 a]",
            ),
            ("%*d", vec![Value::Int(4), Value::Int(7)], "   7"),
            ("%", vec![], "%!(NOVERB)"),
            ("%99999999d", vec![Value::Int(1)], "%!(BADWIDTH)1"),
        ];
        for (fmtstr, args, want) in cases {
            assert_eq!(sprintf(fmtstr, &args), want, "{fmtstr}");
        }
    }

    #[test]
    fn sprint_spacing_like_go() {
        let s = Value::str;
        assert_eq!(sprint(&[s("a"), s("b")]), "ab");
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(
            sprint(&[s("a"), Value::Int(1), Value::Int(2), s("b")]),
            "a1 2b"
        );
        assert_eq!(sprintln(&[s("a"), Value::Int(1)]), "a 1\n");
    }
}

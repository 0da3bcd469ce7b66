//! Label-manipulating functions: label_replace, label_join, sort_by_label, sort_by_label_desc.

use super::{arg_string, arg_vector, vector_out, FnCall, FnOutput};
use crate::InstantSample;
use regex::Regex;

fn valid_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(super) fn call(name: &str, c: &mut FnCall<'_>) -> Result<Option<FnOutput>, String> {
    let out = match name {
        "label_replace" => {
            let v = arg_vector(&mut c.args, 0)?;
            let dst = arg_string(&c.args, 1)?;
            let repl = arg_string(&c.args, 2)?;
            let src = arg_string(&c.args, 3)?;
            let pattern = arg_string(&c.args, 4)?;
            let re = Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
                format!("invalid regular expression in label_replace(): {pattern}: {e}")
            })?;
            if !valid_label_name(&dst) {
                return Err(format!(
                    "invalid destination label name in label_replace(): {dst}"
                ));
            }
            let mut out = Vec::with_capacity(v.len());
            for s in v {
                let value = s.labels.get(&src).unwrap_or("");
                let labels = match re.captures(value) {
                    Some(caps) => {
                        let mut res = String::new();
                        caps.expand(&repl, &mut res);
                        let mut b = s.labels.builder();
                        b.set(dst.clone(), res);
                        b.build()
                    }
                    None => s.labels,
                };
                out.push(InstantSample {
                    h: s.h,
                    labels,
                    t: s.t,
                    v: s.v,
                });
            }
            vector_out(out)
        }
        "label_join" => {
            let v = arg_vector(&mut c.args, 0)?;
            let dst = arg_string(&c.args, 1)?;
            let sep = arg_string(&c.args, 2)?;
            let mut srcs = Vec::new();
            for i in 3..c.args.len() {
                let s = arg_string(&c.args, i)?;
                if !valid_label_name(&s) {
                    return Err(format!("invalid source label name in label_join(): {s}"));
                }
                srcs.push(s);
            }
            if !valid_label_name(&dst) {
                return Err(format!(
                    "invalid destination label name in label_join(): {dst}"
                ));
            }
            let out = v
                .into_iter()
                .map(|s| {
                    let joined = srcs
                        .iter()
                        .map(|n| s.labels.get(n).unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join(&sep);
                    let mut b = s.labels.builder();
                    b.set(dst.clone(), joined);
                    InstantSample {
                        h: s.h,
                        labels: b.build(),
                        t: s.t,
                        v: s.v,
                    }
                })
                .collect();
            vector_out(out)
        }
        "sort_by_label" | "sort_by_label_desc" => {
            let mut v = arg_vector(&mut c.args, 0)?;
            let mut names = Vec::new();
            for i in 1..c.args.len() {
                names.push(arg_string(&c.args, i)?);
            }
            let desc = name == "sort_by_label_desc";
            v.sort_by(|a, b| {
                for n in &names {
                    let o =
                        natural_cmp(a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                    if o != std::cmp::Ordering::Equal {
                        return if desc { o.reverse() } else { o };
                    }
                }
                let o = a.labels.cmp(&b.labels);
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
            vector_out(v)
        }
        _ => return Ok(None),
    };
    Ok(Some(out))
}

/// Natural ordering: digit runs compare by numeric value ("a2" < "a10").
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut ai, mut bi) = (a.char_indices().peekable(), b.char_indices().peekable());
    loop {
        match (ai.peek().copied(), bi.peek().copied()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some((_, ca)), Some((_, cb))) if ca.is_ascii_digit() && cb.is_ascii_digit() => {
                let mut na = String::new();
                while let Some((_, c)) = ai.peek().copied().filter(|(_, c)| c.is_ascii_digit()) {
                    na.push(c);
                    ai.next();
                }
                let mut nb = String::new();
                while let Some((_, c)) = bi.peek().copied().filter(|(_, c)| c.is_ascii_digit()) {
                    nb.push(c);
                    bi.next();
                }
                let ta = na.trim_start_matches('0');
                let tb = nb.trim_start_matches('0');
                let o = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            (Some((_, ca)), Some((_, cb))) => {
                if ca != cb {
                    return ca.cmp(&cb);
                }
                ai.next();
                bi.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("a2", "a10"), std::cmp::Ordering::Less);
        assert_eq!(natural_cmp("b", "a10"), std::cmp::Ordering::Greater);
        assert_eq!(natural_cmp("x", "x"), std::cmp::Ordering::Equal);
    }
}

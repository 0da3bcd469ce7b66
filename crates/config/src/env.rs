//! `${VAR}` expansion from the environment, applied to config text before parsing. Only
//! `${NAME}` with NAME = `[A-Za-z_][A-Za-z0-9_]*` is expanded, so relabeling's `$1`, `${1}` and
//! `${name}`-style group references with digits stay; `$$` stays as written. A referenced
//! variable that is not set is an error naming it and its line — except on relabel
//! `replacement:` / `target_label:` lines, where `${name}` is kept as a named capture group.

use crate::ConfigError;
use std::path::Path;

/// Expands environment references in `text` (read from `file`).
pub fn expand(file: &Path, text: &str) -> Result<String, ConfigError> {
    expand_with(file, text, |name| std::env::var(name).ok())
}

/// Expansion with a custom lookup (for tests).
pub fn expand_with(
    file: &Path,
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    for (line_idx, line) in text.split_inclusive('\n').enumerate() {
        // Comments are copied as they are.
        let mut rest = line;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos..];
            if let Some(escaped) = after.strip_prefix("$$") {
                out.push_str("$$");
                rest = escaped;
                continue;
            }
            if let Some(body) = after.strip_prefix("${") {
                if let Some(end) = body.find('}') {
                    let name = &body[..end];
                    let valid = name
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if valid && !is_comment_position(line, pos + (line.len() - rest.len())) {
                        match lookup(name) {
                            Some(v) => out.push_str(&v),
                            // `${name}` in a relabel replacement is a named capture group.
                            None if is_relabel_template_line(line) => {
                                out.push_str(&after[..end + 3]);
                            }
                            None => {
                                return Err(ConfigError::at(
                                    file,
                                    line_idx + 1,
                                    line.len() - rest.len() + pos + 1,
                                    format!(
                                        "environment variable {name:?} is referenced but not set"
                                    ),
                                ))
                            }
                        }
                        rest = &body[end + 1..];
                        continue;
                    }
                }
            }
            out.push('$');
            rest = &after[1..];
        }
        out.push_str(rest);
    }
    Ok(out)
}

/// True when `line` sets a relabel `replacement` or `target_label`, whose `${name}` references
/// are regex capture groups unless such an environment variable exists.
fn is_relabel_template_line(line: &str) -> bool {
    let key = line.trim_start().trim_start_matches("- ").trim_start();
    key.starts_with("replacement:") || key.starts_with("target_label:")
}

/// True when byte offset `pos` of `line` is inside a `#` comment (outside quotes).
fn is_comment_position(line: &str, pos: usize) -> bool {
    let mut in_single = false;
    let mut in_double = false;
    for (i, c) in line.char_indices() {
        if i >= pos {
            return false;
        }
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '#' if !in_single && !in_double => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        (name == "HOOK").then(|| "https://hooks.example/x".to_string())
    }

    #[test]
    fn expands_names_only() {
        let p = Path::new("t.yml");
        let s = expand_with(
            p,
            "url: '${HOOK}'\nrepl: '${1}$1$$'\n# ${MISSING}\n",
            lookup,
        )
        .unwrap();
        assert_eq!(
            s,
            "url: 'https://hooks.example/x'\nrepl: '${1}$1$$'\n# ${MISSING}\n"
        );
    }

    #[test]
    fn named_groups_in_relabel_templates_stay() {
        let text = "  - replacement: '${host}:${HOOK}'\n    target_label: ${zone}\n";
        let s = expand_with(Path::new("t.yml"), text, lookup).unwrap();
        assert_eq!(
            s,
            "  - replacement: '${host}:https://hooks.example/x'\n    target_label: ${zone}\n"
        );
    }

    #[test]
    fn missing_variable_names_it() {
        let e = expand_with(Path::new("t.yml"), "a: 1\nkey: ${NOPE}\n", lookup).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("NOPE"));
    }
}

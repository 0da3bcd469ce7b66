//! Routing: which routes of the tree an alert's labels reach, with Alertmanager's semantics
//! (depth first; the first matching child wins unless it has `continue: true`; a node whose
//! children all miss matches itself), and the text output of `amtool config routes test`.

use crate::config::Route;
use std::collections::BTreeMap;
use std::fmt::Write as _;

fn matches(r: &Route, labels: &BTreeMap<String, String>) -> bool {
    r.matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).map(String::as_str).unwrap_or("")))
}

/// The routes (leaves of the walk) that `labels` reach, in order.
pub fn match_routes<'a>(root: &'a Route, labels: &BTreeMap<String, String>) -> Vec<&'a Route> {
    let mut out = Vec::new();
    walk(root, labels, &mut out);
    out
}

fn walk<'a>(r: &'a Route, labels: &BTreeMap<String, String>, out: &mut Vec<&'a Route>) -> bool {
    if !matches(r, labels) {
        return false;
    }
    let before = out.len();
    for child in &r.routes {
        let start = out.len();
        let hit = walk(child, labels, out);
        if hit && out.len() > start && !child.continue_ {
            break;
        }
    }
    if out.len() == before {
        out.push(r);
    }
    true
}

/// `amtool config routes test` output: receiver names joined by commas.
pub fn receivers_line(root: &Route, labels: &BTreeMap<String, String>) -> String {
    match_routes(root, labels)
        .iter()
        .map(|r| r.receiver.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The routing tree as `amtool config routes show` prints it.
pub fn tree(root: &Route) -> String {
    let mut out = String::from("Routing tree:\n");
    print_node(root, "", true, true, &mut out);
    out
}

fn describe(r: &Route) -> String {
    let mut s = String::new();
    if !r.matchers.is_empty() {
        let _ = write!(s, "{} ", crate::matchers::format_matchers(&r.matchers));
    }
    let _ = write!(s, " receiver: {}", r.receiver);
    if r.continue_ {
        s.push_str("  continue: true");
    }
    s.trim_start().to_string()
}

fn print_node(r: &Route, prefix: &str, last: bool, root: bool, out: &mut String) {
    if root {
        let _ = writeln!(out, "└── default-route  receiver: {}", r.receiver);
    } else {
        let _ = writeln!(
            out,
            "{prefix}{}{}",
            if last { "└── " } else { "├── " },
            describe(r)
        );
    }
    let child_prefix = if root {
        "    ".to_string()
    } else {
        format!("{prefix}{}", if last { "    " } else { "│   " })
    };
    for (i, c) in r.routes.iter().enumerate() {
        print_node(c, &child_prefix, i + 1 == r.routes.len(), false, out);
    }
}

/// Parses `name=value` command-line arguments (as amtool does) into a label set.
pub fn parse_label_args(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for a in args {
        for m in crate::matchers::parse_matchers(a)? {
            if m.op != model::MatchOp::Equal {
                return Err(format!(
                    "{a}: only equality (label=value) is allowed to describe an alert"
                ));
            }
            out.insert(m.name, m.value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn cfg(text: &str) -> crate::config::AlertmanagerConfig {
        crate::config::parse(Path::new("t.yml"), text).unwrap()
    }

    fn l(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    const SEED_TREE: &str = "route:\n  group_by: ['alertname', 'cluster', 'service']\n  receiver: 'default'\n  routes:\n    - match:\n        severity: critical\n      receiver: pagerduty\n      continue: true\n    - match:\n        severity: warning\n      receiver: slack\nreceivers:\n- name: default\n- name: pagerduty\n- name: slack\n";

    #[test]
    fn seed_routing() {
        let c = cfg(SEED_TREE);
        assert_eq!(
            receivers_line(&c.route, &l(&[("severity", "critical")])),
            "pagerduty"
        );
        assert_eq!(
            receivers_line(&c.route, &l(&[("severity", "warning")])),
            "slack"
        );
        assert_eq!(receivers_line(&c.route, &l(&[])), "default");
        assert_eq!(
            receivers_line(&c.route, &l(&[("severity", "info")])),
            "default"
        );
    }

    #[test]
    fn continue_reaches_siblings() {
        let c = cfg("route:\n  receiver: r\n  routes:\n  - matchers: [team=~\"a|b\"]\n    receiver: x\n    continue: true\n  - matchers: [team=\"a\"]\n    receiver: y\n    routes:\n    - matchers: [env!=\"prod\"]\n      receiver: z\n  - matchers: [team=\"a\"]\n    receiver: never\nreceivers:\n- name: r\n- name: x\n- name: y\n- name: z\n- name: never\n");
        assert_eq!(receivers_line(&c.route, &l(&[("team", "a")])), "x,z");
        assert_eq!(
            receivers_line(&c.route, &l(&[("team", "a"), ("env", "prod")])),
            "x,y"
        );
        assert_eq!(receivers_line(&c.route, &l(&[("team", "b")])), "x");
        assert_eq!(receivers_line(&c.route, &l(&[("team", "c")])), "r");
        assert!(tree(&c.route).contains("receiver: z"));
    }

    #[test]
    fn label_args() {
        let a = parse_label_args(&["severity=critical".into(), "{a=\"b c\"}".into()]).unwrap();
        assert_eq!(a.get("a").unwrap(), "b c");
        assert!(parse_label_args(&["a=~b".into()]).is_err());
    }
}

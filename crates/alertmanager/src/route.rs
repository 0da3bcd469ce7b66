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
    let mut out = String::from("Routing tree:\n.\n");
    print_node(root, "", true, true, None, &mut out);
    out.push('\n');
    out
}

/// The routes `labels` reach and their ancestors, as `amtool config routes test --tree` prints.
pub fn matching_tree(root: &Route, labels: &BTreeMap<String, String>) -> String {
    let keys: Vec<String> = match_routes(root, labels)
        .iter()
        .map(|r| r.key.clone())
        .collect();
    let mut out = String::from("Matching routes:\n.\n");
    print_node(root, "", true, true, Some(&keys), &mut out);
    out.push('\n');
    out
}

fn on_path(r: &Route, keys: Option<&[String]>) -> bool {
    keys.is_none_or(|ks| {
        ks.iter()
            .any(|k| k == &r.key || k.starts_with(&format!("{}/", r.key)))
    })
}

fn describe(r: &Route, with_receiver: bool, full: bool) -> String {
    let mut s = crate::matchers::format_matchers(&r.matchers).replace(", ", ",");
    if r.continue_ && full {
        s.push_str("  continue: true");
    }
    if with_receiver {
        let _ = write!(s, "  receiver: {}", r.receiver);
    }
    s
}

fn print_node(
    r: &Route,
    prefix: &str,
    last: bool,
    root: bool,
    keys: Option<&[String]>,
    out: &mut String,
) {
    // amtool shows receivers in the full tree, and only on the matched leaves in test output.
    let leaf = keys.is_some_and(|ks| ks.contains(&r.key));
    let with_receiver = keys.is_none() || leaf;
    if root {
        let _ = write!(out, "└── default-route");
        if with_receiver {
            let _ = write!(out, "  receiver: {}", r.receiver);
        }
        out.push('\n');
    } else {
        let _ = writeln!(
            out,
            "{prefix}{}{}",
            if last { "└── " } else { "├── " },
            describe(r, with_receiver, keys.is_none())
        );
    }
    let child_prefix = format!("{prefix}{}", if last { "    " } else { "│   " });
    let children: Vec<&Route> = r.routes.iter().filter(|c| on_path(c, keys)).collect();
    for (i, c) in children.iter().enumerate() {
        print_node(c, &child_prefix, i + 1 == children.len(), false, keys, out);
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

    const GUIDE_TREE: &str = "route:\n  group_by: ['alertname', 'cluster', 'service']\n  receiver: 'default'\n  routes:\n    - match:\n        severity: critical\n      receiver: pagerduty\n      continue: true\n    - match:\n        severity: warning\n      receiver: slack\nreceivers:\n- name: default\n- name: pagerduty\n- name: slack\n";

    #[test]
    fn guide_tree_like_amtool() {
        let c = cfg(GUIDE_TREE);
        assert_eq!(
            tree(&c.route),
            "Routing tree:\n.\n└── default-route  receiver: default\n    ├── {severity=\"critical\"}  continue: true  receiver: pagerduty\n    └── {severity=\"warning\"}  receiver: slack\n\n"
        );
        assert_eq!(
            matching_tree(&c.route, &l(&[("severity", "critical")])),
            "Matching routes:\n.\n└── default-route\n    └── {severity=\"critical\"}  receiver: pagerduty\n\n"
        );
    }

    #[test]
    fn guide_routing() {
        let c = cfg(GUIDE_TREE);
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
        let m = matching_tree(&c.route, &l(&[("team", "a")]));
        assert!(m.contains("{team=~\"a|b\"}  receiver: x"), "{m}");
        assert!(!m.contains("never"), "{m}");
    }

    #[test]
    fn label_args() {
        let a = parse_label_args(&["severity=critical".into(), "{a=\"b c\"}".into()]).unwrap();
        assert_eq!(a.get("a").unwrap(), "b c");
        assert!(parse_label_args(&["a=~b".into()]).is_err());
    }
}

//! Inverted label index: label name → value → sorted series ids, and matcher evaluation over it
//! (`=` intersects postings; regex and negative matchers walk the label's values; a matcher that
//! accepts the empty string also selects series without the label, as in Prometheus).

use model::{LabelMatcher, MatchOp};
use std::collections::{BTreeMap, HashMap};

/// Postings of one store (head or block).
#[derive(Default, Debug)]
pub struct Postings {
    by_label: HashMap<String, BTreeMap<String, Vec<u32>>>,
    count: u32,
}

impl Postings {
    /// Registers series `id` (ids must be added in increasing order).
    pub fn add(&mut self, id: u32, labels: &model::Labels) {
        self.add_pairs(
            id,
            labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
        );
    }

    /// Like `add`, from (name, value) pairs.
    pub fn add_pairs<'a>(&mut self, id: u32, pairs: impl Iterator<Item = (&'a str, &'a str)>) {
        for (name, value) in pairs {
            // Look up before inserting: the names and values are almost always known already.
            let values = match self.by_label.get_mut(name) {
                Some(v) => v,
                None => self.by_label.entry(name.to_string()).or_default(),
            };
            match values.get_mut(value) {
                Some(ids) => ids.push(id),
                None => {
                    values.insert(value.to_string(), vec![id]);
                }
            }
        }
        self.count = self.count.max(id + 1);
    }

    /// Label names present.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.by_label.keys()
    }

    /// Values of a label.
    pub fn values(&self, name: &str) -> impl Iterator<Item = &String> {
        self.by_label.get(name).into_iter().flat_map(|m| m.keys())
    }

    /// Ids of series whose label `m.name` is present with a value `m` accepts.
    fn present_matching(&self, m: &LabelMatcher) -> Vec<u32> {
        let Some(values) = self.by_label.get(&m.name) else {
            return Vec::new();
        };
        if m.op == MatchOp::Equal {
            return values.get(&m.value).cloned().unwrap_or_default();
        }
        let mut ids: Vec<u32> = values
            .iter()
            .filter(|(v, _)| m.matches(v))
            .flat_map(|(_, ids)| ids.iter().copied())
            .collect();
        ids.sort_unstable();
        ids
    }

    fn with_label(&self, name: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = self
            .by_label
            .get(name)
            .into_iter()
            .flat_map(|m| m.values().flat_map(|ids| ids.iter().copied()))
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Ids (sorted) of series satisfying all matchers.
    pub fn select(&self, matchers: &[LabelMatcher]) -> Vec<u32> {
        let mut result: Option<Vec<u32>> = None;
        // Positive matchers (not accepting "") restrict the candidate set via postings.
        for m in matchers.iter().filter(|m| !m.matches_empty()) {
            let ids = self.present_matching(m);
            result = Some(match result {
                None => ids,
                Some(r) => intersect(&r, &ids),
            });
        }
        let mut ids = result.unwrap_or_else(|| (0..self.count).collect());
        // Matchers accepting "": remove series whose present value does not match.
        for m in matchers.iter().filter(|m| m.matches_empty()) {
            let with = self.with_label(&m.name);
            let ok = self.present_matching(m);
            let bad = subtract(&with, &ok);
            ids = subtract(&ids, &bad);
        }
        ids
    }
}

/// Sorted intersection.
pub fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Sorted difference `a - b`.
pub fn subtract(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut j, mut out) = (0, Vec::with_capacity(a.len()));
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j >= b.len() || b[j] != x {
            out.push(x);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Labels;

    #[test]
    fn matchers_over_postings() {
        let mut p = Postings::default();
        p.add(0, &Labels::from_pairs([("__name__", "up"), ("job", "a")]));
        p.add(1, &Labels::from_pairs([("__name__", "up"), ("job", "b")]));
        p.add(2, &Labels::from_pairs([("__name__", "up")]));
        let m = |n: &str, op, v: &str| LabelMatcher::new(n, op, v).unwrap();
        assert_eq!(
            p.select(&[m("__name__", MatchOp::Equal, "up")]),
            vec![0, 1, 2]
        );
        assert_eq!(
            p.select(&[
                m("__name__", MatchOp::Equal, "up"),
                m("job", MatchOp::NotEqual, "a")
            ]),
            vec![1, 2]
        );
        assert_eq!(
            p.select(&[m("job", MatchOp::RegexMatch, "a|b")]),
            vec![0, 1]
        );
        assert_eq!(
            p.select(&[
                m("__name__", MatchOp::Equal, "up"),
                m("job", MatchOp::Equal, "")
            ]),
            vec![2]
        );
        assert_eq!(
            p.select(&[
                m("__name__", MatchOp::Equal, "up"),
                m("job", MatchOp::RegexNoMatch, "a")
            ]),
            vec![1, 2]
        );
        assert_eq!(intersect(&[1, 2, 3], &[2, 3, 4]), vec![2, 3]);
        assert_eq!(subtract(&[1, 2, 3], &[2]), vec![1, 3]);
    }
}

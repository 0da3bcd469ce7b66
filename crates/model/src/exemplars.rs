//! In-memory exemplar storage, as Prometheus' `CircularExemplarStorage`: one circular buffer of
//! `max_exemplars` entries shared by all series (the oldest exemplar is overwritten when full),
//! per-series duplicate and out-of-order checks, and selection by label matchers and time range.

use crate::{LabelMatcher, Labels};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// Prometheus' default `storage.exemplars.max_exemplars`.
pub const DEFAULT_MAX_EXEMPLARS: usize = 100_000;

/// Most UTF-8 characters the names and values of an exemplar's labels may have together
/// (OpenMetrics' limit, enforced by Prometheus).
pub const MAX_EXEMPLAR_LABEL_RUNES: usize = 128;

/// One exemplar: labels (usually `trace_id`/`span_id`), the observed value and its time (ms).
#[derive(Clone, Debug, PartialEq)]
pub struct Exemplar {
    pub labels: Labels,
    pub value: f64,
    pub ts: i64,
}

/// Why an exemplar was not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExemplarError {
    #[error("duplicate exemplar")]
    Duplicate,
    #[error("out of order exemplar")]
    OutOfOrder,
    #[error(
        "exemplar label length exceeds maximum of {MAX_EXEMPLAR_LABEL_RUNES} UTF-8 characters"
    )]
    LabelLength,
}

/// The exemplars of one series, as `/api/v1/query_exemplars` returns them.
#[derive(Clone, Debug, PartialEq)]
pub struct ExemplarSeries {
    pub series_labels: Labels,
    pub exemplars: Vec<Exemplar>,
}

struct Slot {
    series: Arc<Labels>,
    exemplar: Exemplar,
}

#[derive(Default)]
struct SeriesState {
    /// Entries of this series currently in the ring.
    count: usize,
    newest: Option<Exemplar>,
}

#[derive(Default)]
struct Ring {
    slots: Vec<Option<Slot>>,
    /// Next slot to write (the oldest one once the ring is full).
    next: usize,
    series: HashMap<Arc<Labels>, SeriesState>,
}

/// The shared exemplar store (cheap to share behind an `Arc`).
pub struct ExemplarStore {
    ring: RwLock<Ring>,
}

impl Default for ExemplarStore {
    fn default() -> Self {
        ExemplarStore::new(DEFAULT_MAX_EXEMPLARS)
    }
}

impl ExemplarStore {
    /// A store keeping at most `max` exemplars in total (0 disables storage).
    pub fn new(max: usize) -> ExemplarStore {
        let mut ring = Ring::default();
        ring.slots.resize_with(max, || None);
        ExemplarStore {
            ring: RwLock::new(ring),
        }
    }

    /// Capacity of the ring.
    pub fn capacity(&self) -> usize {
        self.ring.read().slots.len()
    }

    /// Changes the capacity (a config reload), keeping the newest exemplars that fit.
    pub fn resize(&self, max: usize) {
        if max == self.capacity() {
            return;
        }
        let old = std::mem::take(&mut *self.ring.write());
        let n = old.slots.len();
        let fresh = ExemplarStore::new(max);
        for i in 0..n {
            if let Some(Some(s)) = old.slots.get((old.next + i) % n.max(1)) {
                let _ = fresh.add(&s.series, s.exemplar.clone());
            }
        }
        *self.ring.write() = fresh.ring.into_inner();
    }

    /// Number of exemplars stored.
    pub fn len(&self) -> usize {
        self.ring
            .read()
            .slots
            .iter()
            .filter(|s| s.is_some())
            .count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores one exemplar of the series `series`; rejects an exemplar equal to the series'
    /// newest one (duplicate) or older than it (out of order), as Prometheus does.
    pub fn add(&self, series: &Labels, e: Exemplar) -> Result<(), ExemplarError> {
        let runes: usize = e
            .labels
            .iter()
            .map(|l| l.name.chars().count() + l.value.chars().count())
            .sum();
        if runes > MAX_EXEMPLAR_LABEL_RUNES {
            return Err(ExemplarError::LabelLength);
        }
        let mut ring = self.ring.write();
        let cap = ring.slots.len();
        if cap == 0 {
            return Ok(());
        }
        let key = match ring.series.get_key_value(series) {
            Some((k, st)) => {
                if let Some(newest) = &st.newest {
                    if newest.ts == e.ts && newest.value == e.value && newest.labels == e.labels {
                        return Err(ExemplarError::Duplicate);
                    }
                    if e.ts < newest.ts {
                        return Err(ExemplarError::OutOfOrder);
                    }
                }
                k.clone()
            }
            None => Arc::new(series.clone()),
        };
        let at = ring.next;
        ring.next = (at + 1) % cap;
        let evicted = ring.slots.get_mut(at).and_then(|s| s.take());
        if let Some(old) = evicted {
            if let Some(st) = ring.series.get_mut(&*old.series) {
                st.count = st.count.saturating_sub(1);
                if st.count == 0 {
                    ring.series.remove(&*old.series);
                }
            }
        }
        let st = ring.series.entry(key.clone()).or_default();
        st.count += 1;
        st.newest = Some(e.clone());
        if let Some(slot) = ring.slots.get_mut(at) {
            *slot = Some(Slot {
                series: key,
                exemplar: e,
            });
        }
        Ok(())
    }

    /// Exemplars in `[start, end]` (ms, inclusive) of series matching any of the matcher sets,
    /// grouped per series (sorted by labels), each series' exemplars in time order.
    pub fn select(
        &self,
        start: i64,
        end: i64,
        matcher_sets: &[Vec<LabelMatcher>],
    ) -> Vec<ExemplarSeries> {
        let ring = self.ring.read();
        let n = ring.slots.len();
        let mut out: HashMap<Arc<Labels>, Vec<Exemplar>> = HashMap::new();
        let mut matched: HashMap<Arc<Labels>, bool> = HashMap::new();
        for i in 0..n {
            let Some(Some(slot)) = ring.slots.get((ring.next + i) % n) else {
                continue;
            };
            if slot.exemplar.ts < start || slot.exemplar.ts > end {
                continue;
            }
            let ok = *matched.entry(slot.series.clone()).or_insert_with(|| {
                matcher_sets
                    .iter()
                    .any(|set| crate::matcher::matches_all(set, &slot.series))
            });
            if ok {
                out.entry(slot.series.clone())
                    .or_default()
                    .push(slot.exemplar.clone());
            }
        }
        let mut res: Vec<ExemplarSeries> = out
            .into_iter()
            .map(|(k, mut exemplars)| {
                exemplars.sort_by_key(|e| e.ts);
                ExemplarSeries {
                    series_labels: (*k).clone(),
                    exemplars,
                }
            })
            .collect();
        res.sort_by(|a, b| a.series_labels.cmp(&b.series_labels));
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lbl(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name), ("job", "a")])
    }

    fn ex(trace: &str, v: f64, ts: i64) -> Exemplar {
        Exemplar {
            labels: Labels::from_pairs([("trace_id", trace)]),
            value: v,
            ts,
        }
    }

    fn all() -> Vec<Vec<LabelMatcher>> {
        vec![vec![LabelMatcher::equal("job", "a")]]
    }

    #[test]
    fn ring_overwrites_oldest() {
        let s = ExemplarStore::new(3);
        for i in 0..5 {
            s.add(
                &lbl(if i % 2 == 0 { "x" } else { "y" }),
                ex("t", i as f64, i),
            )
            .unwrap();
        }
        assert_eq!(s.len(), 3);
        let got = s.select(i64::MIN, i64::MAX, &all());
        let ts: Vec<i64> = got
            .iter()
            .flat_map(|g| g.exemplars.iter().map(|e| e.ts))
            .collect();
        assert_eq!(ts, vec![2, 4, 3]);
        assert_eq!(got[0].series_labels.get("__name__"), Some("x"));
    }

    #[test]
    fn duplicate_and_out_of_order_rejected() {
        let s = ExemplarStore::new(10);
        s.add(&lbl("x"), ex("a", 1.0, 10)).unwrap();
        assert_eq!(
            s.add(&lbl("x"), ex("a", 1.0, 10)),
            Err(ExemplarError::Duplicate)
        );
        assert_eq!(
            s.add(&lbl("x"), ex("b", 1.0, 5)),
            Err(ExemplarError::OutOfOrder)
        );
        s.add(&lbl("y"), ex("b", 1.0, 5)).unwrap();
        let long = "x".repeat(130);
        assert_eq!(
            s.add(&lbl("x"), ex(&long, 1.0, 20)),
            Err(ExemplarError::LabelLength)
        );
    }

    #[test]
    fn select_filters_time_and_matchers() {
        let s = ExemplarStore::new(10);
        s.add(&lbl("x"), ex("a", 1.0, 10)).unwrap();
        s.add(&lbl("x"), ex("b", 2.0, 20)).unwrap();
        s.add(&lbl("y"), ex("c", 3.0, 30)).unwrap();
        let only_x = vec![vec![LabelMatcher::equal("__name__", "x")]];
        let got = s.select(15, 100, &only_x);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].exemplars, vec![ex("b", 2.0, 20)]);
        assert!(s.select(31, 100, &all()).is_empty());
    }

    #[test]
    fn resize_keeps_newest_and_zero_disables() {
        let s = ExemplarStore::new(4);
        for i in 0..4 {
            s.add(&lbl("x"), ex("t", 1.0, i)).unwrap();
        }
        s.resize(2);
        let got = s.select(i64::MIN, i64::MAX, &all());
        assert_eq!(got[0].exemplars.len(), 2);
        assert_eq!(got[0].exemplars[0].ts, 2);
        let off = ExemplarStore::new(0);
        off.add(&lbl("x"), ex("t", 1.0, 1)).unwrap();
        assert!(off.is_empty());
    }
}

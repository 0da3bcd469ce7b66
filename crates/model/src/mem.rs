//! `MemStorage`: a plain in-memory metric store for tests, the PromQL test runner and tools.
//! No WAL, no compression; not for production data.

use crate::matcher::matches_all;
use crate::{
    AppendStats, CounterResetHint, HistogramSample, HistogramSeries, LabelMatcher, Labels,
    MetricSink, Queryable, Sample, Series, StorageError,
};
use parking_lot::RwLock;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Default)]
pub struct MemStorage {
    series: RwLock<BTreeMap<Labels, Vec<Sample>>>,
    histograms: RwLock<BTreeMap<Labels, Vec<HistogramSample>>>,
}

impl MemStorage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every series.
    pub fn clear(&self) {
        self.series.write().clear();
        self.histograms.write().clear();
    }

    /// Number of series held.
    pub fn num_series(&self) -> usize {
        self.series.read().len()
    }
}

impl MetricSink for MemStorage {
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendStats, StorageError> {
        let mut stats = AppendStats::default();
        let mut map = self.series.write();
        for (labels, s) in batch {
            let samples = match map.get_mut(labels) {
                Some(v) => v,
                None => {
                    stats.series_created += 1;
                    map.entry(labels.clone()).or_default()
                }
            };
            match samples.last() {
                Some(last) if s.t < last.t => stats.out_of_order += 1,
                Some(last) if s.t == last.t => {
                    if last.v.to_bits() == s.v.to_bits() {
                        stats.appended += 1;
                    } else {
                        stats.duplicate += 1;
                    }
                }
                _ => {
                    samples.push(*s);
                    stats.appended += 1;
                }
            }
        }
        Ok(stats)
    }

    fn append_histograms(
        &self,
        batch: &[(Labels, HistogramSample)],
    ) -> Result<AppendStats, StorageError> {
        let mut stats = AppendStats::default();
        let mut map = self.histograms.write();
        for (labels, s) in batch {
            let samples = map.entry(labels.clone()).or_default();
            match samples.last() {
                Some(last) if s.t < last.t => stats.out_of_order += 1,
                Some(last) if s.t == last.t => {
                    if last.h == s.h {
                        stats.appended += 1;
                    } else {
                        stats.duplicate += 1;
                    }
                }
                _ => {
                    // As Prometheus' head chunks read back: a histogram without a hint that
                    // continues the previous one is marked "not a counter reset".
                    let mut h = s.h.clone();
                    if h.counter_reset_hint == CounterResetHint::Unknown {
                        if let Some(last) = samples.last() {
                            // A reset stays "unknown" (readers detect it again), as the first
                            // sample of a chunk reads when the query does not start there.
                            if !h.detect_reset(&last.h) {
                                h.counter_reset_hint = CounterResetHint::NotCounterReset;
                            }
                        }
                    }
                    samples.push(HistogramSample {
                        t: s.t,
                        h,
                        integer: s.integer,
                    });
                    stats.appended += 1;
                }
            }
        }
        Ok(stats)
    }
}

/// The series of `map` matching `matchers` with their samples in `[mint, maxt]` (series
/// without any omitted).
fn select_from<T: Clone>(
    map: &BTreeMap<Labels, Vec<T>>,
    matchers: &[LabelMatcher],
    time: impl Fn(&T) -> i64,
    mint: i64,
    maxt: i64,
) -> Vec<(Labels, Vec<T>)> {
    let mut out = Vec::new();
    for (labels, samples) in map.iter() {
        if !matches_all(matchers, labels) {
            continue;
        }
        let start = samples.partition_point(|s| time(s) < mint);
        let end = samples.partition_point(|s| time(s) <= maxt);
        if let Some(window) = samples.get(start..end).filter(|w| !w.is_empty()) {
            out.push((labels.clone(), window.to_vec()));
        }
    }
    out
}

impl Queryable for MemStorage {
    fn select_histograms(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<HistogramSeries>, StorageError> {
        Ok(
            select_from(&self.histograms.read(), matchers, |s| s.t, mint, maxt)
                .into_iter()
                .map(|(labels, samples)| HistogramSeries { labels, samples })
                .collect(),
        )
    }

    fn select(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError> {
        Ok(
            select_from(&self.series.read(), matchers, |s| s.t, mint, maxt)
                .into_iter()
                .map(|(labels, samples)| Series { labels, samples })
                .collect(),
        )
    }

    fn label_names(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut names = BTreeSet::new();
        for s in self.select(matchers, mint, maxt)? {
            for l in s.labels.iter() {
                names.insert(l.name.clone());
            }
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut values = BTreeSet::new();
        for s in self.select(matchers, mint, maxt)? {
            if let Some(v) = s.labels.get(name) {
                values.insert(v.to_string());
            }
        }
        Ok(values.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_and_select() {
        let m = MemStorage::new();
        let l = Labels::from_pairs([("__name__", "x")]);
        let st = m
            .append(&[
                (l.clone(), Sample { t: 1, v: 1.0 }),
                (l.clone(), Sample { t: 0, v: 2.0 }),
                (l.clone(), Sample { t: 2, v: 3.0 }),
            ])
            .unwrap();
        assert_eq!(st.appended, 2);
        assert_eq!(st.out_of_order, 1);
        let r = m
            .select(&[LabelMatcher::equal("__name__", "x")], 2, 10)
            .unwrap();
        assert_eq!(r[0].samples, vec![Sample { t: 2, v: 3.0 }]);
    }
}

//! Created (start) timestamps as zero samples: Prometheus' `AppendCTZeroSample` /
//! `AppendHistogramCTZeroSample` with `--enable-feature=created-timestamp-zero-ingestion`.
//! A counter, histogram or summary series whose sample at `t` carries a created timestamp
//! `ct < t` gets a sample of value 0 (an empty histogram of the same schema for native
//! histograms) at `ct`, unless the series already has a sample at or after `ct`; a `ct >= t`
//! is ignored and counted, never an error, and the same `ct` of a series is handled once.

use crate::histogram::FloatHistogram;
use crate::{HistogramSample, Labels, MetricSink, Sample, StorageError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Zero samples appended for created timestamps.
pub static ZERO_SAMPLES: AtomicU64 = AtomicU64::new(0);
/// Created timestamps ignored: not older than their sample, or older than a sample the series
/// already has (Prometheus' out-of-order created timestamp).
pub static IGNORED: AtomicU64 = AtomicU64::new(0);

/// Most series whose last created timestamp is remembered; the memory is cleared beyond it
/// (a forgotten series' next zero sample is then refused by the store as out of order).
const MAX_REMEMBERED: usize = 1 << 20;

/// Per series (and scope, e.g. a tenant), the last created timestamp handled.
fn remembered() -> &'static Mutex<HashMap<u64, i64>> {
    static SEEN: OnceLock<Mutex<HashMap<u64, i64>>> = OnceLock::new();
    SEEN.get_or_init(Default::default)
}

fn key(scope: &str, labels: &Labels) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scope.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^ labels.hash64().rotate_left(17)
}

/// The zero samples of one batch, appended before the batch itself.
#[derive(Debug, Default)]
pub struct ZeroSamples {
    pub floats: Vec<(Labels, Sample)>,
    pub histograms: Vec<(Labels, HistogramSample)>,
}

impl ZeroSamples {
    /// Whether a zero sample at `ct` is due for a sample at `t` of `labels`; counts the ones
    /// ignored.
    fn due(scope: &str, labels: &Labels, ct: i64, t: i64) -> bool {
        if ct == 0 {
            return false;
        }
        if ct >= t {
            IGNORED.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let mut seen = remembered().lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_REMEMBERED {
            seen.clear();
        }
        seen.insert(key(scope, labels), ct) != Some(ct)
    }

    /// A float series' sample at `t` created at `ct` (0: unknown).
    pub fn float(&mut self, scope: &str, labels: &Labels, ct: i64, t: i64) {
        if Self::due(scope, labels, ct, t) {
            self.floats.push((labels.clone(), Sample { t: ct, v: 0.0 }));
        }
    }

    /// A native-histogram series' sample `like` created at `ct`: the zero sample is an empty
    /// histogram with its schema, zero threshold, custom bounds and counter-reset hint.
    pub fn histogram(&mut self, scope: &str, labels: &Labels, ct: i64, like: &HistogramSample) {
        if Self::due(scope, labels, ct, like.t) {
            let h = FloatHistogram {
                counter_reset_hint: like.h.counter_reset_hint,
                schema: like.h.schema,
                zero_threshold: like.h.zero_threshold,
                custom_values: like.h.custom_values.clone(),
                ..Default::default()
            };
            self.histograms.push((
                labels.clone(),
                HistogramSample {
                    t: ct,
                    h,
                    integer: like.integer,
                },
            ));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.floats.is_empty() && self.histograms.is_empty()
    }

    /// Appends the zero samples; those the store refuses (the series has a sample at or after
    /// the created timestamp) are counted as ignored, not reported.
    pub fn append(&self, sink: &dyn MetricSink) -> Result<(), StorageError> {
        for stats in [
            (!self.floats.is_empty())
                .then(|| sink.append(&self.floats))
                .transpose()?,
            (!self.histograms.is_empty())
                .then(|| sink.append_histograms(&self.histograms))
                .transpose()?,
        ]
        .into_iter()
        .flatten()
        {
            ZERO_SAMPLES.fetch_add(stats.appended as u64, Ordering::Relaxed);
            IGNORED.fetch_add(stats.rejected() as u64, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// `pharos_created_timestamp_*` counters in the text exposition format.
pub fn write_metrics(out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "# HELP pharos_created_timestamp_zero_samples_total Zero samples appended at created timestamps (created-timestamp-zero-ingestion).\n\
         # TYPE pharos_created_timestamp_zero_samples_total counter\n\
         pharos_created_timestamp_zero_samples_total {}\n\
         # HELP pharos_created_timestamps_ignored_total Created timestamps not older than their sample or than the series' newest sample.\n\
         # TYPE pharos_created_timestamps_ignored_total counter\n\
         pharos_created_timestamps_ignored_total {}\n",
        ZERO_SAMPLES.load(Ordering::Relaxed),
        IGNORED.load(Ordering::Relaxed)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::MemStorage;
    use crate::Queryable;

    #[test]
    fn zero_sample_once_and_never_out_of_order() {
        let store = MemStorage::default();
        let l = Labels::from_pairs([("__name__", "c_total"), ("t", "created-test")]);
        let run = |ct: i64, t: i64, v: f64| {
            let mut z = ZeroSamples::default();
            z.float("s", &l, ct, t);
            z.append(&store).unwrap();
            store.append(&[(l.clone(), Sample { t, v })]).unwrap();
        };
        let before = IGNORED.load(Ordering::Relaxed);
        run(1000, 5000, 7.0);
        run(1000, 6000, 8.0); // the same created timestamp: nothing new
        run(6000, 6000, 9.0); // not older than its sample: ignored
        run(5500, 7000, 1.0); // older than the series' newest sample: refused, ignored
        run(8000, 9000, 2.0); // a reset: a new zero
        let got: Vec<(i64, f64)> = store
            .select(
                &[crate::LabelMatcher::equal("t", "created-test")],
                0,
                10_000,
            )
            .unwrap()[0]
            .samples
            .iter()
            .map(|s| (s.t, s.v))
            .collect();
        assert_eq!(
            got,
            vec![
                (1000, 0.0),
                (5000, 7.0),
                (6000, 8.0),
                (7000, 1.0),
                (8000, 0.0),
                (9000, 2.0)
            ]
        );
        assert!(IGNORED.load(Ordering::Relaxed) >= before + 2);
    }

    #[test]
    fn empty_histogram_keeps_schema_and_bounds() {
        let mut h = FloatHistogram {
            schema: crate::histogram::CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![0.5, 1.0],
            count: 3.0,
            sum: 2.0,
            positive_buckets: vec![3.0],
            ..Default::default()
        };
        h.positive_spans = vec![crate::histogram::Span {
            offset: 0,
            length: 1,
        }];
        let l = Labels::from_pairs([("__name__", "h"), ("t", "created-hist")]);
        let mut z = ZeroSamples::default();
        z.histogram("s", &l, 100, &HistogramSample::integer(200, h));
        assert_eq!(z.histograms.len(), 1);
        let zero = &z.histograms[0].1;
        assert_eq!((zero.t, zero.h.count, zero.integer), (100, 0.0, true));
        assert_eq!(zero.h.custom_values, vec![0.5, 1.0]);
        assert!(zero.h.positive_buckets.is_empty());
    }
}

//! Native (sparse) histograms as Prometheus models them: `FloatHistogram` with its schema, zero
//! bucket, spans and buckets (or the custom bounds of schema -53, "NHCB"), the arithmetic PromQL
//! needs (add, subtract, scale, compact, counter-reset detection, bucket bounds) and the
//! `{{schema:0 sum:5 count:4 buckets:[1 2 1]}}` notation of Prometheus' PromQL test scripts.

use std::collections::BTreeMap;
use std::fmt;

/// The schema of native histograms with custom bucket bounds (NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;

/// What the producer said about a counter reset between this sample and the previous one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CounterResetHint {
    #[default]
    Unknown,
    CounterReset,
    NotCounterReset,
    Gauge,
}

impl CounterResetHint {
    fn keyword(self) -> &'static str {
        match self {
            CounterResetHint::Unknown => "unknown",
            CounterResetHint::CounterReset => "reset",
            CounterResetHint::NotCounterReset => "not_reset",
            CounterResetHint::Gauge => "gauge",
        }
    }
}

/// A run of consecutive buckets: `offset` is the gap (in bucket indexes) after the previous span
/// (or, for the first span, the index of its first bucket).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub offset: i32,
    pub length: u32,
}

/// A native histogram with float counts (the form PromQL computes with).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FloatHistogram {
    pub counter_reset_hint: CounterResetHint,
    /// Exponential schema -4..=8 (bucket growth factor 2^(2^-schema)), or -53 for custom bounds.
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: f64,
    pub count: f64,
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    /// Absolute counts of the buckets the positive spans describe.
    pub positive_buckets: Vec<f64>,
    pub negative_spans: Vec<Span>,
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of the custom buckets (schema -53), ascending, without +Inf.
    pub custom_values: Vec<f64>,
}

/// One bucket with its bounds, as listed by `FloatHistogram::buckets`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    pub lower: f64,
    pub upper: f64,
    pub count: f64,
    /// Whether the lower bound belongs to the bucket (negative buckets and the zero bucket).
    pub lower_inclusive: bool,
    pub upper_inclusive: bool,
}

/// Expands spans and buckets into `(index, count)` pairs.
pub fn expand(spans: &[Span], buckets: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(buckets.len());
    let mut idx = 0i32;
    let mut b = buckets.iter();
    for (i, s) in spans.iter().enumerate() {
        idx = if i == 0 {
            s.offset
        } else {
            idx.saturating_add(s.offset)
        };
        for _ in 0..s.length {
            match b.next() {
                Some(c) => out.push((idx, *c)),
                None => return out,
            }
            idx = idx.saturating_add(1);
        }
    }
    out
}

/// Builds spans and buckets from ascending `(index, count)` pairs, dropping empty buckets
/// (the form Prometheus' `Compact(0)` gives).
pub fn compress(pairs: &[(i32, f64)]) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut buckets = Vec::new();
    let mut next: Option<i32> = None;
    let mut last_end = 0i32;
    for &(idx, c) in pairs {
        if c == 0.0 {
            continue;
        }
        match (next, spans.last_mut()) {
            (Some(n), Some(s)) if n == idx => s.length += 1,
            _ => {
                let offset = if spans.is_empty() {
                    idx
                } else {
                    idx - last_end
                };
                spans.push(Span { offset, length: 1 });
            }
        }
        buckets.push(c);
        next = Some(idx + 1);
        last_end = idx + 1;
    }
    (spans, buckets)
}

/// Merges two ascending `(index, count)` lists, combining equal indexes with `f`.
fn merge(a: &[(i32, f64)], b: &[(i32, f64)], f: impl Fn(f64, f64) -> f64) -> Vec<(i32, f64)> {
    let mut map: BTreeMap<i32, (f64, f64)> = BTreeMap::new();
    for &(i, c) in a {
        map.entry(i).or_insert((0.0, 0.0)).0 += c;
    }
    for &(i, c) in b {
        map.entry(i).or_insert((0.0, 0.0)).1 += c;
    }
    map.into_iter().map(|(i, (x, y))| (i, f(x, y))).collect()
}

/// Index of bucket `idx` of `from` schema in the coarser `to` schema.
fn target_index(idx: i32, from: i32, to: i32) -> i32 {
    ((idx - 1) >> (from - to)) + 1
}

fn reduce_pairs(pairs: &[(i32, f64)], from: i32, to: i32) -> Vec<(i32, f64)> {
    let mut map: BTreeMap<i32, f64> = BTreeMap::new();
    for &(i, c) in pairs {
        *map.entry(target_index(i, from, to)).or_insert(0.0) += c;
    }
    map.into_iter().collect()
}

/// Absolute bucket counts from the integer form of Prometheus' wire formats (remote_write,
/// the protobuf scrape format), where each bucket's count is a delta to the previous bucket's.
pub fn deltas_to_counts(deltas: &[i64]) -> Vec<f64> {
    let mut acc = 0i64;
    deltas
        .iter()
        .map(|d| {
            acc = acc.saturating_add(*d);
            acc as f64
        })
        .collect()
}

/// The integer wire form of absolute bucket counts (the inverse of `deltas_to_counts`).
pub fn counts_to_deltas(counts: &[f64]) -> Vec<i64> {
    let mut prev = 0i64;
    counts
        .iter()
        .map(|c| {
            let c = *c as i64;
            let d = c.wrapping_sub(prev);
            prev = c;
            d
        })
        .collect()
}

/// Checks a histogram as it comes off a wire: each side's spans describe as many buckets as
/// are given, and the schema is exponential (-4..=8) or, where `custom_allowed`, custom (-53).
/// The error says which rule was broken ("positive spans describe 3 buckets but 1 are given").
pub fn check_wire_layout(
    schema: i32,
    custom_allowed: bool,
    sides: [(&str, &[Span], usize); 2],
) -> Result<(), String> {
    for (side, spans, n) in sides {
        let described: u64 = spans.iter().map(|s| u64::from(s.length)).sum();
        if described != n as u64 {
            return Err(format!(
                "{side} spans describe {described} buckets but {n} are given"
            ));
        }
    }
    let custom = custom_allowed && schema == CUSTOM_BUCKETS_SCHEMA;
    if !custom && !(-4..=8).contains(&schema) {
        return Err(format!("has an invalid schema {schema}"));
    }
    Ok(())
}

/// Upper bound of exponential bucket `idx` in `schema`.
pub fn exponential_upper_bound(idx: i32, schema: i32) -> f64 {
    if schema < 0 {
        // Base 2^(2^-schema): bound = 2^(idx * 2^-schema).
        let exp = (idx as f64) * f64::powi(2.0, -schema);
        return f64::powf(2.0, exp);
    }
    // bound = 2^(idx / 2^schema), computed as frexp-like split for precision.
    let per = 1i64 << schema;
    let idx = idx as i64;
    let whole = idx.div_euclid(per);
    let frac = idx.rem_euclid(per);
    let frac_bound = f64::powf(2.0, frac as f64 / per as f64);
    frac_bound * f64::powi(2.0, whole as i32)
}

/// A histogram sum or difference with the notes Prometheus turns into annotations.
#[derive(Clone, Debug, PartialEq)]
pub struct Combined {
    pub histogram: FloatHistogram,
    /// A counter reset met a "not a counter reset" hint.
    pub collision: bool,
    /// Custom bucket bounds differed and were intersected.
    pub reconciled: bool,
}

/// Prometheus' rule for the hint of a sum: equal hints stay, a gauge wins, then unknown; a
/// reset meeting a not-reset is a collision (result unknown).
fn combine_hints(a: CounterResetHint, b: CounterResetHint) -> (CounterResetHint, bool) {
    use CounterResetHint::*;
    match (a, b) {
        _ if a == b => (a, false),
        (Gauge, _) | (_, Gauge) => (Gauge, false),
        (Unknown, _) | (_, Unknown) => (Unknown, false),
        _ => (Unknown, true),
    }
}

/// Kahan-Babuska compensated summation.
#[derive(Clone, Copy, Debug, Default)]
struct Kahan {
    sum: f64,
    c: f64,
}

/// One step of Kahan-Babuska summation: `sum + inc` with compensation `c`, as Prometheus'
/// `kahanSumInc` (the compensation is dropped once the sum overflows).
pub fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The column-wise mean of `rows` (one row per histogram, one column per field) as
/// Prometheus' `avg_over_time` of histograms computes it: a Kahan sum while no field
/// overflows, then an incremental mean with Kahan compensation from that point on.
fn mean_columns(rows: &[Vec<f64>]) -> Vec<f64> {
    let Some(first) = rows.first() else {
        return Vec::new();
    };
    let width = first.len();
    let mut sum = first.clone();
    let mut comp = vec![0.0; width];
    let mut incremental = false;
    let mut count = 1.0;
    for (i, r) in rows.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let mut next_sum = sum.clone();
            let mut next_comp = comp.clone();
            for k in 0..width {
                (next_sum[k], next_comp[k]) = kahan_add(r[k], sum[k], comp[k]);
            }
            if next_sum.iter().all(|v| v.is_finite()) {
                (sum, comp) = (next_sum, next_comp);
                continue;
            }
            incremental = true;
            for k in 0..width {
                sum[k] /= count - 1.0;
                comp[k] /= count - 1.0;
            }
        }
        // `sum` holds the running mean from here on.
        let q = (count - 1.0) / count;
        for k in 0..width {
            comp[k] *= q;
            (sum[k], comp[k]) = kahan_add(r[k] / count, sum[k] * q, comp[k]);
        }
    }
    if incremental {
        sum.iter().zip(&comp).map(|(m, c)| m + c).collect()
    } else {
        sum.iter()
            .zip(&comp)
            .map(|(s, c)| s / count + c / count)
            .collect()
    }
}

impl Kahan {
    fn add(&mut self, v: f64) {
        (self.sum, self.c) = kahan_add(v, self.sum, self.c);
    }

    fn value(&self) -> f64 {
        self.sum + self.c
    }
}

/// Error from histogram arithmetic (incompatible bucket layouts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistogramError(pub String);

impl fmt::Display for HistogramError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HistogramError {}

impl FloatHistogram {
    /// Whether this histogram has custom bucket bounds (schema -53).
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    pub fn positive(&self) -> Vec<(i32, f64)> {
        expand(&self.positive_spans, &self.positive_buckets)
    }

    pub fn negative(&self) -> Vec<(i32, f64)> {
        expand(&self.negative_spans, &self.negative_buckets)
    }

    fn set_positive(&mut self, pairs: &[(i32, f64)]) {
        let (s, b) = compress(pairs);
        self.positive_spans = s;
        self.positive_buckets = b;
    }

    fn set_negative(&mut self, pairs: &[(i32, f64)]) {
        let (s, b) = compress(pairs);
        self.negative_spans = s;
        self.negative_buckets = b;
    }

    /// Whether every count (total, zero bucket, each bucket) is a whole number from 0 to 2^53,
    /// so the histogram can be an integer one (Prometheus' `Histogram`) without loss.
    pub fn has_integer_counts(&self) -> bool {
        let whole = |v: f64| (0.0..=9_007_199_254_740_992.0).contains(&v) && v.fract() == 0.0;
        whole(self.count)
            && whole(self.zero_count)
            && self.positive_buckets.iter().all(|v| whole(*v))
            && self.negative_buckets.iter().all(|v| whole(*v))
    }

    /// Removes empty buckets and merges adjacent spans (Prometheus' `Compact(0)`).
    pub fn compact(&mut self) {
        let p = self.positive();
        let n = self.negative();
        self.set_positive(&p);
        self.set_negative(&n);
    }

    /// Reduces the resolution to `schema` (only ever coarser; custom buckets are unchanged).
    pub fn reduce_resolution(&mut self, schema: i32) {
        if self.uses_custom_buckets() || schema >= self.schema {
            return;
        }
        let p = reduce_pairs(&self.positive(), self.schema, schema);
        let n = reduce_pairs(&self.negative(), self.schema, schema);
        self.schema = schema;
        self.set_positive(&p);
        self.set_negative(&n);
    }

    /// Widens the zero bucket to at least `threshold`, moving the buckets it now covers into it
    /// (a bucket it cuts through is absorbed whole and the threshold moves to its upper bound).
    pub fn widen_zero_bucket(&mut self, threshold: f64) {
        if self.uses_custom_buckets() || threshold <= self.zero_threshold {
            return;
        }
        let mut threshold = threshold;
        loop {
            let mut moved = false;
            let mut p = self.positive();
            let mut n = self.negative();
            for list in [&mut p, &mut n] {
                list.retain(|&(i, c)| {
                    let lower = exponential_upper_bound(i - 1, self.schema);
                    if lower < threshold {
                        self.zero_count += c;
                        let upper = exponential_upper_bound(i, self.schema);
                        if upper > threshold {
                            threshold = upper;
                            moved = true;
                        }
                        false
                    } else {
                        true
                    }
                });
            }
            self.set_positive(&p);
            self.set_negative(&n);
            if !moved {
                break;
            }
        }
        self.zero_threshold = threshold;
    }

    /// `self + other` (`negate`: minus), with whether the counter reset hints collided and
    /// whether differing custom bounds had to be reconciled.
    pub fn combine_checked(
        &self,
        other: &FloatHistogram,
        negate: bool,
    ) -> Result<Combined, HistogramError> {
        let reconciled = self.uses_custom_buckets() && self.custom_values != other.custom_values;
        let (hint, collision) = combine_hints(self.counter_reset_hint, other.counter_reset_hint);
        let mut h = self.combine(other, negate)?;
        // A difference of counters is a gauge (Prometheus' Sub).
        h.counter_reset_hint = if negate {
            CounterResetHint::Gauge
        } else {
            hint
        };
        Ok(Combined {
            histogram: h,
            collision,
            reconciled,
        })
    }

    /// Copies of `all` on one bucket layout (the coarsest schema and widest zero bucket, or
    /// the custom bounds they share), and whether custom bounds had to be intersected.
    fn aligned(all: &[&FloatHistogram]) -> (Vec<FloatHistogram>, bool) {
        let Some(first) = all.first() else {
            return (Vec::new(), false);
        };
        let mut parts: Vec<FloatHistogram> = all.iter().map(|h| (*h).clone()).collect();
        let mut reconciled = false;
        if first.uses_custom_buckets() {
            let mut common = first.custom_values.clone();
            for h in all {
                if h.custom_values != first.custom_values {
                    reconciled = true;
                    common.retain(|v| h.custom_values.contains(v));
                }
            }
            if reconciled {
                for h in parts.iter_mut() {
                    h.remap_custom(&common);
                }
            }
        } else {
            let schema = all.iter().map(|h| h.schema).min().unwrap_or(0);
            let mut zero = all.iter().map(|h| h.zero_threshold).fold(0.0, f64::max);
            for h in parts.iter_mut() {
                h.reduce_resolution(schema);
                h.widen_zero_bucket(zero);
                zero = zero.max(h.zero_threshold);
            }
            for h in parts.iter_mut() {
                h.widen_zero_bucket(zero);
            }
        }
        (parts, reconciled)
    }

    /// The Kahan-compensated sum of `all` (at their coarsest schema, widest zero bucket and
    /// common custom bounds), as Prometheus sums histograms in `sum`/`avg`/`sum_over_time`.
    pub fn sum_all(all: &[&FloatHistogram]) -> Result<Combined, HistogramError> {
        let Some(first) = all.first() else {
            return Ok(Combined {
                histogram: FloatHistogram::default(),
                collision: false,
                reconciled: false,
            });
        };
        if all
            .iter()
            .any(|h| h.uses_custom_buckets() != first.uses_custom_buckets())
        {
            return Err(HistogramError(
                "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas".into(),
            ));
        }
        let (mut parts, reconciled) = Self::aligned(all);
        let mut hint = first.counter_reset_hint;
        // As Prometheus' aggregations: a conflict is a counter reset anywhere among the inputs
        // next to a "not a counter reset" anywhere, whatever came between them.
        let seen = |want: CounterResetHint| all.iter().any(|h| h.counter_reset_hint == want);
        let collision =
            seen(CounterResetHint::CounterReset) && seen(CounterResetHint::NotCounterReset);
        let (mut count, mut sum, mut zc) = (Kahan::default(), Kahan::default(), Kahan::default());
        let mut pos: BTreeMap<i32, Kahan> = BTreeMap::new();
        let mut neg: BTreeMap<i32, Kahan> = BTreeMap::new();
        for (i, h) in parts.iter().enumerate() {
            if i > 0 {
                hint = combine_hints(hint, h.counter_reset_hint).0;
            }
            count.add(h.count);
            sum.add(h.sum);
            zc.add(h.zero_count);
            for (idx, c) in h.positive() {
                pos.entry(idx).or_default().add(c);
            }
            for (idx, c) in h.negative() {
                neg.entry(idx).or_default().add(c);
            }
        }
        let mut out = parts.swap_remove(0);
        out.count = count.value();
        out.sum = sum.value();
        out.zero_count = zc.value();
        out.counter_reset_hint = hint;
        let p: Vec<(i32, f64)> = pos.into_iter().map(|(i, k)| (i, k.value())).collect();
        let n: Vec<(i32, f64)> = neg.into_iter().map(|(i, k)| (i, k.value())).collect();
        out.set_positive(&p);
        out.set_negative(&n);
        Ok(Combined {
            histogram: out,
            collision,
            reconciled,
        })
    }

    /// The mean of `all`: their sum divided by their number, or, when that sum overflows
    /// where the inputs do not, the incremental mean (as Prometheus' `avg`).
    pub fn mean_all(all: &[&FloatHistogram]) -> Result<Combined, HistogramError> {
        let mut c = Self::sum_all(all)?;
        let (parts, _) = Self::aligned(all);
        let Some(first) = parts.first() else {
            return Ok(c);
        };
        // Every field (count, sum, zero count, each bucket) as one column of floats.
        let mut pos_idx: Vec<i32> = parts
            .iter()
            .flat_map(|h| h.positive())
            .map(|(i, _)| i)
            .collect();
        let mut neg_idx: Vec<i32> = parts
            .iter()
            .flat_map(|h| h.negative())
            .map(|(i, _)| i)
            .collect();
        pos_idx.sort_unstable();
        pos_idx.dedup();
        neg_idx.sort_unstable();
        neg_idx.dedup();
        let row = |h: &FloatHistogram| -> Vec<f64> {
            let mut r = vec![h.count, h.sum, h.zero_count];
            let (p, n) = (h.positive(), h.negative());
            let at =
                |pairs: &[(i32, f64)], i: i32| pairs.iter().find(|x| x.0 == i).map_or(0.0, |x| x.1);
            r.extend(pos_idx.iter().map(|&i| at(&p, i)));
            r.extend(neg_idx.iter().map(|&i| at(&n, i)));
            r
        };
        let rows: Vec<Vec<f64>> = parts.iter().map(row).collect();
        let mean = mean_columns(&rows);
        let mut out = first.clone();
        out.count = mean[0];
        out.sum = mean[1];
        out.zero_count = mean[2];
        let p: Vec<(i32, f64)> = pos_idx
            .iter()
            .copied()
            .zip(mean[3..3 + pos_idx.len()].iter().copied())
            .collect();
        let n: Vec<(i32, f64)> = neg_idx
            .iter()
            .copied()
            .zip(mean[3 + pos_idx.len()..].iter().copied())
            .collect();
        out.set_positive(&p);
        out.set_negative(&n);
        out.counter_reset_hint = c.histogram.counter_reset_hint;
        c.histogram = out;
        Ok(c)
    }

    fn combine(&self, other: &FloatHistogram, negate: bool) -> Result<Self, HistogramError> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError(
                "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas".into(),
            ));
        }
        let sign = if negate { -1.0 } else { 1.0 };
        let mut a = self.clone();
        let mut b = other.clone();
        if a.uses_custom_buckets() {
            if a.custom_values != b.custom_values {
                // Prometheus intersects the bounds; pharos maps both onto the common bounds.
                let common: Vec<f64> = a
                    .custom_values
                    .iter()
                    .copied()
                    .filter(|v| b.custom_values.contains(v))
                    .collect();
                a.remap_custom(&common);
                b.remap_custom(&common);
            }
        } else {
            let schema = a.schema.min(b.schema);
            a.reduce_resolution(schema);
            b.reduce_resolution(schema);
            let z = a.zero_threshold.max(b.zero_threshold);
            a.widen_zero_bucket(z);
            b.widen_zero_bucket(a.zero_threshold);
            a.widen_zero_bucket(b.zero_threshold);
        }
        let p = merge(&a.positive(), &b.positive(), |x, y| x + sign * y);
        let n = merge(&a.negative(), &b.negative(), |x, y| x + sign * y);
        a.count += sign * b.count;
        a.sum += sign * b.sum;
        a.zero_count += sign * b.zero_count;
        a.set_positive(&p);
        a.set_negative(&n);
        Ok(a)
    }

    /// Maps custom buckets onto a subset of their bounds (merging buckets whose bound is gone).
    fn remap_custom(&mut self, bounds: &[f64]) {
        let mut map: BTreeMap<i32, f64> = BTreeMap::new();
        for (i, c) in self.positive() {
            let upper = usize::try_from(i)
                .ok()
                .and_then(|i| self.custom_values.get(i).copied())
                .unwrap_or(f64::INFINITY);
            let j = bounds.partition_point(|&b| b < upper) as i32;
            *map.entry(j).or_insert(0.0) += c;
        }
        self.custom_values = bounds.to_vec();
        let pairs: Vec<(i32, f64)> = map.into_iter().collect();
        self.set_positive(&pairs);
    }

    /// `self + other`, at the coarser of the two schemas.
    pub fn add(&self, other: &FloatHistogram) -> Result<Self, HistogramError> {
        self.combine(other, false)
    }

    /// `self - other`, at the coarser of the two schemas.
    pub fn sub(&self, other: &FloatHistogram) -> Result<Self, HistogramError> {
        self.combine(other, true)
    }

    /// Every count, the sum and every bucket multiplied by `factor`.
    pub fn mul(&self, factor: f64) -> Self {
        let mut h = self.clone();
        if factor < 0.0 {
            h.counter_reset_hint = CounterResetHint::Gauge;
        }
        h.count *= factor;
        h.sum *= factor;
        h.zero_count *= factor;
        h.positive_buckets.iter_mut().for_each(|b| *b *= factor);
        h.negative_buckets.iter_mut().for_each(|b| *b *= factor);
        h
    }

    /// Every count, the sum and every bucket divided by `divisor`.
    /// Division by zero removes all buckets (as Prometheus' `Div`); a negative divisor makes
    /// the result a gauge.
    pub fn div(&self, divisor: f64) -> Self {
        let mut h = self.clone();
        h.count /= divisor;
        h.sum /= divisor;
        h.zero_count /= divisor;
        if divisor == 0.0 {
            h.positive_spans.clear();
            h.positive_buckets.clear();
            h.negative_spans.clear();
            h.negative_buckets.clear();
            return h;
        }
        if divisor < 0.0 {
            h.counter_reset_hint = CounterResetHint::Gauge;
        }
        h.positive_buckets.iter_mut().for_each(|b| *b /= divisor);
        h.negative_buckets.iter_mut().for_each(|b| *b /= divisor);
        h
    }

    /// Whether going from `previous` to `self` was a counter reset (Prometheus' `DetectReset`):
    /// any count, the zero bucket or a bucket went down, the schema got finer, the zero bucket
    /// narrower or the custom bounds changed.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            _ => {}
        }
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() != previous.uses_custom_buckets() {
            return true;
        }
        if self.uses_custom_buckets() {
            if self.custom_values != previous.custom_values {
                // Compare on the bounds both have.
                let common: Vec<f64> = self
                    .custom_values
                    .iter()
                    .copied()
                    .filter(|v| previous.custom_values.contains(v))
                    .collect();
                let (mut cur, mut prev) = (self.clone(), previous.clone());
                cur.remap_custom(&common);
                prev.remap_custom(&common);
                cur.counter_reset_hint = CounterResetHint::Unknown;
                return cur.detect_reset(&prev);
            }
        } else {
            if self.schema > previous.schema || self.zero_threshold < previous.zero_threshold {
                return true;
            }
        }
        let mut prev = previous.clone();
        if !self.uses_custom_buckets() {
            prev.reduce_resolution(self.schema);
            prev.widen_zero_bucket(self.zero_threshold);
        }
        if self.zero_count < prev.zero_count {
            return true;
        }
        let went_down = |cur: Vec<(i32, f64)>, old: Vec<(i32, f64)>| {
            let cur: BTreeMap<i32, f64> = cur.into_iter().collect();
            old.iter()
                .any(|(i, c)| *c > 0.0 && cur.get(i).copied().unwrap_or(0.0) < *c)
        };
        went_down(self.positive(), prev.positive()) || went_down(self.negative(), prev.negative())
    }

    /// Every bucket with its bounds, from the lowest negative through the zero bucket to the
    /// highest positive one (custom buckets: from the first to the +Inf bucket).
    pub fn buckets(&self) -> Vec<Bucket> {
        let mut out = Vec::new();
        if self.uses_custom_buckets() {
            for (i, c) in self.positive() {
                let i = usize::try_from(i).unwrap_or(usize::MAX);
                let upper = self.custom_values.get(i).copied().unwrap_or(f64::INFINITY);
                let lower = match i.checked_sub(1) {
                    Some(j) => self.custom_values.get(j).copied().unwrap_or(f64::INFINITY),
                    None => f64::NEG_INFINITY,
                };
                out.push(Bucket {
                    lower,
                    upper,
                    count: c,
                    lower_inclusive: false,
                    upper_inclusive: true,
                });
            }
            return out;
        }
        // As Prometheus' AllBucketIterator: buckets overlapping the zero bucket are clipped to
        // its threshold, and the zero bucket is listed only when it holds observations.
        let z = self.zero_threshold;
        for (i, c) in self.negative().into_iter().rev() {
            let mut upper = -exponential_upper_bound(i - 1, self.schema);
            if upper < 0.0 && upper > -z {
                upper = -z;
            }
            out.push(Bucket {
                lower: -exponential_upper_bound(i, self.schema),
                upper,
                count: c,
                lower_inclusive: true,
                upper_inclusive: false,
            });
        }
        if self.zero_count > 0.0 {
            out.push(Bucket {
                lower: -self.zero_threshold,
                upper: self.zero_threshold,
                count: self.zero_count,
                lower_inclusive: true,
                upper_inclusive: true,
            });
        }
        for (i, c) in self.positive() {
            let mut lower = exponential_upper_bound(i - 1, self.schema);
            if lower > 0.0 && lower < z {
                lower = z;
            }
            out.push(Bucket {
                lower,
                upper: exponential_upper_bound(i, self.schema),
                count: c,
                lower_inclusive: false,
                upper_inclusive: true,
            });
        }
        out
    }

    /// Bounds of positive bucket `idx` (custom buckets: the first one starts at -Inf).
    fn positive_bounds(&self, idx: i32) -> (f64, f64) {
        if self.uses_custom_buckets() {
            let at = |i: i32| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.custom_values.get(i).copied())
                    .unwrap_or(f64::INFINITY)
            };
            let lower = if idx <= 0 {
                f64::NEG_INFINITY
            } else {
                at(idx - 1)
            };
            return (lower, at(idx));
        }
        (
            exponential_upper_bound(idx - 1, self.schema),
            exponential_upper_bound(idx, self.schema),
        )
    }

    /// Prometheus' `TrimBuckets` (the `</` and `>/` operators): keeps only the observations
    /// below (`upper_trim`) or above `rhs`, interpolating within the bucket `rhs` falls in, and
    /// re-estimates count and sum from the kept buckets' midpoints.
    pub fn trim_buckets(&self, rhs: f64, upper_trim: bool) -> FloatHistogram {
        let mut h = self.clone();
        let custom = h.uses_custom_buckets();
        let (mut count, mut sum) = (0.0, 0.0);
        let mut trimmed = false;
        let (mut has_positive, mut has_negative) = (false, false);
        for positive in [true, false] {
            let pairs = if positive { h.positive() } else { h.negative() };
            let mut new_counts = Vec::with_capacity(pairs.len());
            for (idx, c) in pairs {
                if c == 0.0 {
                    new_counts.push(c);
                    continue;
                }
                if positive {
                    has_positive = true;
                } else {
                    has_negative = true;
                }
                let (lower, upper) = if positive {
                    h.positive_bounds(idx)
                } else {
                    (
                        -exponential_upper_bound(idx, h.schema),
                        -exponential_upper_bound(idx - 1, h.schema),
                    )
                };
                let b = Bucket {
                    lower,
                    upper,
                    count: c,
                    lower_inclusive: false,
                    upper_inclusive: true,
                };
                let keep_all = if upper_trim {
                    upper <= rhs
                } else {
                    lower >= rhs
                };
                let partial = if upper_trim { lower < rhs } else { upper > rhs };
                if keep_all {
                    count += c;
                    sum += midpoint(lower, upper, positive, custom) * c;
                    new_counts.push(c);
                } else if partial {
                    let (keep, mid) = bucket_trim(&b, rhs, upper_trim, positive, custom);
                    count += keep;
                    sum += mid * keep;
                    if keep != c {
                        trimmed = true;
                    }
                    new_counts.push(keep);
                } else {
                    trimmed = true;
                    new_counts.push(0.0);
                }
            }
            if positive {
                h.positive_buckets = new_counts;
            } else {
                h.negative_buckets = new_counts;
            }
        }
        if h.zero_count > 0.0 {
            let (mut lower, mut upper) = (-h.zero_threshold, h.zero_threshold);
            if has_negative && !has_positive {
                upper = 0.0;
            }
            if has_positive && !has_negative {
                lower = 0.0;
            }
            let zc = h.zero_count;
            let (keep, mid) = if upper_trim {
                if rhs <= lower {
                    (0.0, 0.0)
                } else if rhs >= upper {
                    (zc, (lower + upper) / 2.0)
                } else {
                    (zc * (rhs - lower) / (upper - lower), (lower + rhs) / 2.0)
                }
            } else if rhs <= lower {
                (zc, (lower + upper) / 2.0)
            } else if rhs >= upper {
                (0.0, 0.0)
            } else {
                (zc * (upper - rhs) / (upper - lower), (rhs + upper) / 2.0)
            };
            if keep != zc {
                h.zero_count = keep;
                trimmed = true;
            }
            sum += mid * keep;
            count += keep;
        }
        if trimmed {
            h.count = count;
            h.sum = sum;
            h.compact();
            h
        } else {
            self.clone()
        }
    }

    /// Whether two histograms are equal once compacted, counts compared with `eq`.
    pub fn equals_with(&self, other: &FloatHistogram, eq: impl Fn(f64, f64) -> bool) -> bool {
        let nz = |v: Vec<(i32, f64)>| -> Vec<(i32, f64)> {
            v.into_iter().filter(|(_, c)| *c != 0.0).collect()
        };
        let same = |a: Vec<(i32, f64)>, b: Vec<(i32, f64)>| {
            let (a, b) = (nz(a), nz(b));
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.0 == y.0 && eq(x.1, y.1))
        };
        self.schema == other.schema
            && eq(self.count, other.count)
            && eq(self.sum, other.sum)
            && (!self.uses_custom_buckets() || self.custom_values == other.custom_values)
            && self.zero_threshold == other.zero_threshold
            && eq(self.zero_count, other.zero_count)
            && same(self.positive(), other.positive())
            && same(self.negative(), other.negative())
    }

    /// The test-script notation, e.g. `{{schema:0 count:4 sum:5 buckets:[1 2 1]}}` (compacted).
    pub fn test_expression(&self) -> String {
        let mut h = self.clone();
        h.compact();
        h.to_string()
    }
}

/// Midpoint of the surviving part of a bucket (geometric for exponential buckets).
fn midpoint(lower: f64, upper: f64, positive: bool, linear: bool) -> f64 {
    if lower.is_infinite() {
        if upper.is_infinite() {
            return 0.0;
        }
        return if upper > 0.0 { upper / 2.0 } else { upper };
    }
    if upper.is_infinite() {
        return lower;
    }
    if linear {
        return (lower + upper) / 2.0;
    }
    let geo = (lower * upper).abs().sqrt();
    if positive {
        geo
    } else {
        -geo
    }
}

/// The share of bucket `b` below `v` (linear or logarithmic interpolation).
fn fraction_below(b: &Bucket, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - b.lower) / (b.upper - b.lower);
    }
    let (ll, lu, lv) = (b.lower.abs().log2(), b.upper.abs().log2(), v.abs().log2());
    if v > 0.0 {
        (lv - ll) / (lu - ll)
    } else {
        1.0 - ((lv - lu) / (ll - lu))
    }
}

/// Kept count and midpoint of a bucket that the trim point `rhs` cuts.
fn bucket_trim(b: &Bucket, rhs: f64, upper_trim: bool, positive: bool, custom: bool) -> (f64, f64) {
    let zero_if_inf = |x: f64| if x.is_infinite() { 0.0 } else { x };
    if b.lower == f64::NEG_INFINITY {
        if upper_trim {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper.is_finite() {
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, zero_if_inf(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper.is_finite() {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, zero_if_inf(b.upper));
    }
    if b.upper == f64::INFINITY {
        if upper_trim {
            return (0.0, zero_if_inf(b.lower));
        }
        if rhs >= b.lower {
            return (b.count, rhs);
        }
        return (0.0, zero_if_inf(b.lower));
    }
    let under = if rhs <= b.lower {
        0.0
    } else if rhs >= b.upper {
        b.count
    } else {
        b.count * fraction_below(b, rhs, custom)
    };
    if upper_trim {
        (under, midpoint(b.lower, rhs, positive, custom))
    } else {
        (b.count - under, midpoint(rhs, b.upper, positive, custom))
    }
}

fn fmt_num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn fmt_list(v: &[f64]) -> String {
    v.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(" ")
}

/// Buckets of one side as one contiguous run (zeros filled in) with its offset.
fn contiguous(pairs: &[(i32, f64)]) -> Option<(i32, Vec<f64>)> {
    let first = pairs.first()?.0;
    let last = pairs.last()?.0;
    let mut v = vec![0.0; usize::try_from(last - first + 1).ok()?];
    for (i, c) in pairs {
        if let Some(slot) = usize::try_from(i - first).ok().and_then(|j| v.get_mut(j)) {
            *slot = *c;
        }
    }
    Some((first, v))
}

impl fmt::Display for FloatHistogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.schema != 0 {
            parts.push(format!("schema:{}", self.schema));
        }
        if self.count != 0.0 {
            parts.push(format!("count:{}", fmt_num(self.count)));
        }
        if self.sum != 0.0 {
            parts.push(format!("sum:{}", fmt_num(self.sum)));
        }
        if self.zero_count != 0.0 {
            parts.push(format!("z_bucket:{}", fmt_num(self.zero_count)));
        }
        if self.zero_threshold != 0.0 {
            parts.push(format!("z_bucket_w:{}", fmt_num(self.zero_threshold)));
        }
        if self.uses_custom_buckets() {
            parts.push(format!("custom_values:[{}]", fmt_list(&self.custom_values)));
        }
        if let Some((off, b)) = contiguous(&self.positive()) {
            if off != 0 {
                parts.push(format!("offset:{off}"));
            }
            parts.push(format!("buckets:[{}]", fmt_list(&b)));
        }
        if let Some((off, b)) = contiguous(&self.negative()) {
            if off != 0 {
                parts.push(format!("n_offset:{off}"));
            }
            parts.push(format!("n_buckets:[{}]", fmt_list(&b)));
        }
        if self.counter_reset_hint != CounterResetHint::Unknown {
            parts.push(format!(
                "counter_reset_hint:{}",
                self.counter_reset_hint.keyword()
            ));
        }
        write!(f, "{{{{{}}}}}", parts.join(" "))
    }
}

/// A histogram parsed from the notation, and whether it named its counter reset hint.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedHistogram {
    pub histogram: FloatHistogram,
    pub hint_given: bool,
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        "Inf" | "+Inf" | "inf" | "+inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// Parses the inside or whole of `{{key:value ...}}`; `text` may include the braces.
pub fn parse_histogram(text: &str) -> Result<ParsedHistogram, String> {
    let inner = text
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .unwrap_or(text)
        .trim();
    let mut h = FloatHistogram::default();
    let mut hint_given = false;
    let mut positive: Option<Vec<f64>> = None;
    let mut negative: Option<Vec<f64>> = None;
    let (mut offset, mut n_offset) = (0i32, 0i32);
    let mut seen: Vec<String> = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once(':')
            .ok_or_else(|| format!("expected key:value in histogram {text:?}"))?;
        let key = key.trim();
        if seen.iter().any(|k| k == key) {
            return Err(format!("duplicate key \"{key}\" in histogram"));
        }
        seen.push(key.to_string());
        let after = after.trim_start();
        let (value, next) = if let Some(list) = after.strip_prefix('[') {
            let end = list
                .find(']')
                .ok_or_else(|| format!("unterminated list in histogram {text:?}"))?;
            (&list[..end], list[end + 1..].trim_start())
        } else {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (&after[..end], after[end..].trim_start())
        };
        let num = |v: &str| parse_float(v).ok_or_else(|| format!("invalid {key} value {v:?}"));
        let list = |v: &str| -> Result<Vec<f64>, String> {
            v.split_whitespace()
                .map(|x| parse_float(x).ok_or_else(|| format!("invalid {key} value {x:?}")))
                .collect()
        };
        let int = |v: &str| -> Result<i32, String> {
            v.parse::<i32>()
                .map_err(|_| format!("invalid {key} value {v:?}"))
        };
        match key {
            "schema" => h.schema = int(value)?,
            "sum" => h.sum = num(value)?,
            "count" => h.count = num(value)?,
            "z_bucket" => h.zero_count = num(value)?,
            "z_bucket_w" => h.zero_threshold = num(value)?,
            "custom_values" => h.custom_values = list(value)?,
            "buckets" => positive = Some(list(value)?),
            "n_buckets" => negative = Some(list(value)?),
            "offset" => offset = int(value)?,
            "n_offset" => n_offset = int(value)?,
            "counter_reset_hint" => {
                hint_given = true;
                h.counter_reset_hint = match value {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    other => return Err(format!("invalid counter_reset_hint {other:?}")),
                }
            }
            other => return Err(format!("unknown histogram key {other:?}")),
        }
        rest = next;
    }
    if let Some(b) = positive.filter(|b| !b.is_empty()) {
        h.positive_spans = vec![Span {
            offset,
            length: b.len() as u32,
        }];
        h.positive_buckets = b;
    }
    if let Some(b) = negative.filter(|b| !b.is_empty()) {
        h.negative_spans = vec![Span {
            offset: n_offset,
            length: b.len() as u32,
        }];
        h.negative_buckets = b;
    }
    Ok(ParsedHistogram {
        histogram: h,
        hint_given,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn wire_deltas_round_trip(counts in proptest::collection::vec(0u32..1_000_000, 0..20)) {
            let counts: Vec<f64> = counts.into_iter().map(f64::from).collect();
            proptest::prop_assert_eq!(deltas_to_counts(&counts_to_deltas(&counts)), counts);
        }
    }

    #[test]
    fn wire_layout_checks() {
        let spans = [Span {
            offset: 0,
            length: 2,
        }];
        assert!(
            check_wire_layout(0, false, [("positive", &spans, 2), ("negative", &[], 0)]).is_ok()
        );
        let e = check_wire_layout(0, false, [("positive", &spans, 1), ("negative", &[], 0)]);
        assert_eq!(
            e.unwrap_err(),
            "positive spans describe 2 buckets but 1 are given"
        );
        let e = check_wire_layout(-53, false, [("positive", &spans, 2), ("negative", &[], 0)]);
        assert_eq!(e.unwrap_err(), "has an invalid schema -53");
        assert!(
            check_wire_layout(-53, true, [("positive", &spans, 2), ("negative", &[], 0)]).is_ok()
        );
        assert!(check_wire_layout(9, true, [("positive", &[], 0), ("negative", &[], 0)]).is_err());
    }

    #[test]
    fn integer_counts() {
        let mut h = parse_histogram("{{schema:0 count:3 sum:1.5 buckets:[1 2]}}")
            .unwrap()
            .histogram;
        assert!(h.has_integer_counts());
        h.positive_buckets[0] = 0.5;
        assert!(!h.has_integer_counts());
        h.positive_buckets[0] = 1.0;
        h.count = 1e300;
        assert!(!h.has_integer_counts());
    }

    fn h(s: &str) -> FloatHistogram {
        parse_histogram(s).unwrap().histogram
    }

    #[test]
    fn mean_switches_to_a_compensated_incremental_mean_on_overflow() {
        let texts = [
            "{{schema:0 count:1.7976931348623157e+308 sum:5.3}}",
            "{{schema:0 count:1e308 sum:1e100}}",
            "{{schema:0 count:1e-6 sum:1}}",
            "{{schema:0 count:1e-6 sum:-1e100}}",
            "{{schema:0 count:1e-6 sum:2}}",
            "{{schema:0 count:1e-6 sum:0}}",
            "{{schema:0 count:1e-6 sum:0}}",
        ];
        let all: Vec<FloatHistogram> = texts.iter().map(|t| h(t)).collect();
        let refs: Vec<&FloatHistogram> = all.iter().collect();
        let m = FloatHistogram::mean_all(&refs).unwrap().histogram;
        // The small sums survive the ±1e100 pair (Kahan), the count does not overflow.
        assert!((m.sum - 8.3 / 7.0).abs() < 1e-12, "{}", m.sum);
        assert!(
            (m.count - 3.9967044783747367e307).abs() < 1e293,
            "{}",
            m.count
        );
        // Without overflow: the plain compensated mean.
        let small = [
            h("{{schema:0 count:2 sum:1 buckets:[1 1]}}"),
            h("{{schema:0 count:4 sum:3 buckets:[3 1]}}"),
        ];
        let m = FloatHistogram::mean_all(&[&small[0], &small[1]])
            .unwrap()
            .histogram;
        assert_eq!(
            (m.count, m.sum, m.positive_buckets.clone()),
            (3.0, 2.0, vec![2.0, 1.0])
        );
    }

    #[test]
    fn notation_round_trip() {
        let a = h("{{schema:1 sum:-0.3 count:3.1 z_bucket:7.1 z_bucket_w:0.05 buckets:[5.1 10 7] offset:-3 n_buckets:[4.1 5] n_offset:-5 counter_reset_hint:gauge}}");
        assert_eq!(a.schema, 1);
        assert_eq!(a.positive(), vec![(-3, 5.1), (-2, 10.0), (-1, 7.0)]);
        assert_eq!(a.negative(), vec![(-5, 4.1), (-4, 5.0)]);
        assert_eq!(h(&a.to_string()), a);
        assert!(parse_histogram("{{sum:1 sum:2}}").is_err());
    }

    #[test]
    fn add_reduces_schema_and_sub_scales() {
        let a = h("{{schema:1 count:4 sum:5 buckets:[1 1 1 1]}}");
        let b = h("{{schema:0 count:2 sum:1 buckets:[1 1]}}");
        let s = a.add(&b).unwrap();
        assert_eq!(s.schema, 0);
        // Schema-1 indexes 0,1,2,3 → schema-0 indexes 0,1,1,2.
        assert_eq!(s.positive(), vec![(0, 2.0), (1, 3.0), (2, 1.0)]);
        assert_eq!(s.count, 6.0);
        let d = s.sub(&b).unwrap().mul(2.0);
        assert_eq!(d.positive(), vec![(0, 2.0), (1, 4.0), (2, 2.0)]);
        assert!(b.detect_reset(&s));
        assert!(!s.detect_reset(&b));
    }

    #[test]
    fn bounds() {
        assert_eq!(exponential_upper_bound(1, 0), 2.0);
        assert_eq!(exponential_upper_bound(-1, 0), 0.5);
        assert_eq!(exponential_upper_bound(1, -1), 4.0);
        assert!((exponential_upper_bound(1, 1) - 2f64.sqrt()).abs() < 1e-15);
        let c = h("{{schema:-53 count:3 custom_values:[1 2] buckets:[1 1 1]}}");
        let b = c.buckets();
        assert_eq!(b.len(), 3);
        assert_eq!(b[2].upper, f64::INFINITY);
    }
}

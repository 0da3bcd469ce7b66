//! Remote-Write 1.0 bodies straight into an append batch: one pass over the decompressed
//! protobuf writes each series' labels (in the TSDB's encoded label layout) and its samples into
//! a reused `EncodedSeriesBatch`, with no `WriteRequest`/`TimeSeries`/`Labels` in between, so
//! the store finds known series by their label bytes. It takes the common request only (series
//! of labels and float samples); for any other (exemplars, native histograms, metadata) and for
//! anything prost or `remote_write::to_batch` would refuse it answers `None`, and the caller
//! decodes the body with prost as before, so answers and error messages stay word for word.
//! Follows prost's wire rules (last scalar wins, unknown fields and groups skipped, nesting
//! limit 100, strings UTF-8, lengths within the message); `tests` check it against prost on
//! generated, truncated and mutated bodies.

use super::json::ApiError;
use model::storage::EncodedSeriesBatch;
use model::Sample;
use parking_lot::Mutex;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const SGROUP: u8 = 3;
const EGROUP: u8 = 4;
const FIXED32: u8 = 5;

/// prost's nesting budget (`RECURSION_LIMIT`) left for the fields of a `WriteRequest`; each
/// message or group level down takes one.
const TOP_BUDGET: u32 = 100;

/// A cursor over one message's bytes; `None` is "not taken here" (an error or another shape).
struct Rd<'a>(&'a [u8]);

impl<'a> Rd<'a> {
    fn varint(&mut self) -> Option<u64> {
        let (&first, rest) = self.0.split_first()?;
        if first < 0x80 {
            self.0 = rest;
            return Some(u64::from(first));
        }
        let mut v = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self.0.split_first()?;
            self.0 = rest;
            if i == 9 && byte > 1 {
                return None;
            }
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// The next field's number and wire type (prost's `decode_key` checks).
    fn key(&mut self) -> Option<(u32, u8)> {
        let k = self.varint()?;
        let field = u32::try_from(k >> 3).ok().filter(|&f| f > 0)?;
        let wt = (k & 7) as u8;
        (k <= u64::from(u32::MAX) && wt <= FIXED32).then_some((field, wt))
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok().filter(|&n| n <= self.0.len())?;
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// A length-delimited field's bytes (`wt` must be LEN).
    fn delimited(&mut self, wt: u8) -> Option<&'a [u8]> {
        if wt != LEN {
            return None;
        }
        let n = self.varint()?;
        self.take(n)
    }

    fn string(&mut self, wt: u8) -> Option<&'a str> {
        std::str::from_utf8(self.delimited(wt)?).ok()
    }

    /// Skips an unknown field as prost's `skip_field` does (groups to their end tag).
    fn skip(&mut self, field: u32, wt: u8, budget: u32) -> Option<()> {
        if budget == 0 {
            return None;
        }
        match wt {
            VARINT => {
                self.varint()?;
            }
            FIXED64 => {
                self.take(8)?;
            }
            LEN => {
                let n = self.varint()?;
                self.take(n)?;
            }
            FIXED32 => {
                self.take(4)?;
            }
            SGROUP => loop {
                let (f, w) = self.key()?;
                if w == EGROUP {
                    if f != field {
                        return None;
                    }
                    break;
                }
                self.skip(f, w, budget - 1)?;
            },
            _ => return None,
        }
        Some(())
    }
}

/// Decodes a decompressed `WriteRequest` into `out` (cleared first); `None` when the request is
/// not one of labels and float samples only, or is invalid (then `out` holds garbage).
pub fn decode(raw: &[u8], out: &mut EncodedSeriesBatch) -> Option<()> {
    out.clear();
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut r = Rd(raw);
    while !r.0.is_empty() {
        let (f, wt) = r.key()?;
        match f {
            1 => time_series(r.delimited(wt)?, out, &mut pairs)?,
            // Metadata: the prost path.
            3 => return None,
            _ => r.skip(f, wt, TOP_BUDGET)?,
        }
    }
    Some(())
}

/// One `TimeSeries`: its labels checked as `to_batch` checks them, sorted, encoded.
fn time_series<'a>(
    m: &'a [u8],
    out: &mut EncodedSeriesBatch,
    pairs: &mut Vec<(&'a str, &'a str)>,
) -> Option<()> {
    let budget = TOP_BUDGET - 1;
    pairs.clear();
    let (labels, samples) = out.open_series();
    let mut r = Rd(m);
    while !r.0.is_empty() {
        let (f, wt) = r.key()?;
        match f {
            1 => pairs.push(label(r.delimited(wt)?, budget - 1)?),
            2 => samples.push(sample(r.delimited(wt)?, budget - 1)?),
            // Exemplars and native histograms: the prost path.
            3 | 4 => return None,
            _ => r.skip(f, wt, budget)?,
        }
    }
    if !pairs.windows(2).all(|w| w[0].0 < w[1].0) {
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
    }
    if pairs.iter().any(|p| p.0.is_empty()) {
        return None;
    }
    // Empty values mean "no such label", as in `Labels::from_pairs`.
    for &(name, value) in pairs.iter().filter(|p| !p.1.is_empty()) {
        EncodedSeriesBatch::encode_label(labels, name, value);
    }
    match out.pending() {
        (0, _) => None,
        // A series without samples adds nothing (its labels were still checked).
        (_, 0) => {
            out.discard_series();
            Some(())
        }
        _ => {
            out.finish_series();
            Some(())
        }
    }
}

/// A `Label`: (name, value), the last of each field winning.
fn label(m: &[u8], budget: u32) -> Option<(&str, &str)> {
    let (mut name, mut value) = ("", "");
    let mut r = Rd(m);
    while !r.0.is_empty() {
        let (f, wt) = r.key()?;
        match f {
            1 => name = r.string(wt)?,
            2 => value = r.string(wt)?,
            _ => r.skip(f, wt, budget)?,
        }
    }
    Some((name, value))
}

/// A `Sample`: value (double) and timestamp (int64), the last of each field winning.
fn sample(m: &[u8], budget: u32) -> Option<Sample> {
    let mut s = Sample { t: 0, v: 0.0 };
    let mut r = Rd(m);
    while !r.0.is_empty() {
        let (f, wt) = r.key()?;
        match (f, wt) {
            (1, FIXED64) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(r.take(8)?);
                s.v = f64::from_le_bytes(b);
            }
            (2, VARINT) => s.t = r.varint()? as i64,
            (1 | 2, _) => return None,
            _ => r.skip(f, wt, budget)?,
        }
    }
    Some(s)
}

/// Decoded batches kept for reuse (their buffers), a few at most.
static POOL: Mutex<Vec<EncodedSeriesBatch>> = parking_lot::const_mutex(Vec::new());

thread_local! {
    /// The decompressed body (one per thread, reused).
    static RAW: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Decompresses a Remote-Write 1.0 body and decodes it when it is the common request (`decode`);
/// `Ok(None)` = decode it with prost. Snappy errors are `remote_write::decompress`'s.
pub fn decode_body(body: &[u8]) -> Result<Option<EncodedSeriesBatch>, ApiError> {
    RAW.with_borrow_mut(|raw| {
        super::remote_write::decompress_into(body, raw)?;
        let mut batch = POOL.lock().pop().unwrap_or_default();
        let taken = decode(raw, &mut batch).is_some();
        // Keep the thread's buffer unless one request made it large.
        if raw.capacity() > 16 << 20 {
            *raw = Vec::new();
        }
        if taken {
            Ok(Some(batch))
        } else {
            recycle(batch);
            Ok(None)
        }
    })
}

/// Returns a batch's buffers to the pool (unless large or the pool is full): at most one per
/// concurrent sender of a typical deployment, so little memory stays held.
pub fn recycle(mut batch: EncodedSeriesBatch) {
    if batch.capacity_bytes() > 16 << 20 {
        return;
    }
    batch.clear();
    let mut pool = POOL.lock();
    if pool.len() < 4 {
        pool.push(batch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prometheus::remote_write::{self as rw, to_batch, WriteRequest};
    use model::fuzzing::{cases, mutate};
    use model::Labels;
    use proptest::prelude::*;
    use prost::Message;

    /// Series with comparable samples (NaN payloads kept as bits).
    type Floats = Vec<(Labels, Vec<(i64, u64)>)>;

    fn floats(series: Vec<model::Series>) -> Floats {
        series
            .into_iter()
            .map(|s| {
                let points = s.samples.iter().map(|p| (p.t, p.v.to_bits())).collect();
                (s.labels, points)
            })
            .collect()
    }

    /// The prost path: the float series (or the error message it answers), and whether the
    /// request holds anything else (exemplars, histograms, metadata).
    fn via_prost(raw: &[u8]) -> Result<(Floats, bool), String> {
        let req = WriteRequest::decode(raw).map_err(|e| format!("protobuf decode error: {e}"))?;
        let extra = !req.metadata.is_empty()
            || req
                .timeseries
                .iter()
                .any(|t| !t.exemplars.is_empty() || !t.histograms.is_empty());
        let (series, _) = to_batch(req).map_err(|e| e.message)?;
        Ok((floats(series), extra))
    }

    /// What the receiver does (direct, else prost) against prost alone: the direct decoder
    /// takes exactly the valid float-only requests, with the same series and samples.
    fn check(raw: &[u8]) {
        let mut b = EncodedSeriesBatch::default();
        let direct = decode(raw, &mut b).map(|()| floats(b.to_series()));
        let prost = via_prost(raw);
        match direct {
            Some(series) => assert_eq!(prost, Ok((series, false)), "body {raw:?}"),
            None => assert!(
                !matches!(prost, Ok((_, false))),
                "direct refused a float-only body prost takes: {raw:?}"
            ),
        }
    }

    fn request() -> impl Strategy<Value = WriteRequest> {
        let names = prop::sample::select(vec!["__name__", "job", "instance", "a", "", "é"]);
        let values = prop::sample::select(vec!["up", "x", "", "ü", "host-7:9100"]);
        let label = (names, values).prop_map(|(n, v)| rw::Label {
            name: n.into(),
            value: v.into(),
        });
        let sample = (any::<f64>(), any::<i64>())
            .prop_map(|(value, timestamp)| rw::WireSample { value, timestamp });
        let series = (
            prop::collection::vec(label, 0..5),
            prop::collection::vec(sample, 0..4),
            0..10u8,
        )
            .prop_map(|(labels, samples, extra)| rw::TimeSeries {
                exemplars: if extra == 0 {
                    vec![rw::Exemplar::default()]
                } else {
                    Vec::new()
                },
                histograms: if extra == 1 {
                    vec![rw::Histogram::default()]
                } else {
                    Vec::new()
                },
                labels,
                samples,
            });
        (prop::collection::vec(series, 0..5), 0..10u8).prop_map(|(timeseries, m)| WriteRequest {
            timeseries,
            metadata: if m == 0 {
                vec![rw::MetricMetadata::default()]
            } else {
                Vec::new()
            },
        })
    }

    fn key(out: &mut Vec<u8>, field: u32, wt: u8) {
        prost::encoding::encode_varint(u64::from(field) << 3 | u64::from(wt), out);
    }

    /// `depth` nested groups of field 9 (an unknown field everywhere).
    fn groups(depth: usize) -> Vec<u8> {
        let mut b = Vec::new();
        for _ in 0..depth {
            key(&mut b, 9, SGROUP);
        }
        for _ in 0..depth {
            key(&mut b, 9, EGROUP);
        }
        b
    }

    fn delimited(out: &mut Vec<u8>, field: u32, m: &[u8]) {
        key(out, field, LEN);
        prost::encoding::encode_varint(m.len() as u64, out);
        out.extend_from_slice(m);
    }

    #[test]
    fn takes_the_common_request() {
        let l = |n: &str, v: &str| rw::Label {
            name: n.into(),
            value: v.into(),
        };
        let req = WriteRequest {
            timeseries: vec![rw::TimeSeries {
                labels: vec![l("job", "node"), l("__name__", "up"), l("empty", "")],
                samples: vec![rw::WireSample {
                    value: 1.5,
                    timestamp: 1000,
                }],
                ..Default::default()
            }],
            metadata: Vec::new(),
        };
        let raw = req.encode_to_vec();
        let mut b = EncodedSeriesBatch::default();
        assert!(decode(&raw, &mut b).is_some());
        let series = b.to_series();
        assert_eq!(series.len(), 1);
        assert_eq!(
            series[0].labels,
            Labels::from_pairs([("__name__", "up"), ("job", "node")])
        );
        check(&raw);
    }

    #[test]
    fn unknown_fields_groups_and_nesting_limit_as_prost() {
        let mut label = Vec::new();
        delimited(&mut label, 1, b"__name__");
        delimited(&mut label, 2, b"up");
        let mut sample = Vec::new();
        key(&mut sample, 1, FIXED64);
        sample.extend_from_slice(&2.5f64.to_le_bytes());
        key(&mut sample, 2, VARINT);
        sample.push(7);
        for depth in [0, 1, 96, 97, 98, 99, 100, 101] {
            let g = groups(depth);
            // In the request, in a series, in a label and in a sample.
            for at in 0..4 {
                let (mut l, mut s) = (label.clone(), sample.clone());
                let mut ts = Vec::new();
                if at == 2 {
                    l.extend_from_slice(&g);
                }
                if at == 3 {
                    s.extend_from_slice(&g);
                }
                delimited(&mut ts, 1, &l);
                delimited(&mut ts, 2, &s);
                if at == 1 {
                    ts.extend_from_slice(&g);
                }
                let mut raw = Vec::new();
                delimited(&mut raw, 1, &ts);
                if at == 0 {
                    raw.extend_from_slice(&g);
                }
                check(&raw);
            }
        }
        // A scalar given twice (the last wins), a wrong wire type, a mismatched end group.
        let mut s = sample.clone();
        key(&mut s, 2, VARINT);
        s.push(9);
        let mut ts = Vec::new();
        delimited(&mut ts, 1, &label);
        delimited(&mut ts, 2, &s);
        let mut raw = Vec::new();
        delimited(&mut raw, 1, &ts);
        check(&raw);
        let mut b = EncodedSeriesBatch::default();
        assert!(decode(&raw, &mut b).is_some());
        assert_eq!(b.to_series()[0].samples[0].t, 9);
        for bad in [vec![8u8, 1], vec![0x0b, 0x14], vec![0x0a, 5, 1]] {
            check(&bad);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases(512)))]

        #[test]
        fn same_as_prost_on_generated_bodies(req in request()) {
            check(&req.encode_to_vec());
        }

        #[test]
        fn same_as_prost_on_truncated_bodies(req in request(), cut in any::<prop::sample::Index>()) {
            let raw = req.encode_to_vec();
            check(&raw[..cut.index(raw.len() + 1)]);
        }

        #[test]
        fn same_as_prost_on_mutated_bodies(
            req in request(),
            edits in prop::collection::vec(any::<(usize, u8, u8)>(), 1..8),
        ) {
            check(&mutate(&req.encode_to_vec(), &edits));
        }

        #[test]
        fn same_as_prost_on_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..300)) {
            check(&b);
        }
    }
}

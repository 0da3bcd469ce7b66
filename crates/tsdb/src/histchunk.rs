//! The compressed encoding of native-histogram samples, after the ideas of Prometheus'
//! histogram chunks (`tsdb/chunkenc/histogram.go`), in pharos' own bit layout. Samples are
//! written one after the other into a bit stream by an `Encoder` that remembers the previous
//! sample, and read back by a `Decoder` that mirrors it:
//!
//! - the bucket layout (schema, zero threshold, spans, bucket counts per side, custom bounds)
//!   and the kind (integer or float counts) are written once, and again only when they change
//!   (a one-bit flag per sample says so; memory chunks are cut there instead);
//! - timestamps: the first in full, then the delta, then delta-of-delta, as varbit integers;
//! - integer histograms (Prometheus' `Histogram`): count, zero count and each bucket as a
//!   delta-of-delta varbit integer (the first sample's buckets as deltas between neighbours);
//! - float histograms (`FloatHistogram`): count, zero count and each bucket XOR-compressed
//!   against the same value of the previous sample, as Gorilla does for floats;
//! - the sum is always XOR-compressed; the counter-reset hint costs one bit unless it changes.
//!
//! Used for the in-memory chunks of `histograms`, record by record for its log, and for the
//! histogram chunks of blocks (chunk encoding 2, see `block`).

use crate::encoding::Corrupt;
use model::histogram::{CounterResetHint, FloatHistogram, Span};
use model::HistogramSample;

/// Appends bits to a byte buffer, most significant bit first.
#[derive(Clone, Debug, Default)]
pub struct BitWriter {
    pub buf: Vec<u8>,
    /// Bits used in the last byte (0: the buffer ends on a byte boundary).
    used: u8,
}

impl BitWriter {
    pub fn bit(&mut self, b: bool) {
        if self.used == 0 {
            self.buf.push(0);
        }
        if b {
            if let Some(last) = self.buf.last_mut() {
                *last |= 0x80 >> self.used;
            }
        }
        self.used = (self.used + 1) % 8;
    }

    /// The low `n` bits of `v` (n <= 64).
    pub fn bits(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    /// Bytes written so far (the last one possibly part-filled).
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Reads bits written by `BitWriter`; running past the end is `Corrupt`, never a panic.
pub struct BitReader<'a> {
    buf: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        BitReader { buf, pos: 0 }
    }

    pub fn bit(&mut self) -> Result<bool, Corrupt> {
        let byte = *self.buf.get(self.pos / 8).ok_or(Corrupt)?;
        let b = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Ok(b)
    }

    pub fn bits(&mut self, n: u32) -> Result<u64, Corrupt> {
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v)
    }

    /// Bytes consumed, counting a part-read byte as whole.
    pub fn bytes_used(&self) -> usize {
        self.pos.div_ceil(8)
    }

    fn bits_left(&self) -> usize {
        (self.buf.len() * 8).saturating_sub(self.pos)
    }
}

/// Value widths of the varbit integer encoding, after a prefix of as many 1 bits as the
/// width's position and a 0 (none after the last prefix).
const VARBIT_WIDTHS: [u32; 8] = [3, 6, 9, 12, 18, 25, 56, 64];

/// A signed integer in few bits: `0` for zero, else a prefix choosing the smallest width
/// that holds it in two's complement.
pub fn put_varbit(w: &mut BitWriter, v: i64) {
    if v == 0 {
        w.bit(false);
        return;
    }
    for (i, &n) in VARBIT_WIDTHS.iter().enumerate() {
        let fits = n == 64 || (-(1i64 << (n - 1))..(1i64 << (n - 1))).contains(&v);
        if fits {
            for _ in 0..=i {
                w.bit(true);
            }
            if i + 1 < VARBIT_WIDTHS.len() {
                w.bit(false);
            }
            w.bits(v as u64, n);
            return;
        }
    }
}

pub fn get_varbit(r: &mut BitReader<'_>) -> Result<i64, Corrupt> {
    if !r.bit()? {
        return Ok(0);
    }
    let mut i = 0;
    while i + 1 < VARBIT_WIDTHS.len() && r.bit()? {
        i += 1;
    }
    let n = VARBIT_WIDTHS[i];
    let raw = r.bits(n)?;
    // Sign-extend the n-bit two's complement value.
    Ok(if n == 64 {
        raw as i64
    } else {
        ((raw << (64 - n)) as i64) >> (64 - n)
    })
}

/// Gorilla's XOR compression state of one float series.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Xor {
    prev: u64,
    /// Leading and trailing zeros of the last written window; `None` before the first.
    window: Option<(u32, u32)>,
}

impl Xor {
    fn put(&mut self, w: &mut BitWriter, v: f64) {
        let bits = v.to_bits();
        let x = bits ^ self.prev;
        self.prev = bits;
        if x == 0 {
            w.bit(false);
            return;
        }
        w.bit(true);
        let leading = x.leading_zeros().min(31);
        let trailing = x.trailing_zeros();
        if let Some((l, t)) = self.window {
            if leading >= l && trailing >= t {
                w.bit(false);
                w.bits(x >> t, 64 - l - t);
                return;
            }
        }
        w.bit(true);
        let sig = 64 - leading - trailing;
        w.bits(u64::from(leading), 5);
        // 64 significant bits are written as 0 (a window is never empty).
        w.bits(u64::from(sig % 64), 6);
        w.bits(x >> trailing, sig);
        self.window = Some((leading, trailing));
    }

    fn get(&mut self, r: &mut BitReader<'_>) -> Result<f64, Corrupt> {
        if r.bit()? {
            let (l, t) = if r.bit()? {
                let l = r.bits(5)? as u32;
                let sig = match r.bits(6)? as u32 {
                    0 => 64,
                    s => s,
                };
                let t = 64u32.checked_sub(l + sig).ok_or(Corrupt)?;
                self.window = Some((l, t));
                (l, t)
            } else {
                self.window.ok_or(Corrupt)?
            };
            let x = r.bits(64 - l - t)?;
            self.prev ^= x.checked_shl(t).unwrap_or(0);
        }
        Ok(f64::from_bits(self.prev))
    }
}

/// What is written once per layout: it changes rarely, the values every sample.
#[derive(Clone, Debug, Default, PartialEq)]
struct Layout {
    integer: bool,
    schema: i32,
    zero_threshold: u64,
    positive_spans: Vec<Span>,
    negative_spans: Vec<Span>,
    positive_len: usize,
    negative_len: usize,
    custom_values: Vec<u64>,
}

impl Layout {
    fn of(s: &HistogramSample) -> Layout {
        let h = &s.h;
        Layout {
            integer: s.integer && h.has_integer_counts(),
            schema: h.schema,
            zero_threshold: h.zero_threshold.to_bits(),
            positive_spans: h.positive_spans.clone(),
            negative_spans: h.negative_spans.clone(),
            positive_len: h.positive_buckets.len(),
            negative_len: h.negative_buckets.len(),
            custom_values: h.custom_values.iter().map(|v| v.to_bits()).collect(),
        }
    }

    fn put(&self, w: &mut BitWriter) {
        w.bit(self.integer);
        put_varbit(w, i64::from(self.schema));
        w.bits(self.zero_threshold, 64);
        for spans in [&self.positive_spans, &self.negative_spans] {
            put_varbit(w, spans.len() as i64);
            for s in spans {
                put_varbit(w, i64::from(s.offset));
                put_varbit(w, i64::from(s.length));
            }
        }
        put_varbit(w, self.positive_len as i64);
        put_varbit(w, self.negative_len as i64);
        put_varbit(w, self.custom_values.len() as i64);
        for v in &self.custom_values {
            w.bits(*v, 64);
        }
    }

    fn get(r: &mut BitReader<'_>) -> Result<Layout, Corrupt> {
        // A list length is bounded by the bits left: each item takes at least one.
        fn len(r: &mut BitReader<'_>) -> Result<usize, Corrupt> {
            let n = usize::try_from(get_varbit(r)?).map_err(|_| Corrupt)?;
            if n > r.bits_left() {
                return Err(Corrupt);
            }
            Ok(n)
        }
        let integer = r.bit()?;
        let schema = i32::try_from(get_varbit(r)?).map_err(|_| Corrupt)?;
        let zero_threshold = r.bits(64)?;
        let mut sides = [Vec::new(), Vec::new()];
        for spans in sides.iter_mut() {
            for _ in 0..len(r)? {
                let offset = i32::try_from(get_varbit(r)?).map_err(|_| Corrupt)?;
                let length = u32::try_from(get_varbit(r)?).map_err(|_| Corrupt)?;
                spans.push(Span { offset, length });
            }
        }
        let [positive_spans, negative_spans] = sides;
        let positive_len = len(r)?;
        let negative_len = len(r)?;
        let n = len(r)?;
        let mut custom_values = Vec::with_capacity(n);
        for _ in 0..n {
            custom_values.push(r.bits(64)?);
        }
        Ok(Layout {
            integer,
            schema,
            zero_threshold,
            positive_spans,
            negative_spans,
            positive_len,
            negative_len,
            custom_values,
        })
    }

    fn buckets(&self) -> usize {
        self.positive_len + self.negative_len
    }
}

/// Delta-of-delta state of one integer series (timestamps, integer counts).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Dod {
    prev: i64,
    delta: i64,
}

impl Dod {
    /// The number to write for `v`, `n` values after the state was reset.
    fn encode(&mut self, v: i64, n: u32) -> i64 {
        let out = match n {
            0 => v,
            1 => v.wrapping_sub(self.prev),
            _ => v.wrapping_sub(self.prev).wrapping_sub(self.delta),
        };
        if n > 0 {
            self.delta = v.wrapping_sub(self.prev);
        }
        self.prev = v;
        out
    }

    fn decode(&mut self, x: i64, n: u32) -> i64 {
        let v = match n {
            0 => x,
            1 => self.prev.wrapping_add(x),
            _ => self.prev.wrapping_add(self.delta).wrapping_add(x),
        };
        if n > 0 {
            self.delta = v.wrapping_sub(self.prev);
        }
        self.prev = v;
        v
    }
}

/// The state both sides keep: the previous sample, reduced to what the next one is coded
/// against. Encoder and decoder hold equal states after each sample.
#[derive(Clone, Debug, Default, PartialEq)]
struct State {
    /// Samples so far (timestamps never restart).
    n_time: u32,
    time: Dod,
    layout: Option<Layout>,
    /// Samples since the layout was written.
    n: u32,
    hint: u8,
    sum: Xor,
    /// Integer counts: count, zero count, then each bucket (positive, negative).
    ints: Vec<Dod>,
    /// Float counts, in the same order.
    floats: Vec<Xor>,
}

fn hint_code(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

fn hint_of(code: u8) -> CounterResetHint {
    match code {
        1 => CounterResetHint::CounterReset,
        2 => CounterResetHint::NotCounterReset,
        3 => CounterResetHint::Gauge,
        _ => CounterResetHint::Unknown,
    }
}

/// Writes samples (see the module documentation).
#[derive(Clone, Debug, Default)]
pub struct Encoder {
    st: State,
}

impl Encoder {
    /// Whether `s` would write a new layout (memory chunks cut there).
    pub fn layout_changes(&self, s: &HistogramSample) -> bool {
        self.st.layout.as_ref() != Some(&Layout::of(s))
    }

    pub fn put(&mut self, w: &mut BitWriter, s: &HistogramSample) {
        let st = &mut self.st;
        let layout = Layout::of(s);
        let h = &s.h;
        if st.layout.as_ref() == Some(&layout) {
            w.bit(false);
        } else {
            w.bit(true);
            layout.put(w);
            st.n = 0;
            st.sum = Xor::default();
            st.ints = vec![Dod::default(); 2 + layout.buckets()];
            st.floats = vec![Xor::default(); 2 + layout.buckets()];
            st.layout = Some(layout);
        }
        let code = hint_code(h.counter_reset_hint);
        if code == st.hint {
            w.bit(false);
        } else {
            w.bit(true);
            w.bits(u64::from(code), 2);
            st.hint = code;
        }
        put_varbit(w, st.time.encode(s.t, st.n_time));
        st.n_time = st.n_time.saturating_add(1);
        st.sum.put(w, h.sum);
        let values = [h.count, h.zero_count]
            .into_iter()
            .chain(h.positive_buckets.iter().copied())
            .chain(h.negative_buckets.iter().copied());
        let integer = st.layout.as_ref().is_some_and(|l| l.integer);
        let first_bucket = [2, 2 + h.positive_buckets.len()];
        let mut prev_bucket = 0i64;
        for (i, v) in values.enumerate() {
            if integer {
                let v = v as i64;
                let mut x = st.ints[i].encode(v, st.n);
                if st.n == 0 && i >= 2 {
                    // First sample: a bucket as the delta to its neighbour (counts of
                    // neighbouring buckets are alike, their absolute values large).
                    if first_bucket.contains(&i) {
                        prev_bucket = 0;
                    }
                    x = v.wrapping_sub(prev_bucket);
                    prev_bucket = v;
                }
                put_varbit(w, x);
            } else {
                st.floats[i].put(w, v);
            }
        }
        st.n = st.n.saturating_add(1);
    }
}

/// Reads samples written by `Encoder`.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    st: State,
}

impl Decoder {
    /// An encoder that continues where this decoder's stream ended.
    pub fn into_encoder(self) -> Encoder {
        Encoder { st: self.st }
    }

    pub fn get(&mut self, r: &mut BitReader<'_>) -> Result<HistogramSample, Corrupt> {
        let st = &mut self.st;
        if r.bit()? {
            let layout = Layout::get(r)?;
            st.n = 0;
            st.sum = Xor::default();
            st.ints = vec![Dod::default(); 2 + layout.buckets()];
            st.floats = vec![Xor::default(); 2 + layout.buckets()];
            st.layout = Some(layout);
        }
        let layout = st.layout.as_ref().ok_or(Corrupt)?;
        if r.bit()? {
            st.hint = r.bits(2)? as u8;
        }
        let t = st.time.decode(get_varbit(r)?, st.n_time);
        st.n_time = st.n_time.saturating_add(1);
        let sum = st.sum.get(r)?;
        let first_bucket = [2, 2 + layout.positive_len];
        let mut values = Vec::with_capacity(2 + layout.buckets());
        let mut prev_bucket = 0i64;
        for i in 0..2 + layout.buckets() {
            if layout.integer {
                let x = get_varbit(r)?;
                let v = if st.n == 0 && i >= 2 {
                    if first_bucket.contains(&i) {
                        prev_bucket = 0;
                    }
                    let v = prev_bucket.wrapping_add(x);
                    prev_bucket = v;
                    st.ints[i].decode(v, 0)
                } else {
                    st.ints[i].decode(x, st.n)
                };
                values.push(v as f64);
            } else {
                values.push(st.floats[i].get(r)?);
            }
        }
        st.n = st.n.saturating_add(1);
        let negative_buckets = values.split_off(2 + layout.positive_len);
        let positive_buckets = values.split_off(2);
        Ok(HistogramSample {
            t,
            integer: layout.integer,
            h: FloatHistogram {
                counter_reset_hint: hint_of(st.hint),
                schema: layout.schema,
                zero_threshold: f64::from_bits(layout.zero_threshold),
                zero_count: values[1],
                count: values[0],
                sum,
                positive_spans: layout.positive_spans.clone(),
                positive_buckets,
                negative_spans: layout.negative_spans.clone(),
                negative_buckets,
                custom_values: layout
                    .custom_values
                    .iter()
                    .map(|v| f64::from_bits(*v))
                    .collect(),
            },
        })
    }
}

/// Samples a memory chunk holds before a new one is cut (as Prometheus' head).
pub const CHUNK_SAMPLES: u16 = 120;

/// A run of one series' samples in one bit stream, with a single layout.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    pub min_t: i64,
    pub max_t: i64,
    pub samples: u16,
    bits: BitWriter,
    /// Kept while the chunk is open (the newest of its series).
    enc: Option<Box<Encoder>>,
}

impl Chunk {
    /// Whether `s` belongs in a new chunk (this one is full, or the layout changed).
    pub fn must_cut(&self, s: &HistogramSample) -> bool {
        match &self.enc {
            Some(enc) => self.samples >= CHUNK_SAMPLES || enc.layout_changes(s),
            None => true,
        }
    }

    pub fn new() -> Chunk {
        Chunk {
            enc: Some(Box::default()),
            ..Chunk::default()
        }
    }

    pub fn push(&mut self, s: &HistogramSample) {
        let enc = self.enc.get_or_insert_with(Box::default);
        enc.put(&mut self.bits, s);
        if self.samples == 0 {
            self.min_t = s.t;
        }
        self.max_t = s.t;
        self.samples += 1;
    }

    /// Closes the chunk: the encoder state goes, the bytes shrink to fit.
    pub fn close(&mut self) {
        self.enc = None;
        self.bits.buf.shrink_to_fit();
    }

    /// Bytes of the bit stream.
    pub fn bytes(&self) -> usize {
        self.bits.len()
    }

    /// The chunk's samples in `[mint, maxt]`, appended to `out`.
    pub fn read(&self, mint: i64, maxt: i64, out: &mut Vec<HistogramSample>) {
        read_bytes(&self.bits.buf, self.samples, mint, maxt, out);
    }

    /// The encoded bit stream (self-contained: it decodes from a fresh `Decoder`), as a block
    /// stores it.
    pub fn data(&self) -> &[u8] {
        &self.bits.buf
    }

    /// A closed chunk of `samples` samples from an encoded bit stream (a block's chunk).
    pub fn from_data(data: Vec<u8>, samples: u16, min_t: i64, max_t: i64) -> Chunk {
        // Closed: nothing is appended to it, so the fill of the last byte does not matter.
        let bits = BitWriter { buf: data, used: 0 };
        Chunk {
            min_t,
            max_t,
            samples,
            bits,
            enc: None,
        }
    }

    /// Encodes samples (in time order) into chunks of at most `CHUNK_SAMPLES`, cut where the
    /// layout changes, all closed.
    pub fn encode_all<'a>(samples: impl IntoIterator<Item = &'a HistogramSample>) -> Vec<Chunk> {
        let mut out: Vec<Chunk> = Vec::new();
        for s in samples {
            if out.last().is_none_or(|c| c.must_cut(s)) {
                if let Some(c) = out.last_mut() {
                    c.close();
                }
                out.push(Chunk::new());
            }
            if let Some(c) = out.last_mut() {
                c.push(s);
            }
        }
        if let Some(c) = out.last_mut() {
            c.close();
        }
        out
    }
}

/// The samples in `[mint, maxt]` of an encoded chunk of `count` samples, appended to `out`.
/// A corrupt stream (a damaged block file) ends the chunk; it never panics.
pub fn read_bytes(data: &[u8], count: u16, mint: i64, maxt: i64, out: &mut Vec<HistogramSample>) {
    let mut r = BitReader::new(data);
    let mut dec = Decoder::default();
    for _ in 0..count {
        let Ok(s) = dec.get(&mut r) else {
            break;
        };
        if s.t > maxt {
            break;
        }
        if s.t >= mint {
            out.push(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varbits_round_trip(v in proptest::collection::vec(any::<i64>(), 0..20), small in -300i64..300) {
            let mut w = BitWriter::default();
            for x in &v {
                put_varbit(&mut w, *x);
            }
            put_varbit(&mut w, small);
            let mut r = BitReader::new(&w.buf);
            for x in &v {
                prop_assert_eq!(get_varbit(&mut r).unwrap(), *x);
            }
            prop_assert_eq!(get_varbit(&mut r).unwrap(), small);
        }
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            (0u32..1000).prop_map(f64::from),
            any::<f64>(),
            Just(f64::NAN),
            Just(model::stale_nan()),
            Just(f64::INFINITY),
            Just(-0.0),
        ]
    }

    fn spans() -> impl Strategy<Value = Vec<Span>> {
        proptest::collection::vec((-5i32..5, 0u32..4), 0..3).prop_map(|v| {
            v.into_iter()
                .map(|(offset, length)| Span { offset, length })
                .collect()
        })
    }

    prop_compose! {
        fn sample()(
            t in -5_000i64..5_000,
            integer in any::<bool>(),
            hint in 0u8..4,
            schema in prop_oneof![-4i32..=8, Just(-53)],
            zt in prop_oneof![Just(0.0), Just(1e-128), any::<f64>()],
            vals in proptest::collection::vec(value(), 4),
            ps in spans(),
            ns in spans(),
            pb in proptest::collection::vec(value(), 0..8),
            nb in proptest::collection::vec(value(), 0..4),
            cv in proptest::collection::vec(value(), 0..3),
        ) -> HistogramSample {
            HistogramSample {
                t,
                integer,
                h: FloatHistogram {
                    counter_reset_hint: hint_of(hint),
                    schema,
                    zero_threshold: zt,
                    zero_count: vals[0],
                    count: vals[1],
                    sum: vals[2],
                    positive_spans: ps,
                    positive_buckets: pb,
                    negative_spans: ns,
                    negative_buckets: nb,
                    custom_values: cv,
                },
            }
        }
    }

    /// Encodes the samples in one stream and decodes them back.
    fn round_trip(list: &[HistogramSample]) -> Vec<HistogramSample> {
        let mut w = BitWriter::default();
        let mut enc = Encoder::default();
        for s in list {
            enc.put(&mut w, s);
        }
        let mut r = BitReader::new(&w.buf);
        let mut dec = Decoder::default();
        list.iter().map(|_| dec.get(&mut r).unwrap()).collect()
    }

    /// Bit-exact comparison (NaNs included); an integer sample whose counts are not whole
    /// reads back as a float one.
    fn same(a: &HistogramSample, b: &HistogramSample) -> bool {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let ints = |v: &[f64]| v.iter().map(|x| *x as i64).collect::<Vec<_>>();
        let (x, y) = (&a.h, &b.h);
        let counts_same = if b.integer {
            ints(&[x.count, x.zero_count]) == ints(&[y.count, y.zero_count])
                && ints(&x.positive_buckets) == ints(&y.positive_buckets)
                && ints(&x.negative_buckets) == ints(&y.negative_buckets)
        } else {
            bits(&[x.count, x.zero_count]) == bits(&[y.count, y.zero_count])
                && bits(&x.positive_buckets) == bits(&y.positive_buckets)
                && bits(&x.negative_buckets) == bits(&y.negative_buckets)
        };
        a.t == b.t
            && b.integer == (a.integer && x.has_integer_counts())
            && counts_same
            && x.counter_reset_hint == y.counter_reset_hint
            && x.schema == y.schema
            && x.zero_threshold.to_bits() == y.zero_threshold.to_bits()
            && x.sum.to_bits() == y.sum.to_bits()
            && x.positive_spans == y.positive_spans
            && x.negative_spans == y.negative_spans
            && bits(&x.custom_values) == bits(&y.custom_values)
    }

    proptest! {
        /// Any sequence of samples, with layouts changing or not, reads back bit for bit.
        #[test]
        fn samples_round_trip(
            base in sample(),
            steps in proptest::collection::vec((any::<bool>(), 0i64..100_000, sample(), proptest::collection::vec(-5i64..20, 12)), 0..12),
        ) {
            let mut list = vec![base];
            for (keep_layout, dt, other, incs) in steps {
                let prev = list.last().unwrap().clone();
                let mut s = if keep_layout {
                    // Same layout, counts moving like a counter's (or a reset).
                    let mut s = prev.clone();
                    let mut inc = incs.into_iter().cycle();
                    let mut step = |v: &mut f64| {
                        let d = inc.next().unwrap_or(0) as f64;
                        *v = if s.integer { (*v + d).max(0.0) } else { *v + d * 0.37 };
                    };
                    step(&mut s.h.count);
                    step(&mut s.h.zero_count);
                    s.h.positive_buckets.iter_mut().for_each(&mut step);
                    s.h.negative_buckets.iter_mut().for_each(&mut step);
                    s.h.sum = other.h.sum;
                    s.h.counter_reset_hint = other.h.counter_reset_hint;
                    s
                } else {
                    other
                };
                s.t = prev.t.wrapping_add(dt);
                list.push(s);
            }
            for (s, got) in list.iter().zip(round_trip(&list)) {
                prop_assert!(same(s, &got), "{:?}\n!=\n{:?}", s, got);
            }
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut r = BitReader::new(&b);
            let mut dec = Decoder::default();
            for _ in 0..5 {
                if dec.get(&mut r).is_err() {
                    break;
                }
            }
        }
    }

    #[test]
    fn extreme_integers_round_trip() {
        let big = 9_007_199_254_740_992.0;
        let mk = |t, c: f64| HistogramSample {
            t,
            integer: true,
            h: FloatHistogram {
                count: c,
                zero_count: big - c,
                positive_spans: vec![Span {
                    offset: 0,
                    length: 2,
                }],
                positive_buckets: vec![c, big],
                ..Default::default()
            },
        };
        let list = [
            mk(i64::MIN, 0.0),
            mk(i64::MAX, big),
            mk(0, 1.0),
            mk(i64::MIN, big),
        ];
        assert_eq!(round_trip(&list), list);
    }
}

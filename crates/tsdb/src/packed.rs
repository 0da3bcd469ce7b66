//! Float chunks of persisted (`PHTSDB03`) blocks, smaller than XOR chunks on exporter data.
//!
//! Every chunk starts with its encoding byte:
//! - `ENC_PACKED` (`0x40 | IRREGULAR? | k`, one byte): timestamps and values as integer
//!   sequences, bit-packed.
//!   - Timestamps: a regular interval (nothing stored: the chunk's index entry has its first and
//!     last timestamp and its count; a time window is decoded from its first sample in it on),
//!     or with `IRREGULAR` the deltas between timestamps, packed.
//!   - Values: one decimal exponent `k` (0..=15) for the chunk and integer mantissas `m` with
//!     `value == m / 10^k` bit for bit (exporters print few digits: `12.5`, `4096`), stored as
//!     the first mantissa (zigzag varint) and the deltas between mantissas, packed.
//!   - Packed: the smallest value (zigzag varint), a bit width `w`, then every value minus the
//!     smallest at `w` bits, least significant first (a constant sequence takes two bytes).
//! - `ENC_XOR` (1): Prometheus' XOR chunk (`chunk.rs`) as is, for chunks whose values do not
//!   fit (NaN and the stale marker, ±Inf, -0.0, more than 15 decimals, magnitudes past 2^53) or
//!   would not get smaller.
//!
//! Decoding costs a shift, a mask and an add per sample (a division for decimal values) and
//! writes straight into the caller's reusable buffer.

use crate::encoding::{put_varint, Reader};
use model::Sample;

/// Prometheus' XOR chunk.
pub const ENC_XOR: u8 = 1;
/// Regular-interval or packed-delta timestamps and decimal mantissas (this module); the low
/// bits of the byte are `PACKED_FLAGS`.
pub const ENC_PACKED: u8 = 0x40;
/// Set in the encoding byte when the timestamps are irregular (packed deltas follow).
const IRREGULAR: u8 = 0x10;
/// The bits of an `ENC_PACKED` byte that are not the encoding: `IRREGULAR` and the exponent.
const PACKED_FLAGS: u8 = IRREGULAR | 0x0f;

const P10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];
/// Mantissas stay below 2^53, where every integer is an exact f64.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// `value == m / 10^k` bit for bit with `k` fixed.
#[inline]
fn mantissa(v: f64, k: usize) -> Option<i64> {
    let p = P10[k];
    let m = (v * p).round();
    if m.is_nan() || m.abs() >= EXACT {
        return None;
    }
    let back = if k == 0 { m } else { m / p };
    (back.to_bits() == v.to_bits()).then_some(m as i64)
}

/// The smallest `k` for which `v` has an exact mantissa.
fn exponent(v: f64) -> Option<usize> {
    if !v.is_finite() || v.to_bits() == (-0.0f64).to_bits() {
        return None;
    }
    (0..P10.len()).find(|&k| mantissa(v, k).is_some())
}

/// Appends `vals` packed (see the module doc). Fails when their range exceeds 64 bits.
fn put_packed(out: &mut Vec<u8>, vals: &[i64]) -> Option<()> {
    let (Some(&lo), Some(&hi)) = (vals.iter().min(), vals.iter().max()) else {
        return Some(());
    };
    let range = u64::try_from(i128::from(hi) - i128::from(lo)).ok()?;
    let width = 64 - range.leading_zeros();
    put_varint(out, lo);
    out.push(width as u8);
    if width == 0 {
        return Some(());
    }
    let (mut acc, mut bits) = (0u128, 0u32);
    for v in vals {
        acc |= u128::from(v.wrapping_sub(lo) as u64) << bits;
        bits += width;
        if bits >= 64 {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= 64;
            bits -= 64;
        }
    }
    out.extend_from_slice(&acc.to_le_bytes()[..bits.div_ceil(8) as usize]);
    Some(())
}

/// Sixteen bytes from `at` (zero past the end), little-endian.
#[inline]
fn load(b: &[u8], at: usize) -> u128 {
    if let Some(s) = b.get(at..at + 16) {
        let mut a = [0u8; 16];
        a.copy_from_slice(s);
        return u128::from_le_bytes(a);
    }
    let mut a = [0u8; 16];
    let tail = b.get(at..).unwrap_or(&[]);
    a[..tail.len().min(16)].copy_from_slice(&tail[..tail.len().min(16)]);
    u128::from_le_bytes(a)
}

/// Reads `n` packed values, calling `f` with each.
#[inline]
fn get_packed(r: &mut Reader<'_>, n: usize, mut f: impl FnMut(usize, i64)) -> Option<()> {
    if n == 0 {
        return Some(());
    }
    let lo = r.varint().ok()?;
    let width = u32::from(r.u8().ok()?);
    if width > 64 {
        return None;
    }
    if width == 0 {
        (0..n).for_each(|i| f(i, lo));
        return Some(());
    }
    let len = (n.checked_mul(width as usize)?).div_ceil(8);
    let end = r.pos.checked_add(len)?;
    let b = r.buf.get(r.pos..end)?;
    r.pos = end;
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let mut bit = 0usize;
    for i in 0..n {
        let x = (load(b, bit / 8) >> (bit % 8)) as u64 & mask;
        f(i, lo.wrapping_add(x as i64));
        bit += width as usize;
    }
    Some(())
}

/// Encodes a chunk's samples (strictly increasing timestamps from `min_t` to `max_t`) for a
/// persisted block: the encoding byte and the payload, appended to `out`. `xor` is the same
/// chunk XOR-encoded, stored instead when the samples do not fit or would not get smaller.
pub fn encode(samples: &[Sample], min_t: i64, max_t: i64, xor: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    if encode_packed(samples, min_t, max_t, out) && out.len() - start <= xor.len() {
        return;
    }
    out.truncate(start);
    out.push(ENC_XOR);
    out.extend_from_slice(xor);
}

/// Whether a chunk's first byte says `ENC_PACKED`.
pub fn is_packed(first: u8) -> bool {
    first & !PACKED_FLAGS == ENC_PACKED
}

/// Appends the `ENC_PACKED` encoding of `samples` to `out` when they fit (else leaves `out`
/// as it was and returns false).
pub fn encode_packed(samples: &[Sample], min_t: i64, max_t: i64, out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let ok = try_encode_packed(samples, min_t, max_t, out).is_some();
    if !ok {
        out.truncate(start);
    }
    ok
}

fn try_encode_packed(samples: &[Sample], min_t: i64, max_t: i64, out: &mut Vec<u8>) -> Option<()> {
    let (first, last) = (samples.first()?, samples.last()?);
    if first.t != min_t || last.t != max_t {
        return None;
    }
    let mut k = 0;
    for s in samples {
        k = k.max(exponent(s.v)?);
    }
    let n = samples.len();
    let step = if n > 1 {
        (max_t.checked_sub(min_t)?) / (n as i64 - 1)
    } else {
        0
    };
    let regular = samples.iter().enumerate().all(|(i, s)| {
        Some(s.t)
            == (i as i64)
                .checked_mul(step)
                .and_then(|o| o.checked_add(min_t))
    });
    out.push(ENC_PACKED | if regular { 0 } else { IRREGULAR } | k as u8);
    let mut ints: Vec<i64> = Vec::with_capacity(n);
    if !regular {
        for w in samples.windows(2) {
            ints.push(w[1].t.checked_sub(w[0].t)?);
        }
        put_packed(out, &ints)?;
        ints.clear();
    }
    let mut prev = 0i64;
    for (i, s) in samples.iter().enumerate() {
        let m = mantissa(s.v, k)?;
        if i == 0 {
            put_varint(out, m);
        } else {
            ints.push(m - prev);
        }
        prev = m;
    }
    put_packed(out, &ints)
}

/// Appends the samples with `mint <= t <= maxt` of a persisted chunk (`count` samples from
/// `min_t` to `max_t`, as its index entry says) to `out`. A corrupt chunk adds nothing, or for
/// XOR chunks the samples before the damage.
pub fn decode_into(
    data: &[u8],
    count: u16,
    range: (i64, i64),
    window: (i64, i64),
    out: &mut Vec<Sample>,
) {
    match data.split_first() {
        Some((&ENC_XOR, rest)) => crate::chunk::decode_into(rest, count, window.0, window.1, out),
        Some((&hdr, rest)) if is_packed(hdr) => {
            let base = out.len();
            if decode_packed(hdr, rest, count as usize, range, window, out).is_none() {
                out.truncate(base);
            }
        }
        _ => {}
    }
}

/// The first and last index of a regular chunk's samples inside `[mint, maxt]`.
fn regular_window(
    n: usize,
    min_t: i64,
    step: i64,
    (mint, maxt): (i64, i64),
) -> Option<(usize, usize)> {
    let last = n.checked_sub(1)?;
    if step <= 0 {
        return (mint <= min_t && min_t <= maxt).then_some((0, last));
    }
    let (from, to) = (i128::from(min_t), i128::from(step));
    let lo = (i128::from(mint) - from).max(0);
    let i0 = (lo + to - 1) / to;
    let hi = i128::from(maxt) - from;
    if hi < 0 {
        return None;
    }
    let i1 = (hi / to).min(last as i128);
    (i0 <= i1).then_some((i0 as usize, i1 as usize))
}

fn decode_packed(
    hdr: u8,
    data: &[u8],
    n: usize,
    (min_t, max_t): (i64, i64),
    window: (i64, i64),
    out: &mut Vec<Sample>,
) -> Option<()> {
    let mut r = Reader::new(data);
    let base = out.len();
    let k = usize::from(hdr & 0x0f);
    let p = *P10.get(k)?;
    // Samples `lo..=hi` are decoded into `out[base..]`.
    let (lo, hi) = if hdr & IRREGULAR == 0 {
        let step = if n > 1 {
            max_t.wrapping_sub(min_t) / (n as i64 - 1)
        } else {
            0
        };
        let Some((lo, hi)) = regular_window(n, min_t, step, window) else {
            return Some(());
        };
        out.extend((lo..=hi).map(|i| Sample {
            t: min_t.wrapping_add((i as i64).wrapping_mul(step)),
            v: 0.0,
        }));
        (lo, hi)
    } else {
        let last = n.checked_sub(1)?;
        out.resize(base + n, Sample { t: min_t, v: 0.0 });
        let mut t = min_t;
        let tail = &mut out[base + 1..];
        get_packed(&mut r, last, |i, d| {
            t = t.wrapping_add(d);
            tail[i].t = t;
        })?;
        (0, last)
    };
    let vals = out.get_mut(base..)?;
    let mut m = r.varint().ok()?;
    let conv = |m: i64| if k == 0 { m as f64 } else { m as f64 / p };
    if lo == 0 {
        vals[0].v = conv(m);
    }
    get_packed(&mut r, hi, |i, d| {
        m = m.wrapping_add(d);
        if i + 1 >= lo {
            vals[i + 1 - lo].v = conv(m);
        }
    })?;
    if hdr & IRREGULAR != 0 && (window.0 > min_t || window.1 < max_t) {
        let mut w = base;
        for i in base..out.len() {
            let s = out[i];
            if s.t >= window.0 && s.t <= window.1 {
                out[w] = s;
                w += 1;
            }
        }
        out.truncate(w);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::ChunkEncoder;
    use proptest::prelude::*;

    /// Encodes as a block does and decodes; returns the encoding used.
    fn round_trip(samples: &[(i64, f64)]) -> (u8, usize) {
        let mut e = ChunkEncoder::new();
        for (t, v) in samples {
            e.append(*t, *v);
        }
        let xor = e.to_chunk();
        let s: Vec<Sample> = samples.iter().map(|&(t, v)| Sample { t, v }).collect();
        let mut out = Vec::new();
        encode(&s, xor.min_t, xor.max_t, &xor.data, &mut out);
        assert!(out.len() <= xor.data.len() + 1);
        let mut got = vec![Sample { t: 7, v: 7.0 }];
        decode_into(
            &out,
            xor.count,
            (xor.min_t, xor.max_t),
            (i64::MIN, i64::MAX),
            &mut got,
        );
        assert_eq!(got.len(), samples.len() + 1, "{samples:?}");
        for (g, (t, v)) in got[1..].iter().zip(samples) {
            assert_eq!(g.t, *t);
            assert_eq!(g.v.to_bits(), v.to_bits(), "{} vs {}", g.v, v);
        }
        // A time window keeps exactly the samples inside it.
        if let (Some(a), Some(b)) = (samples.get(1), samples.get(samples.len().saturating_sub(2))) {
            for (mint, maxt) in [
                (a.0, b.0),
                (a.0.saturating_add(1), b.0.saturating_sub(1)),
                (a.0.saturating_sub(1), a.0),
                (i64::MIN, a.0.saturating_sub(1)),
                (b.0, b.0),
            ] {
                let mut part = Vec::new();
                decode_into(
                    &out,
                    xor.count,
                    (xor.min_t, xor.max_t),
                    (mint, maxt),
                    &mut part,
                );
                let want: Vec<(i64, u64)> = samples
                    .iter()
                    .filter(|s| s.0 >= mint && s.0 <= maxt)
                    .map(|s| (s.0, s.1.to_bits()))
                    .collect();
                let got: Vec<(i64, u64)> = part.iter().map(|s| (s.t, s.v.to_bits())).collect();
                assert_eq!(got, want, "window {mint}..={maxt}");
            }
        }
        (out[0], out.len())
    }

    #[test]
    fn exporter_values_are_packed_small() {
        let counter: Vec<(i64, f64)> = (0..120)
            .map(|i| {
                (
                    1_700_000_000_000 + i * 15_000,
                    1e6 + (i * 13 + i % 5) as f64,
                )
            })
            .collect();
        let (enc, len) = round_trip(&counter);
        assert!(is_packed(enc));
        // Regular timestamps cost nothing; deltas 13..17 take 3 bits each.
        assert!(len < 60, "{len} bytes");
        let decimals: Vec<(i64, f64)> = (0..120)
            .map(|i| {
                (
                    i * 10_000 + (i % 3),
                    [0.25, 12.5, 0.1, 3.75][i as usize % 4],
                )
            })
            .collect();
        assert!(is_packed(round_trip(&decimals).0));
        let constant: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, 8e9)).collect();
        let (enc, len) = round_trip(&constant);
        assert!(is_packed(enc) && len < 16, "{len}");
    }

    #[test]
    fn special_values_fall_back_to_xor() {
        for v in [
            f64::NAN,
            model::stale_nan(),
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
            f64::MIN_POSITIVE / 3.0,
            1e300,
            0.1 + 0.2,
        ] {
            let (enc, _) = round_trip(&[(0, 1.0), (15, v), (30, 2.0)]);
            assert_eq!(enc, ENC_XOR, "{v}");
        }
        assert!(is_packed(round_trip(&[(5, 0.0)]).0));
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            (any::<i32>(), 0u32..6).prop_map(|(m, k)| f64::from(m) / 10f64.powi(k as i32)),
            Just(f64::NAN),
            Just(model::stale_nan()),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            (1u64..1 << 52).prop_map(f64::from_bits),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_chunks_round_trip(start in -1_000_000_000_000i64..2_000_000_000_000i64,
                                       regular in any::<bool>(),
                                       deltas in proptest::collection::vec(1i64..10_000_000, 0..150),
                                       values in proptest::collection::vec(value(), 150)) {
            let mut t = start;
            let mut samples = Vec::new();
            for (i, d) in deltas.iter().enumerate() {
                samples.push((t, values[i]));
                t += if regular { 15_000 } else { *d };
            }
            if !samples.is_empty() {
                round_trip(&samples);
            }
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200),
                                count in 0u16..300, a in any::<i64>(), b in any::<i64>()) {
            let mut out = Vec::new();
            decode_into(&data, count, (a, b), (i64::MIN, i64::MAX), &mut out);
            for hdr in [ENC_PACKED, ENC_PACKED | IRREGULAR | 3] {
                let mut d = vec![hdr];
                d.extend_from_slice(&data);
                decode_into(&d, count, (a, b), (a, b), &mut out);
                decode_into(&d, count, (a, b), (a / 2, b / 2), &mut out);
            }
        }
    }
}

//! Gorilla-style compressed chunks: delta-of-delta timestamps and XOR-encoded float values, as in
//! Prometheus' XOR chunks (~1.3 bytes per sample on typical data). A chunk holds up to
//! `SAMPLES_PER_CHUNK` samples in time order.

use model::Sample;

/// Samples per chunk before a new one is started (Prometheus uses 120).
pub const SAMPLES_PER_CHUNK: usize = 120;

/// Appends bits to a byte vector.
#[derive(Clone, Debug, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 = last byte full or no bytes).
    used: u8,
}

impl BitWriter {
    fn write_bit(&mut self, bit: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 1 << (7 - self.used);
            }
        }
        self.used = (self.used + 1) % 8;
    }

    /// Writes the low `n` bits of `value` (most significant first), a byte at a time.
    fn write_bits(&mut self, value: u64, n: u32) {
        let mut n = n.min(64);
        while n > 0 {
            if self.used == 0 {
                self.bytes.push(0);
            }
            let free = 8 - u32::from(self.used);
            let take = free.min(n);
            let bits = ((value >> (n - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.bytes.last_mut() {
                *last |= bits << (free - take);
            }
            self.used = ((u32::from(self.used) + take) % 8) as u8;
            n -= take;
        }
    }
}

/// Reads bits written by `BitWriter`: eight bytes at a time where the chunk has them, a byte
/// at a time near its end.
struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    /// The 64 bits starting at the current byte (big-endian), when the chunk has all of them.
    #[inline]
    fn word(&self) -> Option<u64> {
        let at = self.pos / 8;
        let b: [u8; 8] = self.bytes.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_be_bytes(b))
    }

    #[inline]
    fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    /// Up to four leading one bits (the timestamp's delta-of-delta prefix), consuming the zero
    /// that ends them when there is one.
    #[inline]
    fn read_prefix(&mut self) -> Option<u8> {
        if let Some(w) = self.word() {
            // At most 7 bits of the word precede the current bit, so 57 remain: enough for 5.
            let ones = (w << (self.pos % 8)).leading_ones().min(4);
            self.pos += ones as usize + usize::from(ones < 4);
            return Some(ones as u8);
        }
        let mut prefix = 0u8;
        for _ in 0..4 {
            if !self.read_bit()? {
                break;
            }
            prefix += 1;
        }
        Some(prefix)
    }

    /// Reads `n` bits (most significant first).
    #[inline]
    fn read_bits(&mut self, n: u32) -> Option<u64> {
        let n = n.min(64);
        if n == 0 {
            return Some(0);
        }
        if n <= 56 {
            if let Some(w) = self.word() {
                let v = (w << (self.pos % 8)) >> (64 - n);
                self.pos += n as usize;
                return Some(v);
            }
        } else if self.word().is_some() {
            let hi = self.read_bits(32)?;
            let lo = self.read_bits(n - 32)?;
            return Some((hi << (n - 32)) | lo);
        }
        self.read_bits_slow(n)
    }

    /// `read_bits` a byte at a time (the chunk's last bytes).
    fn read_bits_slow(&mut self, n: u32) -> Option<u64> {
        let mut v = 0u64;
        let mut n = n.min(64);
        while n > 0 {
            let byte = u64::from(*self.bytes.get(self.pos / 8)?);
            let off = (self.pos % 8) as u32;
            let avail = 8 - off;
            let take = avail.min(n);
            let bits = (byte >> (avail - take)) & ((1u64 << take) - 1);
            v = (v << take) | bits;
            self.pos += take as usize;
            n -= take;
        }
        Some(v)
    }
}

/// An open chunk being appended to.
#[derive(Clone, Debug, Default)]
pub struct ChunkEncoder {
    w: BitWriter,
    count: u16,
    t: i64,
    t_delta: i64,
    v_bits: u64,
    leading: u8,
    trailing: u8,
    pub min_t: i64,
    pub max_t: i64,
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

impl ChunkEncoder {
    pub fn new() -> Self {
        ChunkEncoder {
            leading: 0xff,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends a sample; the caller guarantees `t` is greater than the previous timestamp.
    pub fn append(&mut self, t: i64, v: f64) {
        let bits = v.to_bits();
        match self.count {
            0 => {
                self.w.write_bits(t as u64, 64);
                self.w.write_bits(bits, 64);
                self.min_t = t;
            }
            _ => {
                // The first delta is encoded as a delta-of-delta against 0.
                let delta = t - self.t;
                let dod = delta - self.t_delta;
                match dod {
                    0 => self.w.write_bit(false),
                    -8192..=8191 => {
                        self.w.write_bits(0b10, 2);
                        self.w.write_bits(dod as u64 & 0x3fff, 14);
                    }
                    -65536..=65535 => {
                        self.w.write_bits(0b110, 3);
                        self.w.write_bits(dod as u64 & 0x1_ffff, 17);
                    }
                    -524288..=524287 => {
                        self.w.write_bits(0b1110, 4);
                        self.w.write_bits(dod as u64 & 0xf_ffff, 20);
                    }
                    _ => {
                        self.w.write_bits(0b1111, 4);
                        self.w.write_bits(dod as u64, 64);
                    }
                }
                self.t_delta = delta;
                self.write_value(bits);
            }
        }
        self.t = t;
        self.v_bits = bits;
        self.max_t = t;
        self.count += 1;
    }

    fn write_value(&mut self, bits: u64) {
        let xor = bits ^ self.v_bits;
        if xor == 0 {
            self.w.write_bit(false);
            return;
        }
        self.w.write_bit(true);
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.w.write_bit(false);
            let sig = 64 - u32::from(self.leading) - u32::from(self.trailing);
            self.w.write_bits(xor >> self.trailing, sig);
        } else {
            self.leading = leading;
            self.trailing = trailing;
            self.w.write_bit(true);
            self.w.write_bits(u64::from(leading), 5);
            let sig = 64 - u32::from(leading) - u32::from(trailing);
            // 64 significant bits are stored as 0 in 6 bits.
            self.w.write_bits(u64::from(sig) & 0x3f, 6);
            self.w.write_bits(xor >> trailing, sig);
        }
    }

    /// The bytes encoded so far.
    pub fn bytes(&self) -> &[u8] {
        &self.w.bytes
    }

    /// The encoded chunk, consuming the encoder (no copy).
    pub fn into_chunk(self) -> Chunk {
        Chunk {
            data: self.w.bytes,
            count: self.count,
            min_t: self.min_t,
            max_t: self.max_t,
        }
    }

    /// The encoded chunk so far.
    pub fn to_chunk(&self) -> Chunk {
        Chunk {
            data: self.w.bytes.clone(),
            count: self.count,
            min_t: self.min_t,
            max_t: self.max_t,
        }
    }
}

/// An immutable encoded chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub data: Vec<u8>,
    pub count: u16,
    pub min_t: i64,
    pub max_t: i64,
}

impl Chunk {
    /// Decodes every sample; a corrupt chunk yields the samples decoded before the damage.
    pub fn decode(&self) -> Vec<Sample> {
        decode(&self.data, self.count)
    }
}

/// Decodes `count` samples from chunk bytes.
pub fn decode(data: &[u8], count: u16) -> Vec<Sample> {
    let mut out = Vec::with_capacity(count as usize);
    decode_into(data, count, i64::MIN, i64::MAX, &mut out);
    out
}

/// Appends the samples of a chunk with `mint <= t <= maxt` to `out`, without an intermediate
/// vector.
pub fn decode_into(data: &[u8], count: u16, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
    out.reserve(count as usize);
    let mut r = BitReader {
        bytes: data,
        pos: 0,
    };
    let (mut t, mut delta, mut v_bits) = (0i64, 0i64, 0u64);
    let (mut leading, mut trailing) = (0u32, 0u32);
    for i in 0..count {
        let ok = (|| -> Option<()> {
            match i {
                0 => {
                    t = r.read_bits(64)? as i64;
                    v_bits = r.read_bits(64)?;
                }
                _ => {
                    let dod = match r.read_prefix()? {
                        0 => 0,
                        1 => sign_extend(r.read_bits(14)?, 14),
                        2 => sign_extend(r.read_bits(17)?, 17),
                        3 => sign_extend(r.read_bits(20)?, 20),
                        _ => r.read_bits(64)? as i64,
                    };
                    delta = delta.wrapping_add(dod);
                    t = t.wrapping_add(delta);
                    if r.read_bit()? {
                        if r.read_bit()? {
                            let control = r.read_bits(11)? as u32;
                            leading = control >> 6;
                            let mut sig = control & 0x3f;
                            if sig == 0 {
                                sig = 64;
                            }
                            trailing = 64u32.checked_sub(leading + sig)?;
                        }
                        let sig = 64 - leading - trailing;
                        let bits = r.read_bits(sig)?;
                        v_bits ^= bits.checked_shl(trailing).unwrap_or(0);
                    }
                }
            }
            Some(())
        })();
        if ok.is_none() {
            break;
        }
        if t >= mint && t <= maxt {
            out.push(Sample {
                t,
                v: f64::from_bits(v_bits),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(samples: &[(i64, f64)]) {
        let mut e = ChunkEncoder::new();
        for (t, v) in samples {
            e.append(*t, *v);
        }
        let got = e.to_chunk().decode();
        assert_eq!(got.len(), samples.len());
        for (g, (t, v)) in got.iter().zip(samples) {
            assert_eq!(g.t, *t);
            assert_eq!(g.v.to_bits(), v.to_bits());
        }
    }

    #[test]
    fn typical_scrape_data_compresses() {
        let samples: Vec<(i64, f64)> = (0..120)
            .map(|i| (1_700_000_000_000 + i * 15_000, 100.0 + (i / 4) as f64))
            .collect();
        round_trip(&samples);
        let mut e = ChunkEncoder::new();
        for (t, v) in &samples {
            e.append(*t, *v);
        }
        assert!(
            e.to_chunk().data.len() < 120 * 2,
            "{} bytes",
            e.to_chunk().data.len()
        );
    }

    #[test]
    fn special_values() {
        round_trip(&[
            (0, f64::NAN),
            (1, model::stale_nan()),
            (2, f64::INFINITY),
            (3, -0.0),
            (1000, f64::MIN_POSITIVE),
            (1_000_000_000, 1e300),
        ]);
    }

    proptest! {
        #[test]
        fn arbitrary_series_round_trip(start in -1_000_000_000_000i64..2_000_000_000_000i64,
                                       deltas in proptest::collection::vec(1i64..10_000_000, 0..150),
                                       values in proptest::collection::vec(any::<f64>(), 150)) {
            let mut t = start;
            let mut samples = Vec::new();
            for (i, d) in deltas.iter().enumerate() {
                samples.push((t, values[i]));
                t += d;
            }
            round_trip(&samples);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), count in 0u16..300) {
            let _ = decode(&data, count);
        }
    }
}

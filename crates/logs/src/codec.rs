//! Byte-level encoding shared by the WAL and the chunk format: varints, length-prefixed strings,
//! and entry lists. Decoding never panics: truncated or corrupt input is an `Err`.

use model::{Label, Labels, LogEntry};

pub fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

pub fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// A cursor over encoded bytes.
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("corrupt record at byte {0}")]
pub struct Corrupt(pub usize);

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }
    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
    pub fn uvarint(&mut self) -> Result<u64, Corrupt> {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let b = *self.buf.get(self.pos).ok_or(Corrupt(self.pos))?;
            self.pos += 1;
            if shift >= 64 {
                return Err(Corrupt(self.pos));
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }
    pub fn varint(&mut self) -> Result<i64, Corrupt> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], Corrupt> {
        let n = self.uvarint()? as usize;
        let end = self.pos.checked_add(n).ok_or(Corrupt(self.pos))?;
        let s = self.buf.get(self.pos..end).ok_or(Corrupt(self.pos))?;
        self.pos = end;
        Ok(s)
    }
    pub fn string(&mut self) -> Result<String, Corrupt> {
        let p = self.pos;
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| Corrupt(p))
    }
}

pub fn put_labels(buf: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(buf, labels.len() as u64);
    for l in labels.iter() {
        put_str(buf, &l.name);
        put_str(buf, &l.value);
    }
}

pub fn read_labels(r: &mut Reader) -> Result<Labels, Corrupt> {
    let n = r.uvarint()? as usize;
    let mut v: Vec<Label> = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let name = r.string()?;
        let value = r.string()?;
        v.push(Label { name, value });
    }
    Ok(Labels::from_pairs(v.into_iter().map(|l| (l.name, l.value))))
}

/// Encodes entries (timestamps delta-encoded against the previous one).
pub fn put_entries<'a, I>(buf: &mut Vec<u8>, entries: I)
where
    I: IntoIterator<Item = &'a LogEntry>,
    I::IntoIter: ExactSizeIterator,
{
    let entries = entries.into_iter();
    put_uvarint(buf, entries.len() as u64);
    let mut prev = 0i64;
    for e in entries {
        put_varint(buf, e.ts_ns.wrapping_sub(prev));
        prev = e.ts_ns;
        put_str(buf, &e.line);
        put_uvarint(buf, e.metadata.len() as u64);
        for (k, v) in &e.metadata {
            put_str(buf, k);
            put_str(buf, v);
        }
    }
}

pub fn read_entries(r: &mut Reader) -> Result<Vec<LogEntry>, Corrupt> {
    let n = r.uvarint()? as usize;
    let mut out = Vec::with_capacity(n.min(1 << 16));
    let mut prev = 0i64;
    for _ in 0..n {
        let ts = prev.wrapping_add(r.varint()?);
        prev = ts;
        let line = r.string()?;
        let m = r.uvarint()? as usize;
        let mut metadata = Vec::with_capacity(m.min(64));
        for _ in 0..m {
            let k = r.string()?;
            let v = r.string()?;
            metadata.push((k, v));
        }
        out.push(LogEntry {
            ts_ns: ts,
            line,
            metadata,
        });
    }
    Ok(out)
}

/// One entry borrowed from encoded bytes (a decompressed chunk): the line is not copied and
/// the metadata is decoded only by [`RawEntry::to_entry`].
pub struct RawEntry<'a> {
    pub ts_ns: i64,
    pub line: &'a [u8],
    meta: &'a [u8],
    meta_n: usize,
}

impl<'a> RawEntry<'a> {
    /// An entry over borrowed bytes: `meta` holds `meta_n` key/value pairs as [`put_str`]
    /// writes them.
    pub(crate) fn new(ts_ns: i64, line: &'a [u8], meta: &'a [u8], meta_n: usize) -> Self {
        RawEntry {
            ts_ns,
            line,
            meta,
            meta_n,
        }
    }

    /// Number of structured metadata pairs.
    pub fn meta_n(&self) -> usize {
        self.meta_n
    }

    /// The structured metadata pairs as encoded (without their count).
    pub fn meta_bytes(&self) -> &'a [u8] {
        self.meta
    }

    /// The owned entry (line and metadata validated as UTF-8).
    pub fn to_entry(&self) -> Result<LogEntry, Corrupt> {
        let line = std::str::from_utf8(self.line)
            .map_err(|_| Corrupt(0))?
            .to_string();
        let mut r = Reader::new(self.meta);
        let mut metadata = Vec::with_capacity(self.meta_n.min(64));
        for _ in 0..self.meta_n {
            let k = r.string()?;
            let v = r.string()?;
            metadata.push((k, v));
        }
        Ok(LogEntry {
            ts_ns: self.ts_ns,
            line,
            metadata,
        })
    }
}

/// Walks entries encoded by [`put_entries`] without allocating.
pub struct RawEntries<'a> {
    r: Reader<'a>,
    left: usize,
    prev: i64,
}

impl<'a> RawEntries<'a> {
    pub fn new(buf: &'a [u8]) -> Result<Self, Corrupt> {
        let mut r = Reader::new(buf);
        let left = r.uvarint()? as usize;
        Ok(RawEntries { r, left, prev: 0 })
    }

    /// The next entry, `None` at the end.
    pub fn next_entry(&mut self) -> Result<Option<RawEntry<'a>>, Corrupt> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let ts_ns = self.prev.wrapping_add(self.r.varint()?);
        self.prev = ts_ns;
        let line = self.r.bytes()?;
        let meta_n = self.r.uvarint()? as usize;
        let start = self.r.pos;
        for _ in 0..meta_n.saturating_mul(2) {
            self.r.bytes()?;
        }
        Ok(Some(RawEntry {
            ts_ns,
            line,
            meta: &self.r.buf[start..self.r.pos],
            meta_n,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn roundtrip_entries() {
        let e = vec![
            LogEntry {
                ts_ns: 5,
                line: "a".into(),
                metadata: vec![("k".into(), "v".into())],
            },
            LogEntry {
                ts_ns: 3,
                line: "bé".into(),
                metadata: vec![],
            },
        ];
        let mut b = Vec::new();
        put_entries(&mut b, &e);
        assert_eq!(read_entries(&mut Reader::new(&b)).unwrap(), e);
        let mut raw = RawEntries::new(&b).unwrap();
        let mut got = Vec::new();
        while let Some(r) = raw.next_entry().unwrap() {
            got.push(r.to_entry().unwrap());
        }
        assert_eq!(got, e);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = read_entries(&mut Reader::new(&bytes));
            let _ = read_labels(&mut Reader::new(&bytes));
            if let Ok(mut raw) = RawEntries::new(&bytes) {
                while let Ok(Some(e)) = raw.next_entry() {
                    let _ = e.to_entry();
                }
            }
        }
        #[test]
        fn varint_roundtrip(v in any::<i64>()) {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            prop_assert_eq!(Reader::new(&b).varint().unwrap(), v);
        }
    }
}

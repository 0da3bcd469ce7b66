//! Byte encoding helpers shared by the WAL and block files: varints, zigzag, strings, and a
//! bounds-checked reader that turns truncated or corrupt input into errors instead of panics.

pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Reads encoded values; every method fails on truncated input.
pub struct Reader<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

#[derive(Debug)]
pub struct Corrupt;

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn u8(&mut self) -> Result<u8, Corrupt> {
        let b = *self.buf.get(self.pos).ok_or(Corrupt)?;
        self.pos += 1;
        Ok(b)
    }

    pub fn uvarint(&mut self) -> Result<u64, Corrupt> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Corrupt)
    }

    pub fn varint(&mut self) -> Result<i64, Corrupt> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], Corrupt> {
        let n = usize::try_from(self.uvarint()?).map_err(|_| Corrupt)?;
        let end = self.pos.checked_add(n).ok_or(Corrupt)?;
        let s = self.buf.get(self.pos..end).ok_or(Corrupt)?;
        self.pos = end;
        Ok(s)
    }

    pub fn string(&mut self) -> Result<String, Corrupt> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| Corrupt)
    }

    pub fn u64_le(&mut self) -> Result<u64, Corrupt> {
        let end = self.pos.checked_add(8).ok_or(Corrupt)?;
        let s = self.buf.get(self.pos..end).ok_or(Corrupt)?;
        self.pos = end;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(v in any::<i64>(), u in any::<u64>()) {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            put_uvarint(&mut b, u);
            let mut r = Reader::new(&b);
            prop_assert_eq!(r.varint().unwrap(), v);
            prop_assert_eq!(r.uvarint().unwrap(), u);
            prop_assert!(r.done());
        }

        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut r = Reader::new(&b);
            let _ = r.string();
            let _ = r.varint();
            let _ = r.u64_le();
        }
    }
}

//! Record framing: `[len u32 LE][crc32(payload) u32 LE][payload]`, and the payload's optional
//! compression (see [`Framing`]). Pure functions over byte buffers, so they are easy to test.

use std::borrow::Cow;
use std::io;

/// Bytes of the `len | crc` header in front of every record.
pub const HEADER: usize = 8;

/// Largest payload (after compression) a record may hold. A larger length read back from
/// disk is treated as corruption (it guards against allocating on a garbage length).
pub const MAX_RECORD: usize = 1 << 30;

/// Compression of new records in [`Framing::Flagged`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    /// Snappy (as Prometheus compresses its WAL): fast, about 2× on samples.
    Snappy,
    /// zstd at the given level (1–22; 1–3 are fast).
    Zstd(i32),
}

/// How a record's payload is stored on disk. Fixed per log: each store keeps the layout its
/// existing files were written with, so data directories written before the shared WAL
/// open unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The payload as given (the log store's layout).
    Plain,
    /// A flag byte (0 = stored, 1 = snappy, 2 = zstd) then the payload; new records are
    /// compressed with the given codec when that makes them smaller. The TSDB's layout (it
    /// only ever wrote flags 0 and 1), and the default for new logs.
    Flagged(Compression),
    /// Every payload zstd-compressed at this level, no flag byte (the trace store's layout).
    Zstd(i32),
}

impl Default for Framing {
    fn default() -> Self {
        Framing::Flagged(Compression::None)
    }
}

const FLAG_STORED: u8 = 0;
const FLAG_SNAPPY: u8 = 1;
const FLAG_ZSTD: u8 = 2;

/// Frames `raw` into `out` (cleared first): header, then the payload as `framing` stores it.
pub fn encode(framing: Framing, raw: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    out.extend_from_slice(&[0u8; HEADER]);
    match framing {
        Framing::Plain => out.extend_from_slice(raw),
        Framing::Zstd(level) => zstd::stream::copy_encode(raw, &mut *out, level)?,
        Framing::Flagged(c) => {
            out.push(FLAG_STORED);
            let start = out.len();
            let compressed = match c {
                Compression::None => false,
                Compression::Snappy => {
                    out.resize(start + snap::raw::max_compress_len(raw.len()), 0);
                    match snap::raw::Encoder::new().compress(raw, &mut out[start..]) {
                        Ok(n) if n < raw.len() => {
                            out.truncate(start + n);
                            out[start - 1] = FLAG_SNAPPY;
                            true
                        }
                        _ => false,
                    }
                }
                Compression::Zstd(level) => {
                    let ok = zstd::stream::copy_encode(raw, &mut *out, level).is_ok();
                    if ok && out.len() - start < raw.len() {
                        out[start - 1] = FLAG_ZSTD;
                        true
                    } else {
                        false
                    }
                }
            };
            if !compressed {
                out.truncate(start);
                out.extend_from_slice(raw);
            }
        }
    }
    let len = out.len() - HEADER;
    if len > MAX_RECORD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("WAL record of {len} bytes exceeds the {MAX_RECORD}-byte limit"),
        ));
    }
    let crc = crc32fast::hash(&out[HEADER..]);
    out[..4].copy_from_slice(&(len as u32).to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// A record of exactly `frame_len` bytes (header included) whose payload decodes to `fill`
/// followed by `pad` bytes: what a rewrite puts in place of a removed record so that every
/// record after it keeps its offset, and readers' saved positions stay valid. `None` when
/// `frame_len` is too short for `fill`, or the framing compresses every payload
/// ([`Framing::Zstd`]).
pub fn filler(framing: Framing, frame_len: usize, fill: &[u8], pad: u8) -> Option<Vec<u8>> {
    let flag = match framing {
        Framing::Plain => 0,
        Framing::Flagged(_) => 1,
        Framing::Zstd(_) => return None,
    };
    let len = frame_len.checked_sub(HEADER)?;
    if len < flag + fill.len() || len > MAX_RECORD {
        return None;
    }
    let mut out = Vec::with_capacity(frame_len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    if flag == 1 {
        out.push(FLAG_STORED);
    }
    out.extend_from_slice(fill);
    out.resize(frame_len, pad);
    let crc = crc32fast::hash(&out[HEADER..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    Some(out)
}

/// What [`next`] found at a position of a file's bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// An intact record: its stored payload and the offset just after it.
    Record(&'a [u8], usize),
    /// Clean end of the data.
    End,
    /// A torn or corrupt record starts here (short header, length past the end, bad CRC).
    Bad,
}

/// Reads the record starting at `pos` of `data`.
pub fn next(data: &[u8], pos: usize) -> Next<'_> {
    let Some(rest) = data.get(pos..) else {
        return Next::Bad;
    };
    if rest.is_empty() {
        return Next::End;
    }
    let (Some(len), Some(crc)) = (rest.get(0..4), rest.get(4..8)) else {
        return Next::Bad;
    };
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if len > MAX_RECORD {
        return Next::Bad;
    }
    let Some(payload) = rest.get(HEADER..HEADER + len) else {
        return Next::Bad;
    };
    if crc32fast::hash(payload) != crc {
        return Next::Bad;
    }
    Next::Record(payload, pos + HEADER + len)
}

/// The caller's bytes of a stored payload (decompressed as `framing` says), or `None` if a
/// CRC-valid payload does not decode (an unknown flag, a broken compressed stream).
pub fn decode(framing: Framing, stored: &[u8]) -> Option<Cow<'_, [u8]>> {
    match framing {
        Framing::Plain => Some(Cow::Borrowed(stored)),
        Framing::Zstd(_) => zstd::stream::decode_all(stored).ok().map(Cow::Owned),
        Framing::Flagged(_) => match stored.split_first() {
            Some((&FLAG_STORED, rest)) => Some(Cow::Borrowed(rest)),
            Some((&FLAG_SNAPPY, rest)) => snap::raw::Decoder::new()
                .decompress_vec(rest)
                .ok()
                .map(Cow::Owned),
            Some((&FLAG_ZSTD, rest)) => zstd::stream::decode_all(rest).ok().map(Cow::Owned),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn filler_keeps_the_length_and_decodes_to_its_fill() {
        for framing in [Framing::Plain, Framing::Flagged(Compression::Zstd(1))] {
            let f = filler(framing, 40, b"{}", b' ').unwrap();
            assert_eq!(f.len(), 40);
            let Next::Record(stored, end) = next(&f, 0) else {
                panic!("not a record")
            };
            assert_eq!(end, 40);
            let raw = decode(framing, stored).unwrap();
            assert!(raw.starts_with(b"{}") && raw[2..].iter().all(|b| *b == b' '));
            assert!(filler(framing, HEADER + 1, b"{}", b' ').is_none());
        }
        assert!(filler(Framing::Zstd(3), 40, b"{}", b' ').is_none());
    }

    const ALL: [Framing; 6] = [
        Framing::Plain,
        Framing::Zstd(1),
        Framing::Flagged(Compression::None),
        Framing::Flagged(Compression::Snappy),
        Framing::Flagged(Compression::Zstd(1)),
        Framing::Flagged(Compression::Zstd(3)),
    ];

    #[test]
    fn compressible_payloads_shrink() {
        let raw = vec![b'a'; 10_000];
        for f in [
            Framing::Zstd(1),
            Framing::Flagged(Compression::Snappy),
            Framing::Flagged(Compression::Zstd(1)),
        ] {
            let mut out = Vec::new();
            encode(f, &raw, &mut out).unwrap();
            assert!(out.len() < 1_000, "{f:?}: {}", out.len());
            let Next::Record(p, end) = next(&out, 0) else {
                panic!("{f:?} did not read back")
            };
            assert_eq!(end, out.len());
            assert_eq!(decode(f, p).unwrap().as_ref(), &raw[..]);
        }
    }

    #[test]
    fn unknown_flag_does_not_decode() {
        assert_eq!(
            decode(Framing::Flagged(Compression::None), &[7, 1, 2]),
            None
        );
        assert_eq!(decode(Framing::Flagged(Compression::None), &[]), None);
    }

    proptest! {
        #[test]
        fn round_trip(raw in proptest::collection::vec(any::<u8>(), 0..2000), which in 0usize..6) {
            let f = ALL[which];
            let mut out = Vec::new();
            encode(f, &raw, &mut out).unwrap();
            match next(&out, 0) {
                Next::Record(p, end) => {
                    prop_assert_eq!(end, out.len());
                    let back = decode(f, p).unwrap();
                    prop_assert_eq!(back.as_ref(), &raw[..]);
                    prop_assert_eq!(next(&out, end), Next::End);
                }
                other => prop_assert!(false, "{:?}", other),
            }
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300), pos in 0usize..310) {
            if let Next::Record(p, end) = next(&data, pos) {
                prop_assert!(end <= data.len());
                for f in ALL {
                    let _ = decode(f, p);
                }
            }
        }
    }
}

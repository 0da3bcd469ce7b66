//! Immutable on-disk blocks: one directory per time range (`blocks/<mint>-<maxt>/`) with a
//! `data` file (symbol table, series with symbol-referenced labels, their XOR chunks, CRC32
//! trailer) and a `meta.json`. Written to a temporary directory, fsynced, then renamed, so a
//! crash never leaves a half-written block visible.
//!
//! `data` formats (the magic says which):
//! - `PHTSDB02` (written now): symbols, float series, then the native-histogram series in the
//!   same layout, each of their chunks preceded by its encoding byte. Encodings follow
//!   Prometheus' numbering: 1 = XOR (floats; implied for the float section), 2 = histogram
//!   (pharos' `histchunk` stream, which holds integer and float histograms alike).
//! - `PHTSDB01` (older pharos, still read): symbols and float series only. Such a block holds
//!   no histograms; `Block::holds_histograms` tells the two apart (see `Tsdb::open`).
//!
//! `meta.json` counts samples as Prometheus does: `numSamples` is floats plus histograms,
//! `numFloatSamples` and `numHistogramSamples` the two parts.
//!
//! A loaded block keeps only its index in memory (labels, postings, per-chunk time range,
//! sample count and file offset); chunk bytes are read from a read-only memory map of `data`
//! (`memmap2`: the kernel pages chunks in on demand and drops them under memory pressure, so
//! memory stays bounded however many blocks there are, and reading a chunk costs no syscall —
//! positioned reads would cost one per chunk, tens of thousands per query). Mapping is sound
//! because a block file is never modified after its directory is renamed into place: blocks
//! are only ever replaced by new directories and deleted (an unlinked file stays mapped).

use crate::chunk::Chunk;
use crate::encoding::{put_bytes, put_uvarint, put_varint, Reader};
use crate::index::Postings;
use crate::packed;
use memmap2::Mmap;
use model::{Labels, LabelsBuilder, StorageError};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC_V1: &[u8; 8] = b"PHTSDB01";
const MAGIC_V2: &[u8; 8] = b"PHTSDB02";
const MAGIC: &[u8; 8] = b"PHTSDB03";
/// Chunk encoding of native histograms (Prometheus' `EncHistogram`).
pub const ENC_HISTOGRAM: u8 = 2;

/// Native-histogram series to write into a block, with their encoded chunks.
pub type HistSeries = Vec<(Labels, Vec<crate::histchunk::Chunk>)>;

/// Where one chunk of a block lives in its mapped `data` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    pub min_t: i64,
    pub max_t: i64,
    pub count: u16,
    offset: usize,
    len: usize,
}

/// A loaded block.
#[derive(Debug)]
pub struct Block {
    pub dir: PathBuf,
    pub min_t: i64,
    /// Exclusive upper bound of the block's time range.
    pub max_t: i64,
    pub series: Vec<(Labels, Vec<ChunkRef>)>,
    pub postings: Postings,
    /// Native-histogram series (sorted by labels) and their histogram chunks.
    pub histograms: Vec<(Labels, Vec<ChunkRef>)>,
    /// Whether the block was written in the format that holds histograms (false for blocks
    /// of older pharos, whose histograms stayed in the histogram log).
    pub holds_histograms: bool,
    /// The `data` format: 1, 2 or 3 (`PHTSDB0x`, see the module doc).
    pub version: u8,
    pub size_bytes: u64,
    /// Float and histogram samples.
    pub num_samples: u64,
    data: Mmap,
}

impl Block {
    /// The encoded bytes of a chunk of this block (empty if the reference is out of range).
    pub fn chunk_bytes(&self, c: &ChunkRef) -> &[u8] {
        c.offset
            .checked_add(c.len)
            .and_then(|end| self.data.get(c.offset..end))
            .unwrap_or(&[])
    }

    /// The samples of a chunk of this block.
    pub fn decode(&self, c: &ChunkRef) -> Vec<model::Sample> {
        let mut out = Vec::with_capacity(usize::from(c.count));
        self.decode_into(c, i64::MIN, i64::MAX, &mut out);
        out
    }

    /// Appends the samples of a chunk of this block with `mint <= t <= maxt` to `out` (a
    /// buffer the caller reuses across chunks).
    pub fn decode_into(&self, c: &ChunkRef, mint: i64, maxt: i64, out: &mut Vec<model::Sample>) {
        let bytes = self.chunk_bytes(c);
        if self.version >= 3 {
            packed::decode_into(bytes, c.count, (c.min_t, c.max_t), (mint, maxt), out);
        } else {
            crate::chunk::decode_into(bytes, c.count, mint, maxt, out);
        }
    }

    /// The histogram samples in `[mint, maxt]` of a histogram chunk, appended to `out`.
    pub fn read_histograms(
        &self,
        c: &ChunkRef,
        mint: i64,
        maxt: i64,
        out: &mut Vec<model::HistogramSample>,
    ) {
        crate::histchunk::read_bytes(self.chunk_bytes(c), c.count, mint, maxt, out);
    }

    /// An owned copy of a histogram chunk (for rewriting it into another block).
    pub fn hist_chunk(&self, c: &ChunkRef) -> crate::histchunk::Chunk {
        crate::histchunk::Chunk::from_data(self.chunk_bytes(c).to_vec(), c.count, c.min_t, c.max_t)
    }

    /// An owned copy of a chunk in XOR encoding (for rewriting it into another block).
    pub fn chunk(&self, c: &ChunkRef) -> Chunk {
        let bytes = self.chunk_bytes(c);
        let xor = match bytes.split_first() {
            Some((&packed::ENC_XOR, rest)) if self.version >= 3 => rest,
            _ if self.version >= 3 => {
                let mut e = crate::chunk::ChunkEncoder::new();
                for s in self.decode(c) {
                    e.append(s.t, s.v);
                }
                return e.into_chunk();
            }
            _ => bytes,
        };
        Chunk {
            data: xor.to_vec(),
            count: c.count,
            min_t: c.min_t,
            max_t: c.max_t,
        }
    }
}

fn corrupt(path: &Path) -> StorageError {
    StorageError::Io(format!("block file {} is corrupt", path.display()))
}

/// Suffix of a block directory moved aside while a rewrite of the same range is renamed in.
pub const REPLACED: &str = ".replaced";

/// On open: a block moved aside by a rewrite that did not finish is put back when its
/// replacement never landed, else deleted. Returns whether `path` was such a directory.
pub fn restore_replaced(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let Some(orig) = name.strip_suffix(REPLACED) else {
        return false;
    };
    let target = path.with_file_name(orig);
    if target.exists() {
        let _ = fs::remove_dir_all(path);
    } else {
        let _ = fs::rename(path, &target);
    }
    true
}

/// How a chunk handed to the writer is encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A float chunk in Prometheus' XOR encoding (head chunks, older blocks): re-encoded.
    Xor,
    /// A float chunk of a `PHTSDB03` block (encoding byte first): copied as is.
    Persisted,
    /// A native-histogram chunk: copied as is.
    Hist,
}

/// A chunk to write, borrowed from the head's chunks or a source block's map.
#[derive(Clone, Copy)]
struct Src<'a> {
    data: &'a [u8],
    kind: Kind,
    count: u16,
    min_t: i64,
    max_t: i64,
}

/// Largest persisted chunk the writer makes by joining consecutive XOR chunks of a series
/// (four head chunks of 120 samples: 2 h at 15 s). A query of a short window in a chunk with
/// regular timestamps decodes only up to the window's end.
const JOIN_MAX: usize = 480;

/// Scratch buffers for re-encoding XOR chunks into persisted ones.
#[derive(Default)]
struct Persist {
    samples: Vec<model::Sample>,
    /// The persisted chunk (encoding byte first).
    enc: Vec<u8>,
    joined: Vec<u8>,
    alone: Vec<u8>,
}

impl Persist {
    /// Encodes `chunks[0]` (XOR) into `self.enc`, joined with the XOR chunks after it while
    /// the samples pack smaller together than apart (and fit `JOIN_MAX`). Returns how many
    /// chunks it took and their sample count.
    fn persist(&mut self, chunks: &[Src<'_>]) -> (usize, u16) {
        let Some(c) = chunks.first() else {
            return (0, 0);
        };
        let (lo, hi) = (i64::MIN, i64::MAX);
        self.samples.clear();
        self.enc.clear();
        crate::chunk::decode_into(c.data, c.count, lo, hi, &mut self.samples);
        if self.samples.len() != usize::from(c.count) {
            self.enc.push(packed::ENC_XOR);
            self.enc.extend_from_slice(c.data);
            return (1, c.count);
        }
        packed::encode(&self.samples, c.min_t, c.max_t, c.data, &mut self.enc);
        let mut n = 1;
        while let Some(next) = chunks.get(n) {
            let at = self.samples.len();
            if !self.enc.first().is_some_and(|&b| packed::is_packed(b))
                || next.kind != Kind::Xor
                || at + usize::from(next.count) > JOIN_MAX
            {
                break;
            }
            let last_t = self.samples.last().map_or(i64::MIN, |s| s.t);
            crate::chunk::decode_into(next.data, next.count, lo, hi, &mut self.samples);
            let mut fits = self.samples.len() == at + usize::from(next.count)
                && self.samples.get(at).is_some_and(|s| s.t > last_t);
            if fits {
                self.alone.clear();
                let part = &self.samples[at..];
                packed::encode(part, next.min_t, next.max_t, next.data, &mut self.alone);
                self.joined.clear();
                fits = packed::encode_packed(&self.samples, c.min_t, next.max_t, &mut self.joined)
                    && self.joined.len() <= self.enc.len() + self.alone.len();
            }
            if !fits {
                self.samples.truncate(at);
                break;
            }
            std::mem::swap(&mut self.enc, &mut self.joined);
            n += 1;
        }
        (n, u16::try_from(self.samples.len()).unwrap_or(u16::MAX))
    }
}

/// Series to write: labels and their chunks in time order.
type SrcSeries<'a> = Vec<(Labels, Vec<Src<'a>>)>;

/// The `data` file being written: buffered, with its running CRC and length.
struct Out {
    w: std::io::BufWriter<fs::File>,
    crc: crc32fast::Hasher,
    len: usize,
}

impl Out {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.crc.update(b);
        self.len += b.len();
        self.w.write_all(b)
    }
}

/// Writes a block for `[min_t, max_t)` into `parent` and loads it.
pub fn write(
    parent: &Path,
    min_t: i64,
    max_t: i64,
    series: Vec<(Labels, Vec<Chunk>)>,
    hists: HistSeries,
) -> Result<Block, StorageError> {
    let (float_labels, float_chunks): (Vec<Labels>, Vec<Vec<Chunk>>) = series.into_iter().unzip();
    let (hist_labels, hist_chunks): (Vec<Labels>, Vec<Vec<crate::histchunk::Chunk>>) =
        hists.into_iter().unzip();
    let floats = float_labels
        .into_iter()
        .zip(&float_chunks)
        .map(|(labels, chunks)| {
            let srcs = chunks.iter().map(|c| Src {
                data: &c.data,
                kind: Kind::Xor,
                count: c.count,
                min_t: c.min_t,
                max_t: c.max_t,
            });
            (labels, srcs.collect())
        })
        .collect();
    let hists = hist_labels
        .into_iter()
        .zip(&hist_chunks)
        .map(|(labels, chunks)| {
            let srcs = chunks.iter().map(|c| Src {
                data: c.data(),
                kind: Kind::Hist,
                count: c.samples,
                min_t: c.min_t,
                max_t: c.max_t,
            });
            (labels, srcs.collect())
        })
        .collect();
    write_v3(parent, min_t, max_t, floats, hists)
}

/// Writes a `PHTSDB03` block, streaming chunks to the file (only the index is held).
fn write_v3<'a>(
    parent: &Path,
    min_t: i64,
    max_t: i64,
    mut floats: SrcSeries<'a>,
    mut hists: SrcSeries<'a>,
) -> Result<Block, StorageError> {
    for list in [&mut floats, &mut hists] {
        list.iter_mut()
            .for_each(|(_, cs)| cs.retain(|c| c.count > 0));
        list.retain(|(_, cs)| !cs.is_empty());
        list.sort_by(|a, b| a.0.cmp(&b.0));
    }
    // Deduplicate while collecting (millions of label strings, thousands of distinct ones),
    // then sort only the distinct ones.
    let mut distinct: std::collections::HashSet<&str> = Default::default();
    for (labels, _) in floats.iter().chain(&hists) {
        for l in labels.iter() {
            distinct.insert(&l.name);
            distinct.insert(&l.value);
        }
    }
    let mut symbols: Vec<&str> = distinct.into_iter().collect();
    symbols.sort_unstable();
    let sym_index: HashMap<&str, u64> = symbols
        .iter()
        .enumerate()
        .map(|(i, s)| (*s, i as u64))
        .collect();
    let mut index = Vec::with_capacity(1 << 16);
    put_uvarint(&mut index, symbols.len() as u64);
    for s in &symbols {
        put_bytes(&mut index, s.as_bytes());
    }

    let name = format!("{min_t}-{max_t}");
    let tmp = parent.join(format!("{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let mut out = Out {
        w: std::io::BufWriter::with_capacity(1 << 20, fs::File::create(tmp.join("data"))?),
        crc: crc32fast::Hasher::new(),
        len: 0,
    };
    out.put(MAGIC)?;
    let mut num_samples = 0u64;
    let mut num_floats = 0u64;
    let mut buf = Persist::default();
    let mut entries = Vec::new();
    let mut refs: [Vec<Vec<ChunkRef>>; 2] = Default::default();
    for (section, list) in [&floats, &hists].into_iter().enumerate() {
        put_uvarint(&mut index, list.len() as u64);
        for (labels, chunks) in list {
            put_uvarint(&mut index, labels.len() as u64);
            for l in labels.iter() {
                put_uvarint(
                    &mut index,
                    sym_index.get(l.name.as_str()).copied().unwrap_or(0),
                );
                put_uvarint(
                    &mut index,
                    sym_index.get(l.value.as_str()).copied().unwrap_or(0),
                );
            }
            let mut prev = min_t;
            let mut chunk_refs = Vec::with_capacity(chunks.len());
            entries.clear();
            let mut i = 0;
            while i < chunks.len() {
                let c = chunks[i];
                let (bytes, count, n) = if c.kind == Kind::Xor {
                    let (n, count) = buf.persist(&chunks[i..]);
                    (&buf.enc[..], count, n)
                } else {
                    (c.data, c.count, 1)
                };
                let last = chunks[i + n - 1];
                i += n;
                put_varint(&mut entries, c.min_t.wrapping_sub(prev));
                put_varint(&mut entries, last.max_t.wrapping_sub(c.min_t));
                put_uvarint(&mut entries, u64::from(count));
                put_uvarint(&mut entries, bytes.len() as u64);
                chunk_refs.push(ChunkRef {
                    min_t: c.min_t,
                    max_t: last.max_t,
                    count,
                    offset: out.len,
                    len: bytes.len(),
                });
                out.put(bytes)?;
                prev = last.max_t;
                num_samples += u64::from(count);
            }
            put_uvarint(&mut index, chunk_refs.len() as u64);
            index.extend_from_slice(&entries);
            refs[section].push(chunk_refs);
        }
        if section == 0 {
            num_floats = num_samples;
        }
    }
    let index_offset = out.len as u64;
    let compressed = zstd::bulk::compress(&index, 3)?;
    out.put(&compressed)?;
    out.put(&index_offset.to_le_bytes())?;
    out.put(&(index.len() as u64).to_le_bytes())?;
    drop(index);
    let crc = out.crc.clone().finalize();
    out.w.write_all(&crc.to_le_bytes())?;
    let file_len = out.len + 4;
    let f = out.w.into_inner().map_err(|e| e.into_error())?;
    f.sync_all()?;
    drop(f);
    let meta = format!(
        "{{\"minTime\":{min_t},\"maxTime\":{max_t},\"stats\":{{\"numSeries\":{},\"numSamples\":{num_samples},\"numFloatSamples\":{num_floats},\"numHistogramSamples\":{}}},\"version\":1}}\n",
        floats.len() + hists.len(),
        num_samples - num_floats
    );
    let mut m = fs::File::create(tmp.join("meta.json"))?;
    m.write_all(meta.as_bytes())?;
    m.sync_all()?;
    let dir = parent.join(&name);
    // A block of the same range (a rewrite) is moved aside first, so a crash between the
    // renames leaves one of the two whole (`restore_replaced` puts it back on open).
    let aside = parent.join(format!("{name}{REPLACED}"));
    let replacing = dir.exists();
    if replacing {
        let _ = fs::remove_dir_all(&aside);
        fs::rename(&dir, &aside)?;
    }
    fs::rename(&tmp, &dir)?;
    if let Ok(d) = fs::File::open(parent) {
        let _ = d.sync_all();
    }
    if replacing {
        let _ = fs::remove_dir_all(&aside);
    }
    // The index is at hand: map the file instead of parsing it back.
    let file = fs::File::open(dir.join("data"))?;
    // SAFETY: as in `read`: the file is immutable from here on.
    let data = unsafe { Mmap::map(&file) }?;
    if data.len() != file_len {
        return Err(corrupt(&dir.join("data")));
    }
    let [float_refs, hist_refs] = refs;
    let mut postings = Postings::default();
    let mut series = Vec::with_capacity(floats.len());
    for (id, ((labels, _), chunk_refs)) in floats.into_iter().zip(float_refs).enumerate() {
        postings.add(id as u32, &labels);
        series.push((labels, chunk_refs));
    }
    let histograms = hists
        .into_iter()
        .map(|(labels, _)| labels)
        .zip(hist_refs)
        .collect();
    Ok(Block {
        size_bytes: data.len() as u64 + meta.len() as u64,
        dir,
        min_t,
        max_t,
        series,
        postings,
        histograms,
        holds_histograms: true,
        version: 3,
        num_samples,
        data,
    })
}

/// Loads a block directory.
pub fn read(dir: &Path) -> Result<Block, StorageError> {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (min_s, max_s) = name.split_once('-').ok_or_else(|| corrupt(dir))?;
    let min_t: i64 = min_s.parse().map_err(|_| corrupt(dir))?;
    let max_t: i64 = max_s.parse().map_err(|_| corrupt(dir))?;
    let path = dir.join("data");
    let file = fs::File::open(&path)?;
    // SAFETY: block files are immutable once renamed into place (see the module doc); the map
    // is read-only and every access goes through bounds-checked slices.
    let data = unsafe { Mmap::map(&file) }?;
    if data.len() < MAGIC.len() + 4 {
        return Err(corrupt(&path));
    }
    let version = match &data[..MAGIC.len()] {
        m if m == MAGIC => 3,
        m if m == MAGIC_V2 => 2,
        m if m == MAGIC_V1 => 1,
        _ => return Err(corrupt(&path)),
    };
    let (body, crc) = data.split_at(data.len() - 4);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != crc {
        return Err(corrupt(&path));
    }
    let base = MAGIC.len();
    let c = |_| corrupt(&path);
    // Format 3: the index is a zstd frame after the chunks; chunks follow one another from
    // `base` in index order. Formats 1 and 2: index entries and chunk bytes interleaved.
    let v3_index;
    let (index, index_offset) = if version == 3 {
        let trailer = body
            .len()
            .checked_sub(16)
            .filter(|&t| t >= base)
            .ok_or_else(|| corrupt(&path))?;
        let word = |at: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&body[at..at + 8]);
            u64::from_le_bytes(a)
        };
        let offset = usize::try_from(word(trailer)).map_err(|_| corrupt(&path))?;
        let raw_len = usize::try_from(word(trailer + 8)).map_err(|_| corrupt(&path))?;
        let frame = body.get(offset..trailer).ok_or_else(|| corrupt(&path))?;
        // An index inflates ~3-10x; a length far past that is corruption, not a big block.
        if raw_len > frame.len().saturating_mul(1000) + (1 << 20) {
            return Err(corrupt(&path));
        }
        v3_index = zstd::bulk::decompress(frame, raw_len).map_err(|_| corrupt(&path))?;
        if v3_index.len() != raw_len {
            return Err(corrupt(&path));
        }
        (&v3_index[..], offset)
    } else {
        (&body[base..], 0)
    };
    let mut r = Reader::new(index);
    let nsym = r.uvarint().map_err(c)?;
    let mut symbols = Vec::new();
    for _ in 0..nsym {
        symbols.push(r.string().map_err(c)?);
    }
    let get_labels = |r: &mut Reader<'_>| -> Result<Labels, StorageError> {
        let nl = r.uvarint().map_err(c)?;
        let mut b = LabelsBuilder::default();
        for _ in 0..nl {
            let n = symbols
                .get(r.uvarint().map_err(c)? as usize)
                .ok_or_else(|| corrupt(&path))?;
            let v = symbols
                .get(r.uvarint().map_err(c)? as usize)
                .ok_or_else(|| corrupt(&path))?;
            b.set(n.clone(), v.clone());
        }
        Ok(b.build())
    };
    let mut num_samples = 0u64;
    let mut cursor = base;
    // A chunk's index entry; the chunk bytes stay in the map.
    let mut get_ref = |r: &mut Reader<'_>, prev: i64| -> Result<ChunkRef, StorageError> {
        let (cmin, cmax) = if version == 3 {
            let cmin = prev.wrapping_add(r.varint().map_err(c)?);
            (cmin, cmin.wrapping_add(r.varint().map_err(c)?))
        } else {
            let cmin = r.varint().map_err(c)?;
            (cmin, cmin + r.varint().map_err(c)?)
        };
        let count = u16::try_from(r.uvarint().map_err(c)?).map_err(|_| corrupt(&path))?;
        let (offset, len) = if version == 3 {
            let len = usize::try_from(r.uvarint().map_err(c)?).map_err(|_| corrupt(&path))?;
            let offset = cursor;
            cursor = cursor
                .checked_add(len)
                .filter(|&e| e <= index_offset)
                .ok_or_else(|| corrupt(&path))?;
            (offset, len)
        } else {
            let len = r.bytes().map_err(c)?.len();
            (base + r.pos - len, len)
        };
        num_samples += u64::from(count);
        Ok(ChunkRef {
            min_t: cmin,
            max_t: cmax,
            count,
            offset,
            len,
        })
    };
    let mut sections: [Vec<(Labels, Vec<ChunkRef>)>; 2] = Default::default();
    let mut postings = Postings::default();
    for (section, list) in sections.iter_mut().enumerate() {
        if section == 1 && version == 1 {
            break;
        }
        let nseries = r.uvarint().map_err(c)?;
        for id in 0..nseries {
            let labels = get_labels(&mut r)?;
            let nchunks = r.uvarint().map_err(c)?;
            let mut chunks = Vec::new();
            let mut prev = min_t;
            for _ in 0..nchunks {
                if section == 1 && version == 2 && r.u8().map_err(c)? != ENC_HISTOGRAM {
                    return Err(corrupt(&path));
                }
                let cr = get_ref(&mut r, prev)?;
                prev = cr.max_t;
                chunks.push(cr);
            }
            if section == 0 {
                postings.add(id as u32, &labels);
            }
            list.push((labels, chunks));
        }
    }
    if version == 3 && cursor != index_offset {
        return Err(corrupt(&path));
    }
    let [series, histograms] = sections;
    let size_bytes = fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + fs::metadata(dir.join("meta.json"))
            .map(|m| m.len())
            .unwrap_or(0);
    Ok(Block {
        dir: dir.to_path_buf(),
        min_t,
        max_t,
        series,
        postings,
        histograms,
        holds_histograms: version >= 2,
        version,
        size_bytes,
        num_samples,
        data,
    })
}

/// Writes a block directory in format 1 (older pharos) with one float series.
#[cfg(test)]
pub(crate) fn write_v1_for_tests(
    parent: &Path,
    min_t: i64,
    max_t: i64,
    labels: &Labels,
    ts: &[i64],
) {
    let mut e = crate::chunk::ChunkEncoder::new();
    for t in ts {
        e.append(*t, 1.0);
    }
    let c = e.to_chunk();
    let mut symbols: Vec<&str> = labels
        .iter()
        .flat_map(|l| [l.name.as_str(), l.value.as_str()])
        .collect();
    symbols.sort_unstable();
    symbols.dedup();
    let mut out = MAGIC_V1.to_vec();
    put_uvarint(&mut out, symbols.len() as u64);
    for s in &symbols {
        put_bytes(&mut out, s.as_bytes());
    }
    put_uvarint(&mut out, 1);
    put_uvarint(&mut out, labels.len() as u64);
    for l in labels.iter() {
        for s in [&l.name, &l.value] {
            put_uvarint(
                &mut out,
                symbols.iter().position(|x| x == s).unwrap() as u64,
            );
        }
    }
    put_uvarint(&mut out, 1);
    put_varint(&mut out, c.min_t);
    put_varint(&mut out, c.max_t - c.min_t);
    put_uvarint(&mut out, u64::from(c.count));
    put_bytes(&mut out, &c.data);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let dir = parent.join(format!("{min_t}-{max_t}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("data"), out).unwrap();
}

/// Merges adjacent blocks into one covering all their ranges (chunks are concatenated; blocks
/// never overlap in time). Streams: chunk bytes go from the sources' maps to the new file (XOR
/// chunks of older formats re-encoded on the way), only labels and chunk references are held.
pub fn merge(parent: &Path, blocks: &[&Block]) -> Result<Block, StorageError> {
    let min_t = blocks.iter().map(|b| b.min_t).min().unwrap_or(0);
    let max_t = blocks.iter().map(|b| b.max_t).max().unwrap_or(0);
    let mut floats: std::collections::BTreeMap<Labels, Vec<Src<'_>>> = Default::default();
    let mut hists: std::collections::BTreeMap<Labels, Vec<Src<'_>>> = Default::default();
    let mut ordered: Vec<&&Block> = blocks.iter().collect();
    ordered.sort_by_key(|b| b.min_t);
    for b in ordered {
        let kind = if b.version >= 3 {
            Kind::Persisted
        } else {
            Kind::Xor
        };
        for (to, from, kind) in [
            (&mut floats, &b.series, kind),
            (&mut hists, &b.histograms, Kind::Hist),
        ] {
            for (labels, chunks) in from {
                let srcs = chunks.iter().map(|c| Src {
                    data: b.chunk_bytes(c),
                    kind,
                    count: c.count,
                    min_t: c.min_t,
                    max_t: c.max_t,
                });
                match to.get_mut(labels) {
                    Some(v) => v.extend(srcs),
                    None => {
                        to.insert(labels.clone(), srcs.collect());
                    }
                }
            }
        }
    }
    write_v3(
        parent,
        min_t,
        max_t,
        floats.into_iter().collect(),
        hists.into_iter().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::ChunkEncoder;

    fn chunk(ts: &[i64]) -> Chunk {
        let mut e = ChunkEncoder::new();
        for t in ts {
            e.append(*t, *t as f64);
        }
        e.to_chunk()
    }

    #[test]
    fn write_read_merge() {
        let dir = tempfile::tempdir().unwrap();
        let a = Labels::from_pairs([("__name__", "a"), ("x", "1")]);
        let b1 = write(
            dir.path(),
            0,
            100,
            vec![(a.clone(), vec![chunk(&[1, 2, 3])])],
            vec![],
        )
        .unwrap();
        let b2 = write(
            dir.path(),
            100,
            200,
            vec![(a.clone(), vec![chunk(&[150])])],
            vec![],
        )
        .unwrap();
        let again = read(&b1.dir).unwrap();
        assert_eq!(again.series[0].0, a);
        assert_eq!(again.decode(&again.series[0].1[0]).len(), 3);
        // The block `write` returns is the one `read` loads.
        assert_eq!(again.series, b1.series);
        assert_eq!(
            (again.num_samples, again.size_bytes),
            (b1.num_samples, b1.size_bytes)
        );
        assert_eq!(again.postings.select(&[]), b1.postings.select(&[]));
        assert_eq!(
            b1.decode(&b1.series[0].1[0]),
            again.decode(&again.series[0].1[0])
        );
        assert_eq!(again.chunk(&again.series[0].1[0]), chunk(&[1, 2, 3]));
        let m = merge(dir.path(), &[&b1, &b2]).unwrap();
        assert_eq!((m.min_t, m.max_t), (0, 200));
        assert_eq!(m.series[0].1.len(), 2);
        assert_eq!(m.num_samples, 4);
        // A flipped byte is detected.
        let p = m.dir.join("data");
        let mut bytes = fs::read(&p).unwrap();
        bytes[12] ^= 0xff;
        fs::write(&p, bytes).unwrap();
        assert!(read(&m.dir).is_err());
    }

    fn hist(t: i64, count: u64) -> model::HistogramSample {
        let h = model::histogram::parse_histogram(&format!(
            "{{{{schema:0 count:{count} sum:{count} buckets:[{count}]}}}}"
        ))
        .unwrap()
        .histogram;
        model::HistogramSample::integer(t, h)
    }

    #[test]
    fn histograms_are_written_read_and_merged() {
        let dir = tempfile::tempdir().unwrap();
        let a = Labels::from_pairs([("__name__", "a")]);
        let h = Labels::from_pairs([("__name__", "lat"), ("x", "1")]);
        let samples: Vec<_> = (0..300).map(|i| hist(i, i as u64)).collect();
        let chunks = crate::histchunk::Chunk::encode_all(&samples);
        assert!(chunks.len() > 1);
        let b1 = write(
            dir.path(),
            0,
            1000,
            vec![(a.clone(), vec![chunk(&[1])])],
            vec![(h.clone(), chunks)],
        )
        .unwrap();
        assert_eq!(b1.num_samples, 301);
        let meta = fs::read_to_string(b1.dir.join("meta.json")).unwrap();
        assert!(
            meta.contains("\"numSamples\":301,\"numFloatSamples\":1,\"numHistogramSamples\":300")
        );
        let again = read(&b1.dir).unwrap();
        assert!(again.holds_histograms);
        assert_eq!(again.histograms, b1.histograms);
        assert_eq!(again.num_samples, 301);
        let mut got = Vec::new();
        for c in &again.histograms[0].1 {
            again.read_histograms(c, 0, i64::MAX, &mut got);
        }
        assert_eq!(got, samples);
        // Only a histogram series in the next block; merging keeps both blocks' chunks.
        let later = vec![hist(1500, 500)];
        let b2 = write(
            dir.path(),
            1000,
            2000,
            vec![],
            vec![(h.clone(), crate::histchunk::Chunk::encode_all(&later))],
        )
        .unwrap();
        let m = merge(dir.path(), &[&b1, &b2]).unwrap();
        assert_eq!(m.num_samples, 302);
        let mut got = Vec::new();
        for c in &m.histograms[0].1 {
            m.read_histograms(c, 50, 2000, &mut got);
        }
        assert_eq!(got.len(), 251);
        assert_eq!(got.last(), later.last());
    }

    /// Copies the `PHTSDB02` block written by the previous pharos (3 float series of 300
    /// samples over 3 chunks each, one histogram series of 20 samples) into `parent`.
    fn v2_fixture(parent: &Path) -> PathBuf {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/phtsdb02/0-7200000");
        let dir = parent.join("0-7200000");
        fs::create_dir_all(&dir).unwrap();
        for f in ["data", "meta.json"] {
            fs::copy(src.join(f), dir.join(f)).unwrap();
        }
        dir
    }

    /// The fixture's float samples, as the previous pharos wrote them.
    fn v2_fixture_samples(s: i64) -> Vec<model::Sample> {
        (0..300i64)
            .map(|i| model::Sample {
                t: 1_000_000 + i * 15_000 + (i % 7) * s,
                v: (i * (s + 1)) as f64 * 0.25,
            })
            .collect()
    }

    #[test]
    fn reads_and_compacts_a_phtsdb02_block() {
        let dir = tempfile::tempdir().unwrap();
        let old = read(&v2_fixture(dir.path())).unwrap();
        assert_eq!((old.version, old.holds_histograms), (2, true));
        assert_eq!(old.num_samples, 920);
        let check = |b: &Block| {
            for (s, (labels, chunks)) in b.series.iter().enumerate() {
                assert_eq!(labels.get("s"), Some(s.to_string().as_str()));
                let mut got = Vec::new();
                for c in chunks {
                    b.decode_into(c, i64::MIN, i64::MAX, &mut got);
                }
                assert_eq!(got, v2_fixture_samples(s as i64));
            }
            let mut h = Vec::new();
            for c in &b.histograms[0].1 {
                b.read_histograms(c, 0, i64::MAX, &mut h);
            }
            assert_eq!(h.len(), 20);
            assert_eq!(h[19].t, 1_000_000 + 19 * 60_000);
        };
        check(&old);
        // Merged with a new block, the old chunks are re-encoded into the current format.
        let a = Labels::from_pairs([("__name__", "fixture_metric"), ("s", "0")]);
        let newer = write(
            dir.path(),
            7_200_000,
            14_400_000,
            vec![(a, vec![chunk(&[7_200_000, 7_215_000])])],
            vec![],
        )
        .unwrap();
        let m = merge(dir.path(), &[&newer, &old]).unwrap();
        assert_eq!((m.version, m.num_samples), (3, 922));
        let again = read(&m.dir).unwrap();
        assert_eq!(again.series, m.series);
        let mut got = Vec::new();
        for c in &again.series[0].1 {
            again.decode_into(c, 1_000_000, 1_015_000, &mut got);
        }
        assert_eq!(got.len(), 2);
        // The old block's three XOR chunks (120 + 120 + 60 samples) were joined into one.
        let counts: Vec<u16> = again.series[0].1.iter().map(|c| c.count).collect();
        assert_eq!(counts, [300, 2]);
        assert_eq!(again.decode(&again.series[0].1[1]).len(), 2);
        // Without the newer block's chunk, every old sample and histogram is there as written.
        let mut tb = read(&m.dir).unwrap();
        tb.series[0].1.pop();
        check(&tb);
        // A damaged index frame is refused, not misread.
        let p = m.dir.join("data");
        let mut bytes = fs::read(&p).unwrap();
        let n = bytes.len();
        bytes[n - 30] ^= 0x55;
        let crc = crc32fast::hash(&bytes[..n - 4]);
        bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
        fs::write(&p, bytes).unwrap();
        assert!(read(&m.dir).is_err());
    }

    #[test]
    fn reads_a_block_of_older_pharos() {
        let dir = tempfile::tempdir().unwrap();
        let a = Labels::from_pairs([("__name__", "a")]);
        write_v1_for_tests(dir.path(), 0, 100, &a, &[5, 6]);
        let bdir = dir.path().join("0-100");
        let b = read(&bdir).unwrap();
        assert!(!b.holds_histograms);
        assert!(b.histograms.is_empty());
        assert_eq!(b.num_samples, 2);
        assert_eq!(b.decode(&b.series[0].1[0]).len(), 2);
    }
}

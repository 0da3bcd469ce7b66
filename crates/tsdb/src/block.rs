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
use memmap2::Mmap;
use model::{Labels, LabelsBuilder, StorageError};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC_V1: &[u8; 8] = b"PHTSDB01";
const MAGIC: &[u8; 8] = b"PHTSDB02";
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
        crate::chunk::decode(self.chunk_bytes(c), c.count)
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

    /// An owned copy of a chunk (for rewriting it into another block).
    pub fn chunk(&self, c: &ChunkRef) -> Chunk {
        Chunk {
            data: self.chunk_bytes(c).to_vec(),
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

/// Writes a block for `[min_t, max_t)` into `parent` and loads it.
pub fn write(
    parent: &Path,
    min_t: i64,
    max_t: i64,
    mut series: Vec<(Labels, Vec<Chunk>)>,
    mut hists: HistSeries,
) -> Result<Block, StorageError> {
    series.sort_by(|a, b| a.0.cmp(&b.0));
    series.retain(|(_, c)| !c.is_empty());
    hists.sort_by(|a, b| a.0.cmp(&b.0));
    hists.retain(|(_, c)| c.iter().any(|c| c.samples > 0));
    // Deduplicate while collecting (millions of label strings, thousands of distinct ones),
    // then sort only the distinct ones.
    let mut distinct: std::collections::HashSet<&str> = Default::default();
    for labels in series
        .iter()
        .map(|s| &s.0)
        .chain(hists.iter().map(|h| &h.0))
    {
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
    let chunk_bytes: usize = series
        .iter()
        .flat_map(|(_, cs)| cs.iter().map(|c| c.data.len() + 12))
        .sum();
    let mut out = Vec::with_capacity(chunk_bytes + series.len() * 24 + (1 << 16));
    out.extend_from_slice(MAGIC);
    put_uvarint(&mut out, symbols.len() as u64);
    for s in &symbols {
        put_bytes(&mut out, s.as_bytes());
    }
    put_uvarint(&mut out, series.len() as u64);
    let put_labels = |out: &mut Vec<u8>, labels: &Labels| {
        put_uvarint(out, labels.len() as u64);
        for l in labels.iter() {
            put_uvarint(out, sym_index.get(l.name.as_str()).copied().unwrap_or(0));
            put_uvarint(out, sym_index.get(l.value.as_str()).copied().unwrap_or(0));
        }
    };
    let mut num_samples = 0u64;
    let mut refs: Vec<Vec<ChunkRef>> = Vec::with_capacity(series.len());
    for (labels, chunks) in &series {
        put_labels(&mut out, labels);
        put_uvarint(&mut out, chunks.len() as u64);
        let mut chunk_refs = Vec::with_capacity(chunks.len());
        for c in chunks {
            put_varint(&mut out, c.min_t);
            put_varint(&mut out, c.max_t - c.min_t);
            put_uvarint(&mut out, u64::from(c.count));
            put_uvarint(&mut out, c.data.len() as u64);
            chunk_refs.push(ChunkRef {
                min_t: c.min_t,
                max_t: c.max_t,
                count: c.count,
                offset: out.len(),
                len: c.data.len(),
            });
            out.extend_from_slice(&c.data);
            num_samples += u64::from(c.count);
        }
        refs.push(chunk_refs);
    }
    let num_floats = num_samples;
    put_uvarint(&mut out, hists.len() as u64);
    let mut hist_refs: Vec<Vec<ChunkRef>> = Vec::with_capacity(hists.len());
    for (labels, chunks) in &hists {
        put_labels(&mut out, labels);
        let chunks: Vec<_> = chunks.iter().filter(|c| c.samples > 0).collect();
        put_uvarint(&mut out, chunks.len() as u64);
        let mut chunk_refs = Vec::with_capacity(chunks.len());
        for c in chunks {
            out.push(ENC_HISTOGRAM);
            put_varint(&mut out, c.min_t);
            put_varint(&mut out, c.max_t - c.min_t);
            put_uvarint(&mut out, u64::from(c.samples));
            put_uvarint(&mut out, c.data().len() as u64);
            chunk_refs.push(ChunkRef {
                min_t: c.min_t,
                max_t: c.max_t,
                count: c.samples,
                offset: out.len(),
                len: c.data().len(),
            });
            out.extend_from_slice(c.data());
            num_samples += u64::from(c.samples);
        }
        hist_refs.push(chunk_refs);
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());

    let name = format!("{min_t}-{max_t}");
    let tmp = parent.join(format!("{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp)?;
    let mut f = fs::File::create(tmp.join("data"))?;
    f.write_all(&out)?;
    f.sync_all()?;
    let meta = format!(
        "{{\"minTime\":{min_t},\"maxTime\":{max_t},\"stats\":{{\"numSeries\":{},\"numSamples\":{num_samples},\"numFloatSamples\":{num_floats},\"numHistogramSamples\":{}}},\"version\":1}}\n",
        series.len() + hists.len(),
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
    if data.len() != out.len() {
        return Err(corrupt(&dir.join("data")));
    }
    drop(out);
    let mut postings = Postings::default();
    let mut loaded = Vec::with_capacity(series.len());
    for (id, ((labels, _), chunk_refs)) in series.into_iter().zip(refs).enumerate() {
        postings.add(id as u32, &labels);
        loaded.push((labels, chunk_refs));
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
        series: loaded,
        postings,
        histograms,
        holds_histograms: true,
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
    let holds_histograms = match &data[..MAGIC.len()] {
        m if m == MAGIC => true,
        m if m == MAGIC_V1 => false,
        _ => return Err(corrupt(&path)),
    };
    let (body, crc) = data.split_at(data.len() - 4);
    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != crc {
        return Err(corrupt(&path));
    }
    let base = MAGIC.len();
    let mut r = Reader::new(&body[base..]);
    let c = |_| corrupt(&path);
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
    // A chunk's header; the chunk bytes stay in the map.
    let mut get_ref = |r: &mut Reader<'_>| -> Result<ChunkRef, StorageError> {
        let cmin = r.varint().map_err(c)?;
        let cmax = cmin + r.varint().map_err(c)?;
        let count = u16::try_from(r.uvarint().map_err(c)?).map_err(|_| corrupt(&path))?;
        let len = r.bytes().map_err(c)?.len();
        num_samples += u64::from(count);
        Ok(ChunkRef {
            min_t: cmin,
            max_t: cmax,
            count,
            offset: base + r.pos - len,
            len,
        })
    };
    let nseries = r.uvarint().map_err(c)?;
    let mut series = Vec::new();
    let mut postings = Postings::default();
    for id in 0..nseries {
        let labels = get_labels(&mut r)?;
        let nchunks = r.uvarint().map_err(c)?;
        let mut chunks = Vec::new();
        for _ in 0..nchunks {
            chunks.push(get_ref(&mut r)?);
        }
        postings.add(id as u32, &labels);
        series.push((labels, chunks));
    }
    let mut histograms = Vec::new();
    if holds_histograms {
        let nseries = r.uvarint().map_err(c)?;
        for _ in 0..nseries {
            let labels = get_labels(&mut r)?;
            let nchunks = r.uvarint().map_err(c)?;
            let mut chunks = Vec::new();
            for _ in 0..nchunks {
                if r.u8().map_err(c)? != ENC_HISTOGRAM {
                    return Err(corrupt(&path));
                }
                chunks.push(get_ref(&mut r)?);
            }
            histograms.push((labels, chunks));
        }
    }
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
        holds_histograms,
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
/// never overlap in time).
pub fn merge(parent: &Path, blocks: &[&Block]) -> Result<Block, StorageError> {
    let min_t = blocks.iter().map(|b| b.min_t).min().unwrap_or(0);
    let max_t = blocks.iter().map(|b| b.max_t).max().unwrap_or(0);
    let mut by_labels: std::collections::BTreeMap<Labels, Vec<Chunk>> = Default::default();
    let mut hists: std::collections::BTreeMap<Labels, Vec<crate::histchunk::Chunk>> =
        Default::default();
    let mut ordered: Vec<&&Block> = blocks.iter().collect();
    ordered.sort_by_key(|b| b.min_t);
    for b in ordered {
        for (labels, chunks) in &b.series {
            by_labels
                .entry(labels.clone())
                .or_default()
                .extend(chunks.iter().map(|c| b.chunk(c)));
        }
        for (labels, chunks) in &b.histograms {
            hists
                .entry(labels.clone())
                .or_default()
                .extend(chunks.iter().map(|c| b.hist_chunk(c)));
        }
    }
    write(
        parent,
        min_t,
        max_t,
        by_labels.into_iter().collect(),
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

//! Native-histogram storage of the TSDB: samples kept in memory per series as compressed
//! chunks and made durable in their own append-only log, `<dir>/histograms/log`, before an
//! append is acknowledged; replayed on open (a torn tail from a crash is cut off).
//!
//! Both use the encoding of `histchunk` (after Prometheus' histogram chunks). The log is a
//! sequence of frames `u32 length | u32 CRC32 | payload`, one series per frame. Payload format
//! versions (the first byte):
//! - 2 (written now): `varint series ref | u8 1 + labels, if the ref is new in this file, else 0
//!   | varint sample count | the samples' bit stream`, coded against the series' previous
//!   samples in the file, so a frame is read with the state of the frames before it.
//! - 1 (written by older pharos, still read): `labels | samples`, each sample self-contained
//!   (tagged varints and floats). A log holding version-1 frames is rewritten as version 2
//!   when it is opened.
//!
//! This is the histograms' head: when the TSDB cuts its head into a block, the histogram
//! samples of the block's range go into the block too (`snapshot_range`), are then dropped
//! here (`remove_range`, which rewrites the log from what is left) and appends older than the
//! cut are refused as out of bounds (`set_min_valid`). On open, samples a block holds already
//! (a crash between the block and the rewrite) and samples older than the retention time are
//! dropped, and the log rewritten without them.

use crate::encoding::{put_bytes, put_uvarint, Corrupt, Reader};
use crate::histchunk::{BitReader, BitWriter, Chunk, Decoder, Encoder};
use model::histogram::{CounterResetHint, FloatHistogram, Span};
use model::matcher::matches_all;
use model::{AppendStats, HistogramSample, HistogramSeries, LabelMatcher, Labels, StorageError};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};

/// Payload format of the frames written by older pharos (self-contained samples).
const FORMAT_V1: u8 = 1;
/// Payload format written now (samples coded against the series' previous ones).
const FORMAT_V2: u8 = 2;

/// One series in memory: its compressed chunks (the last one open) and newest sample.
struct SeriesData {
    chunks: Vec<Chunk>,
    last: HistogramSample,
}

impl SeriesData {
    fn new(s: &HistogramSample) -> SeriesData {
        let mut c = Chunk::new();
        c.push(s);
        SeriesData {
            chunks: vec![c],
            last: s.clone(),
        }
    }

    fn push(&mut self, s: &HistogramSample) {
        if self.chunks.last().is_none_or(|c| c.must_cut(s)) {
            if let Some(c) = self.chunks.last_mut() {
                c.close();
            }
            self.chunks.push(Chunk::new());
        }
        if let Some(c) = self.chunks.last_mut() {
            c.push(s);
        }
        self.last = s.clone();
    }

    fn read(&self, mint: i64, maxt: i64) -> Vec<HistogramSample> {
        let mut out = Vec::new();
        for c in &self.chunks {
            if c.max_t >= mint && c.min_t <= maxt {
                c.read(mint, maxt, &mut out);
            }
        }
        out
    }

    fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.chunks
            .iter()
            .any(|c| c.max_t >= mint && c.min_t <= maxt)
    }

    /// Whether a sample lies in `[mint, maxt]` (a chunk is decoded only when the range falls
    /// between two of its samples).
    fn has_samples_in(&self, mint: i64, maxt: i64) -> bool {
        let within = |t: i64| t >= mint && t <= maxt;
        self.chunks.iter().any(|c| {
            within(c.min_t)
                || within(c.max_t)
                || (c.min_t < mint && c.max_t > maxt && {
                    let mut v = Vec::new();
                    c.read(mint, maxt, &mut v);
                    !v.is_empty()
                })
        })
    }
}

/// The log file and the state its next frames are coded against.
struct LogWriter {
    file: File,
    /// Per series: its ref in this file and the encoder after its last written sample.
    refs: HashMap<Labels, (u64, Encoder)>,
}

/// The frame of `samples` of `labels`, and the series' ref (`new_id` if it has none yet) and
/// state after it (to be kept in `refs` only once the frame is written).
fn frame_series(
    refs: &HashMap<Labels, (u64, Encoder)>,
    new_id: u64,
    labels: &Labels,
    samples: &[&HistogramSample],
    out: &mut Vec<u8>,
) -> (u64, Encoder) {
    let (id, mut enc, new) = match refs.get(labels) {
        Some((id, enc)) => (*id, enc.clone(), false),
        None => (new_id, Encoder::default(), true),
    };
    let mut payload = vec![FORMAT_V2];
    put_uvarint(&mut payload, id);
    payload.push(u8::from(new));
    if new {
        put_labels(&mut payload, labels);
    }
    put_uvarint(&mut payload, samples.len() as u64);
    let mut w = BitWriter::default();
    for s in samples {
        enc.put(&mut w, s);
    }
    payload.extend_from_slice(&w.buf);
    frame(&payload, out);
    (id, enc)
}

/// Native histograms of the database (see the module documentation).
pub struct HistogramStore {
    log: Mutex<LogWriter>,
    series: RwLock<BTreeMap<Labels, SeriesData>>,
    /// Appends older than this are out of bounds (their range is in a block already).
    min_valid: AtomicI64,
    path: std::path::PathBuf,
}

/// Writes the log afresh with `series` (a temporary file renamed over it, so a crash keeps one
/// of the two) and returns its writer.
fn rewrite_log<'a>(
    path: &Path,
    series: impl Iterator<Item = (&'a Labels, Vec<&'a HistogramSample>)>,
) -> Result<LogWriter, StorageError> {
    let mut refs = HashMap::new();
    let tmp = path.with_extension("tmp");
    let mut out = Vec::new();
    for (labels, list) in series {
        let state = frame_series(&refs, refs.len() as u64, labels, &list, &mut out);
        refs.insert(labels.clone(), state);
    }
    let mut f = File::create(&tmp)?;
    f.write_all(&out)?;
    f.sync_all()?;
    // The replaced log stays as `log.prev` until the next rewrite, for a remote_write queue that
    // had not read all of it when pharos stopped (forward::histlog resumes in it).
    let prev = path.with_extension("prev");
    let _ = std::fs::remove_file(&prev);
    let _ = std::fs::hard_link(path, &prev);
    std::fs::rename(&tmp, path)?;
    if let Some(d) = path.parent().and_then(|p| File::open(p).ok()) {
        let _ = d.sync_all();
    }
    let mut file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    file.seek(SeekFrom::End(0))?;
    Ok(LogWriter { file, refs })
}

fn put_labels(out: &mut Vec<u8>, labels: &Labels) {
    put_uvarint(out, labels.len() as u64);
    for l in labels.iter() {
        put_bytes(out, l.name.as_bytes());
        put_bytes(out, l.value.as_bytes());
    }
}

fn get_labels(r: &mut Reader<'_>) -> Result<Labels, Corrupt> {
    let n = get_len(r)?;
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        pairs.push((r.string()?, r.string()?));
    }
    Ok(Labels::from_pairs(
        pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())),
    ))
}

fn get_f64(r: &mut Reader<'_>) -> Result<f64, Corrupt> {
    match r.u8()? {
        0 => Ok(r.varint()? as f64),
        1 => Ok(f64::from_bits(r.u64_le()?)),
        _ => Err(Corrupt),
    }
}

/// Reads a count that sizes a list, bounded by the bytes left (each item takes at least one).
fn get_len(r: &mut Reader<'_>) -> Result<usize, Corrupt> {
    let n = usize::try_from(r.uvarint()?).map_err(|_| Corrupt)?;
    if n > r.buf.len().saturating_sub(r.pos) {
        return Err(Corrupt);
    }
    Ok(n)
}

fn get_spans(r: &mut Reader<'_>) -> Result<(Vec<Span>, Vec<f64>), Corrupt> {
    let n = get_len(r)?;
    let mut spans = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = i32::try_from(r.varint()?).map_err(|_| Corrupt)?;
        let length = u32::try_from(r.uvarint()?).map_err(|_| Corrupt)?;
        spans.push(Span { offset, length });
    }
    let n = get_len(r)?;
    let mut buckets = Vec::with_capacity(n);
    for _ in 0..n {
        buckets.push(get_f64(r)?);
    }
    Ok((spans, buckets))
}

/// A version-1 payload (after its version byte): a series and its self-contained samples.
/// Version 1 did not keep integer histograms apart; they read back as float ones.
fn decode_v1(r: &mut Reader<'_>) -> Result<(Labels, Vec<HistogramSample>), Corrupt> {
    let labels = get_labels(r)?;
    let n = get_len(r)?;
    let mut samples = Vec::with_capacity(n);
    let mut t = 0i64;
    for _ in 0..n {
        t = t.wrapping_add(r.varint()?);
        let counter_reset_hint = match r.u8()? {
            0 => CounterResetHint::Unknown,
            1 => CounterResetHint::CounterReset,
            2 => CounterResetHint::NotCounterReset,
            3 => CounterResetHint::Gauge,
            _ => return Err(Corrupt),
        };
        let schema = i32::try_from(r.varint()?).map_err(|_| Corrupt)?;
        let zero_threshold = get_f64(r)?;
        let zero_count = get_f64(r)?;
        let count = get_f64(r)?;
        let sum = get_f64(r)?;
        let (positive_spans, positive_buckets) = get_spans(r)?;
        let (negative_spans, negative_buckets) = get_spans(r)?;
        let n = get_len(r)?;
        let mut custom_values = Vec::with_capacity(n);
        for _ in 0..n {
            custom_values.push(get_f64(r)?);
        }
        samples.push(HistogramSample::float(
            t,
            FloatHistogram {
                counter_reset_hint,
                schema,
                zero_threshold,
                zero_count,
                count,
                sum,
                positive_spans,
                positive_buckets,
                negative_spans,
                negative_buckets,
                custom_values,
            },
        ));
    }
    Ok((labels, samples))
}

fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Reads log frames in order, keeping the per-series state version-2 frames are coded
/// against. remote_write queues follow the log with one.
#[derive(Default)]
pub struct LogReader {
    series: HashMap<u64, (Labels, Decoder)>,
    /// Whether a version-1 frame was read (the log is then rewritten on open).
    pub saw_v1: bool,
}

impl LogReader {
    /// Decodes one payload; the state changes only when all of it decodes.
    fn payload(&mut self, payload: &[u8]) -> Result<(Labels, Vec<HistogramSample>), Corrupt> {
        let mut r = Reader::new(payload);
        match r.u8()? {
            FORMAT_V1 => {
                let out = decode_v1(&mut r)?;
                self.saw_v1 = true;
                Ok(out)
            }
            FORMAT_V2 => {
                let id = r.uvarint()?;
                let (labels, mut dec) = match r.u8()? {
                    0 => self.series.get(&id).cloned().ok_or(Corrupt)?,
                    1 => (get_labels(&mut r)?, Decoder::default()),
                    _ => return Err(Corrupt),
                };
                let n = r.uvarint()?;
                let bits = r.buf.get(r.pos..).ok_or(Corrupt)?;
                // Each sample takes more than a byte: a count beyond that is corrupt.
                if n > bits.len() as u64 {
                    return Err(Corrupt);
                }
                let mut br = BitReader::new(bits);
                let mut samples = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    samples.push(dec.get(&mut br)?);
                }
                if br.bytes_used() != bits.len() {
                    return Err(Corrupt);
                }
                self.series.insert(id, (labels.clone(), dec));
                Ok((labels, samples))
            }
            _ => Err(Corrupt),
        }
    }

    /// Calls `f(end offset of the frame, labels, samples)` for each intact frame of `data`, a
    /// stretch of the log that starts at a frame boundary right after what this reader read
    /// before; returns the length of the intact prefix (a torn or corrupt frame ends it).
    pub fn read(
        &mut self,
        data: &[u8],
        mut f: impl FnMut(usize, Labels, Vec<HistogramSample>),
    ) -> usize {
        let mut pos = 0usize;
        while let Some(header) = data.get(pos..pos + 8) {
            let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
            let Some(payload) = data.get(pos + 8..pos + 8 + len) else {
                break;
            };
            if crc32fast::hash(payload) != crc {
                break;
            }
            let Ok((labels, samples)) = self.payload(payload) else {
                break;
            };
            pos += 8 + len;
            f(pos, labels, samples);
        }
        pos
    }
}

/// The log's path under the TSDB directory.
pub fn log_path(tsdb_dir: &Path) -> std::path::PathBuf {
    tsdb_dir.join("histograms").join("log")
}

/// The log the last rewrite replaced (kept until the next one).
pub fn prev_log_path(tsdb_dir: &Path) -> std::path::PathBuf {
    tsdb_dir.join("histograms").join("log.prev")
}

/// Decodes the frames of a log; returns the series, the length of the intact prefix and
/// the reader (its state is what the next frames are coded against).
fn read_frames(data: &[u8]) -> (BTreeMap<Labels, Vec<HistogramSample>>, usize, LogReader) {
    let mut series: BTreeMap<Labels, Vec<HistogramSample>> = BTreeMap::new();
    let mut reader = LogReader::default();
    let pos = reader.read(data, |_, labels, samples| {
        let list = series.entry(labels).or_default();
        for s in samples {
            if list.last().is_none_or(|last| last.t < s.t) {
                list.push(s);
            }
        }
    });
    (series, pos, reader)
}

/// The in-memory chunks of series' samples (each list in time order).
fn in_memory(
    series: impl IntoIterator<Item = (Labels, Vec<HistogramSample>)>,
) -> BTreeMap<Labels, SeriesData> {
    let mut mem = BTreeMap::new();
    for (labels, samples) in series {
        let mut it = samples.iter();
        if let Some(first) = it.next() {
            let mut d = SeriesData::new(first);
            it.for_each(|s| d.push(s));
            mem.insert(labels, d);
        }
    }
    mem
}

impl HistogramStore {
    /// Opens `<dir>/histograms/log`, replaying it; samples before `min_t` are dropped and the
    /// log rewritten without them (and without a torn tail, and as version 2).
    pub fn open(dir: &Path, min_t: i64) -> Result<HistogramStore, StorageError> {
        Self::open_without(dir, min_t, |_| false)
    }

    /// `open`, also dropping the samples whose timestamp `in_blocks` says a block holds.
    pub fn open_without(
        dir: &Path,
        min_t: i64,
        in_blocks: impl Fn(i64) -> bool,
    ) -> Result<HistogramStore, StorageError> {
        let path = log_path(dir);
        let dir = dir.join("histograms");
        std::fs::create_dir_all(&dir)?;
        let mut data = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut data)?;
        }
        let (mut series, intact, reader) = read_frames(&data);
        let mut dropped = false;
        for samples in series.values_mut() {
            let before = samples.len();
            samples.retain(|s| s.t >= min_t && !in_blocks(s.t));
            dropped |= samples.len() != before;
        }
        series.retain(|_, s| !s.is_empty());
        let writer = if dropped || reader.saw_v1 || intact != data.len() {
            rewrite_log(&path, series.iter().map(|(l, s)| (l, s.iter().collect())))?
        } else {
            // Appends continue the file: from the state its frames left.
            let refs = reader
                .series
                .into_iter()
                .map(|(id, (labels, dec))| (labels, (id, dec.into_encoder())))
                .collect();
            let mut file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)?;
            file.seek(SeekFrom::End(0))?;
            LogWriter { file, refs }
        };
        drop(data);
        let mem = in_memory(series);
        Ok(HistogramStore {
            log: Mutex::new(writer),
            series: RwLock::new(mem),
            min_valid: AtomicI64::new(i64::MIN),
            path,
        })
    }

    /// Refuses appends older than `t` from now on (as out of bounds); never lowers the bound.
    pub fn set_min_valid(&self, t: i64) {
        // Under the log lock, so no append that checked the old bound is still in flight.
        let _log = self.log.lock();
        self.min_valid.fetch_max(t, Ordering::SeqCst);
    }

    /// Oldest and newest timestamps of the samples at or after `from` (a chunk's start counts
    /// as its oldest; close enough to decide when to cut), `None` if there are none.
    pub fn time_range(&self, from: i64) -> Option<(i64, i64)> {
        let series = self.series.read();
        let mut range: Option<(i64, i64)> = None;
        for c in series.values().flat_map(|d| d.chunks.iter()) {
            if c.samples == 0 || c.max_t < from {
                continue;
            }
            let lo = c.min_t.max(from);
            range = Some(match range {
                Some((a, b)) => (a.min(lo), b.max(c.max_t)),
                None => (lo, c.max_t),
            });
        }
        range
    }

    /// The samples in `[lo, before)` of every series, encoded as block chunks.
    pub fn snapshot_range(&self, lo: i64, before: i64) -> crate::block::HistSeries {
        let series = self.series.read();
        let mut out = Vec::new();
        for (labels, data) in series.iter() {
            if before == i64::MIN || !data.overlaps(lo, before - 1) {
                continue;
            }
            let samples = data.read(lo, before - 1);
            if !samples.is_empty() {
                out.push((labels.clone(), Chunk::encode_all(&samples)));
            }
        }
        out
    }

    /// Drops the samples in `[lo, before)` (now in a block) and rewrites the log with the rest.
    pub fn remove_range(&self, lo: i64, before: i64) -> Result<(), StorageError> {
        let mut log = self.log.lock();
        let mut series = self.series.write();
        let touched = series
            .values()
            .any(|d| before != i64::MIN && d.overlaps(lo, before - 1));
        if !touched {
            return Ok(());
        }
        let kept: Vec<(Labels, Vec<HistogramSample>)> = series
            .iter()
            .map(|(labels, d)| {
                let mut all = d.read(i64::MIN, i64::MAX);
                all.retain(|s| s.t < lo || s.t >= before);
                (labels.clone(), all)
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        let writer = rewrite_log(
            &self.path,
            kept.iter().map(|(l, s)| (l, s.iter().collect())),
        )?;
        *log = writer;
        *series = in_memory(kept);
        Ok(())
    }

    /// Appends samples (same rules as floats: older than a series' newest sample is out of
    /// order, the same timestamp with another histogram a duplicate); durable when it returns.
    pub fn append(&self, batch: &[(Labels, HistogramSample)]) -> Result<AppendStats, StorageError> {
        let mut stats = AppendStats::default();
        let mut log = self.log.lock();
        let mut accepted: BTreeMap<&Labels, Vec<&HistogramSample>> = BTreeMap::new();
        {
            let series = self.series.read();
            let min_valid = self.min_valid.load(Ordering::SeqCst);
            for (labels, s) in batch {
                if s.t < min_valid {
                    stats.out_of_bounds += 1;
                    continue;
                }
                let pending = accepted.get(labels).and_then(|v| v.last().map(|p| p.t));
                let last = pending.or_else(|| series.get(labels).map(|d| d.last.t));
                match last {
                    Some(t) if s.t < t => stats.out_of_order += 1,
                    Some(t) if s.t == t => {
                        let same = series
                            .get(labels)
                            .is_some_and(|d| d.last.t == s.t && d.last.h == s.h);
                        if same {
                            stats.appended += 1;
                        } else {
                            stats.duplicate += 1;
                        }
                    }
                    _ => {
                        if series.get(labels).is_none() && !accepted.contains_key(labels) {
                            stats.series_created += 1;
                        }
                        accepted.entry(labels).or_default().push(s);
                    }
                }
            }
        }
        if accepted.is_empty() {
            return Ok(stats);
        }
        // One frame per series, so a remote_write follower's position is a series' frame.
        let mut out = Vec::new();
        let mut states = Vec::with_capacity(accepted.len());
        let mut next_id = log.refs.len() as u64;
        for (labels, samples) in &accepted {
            let state = frame_series(&log.refs, next_id, labels, samples, &mut out);
            if state.0 == next_id {
                next_id += 1;
            }
            states.push(((*labels).clone(), state));
        }
        let before = log.file.metadata().map(|m| m.len()).ok();
        let written = log.file.write_all(&out).and_then(|_| log.file.sync_data());
        if let Err(e) = written {
            // Cut a partly written append off, so later frames do not follow garbage.
            if let Some(len) = before {
                let _ = log.file.set_len(len);
            }
            return Err(e.into());
        }
        log.refs.extend(states);
        let mut series = self.series.write();
        for (labels, samples) in accepted {
            stats.appended += samples.len();
            match series.get_mut(labels) {
                Some(d) => samples.iter().for_each(|s| d.push(s)),
                None => {
                    let mut it = samples.iter();
                    if let Some(first) = it.next() {
                        let mut d = SeriesData::new(first);
                        it.for_each(|s| d.push(s));
                        series.insert(labels.clone(), d);
                    }
                }
            }
        }
        Ok(stats)
    }

    /// Series matching all matchers with their samples in `[mint, maxt]`, sorted by labels.
    pub fn select(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<HistogramSeries> {
        let series = self.series.read();
        let mut out = Vec::new();
        for (labels, data) in series.iter() {
            if !matches_all(matchers, labels) || !data.overlaps(mint, maxt) {
                continue;
            }
            let samples = data.read(mint, maxt);
            if !samples.is_empty() {
                out.push(HistogramSeries {
                    labels: labels.clone(),
                    samples,
                });
            }
        }
        out
    }

    /// Label sets of the series matching all matchers with samples in `[mint, maxt]`.
    pub fn series_labels(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<Labels> {
        self.series
            .read()
            .iter()
            .filter(|(labels, data)| {
                matches_all(matchers, labels) && data.has_samples_in(mint, maxt)
            })
            .map(|(labels, _)| labels.clone())
            .collect()
    }

    /// Bytes of the log (for disk-size accounting).
    pub fn log_bytes(&self) -> u64 {
        self.log
            .lock()
            .file
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Bytes of the in-memory chunks' bit streams.
    pub fn chunk_bytes(&self) -> usize {
        self.series
            .read()
            .values()
            .flat_map(|d| d.chunks.iter())
            .map(|c| c.bytes())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> FloatHistogram {
        model::histogram::parse_histogram(text).unwrap().histogram
    }

    #[test]
    fn survives_reopen_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let labels = Labels::from_pairs([("__name__", "lat")]);
        let a = h("{{schema:1 count:5 sum:2.5 z_bucket:1 z_bucket_w:0.001 buckets:[1 2] n_buckets:[1] counter_reset_hint:gauge}}");
        let b = h("{{schema:-53 count:3 sum:7 custom_values:[1 2.5] buckets:[1 1 1]}}");
        {
            let store = HistogramStore::open(dir.path(), i64::MIN).unwrap();
            let st = store
                .append(&[
                    (labels.clone(), HistogramSample::float(1000, a.clone())),
                    (labels.clone(), HistogramSample::integer(2000, b.clone())),
                    (labels.clone(), HistogramSample::integer(1500, b.clone())),
                ])
                .unwrap();
            assert_eq!((st.appended, st.out_of_order, st.series_created), (2, 1, 1));
        }
        // A torn frame at the end (crash mid-write) is cut off.
        let log = dir.path().join("histograms/log");
        let mut f = OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        drop(f);
        let store = HistogramStore::open(dir.path(), i64::MIN).unwrap();
        let got = store.select(&[LabelMatcher::equal("__name__", "lat")], 0, 5000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].samples.len(), 2);
        assert_eq!(got[0].samples[0], HistogramSample::float(1000, a.clone()));
        assert_eq!(got[0].samples[1], HistogramSample::integer(2000, b.clone()));
        assert!(got[0].samples[1].integer);
        // Retention on open drops the old sample.
        drop(store);
        let store = HistogramStore::open(dir.path(), 1500).unwrap();
        assert_eq!(store.select(&[], i64::MIN, i64::MAX)[0].samples.len(), 1);
    }

    /// The log's bytes per native-histogram sample on scrape-like data (prints the figure;
    /// `cargo nextest run -p tsdb bytes_per_histogram_sample --no-capture`): 5 series of a
    /// schema-3 latency histogram with 24 populated buckets in two spans, scraped every 15 s
    /// for 1 h, integer bucket counts growing by a few per scrape and a fractional sum. The bound
    /// only guards against a regression of the encoding.
    #[test]
    fn bytes_per_histogram_sample() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistogramStore::open(dir.path(), i64::MIN).unwrap();
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let (series, per_series) = (5, 240);
        for i in 0..series {
            let labels = Labels::from_pairs([
                ("__name__", "http_request_duration_seconds".to_string()),
                ("instance", format!("app-{i}:8080")),
            ]);
            let mut buckets = vec![0.0f64; 24];
            let (mut count, mut sum) = (0.0, 0.0);
            let mut batch = Vec::new();
            for k in 0..per_series {
                for b in buckets.iter_mut() {
                    let inc = (next() % 4) as f64;
                    *b += inc;
                    count += inc;
                    sum += inc * 0.013 * (1 + next() % 50) as f64;
                }
                batch.push((
                    labels.clone(),
                    HistogramSample::integer(
                        1_700_000_000_000 + k * 15_000,
                        FloatHistogram {
                            counter_reset_hint: CounterResetHint::NotCounterReset,
                            schema: 3,
                            zero_threshold: 2.938735877055719e-39,
                            zero_count: 0.0,
                            count,
                            sum,
                            positive_spans: vec![
                                Span {
                                    offset: -20,
                                    length: 16,
                                },
                                Span {
                                    offset: 2,
                                    length: 8,
                                },
                            ],
                            positive_buckets: buckets.clone(),
                            ..Default::default()
                        },
                    ),
                ));
                // Appended one scrape at a time, as a scrape loop or remote_write would.
                if batch.len() == 1 {
                    store.append(&batch).unwrap();
                    batch.clear();
                }
            }
        }
        let samples = (series * per_series) as f64;
        let per_sample = store.log_bytes() as f64 / samples;
        let in_chunks = store.chunk_bytes() as f64 / samples;
        eprintln!(
            "histogram log: {} bytes for {samples} samples (24 buckets each): {per_sample:.1} bytes/sample; memory chunks {in_chunks:.1} bytes/sample",
            store.log_bytes()
        );
        // Before the compressed encoding (log format 1) the log took 177.8 bytes/sample.
        assert!(per_sample < 60.0, "{per_sample} bytes/sample");
        assert!(in_chunks < 40.0, "{in_chunks} bytes/sample");
        // The figures survive a reopen (the log is continued, not rewritten).
        let log_bytes = store.log_bytes();
        drop(store);
        let store = HistogramStore::open(dir.path(), i64::MIN).unwrap();
        assert_eq!(store.log_bytes(), log_bytes);
        assert_eq!(store.select(&[], i64::MIN, i64::MAX).len(), series as usize);
    }

    #[test]
    fn garbage_never_panics() {
        for data in [
            vec![],
            vec![1, 0, 0, 0],
            vec![255; 40],
            vec![5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5],
        ] {
            let _ = read_frames(&data);
            let _ = LogReader::default().payload(&data);
        }
    }

    /// A log written by pharos before the compressed encoding (format 1, this fixture was
    /// written by that code) is read, rewritten as format 2 on open, and read again after.
    #[test]
    fn reads_and_upgrades_a_version_1_log() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("histograms")).unwrap();
        let fixture = include_bytes!("../tests/fixtures/histograms-v1.log");
        std::fs::write(log_path(dir.path()), fixture).unwrap();
        let p = |s: &str| model::histogram::parse_histogram(s).unwrap().histogram;
        let expected = vec![
            HistogramSeries {
                labels: Labels::from_pairs([("__name__", "lat"), ("job", "a")]),
                samples: vec![
                    HistogramSample::float(1000, p("{{schema:1 count:5 sum:2.5 z_bucket:1 z_bucket_w:0.001 buckets:[1 2] n_buckets:[1] counter_reset_hint:gauge}}")),
                    HistogramSample::float(2000, p("{{schema:1 count:7 sum:3.25 z_bucket:1 z_bucket_w:0.001 buckets:[2 3] n_buckets:[1] counter_reset_hint:gauge}}")),
                ],
            },
            HistogramSeries {
                labels: Labels::from_pairs([("__name__", "nhcb"), ("job", "b")]),
                samples: vec![
                    HistogramSample::float(2000, p("{{schema:-53 count:3 sum:7 custom_values:[1 2.5] buckets:[1 1 1]}}")),
                    HistogramSample::float(3000, p("{{schema:-53 count:4.5 sum:8 custom_values:[1 2.5] buckets:[1 2.5 1] counter_reset_hint:not_reset}}")),
                ],
            },
        ];
        let store = HistogramStore::open(dir.path(), i64::MIN).unwrap();
        assert_eq!(store.select(&[], i64::MIN, i64::MAX), expected);
        let rewritten = std::fs::read(log_path(dir.path())).unwrap();
        assert_eq!(rewritten.get(8), Some(&FORMAT_V2), "rewritten as format 2");
        // Appends continue the upgraded log; all of it reads back after a reopen.
        let next = HistogramSample::integer(
            4000,
            p("{{schema:-53 count:5 sum:9 custom_values:[1 2.5] buckets:[1 3 1]}}"),
        );
        store
            .append(&[(expected[1].labels.clone(), next.clone())])
            .unwrap();
        drop(store);
        let store = HistogramStore::open(dir.path(), i64::MIN).unwrap();
        let got = store.select(&[], i64::MIN, i64::MAX);
        assert_eq!(got[0], expected[0]);
        assert_eq!(got[1].samples[..2], expected[1].samples[..]);
        assert_eq!(got[1].samples[2], next);
        assert!(got[1].samples[2].integer);
    }

    /// Many series and samples, appended in batches across reopens, read back exactly, from
    /// memory and from the log (the memory chunks are cut every 120 samples).
    #[test]
    fn many_appends_round_trip_across_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let p = |s: &str| model::histogram::parse_histogram(s).unwrap().histogram;
        let mut expected: BTreeMap<Labels, Vec<HistogramSample>> = BTreeMap::new();
        for round in 0..3 {
            let store = HistogramStore::open(dir.path(), i64::MIN).unwrap();
            for k in 0..150i64 {
                let t = (round * 1000 + k) * 1000;
                let mut batch = Vec::new();
                for i in 0..4 {
                    let labels =
                        Labels::from_pairs([("__name__", "h".to_string()), ("i", i.to_string())]);
                    // Series 3 changes its layout every 7 samples; series 2 is a float one.
                    let len = if i == 3 { 1 + (k / 7) % 3 } else { 2 };
                    let buckets: Vec<String> = (0..len).map(|b| (k + b + i).to_string()).collect();
                    let h = p(&format!(
                        "{{{{schema:{i} count:{} sum:{}.5 buckets:[{}]}}}}",
                        k * 3,
                        k,
                        buckets.join(" ")
                    ));
                    let s = if i == 2 {
                        HistogramSample::float(t, h)
                    } else {
                        HistogramSample::integer(t, h)
                    };
                    expected.entry(labels.clone()).or_default().push(s.clone());
                    batch.push((labels, s));
                }
                assert_eq!(store.append(&batch).unwrap().appended, 4);
            }
            let got = store.select(&[], i64::MIN, i64::MAX);
            let want: Vec<HistogramSeries> = expected
                .iter()
                .map(|(labels, samples)| HistogramSeries {
                    labels: labels.clone(),
                    samples: samples.clone(),
                })
                .collect();
            assert_eq!(got, want, "round {round}");
            // A window inside a chunk.
            let w = store.select(&[], 5_000, 7_000);
            assert_eq!(
                w[0].samples.iter().map(|s| s.t).collect::<Vec<_>>(),
                vec![5_000, 6_000, 7_000]
            );
        }
        let data = std::fs::read(log_path(dir.path())).unwrap();
        let (series, intact, _) = read_frames(&data);
        assert_eq!(intact, data.len());
        assert_eq!(series, expected);
    }
}

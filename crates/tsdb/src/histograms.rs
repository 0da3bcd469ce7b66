//! Native-histogram storage of the TSDB: samples kept in memory per series and made durable
//! in their own append-only log, `<dir>/histograms/log`, before an append is acknowledged;
//! replayed on open (a torn tail from a crash is cut off).
//!
//! This is pharos' interim encoding, not Prometheus' histogram chunks: each log frame is
//! `u32 length | u32 CRC32 | payload`, the payload `u8 format version (1) | labels | samples`,
//! a sample `varint Δt | u8 hint | varint schema | threshold, zero count, count, sum |
//! spans | buckets | custom bounds`, where a float that is a whole number is a tag byte and a
//! varint (integer histograms, the common case, take a few bytes per bucket) and any other
//! float a tag byte and its 8 bytes. Histograms are not cut into blocks: they stay in this log
//! and in memory, and samples older than the retention time are dropped when the log is
//! rewritten on open.

use crate::encoding::{put_bytes, put_uvarint, put_varint, Corrupt, Reader};
use model::histogram::{CounterResetHint, FloatHistogram, Span};
use model::matcher::matches_all;
use model::{AppendStats, HistogramSample, HistogramSeries, LabelMatcher, Labels, StorageError};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Format version of a log frame's payload.
const FORMAT_VERSION: u8 = 1;

/// Native histograms of the database (see the module documentation).
pub struct HistogramStore {
    log: Mutex<File>,
    series: RwLock<BTreeMap<Labels, Vec<HistogramSample>>>,
}

fn put_f64(out: &mut Vec<u8>, v: f64) {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        out.push(0);
        put_varint(out, v as i64);
    } else {
        out.push(1);
        out.extend_from_slice(&v.to_bits().to_le_bytes());
    }
}

fn get_f64(r: &mut Reader<'_>) -> Result<f64, Corrupt> {
    match r.u8()? {
        0 => Ok(r.varint()? as f64),
        1 => Ok(f64::from_bits(r.u64_le()?)),
        _ => Err(Corrupt),
    }
}

fn put_spans(out: &mut Vec<u8>, spans: &[Span], buckets: &[f64]) {
    put_uvarint(out, spans.len() as u64);
    for s in spans {
        put_varint(out, i64::from(s.offset));
        put_uvarint(out, u64::from(s.length));
    }
    put_uvarint(out, buckets.len() as u64);
    for b in buckets {
        put_f64(out, *b);
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

fn hint_code(h: CounterResetHint) -> u8 {
    match h {
        CounterResetHint::Unknown => 0,
        CounterResetHint::CounterReset => 1,
        CounterResetHint::NotCounterReset => 2,
        CounterResetHint::Gauge => 3,
    }
}

/// One frame's payload: a series and its samples (ascending time).
fn encode(labels: &Labels, samples: &[&HistogramSample]) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION];
    put_uvarint(&mut out, labels.len() as u64);
    for l in labels.iter() {
        put_bytes(&mut out, l.name.as_bytes());
        put_bytes(&mut out, l.value.as_bytes());
    }
    put_uvarint(&mut out, samples.len() as u64);
    let mut prev_t = 0i64;
    for s in samples {
        put_varint(&mut out, s.t.wrapping_sub(prev_t));
        prev_t = s.t;
        let h = &s.h;
        out.push(hint_code(h.counter_reset_hint));
        put_varint(&mut out, i64::from(h.schema));
        for v in [h.zero_threshold, h.zero_count, h.count, h.sum] {
            put_f64(&mut out, v);
        }
        put_spans(&mut out, &h.positive_spans, &h.positive_buckets);
        put_spans(&mut out, &h.negative_spans, &h.negative_buckets);
        put_uvarint(&mut out, h.custom_values.len() as u64);
        for v in &h.custom_values {
            put_f64(&mut out, *v);
        }
    }
    out
}

fn decode(payload: &[u8]) -> Result<(Labels, Vec<HistogramSample>), Corrupt> {
    let mut r = Reader::new(payload);
    if r.u8()? != FORMAT_VERSION {
        return Err(Corrupt);
    }
    let n = get_len(&mut r)?;
    let mut pairs = Vec::with_capacity(n);
    for _ in 0..n {
        pairs.push((r.string()?, r.string()?));
    }
    let labels = Labels::from_pairs(pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    let n = get_len(&mut r)?;
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
        let zero_threshold = get_f64(&mut r)?;
        let zero_count = get_f64(&mut r)?;
        let count = get_f64(&mut r)?;
        let sum = get_f64(&mut r)?;
        let (positive_spans, positive_buckets) = get_spans(&mut r)?;
        let (negative_spans, negative_buckets) = get_spans(&mut r)?;
        let n = get_len(&mut r)?;
        let mut custom_values = Vec::with_capacity(n);
        for _ in 0..n {
            custom_values.push(get_f64(&mut r)?);
        }
        samples.push(HistogramSample {
            t,
            h: FloatHistogram {
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
        });
    }
    Ok((labels, samples))
}

fn frame(payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Calls `f(end offset of the frame, labels, samples)` for each intact frame of `data`, a
/// stretch of the log that starts at a frame boundary; returns the length of the intact prefix
/// (a torn or corrupt frame ends it). remote_write queues follow the log with it.
pub fn for_each_frame(
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
        let Ok((labels, samples)) = decode(payload) else {
            break;
        };
        pos += 8 + len;
        f(pos, labels, samples);
    }
    pos
}

/// The log's path under the TSDB directory.
pub fn log_path(tsdb_dir: &Path) -> std::path::PathBuf {
    tsdb_dir.join("histograms").join("log")
}

/// Decodes the frames of a log; returns the series and the length of the intact prefix.
fn read_frames(data: &[u8]) -> (BTreeMap<Labels, Vec<HistogramSample>>, usize) {
    let mut series: BTreeMap<Labels, Vec<HistogramSample>> = BTreeMap::new();
    let pos = for_each_frame(data, |_, labels, samples| {
        let list = series.entry(labels).or_default();
        for s in samples {
            if list.last().is_none_or(|last| last.t < s.t) {
                list.push(s);
            }
        }
    });
    (series, pos)
}

impl HistogramStore {
    /// Opens `<dir>/histograms/log`, replaying it; samples before `min_t` are dropped and the
    /// log rewritten without them (and without a torn tail).
    pub fn open(dir: &Path, min_t: i64) -> Result<HistogramStore, StorageError> {
        let path = log_path(dir);
        let dir = dir.join("histograms");
        std::fs::create_dir_all(&dir)?;
        let mut data = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut data)?;
        }
        let (mut series, intact) = read_frames(&data);
        let mut dropped = false;
        for samples in series.values_mut() {
            let before = samples.len();
            samples.retain(|s| s.t >= min_t);
            dropped |= samples.len() != before;
        }
        series.retain(|_, s| !s.is_empty());
        if dropped || intact != data.len() {
            // Rewrite: a temporary file renamed over the log, so a crash keeps one of the two.
            let tmp = dir.join("log.tmp");
            let mut out = Vec::new();
            for (labels, samples) in &series {
                let refs: Vec<&HistogramSample> = samples.iter().collect();
                frame(&encode(labels, &refs), &mut out);
            }
            let mut f = File::create(&tmp)?;
            f.write_all(&out)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
        }
        let mut log = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        log.seek(SeekFrom::End(0))?;
        Ok(HistogramStore {
            log: Mutex::new(log),
            series: RwLock::new(series),
        })
    }

    /// Appends samples (same rules as floats: older than a series' newest sample is out of
    /// order, the same timestamp with another histogram a duplicate); durable when it returns.
    pub fn append(&self, batch: &[(Labels, HistogramSample)]) -> Result<AppendStats, StorageError> {
        let mut stats = AppendStats::default();
        let mut log = self.log.lock();
        let mut accepted: BTreeMap<&Labels, Vec<&HistogramSample>> = BTreeMap::new();
        {
            let series = self.series.read();
            for (labels, s) in batch {
                let pending = accepted.get(labels).and_then(|v| v.last().map(|p| p.t));
                let last = pending.or_else(|| series.get(labels)?.last().map(|p| p.t));
                match last {
                    Some(t) if s.t < t => stats.out_of_order += 1,
                    Some(t) if s.t == t => {
                        let same = series
                            .get(labels)
                            .and_then(|v| v.last())
                            .is_some_and(|p| p.t == s.t && p.h == s.h);
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
        let mut out = Vec::new();
        for (labels, samples) in &accepted {
            frame(&encode(labels, samples), &mut out);
        }
        log.write_all(&out)?;
        log.sync_data()?;
        let mut series = self.series.write();
        for (labels, samples) in accepted {
            stats.appended += samples.len();
            series
                .entry(labels.clone())
                .or_default()
                .extend(samples.into_iter().cloned());
        }
        Ok(stats)
    }

    /// Series matching all matchers with their samples in `[mint, maxt]`, sorted by labels.
    pub fn select(&self, matchers: &[LabelMatcher], mint: i64, maxt: i64) -> Vec<HistogramSeries> {
        let series = self.series.read();
        let mut out = Vec::new();
        for (labels, samples) in series.iter() {
            if !matches_all(matchers, labels) {
                continue;
            }
            let start = samples.partition_point(|s| s.t < mint);
            let end = samples.partition_point(|s| s.t <= maxt);
            if let Some(window) = samples.get(start..end).filter(|w| !w.is_empty()) {
                out.push(HistogramSeries {
                    labels: labels.clone(),
                    samples: window.to_vec(),
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
            .filter(|(labels, samples)| {
                matches_all(matchers, labels) && samples.iter().any(|s| s.t >= mint && s.t <= maxt)
            })
            .map(|(labels, _)| labels.clone())
            .collect()
    }

    /// Bytes of the log (for disk-size accounting).
    pub fn log_bytes(&self) -> u64 {
        self.log.lock().metadata().map(|m| m.len()).unwrap_or(0)
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
                    (
                        labels.clone(),
                        HistogramSample {
                            t: 1000,
                            h: a.clone(),
                        },
                    ),
                    (
                        labels.clone(),
                        HistogramSample {
                            t: 2000,
                            h: b.clone(),
                        },
                    ),
                    (
                        labels.clone(),
                        HistogramSample {
                            t: 1500,
                            h: b.clone(),
                        },
                    ),
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
        assert_eq!(got[0].samples[0].h, a);
        assert_eq!(got[0].samples[1].h, b);
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
                    HistogramSample {
                        t: 1_700_000_000_000 + k * 15_000,
                        h: FloatHistogram {
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
                    },
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
        eprintln!(
            "histogram log: {} bytes for {samples} samples (24 buckets each): {per_sample:.1} bytes/sample",
            store.log_bytes()
        );
        assert!(per_sample < 400.0, "{per_sample} bytes/sample");
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
            let _ = decode(&data);
        }
    }
}

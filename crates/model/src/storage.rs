//! The traits every metric store implements and every metric producer/consumer uses.
//! Timestamps are milliseconds since the Unix epoch, as in Prometheus.

use crate::{FloatHistogram, LabelMatcher, Labels};

/// One float sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    pub v: f64,
}

/// A series with its samples in ascending time order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// One native-histogram sample.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    pub h: FloatHistogram,
    /// The histogram came in with integer counts (Prometheus' `Histogram`, "H"), not float
    /// counts (`FloatHistogram`, "FH"). `h` holds the counts as floats either way; storage and
    /// the remote_write/remote_read wire keep the kind, so it is answered as it came in.
    pub integer: bool,
}

impl HistogramSample {
    /// A float histogram sample.
    pub fn float(t: i64, h: FloatHistogram) -> HistogramSample {
        HistogramSample {
            t,
            h,
            integer: false,
        }
    }

    /// An integer histogram sample, if its counts are whole and fit Prometheus' `uint64`
    /// counts (else a float one, as Prometheus would have to store it).
    pub fn integer(t: i64, h: FloatHistogram) -> HistogramSample {
        let integer = h.has_integer_counts();
        HistogramSample { t, h, integer }
    }
}

/// A series of native-histogram samples in ascending time order.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSeries {
    pub labels: Labels,
    pub samples: Vec<HistogramSample>,
}

/// Float series of one write with their labels still encoded (no `Labels` built): per series the
/// label pairs in name order, each name and value as its length (LEB128) and its bytes, back to
/// back in one buffer (the TSDB head's own label layout, so a store finds a known series by
/// hashing these bytes), and its samples in time order. Built by decoders that read labels
/// straight off the wire (remote_write); reused across requests (`clear` keeps the buffers).
/// Every label set is valid: at least one label, names non-empty, unique and sorted, values
/// non-empty, all UTF-8.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncodedSeriesBatch {
    labels: Vec<u8>,
    samples: Vec<Sample>,
    /// Per series: where its labels and its samples end in `labels` and `samples`.
    ends: Vec<(usize, usize)>,
}

impl EncodedSeriesBatch {
    /// Appends one label (name, value) to `buf` in the encoded layout.
    pub fn encode_label(buf: &mut Vec<u8>, name: &str, value: &str) {
        for text in [name, value] {
            let mut n = text.len();
            while n >= 0x80 {
                buf.push(n as u8 | 0x80);
                n >>= 7;
            }
            buf.push(n as u8);
            buf.extend_from_slice(text.as_bytes());
        }
    }

    /// The (name, value) pairs of encoded labels, in order (stops at malformed bytes).
    pub fn decode_labels(mut bytes: &[u8]) -> impl Iterator<Item = (&str, &str)> {
        let mut text = move || -> Option<&str> {
            let (mut n, mut shift, mut i) = (0usize, 0u32, 0usize);
            loop {
                let b = *bytes.get(i)?;
                i += 1;
                n |= usize::from(b & 0x7f).checked_shl(shift)?;
                if b < 0x80 {
                    break;
                }
                shift += 7;
            }
            let t = bytes.get(i..i.checked_add(n)?)?;
            bytes = &bytes[i + n..];
            std::str::from_utf8(t).ok()
        };
        std::iter::from_fn(move || Some((text()?, text()?)))
    }

    /// Encoded labels as `Labels`.
    pub fn to_labels(bytes: &[u8]) -> Labels {
        Labels::from_pairs(Self::decode_labels(bytes))
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.labels.clear();
        self.samples.clear();
        self.ends.clear();
    }

    /// The buffers of the series being built: encoded labels (append with `encode_label`) and
    /// samples; `finish_series` closes it, `discard_series` drops it.
    pub fn open_series(&mut self) -> (&mut Vec<u8>, &mut Vec<Sample>) {
        (&mut self.labels, &mut self.samples)
    }

    /// Ends the series being built (the caller has checked its labels are valid).
    pub fn finish_series(&mut self) {
        self.ends.push((self.labels.len(), self.samples.len()));
    }

    /// Label bytes and samples added since the last `finish_series`.
    pub fn pending(&self) -> (usize, usize) {
        let (l, s) = self.ends.last().copied().unwrap_or((0, 0));
        (
            self.labels.len().saturating_sub(l),
            self.samples.len().saturating_sub(s),
        )
    }

    /// Drops what was added since the last `finish_series`.
    pub fn discard_series(&mut self) {
        let (l, s) = self.ends.last().copied().unwrap_or((0, 0));
        self.labels.truncate(l);
        self.samples.truncate(s);
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Number of samples.
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// Capacity of the buffers in bytes (to decide whether a batch is worth keeping for reuse).
    pub fn capacity_bytes(&self) -> usize {
        self.labels.capacity()
            + self.samples.capacity() * std::mem::size_of::<Sample>()
            + self.ends.capacity() * std::mem::size_of::<(usize, usize)>()
    }

    /// Each series' encoded labels and samples, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[Sample])> {
        let mut start = (0, 0);
        self.ends.iter().map(move |&(l, s)| {
            let item = (
                self.labels.get(start.0..l).unwrap_or_default(),
                self.samples.get(start.1..s).unwrap_or_default(),
            );
            start = (l, s);
            item
        })
    }

    /// The batch as `Series` (labels decoded).
    pub fn to_series(&self) -> Vec<Series> {
        self.iter()
            .map(|(labels, samples)| Series {
                labels: Self::to_labels(labels),
                samples: samples.to_vec(),
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The caller sent something invalid (bad labels, ...): maps to HTTP 400.
    #[error("{0}")]
    BadInput(String),
    /// A limit was reached (series, size): maps to HTTP 429/413.
    #[error("{0}")]
    Limit(String),
    /// Disk or internal failure: maps to HTTP 500, or 507 when the disk is full
    /// ([`StorageError::disk_full`]).
    #[error("storage failure: {0}")]
    Io(String),
}

impl StorageError {
    /// The answer's text when this failure is a full disk (a write then answers 507
    /// Insufficient Storage, which senders retry), else None.
    pub fn disk_full(&self) -> Option<String> {
        match self {
            StorageError::Io(m) if is_disk_full(m) => Some(disk_full_message(m)),
            _ => None,
        }
    }
}

/// Whether an I/O failure's text is a full disk's: `io::Error` shows ENOSPC as `(os error 28)`
/// and a reached quota (EDQUOT) as `(os error 122)`, so the cause still shows once the error
/// became a string on its way up.
pub fn is_disk_full(msg: &str) -> bool {
    msg.contains("(os error 28)") || msg.contains("(os error 122)")
}

/// The message of a write refused on a full disk (HTTP 507).
pub fn disk_full_message(msg: &str) -> String {
    format!(
        "insufficient storage: the data directory's disk is full ({msg}); \
         writes are accepted again once space is freed, without a restart"
    )
}

impl From<std::io::Error> for StorageError {
    fn from(e: std::io::Error) -> Self {
        StorageError::Io(e.to_string())
    }
}

/// What happened to a batch handed to `MetricSink::append`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendStats {
    /// Samples stored.
    pub appended: usize,
    /// Samples rejected as older than the series' newest sample (outside any allowed window).
    pub out_of_order: usize,
    /// Samples with the same timestamp as the newest one but another value.
    pub duplicate: usize,
    /// Samples rejected as too old for the storage (before the head's lower bound / retention).
    pub out_of_bounds: usize,
    /// Series created by this batch.
    pub series_created: usize,
}

impl AppendStats {
    pub fn rejected(&self) -> usize {
        self.out_of_order + self.duplicate + self.out_of_bounds
    }
    pub fn merge(&mut self, o: AppendStats) {
        self.appended += o.appended;
        self.out_of_order += o.out_of_order;
        self.duplicate += o.duplicate;
        self.out_of_bounds += o.out_of_bounds;
        self.series_created += o.series_created;
    }
}

/// A producer's handle to one series, kept between appends of the same series (the scrape
/// cache): the labels, encoded as `EncodedSeriesBatch` encodes them (the TSDB head's layout, one
/// allocation of ~the label text instead of a `Labels`' `Vec` and two `String`s per label), plus
/// a store-specific hint (e.g. the head's series id) that lets the store skip its label lookup.
/// Clones share the hint; `0` means "not resolved yet".
#[derive(Clone, Debug)]
pub struct SeriesRef(std::sync::Arc<SeriesRefInner>);

#[derive(Debug)]
struct SeriesRefInner {
    hint: std::sync::atomic::AtomicU64,
    encoded: Box<[u8]>,
}

impl SeriesRef {
    pub fn new(labels: &Labels) -> SeriesRef {
        let mut buf = Vec::new();
        for l in labels {
            EncodedSeriesBatch::encode_label(&mut buf, &l.name, &l.value);
        }
        SeriesRef(std::sync::Arc::new(SeriesRefInner {
            hint: std::sync::atomic::AtomicU64::new(0),
            encoded: buf.into_boxed_slice(),
        }))
    }

    /// The labels in `EncodedSeriesBatch`'s layout (what a store looks the series up by).
    pub fn encoded(&self) -> &[u8] {
        &self.0.encoded
    }

    /// The labels, decoded (an allocation per label: for rare uses, not per sample).
    pub fn labels(&self) -> Labels {
        EncodedSeriesBatch::to_labels(&self.0.encoded)
    }

    /// Value of label `name`, or `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        EncodedSeriesBatch::decode_labels(&self.0.encoded)
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The store's hint, `0` when unresolved. Only the store that set it interprets it.
    pub fn hint(&self) -> u64 {
        self.0.hint.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_hint(&self, hint: u64) {
        self.0
            .hint
            .store(hint, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A destination for samples. When `append` returns `Ok`, the accepted samples are durable
/// (written to the WAL) and survive a crash.
pub trait MetricSink: Send + Sync {
    fn append(&self, batch: &[(Labels, Sample)]) -> Result<AppendStats, StorageError>;

    /// Appends series whose labels are still encoded (see `EncodedSeriesBatch`), as
    /// `append_series` does. Stores override this to find known series by their label bytes
    /// without building `Labels`; the default decodes them into `append_series`.
    fn append_encoded(&self, batch: &EncodedSeriesBatch) -> Result<AppendStats, StorageError> {
        self.append_series(&batch.to_series())
    }

    /// Appends whole series (each with its samples in time order). Stores override this to look
    /// a series up once instead of once per sample; the default flattens into `append`.
    fn append_series(&self, series: &[Series]) -> Result<AppendStats, StorageError> {
        let batch: Vec<(Labels, Sample)> = series
            .iter()
            .flat_map(|s| s.samples.iter().map(move |p| (s.labels.clone(), *p)))
            .collect();
        self.append(&batch)
    }

    /// Appends samples of series the caller keeps handles to (one scrape's batch). Stores
    /// override this to resolve a handle's hint instead of looking the labels up; the default
    /// clones the labels into `append`. Same durability as `append`.
    fn append_refs(&self, batch: &[(SeriesRef, Sample)]) -> Result<AppendStats, StorageError> {
        let flat: Vec<(Labels, Sample)> = batch.iter().map(|(r, s)| (r.labels(), *s)).collect();
        self.append(&flat)
    }

    /// Appends one scrape's samples as `append_refs` does, but may return before they are durable
    /// against power loss: they are in the store's log when this returns (so they survive the
    /// process being killed) and the store syncs that log within a few seconds, as Prometheus
    /// does for scraped samples, which no client waits to see acknowledged. Saves the scrape
    /// loop an fsync per scrape. The default is `append_refs`.
    fn append_scraped(&self, batch: &[(SeriesRef, Sample)]) -> Result<AppendStats, StorageError> {
        self.append_refs(batch)
    }

    /// Appends native-histogram samples (integer histograms are converted to `FloatHistogram`
    /// by the caller; gauge histograms carry `CounterResetHint::Gauge`). A series holds floats
    /// or histograms at any one timestamp, never both; the same out-of-order and duplicate rules
    /// as for floats apply, counted in the returned stats. Stores without native-histogram
    /// support reject the batch with `StorageError::BadInput`.
    fn append_histograms(
        &self,
        batch: &[(Labels, HistogramSample)],
    ) -> Result<AppendStats, StorageError> {
        if batch.is_empty() {
            return Ok(AppendStats::default());
        }
        Err(StorageError::BadInput(
            "native histograms are not supported by this store".into(),
        ))
    }
}

/// Read access to stored series. `mint`/`maxt` are inclusive millisecond bounds.
pub trait Queryable: Send + Sync {
    /// Series matching all matchers, with their samples in `[mint, maxt]` (series without samples
    /// in range are omitted). Results are sorted by labels.
    fn select(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, StorageError>;

    /// Native-histogram samples of series matching all matchers in `[mint, maxt]` (series
    /// without histogram samples in range are omitted), sorted by labels. A series may have
    /// both float samples (from `select`) and histogram samples, at different timestamps.
    fn select_histograms(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<HistogramSeries>, StorageError> {
        let _ = (matchers, mint, maxt);
        Ok(Vec::new())
    }

    /// Label sets of series matching all matchers that have data in `[mint, maxt]`, sorted.
    fn series(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, StorageError> {
        Ok(self
            .select(matchers, mint, maxt)?
            .into_iter()
            .map(|s| s.labels)
            .collect())
    }

    /// Sorted, unique label names (of series matching `matchers`, or all when empty).
    fn label_names(
        &self,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError>;

    /// Sorted, unique values of one label (of series matching `matchers`, or all when empty).
    fn label_values(
        &self,
        name: &str,
        matchers: &[LabelMatcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_told_from_other_io_failures() {
        for code in [28, 122] {
            let e = StorageError::from(std::io::Error::from_raw_os_error(code));
            let m = e.disk_full().expect("disk full");
            assert!(m.starts_with("insufficient storage"), "{m}");
            // Still told once wrapped in another message.
            assert!(is_disk_full(&format!("flushing a segment: {e}")));
        }
        let other = StorageError::from(std::io::Error::from_raw_os_error(5));
        assert!(other.disk_full().is_none());
        assert!(StorageError::Limit("(os error 28)".into())
            .disk_full()
            .is_none());
    }
}

//! Forwarders for logs, traces and errors (`forward:` of pharos.yml): each follows its signal's
//! write-ahead log from a saved position (as the remote_write queues follow the TSDB's), keeps
//! what its `write_relabel_configs` let through, batches it, and sends it to a Loki push or
//! Elasticsearch `_bulk` endpoint, an OTLP/HTTP traces endpoint, or a Sentry DSN, retrying 5xx,
//! 429 (honouring `Retry-After`, and an OTLP/gRPC error's `RetryInfo`) and network errors
//! with backoff. A forwarder holds one batch at a time and reads on only after it was
//! delivered: a slow or down receiver leaves the backlog in the log, not in memory. Bodies are compressed as
//! the receiver takes them (`compression:`, the OpenTelemetry Collector's key): Loki push as
//! snappy-compressed protobuf (promtail's format; `gzip` sends gzipped JSON), OTLP and
//! Elasticsearch `_bulk` gzipped, Sentry envelopes plain unless `gzip` is asked for. The position is saved (and
//! fsynced) only after a batch was acknowledged, so a crash or an outage resends, never loses,
//! what is still in the log; the log store keeps segments a forwarder has not read yet.

use crate::settings::Settings;
use crate::tail::{end_of_log, Tail};
use config::forward::ForwardSection;
use config::prometheus::RemoteEndpoint;
use model::{Labels, LogEntry};
use parking_lot::Mutex;
use prost::Message;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use wal::{Framing, Position, SegmentNaming};

/// Which store's log a forwarder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Logs,
    Traces,
    Errors,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Errors => "errors",
        }
    }

    /// The log's directory under the data directory, its segment names and framing (as the
    /// stores open them).
    fn wal(self, data_dir: &Path) -> (PathBuf, SegmentNaming, Framing) {
        match self {
            Signal::Logs => (
                data_dir.join("logs").join("wal"),
                SegmentNaming::with_suffix(".log"),
                Framing::Plain,
            ),
            Signal::Traces => (
                data_dir.join("traces").join("wal"),
                SegmentNaming::with_suffix(".seg"),
                Framing::Zstd(3),
            ),
            Signal::Errors => (
                data_dir.join("errors").join("wal"),
                SegmentNaming::with_suffix(".wal"),
                Framing::Flagged(wal::Compression::Zstd(1)),
            ),
        }
    }
}

/// The wire format of a target.
#[derive(Clone, Debug, PartialEq)]
pub enum Format {
    /// Loki's push API (JSON), one request per tenant with `X-Scope-OrgID`.
    Loki,
    /// Elasticsearch's `_bulk` API: one `create` per log line into `index`.
    Elasticsearch { index: String },
    /// OTLP/HTTP protobuf `ExportTraceServiceRequest`.
    Otlp,
    /// OTLP over gRPC (`TraceService/Export`, HTTP/2; TLS for an https:// URL, see
    /// `crate::grpc`), the OpenTelemetry Collector's `otlp` exporter.
    OtlpGrpc,
    /// A Sentry DSN: one envelope per event with the DSN's key.
    Sentry { key: String },
}

/// How request bodies are compressed (`compression:` of a forward entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    /// `Content-Encoding: gzip`.
    Gzip,
    /// Loki's snappy-compressed protobuf push body.
    Snappy,
}

/// One configured forwarder.
#[derive(Clone, Debug)]
pub struct Target {
    pub signal: Signal,
    pub format: Format,
    pub compression: Compression,
    pub settings: Settings,
}

impl PartialEq for Target {
    fn eq(&self, o: &Target) -> bool {
        self.signal == o.signal
            && self.format == o.format
            && self.compression == o.compression
            && self.settings == o.settings
    }
}

fn take_str(ep: &mut RemoteEndpoint, key: &str) -> Result<Option<String>, String> {
    match ep.other.remove(key) {
        None => Ok(None),
        Some(serde_yaml_ng::Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{key} must be a string")),
    }
}

/// `scheme://key[:secret]@host[:port]/[path/]project` → (envelope URL, key).
pub fn parse_dsn(dsn: &str) -> Result<(String, String), String> {
    let (scheme, rest) = dsn
        .split_once("://")
        .filter(|(s, _)| *s == "http" || *s == "https")
        .ok_or_else(|| format!("{dsn:?} is not an http(s) Sentry DSN"))?;
    let (userinfo, hostpath) = rest
        .split_once('@')
        .ok_or_else(|| "a Sentry DSN needs the public key before '@'".to_string())?;
    let key = userinfo.split(':').next().unwrap_or_default();
    if key.is_empty() {
        return Err("a Sentry DSN needs the public key before '@'".into());
    }
    let hostpath = hostpath.trim_end_matches('/');
    let (host, path) = hostpath
        .split_once('/')
        .ok_or_else(|| "a Sentry DSN ends in /<project id>".to_string())?;
    let (prefix, project) = match path.rsplit_once('/') {
        Some((p, id)) => (format!("/{p}"), id),
        None => (String::new(), path),
    };
    if host.is_empty() || project.is_empty() || !project.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a Sentry DSN ends in /<numeric project id>".into());
    }
    Ok((
        format!("{scheme}://{host}{prefix}/api/{project}/envelope/"),
        key.to_string(),
    ))
}

impl Target {
    /// The target of one `forward.<signal>` entry, or why it cannot be used.
    pub fn from_entry(signal: Signal, entry: &RemoteEndpoint) -> Result<Target, String> {
        let what = format!("forward.{} {}", signal.name(), entry.url);
        let mut ep = entry.clone();
        let format = take_str(&mut ep, "format").map_err(|e| format!("{what}: {e}"))?;
        let index = take_str(&mut ep, "index").map_err(|e| format!("{what}: {e}"))?;
        let format = match (signal, format.as_deref()) {
            (Signal::Logs, None | Some("loki")) => Format::Loki,
            (Signal::Logs, Some("elasticsearch")) => Format::Elasticsearch {
                index: index.clone().unwrap_or_else(|| "pharos-logs".into()),
            },
            (Signal::Traces, None | Some("otlp")) => Format::Otlp,
            (Signal::Traces, Some("otlp_grpc")) => Format::OtlpGrpc,
            (Signal::Errors, None | Some("sentry")) => {
                let (url, key) = parse_dsn(&ep.url).map_err(|e| format!("{what}: {e}"))?;
                ep.url = url;
                Format::Sentry { key }
            }
            (_, Some(f)) => {
                let allowed = match signal {
                    Signal::Logs => "loki or elasticsearch",
                    Signal::Traces => "otlp or otlp_grpc",
                    Signal::Errors => "sentry",
                };
                return Err(format!("{what}: format {f:?} is not one of {allowed}"));
            }
        };
        let compression = match take_str(&mut ep, "compression")
            .map_err(|e| format!("{what}: {e}"))?
            .as_deref()
        {
            None => match format {
                Format::Loki => Compression::Snappy,
                Format::Otlp | Format::OtlpGrpc | Format::Elasticsearch { .. } => Compression::Gzip,
                Format::Sentry { .. } => Compression::None,
            },
            Some("none" | "") => Compression::None,
            Some("gzip") => Compression::Gzip,
            Some("snappy") if format == Format::Loki => Compression::Snappy,
            Some(c) => {
                let allowed = if format == Format::Loki {
                    "none, gzip or snappy"
                } else {
                    "none or gzip"
                };
                return Err(format!("{what}: compression {c:?} is not one of {allowed}"));
            }
        };
        if index.is_some() && !matches!(format, Format::Elasticsearch { .. }) {
            return Err(format!("{what}: index is only for format: elasticsearch"));
        }
        if !(ep.url.starts_with("http://") || ep.url.starts_with("https://")) {
            return Err(format!("{what}: url must be an http:// or https:// URL"));
        }
        let mut settings = Settings::from_endpoint(&ep, &BTreeMap::new()).map_err(|e| {
            format!(
                "{what}: {}",
                e.split_once(": ").map_or(e.as_str(), |(_, m)| m)
            )
        })?;
        if entry.name.as_deref().unwrap_or("").is_empty() {
            // The default name hashes the URL as written (a DSN's key included).
            settings.name = format!("{:016x}", fnv(entry.url.as_bytes()))[..6].to_string();
        }
        if !entry.other.contains_key("queue_config") {
            // A log shipper's batch wait (promtail's batchwait), not remote_write's 5 s.
            settings.queue.batch_send_deadline = model::time::PromDuration(1_000);
        }
        Ok(Target {
            signal,
            format,
            compression,
            settings,
        })
    }

    fn position_file(&self, dir: &Path) -> PathBuf {
        dir.join(format!(
            "{}-{}.position",
            self.signal.name(),
            self.settings.name
        ))
    }
}

fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Every target of `forward:`, checked; names are unique per signal.
pub fn targets(section: &ForwardSection) -> Result<Vec<Target>, String> {
    let mut out: Vec<Target> = Vec::new();
    for (signal, list) in [
        (Signal::Logs, &section.logs),
        (Signal::Traces, &section.traces),
        (Signal::Errors, &section.errors),
    ] {
        for e in list {
            let t = Target::from_entry(signal, e)?;
            if out
                .iter()
                .any(|o| o.signal == signal && o.settings.name == t.settings.name)
            {
                return Err(format!(
                    "forward.{} {}: duplicate name {:?}",
                    signal.name(),
                    e.url,
                    t.settings.name
                ));
            }
            out.push(t);
        }
    }
    Ok(out)
}

/// Counters of one forwarder.
#[derive(Default)]
pub struct Metrics {
    pub items_sent: AtomicU64,
    pub items_failed: AtomicU64,
    pub items_retried: AtomicU64,
    pub items_dropped: AtomicU64,
    pub bytes: AtomicU64,
    pub requests: AtomicU64,
    pub send_us: AtomicU64,
    pub last_send_ms: AtomicU64,
    pub segments_skipped: AtomicU64,
    pub pos_seq: AtomicU64,
    pub pos_offset: AtomicU64,
}

/// The oldest log segment the log forwarders still need (shared with the log store).
struct Holds {
    hold: Arc<AtomicU64>,
    seqs: Mutex<Vec<Weak<AtomicU64>>>,
}

impl Holds {
    fn update(&self) {
        let mut seqs = self.seqs.lock();
        seqs.retain(|w| w.strong_count() > 0);
        let min = seqs
            .iter()
            .filter_map(Weak::upgrade)
            .map(|s| s.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX);
        self.hold.store(min, Ordering::Release);
    }
}

struct Running {
    target: Target,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    _seq: Arc<AtomicU64>,
}

impl Running {
    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// All forwarders of one pharos.
pub struct Forwarders {
    data_dir: PathBuf,
    state_dir: PathBuf,
    holds: Arc<Holds>,
    running: Mutex<Vec<Running>>,
}

fn read_position(path: &Path) -> Option<Position> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut it = text.split_whitespace();
    Some(Position {
        seq: it.next()?.parse().ok()?,
        offset: it.next()?.parse().ok()?,
    })
}

fn save_position(path: &Path, pos: Position) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("position.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{} {}\n", pos.seq, pos.offset).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        let _ = wal::sync_dir(dir);
    }
    Ok(())
}

impl Forwarders {
    /// Forwarders of the stores under `data_dir`; positions live in `<data_dir>/forward/`.
    /// The log segments still needed by saved positions are held from the start, so the log
    /// store's first flush does not delete them.
    pub fn new(data_dir: &Path) -> Forwarders {
        let state_dir = data_dir.join("forward");
        let mut hold = u64::MAX;
        if let Ok(rd) = std::fs::read_dir(&state_dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("logs-") && name.ends_with(".position") {
                    if let Some(p) = read_position(&e.path()) {
                        hold = hold.min(p.seq);
                    }
                }
            }
        }
        Forwarders {
            data_dir: data_dir.to_path_buf(),
            state_dir,
            holds: Arc::new(Holds {
                hold: Arc::new(AtomicU64::new(hold)),
                seqs: Mutex::new(Vec::new()),
            }),
            running: Mutex::new(Vec::new()),
        }
    }

    /// The log store's `wal_hold`.
    pub fn logs_wal_hold(&self) -> Arc<AtomicU64> {
        self.holds.hold.clone()
    }

    /// Runs exactly the forwarders of `section`: unchanged ones keep running, changed and
    /// removed ones stop, new ones start at the end of their log (as a new remote_write queue
    /// does) or at their saved position. Call within the tokio runtime. On an error nothing
    /// changes.
    pub fn apply(&self, section: &ForwardSection) -> Result<(), String> {
        let wanted = targets(section)?;
        let rt = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        let mut clients = Vec::with_capacity(wanted.len());
        for t in &wanted {
            let grpc = match t.format {
                Format::OtlpGrpc => Some(crate::grpc::channel(&t.settings)?),
                _ => None,
            };
            clients.push((t.settings.client()?, grpc));
        }
        std::fs::create_dir_all(&self.state_dir)
            .map_err(|e| format!("creating {}: {e}", self.state_dir.display()))?;
        let mut running = self.running.lock();
        let old = std::mem::take(&mut *running);
        let mut keep = Vec::new();
        for r in old {
            if wanted.contains(&r.target) {
                keep.push(r);
            } else {
                tracing::info!(signal = r.target.signal.name(), name = %r.target.settings.name, "forward: stopping");
                r.stop();
            }
        }
        for (t, client) in wanted.into_iter().zip(clients) {
            if let Some(i) = keep.iter().position(|r| r.target == t) {
                running.push(keep.swap_remove(i));
                continue;
            }
            tracing::info!(signal = t.signal.name(), name = %t.settings.name, url = %t.settings.url, "forward: starting");
            running.push(self.start(t, client, rt.clone())?);
        }
        drop(running);
        self.holds.update();
        Ok(())
    }

    fn start(
        &self,
        target: Target,
        (client, grpc): (reqwest::Client, Option<tonic::transport::Channel>),
        rt: tokio::runtime::Handle,
    ) -> Result<Running, String> {
        let (dir, naming, framing) = target.signal.wal(&self.data_dir);
        let pos_file = target.position_file(&self.state_dir);
        let start = match read_position(&pos_file) {
            Some(p) => p,
            None => {
                let p = end_of_log(&dir, naming).map_err(|e| format!("{}: {e}", dir.display()))?;
                save_position(&pos_file, p)
                    .map_err(|e| format!("saving {}: {e}", pos_file.display()))?;
                p
            }
        };
        let seq = Arc::new(AtomicU64::new(start.seq));
        if target.signal == Signal::Logs {
            self.holds.seqs.lock().push(Arc::downgrade(&seq));
        }
        let metrics = Arc::new(Metrics::default());
        metrics.pos_seq.store(start.seq, Ordering::Relaxed);
        metrics.pos_offset.store(start.offset, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let worker = Worker {
            target: target.clone(),
            client,
            rt,
            metrics: metrics.clone(),
            stop: stop.clone(),
            pos_file,
            seq: seq.clone(),
            holds: (target.signal == Signal::Logs).then(|| self.holds.clone()),
            grpc,
        };
        let tail = Tail::new(&dir, naming, framing, start);
        let thread = std::thread::Builder::new()
            .name(format!("forward-{}", target.signal.name()))
            .spawn(move || worker.run(tail))
            .map_err(|e| e.to_string())?;
        Ok(Running {
            target,
            metrics,
            stop,
            thread: Some(thread),
            _seq: seq,
        })
    }

    /// Stops every forwarder (positions are saved after each batch).
    pub fn stop(&self) {
        for r in std::mem::take(&mut *self.running.lock()) {
            r.stop();
        }
    }

    /// `pharos_forward_*` families, labels `signal`, `name` and `url`.
    pub fn write_metrics(&self, out: &mut String) {
        let running = self.running.lock();
        if running.is_empty() {
            return;
        }
        let rows: Vec<(String, &Running)> = running
            .iter()
            .map(|r| {
                (
                    format!(
                        "signal=\"{}\",name=\"{}\",url=\"{}\"",
                        r.target.signal.name(),
                        crate::escape(&r.target.settings.name),
                        crate::escape(&r.target.settings.url)
                    ),
                    r,
                )
            })
            .collect();
        type Get = fn(&Forwarders, &Running) -> f64;
        let families: [(&str, &str, &str, Get); 9] = [
            (
                "items_sent_total",
                "counter",
                "Items (log lines, spans, error events) the receiver acknowledged.",
                |_, r| r.metrics.items_sent.load(Ordering::Relaxed) as f64,
            ),
            (
                "items_failed_total",
                "counter",
                "Items the receiver refused for good (a 4xx other than 429); they are not resent.",
                |_, r| r.metrics.items_failed.load(Ordering::Relaxed) as f64,
            ),
            (
                "items_retried_total",
                "counter",
                "Items resent after a 5xx, a 429 or a network error.",
                |_, r| r.metrics.items_retried.load(Ordering::Relaxed) as f64,
            ),
            (
                "items_dropped_total",
                "counter",
                "Items dropped by write_relabel_configs.",
                |_, r| r.metrics.items_dropped.load(Ordering::Relaxed) as f64,
            ),
            (
                "bytes_total",
                "counter",
                "Request body bytes sent.",
                |_, r| r.metrics.bytes.load(Ordering::Relaxed) as f64,
            ),
            (
                "requests_total",
                "counter",
                "Requests sent, retries included.",
                |_, r| r.metrics.requests.load(Ordering::Relaxed) as f64,
            ),
            (
                "pending_bytes",
                "gauge",
                "Bytes of the signal's log not yet delivered (the queue).",
                |f, r| f.pending_bytes(r) as f64,
            ),
            (
                "last_send_timestamp_seconds",
                "gauge",
                "When a batch was last acknowledged.",
                |_, r| r.metrics.last_send_ms.load(Ordering::Relaxed) as f64 / 1000.0,
            ),
            (
                "wal_segments_skipped_total",
                "counter",
                "Log segments deleted before the forwarder read them (their items were not sent).",
                |_, r| r.metrics.segments_skipped.load(Ordering::Relaxed) as f64,
            ),
        ];
        for (name, kind, help, get) in families {
            let _ = writeln!(
                out,
                "# HELP pharos_forward_{name} {help}\n# TYPE pharos_forward_{name} {kind}"
            );
            for (labels, r) in &rows {
                let _ = writeln!(out, "pharos_forward_{name}{{{labels}}} {}", get(self, r));
            }
        }
        let _ = writeln!(out, "# HELP pharos_forward_send_duration_seconds Duration of send calls.\n# TYPE pharos_forward_send_duration_seconds summary");
        for (labels, r) in &rows {
            let _ = writeln!(
                out,
                "pharos_forward_send_duration_seconds_sum{{{labels}}} {}\npharos_forward_send_duration_seconds_count{{{labels}}} {}",
                r.metrics.send_us.load(Ordering::Relaxed) as f64 / 1e6,
                r.metrics.requests.load(Ordering::Relaxed)
            );
        }
    }

    fn pending_bytes(&self, r: &Running) -> u64 {
        let (dir, naming, _) = r.target.signal.wal(&self.data_dir);
        let seq = r.metrics.pos_seq.load(Ordering::Relaxed);
        let offset = r.metrics.pos_offset.load(Ordering::Relaxed);
        let Ok(segs) = wal::list_segments(&dir, naming) else {
            return 0;
        };
        segs.iter()
            .filter(|&&s| s >= seq)
            .map(|&s| {
                let len = std::fs::metadata(naming.path(&dir, s)).map_or(0, |m| m.len());
                if s == seq {
                    len.saturating_sub(offset)
                } else {
                    len
                }
            })
            .sum()
    }
}

impl Drop for Forwarders {
    fn drop(&mut self) {
        for r in self.running.get_mut().iter() {
            r.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// What one batch holds, per format.
#[derive(Default)]
struct Batch {
    /// Log streams by tenant.
    logs: BTreeMap<String, Vec<(Labels, Vec<LogEntry>)>>,
    /// Concatenated `TracesData` (a valid `ExportTraceServiceRequest`: same field number).
    traces: Vec<u8>,
    /// Error events.
    events: Vec<Value>,
    items: usize,
    bytes: usize,
    first: Option<Instant>,
    end: Option<Position>,
}

/// One HTTP request of a batch.
struct Request {
    body: Vec<u8>,
    content_type: &'static str,
    tenant: Option<String>,
    items: usize,
    /// Elasticsearch: the (action, document) lines, to resend only refused items.
    es_docs: Option<Vec<(String, String)>>,
}

/// An Elasticsearch answer with item errors: (documents to resend: 429 and 5xx, refused
/// count, stored count).
type EsPartial = (Vec<(String, String)>, usize, usize);

enum SendError {
    Retry(String, Option<Duration>),
    Permanent(String),
}

/// Biggest batch body before it is sent regardless of the item count.
const MAX_BATCH_BYTES: usize = 4 << 20;

struct Worker {
    target: Target,
    client: reqwest::Client,
    rt: tokio::runtime::Handle,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    pos_file: PathBuf,
    seq: Arc<AtomicU64>,
    holds: Option<Arc<Holds>>,
    /// The HTTP/2 channel of an OTLP/gRPC target (it connects on first use).
    grpc: Option<tonic::transport::Channel>,
}

/// Label names made from an attribute key (`service.name` → `service_name`).
fn label_name(k: &str) -> String {
    let mut s: String = k
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

impl Worker {
    fn run(self, mut tail: Tail) {
        let max_items = self.target.settings.queue.max_samples_per_send.max(1);
        let deadline =
            Duration::from_millis(self.target.settings.queue.batch_send_deadline.0.max(0) as u64);
        let mut batch = Batch::default();
        let mut last_err_log = Instant::now() - Duration::from_secs(60);
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let read = tail.read(|pos, payload| {
                if batch.items >= max_items || batch.bytes >= MAX_BATCH_BYTES {
                    return false;
                }
                self.add(&mut batch, payload);
                batch.end = Some(pos);
                true
            });
            if let Err(e) = read {
                if last_err_log.elapsed() > Duration::from_secs(30) {
                    tracing::error!(signal = self.target.signal.name(), name = %self.target.settings.name, "forward: reading the log: {e}");
                    last_err_log = Instant::now();
                }
            }
            self.metrics
                .segments_skipped
                .store(tail.segments_skipped, Ordering::Relaxed);
            if batch.end.is_some() && batch.first.is_none() {
                batch.first = Some(Instant::now());
            }
            let full = batch.items >= max_items || batch.bytes >= MAX_BATCH_BYTES;
            let due = batch.first.is_some_and(|f| f.elapsed() >= deadline);
            if batch.end.is_some() && (full || due) {
                let b = std::mem::take(&mut batch);
                let end = b.end.unwrap_or(tail.pos);
                if !self.deliver(b) {
                    return; // stopped while retrying: the position stays before this batch
                }
                self.commit(end);
                continue;
            }
            if batch.end.is_none() && tail.pos != self.position() {
                // Everything read was dropped by relabelling (or undecodable): move on.
                self.commit(tail.pos);
            }
            std::thread::sleep(Duration::from_millis(if batch.end.is_some() {
                20
            } else {
                100
            }));
        }
    }

    fn position(&self) -> Position {
        Position {
            seq: self.metrics.pos_seq.load(Ordering::Relaxed),
            offset: self.metrics.pos_offset.load(Ordering::Relaxed),
        }
    }

    fn commit(&self, pos: Position) {
        if let Err(e) = save_position(&self.pos_file, pos) {
            tracing::error!("forward: saving {}: {e}", self.pos_file.display());
            return;
        }
        self.metrics.pos_seq.store(pos.seq, Ordering::Relaxed);
        self.metrics.pos_offset.store(pos.offset, Ordering::Relaxed);
        self.seq.store(pos.seq, Ordering::Release);
        if let Some(h) = &self.holds {
            h.update();
        }
    }

    fn relabel(&self, labels: Labels) -> Option<Labels> {
        let rules = &self.target.settings.relabel;
        if rules.is_empty() {
            return Some(labels);
        }
        let l = config::relabel::process(&labels, rules)?;
        let mut b = l.builder();
        b.retain(|x| !x.name.starts_with("__"));
        Some(b.build())
    }

    /// Adds one log record to the batch (what the relabel rules keep).
    fn add(&self, batch: &mut Batch, payload: &[u8]) {
        match self.target.signal {
            Signal::Logs => {
                let Ok((tenant, streams)) = logs::store::decode_push(payload) else {
                    self.metrics.items_dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                for s in streams {
                    let mut b = s.labels.builder();
                    b.set("__tenant__", tenant.clone());
                    match self.relabel(b.build()) {
                        Some(l) if !l.is_empty() => {
                            batch.items += s.entries.len();
                            batch.bytes +=
                                s.entries.iter().map(|e| e.line.len() + 32).sum::<usize>();
                            batch
                                .logs
                                .entry(tenant.clone())
                                .or_default()
                                .push((l, s.entries));
                        }
                        _ => {
                            self.metrics
                                .items_dropped
                                .fetch_add(s.entries.len() as u64, Ordering::Relaxed);
                        }
                    }
                }
            }
            Signal::Traces => {
                use opentelemetry_proto::tonic::trace::v1::TracesData;
                let Ok(mut td) = TracesData::decode(payload) else {
                    self.metrics.items_dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                let spans = |rs: &opentelemetry_proto::tonic::trace::v1::ResourceSpans| {
                    rs.scope_spans.iter().map(|s| s.spans.len()).sum::<usize>()
                };
                if !self.target.settings.relabel.is_empty() {
                    let before = td.resource_spans.len();
                    let mut dropped = 0usize;
                    td.resource_spans.retain(|rs| {
                        let mut pairs: Vec<(String, String)> = Vec::new();
                        for kv in rs.resource.iter().flat_map(|r| &r.attributes) {
                            if let Some(s) = kv.value.as_ref().and_then(any_string) {
                                pairs.push((label_name(&kv.key), s));
                            }
                        }
                        let keep = self.relabel(Labels::from_pairs(pairs)).is_some();
                        if !keep {
                            dropped += spans(rs);
                        }
                        keep
                    });
                    self.metrics
                        .items_dropped
                        .fetch_add(dropped as u64, Ordering::Relaxed);
                    if td.resource_spans.len() != before {
                        if td.resource_spans.is_empty() {
                            return;
                        }
                        let n: usize = td.resource_spans.iter().map(spans).sum();
                        batch.items += n;
                        let enc = td.encode_to_vec();
                        batch.bytes += enc.len();
                        batch.traces.extend_from_slice(&enc);
                        return;
                    }
                }
                batch.items += td.resource_spans.iter().map(spans).sum::<usize>();
                batch.bytes += payload.len();
                batch.traces.extend_from_slice(payload);
            }
            Signal::Errors => {
                let Ok(mut rec) = serde_json::from_slice::<Value>(payload) else {
                    self.metrics.items_dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                };
                // An errors delete overwrites a removed event's record with a same-length
                // filler (`{}` and spaces, wal::frame::filler): nothing to send, nothing dropped.
                if rec.as_object().is_some_and(|o| o.is_empty()) {
                    return;
                }
                let project = rec
                    .get("p")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let ev = rec.get_mut("e").map(Value::take).unwrap_or(Value::Null);
                if !ev.is_object() {
                    self.metrics.items_dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let mut pairs = vec![("project".to_string(), project)];
                for k in ["level", "platform", "environment", "release", "logger"] {
                    if let Some(v) = ev.get(k).and_then(Value::as_str) {
                        pairs.push((k.to_string(), v.to_string()));
                    }
                }
                if self.relabel(Labels::from_pairs(pairs)).is_none() {
                    self.metrics.items_dropped.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                batch.items += 1;
                batch.bytes += payload.len();
                batch.events.push(ev);
            }
        }
    }

    /// The requests of a batch.
    fn requests(&self, batch: Batch) -> Vec<Request> {
        match &self.target.format {
            Format::Loki if self.target.compression == Compression::Snappy => batch
                .logs
                .into_iter()
                .map(|(tenant, streams)| {
                    let items = streams.iter().map(|(_, e)| e.len()).sum();
                    Request {
                        body: loki_snappy_protobuf(streams),
                        content_type: "application/x-protobuf",
                        tenant: Some(tenant),
                        items,
                        es_docs: None,
                    }
                })
                .collect(),
            Format::Loki => batch
                .logs
                .into_iter()
                .map(|(tenant, streams)| {
                    let items = streams.iter().map(|(_, e)| e.len()).sum();
                    let streams: Vec<Value> = streams
                        .into_iter()
                        .map(|(labels, entries)| {
                            let stream: serde_json::Map<String, Value> = labels
                                .iter()
                                .map(|l| (l.name.clone(), Value::String(l.value.clone())))
                                .collect();
                            let values: Vec<Value> = entries
                                .into_iter()
                                .map(|e| {
                                    if e.metadata.is_empty() {
                                        json!([e.ts_ns.to_string(), e.line])
                                    } else {
                                        let md: serde_json::Map<String, Value> = e
                                            .metadata
                                            .into_iter()
                                            .map(|(k, v)| (k, Value::String(v)))
                                            .collect();
                                        json!([e.ts_ns.to_string(), e.line, md])
                                    }
                                })
                                .collect();
                            json!({"stream": stream, "values": values})
                        })
                        .collect();
                    Request {
                        body: json!({ "streams": streams }).to_string().into_bytes(),
                        content_type: "application/json",
                        tenant: Some(tenant),
                        items,
                        es_docs: None,
                    }
                })
                .collect(),
            Format::Elasticsearch { index } => {
                let action = json!({"create": {"_index": index}}).to_string();
                let mut docs = Vec::new();
                for (tenant, streams) in batch.logs {
                    for (labels, entries) in streams {
                        for e in entries {
                            let mut doc = serde_json::Map::new();
                            doc.insert("@timestamp".into(), Value::String(rfc3339_ns(e.ts_ns)));
                            doc.insert("message".into(), Value::String(e.line));
                            for l in labels.iter() {
                                doc.insert(l.name.clone(), Value::String(l.value.clone()));
                            }
                            for (k, v) in e.metadata {
                                doc.entry(k).or_insert(Value::String(v));
                            }
                            if tenant != "fake" {
                                doc.entry("tenant").or_insert(Value::String(tenant.clone()));
                            }
                            docs.push((action.clone(), Value::Object(doc).to_string()));
                        }
                    }
                }
                if docs.is_empty() {
                    return Vec::new();
                }
                vec![es_request(docs)]
            }
            Format::Otlp | Format::OtlpGrpc => {
                if batch.traces.is_empty() {
                    return Vec::new();
                }
                vec![Request {
                    items: batch.items,
                    body: batch.traces,
                    content_type: "application/x-protobuf",
                    tenant: None,
                    es_docs: None,
                }]
            }
            Format::Sentry { .. } => batch
                .events
                .into_iter()
                .map(|ev| {
                    let id = ev.get("event_id").and_then(Value::as_str).unwrap_or("");
                    let payload = ev.to_string();
                    let body = format!(
                        "{}\n{}\n{payload}\n",
                        json!({"event_id": id}),
                        json!({"type": "event", "length": payload.len()})
                    );
                    Request {
                        body: body.into_bytes(),
                        content_type: "application/x-sentry-envelope",
                        tenant: None,
                        items: 1,
                        es_docs: None,
                    }
                })
                .collect(),
        }
    }

    /// Sends a batch until every request is acknowledged or refused for good. False when
    /// stopped first.
    fn deliver(&self, batch: Batch) -> bool {
        let m = &self.metrics;
        let q = &self.target.settings.queue;
        for mut req in self.requests(batch) {
            let mut backoff = Duration::from_millis(q.min_backoff.0.max(1) as u64);
            let max_backoff = Duration::from_millis(q.max_backoff.0.max(1) as u64);
            loop {
                let started = Instant::now();
                let r = self.rt.block_on(self.send(&req));
                m.requests.fetch_add(1, Ordering::Relaxed);
                m.bytes.fetch_add(req.body.len() as u64, Ordering::Relaxed);
                m.send_us
                    .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
                let wait = match r {
                    Ok(None) => {
                        m.items_sent.fetch_add(req.items as u64, Ordering::Relaxed);
                        m.last_send_ms
                            .store(model::time::now_ms().max(0) as u64, Ordering::Relaxed);
                        break;
                    }
                    Ok(Some(partial)) => {
                        // Elasticsearch refused some items: resend the retryable ones.
                        let (retry, failed, ok) = partial;
                        m.items_sent.fetch_add(ok as u64, Ordering::Relaxed);
                        m.items_failed.fetch_add(failed as u64, Ordering::Relaxed);
                        if retry.is_empty() {
                            break;
                        }
                        m.items_retried
                            .fetch_add(retry.len() as u64, Ordering::Relaxed);
                        req = es_request(retry);
                        None
                    }
                    Err(SendError::Permanent(why)) => {
                        tracing::error!(signal = self.target.signal.name(), name = %self.target.settings.name, "forward: the receiver refused {} items: {why}", req.items);
                        m.items_failed
                            .fetch_add(req.items as u64, Ordering::Relaxed);
                        break;
                    }
                    Err(SendError::Retry(why, after)) => {
                        tracing::warn!(signal = self.target.signal.name(), name = %self.target.settings.name, "forward: will retry: {why}");
                        m.items_retried
                            .fetch_add(req.items as u64, Ordering::Relaxed);
                        after
                    }
                };
                let sleep = wait.map_or(backoff, |a| a.max(backoff));
                backoff = (backoff * 2).min(max_backoff);
                let until = Instant::now() + sleep;
                while Instant::now() < until {
                    if self.stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(20).min(sleep));
                }
            }
        }
        true
    }

    /// One request. `Ok(None)`: all acknowledged; `Ok(Some((retry, failed, ok)))`: an
    /// Elasticsearch answer with item errors.
    async fn send(&self, req: &Request) -> Result<Option<EsPartial>, SendError> {
        if self.target.format == Format::OtlpGrpc {
            return self.send_grpc(req).await.map(|()| None);
        }
        let s = &self.target.settings;
        let mut r = self
            .client
            .post(&s.url)
            .timeout(s.remote_timeout)
            .header("Content-Type", req.content_type)
            .header(
                "User-Agent",
                concat!("pharos-forward/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(t) = &req.tenant {
            r = r.header("X-Scope-OrgID", t);
        }
        if let Format::Sentry { key } = &self.target.format {
            r = r.header(
                "X-Sentry-Auth",
                format!(
                    "Sentry sentry_version=7, sentry_client=pharos-forward/{}, sentry_key={key}",
                    env!("CARGO_PKG_VERSION")
                ),
            );
        }
        for (k, v) in &s.headers {
            r = r.header(k, v);
        }
        if let Some(a) = &s.authorization {
            r = r.header("Authorization", a);
        }
        let body = if self.target.compression == Compression::Gzip {
            r = r.header("Content-Encoding", "gzip");
            gzip(&req.body)
        } else {
            req.body.clone()
        };
        let resp = r
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::Retry(crate::queue::error_chain(&e), None))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("Retry-After")
            .and_then(|v| v.to_str().ok())
            .and_then(crate::queue::parse_retry_after);
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            if let Some(docs) = &req.es_docs {
                return Ok(es_item_errors(&text, docs));
            }
            return Ok(None);
        }
        let why = crate::queue::http_error(status, &text);
        if status.is_server_error() || (status.as_u16() == 429 && s.queue.retry_on_http_429) {
            Err(SendError::Retry(why, retry_after))
        } else {
            Err(SendError::Permanent(why))
        }
    }
}

fn any_string(v: &opentelemetry_proto::tonic::common::v1::AnyValue) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    match v.value.as_ref()? {
        V::StringValue(s) => Some(s.clone()),
        V::IntValue(i) => Some(i.to_string()),
        V::BoolValue(b) => Some(b.to_string()),
        V::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

impl Worker {
    /// One OTLP/gRPC export: headers and authorization as metadata, gzip when asked for;
    /// the codes OTLP calls retryable (and RESOURCE_EXHAUSTED, like 429) and transport errors
    /// (a failed TLS handshake) are retried.
    async fn send_grpc(&self, req: &Request) -> Result<(), SendError> {
        use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        let s = &self.target.settings;
        let export = ExportTraceServiceRequest::decode(&req.body[..])
            .map_err(|e| SendError::Permanent(format!("encoding the export: {e}")))?;
        let channel = self
            .grpc
            .clone()
            .ok_or_else(|| SendError::Permanent("no gRPC channel".into()))?;
        let mut client = TraceServiceClient::new(channel);
        if self.target.compression == Compression::Gzip {
            client = client.send_compressed(tonic::codec::CompressionEncoding::Gzip);
        }
        let mut r = tonic::Request::new(export);
        let md = r.metadata_mut();
        let mut put = |k: &str, v: &str| {
            if let (Ok(k), Ok(v)) = (
                tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes()),
                v.parse(),
            ) {
                md.insert(k, v);
            }
        };
        for (k, v) in &s.headers {
            put(k, v);
        }
        if let Some(a) = &s.authorization {
            put("authorization", a);
        }
        if let Some(t) = &req.tenant {
            put("x-scope-orgid", t);
        }
        match client.export(r).await {
            Ok(_) => Ok(()),
            Err(st) => {
                use tonic::Code;
                let why = grpc_error(&st);
                match st.code() {
                    Code::Cancelled
                    | Code::DeadlineExceeded
                    | Code::Aborted
                    | Code::OutOfRange
                    | Code::Unavailable
                    | Code::DataLoss
                    | Code::ResourceExhausted => {
                        Err(SendError::Retry(why, grpc_retry_delay(st.details())))
                    }
                    // A transport error (a refused TLS handshake surfaces as UNKNOWN) is a
                    // network error: retried, as the HTTP forwarders retry theirs.
                    _ if std::error::Error::source(&st).is_some() => {
                        Err(SendError::Retry(why, None))
                    }
                    _ => Err(SendError::Permanent(why)),
                }
            }
        }
    }
}

/// A gRPC error as the forwarder logs it: the code, the message and the transport error's
/// causes (a TLS handshake's "invalid peer certificate: UnknownIssuer", a refused connection).
pub fn grpc_error(st: &tonic::Status) -> String {
    let mut why = format!("gRPC {:?}: {}", st.code(), st.message());
    let mut src = std::error::Error::source(st);
    while let Some(e) = src {
        let text = e.to_string();
        if !why.contains(&text) {
            why.push_str(": ");
            why.push_str(&text);
        }
        src = e.source();
    }
    why
}

/// `google.rpc.Status` of a gRPC error's details (`grpc-status-details-bin`), as far as
/// OTLP throttling needs it (also what a test receiver sends).
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(message, repeated, tag = "3")]
    pub details: Vec<RpcAny>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcAny {
    #[prost(string, tag = "1")]
    pub type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    pub retry_delay: Option<RpcDuration>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcDuration {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}

/// The delay a gRPC error's `google.rpc.RetryInfo` asks for (OTLP's throttling signal, which
/// the OpenTelemetry Collector's exporter honours), at most an hour.
fn grpc_retry_delay(details: &[u8]) -> Option<Duration> {
    let status = RpcStatus::decode(details).ok()?;
    let info = status
        .details
        .iter()
        .find(|a| a.type_url.ends_with("/google.rpc.RetryInfo"))?;
    let d = RetryInfo::decode(&info.value[..]).ok()?.retry_delay?;
    let ms = d
        .seconds
        .clamp(0, 3600)
        .saturating_mul(1000)
        .saturating_add(i64::from(d.nanos.clamp(0, 999_999_999)) / 1_000_000);
    Some(Duration::from_millis(ms as u64))
}

/// A gzip stream of `data` (level 6, as Go's and the OpenTelemetry Collector's default).
fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::new(6),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Loki's push body as promtail sends it: `logproto.PushRequest` in a snappy block.
fn loki_snappy_protobuf(streams: Vec<(Labels, Vec<LogEntry>)>) -> Vec<u8> {
    use api::loki::push::{EntryAdapter, LabelPair, PushRequest, StreamAdapter, Timestamp};
    let req = PushRequest {
        streams: streams
            .into_iter()
            .map(|(labels, entries)| StreamAdapter {
                labels: labels.to_string(),
                entries: entries
                    .into_iter()
                    .map(|e| EntryAdapter {
                        timestamp: Some(Timestamp {
                            seconds: e.ts_ns.div_euclid(1_000_000_000),
                            nanos: e.ts_ns.rem_euclid(1_000_000_000) as i32,
                        }),
                        line: e.line,
                        structured_metadata: e
                            .metadata
                            .into_iter()
                            .map(|(name, value)| LabelPair { name, value })
                            .collect(),
                    })
                    .collect(),
                hash: 0,
            })
            .collect(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap_or_default()
}

fn es_request(docs: Vec<(String, String)>) -> Request {
    let mut body = String::new();
    for (a, d) in &docs {
        body.push_str(a);
        body.push('\n');
        body.push_str(d);
        body.push('\n');
    }
    Request {
        body: body.into_bytes(),
        content_type: "application/x-ndjson",
        tenant: None,
        items: docs.len(),
        es_docs: Some(docs),
    }
}

/// A `_bulk` answer's item errors: (docs to resend: 429 and 5xx, refused count, ok count);
/// None when every item was stored (or the answer says nothing per item).
fn es_item_errors(text: &str, docs: &[(String, String)]) -> Option<EsPartial> {
    let v: Value = serde_json::from_str(text).ok()?;
    if v.get("errors").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    let items = v.get("items").and_then(Value::as_array)?;
    let mut retry = Vec::new();
    let (mut failed, mut ok) = (0usize, 0usize);
    for (i, it) in items.iter().enumerate() {
        let status = it
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|r| r.get("status"))
            .and_then(Value::as_u64)
            .unwrap_or(200);
        match status {
            200..=299 => ok += 1,
            429 | 500..=599 => {
                if let Some(d) = docs.get(i) {
                    retry.push(d.clone());
                }
            }
            _ => failed += 1,
        }
    }
    Some((retry, failed, ok))
}

/// RFC 3339 with nanoseconds, UTC.
fn rfc3339_ns(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000) as u32;
    chrono::DateTime::from_timestamp(secs, nanos)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(yaml: &str) -> RemoteEndpoint {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn dsn_parsing() {
        assert_eq!(
            parse_dsn("https://abc@o1.ingest.example.com/42").unwrap(),
            (
                "https://o1.ingest.example.com/api/42/envelope/".into(),
                "abc".into()
            )
        );
        assert_eq!(
            parse_dsn("http://k:secret@127.0.0.1:9090/sentry/7/").unwrap(),
            (
                "http://127.0.0.1:9090/sentry/api/7/envelope/".into(),
                "k".into()
            )
        );
        assert!(parse_dsn("http://127.0.0.1/7").is_err());
        assert!(parse_dsn("http://k@127.0.0.1/x").is_err());
        assert!(parse_dsn("ftp://k@h/1").is_err());
    }

    #[test]
    fn entries_and_refusals() {
        let t = Target::from_entry(Signal::Logs, &entry("url: http://l:3100/loki/api/v1/push"))
            .unwrap();
        assert_eq!(t.format, Format::Loki);
        assert_eq!(t.compression, Compression::Snappy);
        assert_eq!(t.settings.queue.batch_send_deadline.0, 1000);
        let t = Target::from_entry(Signal::Logs, &entry("url: http://l/\ncompression: gzip"));
        assert_eq!(t.unwrap().compression, Compression::Gzip);
        let t = Target::from_entry(Signal::Traces, &entry("url: http://t/v1/traces")).unwrap();
        assert_eq!(t.compression, Compression::Gzip);
        let t = Target::from_entry(
            Signal::Traces,
            &entry("url: http://t:4317\nformat: otlp_grpc"),
        );
        assert_eq!(t.unwrap().format, Format::OtlpGrpc);
        let e = Target::from_entry(
            Signal::Traces,
            &entry("url: http://t/v1/traces\ncompression: snappy"),
        )
        .unwrap_err();
        assert!(
            e.contains("compression \"snappy\" is not one of none or gzip"),
            "{e}"
        );
        let t = Target::from_entry(
            Signal::Logs,
            &entry("url: http://es:9200/_bulk\nformat: elasticsearch\nindex: app\nname: es\nbasic_auth: {username: u, password: p}"),
        )
        .unwrap();
        assert_eq!(
            t.format,
            Format::Elasticsearch {
                index: "app".into()
            }
        );
        assert!(t.settings.authorization.unwrap().starts_with("Basic "));
        let t = Target::from_entry(Signal::Errors, &entry("url: http://key@h:1/3")).unwrap();
        assert_eq!(t.settings.url, "http://h:1/api/3/envelope/");
        assert_eq!(t.format, Format::Sentry { key: "key".into() });
        let e = Target::from_entry(
            Signal::Traces,
            &entry("url: http://t/v1/traces\nformat: loki"),
        )
        .unwrap_err();
        assert!(
            e.contains("format \"loki\" is not one of otlp or otlp_grpc"),
            "{e}"
        );
        let e = Target::from_entry(Signal::Logs, &entry("url: http://l/\nbogus: 1")).unwrap_err();
        assert!(e.starts_with("forward.logs http://l/: "), "{e}");
        assert!(e.contains("bogus"), "{e}");
        let e = Target::from_entry(Signal::Logs, &entry("url: http://l/\nindex: x")).unwrap_err();
        assert!(e.contains("index is only for"), "{e}");
        let dup = ForwardSection {
            logs: vec![
                entry("url: http://a/\nname: x"),
                entry("url: http://b/\nname: x"),
            ],
            ..Default::default()
        };
        assert!(targets(&dup).unwrap_err().contains("duplicate name"));
    }

    #[test]
    fn es_item_errors_split() {
        let docs: Vec<(String, String)> = (0..3).map(|i| ("a".into(), format!("d{i}"))).collect();
        let ans = r#"{"errors":true,"items":[{"create":{"status":201}},{"create":{"status":429}},{"create":{"status":400}}]}"#;
        let (retry, failed, ok) = es_item_errors(ans, &docs).unwrap();
        assert_eq!(retry, vec![("a".to_string(), "d1".to_string())]);
        assert_eq!((failed, ok), (1, 1));
        assert!(es_item_errors(r#"{"errors":false,"items":[]}"#, &docs).is_none());
    }

    #[test]
    fn grpc_retry_info() {
        let info = RetryInfo {
            retry_delay: Some(RpcDuration {
                seconds: 2,
                nanos: 500_000_000,
            }),
        };
        let status = RpcStatus {
            details: vec![
                RpcAny {
                    type_url: "type.googleapis.com/google.rpc.ErrorInfo".into(),
                    value: vec![1, 2, 3],
                },
                RpcAny {
                    type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                    value: info.encode_to_vec(),
                },
            ],
        };
        assert_eq!(
            grpc_retry_delay(&status.encode_to_vec()),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(grpc_retry_delay(&[]), None);
        assert_eq!(grpc_retry_delay(&[0xff, 0xff]), None);
    }

    #[test]
    fn an_errors_delete_filler_is_skipped_not_counted_as_dropped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let worker = Worker {
            target: Target::from_entry(Signal::Errors, &entry("url: http://key@h:1/3")).unwrap(),
            client: reqwest::Client::new(),
            rt: rt.handle().clone(),
            metrics: Arc::new(Metrics::default()),
            stop: Arc::new(AtomicBool::new(false)),
            pos_file: PathBuf::new(),
            seq: Arc::new(AtomicU64::new(0)),
            holds: None,
            grpc: None,
        };
        let mut batch = Batch::default();
        worker.add(&mut batch, b"{}        ");
        assert_eq!((batch.items, batch.events.len()), (0, 0));
        assert_eq!(worker.metrics.items_dropped.load(Ordering::Relaxed), 0);
        worker.add(
            &mut batch,
            br#"{"p":"3","e":{"level":"error","message":"boom"}}"#,
        );
        assert_eq!((batch.items, batch.events.len()), (1, 1));
        worker.add(&mut batch, b"not json");
        assert_eq!(worker.metrics.items_dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            rfc3339_ns(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
        assert_eq!(label_name("service.name"), "service_name");
        assert_eq!(label_name("9x"), "_9x");
    }
}

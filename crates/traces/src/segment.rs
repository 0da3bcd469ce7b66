//! Immutable trace segment files: the head of the trace store compacted to disk. One file
//! `<dir>/segments/NNNNNNNNNNNN.tseg` holds whole traces (the spans the head had of them)
//! in zstd-compressed blocks of OTLP `TracesData` protobuf, traces sorted by start time so a
//! search reading newest first decodes each block once, followed by an index section:
//!
//! ```text
//! "PHTSEG01"  block*  postings(u32 LE)*  zstd(meta)  footer
//! footer = meta_off u64 | meta_len u64 | crc32(meta bytes) u32 | "PHTSEGE1"
//! meta   = WAL position at compaction, blocks (offset, length, raw length), traces sorted by
//!          id (id, block, spans, start, end, shortest and longest span), services (spans,
//!          trace postings, operations with span kinds and postings), the tag directory
//!          (hash of key=value → range of the postings section), service-graph edges.
//! ```
//!
//! Opening a segment keeps the meta in memory (about 60 bytes per trace plus 4 bytes per
//! service/operation posting); tag postings and blocks are read with positioned reads. A trace
//! id lookup is a binary search plus one block read; a search intersects postings, prefilters
//! on trace time range and span durations, and checks the spans of candidate traces newest
//! first.

use crate::otlp;
use crate::query::TraceQuery;
use crate::span::{Span, SpanKind, StatusCode, TraceId};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"PHTSEG01";
const END_MAGIC: &[u8; 8] = b"PHTSEGE1";
const FOOTER: usize = 8 + 8 + 4 + 8;
/// Spans per block (a by-id lookup decodes one block).
const BLOCK_SPANS: usize = 64;
/// Tag values longer than this are not indexed (the head's limit too).
pub const MAX_TAG_VALUE: usize = 256;
const MINUTE_NS: u64 = 60_000_000_000;

/// The hash of an indexed `key=value` pair (head and segments use the same).
pub fn tag_hash(key: &str, value: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.hash(&mut h);
    value.hash(&mut h);
    h.finish()
}

/// Tags Jaeger derives from span fields rather than attributes.
pub fn derived(k: &str) -> bool {
    matches!(
        k,
        "span.kind"
            | "error"
            | "otel.status_code"
            | "otel.status_description"
            | "otel.scope.name"
            | "otel.library.name"
            | "event"
    )
}

/// Whether segments index the derived tag `k=v` completely (every span it matches).
fn derived_indexed(k: &str, v: &str) -> bool {
    match k {
        "error" => v == "true",
        "otel.status_description" => !v.is_empty(),
        _ => derived(k),
    }
}

/// The [`tag_hash`] of an attribute whose value is indexed (its text form, as
/// [`crate::span::Value::as_text`] gives it, no longer than [`MAX_TAG_VALUE`]), or `None`
/// (arrays, maps, long values). `buf` is scratch space: no allocation per attribute.
pub fn attr_tag_hash(key: &str, v: &crate::span::Value, buf: &mut String) -> Option<u64> {
    use crate::span::Value;
    use std::fmt::Write as _;
    let text: &str = match v {
        Value::Array(_) | Value::Map(_) => return None,
        Value::Str(s) => s,
        v => {
            buf.clear();
            let _ = match v {
                Value::Bool(b) => write!(buf, "{b}"),
                Value::Int(i) => write!(buf, "{i}"),
                Value::Double(d) => write!(buf, "{d}"),
                _ => write!(buf, "{}", v.as_text()),
            };
            buf
        }
    };
    (text.len() <= MAX_TAG_VALUE).then(|| tag_hash(key, text))
}

fn span_tag_hashes(s: &Span, out: &mut Vec<u64>) {
    let mut buf = String::new();
    for kv in s
        .attributes
        .iter()
        .chain(s.resource.attributes.iter())
        .chain(s.events.iter().flat_map(|e| e.attributes.iter()))
    {
        if let Some(h) = attr_tag_hash(&kv.key, &kv.value, &mut buf) {
            out.push(h);
        }
    }
    span_derived_hashes(s, out);
}

/// The tag hashes of the tags Jaeger derives from a span's fields ([`derived`]).
fn span_derived_hashes(s: &Span, out: &mut Vec<u64>) {
    out.push(tag_hash("span.kind", s.kind.jaeger_name()));
    if s.status_code == StatusCode::Error {
        out.push(tag_hash("error", "true"));
    }
    out.push(tag_hash(
        "otel.status_code",
        match s.status_code {
            StatusCode::Error => "ERROR",
            StatusCode::Ok => "OK",
            StatusCode::Unset => "UNSET",
        },
    ));
    if !s.status_message.is_empty() && s.status_message.len() <= MAX_TAG_VALUE {
        out.push(tag_hash("otel.status_description", &s.status_message));
    }
    if s.scope.name.len() <= MAX_TAG_VALUE {
        out.push(tag_hash("otel.scope.name", &s.scope.name));
        out.push(tag_hash("otel.library.name", &s.scope.name));
    }
    for e in &s.events {
        if e.name.len() <= MAX_TAG_VALUE {
            out.push(tag_hash("event", &e.name));
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct TraceMeta {
    block: u32,
    spans: u32,
    start: u64,
    end: u64,
    min_dur: u64,
    max_dur: u64,
}

#[derive(Default)]
pub struct SvcMeta {
    pub spans: u64,
    /// Trace ordinals, ascending.
    traces: Vec<u32>,
    /// Operation → (span kinds bitmask by OTLP number, trace ordinals ascending).
    ops: BTreeMap<String, (u8, Vec<u32>)>,
}

impl SvcMeta {
    /// Operations with the span kinds they were seen with.
    pub fn operations(&self) -> impl Iterator<Item = (&str, SpanKind)> {
        self.ops.iter().flat_map(|(n, (kinds, _))| {
            (0..8)
                .filter(move |b| kinds & (1 << b) != 0)
                .map(move |b| (n.as_str(), SpanKind::from_otlp(b)))
        })
    }
    pub fn operation_count(&self) -> usize {
        self.ops.len()
    }
}

/// One segment file opened: its index in memory, blocks and postings read on demand.
pub struct Segment {
    pub seq: u64,
    path: PathBuf,
    pub bytes: u64,
    /// WAL position (segment, offset) after the last record whose spans compaction saw.
    pub flush_pos: (u64, u64),
    blocks: Vec<(u64, u32, u32)>,
    ids: Vec<TraceId>,
    traces: Vec<TraceMeta>,
    pub services: BTreeMap<String, SvcMeta>,
    tag_dir: Vec<(u64, u32, u32)>,
    postings_off: u64,
    /// (minute, parent service, child service, calls).
    pub edges: Vec<(u64, String, String, u64)>,
    pub spans: u64,
    pub min_start: u64,
    pub max_start: u64,
    pub max_end: u64,
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

struct Enc(Vec<u8>);
impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    /// Block table and tag directory entries: (offset or hash, u32, u32).
    fn triples(&mut self, l: &[(u64, u32, u32)]) {
        self.u32(l.len() as u32);
        for (a, b, c) in l {
            self.u64(*a);
            self.u32(*b);
            self.u32(*c);
        }
    }
    fn list(&mut self, l: &[u32]) {
        self.u32(l.len() as u32);
        for v in l {
            self.u32(*v);
        }
    }
}

struct Dec<'a>(&'a [u8]);
impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(bad("truncated segment index"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> io::Result<u32> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> io::Result<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn len(&mut self) -> io::Result<usize> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return Err(bad("segment index length out of range"));
        }
        Ok(n)
    }
    fn str(&mut self) -> io::Result<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| bad("segment index: bad UTF-8"))
    }
    fn list(&mut self, max: u32) -> io::Result<Vec<u32>> {
        let n = self.len()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            let x = self.u32()?;
            if x >= max {
                return Err(bad("segment index: trace ordinal out of range"));
            }
            v.push(x);
        }
        Ok(v)
    }
}

/// The segment file name of sequence number `seq`.
pub fn file_name(seq: u64) -> String {
    format!("{seq:012}.tseg")
}

/// Parses a segment file name.
pub fn parse_name(name: &str) -> Option<u64> {
    name.strip_suffix(".tseg")?.parse().ok()
}

/// Writes traces (id → spans) as segment `seq` in `dir` (tmp file, fsync, rename, fsync dir)
/// and returns it opened.
pub fn write(
    dir: &Path,
    seq: u64,
    traces: &[(TraceId, Vec<Arc<Span>>)],
    flush_pos: (u64, u64),
    level: i32,
) -> io::Result<Segment> {
    write_hashed(dir, seq, traces, None, flush_pos, level)
}

/// [`write`] given, per trace (in the order of `traces`), the tag hashes of its spans' and
/// their resources' and events' attributes ([`attr_tag_hash`], repeats allowed), as the head
/// index computed them: compaction does not hash every attribute a second time.
pub fn write_hashed(
    dir: &Path,
    seq: u64,
    traces: &[(TraceId, Vec<Arc<Span>>)],
    attr_tags: Option<&[Vec<u64>]>,
    flush_pos: (u64, u64),
    level: i32,
) -> io::Result<Segment> {
    // Borrowed from the caller (the frozen head part keeps answering queries meanwhile).
    let mut traces: Vec<(TraceId, &[Arc<Span>], usize)> = traces
        .iter()
        .enumerate()
        .filter(|(_, (_, s))| !s.is_empty())
        .map(|(k, (id, s))| (*id, &s[..], k))
        .collect();
    let start_of = |s: &[Arc<Span>]| s.iter().map(|x| x.start_ns).min().unwrap_or(0);
    traces.sort_by_cached_key(|(id, s, _)| (start_of(s), *id));
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    let mut blocks: Vec<(u64, u32, u32)> = Vec::new();
    let mut trace_block: Vec<u32> = Vec::with_capacity(traces.len());
    let mut raw = Vec::with_capacity(64 << 10);
    let mut i = 0;
    while i < traces.len() {
        let mut j = i;
        let mut n = 0;
        while j < traces.len() && (j == i || n + traces[j].1.len() <= BLOCK_SPANS) {
            n += traces[j].1.len();
            j += 1;
        }
        raw.clear();
        crate::wire::encode_spans_into(
            &mut raw,
            traces[i..j]
                .iter()
                .flat_map(|(_, s, _)| s.iter().map(|x| &**x)),
        );
        let z = crate::wal::compress(&raw, level)?;
        blocks.push((out.len() as u64, z.len() as u32, raw.len() as u32));
        out.extend_from_slice(&z);
        for _ in i..j {
            trace_block.push(blocks.len() as u32 - 1);
        }
        i = j;
    }
    // Ordinals: position in id order.
    let mut order: Vec<usize> = (0..traces.len()).collect();
    order.sort_by_key(|&k| traces[k].0);
    let mut ord_of = vec![0u32; traces.len()];
    for (o, &k) in order.iter().enumerate() {
        ord_of[k] = o as u32;
    }
    let mut services: BTreeMap<String, SvcMeta> = BTreeMap::new();
    let mut tags: HashMap<u64, Vec<u32>> = HashMap::new();
    let mut edges: BTreeMap<(u64, String, String), u64> = BTreeMap::new();
    let mut hashes = Vec::new();
    for (k, (_, spans, src)) in traces.iter().enumerate() {
        let o = ord_of[k];
        // Parents of a small trace are found by a scan (no map built per trace).
        let by_id: HashMap<_, &Span> = if spans.len() > 32 {
            spans.iter().map(|s| (s.span_id, &**s)).collect()
        } else {
            HashMap::new()
        };
        let parent = |id: &crate::span::SpanId| -> Option<&Span> {
            if spans.len() > 32 {
                by_id.get(id).copied()
            } else {
                spans.iter().find(|x| x.span_id == *id).map(|x| &**x)
            }
        };
        hashes.clear();
        let given = attr_tags.and_then(|t| t.get(*src));
        if let Some(g) = given {
            hashes.extend_from_slice(g);
        }
        for s in spans.iter() {
            // Looked up before inserting: no key allocation per span.
            let svc = match services.get_mut(s.service()) {
                Some(svc) => svc,
                None => services.entry(s.service().to_string()).or_default(),
            };
            svc.spans += 1;
            if svc.traces.last() != Some(&o) {
                svc.traces.push(o);
            }
            let op = match svc.ops.get_mut(&s.name) {
                Some(op) => op,
                None => svc.ops.entry(s.name.clone()).or_default(),
            };
            op.0 |= 1 << (s.kind.to_otlp().clamp(0, 7) as u8);
            if op.1.last() != Some(&o) {
                op.1.push(o);
            }
            match given {
                Some(_) => span_derived_hashes(s, &mut hashes),
                None => span_tag_hashes(s, &mut hashes),
            }
            if !s.parent_span_id.is_zero() {
                if let Some(p) = parent(&s.parent_span_id) {
                    if p.service() != s.service() {
                        *edges
                            .entry((
                                s.start_ns / MINUTE_NS,
                                p.service().to_string(),
                                s.service().to_string(),
                            ))
                            .or_default() += 1;
                    }
                }
            }
        }
        hashes.sort_unstable();
        hashes.dedup();
        for h in &hashes {
            tags.entry(*h).or_default().push(o);
        }
    }
    // Postings are built in start order; the index wants ordinals ascending.
    for svc in services.values_mut() {
        svc.traces.sort_unstable();
        svc.traces.dedup();
        for op in svc.ops.values_mut() {
            op.1.sort_unstable();
            op.1.dedup();
        }
    }
    let postings_off = out.len() as u64;
    let mut tag_dir: Vec<(u64, u32, u32)> = Vec::with_capacity(tags.len());
    let mut tag_list: Vec<(u64, Vec<u32>)> = tags.into_iter().collect();
    tag_list.sort_unstable_by_key(|(h, _)| *h);
    let mut at = 0u32;
    for (h, mut l) in tag_list {
        l.sort_unstable();
        tag_dir.push((h, at, l.len() as u32));
        for v in &l {
            out.extend_from_slice(&v.to_le_bytes());
        }
        at += l.len() as u32;
    }
    let mut metas = vec![
        TraceMeta {
            block: 0,
            spans: 0,
            start: 0,
            end: 0,
            min_dur: 0,
            max_dur: 0
        };
        traces.len()
    ];
    let mut ids = vec![TraceId::default(); traces.len()];
    for (k, (id, spans, _)) in traces.iter().enumerate() {
        let o = ord_of[k] as usize;
        ids[o] = *id;
        metas[o] = TraceMeta {
            block: trace_block[k],
            spans: spans.len() as u32,
            start: spans.iter().map(|s| s.start_ns).min().unwrap_or(0),
            end: spans.iter().map(|s| s.end_ns).max().unwrap_or(0),
            min_dur: spans.iter().map(|s| s.duration_ns()).min().unwrap_or(0),
            max_dur: spans.iter().map(|s| s.duration_ns()).max().unwrap_or(0),
        };
    }
    let mut e = Enc(Vec::new());
    e.u64(flush_pos.0);
    e.u64(flush_pos.1);
    e.triples(&blocks);
    e.u32(ids.len() as u32);
    for (id, m) in ids.iter().zip(&metas) {
        e.0.extend_from_slice(&id.0);
        e.u32(m.block);
        e.u32(m.spans);
        e.u64(m.start);
        e.u64(m.end);
        e.u64(m.min_dur);
        e.u64(m.max_dur);
    }
    e.u32(services.len() as u32);
    for (name, s) in &services {
        e.str(name);
        e.u64(s.spans);
        e.list(&s.traces);
        e.u32(s.ops.len() as u32);
        for (op, (kinds, l)) in &s.ops {
            e.str(op);
            e.u8(*kinds);
            e.list(l);
        }
    }
    e.u64(postings_off);
    e.triples(&tag_dir);
    e.u32(edges.len() as u32);
    for ((m, p, c), n) in &edges {
        e.u64(*m);
        e.str(p);
        e.str(c);
        e.u64(*n);
    }
    let meta = crate::wal::compress(&e.0, level)?;
    let meta_off = out.len() as u64;
    out.extend_from_slice(&meta);
    out.extend_from_slice(&meta_off.to_le_bytes());
    out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&meta).to_le_bytes());
    out.extend_from_slice(END_MAGIC);
    let path = dir.join(file_name(seq));
    let tmp = dir.join(format!("{}.tmp", file_name(seq)));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &path)?;
    wal::sync_dir(dir)?;
    let meta_raw = e.0;
    Segment::from_parts(seq, path, out.len() as u64, &meta_raw)
}

impl Segment {
    /// Opens segment file `path` (number `seq`), reading and checking its index.
    pub fn open(path: &Path, seq: u64) -> io::Result<Segment> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        if len < (MAGIC.len() + FOOTER) as u64 {
            return Err(bad("segment file too short"));
        }
        let mut foot = [0u8; FOOTER];
        file.read_exact_at(&mut foot, len - FOOTER as u64)?;
        if &foot[20..] != END_MAGIC {
            return Err(bad("segment file has no footer (torn write?)"));
        }
        let mut d = Dec(&foot);
        let meta_off = d.u64()?;
        let meta_len = d.u64()?;
        let crc = d.u32()?;
        if meta_off.checked_add(meta_len) != Some(len - FOOTER as u64) || meta_len > 1 << 34 {
            return Err(bad("segment footer points outside the file"));
        }
        let mut meta = vec![0u8; meta_len as usize];
        file.read_exact_at(&mut meta, meta_off)?;
        if crc32fast::hash(&meta) != crc {
            return Err(bad("segment index checksum mismatch"));
        }
        let raw = zstd::stream::decode_all(&meta[..])?;
        Segment::from_parts(seq, path.to_path_buf(), len, &raw)
    }

    fn from_parts(seq: u64, path: PathBuf, bytes: u64, raw: &[u8]) -> io::Result<Segment> {
        let mut d = Dec(raw);
        let flush_pos = (d.u64()?, d.u64()?);
        let nb = d.len()?;
        let mut blocks = Vec::with_capacity(nb);
        for _ in 0..nb {
            let (off, len, raw_len) = (d.u64()?, d.u32()?, d.u32()?);
            if off.saturating_add(len as u64) > bytes {
                return Err(bad("segment block outside the file"));
            }
            blocks.push((off, len, raw_len));
        }
        let nt = d.len()?;
        let mut ids = Vec::with_capacity(nt);
        let mut traces = Vec::with_capacity(nt);
        let (mut spans, mut min_start, mut max_start, mut max_end) = (0u64, u64::MAX, 0u64, 0u64);
        for _ in 0..nt {
            let id = TraceId::from_slice(d.take(16)?).unwrap_or_default();
            let m = TraceMeta {
                block: d.u32()?,
                spans: d.u32()?,
                start: d.u64()?,
                end: d.u64()?,
                min_dur: d.u64()?,
                max_dur: d.u64()?,
            };
            if m.block as usize >= blocks.len() {
                return Err(bad("segment trace points at a missing block"));
            }
            spans += m.spans as u64;
            min_start = min_start.min(m.start);
            max_start = max_start.max(m.start);
            max_end = max_end.max(m.end);
            ids.push(id);
            traces.push(m);
        }
        let n = nt as u32;
        let ns = d.len()?;
        let mut services = BTreeMap::new();
        for _ in 0..ns {
            let name = d.str()?;
            let mut s = SvcMeta {
                spans: d.u64()?,
                traces: d.list(n)?,
                ops: BTreeMap::new(),
            };
            let no = d.len()?;
            for _ in 0..no {
                let op = d.str()?;
                let kinds = d.u8()?;
                let l = d.list(n)?;
                s.ops.insert(op, (kinds, l));
            }
            services.insert(name, s);
        }
        let postings_off = d.u64()?;
        let nd = d.len()?;
        let mut tag_dir = Vec::with_capacity(nd);
        for _ in 0..nd {
            tag_dir.push((d.u64()?, d.u32()?, d.u32()?));
        }
        let ne = d.len()?;
        let mut edges = Vec::with_capacity(ne);
        for _ in 0..ne {
            edges.push((d.u64()?, d.str()?, d.str()?, d.u64()?));
        }
        Ok(Segment {
            seq,
            path,
            bytes,
            flush_pos,
            blocks,
            ids,
            traces,
            services,
            tag_dir,
            postings_off,
            edges,
            spans,
            min_start: if nt == 0 { 0 } else { min_start },
            max_start,
            max_end,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of traces.
    pub fn trace_count(&self) -> usize {
        self.ids.len()
    }

    /// Trace ids held (for replay deduplication).
    pub fn trace_ids(&self) -> &[TraceId] {
        &self.ids
    }

    /// The file is opened per lookup (no descriptor held per segment).
    fn file(&self) -> io::Result<File> {
        File::open(&self.path)
    }

    fn read_block(&self, file: &File, b: u32) -> io::Result<Vec<Span>> {
        let (off, len, raw) = *self
            .blocks
            .get(b as usize)
            .ok_or_else(|| bad("block out of range"))?;
        let mut z = vec![0u8; len as usize];
        file.read_exact_at(&mut z, off)?;
        let data = zstd::bulk::decompress(&z, raw as usize)?;
        otlp::decode_traces_data(&data).map_err(|e| bad(format!("segment {}: {e}", self.seq)))
    }

    /// The spans of trace `id` in this segment (empty when it holds none).
    pub fn trace(&self, id: &TraceId) -> io::Result<Vec<Span>> {
        let Ok(o) = self.ids.binary_search(id) else {
            return Ok(Vec::new());
        };
        let mut spans = self.read_block(&self.file()?, self.traces[o].block)?;
        spans.retain(|s| s.trace_id == *id);
        Ok(spans)
    }

    fn tag_postings(&self, file: &File, h: u64) -> io::Result<Option<Vec<u32>>> {
        let Ok(i) = self.tag_dir.binary_search_by_key(&h, |e| e.0) else {
            return Ok(None);
        };
        let (_, at, n) = self.tag_dir[i];
        let mut buf = vec![0u8; n as usize * 4];
        file.read_exact_at(&mut buf, self.postings_off + at as u64 * 4)?;
        let max = self.ids.len() as u32;
        Ok(Some(
            buf.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .filter(|&o| o < max)
                .collect(),
        ))
    }

    /// Adds (trace start, id) of up to `limit` traces of this segment with a span matching `q`,
    /// newest first.
    pub fn search(
        &self,
        q: &TraceQuery,
        limit: usize,
        out: &mut Vec<(u64, TraceId)>,
    ) -> io::Result<()> {
        if self.ids.is_empty() || q.end_ns < self.min_start || q.start_ns > self.max_end {
            return Ok(());
        }
        let file = self.file()?;
        let mut owned: Vec<Vec<u32>> = Vec::new();
        let mut lists: Vec<&[u32]> = Vec::new();
        if let Some(svc) = &q.service {
            let Some(s) = self.services.get(svc) else {
                return Ok(());
            };
            match &q.operation {
                Some(op) => match s.ops.get(op) {
                    Some((_, l)) => lists.push(l),
                    None => return Ok(()),
                },
                None => lists.push(&s.traces),
            }
        }
        for (k, v) in &q.tags {
            if v.len() > MAX_TAG_VALUE || (derived(k) && !derived_indexed(k, v)) {
                continue;
            }
            match self.tag_postings(&file, tag_hash(k, v))? {
                Some(l) => owned.push(l),
                None => return Ok(()),
            }
        }
        lists.extend(owned.iter().map(|l| l.as_slice()));
        lists.sort_by_key(|l| l.len());
        let mut cand: Vec<u32> = match lists.first() {
            Some(first) => first
                .iter()
                .copied()
                .filter(|o| lists[1..].iter().all(|l| l.binary_search(o).is_ok()))
                .collect(),
            None => (0..self.ids.len() as u32).collect(),
        };
        cand.retain(|&o| {
            let t = &self.traces[o as usize];
            t.start <= q.end_ns
                && t.end >= q.start_ns
                && q.min_duration_ns.is_none_or(|m| t.max_dur >= m)
                && q.max_duration_ns.is_none_or(|m| t.min_dur <= m)
        });
        cand.sort_unstable_by(|a, b| {
            let (x, y) = (&self.traces[*a as usize], &self.traces[*b as usize]);
            (y.start, b).cmp(&(x.start, a))
        });
        let mut block: Option<(u32, Vec<Span>)> = None;
        let mut found = 0;
        for o in cand {
            let t = self.traces[o as usize];
            if block.as_ref().map(|(b, _)| *b) != Some(t.block) {
                block = Some((t.block, self.read_block(&file, t.block)?));
            }
            let id = self.ids[o as usize];
            let spans = block.as_ref().map(|(_, s)| s.as_slice()).unwrap_or(&[]);
            if spans.iter().any(|s| s.trace_id == id && q.matches(s)) {
                out.push((t.start, id));
                found += 1;
                if found >= limit {
                    break;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{KeyValue, Resource, Scope, SpanId, Value};

    fn span(
        trace: u64,
        id: u64,
        parent: u64,
        svc: &str,
        name: &str,
        start: u64,
        dur: u64,
    ) -> Arc<Span> {
        Arc::new(Span {
            trace_id: TraceId::from_parts(1, trace),
            span_id: SpanId::from_u64(id),
            parent_span_id: SpanId::from_u64(parent),
            trace_state: String::new(),
            name: name.into(),
            kind: SpanKind::Server,
            start_ns: start,
            end_ns: start + dur,
            resource: Arc::new(Resource::new(vec![KeyValue::str("service.name", svc)])),
            scope: Arc::new(Scope::default()),
            attributes: vec![KeyValue::new("n", Value::Int(id as i64))],
            events: vec![],
            links: vec![],
            status_code: if id.is_multiple_of(7) {
                StatusCode::Error
            } else {
                StatusCode::Unset
            },
            status_message: String::new(),
            flags: 0,
        })
    }

    /// A segment written with the head's attribute tag hashes is the same file, byte for
    /// byte, as one that hashes the attributes itself (an empty trace in between too).
    #[test]
    fn precomputed_tag_hashes_write_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut traces: Vec<(TraceId, Vec<Arc<Span>>)> = (1..=300u64)
            .map(|t| {
                let mut a = (*span(t, t * 10, 0, "web", "GET /", t * 1000, 5)).clone();
                a.attributes
                    .push(KeyValue::str("user.id", format!("u{}", t % 17)));
                a.events.push(crate::span::Event {
                    time_ns: t,
                    name: "ev".into(),
                    attributes: vec![KeyValue::new("k", Value::Bool(t % 2 == 0))],
                });
                let b = span(t, t * 10 + 1, t * 10, "api", "op", t * 1000 + 1, t);
                (TraceId::from_parts(1, t), vec![Arc::new(a), b])
            })
            .collect();
        traces.insert(5, (TraceId::from_parts(2, 0), vec![]));
        let mut buf = String::new();
        let hashes: Vec<Vec<u64>> = traces
            .iter()
            .map(|(_, spans)| {
                spans
                    .iter()
                    .flat_map(|s| {
                        let ev = s.events.iter().flat_map(|e| e.attributes.iter());
                        s.attributes.iter().chain(&s.resource.attributes).chain(ev)
                    })
                    .filter_map(|kv| attr_tag_hash(&kv.key, &kv.value, &mut buf))
                    .collect()
            })
            .collect();
        write(dir.path(), 1, &traces, (1, 2), 3).unwrap();
        write_hashed(dir.path(), 2, &traces, Some(&hashes), (1, 2), 3).unwrap();
        let a = std::fs::read(dir.path().join(file_name(1))).unwrap();
        let b = std::fs::read(dir.path().join(file_name(2))).unwrap();
        assert!(a == b, "the files differ");
    }

    #[test]
    fn write_open_lookup_search() {
        let dir = tempfile::tempdir().unwrap();
        let traces: Vec<(TraceId, Vec<Arc<Span>>)> = (1..=1000u64)
            .map(|t| {
                let s = vec![
                    span(t, t * 10, 0, "web", "GET /", t * 1000, 500),
                    span(
                        t,
                        t * 10 + 1,
                        t * 10,
                        "api",
                        &format!("op{}", t % 3),
                        t * 1000 + 1,
                        t,
                    ),
                ];
                (TraceId::from_parts(1, t), s)
            })
            .collect();
        let w = write(dir.path(), 7, &traces, (3, 99), 3).unwrap();
        let s = Segment::open(&dir.path().join(file_name(7)), 7).unwrap();
        assert_eq!(
            (s.spans, s.trace_count(), s.flush_pos),
            (2000, 1000, (3, 99))
        );
        assert_eq!(w.ids, s.ids);
        let t = s.trace(&TraceId::from_parts(1, 500)).unwrap();
        assert_eq!(t.len(), 2);
        assert!(s.trace(&TraceId::from_parts(1, 5000)).unwrap().is_empty());
        assert_eq!(s.edges.iter().map(|e| e.3).sum::<u64>(), 1000);
        let q = |f: &dyn Fn(&mut TraceQuery)| {
            let mut q = TraceQuery {
                start_ns: 0,
                end_ns: u64::MAX,
                ..Default::default()
            };
            f(&mut q);
            let mut out = Vec::new();
            s.search(&q, 20, &mut out).unwrap();
            out
        };
        let r = q(&|q| q.service = Some("api".into()));
        assert_eq!(r.len(), 20);
        assert_eq!(r[0].1, TraceId::from_parts(1, 1000), "newest first");
        let r = q(&|q| q.tags = vec![("n".into(), "4001".into())]);
        assert_eq!(r, vec![(400_000, TraceId::from_parts(1, 400))]);
        let r = q(&|q| {
            q.service = Some("api".into());
            q.min_duration_ns = Some(995);
        });
        assert_eq!(r.len(), 6);
        let r = q(&|q| q.tags = vec![("error".into(), "true".into())]);
        assert!(!r.is_empty());
        assert_eq!(q(&|q| q.service = Some("nope".into())).len(), 0);
        // A torn file is refused, not a panic.
        let bytes = std::fs::read(s.path()).unwrap();
        std::fs::write(dir.path().join("torn.tseg"), &bytes[..bytes.len() - 3]).unwrap();
        assert!(Segment::open(&dir.path().join("torn.tseg"), 8).is_err());
    }
}

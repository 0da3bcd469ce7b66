//! Physical removal of deleted log lines (Loki's compactor applying delete requests): once a
//! request is older than the cancel period, every chunk segment holding a chunk it may touch is
//! rewritten without the deleted lines. Untouched chunks are copied as compressed bytes, touched
//! ones are re-encoded, chunks left empty are dropped, and a segment left empty is removed. Head
//! data a new request covers is flushed to a segment first, so "processed" means gone from the
//! segments and the WAL. Each request remembers the newest segment it was applied to: segments
//! written later (lines that arrived late with old timestamps) are checked on later passes.
//!
//! Crash safety: the new segment is written under a new id with a `<new>.replaces` marker naming
//! the old one, written before the new index is renamed into place; opening the store finishes
//! an interrupted swap (removes the old segment when the new index exists, else the leftovers).

use super::*;
use crate::deletes::{Compiled, Status};

/// What a purge pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeStats {
    pub segments_rewritten: usize,
    pub segments_removed: usize,
    pub lines_removed: u64,
}

/// A chunk of a segment being rewritten, with the requests that may delete lines of it.
struct PlanChunk {
    tenant: String,
    sid: u32,
    labels: Arc<Labels>,
    chunk: ChunkRef,
    dels: Vec<Arc<Compiled>>,
}

fn marker(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:08}.replaces"))
}

/// Finishes segment swaps a crash interrupted (see the module doc); runs before the segment
/// indexes are loaded.
pub(super) fn finish_replacements(dir: &Path) -> Result<(), StorageError> {
    let mut any = false;
    for e in std::fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().to_string();
        let Some(new) = name
            .strip_suffix(".replaces")
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if dir.join(format!("{new:08}.meta")).exists() {
            match std::fs::read_to_string(e.path())
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
            {
                Some(old) => {
                    let _ = std::fs::remove_file(dir.join(format!("{old:08}.meta")));
                    let _ = std::fs::remove_file(dir.join(format!("{old:08}.seg")));
                }
                None => tracing::warn!("log store: unreadable segment marker {name}"),
            }
        }
        let _ = std::fs::remove_file(e.path());
        any = true;
    }
    if any {
        wal::sync_dir(dir);
    }
    Ok(())
}

impl LogStore {
    /// Applies the delete requests past their cancel period to the chunk segments and marks
    /// them processed. Runs in the background every few seconds; safe to call at any time.
    pub fn purge_deleted(&self) -> Result<PurgeStats, StorageError> {
        let _serial = self.purge_lock.lock();
        let mut stats = PurgeStats::default();
        let now_ms = now_ns() / 1_000_000;
        let ready = self
            .deletes
            .ready(self.opts.delete_cancel_period_ms, now_ms);
        if ready.is_empty() {
            return Ok(stats);
        }
        if self.heads_hold(&ready) {
            self.flush()?;
        }
        let (through, plan) = self.plan_purge(&ready);
        for (seg, chunks) in plan {
            self.rewrite_segment(seg, chunks, &mut stats)?;
        }
        let ids: Vec<(String, String)> = ready
            .iter()
            .map(|d| (d.req.tenant.clone(), d.req.request_id.clone()))
            .collect();
        self.deletes.mark_purged(&ids, through)?;
        if stats.lines_removed > 0 {
            tracing::info!(
                lines = stats.lines_removed,
                rewritten = stats.segments_rewritten,
                removed = stats.segments_removed,
                "log delete requests applied to the chunk segments"
            );
        }
        Ok(stats)
    }

    /// Whether a request not processed yet covers head (unflushed) data.
    fn heads_hold(&self, ready: &[Arc<Compiled>]) -> bool {
        let inner = self.inner.read();
        ready
            .iter()
            .filter(|d| d.req.status == Status::Received)
            .any(|d| {
                let Some(t) = inner.tenants.get(&d.req.tenant) else {
                    return false;
                };
                t.matching(d.matchers()).iter().any(|id| {
                    let s = &t.streams[*id as usize];
                    (s.has_head() && d.overlaps(s.head_min, s.head_max))
                        || (!s.flushing.is_empty() && d.overlaps(s.flush_min, s.flush_max))
                })
            })
    }

    /// The newest segment id, and every chunk of each segment where a ready request not yet
    /// applied to it may delete lines.
    fn plan_purge(&self, ready: &[Arc<Compiled>]) -> (u64, BTreeMap<u64, Vec<PlanChunk>>) {
        let inner = self.inner.read();
        let through = inner.segments.iter().map(|s| s.id).max().unwrap_or(0);
        let oldest = ready
            .iter()
            .map(|d| d.req.purged_through_segment)
            .min()
            .unwrap_or(u64::MAX);
        let mut plan: BTreeMap<u64, Vec<PlanChunk>> = BTreeMap::new();
        for (tname, t) in &inner.tenants {
            let mine: Vec<&Arc<Compiled>> =
                ready.iter().filter(|d| d.req.tenant == *tname).collect();
            for (sid, s) in t.streams.iter().enumerate() {
                let selected: Vec<&Arc<Compiled>> = mine
                    .iter()
                    .copied()
                    .filter(|d| d.selects(&s.labels))
                    .collect();
                for c in s.chunks.iter().filter(|c| c.seg > oldest) {
                    let dels: Vec<Arc<Compiled>> = selected
                        .iter()
                        .filter(|d| {
                            d.req.purged_through_segment < c.seg && d.overlaps(c.min_ts, c.max_ts)
                        })
                        .map(|d| (*d).clone())
                        .collect();
                    plan.entry(c.seg).or_default().push(PlanChunk {
                        tenant: tname.clone(),
                        sid: sid as u32,
                        labels: s.labels.clone(),
                        chunk: *c,
                        dels,
                    });
                }
            }
        }
        plan.retain(|_, chunks| chunks.iter().any(|c| !c.dels.is_empty()));
        for chunks in plan.values_mut() {
            chunks.sort_by_key(|c| c.chunk.offset);
        }
        (through, plan)
    }

    /// Rewrites segment `old` without the lines its chunks' requests delete (nothing is written
    /// when no line goes).
    fn rewrite_segment(
        &self,
        old: u64,
        chunks: Vec<PlanChunk>,
        stats: &mut PurgeStats,
    ) -> Result<(), StorageError> {
        let dir = self.dir.join("chunks");
        let path = dir.join(format!("{old:08}.seg"));
        let f = match std::fs::File::open(&path) {
            Ok(f) => f,
            // Removed by retention meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io(e)),
        };
        let new = {
            let mut inner = self.inner.write();
            inner.next_seg += 1;
            inner.next_seg - 1
        };
        let mut comp = zstd::bulk::Compressor::new(CHUNK_ZSTD_LEVEL).map_err(io)?;
        let (mut seg, mut meta) = (Vec::new(), Vec::new());
        let mut refs: Vec<(usize, ChunkRef)> = Vec::new();
        let mut removed = 0u64;
        for (i, pc) in chunks.iter().enumerate() {
            let mut c = pc.chunk;
            let mut z = vec![0u8; c.len as usize];
            f.read_exact_at(&mut z, c.offset).map_err(io)?;
            if !pc.dels.is_empty() {
                let mut entries = decode_chunk(&z, &c, &path)?;
                let before = entries.len();
                entries.retain(|e| !pc.dels.iter().any(|d| d.deletes(&pc.labels, e)));
                if entries.len() < before {
                    removed += (before - entries.len()) as u64;
                    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
                        continue;
                    };
                    (c.min_ts, c.max_ts) = (first.ts_ns, last.ts_ns);
                    c.entries = entries.len() as u32;
                    c.raw_bytes = entries.iter().map(|e| e.line.len() as u64).sum();
                    let refs: Vec<&LogEntry> = entries.iter().collect();
                    z = if self.opts.columnar_chunks {
                        colchunk::encode(&mut comp, &refs)
                    } else {
                        colchunk::encode_legacy(&mut comp, &refs)
                    }
                    .map_err(io)?;
                    c.len = z.len() as u32;
                }
            }
            c.seg = new;
            c.offset = seg.len() as u64;
            seg.extend_from_slice(&z);
            put_chunk_meta(&mut meta, &pc.tenant, &pc.labels, &c);
            refs.push((i, c));
        }
        if removed == 0 {
            return Ok(());
        }
        if !refs.is_empty() {
            write_synced(&marker(&dir, new), old.to_string().as_bytes())?;
            write_segment_files(&dir, new, &seg, &meta)?;
        }
        {
            let mut inner = self.inner.write();
            let Some(pos) = inner.segments.iter().position(|s| s.id == old) else {
                // Retention removed the old segment meanwhile: drop the rewrite.
                drop(inner);
                for ext in ["meta", "seg", "replaces"] {
                    let _ = std::fs::remove_file(dir.join(format!("{new:08}.{ext}")));
                }
                return Ok(());
            };
            for pc in &chunks {
                if let Some(s) = inner.stream_mut(&pc.tenant, pc.sid) {
                    if s.chunks.iter().any(|c| c.seg == old) {
                        s.retain_chunks(|c| c.seg != old);
                    }
                }
            }
            for (i, c) in &refs {
                if let Some(s) = inner.stream_mut(&chunks[*i].tenant, chunks[*i].sid) {
                    s.add_chunk(*c);
                }
            }
            if refs.is_empty() {
                inner.segments.remove(pos);
            } else {
                inner.segments[pos] = SegmentMeta {
                    id: new,
                    bytes: seg.len() as u64,
                    max_ts: refs.iter().map(|(_, c)| c.max_ts).max().unwrap_or(i64::MIN),
                };
            }
        }
        // The old index goes first: from then on the old segment is gone even after a crash.
        let _ = std::fs::remove_file(dir.join(format!("{old:08}.meta")));
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(marker(&dir, new));
        wal::sync_dir(&dir);
        stats.lines_removed += removed;
        if refs.is_empty() {
            stats.segments_removed += 1;
        } else {
            stats.segments_rewritten += 1;
        }
        Ok(())
    }
}

/// Every entry of a compressed chunk.
fn decode_chunk(z: &[u8], c: &ChunkRef, path: &Path) -> Result<Vec<LogEntry>, StorageError> {
    let corrupt =
        |e: &dyn std::fmt::Display| StorageError::Io(format!("chunk in {}: {e}", path.display()));
    let raw = decompress_chunk(z, c).map_err(|e| corrupt(&e))?;
    let mut it = codec::RawEntries::new(&raw).map_err(|e| corrupt(&e))?;
    let mut out = Vec::with_capacity(c.entries as usize);
    while let Some(e) = it.next_entry().map_err(|e| corrupt(&e))? {
        out.push(e.to_entry().map_err(|e| corrupt(&e))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::MatchOp;

    fn opts(cancel_ms: i64) -> LogStoreOptions {
        LogStoreOptions {
            background: false,
            delete_cancel_period_ms: cancel_ms,
            limits: Limits {
                reject_old_samples: false,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn push(s: &LogStore, app: &str, lines: &[(i64, &str)]) {
        s.push(
            "t",
            vec![LogStream {
                labels: Labels::from_pairs([("app", app)]),
                entries: lines
                    .iter()
                    .map(|(ts, l)| LogEntry {
                        ts_ns: *ts * 1_000_000_000,
                        line: l.to_string(),
                        metadata: vec![],
                    })
                    .collect(),
            }],
        )
        .unwrap();
    }

    fn lines(s: &LogStore) -> Vec<String> {
        let m = [LabelMatcher::new("app", MatchOp::RegexMatch, ".+").unwrap()];
        let mut v = Vec::new();
        s.scan("t", &m, 0, i64::MAX, Direction::Forward, &mut |l, e| {
            v.push(format!("{}:{}", l.get("app").unwrap_or(""), e.line));
            true
        })
        .unwrap();
        v
    }

    /// Every line text in the chunk segments on disk.
    fn on_disk(dir: &Path) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(dir.join("chunks")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "seg") {
                let raw = zstd::stream::decode_all(&std::fs::read(&p).unwrap()[..]).unwrap();
                out.push_str(&String::from_utf8_lossy(&raw));
            }
        }
        out
    }

    fn add(s: &LogStore, q: &str, start_s: i64, end_s: i64) -> String {
        s.deletes()
            .add("t", q, start_s * 1000, end_s * 1000, now_ns() / 1_000_000)
            .unwrap()
    }

    #[test]
    fn queries_hide_deleted_lines_at_once_and_after_restart() {
        let d = tempfile::tempdir().unwrap();
        let s = LogStore::open(d.path(), opts(3_600_000)).unwrap();
        push(
            &s,
            "api",
            &[(10, "secret 1"), (20, "secret 2"), (30, "public")],
        );
        s.flush().unwrap();
        push(&s, "api", &[(40, "secret 4")]);
        push(&s, "web", &[(20, "secret web")]);
        add(&s, r#"{app="api"} |= "secret""#, 15, 40);
        assert_eq!(lines(&s), ["api:secret 1", "web:secret web", "api:public"]);
        // Not yet past the cancel period: nothing removed from disk.
        assert_eq!(s.purge_deleted().unwrap(), PurgeStats::default());
        assert!(on_disk(d.path()).contains("secret 2"));
        drop(s);
        let s = LogStore::open(d.path(), opts(3_600_000)).unwrap();
        assert_eq!(lines(&s), ["api:secret 1", "web:secret web", "api:public"]);
        assert_eq!(s.deletes().list("t")[0].status, Status::Received);
    }

    #[test]
    fn purge_rewrites_segments_flushes_heads_and_catches_late_lines() {
        let d = tempfile::tempdir().unwrap();
        let s = LogStore::open(d.path(), opts(0)).unwrap();
        push(
            &s,
            "api",
            &[(10, "secret 1"), (20, "secret 2"), (30, "public")],
        );
        push(&s, "web", &[(20, "secret web")]);
        s.flush().unwrap();
        // Head data (not flushed) is covered too.
        push(&s, "api", &[(25, "secret head")]);
        add(&s, r#"{app="api"} |= "secret""#, 15, 40);
        let st = s.purge_deleted().unwrap();
        assert_eq!(st.lines_removed, 2, "{st:?}");
        let disk = on_disk(d.path());
        assert!(
            !disk.contains("secret 2") && !disk.contains("secret head"),
            "{disk}"
        );
        assert!(
            disk.contains("secret 1") && disk.contains("secret web") && disk.contains("public")
        );
        assert_eq!(s.deletes().list("t")[0].status, Status::Processed);
        assert_eq!(lines(&s), ["api:secret 1", "web:secret web", "api:public"]);
        // A line arriving late with an old timestamp is hidden, then removed once flushed.
        push(&s, "api", &[(35, "secret late")]);
        assert_eq!(lines(&s).len(), 3);
        s.flush().unwrap();
        assert_eq!(s.purge_deleted().unwrap().lines_removed, 1);
        assert!(!on_disk(d.path()).contains("secret late"));
        // A second pass finds nothing more.
        assert_eq!(s.purge_deleted().unwrap(), PurgeStats::default());
        drop(s);
        let s = LogStore::open(d.path(), opts(0)).unwrap();
        assert_eq!(lines(&s), ["api:secret 1", "web:secret web", "api:public"]);
        let m = [LabelMatcher::new("app", MatchOp::Equal, "api").unwrap()];
        assert_eq!(s.index_stats("t", &m, 0, i64::MAX).entries, 2);
    }

    #[test]
    fn a_segment_left_empty_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let s = LogStore::open(d.path(), opts(0)).unwrap();
        push(&s, "api", &[(10, "a"), (20, "b")]);
        s.flush().unwrap();
        push(&s, "web", &[(10, "c")]);
        s.flush().unwrap();
        add(&s, r#"{app="api"}"#, 0, 100);
        let st = s.purge_deleted().unwrap();
        assert_eq!((st.lines_removed, st.segments_removed), (2, 1));
        assert_eq!(s.summary().segments, 1);
        assert_eq!(lines(&s), ["web:c"]);
        drop(s);
        let s = LogStore::open(d.path(), opts(0)).unwrap();
        assert_eq!(lines(&s), ["web:c"]);
    }

    #[test]
    fn an_interrupted_swap_is_finished_on_open() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        for f in [
            "00000001.meta",
            "00000001.seg",
            "00000002.meta",
            "00000002.seg",
        ] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        // The new index (2) exists: the old segment goes.
        std::fs::write(dir.join("00000002.replaces"), b"1").unwrap();
        // No index 4: the marker goes, segment 3 stays.
        std::fs::write(dir.join("00000003.meta"), b"x").unwrap();
        std::fs::write(dir.join("00000004.replaces"), b"3").unwrap();
        finish_replacements(dir).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        assert_eq!(left, ["00000002.meta", "00000002.seg", "00000003.meta"]);
    }
}

//! The log store's use of the shared write-ahead log (crate `wal`): `wal/NNNNNNNN.log`
//! segments of plain `[len u32][crc32 u32][payload]` records, one per push (the layout this
//! store has always written, so older data directories open as they are). A flush rolls to a
//! new segment and, once the heads are persisted as chunks, deletes the segments before it.

use std::path::Path;

/// How the log store opens its WAL.
pub fn options(fsync: bool) -> wal::WalOptions {
    wal::WalOptions {
        segment_bytes: u64::MAX,
        fsync,
        naming: wal::SegmentNaming::with_suffix(".log"),
        framing: wal::Framing::Plain,
    }
}

/// Opens the log store's WAL in `dir`.
pub fn open(dir: &Path, fsync: bool) -> std::io::Result<wal::Wal> {
    wal::Wal::open(dir, options(fsync))
}

/// Fsyncs a directory (errors are ignored: the entries were written; a failed directory sync
/// only weakens the crash guarantee, which the next flush restores).
pub fn sync_dir(dir: &Path) {
    let _ = wal::sync_dir(dir);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;

    fn replay_all(dir: &Path) -> (wal::Wal, Vec<Vec<u8>>) {
        let w = open(dir, true).unwrap();
        let mut got = Vec::new();
        w.replay(|_, b| got.push(b.to_vec())).unwrap();
        (w, got)
    }

    #[test]
    fn append_read_truncate_roll() {
        let d = tempfile::tempdir().unwrap();
        let (w, _) = replay_all(d.path());
        w.append(b"one").unwrap();
        w.append(b"two").unwrap();
        drop(w);
        // torn tail
        let p = d.path().join("00000001.log");
        let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[9, 0, 0, 0, 1]).unwrap();
        let (w, recs) = replay_all(d.path());
        assert_eq!(recs, vec![b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(fs::metadata(&p).unwrap().len(), 22);
        let next = w.roll().unwrap();
        assert_eq!(next, 3);
        w.remove_segments_before(next).unwrap();
        assert_eq!(w.segments().unwrap(), vec![3]);
    }

    /// A directory in the layout the store wrote before the shared WAL (framed by hand here)
    /// replays, and new segments follow the old ones.
    #[test]
    fn opens_the_pre_shared_wal_layout() {
        let d = tempfile::tempdir().unwrap();
        let mut seg = Vec::new();
        for payload in [&b"push-1"[..], b"", b"push-3"] {
            seg.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            seg.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
            seg.extend_from_slice(payload);
        }
        fs::write(d.path().join("00000007.log"), &seg).unwrap();
        // An empty segment (opened, never written, by the old code) before it.
        fs::write(d.path().join("00000006.log"), b"").unwrap();
        let (w, recs) = replay_all(d.path());
        assert_eq!(
            recs,
            vec![b"push-1".to_vec(), b"".to_vec(), b"push-3".to_vec()]
        );
        assert_eq!(w.active_segment(), 8);
    }
}

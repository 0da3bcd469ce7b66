use super::*;
use proptest::prelude::*;

fn opts(fsync: bool) -> WalOptions {
    WalOptions {
        fsync,
        ..WalOptions::default()
    }
}

fn replay_all(dir: &Path, o: WalOptions) -> (Vec<(Position, Vec<u8>)>, ReplayStats, Wal) {
    let w = Wal::open(dir, o).unwrap();
    let mut got = Vec::new();
    let st = w.replay(|p, b| got.push((p, b.to_vec()))).unwrap();
    (got, st, w)
}

fn payloads(got: &[(Position, Vec<u8>)]) -> Vec<Vec<u8>> {
    got.iter().map(|(_, b)| b.clone()).collect()
}

#[test]
fn append_replay_and_fresh_segment_per_open() {
    let d = tempfile::tempdir().unwrap();
    let w = Wal::open(d.path(), opts(true)).unwrap();
    assert_eq!(
        w.replay(|_, _| panic!("empty log")).unwrap(),
        ReplayStats::default()
    );
    let p1 = w.append(b"one").unwrap();
    let p2 = w.append(b"two").unwrap();
    assert!(p1 < p2);
    assert_eq!(p2, w.position());
    let st = w.stats();
    assert_eq!(
        (st.records_appended, st.segments, st.active_segment),
        (2, 1, 1)
    );
    assert!(st.fsyncs >= 1);
    drop(w);
    let (got, st, w) = replay_all(d.path(), opts(true));
    assert_eq!(payloads(&got), vec![b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(got[1].0, p2);
    assert_eq!((st.records, st.segments, st.truncated), (2, 1, 0));
    assert_eq!(w.active_segment(), 2);
    drop(w);
    // An empty last segment is reused rather than followed by another.
    let w = Wal::open(d.path(), opts(true)).unwrap();
    assert_eq!(w.active_segment(), 2);
    assert_eq!(w.segments().unwrap(), vec![1, 2]);
}

#[test]
fn torn_tail_is_truncated_and_later_segments_still_read() {
    let d = tempfile::tempdir().unwrap();
    let naming = SegmentNaming::with_suffix(".log");
    let o = WalOptions {
        naming,
        ..opts(false)
    };
    let w = Wal::open(d.path(), o).unwrap();
    w.append(b"a").unwrap();
    let keep = w.append(b"b").unwrap();
    drop(w);
    let seg = naming.path(d.path(), 1);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[50, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(f);
    let w = Wal::open(d.path(), o).unwrap();
    w.append(b"c").unwrap();
    drop(w);
    let (got, st, w) = replay_all(d.path(), o);
    assert_eq!(
        payloads(&got),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
    assert_eq!((st.truncated, st.truncated_bytes), (1, 7));
    assert_eq!(fs::metadata(&seg).unwrap().len(), keep.offset);
    assert_eq!(w.stats().corruptions_truncated, 1);
}

#[test]
fn rolls_by_size_and_removes_closed_segments() {
    let d = tempfile::tempdir().unwrap();
    let o = WalOptions {
        segment_bytes: 30,
        ..opts(false)
    };
    let w = Wal::open(d.path(), o).unwrap();
    for i in 0..6u8 {
        w.append(&[i; 10]).unwrap();
    }
    // 19-byte records (8 header + flag byte + 10): one per 30-byte segment.
    let segs = w.segments().unwrap();
    assert_eq!(segs, (1..=6).collect::<Vec<_>>());
    assert_eq!(w.stats().segments, 6);
    let bytes = w.disk_bytes();
    assert_eq!(bytes, 6 * 19);
    assert_eq!(w.remove_segments_before(3).unwrap(), 2 * 19);
    assert_eq!(w.remove_segments_where(|s| s == 4 || s == 6).unwrap(), 19);
    assert_eq!(w.segments().unwrap(), vec![3, 5, 6]);
    assert_eq!(w.stats().segments, 3);
    assert_eq!(w.stats().segments_removed, 3);
    // The active segment is never removed.
    w.remove_segments_before(100).unwrap();
    assert_eq!(w.segments().unwrap(), vec![6]);
    let new = w.roll().unwrap();
    assert_eq!(new, 7);
    drop(w);
    let (got, _, _) = replay_all(d.path(), o);
    assert_eq!(payloads(&got), vec![vec![5u8; 10]]);
}

#[test]
fn checkpoint_replaces_segments() {
    let d = tempfile::tempdir().unwrap();
    let o = opts(true);
    let w = Wal::open(d.path(), o).unwrap();
    w.append(b"old-1").unwrap();
    w.append(b"old-2").unwrap();
    let seq = w.roll().unwrap();
    w.append(b"new").unwrap();
    // Not a closed segment: refused.
    assert!(w.write_checkpoint::<io::Error>(seq, |_| Ok(())).is_err());
    w.write_checkpoint::<io::Error>(seq - 1, |emit| {
        emit(b"kept")?;
        emit(b"")
    })
    .unwrap();
    assert_eq!(w.segments().unwrap(), vec![2]);
    assert_eq!(w.stats().checkpoints_written, 1);
    drop(w);
    let (got, st, w) = replay_all(d.path(), o);
    assert_eq!(
        payloads(&got),
        vec![b"kept".to_vec(), b"".to_vec(), b"new".to_vec()]
    );
    assert_eq!(st.checkpoint, Some(1));
    assert_eq!(got[0].0.seq, 1);
    // A second checkpoint replaces the first.
    w.write_checkpoint::<io::Error>(2, |emit| emit(b"only"))
        .unwrap();
    drop(w);
    let names: Vec<String> = fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.contains(&"checkpoint.00000001".to_string()),
        "{names:?}"
    );
    let (got, _, _) = replay_all(d.path(), o);
    assert_eq!(payloads(&got), vec![b"only".to_vec()]);
}

#[test]
fn interrupted_checkpoint_leftovers_are_cleaned_on_open() {
    let d = tempfile::tempdir().unwrap();
    let o = WalOptions {
        naming: SegmentNaming::plain(),
        ..opts(false)
    };
    let w = Wal::open(d.path(), o).unwrap();
    w.append(b"x").unwrap();
    w.roll().unwrap();
    w.append(b"y").unwrap();
    drop(w);
    // A crash after writing the temporary file: ignored and removed.
    fs::write(d.path().join("checkpoint.00000001.tmp"), b"junk").unwrap();
    let (got, _, w) = replay_all(d.path(), o);
    assert_eq!(payloads(&got), vec![b"x".to_vec(), b"y".to_vec()]);
    assert!(!d.path().join("checkpoint.00000001.tmp").exists());
    drop(w);
    // A crash after the rename, before segment 1 was deleted: the checkpoint wins.
    let mut framed = Vec::new();
    frame::encode(o.framing, b"cp", &mut framed).unwrap();
    fs::write(d.path().join("checkpoint.00000001"), &framed).unwrap();
    let (got, _, _) = replay_all(d.path(), o);
    assert_eq!(payloads(&got), vec![b"cp".to_vec(), b"y".to_vec()]);
    assert!(!d.path().join("00000001").exists());
}

#[test]
fn concurrent_appenders_share_fsyncs_and_all_replay() {
    let d = tempfile::tempdir().unwrap();
    let w = Arc::new(Wal::open(d.path(), opts(true)).unwrap());
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let w = w.clone();
            std::thread::spawn(move || {
                for i in 0..50u32 {
                    let mut rec = t.to_le_bytes().to_vec();
                    rec.extend_from_slice(&i.to_le_bytes());
                    w.append(&rec).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let st = w.stats();
    assert_eq!(st.records_appended, 400);
    assert!(st.fsyncs <= 400);
    drop(w);
    let (got, _, _) = replay_all(d.path(), opts(true));
    let mut seen = payloads(&got);
    seen.sort();
    let mut want: Vec<Vec<u8>> = (0..8u32)
        .flat_map(|t| {
            (0..50u32).map(move |i| {
                let mut r = t.to_le_bytes().to_vec();
                r.extend_from_slice(&i.to_le_bytes());
                r
            })
        })
        .collect();
    want.sort();
    assert_eq!(seen, want);
}

#[test]
fn writer_orders_records_and_sync_after() {
    let d = tempfile::tempdir().unwrap();
    let w = Wal::open(d.path(), opts(true)).unwrap();
    let pos = {
        let mut g = w.writer();
        g.write(b"first").unwrap();
        g.write_with(|buf| buf.extend_from_slice(b"second"))
            .unwrap()
    };
    w.sync(pos).unwrap();
    w.append_with(|buf| buf.extend_from_slice(b"third"))
        .unwrap();
    drop(w);
    let (got, _, _) = replay_all(d.path(), opts(true));
    assert_eq!(
        payloads(&got),
        vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
    );
}

#[test]
fn naming_parses_only_its_own_files() {
    let n = SegmentNaming::with_suffix(".seg");
    assert_eq!(n.parse("00000012.seg"), Some(12));
    assert_eq!(n.parse("00000012.log"), None);
    assert_eq!(n.parse("+1.seg"), None);
    assert_eq!(n.parse(".seg"), None);
    let p = SegmentNaming::plain();
    assert_eq!(p.parse("00000003"), Some(3));
    assert_eq!(p.parse("checkpoint.00000003"), None);
    assert_eq!(p.path(Path::new("/w"), 3), Path::new("/w/00000003"));
}

fn framing_of(i: usize) -> Framing {
    [
        Framing::Plain,
        Framing::Zstd(1),
        Framing::Flagged(Compression::None),
        Framing::Flagged(Compression::Snappy),
        Framing::Flagged(Compression::Zstd(1)),
    ][i % 5]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random records round-trip through segments (rolled small), in order.
    #[test]
    fn records_round_trip(
        recs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40),
        seg in 20u64..2000,
        fr in 0usize..5,
    ) {
        let d = tempfile::tempdir().unwrap();
        let o = WalOptions { segment_bytes: seg, framing: framing_of(fr), ..opts(false) };
        let w = Wal::open(d.path(), o).unwrap();
        let mut positions = Vec::new();
        for r in &recs {
            positions.push(w.append(r).unwrap());
        }
        drop(w);
        let (got, st, _) = replay_all(d.path(), o);
        prop_assert_eq!(payloads(&got), recs.clone());
        prop_assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), positions);
        prop_assert_eq!(st.truncated, 0);
    }

    /// Truncating the file anywhere, or flipping any bit, never panics and recovers exactly
    /// the records before the damage; appending afterwards works.
    #[test]
    fn damage_recovers_exactly_the_intact_prefix(
        recs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 1..20),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        flip in any::<bool>(),
        fr in 0usize..5,
    ) {
        let d = tempfile::tempdir().unwrap();
        let o = WalOptions { framing: framing_of(fr), ..opts(false) };
        let w = Wal::open(d.path(), o).unwrap();
        let mut ends = Vec::new();
        for r in &recs {
            ends.push(w.append(r).unwrap().offset);
        }
        drop(w);
        let seg = o.naming.path(d.path(), 1);
        let mut data = fs::read(&seg).unwrap();
        let n = data.len();
        let at = at.index(n);
        if flip {
            data[at] ^= 1 << bit;
        } else {
            data.truncate(at);
        }
        fs::write(&seg, &data).unwrap();
        // The records wholly before the damaged byte (a cut at `at` keeps records ending at
        // or before it; a flipped byte breaks the record containing it).
        let intact = ends.iter().filter(|e| **e <= at as u64).count();
        let (got, st, w) = replay_all(d.path(), o);
        prop_assert_eq!(payloads(&got), recs[..intact].to_vec());
        let good_len = if intact == 0 { 0 } else { ends[intact - 1] };
        prop_assert_eq!(fs::metadata(&seg).unwrap().len(), good_len);
        prop_assert_eq!(st.truncated, u64::from(good_len < data.len() as u64));
        w.append(b"after").unwrap();
        drop(w);
        let (got, _, _) = replay_all(d.path(), o);
        let mut want = recs[..intact].to_vec();
        want.push(b"after".to_vec());
        prop_assert_eq!(payloads(&got), want);
    }
}

#[test]
fn metrics_text_names_every_counter_under_the_prefix() {
    let d = tempfile::tempdir().unwrap();
    let w = Wal::open(d.path(), opts(true)).unwrap();
    w.append(b"abc").unwrap();
    let mut out = String::new();
    w.stats().write_metrics(&mut out, "pharos_x_wal");
    assert!(
        out.contains("\npharos_x_wal_records_appended_total 1\n"),
        "{out}"
    );
    assert!(
        out.contains("\npharos_x_wal_bytes_appended_total 12\n"),
        "{out}"
    );
    assert!(out.contains("\npharos_x_wal_segment_current 1\n"), "{out}");
    let samples = out.lines().filter(|l| !l.starts_with('#')).count();
    assert_eq!(samples, 8);
    assert!(out
        .lines()
        .filter(|l| !l.starts_with('#'))
        .all(|l| l.starts_with("pharos_x_wal_")));
}

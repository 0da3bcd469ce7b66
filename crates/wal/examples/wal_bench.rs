//! Appends per second through the shared WAL with group commit (fsync on), at 1, 8 and 64
//! concurrent writers. Run by `bench/wal.sh`; `WAL_BENCH_DIR` picks the disk (default: the
//! system temporary directory), `WAL_BENCH_SECS` the time per run (default 3), `WAL_BENCH_BYTES`
//! the record size (default 200).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wal::{Wal, WalOptions};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> std::io::Result<()> {
    let secs = env("WAL_BENCH_SECS", 3);
    let size = env("WAL_BENCH_BYTES", 200) as usize;
    let base = std::env::var_os("WAL_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    println!(
        "writers  appends/s  fsyncs/s  records/fsync  (record {size} B, fsync on, {secs} s each)"
    );
    for writers in [1usize, 8, 64] {
        let dir = tempfile::tempdir_in(&base)?;
        let w = Arc::new(Wal::open(dir.path(), WalOptions::default())?);
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let payload = vec![7u8; size];
        let start = Instant::now();
        let threads: Vec<_> = (0..writers)
            .map(|_| {
                let (w, stop, done, payload) =
                    (w.clone(), stop.clone(), done.clone(), payload.clone());
                std::thread::spawn(move || -> std::io::Result<()> {
                    while !stop.load(Ordering::Relaxed) {
                        w.append(&payload)?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join()
                .map_err(|_| std::io::Error::other("writer panicked"))??;
        }
        let el = start.elapsed().as_secs_f64();
        let n = done.load(Ordering::Relaxed) as f64;
        let st = w.stats();
        println!(
            "{writers:>7}  {:>9.0}  {:>8.0}  {:>13.1}",
            n / el,
            st.fsyncs as f64 / el,
            n / (st.fsyncs.max(1) as f64)
        );
    }
    Ok(())
}

//! Follows the TSDB's native-histogram log (`<tsdb>/histograms/log`, see
//! `tsdb::histograms`) for a remote_write queue with `send_native_histograms: true`: the frames
//! appended after a position, handed out with the position after each. A position is the
//! file's inode and a byte offset; the log is rewritten when pharos opens it (retention, a torn
//! tail) and when the TSDB moves histograms into a block, so a position of another inode means
//! "rewritten since": the follower then reads the new file from its start and skips what is not
//! newer than the newest histogram already delivered (of each series, for a rewrite it saw
//! while running). While running, the follower keeps its file open, so a rewrite that drops
//! frames it has not read yet (histograms moved into a block) does not lose them: it reads the
//! old file to its end first, then the new one; after a restart it resumes in the replaced file
//! the TSDB keeps until its next rewrite (`log.prev`). Frames are coded against the frames before them in the same file (format 2,
//! see `tsdb::histograms`), so the follower keeps a `LogReader` and, when it starts inside a
//! file, first reads the file up to its position without handing anything out.

use model::{HistogramSample, Labels};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use wal::Position;

/// Reads the log from a position on.
pub struct HistLog {
    path: PathBuf,
    /// `seq` is the log file's inode, `offset` the end of the last frame handed out.
    pub pos: Position,
    /// Samples at or before this time are skipped (after a rewrite).
    skip_until: i64,
    /// `skip_until` from the moment the follower moves on to another file (it resumed in the
    /// replaced log, `log.prev`, after a restart).
    skip_on_switch: i64,
    /// The state the frames after `pos` are coded against.
    reader: tsdb::histograms::LogReader,
    /// Per series, the newest timestamp handed out (a rewritten file repeats older ones).
    delivered: HashMap<Labels, i64>,
    /// The file of `pos.seq`, kept open so it stays readable after a rewrite replaced it.
    file: Option<File>,
}

fn inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

impl HistLog {
    /// A follower of the log of the TSDB in `tsdb_dir`, from `start` (`None`: from the end of
    /// what is there now). `delivered_until` is the newest histogram timestamp known delivered.
    pub fn open(tsdb_dir: &Path, start: Option<Position>, delivered_until: i64) -> HistLog {
        let path = tsdb::histograms::log_path(tsdb_dir);
        let ino = inode(&path).unwrap_or(0);
        let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let prev = tsdb::histograms::prev_log_path(tsdb_dir);
        let mut skip_on_switch = i64::MIN;
        // Rewritten since, but the replaced file is still there: the rest of it first.
        let resume_prev = start.is_some_and(|p| p.seq != ino && inode(&prev) == Some(p.seq));
        let (pos, skip_until) = match start {
            Some(p) if p.seq == ino => (p, i64::MIN),
            Some(p) if resume_prev => {
                skip_on_switch = delivered_until;
                (p, i64::MIN)
            }
            Some(_) => (
                Position {
                    seq: ino,
                    offset: 0,
                },
                delivered_until,
            ),
            None => (
                Position {
                    seq: ino,
                    offset: len,
                },
                i64::MIN,
            ),
        };
        let mut reader = tsdb::histograms::LogReader::default();
        let mut file = File::open(if resume_prev { &prev } else { &path })
            .ok()
            .filter(|f| f.metadata().is_ok_and(|m| m.ino() == pos.seq));
        if pos.offset > 0 {
            if let Some(f) = file.as_mut() {
                let mut data = Vec::new();
                if f.take(pos.offset).read_to_end(&mut data).is_ok() {
                    reader.read(&data, |_, _, _| {});
                }
            }
        }
        HistLog {
            path,
            pos,
            skip_until,
            skip_on_switch,
            reader,
            delivered: HashMap::new(),
            file,
        }
    }

    /// Hands out every complete frame written since the last call: `f(position after the
    /// frame, labels, samples)`. Returns the number of frames. After a rewrite, the rest of
    /// the old file comes first, then the new file (without what was handed out already).
    pub fn poll(
        &mut self,
        mut f: impl FnMut(Position, Labels, Vec<HistogramSample>),
    ) -> io::Result<usize> {
        let mut frames = 0;
        loop {
            // Taken before reading: when it names another file, the rewrite is complete and
            // nothing more is appended to the file we hold, so reading it to its end below
            // gets all of it.
            let current = inode(&self.path);
            if self.file.is_none() {
                let Ok(file) = File::open(&self.path) else {
                    return Ok(frames);
                };
                let ino = file.metadata()?.ino();
                if ino != self.pos.seq {
                    // Created, or rewritten while we did not hold it: start over in it.
                    self.skip_until = self.skip_until.max(self.skip_on_switch);
                    self.pos = Position {
                        seq: ino,
                        offset: 0,
                    };
                    self.reader = tsdb::histograms::LogReader::default();
                }
                self.file = Some(file);
            }
            frames += self.read_held(&mut f)?;
            match current {
                Some(ino) if ino != self.pos.seq => self.file = None,
                _ => return Ok(frames),
            }
        }
    }

    /// Hands out the complete frames of the held file after `pos`.
    fn read_held(
        &mut self,
        f: &mut impl FnMut(Position, Labels, Vec<HistogramSample>),
    ) -> io::Result<usize> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        let len = file.metadata()?.len();
        if len <= self.pos.offset {
            return Ok(0);
        }
        file.seek(SeekFrom::Start(self.pos.offset))?;
        let mut data = Vec::new();
        file.take(len - self.pos.offset).read_to_end(&mut data)?;
        let (base, ino) = (self.pos.offset, self.pos.seq);
        let mut frames = 0;
        let skip = self.skip_until;
        let delivered = &mut self.delivered;
        let intact = self.reader.read(&data, |end, labels, mut samples| {
            let done = delivered
                .get(&labels)
                .copied()
                .unwrap_or(i64::MIN)
                .max(skip);
            samples.retain(|s| s.t > done);
            if let Some(last) = samples.last() {
                delivered.insert(labels.clone(), last.t);
            }
            frames += 1;
            f(
                Position {
                    seq: ino,
                    offset: base + end as u64,
                },
                labels,
                samples,
            );
        });
        // A frame still being written stays for the next poll.
        self.pos.offset = base + intact as u64;
        Ok(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_appends_and_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        let h = model::histogram::parse_histogram("{{schema:0 count:3 sum:2 buckets:[1 2]}}")
            .unwrap()
            .histogram;
        let labels = Labels::from_pairs([("__name__", "lat")]);
        let sample = |t| (labels.clone(), HistogramSample::integer(t, h.clone()));
        let store = tsdb::histograms::HistogramStore::open(dir.path(), i64::MIN).unwrap();
        store.append(&[sample(1000)]).unwrap();
        // A new follower starts at the end.
        let mut log = HistLog::open(dir.path(), None, i64::MIN);
        let mut got = Vec::new();
        log.poll(|_, _, s| got.extend(s.iter().map(|s| s.t)))
            .unwrap();
        assert!(got.is_empty());
        store.append(&[sample(2000), sample(3000)]).unwrap();
        log.poll(|_, l, s| {
            assert_eq!(l, labels);
            got.extend(s.iter().map(|s| s.t))
        })
        .unwrap();
        assert_eq!(got, vec![2000, 3000]);
        let saved = log.pos;
        drop(store);
        // Reopened with a retention that drops t=1000: the log is rewritten (new inode); a
        // follower resuming from the old position skips what was delivered.
        let store = tsdb::histograms::HistogramStore::open(dir.path(), 1500).unwrap();
        store.append(&[sample(4000)]).unwrap();
        let mut log = HistLog::open(dir.path(), Some(saved), 3000);
        let mut got = Vec::new();
        log.poll(|_, _, s| got.extend(s.iter().map(|s| s.t)))
            .unwrap();
        assert_eq!(got, vec![4000]);
        // A follower resuming inside the same file (no rewrite) reads the frames after its
        // position, which are coded against the ones before it.
        let saved = log.pos;
        let mut h2 = h.clone();
        h2.count = 5.0;
        h2.positive_buckets = vec![2.0, 3.0];
        store
            .append(&[(labels.clone(), HistogramSample::integer(5000, h2.clone()))])
            .unwrap();
        let mut log = HistLog::open(dir.path(), Some(saved), 4000);
        let mut got = Vec::new();
        log.poll(|_, _, s| got.extend(s)).unwrap();
        assert_eq!(got, vec![HistogramSample::integer(5000, h2)]);
        // Rewritten while the follower runs (histograms moved into a block): what it handed
        // out already is not handed out again; what is new is.
        store.remove_range(i64::MIN, 2500).unwrap();
        store.append(&[sample(6000)]).unwrap();
        let mut got = Vec::new();
        log.poll(|_, _, s| got.extend(s.iter().map(|s| s.t)))
            .unwrap();
        assert_eq!(got, vec![6000]);
    }

    #[test]
    fn a_follower_behind_a_rewrite_resumes_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let h = model::histogram::parse_histogram("{{schema:0 count:3 sum:2 buckets:[1 2]}}")
            .unwrap()
            .histogram;
        let a = Labels::from_pairs([("__name__", "lat"), ("i", "a")]);
        let b = Labels::from_pairs([("__name__", "lat"), ("i", "b")]);
        let sample = |l: &Labels, t| (l.clone(), HistogramSample::integer(t, h.clone()));
        let store = tsdb::histograms::HistogramStore::open(dir.path(), i64::MIN).unwrap();
        let mut log = HistLog::open(dir.path(), None, i64::MIN);
        store.append(&[sample(&a, 1000)]).unwrap();
        store.append(&[sample(&b, 900)]).unwrap();
        let mut got = Vec::new();
        log.poll(|_, l, s| got.extend(s.iter().map(|s| (l.clone(), s.t))))
            .unwrap();
        let (saved, delivered) = (log.pos, 1000);
        drop(log);
        // While the queue is down: more histograms, then the older ones move into a block.
        store
            .append(&[sample(&a, 2000), sample(&b, 1500), sample(&a, 3000)])
            .unwrap();
        store.remove_range(i64::MIN, 2500).unwrap();
        store.append(&[sample(&b, 4000)]).unwrap();
        let mut log = HistLog::open(dir.path(), Some(saved), delivered);
        log.poll(|_, l, s| got.extend(s.iter().map(|s| (l.clone(), s.t))))
            .unwrap();
        let mut got: Vec<(String, i64)> = got
            .into_iter()
            .map(|(l, t)| (l.get("i").unwrap_or("").to_string(), t))
            .collect();
        got.sort();
        let want: Vec<(String, i64)> = [
            ("a", 1000),
            ("a", 2000),
            ("a", 3000),
            ("b", 900),
            ("b", 1500),
            ("b", 4000),
        ]
        .iter()
        .map(|(i, t)| (i.to_string(), *t))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_follower_behind_a_rewrite_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let h = model::histogram::parse_histogram("{{schema:0 count:3 sum:2 buckets:[1 2]}}")
            .unwrap()
            .histogram;
        let a = Labels::from_pairs([("__name__", "lat"), ("i", "a")]);
        let b = Labels::from_pairs([("__name__", "lat"), ("i", "b")]);
        let store = tsdb::histograms::HistogramStore::open(dir.path(), i64::MIN).unwrap();
        let mut log = HistLog::open(dir.path(), None, i64::MIN);
        let sample = |l: &Labels, t| (l.clone(), HistogramSample::integer(t, h.clone()));
        store.append(&[sample(&a, 1000), sample(&b, 1000)]).unwrap();
        let mut got = Vec::new();
        log.poll(|_, l, s| got.extend(s.iter().map(|s| (l.clone(), s.t))))
            .unwrap();
        store
            .append(&[sample(&a, 2000), sample(&b, 2000), sample(&a, 3000)])
            .unwrap();
        // The follower has read t=1000 only when 1000 and 2000 move into a block (the log is
        // rewritten with t=3000 alone); then more arrive, and the file is rewritten again.
        store.remove_range(i64::MIN, 2500).unwrap();
        store.append(&[sample(&b, 4000)]).unwrap();
        store.remove_range(i64::MIN, 3500).unwrap();
        store.append(&[sample(&a, 5000)]).unwrap();
        log.poll(|_, l, s| got.extend(s.iter().map(|s| (l.clone(), s.t))))
            .unwrap();
        got.sort_by(|x, y| (x.1, &x.0).cmp(&(y.1, &y.0)));
        let want: Vec<(Labels, i64)> = [
            (&a, 1000),
            (&b, 1000),
            (&a, 2000),
            (&b, 2000),
            (&a, 3000),
            (&b, 4000),
            (&a, 5000),
        ]
        .into_iter()
        .map(|(l, t)| (l.clone(), t))
        .collect();
        let mut want = want;
        want.sort_by(|x, y| (x.1, &x.0).cmp(&(y.1, &y.0)));
        assert_eq!(got, want);
    }
}

//! The positions file: how far each tailed file has been read *and acknowledged by the sink*.
//!
//! Format: promtail's `positions.yaml` (`positions: {PATH: "OFFSET"}`), so a promtail positions
//! file can be reused, plus a pharos extension key `files:` listing `{path, inode, offset}` for
//! every open file, including rotated files still being drained. Files are recognised by
//! device+inode on restart, so a file renamed while pharos was down resumes at its offset and a
//! new file created under an old name starts at 0. Writes go to a temp file renamed into place
//! (an interrupted write never leaves a torn file).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    /// `dev:ino`.
    pub inode: String,
    pub offset: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Raw {
    #[serde(default)]
    positions: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    files: Vec<FileEntry>,
}

/// Saved positions as loaded at startup.
#[derive(Clone, Debug, Default)]
pub struct Saved {
    pub by_path: BTreeMap<String, u64>,
    pub files: Vec<FileEntry>,
}

impl Saved {
    /// Offset to resume a file at, by identity first, then (promtail files) by path.
    pub fn lookup(&self, path: &str, inode: &str) -> Option<u64> {
        if let Some(f) = self.files.iter().find(|f| f.inode == inode) {
            return Some(f.offset);
        }
        if self.files.is_empty() {
            return self.by_path.get(path).copied();
        }
        None
    }
}

/// Reads a positions file; a missing file is empty, a corrupt one is an error.
pub fn load(path: &Path) -> Result<Saved, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Saved::default()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(Saved::default());
    }
    let raw: Raw = serde_yaml_ng::from_str(&text)
        .map_err(|e| format!("positions file {}: {e}", path.display()))?;
    let mut by_path = BTreeMap::new();
    for (p, off) in raw.positions {
        let off = off.trim().parse::<u64>().map_err(|_| {
            format!(
                "positions file {}: offset {off:?} of {p} is not a number",
                path.display()
            )
        })?;
        by_path.insert(p, off);
    }
    Ok(Saved {
        by_path,
        files: raw.files,
    })
}

/// Writes the positions file atomically; `sync` also fsyncs it.
pub fn save(path: &Path, files: &[FileEntry], sync: bool) -> std::io::Result<()> {
    let mut positions = BTreeMap::new();
    for f in files {
        positions.insert(f.path.clone(), f.offset.to_string());
    }
    let raw = Raw {
        positions,
        files: files.to_vec(),
    };
    let text = serde_yaml_ng::to_string(&raw).map_err(std::io::Error::other)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp: PathBuf = path.with_extension("yaml.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        if sync {
            f.sync_all()?;
        }
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promtail_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("positions.yaml");
        std::fs::write(&p, "positions:\n  /var/log/a.log: \"123\"\n").unwrap();
        let s = load(&p).unwrap();
        assert_eq!(s.lookup("/var/log/a.log", "1:2"), Some(123));
    }

    #[test]
    fn round_trip_by_inode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("positions.yaml");
        let files = vec![
            FileEntry {
                path: "/l/a.log".into(),
                inode: "1:10".into(),
                offset: 5,
            },
            FileEntry {
                path: "/l/a.log".into(),
                inode: "1:9".into(),
                offset: 7,
            },
        ];
        save(&p, &files, true).unwrap();
        let s = load(&p).unwrap();
        assert_eq!(s.lookup("/l/a.log.1", "1:9"), Some(7));
        assert_eq!(
            s.lookup("/l/a.log", "1:11"),
            None,
            "new file under an old name starts at 0"
        );
        assert!(load(&dir.path().join("missing")).unwrap().files.is_empty());
        std::fs::write(&p, "positions: {a: x}\n").unwrap();
        assert!(load(&p).is_err());
    }
}

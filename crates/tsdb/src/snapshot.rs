//! Online snapshots: a copy of a data directory where immutable files are hard-linked (as
//! Prometheus' `/api/v1/admin/tsdb/snapshot` links blocks) and every other file is copied.

use std::io;
use std::path::Path;

/// Copies the tree `src` into `dest` (created). Files for which `link(relative path)` is true
/// are hard-linked (copied when linking fails, e.g. across file systems); the others are
/// copied. A file that vanishes while the copy runs (compacted away) is skipped. Returns the
/// number of files written.
pub fn copy_tree(src: &Path, dest: &Path, link: &dyn Fn(&Path) -> bool) -> io::Result<u64> {
    fn walk(
        root: &Path,
        dir: &Path,
        dest: &Path,
        link: &dyn Fn(&Path) -> bool,
        n: &mut u64,
    ) -> io::Result<()> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let to = dest.join(rel);
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                std::fs::create_dir_all(&to)?;
                walk(root, &path, dest, link, n)?;
            } else if ft.is_file() {
                let done = link(rel) && std::fs::hard_link(&path, &to).is_ok();
                if !done {
                    match std::fs::copy(&path, &to) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(e),
                    }
                }
                *n += 1;
            }
        }
        Ok(())
    }
    std::fs::create_dir_all(dest)?;
    let mut n = 0;
    walk(src, src, dest, link, &mut n)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_immutable_and_copies_the_rest() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("src");
        std::fs::create_dir_all(src.join("blocks/b1")).unwrap();
        std::fs::create_dir_all(src.join("wal")).unwrap();
        std::fs::write(src.join("blocks/b1/chunks"), b"c").unwrap();
        std::fs::write(src.join("wal/0001"), b"w").unwrap();
        let dest = d.path().join("snap");
        let n = copy_tree(&src, &dest, &|p| p.starts_with("blocks")).unwrap();
        assert_eq!(n, 2);
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(
            ino(&src.join("blocks/b1/chunks")),
            ino(&dest.join("blocks/b1/chunks"))
        );
        assert_ne!(ino(&src.join("wal/0001")), ino(&dest.join("wal/0001")));
        // Appends to the live WAL do not change the snapshot.
        std::fs::write(src.join("wal/0001"), b"wx").unwrap();
        assert_eq!(std::fs::read(dest.join("wal/0001")).unwrap(), b"w");
    }
}

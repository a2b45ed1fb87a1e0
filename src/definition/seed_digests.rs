//! Seed-file digests remembered between runs, so loading a definition whose seed is a dump of
//! gigabytes does not read it all again (a no-op `up` stays near instant). An entry is used
//! only while the file has the size, inode, modification and change times it was hashed with;
//! anything else hashes it again. What runs is checked regardless: the upload compares the
//! bytes it streams with this digest (`apply/seed_archive.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

const FILE: &str = "seed-digests.json";
/// Smaller files hash faster than the cache is read and written.
const MIN_BYTES: u64 = 1 << 20;
/// The most recently used entries kept.
const MAX_ENTRIES: usize = 256;

/// What identifies one version of a file's contents without reading them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    inode: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    sha256: String,
    used: i64,
}

/// The digest of `path` (whose metadata is `meta`), from the cache when it is still valid,
/// else from `compute`, which is then remembered. The cache is best effort: when the state
/// directory cannot be read or written, every load hashes.
pub fn sha256(
    path: &Path,
    meta: &std::fs::Metadata,
    compute: impl FnOnce() -> std::io::Result<String>,
) -> std::io::Result<String> {
    let cache = crate::state_dir::state_dir().map(|dir| dir.join(FILE));
    sha256_cached_in(cache.as_deref(), path, meta, compute)
}

fn sha256_cached_in(
    cache: Option<&Path>,
    path: &Path,
    meta: &std::fs::Metadata,
    compute: impl FnOnce() -> std::io::Result<String>,
) -> std::io::Result<String> {
    let (Some(stamp), Some(file)) = (stamp(meta), cache) else {
        return compute();
    };
    if stamp.size < MIN_BYTES {
        return compute();
    }
    let mut entries = read(file);
    let key = path.to_string_lossy().into_owned();
    let now = chrono::Utc::now().timestamp();
    if let Some(entry) = entries.get_mut(&key).filter(|e| e.stamp == stamp) {
        let sha256 = entry.sha256.clone();
        entry.used = now;
        return Ok(sha256);
    }
    let sha256 = compute()?;
    entries.insert(
        key,
        Entry {
            stamp,
            sha256: sha256.clone(),
            used: now,
        },
    );
    write(file, entries);
    Ok(sha256)
}

#[cfg(unix)]
fn stamp(meta: &std::fs::Metadata) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    Some(Stamp {
        size: meta.len(),
        inode: meta.ino(),
        mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
        ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
    })
}

#[cfg(not(unix))]
fn stamp(_: &std::fs::Metadata) -> Option<Stamp> {
    None
}

fn read(file: &Path) -> BTreeMap<String, Entry> {
    std::fs::read(file)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Replaces the cache file at once (a reader never sees half of it); the oldest entries go
/// beyond `MAX_ENTRIES`.
fn write(file: &Path, mut entries: BTreeMap<String, Entry>) {
    while entries.len() > MAX_ENTRIES {
        let oldest = entries
            .iter()
            .min_by_key(|(_, e)| e.used)
            .map(|(k, _)| k.clone());
        match oldest {
            Some(key) => entries.remove(&key),
            None => break,
        };
    }
    let Some(dir) = file.parent() else { return };
    let temp: PathBuf = dir.join(format!("{FILE}.{}", std::process::id()));
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| serde_json::to_vec(&entries).map_err(std::io::Error::other))
        .and_then(|bytes| std::fs::write(&temp, bytes))
        .and_then(|()| std::fs::rename(&temp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_digest_is_used_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join(FILE);
        let path = dir.path().join("dump.sql");
        let digest = |computed: &str| {
            let meta = std::fs::metadata(&path).unwrap();
            let mut ran = false;
            let sha = sha256_cached_in(Some(&cache), &path, &meta, || {
                ran = true;
                Ok(computed.to_string())
            })
            .unwrap();
            (sha, ran)
        };
        std::fs::write(&path, vec![1u8; MIN_BYTES as usize]).unwrap();
        assert_eq!(digest("first"), ("first".into(), true));
        assert_eq!(digest("unused"), ("first".into(), false));
        // Rewritten with the same size: its times (and so its stamp) differ.
        std::fs::write(&path, vec![2u8; MIN_BYTES as usize]).unwrap();
        assert_eq!(digest("second"), ("second".into(), true));
        // Small files are never remembered.
        std::fs::write(&path, b"SELECT 1;").unwrap();
        assert_eq!(digest("small"), ("small".into(), true));
        assert_eq!(digest("small again"), ("small again".into(), true));
    }

    #[test]
    fn the_oldest_entries_go_beyond_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join(FILE);
        let stamp = Stamp {
            size: 1,
            inode: 1,
            mtime_ns: 1,
            ctime_ns: 1,
        };
        let entries = (0..MAX_ENTRIES + 3)
            .map(|n| {
                let entry = Entry {
                    stamp: stamp.clone(),
                    sha256: n.to_string(),
                    used: n as i64,
                };
                (format!("/f{n}"), entry)
            })
            .collect();
        write(&cache, entries);
        let kept = read(&cache);
        assert_eq!(kept.len(), MAX_ENTRIES);
        assert!(!kept.contains_key("/f0") && !kept.contains_key("/f2"));
        assert!(kept.contains_key("/f3"));
    }
}

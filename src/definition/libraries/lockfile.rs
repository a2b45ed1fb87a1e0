//! `envctl.lock`: the commit each (repository, ref) of a template library resolved to, kept
//! next to the definitions so every teammate and CI run uses the same templates until someone
//! runs `envctl template update`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub const FILE_NAME: &str = "envctl.lock";

const HEADER: &str = "# envctl.lock: the commit each template library ref resolved to.\n\
# Written by envctl; commit it. `envctl template update` re-resolves the refs.\n";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    pub version: u32,
    #[serde(default)]
    pub libraries: Vec<LockEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockEntry {
    pub git: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub commit: String,
}

/// Why a lock file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{}: {message}", .path.display())]
    Malformed { path: PathBuf, message: String },
    #[error("{}: commit `{commit}` (for {git} ref `{git_ref}`) is not a full hex commit hash", .path.display())]
    BadCommit {
        path: PathBuf,
        commit: String,
        git: String,
        git_ref: String,
    },
    #[error("cannot read {}: {error}", .path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {}: {error}", .path.display())]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The lock file that belongs to a definition file: `envctl.lock` in its directory.
pub fn path_for(definition: &Path) -> PathBuf {
    super::super::values::base_dir(definition).join(FILE_NAME)
}

/// A commit names a directory of the cache (`trees/<commit>`): only a full SHA-1 or SHA-256
/// hash in lowercase hex may, so a lock file cannot point provenance at another directory.
pub fn is_full_hash(commit: &str) -> bool {
    matches!(commit.len(), 40 | 64)
        && commit
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl LockFile {
    /// Reads the lock file; a missing file is an empty lock.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let lock = serde_yaml::from_str::<Option<LockFile>>(&text)
                    .map(Option::unwrap_or_default)
                    .map_err(|e| LockError::Malformed {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    })?;
                match lock.libraries.iter().find(|e| !is_full_hash(&e.commit)) {
                    Some(bad) => Err(LockError::BadCommit {
                        path: path.to_path_buf(),
                        commit: bad.commit.escape_debug().to_string(),
                        git: bad.git.clone(),
                        git_ref: bad.git_ref.clone(),
                    }),
                    None => Ok(lock),
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(LockError::Read {
                path: path.to_path_buf(),
                error,
            }),
        }
    }

    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let mut sorted = self.clone();
        sorted.version = 1;
        sorted
            .libraries
            .sort_by(|a, b| (&a.git, &a.git_ref).cmp(&(&b.git, &b.git_ref)));
        // Plain data of strings and numbers: serializing it cannot fail.
        let body = serde_yaml::to_string(&sorted).unwrap_or_default();
        let tmp = path.with_extension(format!("lock.tmp-{}", std::process::id()));
        std::fs::write(&tmp, format!("{HEADER}{body}"))
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|error| LockError::Write {
                path: path.to_path_buf(),
                error,
            })
    }

    pub fn commit(&self, git: &str, git_ref: &str) -> Option<&str> {
        self.libraries
            .iter()
            .find(|e| e.git == git && e.git_ref == git_ref)
            .map(|e| e.commit.as_str())
    }

    /// Records a resolution; returns whether the lock changed.
    pub fn set(&mut self, git: &str, git_ref: &str, commit: &str) -> bool {
        match self
            .libraries
            .iter_mut()
            .find(|e| e.git == git && e.git_ref == git_ref)
        {
            Some(e) if e.commit == commit => false,
            Some(e) => {
                e.commit = commit.to_string();
                true
            }
            None => {
                self.libraries.push(LockEntry {
                    git: git.to_string(),
                    git_ref: git_ref.to_string(),
                    commit: commit.to_string(),
                });
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut lock = LockFile::read(&path).unwrap();
        assert!(lock.libraries.is_empty());
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        assert!(lock.set("file:///x", "v1", &a));
        assert!(!lock.set("file:///x", "v1", &a));
        assert!(lock.set("file:///x", "v1", &b));
        lock.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# envctl.lock"), "{text}");
        let back = LockFile::read(&path).unwrap();
        assert_eq!(back.commit("file:///x", "v1"), Some(b.as_str()));
        assert_eq!(back.commit("file:///x", "v2"), None);
    }

    #[test]
    fn only_full_hex_commits_are_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        for bad in [
            "../../x",
            "abc1234",
            "ABCDEF0123456789ABCDEF0123456789ABCDEF01",
            "",
        ] {
            std::fs::write(
                &path,
                format!("version: 1\nlibraries:\n- git: file:///x\n  ref: v1\n  commit: '{bad}'\n"),
            )
            .unwrap();
            let err = LockFile::read(&path).unwrap_err().to_string();
            assert!(err.contains("not a full hex commit hash"), "{bad}: {err}");
        }
        for good in ["0123456789abcdef0123456789abcdef01234567", &"f".repeat(64)] {
            std::fs::write(
                &path,
                format!(
                    "version: 1\nlibraries:\n- git: file:///x\n  ref: v1\n  commit: '{good}'\n"
                ),
            )
            .unwrap();
            assert!(LockFile::read(&path).is_ok(), "{good}");
        }
    }
}

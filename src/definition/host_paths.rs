//! Host paths a definition names (bind sources, build contexts, `from_file` secrets) are judged
//! by where they really lead, never by their text: each is resolved in full (every symlink
//! followed) when the definition loads, the resolved path is what the engine gets, and it is
//! checked again right before it is used, so a symlink swapped in meanwhile is refused.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Why a host path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPathError {
    #[error("{} cannot be resolved ({reason})", path.display())]
    Unresolvable { path: PathBuf, reason: String },
    #[error("{} now leads to {} (a symlink was put in its way after the definition was checked)", path.display(), now.display())]
    Changed { path: PathBuf, now: PathBuf },
}

/// `path` with every symlink and `..` resolved; the path must exist.
pub fn resolve(path: &Path) -> Result<PathBuf, HostPathError> {
    path.canonicalize()
        .map_err(|e| HostPathError::Unresolvable {
            path: path.to_path_buf(),
            reason: describe(&e),
        })
}

/// Like `resolve`, but a file that does not exist yet (a secret written later) resolves to its
/// resolved parent joined with its name. Any other failure (a directory that cannot be read,
/// a symlink loop) is an error: such a path is never judged by its text.
pub fn resolve_maybe_missing(path: &Path) -> Result<PathBuf, HostPathError> {
    match path.canonicalize() {
        Ok(real) => Ok(real),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                return Err(HostPathError::Unresolvable {
                    path: path.to_path_buf(),
                    reason: describe(&e),
                });
            };
            // A dangling symlink is "not found" too: it is refused, not followed later.
            if path.symlink_metadata().is_ok() {
                return Err(HostPathError::Unresolvable {
                    path: path.to_path_buf(),
                    reason: "a symlink to nothing".into(),
                });
            }
            Ok(resolve_maybe_missing(parent)?.join(name))
        }
        Err(e) => Err(HostPathError::Unresolvable {
            path: path.to_path_buf(),
            reason: describe(&e),
        }),
    }
}

/// Checks, right before use, that the resolved `path` still leads to itself. A path that
/// no longer exists passes: using it fails on its own with a clear message.
pub fn verify_unchanged(path: &Path) -> Result<(), HostPathError> {
    match resolve_maybe_missing(path) {
        Ok(now) if now == path => Ok(()),
        Ok(now) => Err(HostPathError::Changed {
            path: path.to_path_buf(),
            now,
        }),
        Err(HostPathError::Unresolvable { reason, .. }) if reason == "a symlink to nothing" => {
            Err(HostPathError::Changed {
                path: path.to_path_buf(),
                now: std::fs::read_link(path).unwrap_or_default(),
            })
        }
        Err(e) => Err(e),
    }
}

/// Whether the resolved `path` lies in one of the resolved `roots`.
pub fn inside_any(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| path.starts_with(root))
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        ErrorKind::NotFound => "it does not exist".into(),
        ErrorKind::PermissionDenied => "permission denied on the way".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_swapped_in_symlink_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let real = resolve(dir.path()).unwrap();
        let data = real.join("data");
        std::fs::create_dir(&data).unwrap();
        let resolved = resolve(&data).unwrap();
        assert_eq!(resolved, data);
        assert_eq!(verify_unchanged(&resolved), Ok(()));
        std::fs::remove_dir(&data).unwrap();
        std::os::unix::fs::symlink("/", &data).unwrap();
        assert!(
            matches!(verify_unchanged(&resolved), Err(HostPathError::Changed { ref now, .. }) if now == Path::new("/")),
            "{:?}",
            verify_unchanged(&resolved)
        );
    }

    #[test]
    fn missing_files_resolve_through_their_parent_but_dangling_links_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let real = resolve(dir.path()).unwrap();
        assert_eq!(
            resolve_maybe_missing(&real.join("later/secret")).unwrap(),
            real.join("later/secret")
        );
        assert!(resolve(&real.join("nope")).is_err());
        std::os::unix::fs::symlink("/nonexistent-target", real.join("dangling")).unwrap();
        assert!(resolve_maybe_missing(&real.join("dangling")).is_err());
        assert!(verify_unchanged(&real.join("dangling")).is_err());
    }
}

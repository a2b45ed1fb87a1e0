//! Host paths from Compose (relative to the project) rewritten for the definition's directory.

use std::path::{Component, Path, PathBuf};

/// `path` made absolute against `base` and with `.`/`..` removed, without touching the disk.
pub fn absolute(base: &Path, path: &str) -> PathBuf {
    let joined = if let Some(rest) = path.strip_prefix("~/") {
        dirs::home_dir().unwrap_or_default().join(rest)
    } else {
        let base = if base.is_absolute() {
            base.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(base)
        };
        base.join(path)
    };
    normalise(&joined)
}

pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `target` relative to `from` (both absolute), with `..` where needed: `../conf`.
pub fn relative(from: &Path, target: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = target.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    match parts.first().map(String::as_str) {
        None => ".".into(),
        Some("..") => parts.join("/"),
        Some(_) => format!("./{}", parts.join("/")),
    }
}

/// How the definition writes a host path: relative to its directory when the path is in the
/// project, absolute (or `~/`) as Compose wrote it otherwise.
pub fn for_definition(written: &str, absolute: &Path, project: &Path, out_dir: &Path) -> String {
    if written.starts_with('/') || written.starts_with("~/") || !absolute.starts_with(project) {
        written.to_string()
    } else {
        relative(out_dir, absolute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_out_of_environments() {
        let out = Path::new("/p/environments");
        assert_eq!(relative(out, Path::new("/p/conf")), "../conf");
        assert_eq!(relative(out, Path::new("/p/environments/x")), "./x");
        assert_eq!(relative(out, Path::new("/p/environments")), ".");
        assert_eq!(absolute(Path::new("/p"), "./a/../b"), PathBuf::from("/p/b"));
    }
}

//! What a build context holds: its files in a stable order, without what `.dockerignore`
//! leaves out. The archive sent to the engine and the digest that decides a rebuild both come
//! from this one walk, so a file that is ignored neither reaches the build nor triggers one.

use std::path::{Path, PathBuf};

/// One entry of the context, `path` relative to it with `/` separators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextEntry {
    pub path: String,
    pub absolute: PathBuf,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    /// A regular file with its permission bits.
    File {
        mode: u32,
    },
    /// A symlink (archived as one, never followed) and its target.
    Symlink(PathBuf),
}

/// Every entry of `context` that `.dockerignore` keeps, sorted by path. The Dockerfile and
/// `.dockerignore` itself are always kept, as the Docker CLI does.
pub fn walk(context: &Path, dockerfile: &str) -> std::io::Result<Vec<ContextEntry>> {
    let ignore = match std::fs::read_to_string(context.join(".dockerignore")) {
        Ok(text) => Ignore::parse(&text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ignore::default(),
        Err(e) => return Err(e),
    };
    let dockerfile = clean(dockerfile);
    let mut entries = Vec::new();
    walk_dir(context, "", &ignore, &dockerfile, &mut entries)?;
    Ok(entries)
}

fn walk_dir(
    dir: &Path,
    prefix: &str,
    ignore: &Ignore,
    dockerfile: &str,
    out: &mut Vec<ContextEntry>,
) -> std::io::Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    children.sort_by_key(|e| e.file_name());
    for child in children {
        let name = child.file_name().to_string_lossy().into_owned();
        let path = format!("{prefix}{name}");
        let absolute = child.path();
        let meta = std::fs::symlink_metadata(&absolute)?;
        let always = path == dockerfile || path == ".dockerignore";
        let ignored = !always && ignore.excludes(&path);
        if meta.is_dir() {
            // An excluded directory is skipped whole unless a `!` pattern may re-include
            // something below it.
            if ignored && !ignore.has_exceptions() {
                continue;
            }
            if !ignored {
                out.push(ContextEntry {
                    path: path.clone(),
                    absolute: absolute.clone(),
                    kind: EntryKind::Dir,
                });
            }
            walk_dir(&absolute, &format!("{path}/"), ignore, dockerfile, out)?;
            continue;
        }
        if ignored {
            continue;
        }
        let kind = if meta.file_type().is_symlink() {
            EntryKind::Symlink(std::fs::read_link(&absolute)?)
        } else {
            EntryKind::File {
                mode: permission_bits(&meta),
            }
        };
        out.push(ContextEntry {
            path,
            absolute,
            kind,
        });
    }
    Ok(())
}

#[cfg(unix)]
fn permission_bits(meta: &std::fs::Metadata) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777
}

#[cfg(not(unix))]
fn permission_bits(_: &std::fs::Metadata) -> u32 {
    0o644
}

/// `./a//b/` -> `a/b`, as Docker cleans patterns and paths.
fn clean(path: &str) -> String {
    path.split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// `.dockerignore` rules: globs (`*`, `?`, `[...]`, `**`), `!` exceptions, the last matching
/// rule wins, and a rule that matches a directory matches everything below it.
#[derive(Debug, Default)]
pub struct Ignore {
    rules: Vec<(bool, String)>,
}

impl Ignore {
    pub fn parse(text: &str) -> Self {
        let rules = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| match l.strip_prefix('!') {
                Some(rest) => (false, clean(rest.trim())),
                None => (true, clean(l)),
            })
            .filter(|(_, p)| !p.is_empty())
            .collect();
        Self { rules }
    }

    fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|(exclude, _)| !exclude)
    }

    pub fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for (exclude, pattern) in &self.rules {
            if matches_or_parent(pattern, path) {
                excluded = *exclude;
            }
        }
        excluded
    }
}

fn matches_or_parent(pattern: &str, path: &str) -> bool {
    if glob(pattern.as_bytes(), path.as_bytes()) {
        return true;
    }
    path.match_indices('/')
        .any(|(i, _)| glob(pattern.as_bytes(), &path.as_bytes()[..i]))
}

/// Go's `filepath.Match` plus `**` (any number of directories), as Docker's matcher.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p {
        [] => s.is_empty(),
        [b'*', b'*', rest @ ..] => {
            // `**` matches any run of characters, separators included; `**/x` also matches `x`.
            if let Some(after) = rest.strip_prefix(b"/") {
                if glob(after, s) {
                    return true;
                }
            }
            (0..=s.len()).any(|i| glob(rest, &s[i..]))
        }
        [b'*', rest @ ..] => {
            let limit = s.iter().position(|&c| c == b'/').unwrap_or(s.len());
            (0..=limit).any(|i| glob(rest, &s[i..]))
        }
        [b'?', rest @ ..] => matches!(s, [c, tail @ ..] if *c != b'/' && glob(rest, tail)),
        [b'[', rest @ ..] => match (class(rest, s.first().copied()), s) {
            (Some((true, after)), [_, tail @ ..]) => glob(after, tail),
            _ => false,
        },
        [b'\\', c, rest @ ..] => matches!(s, [d, tail @ ..] if d == c && glob(rest, tail)),
        [c, rest @ ..] => matches!(s, [d, tail @ ..] if d == c && glob(rest, tail)),
    }
}

/// A `[...]` class against `c`: whether it matched and the pattern after `]`.
fn class(p: &[u8], c: Option<u8>) -> Option<(bool, &[u8])> {
    let c = c.filter(|c| *c != b'/')?;
    let (negated, mut p) = match p {
        [b'^' | b'!', rest @ ..] => (true, rest),
        _ => (false, p),
    };
    let mut matched = false;
    let mut first = true;
    loop {
        match p {
            [] => return None,
            [b']', rest @ ..] if !first => return Some((matched != negated, rest)),
            [lo, b'-', hi, rest @ ..] if *hi != b']' => {
                matched |= (*lo..=*hi).contains(&c);
                p = rest;
            }
            [x, rest @ ..] => {
                matched |= *x == c;
                p = rest;
            }
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_docker() {
        for (pattern, path, want) in [
            ("*.log", "a.log", true),
            ("*.log", "dir/a.log", false),
            ("**/*.log", "dir/sub/a.log", true),
            ("**/*.log", "a.log", true),
            ("dir/**", "dir/x/y", true),
            ("d?r", "dir", true),
            ("d?r", "d/r", false),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("node_modules", "node_modules", true),
        ] {
            assert_eq!(
                glob(pattern.as_bytes(), path.as_bytes()),
                want,
                "{pattern} {path}"
            );
        }
    }

    #[test]
    fn last_rule_wins_and_directories_cover_their_contents() {
        let ignore = Ignore::parse("# comment\n*.md\n!README.md\n/build\n");
        assert!(ignore.excludes("notes.md"));
        assert!(!ignore.excludes("README.md"));
        assert!(ignore.excludes("build/out.bin"));
        assert!(!ignore.excludes("src/main.rs"));
    }

    #[test]
    fn the_walk_is_sorted_skips_ignored_files_and_keeps_the_dockerfile() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::create_dir_all(root.join("target/deep")).unwrap();
        std::fs::write(root.join("src/b.txt"), "b").unwrap();
        std::fs::write(root.join("src/a.txt"), "a").unwrap();
        std::fs::write(root.join("target/deep/x"), "x").unwrap();
        std::fs::write(root.join("Dockerfile"), "FROM x").unwrap();
        std::fs::write(
            root.join(".dockerignore"),
            "target\nDockerfile\n.dockerignore\n",
        )
        .unwrap();
        let paths: Vec<String> = walk(root, "./Dockerfile")
            .unwrap()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(
            paths,
            [
                ".dockerignore",
                "Dockerfile",
                "src",
                "src/a.txt",
                "src/b.txt"
            ]
        );
    }
}

//! Template libraries: `libraries:` in a definition names directories or git repositories of
//! templates, addressed as `LIBRARY/NAME`. Git refs are resolved once, pinned in `envctl.lock`
//! and served from the cache afterwards, so loading works offline once a commit is cached.

pub mod git;
pub mod lockfile;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use self::git::GitError;
use self::lockfile::LockFile;
use super::diagnostics::Diagnostic;
use super::templates::{self, LookupError, TemplateInfo};
use super::values::relative_to;

/// Whether to use the commits in the lock file or re-resolve every ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Locked,
    Update,
}

/// Where a library comes from, as declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Dir(PathBuf),
    Git {
        url: String,
        git_ref: String,
        dir: Option<String>,
    },
}

/// One `libraries:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    pub source: Source,
}

/// The commit a git library is pinned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub url: String,
    pub git_ref: String,
    pub commit: String,
}

impl Pin {
    pub fn short(&self) -> &str {
        &self.commit[..self.commit.len().min(7)]
    }
}

/// A library ready to serve templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Library {
    pub name: String,
    /// The directory holding `<template>.yaml` files.
    pub root: PathBuf,
    /// The whole library (the extracted commit, or the declared directory): no file of it
    /// is read through a symlink that leads out of this tree.
    pub tree: PathBuf,
    pub pin: Option<Pin>,
}

impl Library {
    /// The file of template `name`, refused when a symlink leads it out of the library.
    pub fn find(&self, name: &str) -> Result<PathBuf, LookupError> {
        let found = templates::find(name, std::slice::from_ref(&self.root))?;
        self.confine(name, &found)?;
        Ok(found)
    }

    /// Every template of the library; files a symlink leads out of it are problems, unread.
    pub fn list(&self) -> Vec<Result<TemplateInfo, Vec<Diagnostic>>> {
        templates::list_where(std::slice::from_ref(&self.root), |name, path| {
            self.confine(name, path)
                .map_err(|e| vec![Diagnostic::new(path, format!("{}: {e}", self.describe()))])
        })
    }

    fn confine(&self, name: &str, file: &Path) -> Result<(), LookupError> {
        let tree = self
            .tree
            .canonicalize()
            .unwrap_or_else(|_| self.tree.clone());
        match file.canonicalize() {
            Ok(real) if real.starts_with(&tree) => Ok(()),
            Ok(real) => Err(LookupError::LeavesLibrary {
                name: name.to_string(),
                target: real,
            }),
            Err(_) => Err(LookupError::LeavesLibrary {
                name: name.to_string(),
                target: file.to_path_buf(),
            }),
        }
    }

    /// What the `io.envctl.template` label records: `LIB/NAME@<short commit>` for git
    /// libraries, `LIB/NAME` for directories.
    pub fn label(&self, template: &str) -> String {
        match &self.pin {
            Some(pin) => format!("{}/{template}@{}", self.name, pin.short()),
            None => format!("{}/{template}", self.name),
        }
    }

    /// "library `platform` (ref `v2`, commit 1a2b3c4)", for messages.
    pub fn describe(&self) -> String {
        match &self.pin {
            Some(pin) => format!(
                "library `{}` (ref `{}`, commit {})",
                self.name,
                pin.git_ref,
                pin.short()
            ),
            None => format!("library `{}` ({})", self.name, self.root.display()),
        }
    }
}

/// A problem with one library declaration: the key under `libraries.<name>` it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub library: String,
    pub key: Option<&'static str>,
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    fn new(library: &str, key: Option<&'static str>, message: String) -> Self {
        Self {
            library: library.to_string(),
            key,
            message,
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Reads the `libraries:` mapping. `base_of(name)` is the directory of the file that declared
/// that entry (relative `path:`s are relative to it).
pub fn declarations(
    value: Option<&Value>,
    base_of: impl Fn(&str) -> PathBuf,
) -> (Vec<Declared>, Vec<Problem>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let map = match value {
        None | Some(Value::Null) => return (out, problems),
        Some(Value::Mapping(m)) => m,
        Some(_) => {
            problems.push(Problem::new(
                "",
                None,
                "`libraries` must be a mapping of NAME: { git: URL, ref: REF } or NAME: { path: DIR }".into(),
            ));
            return (out, problems);
        }
    };
    for (key, entry) in map {
        let Some(name) = key.as_str() else { continue };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            problems.push(Problem::new(
                name,
                None,
                format!("library name `{name}` must be letters, digits, `-` or `_`"),
            ));
            continue;
        }
        let get = |k: &str| entry.as_mapping().and_then(|m| m.get(k));
        let text = |k: &'static str, problems: &mut Vec<Problem>| match get(k) {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_str() {
                Some(s) if !s.trim().is_empty() => Some(s.to_string()),
                _ => {
                    problems.push(Problem::new(
                        name,
                        Some(k),
                        format!("library `{name}`: `{k}` must be a non-empty string"),
                    ));
                    None
                }
            },
        };
        if !entry.is_mapping() {
            problems.push(
                Problem::new(name, None, format!("library `{name}` must be a mapping"))
                    .hint("write `{ git: URL, ref: v1 }` or `{ path: ../templates }`"),
            );
            continue;
        }
        let path = text("path", &mut problems);
        let url = text("git", &mut problems);
        let git_ref = text("ref", &mut problems);
        let dir = text("dir", &mut problems);
        if let Some(d) = &dir {
            if d.split('/').any(|p| p == "..") || d.starts_with('/') {
                problems.push(Problem::new(
                    name,
                    Some("dir"),
                    format!("library `{name}`: `dir` must be a relative path inside the library"),
                ));
                continue;
            }
        }
        let source = match (path, url, git_ref) {
            (Some(_), Some(_), _) => {
                problems.push(Problem::new(
                    name,
                    None,
                    format!("library `{name}` has both `path` and `git`; choose one"),
                ));
                continue;
            }
            (Some(path), None, git_ref) => {
                if git_ref.is_some() {
                    problems.push(Problem::new(
                        name,
                        Some("ref"),
                        format!("library `{name}`: `ref` only applies to `git` libraries"),
                    ));
                }
                let root = relative_to(&base_of(name), &path);
                Source::Dir(match &dir {
                    Some(d) => root.join(d),
                    None if root.join("templates").is_dir() => root.join("templates"),
                    None => root,
                })
            }
            (None, Some(url), Some(git_ref)) => {
                if git_ref.starts_with('-') {
                    problems.push(Problem::new(
                        name,
                        Some("ref"),
                        format!("library `{name}`: ref `{git_ref}` is not a tag, branch or commit"),
                    ));
                    continue;
                }
                Source::Git { url, git_ref, dir }
            }
            (None, Some(_), None) => {
                problems.push(
                    Problem::new(
                        name,
                        None,
                        format!("library `{name}` needs a `ref` (a tag, branch or commit)"),
                    )
                    .hint("pin a version, e.g. `ref: v1`"),
                );
                continue;
            }
            (None, None, _) => {
                problems.push(Problem::new(
                    name,
                    None,
                    format!("library `{name}` needs `git: URL` (with `ref`) or `path: DIR`"),
                ));
                continue;
            }
        };
        out.push(Declared {
            name: name.to_string(),
            source,
        });
    }
    (out, problems)
}

/// Resolves every declared library: directories as they are, git libraries at their locked
/// commit (fetched only when the commit is not cached), or, when unlocked or updating, at the
/// commit their ref names now. The lock file is rewritten when a resolution changed it.
pub fn resolve(
    declared: &[Declared],
    lock_path: &Path,
    mode: Mode,
) -> (BTreeMap<String, Library>, Vec<Problem>) {
    let mut libraries = BTreeMap::new();
    let mut problems = Vec::new();
    let needs_lock = declared
        .iter()
        .any(|d| matches!(d.source, Source::Git { .. }));
    let mut lock = if needs_lock {
        match LockFile::read(lock_path) {
            Ok(lock) => lock,
            Err(message) => {
                problems.push(
                    Problem::new("", None, format!("broken lock file: {message}"))
                        .hint("fix or delete it, then run `envctl template update`"),
                );
                return (libraries, problems);
            }
        }
    } else {
        LockFile::default()
    };
    let mut changed = false;
    let cache = git::cache_root();
    // One fetch per repository per run, however many libraries or refs use it.
    let mut fetched: BTreeMap<String, Result<(), GitError>> = BTreeMap::new();
    for d in declared {
        match &d.source {
            Source::Dir(root) => {
                if !root.is_dir() {
                    problems.push(Problem::new(
                        &d.name,
                        Some("path"),
                        format!(
                            "library `{}`: directory {} does not exist",
                            d.name,
                            root.display()
                        ),
                    ));
                    continue;
                }
                libraries.insert(
                    d.name.clone(),
                    Library {
                        name: d.name.clone(),
                        root: root.clone(),
                        tree: root.clone(),
                        pin: None,
                    },
                );
            }
            Source::Git { url, git_ref, dir } => {
                let repo = cache.join(git::repo_key(url));
                let mut fetch = || {
                    fetched
                        .entry(url.clone())
                        .or_insert_with(|| git::fetch(url, &repo))
                        .clone()
                };
                let locked = match mode {
                    Mode::Locked => lock.commit(url, git_ref).map(str::to_string),
                    Mode::Update => None,
                };
                let commit = match locked {
                    Some(commit) => {
                        let tree = repo.with_extension("trees").join(&commit);
                        if !tree.is_dir() && !git::has_commit(&repo, &commit) {
                            if let Err(e) = fetch() {
                                problems.push(unreachable(&d.name, url, git_ref, &e));
                                continue;
                            }
                            if !git::has_commit(&repo, &commit) {
                                problems.push(
                                    Problem::new(
                                        &d.name,
                                        Some("ref"),
                                        format!(
                                            "library `{}`: commit {commit} locked for ref `{git_ref}` is not in {url}",
                                            d.name
                                        ),
                                    )
                                    .hint("the history was rewritten? run `envctl template update` to re-resolve the ref"),
                                );
                                continue;
                            }
                        }
                        commit
                    }
                    None => {
                        if let Err(e) = fetch() {
                            problems.push(unreachable(&d.name, url, git_ref, &e));
                            continue;
                        }
                        match git::resolve_ref(&repo, git_ref) {
                            Some(commit) => {
                                changed |= lock.set(url, git_ref, &commit);
                                commit
                            }
                            None => {
                                problems.push(
                                    Problem::new(
                                        &d.name,
                                        Some("ref"),
                                        format!(
                                            "library `{}`: ref `{git_ref}` not found in {url}",
                                            d.name
                                        ),
                                    )
                                    .hint(
                                        "use an existing tag, branch or commit of the repository",
                                    ),
                                );
                                continue;
                            }
                        }
                    }
                };
                let tree = repo.with_extension("trees").join(&commit);
                if let Err(e) = git::extract(&repo, &commit, &tree) {
                    problems.push(Problem::new(
                        &d.name,
                        Some("ref"),
                        format!(
                            "library `{}`: cannot check out ref `{git_ref}` ({commit}): {e}",
                            d.name
                        ),
                    ));
                    continue;
                }
                let root = match dir {
                    Some(dir) => tree.join(dir),
                    None if tree.join("templates").is_dir() => tree.join("templates"),
                    None => tree.clone(),
                };
                libraries.insert(
                    d.name.clone(),
                    Library {
                        name: d.name.clone(),
                        root,
                        tree,
                        pin: Some(Pin {
                            url: url.clone(),
                            git_ref: git_ref.clone(),
                            commit,
                        }),
                    },
                );
            }
        }
    }
    if changed {
        if let Err(err) = lock.write(lock_path) {
            problems.push(Problem::new("", None, err.to_string()));
        }
    }
    (libraries, problems)
}

fn unreachable(name: &str, url: &str, git_ref: &str, e: &GitError) -> Problem {
    Problem::new(
        name,
        Some("git"),
        format!("library `{name}`: cannot fetch {url} (for ref `{git_ref}`): {e}"),
    )
    .hint("check the URL and your access; once a ref is locked and cached, envctl works offline")
}

/// Splits `LIB/NAME` when `LIB` is a declared library.
pub fn split<'a, 'l>(
    template: &'a str,
    libraries: &'l BTreeMap<String, Library>,
) -> Option<(&'l Library, &'a str)> {
    let (lib, rest) = template.split_once('/')?;
    libraries.get(lib).map(|l| (l, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn reads_declarations_and_reports_bad_ones() {
        let v = yaml(
            "platform: { git: \"file:///x\", ref: v1 }\nlocal: { path: ../tpl }\nnoref: { git: \"file:///y\" }\nboth: { git: a, path: b, ref: c }\n\"bad name\": { path: x }\n",
        );
        let (declared, problems) = declarations(Some(&v), |_| PathBuf::from("/defs"));
        assert_eq!(
            declared,
            [
                Declared {
                    name: "platform".into(),
                    source: Source::Git {
                        url: "file:///x".into(),
                        git_ref: "v1".into(),
                        dir: None
                    }
                },
                Declared {
                    name: "local".into(),
                    source: Source::Dir(PathBuf::from("/tpl"))
                },
            ]
        );
        let messages: Vec<_> = problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "library `noref` needs a `ref` (a tag, branch or commit)",
                "library `both` has both `path` and `git`; choose one",
                "library name `bad name` must be letters, digits, `-` or `_`",
            ]
        );
    }

    #[test]
    fn labels_name_the_commit_of_git_libraries() {
        let lib = Library {
            name: "platform".into(),
            root: PathBuf::from("/c"),
            tree: PathBuf::from("/c"),
            pin: Some(Pin {
                url: "u".into(),
                git_ref: "v1".into(),
                commit: "0123456789abcdef".into(),
            }),
        };
        assert_eq!(lib.label("redis"), "platform/redis@0123456");
        let local = Library { pin: None, ..lib };
        assert_eq!(local.label("redis"), "platform/redis");
    }
}

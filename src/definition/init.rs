//! `init:` and `sql_client:` of a service → `model::Init`. The files the steps name are
//! hashed here (their digests go into the spec hash; the bytes are streamed when a step runs),
//! and only from inside the definition's directory: a seed copies host files into a
//! container, so it gets no more reach than the definition's own tree.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::format::{InitStepDef, ServiceDef};
use super::locate::Seg;
use super::problem::Problem;
use super::values::{relative_to, scalar_text, split_words};
use crate::model::{Init, InitStep, SeedFile, SeedSource};

/// Resolves the seeding of one service; every problem has its path inside the service.
pub(super) fn resolve(def: &ServiceDef, base: &Path) -> (Init, Vec<Problem>) {
    let mut reader = Reader {
        base,
        problems: Vec::new(),
    };
    let mut init = Init {
        steps: Vec::new(),
        sql_client: def.sql_client.clone(),
    };
    if init
        .sql_client
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        reader.problem(vec![Seg::key("sql_client")], "`sql_client` is empty", None);
    }
    for (i, step) in def.init.iter().flatten().enumerate() {
        let at = vec![Seg::key("init"), Seg::Index(i)];
        if let Some(step) = reader.step(step, at) {
            init.steps.push(step);
        }
    }
    let has_sql = init.steps.iter().any(|s| matches!(s, InitStep::Sql(_)));
    if has_sql && init.sql_client.is_none() {
        reader.problem(
            vec![Seg::key("init")],
            "`sql:` steps need `sql_client:`, the command in the container that reads SQL on its standard input",
            Some("use `template: mysql` (it sets one), or add e.g. `sql_client: mariadb -uroot \"$DB\"`"),
        );
    }
    (init, reader.problems)
}

struct Reader<'a> {
    base: &'a Path,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, path: Vec<Seg>, message: impl Into<String>, hint: Option<&str>) {
        self.problems.push(Problem {
            path,
            message: message.into(),
            hint: hint.map(str::to_string),
        });
    }

    fn step(&mut self, def: &InitStepDef, at: Vec<Seg>) -> Option<InitStep> {
        let given = [def.sql.is_some(), def.exec.is_some(), def.copy.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            self.problem(
                at,
                "an `init:` step needs exactly one of `sql`, `exec`, `copy`",
                Some("write `- sql: seed/schema.sql`, `- exec: [cmd, arg]` or `- copy: { from: ./dir, to: /path }`"),
            );
            return None;
        }
        let key = |k: &str| {
            let mut path = at.clone();
            path.push(Seg::key(k));
            path
        };
        if let Some(sql) = &def.sql {
            let path = self.inside_base(sql, key("sql"))?;
            let file = self.read(&path, sql.clone(), key("sql"))?;
            return Some(InitStep::Sql(file));
        }
        if let Some(exec) = &def.exec {
            return self.exec(exec, key("exec")).map(InitStep::Exec);
        }
        let copy = def.copy.as_ref()?;
        if !copy.to.starts_with('/') {
            self.problem(
                key("copy"),
                format!(
                    "`to: {}` must be an absolute path in the container",
                    copy.to
                ),
                None,
            );
            return None;
        }
        let from = self.inside_base(&copy.from, key("copy"))?;
        let files = self.read_tree(&from, key("copy"))?;
        Some(InitStep::Copy {
            to: copy.to.clone(),
            files,
        })
    }

    fn exec(&mut self, value: &Value, at: Vec<Seg>) -> Option<Vec<String>> {
        let words = match value {
            Value::Sequence(items) => items.iter().map(scalar_text).collect(),
            Value::String(text) => split_words(text),
            _ => None,
        };
        match words {
            Some(words) if !words.is_empty() => Some(words),
            _ => {
                self.problem(
                    at,
                    "`exec` must be a non-empty list of strings or a string (quotes closed)",
                    None,
                );
                None
            }
        }
    }

    /// The path, resolved against the definition, when it exists inside its directory.
    fn inside_base(&mut self, written: &str, at: Vec<Seg>) -> Option<PathBuf> {
        let path = relative_to(self.base, written);
        let resolved = match (path.canonicalize(), self.base.canonicalize()) {
            (Ok(path), Ok(base)) => (path, base),
            (Err(err), _) | (_, Err(err)) => {
                self.problem(at, format!("cannot read {}: {err}", path.display()), None);
                return None;
            }
        };
        if !resolved.0.starts_with(&resolved.1) {
            self.problem(
                at,
                format!(
                    "{written} is outside the definition's directory {}",
                    resolved.1.display()
                ),
                Some("seed files must live beside the definition; move or copy them there"),
            );
            return None;
        }
        Some(resolved.0)
    }

    fn read(&mut self, path: &Path, name: String, at: Vec<Seg>) -> Option<SeedFile> {
        match hash_file(path) {
            Ok((size, sha256, mode)) => Some(SeedFile {
                name,
                source: SeedSource::Path(path.to_path_buf()),
                size,
                sha256,
                mode,
            }),
            Err(err) => {
                self.problem(at, format!("cannot read {}: {err}", path.display()), None);
                None
            }
        }
    }

    /// A file, or every file under a directory (sorted, symlinks refused), named relative
    /// to what `from` names: a file keeps its own name, a directory's contents go under `to`.
    fn read_tree(&mut self, from: &Path, at: Vec<Seg>) -> Option<Vec<SeedFile>> {
        if from.is_file() {
            let name = from.file_name()?.to_string_lossy().into_owned();
            return self.read(from, name, at).map(|f| vec![f]);
        }
        let mut files = Vec::new();
        let mut pending = vec![from.to_path_buf()];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(err) => {
                    self.problem(at, format!("cannot read {}: {err}", dir.display()), None);
                    return None;
                }
            };
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                let kind = std::fs::symlink_metadata(&path).map(|m| m.file_type());
                match kind {
                    Ok(kind) if kind.is_dir() => pending.push(path),
                    Ok(kind) if kind.is_file() => {
                        let name = path.strip_prefix(from).ok()?.to_string_lossy().into_owned();
                        files.push(self.read(&path, name, at.clone())?);
                    }
                    _ => {
                        self.problem(
                            at,
                            format!(
                                "{} is not a regular file or directory (symlinks are not copied)",
                                path.display()
                            ),
                            None,
                        );
                        return None;
                    }
                }
            }
        }
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Some(files)
    }
}

/// The size, SHA-256 (hex) and mode of a regular file, read in blocks: a seed may be a dump of
/// gigabytes, which is never held in memory.
fn hash_file(path: &Path) -> std::io::Result<(u64, String, u32)> {
    use sha2::{Digest, Sha256};
    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let sha256 = super::seed_digests::sha256(path, &meta, || {
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(hex::encode(hasher.finalize()))
    })?;
    Ok((meta.len(), sha256, mode_of(&meta)))
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_in(dir: &Path, yaml: &str) -> (Init, Vec<String>) {
        let def: ServiceDef = serde_yaml::from_str(yaml).unwrap();
        let (init, problems) = resolve(&def, dir);
        (init, problems.into_iter().map(|p| p.message).collect())
    }

    #[test]
    fn reads_sql_exec_and_copy_steps_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("seed/conf/sub")).unwrap();
        std::fs::write(
            dir.path().join("seed/schema.sql"),
            "CREATE TABLE t (i INT);",
        )
        .unwrap();
        std::fs::write(dir.path().join("seed/conf/a.txt"), "a").unwrap();
        std::fs::write(dir.path().join("seed/conf/sub/b.txt"), "b").unwrap();
        let (init, problems) = resolve_in(
            dir.path(),
            "sql_client: mariadb\ninit:\n  - sql: seed/schema.sql\n  - exec: touch /x\n  - copy: { from: seed/conf, to: /etc/app }\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(init.steps.len(), 3);
        assert!(matches!(&init.steps[0], InitStep::Sql(f) if f.name == "seed/schema.sql"));
        assert_eq!(
            init.steps[1],
            InitStep::Exec(vec!["touch".into(), "/x".into()])
        );
        let InitStep::Copy { to, files } = &init.steps[2] else {
            panic!()
        };
        assert_eq!(to, "/etc/app");
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "sub/b.txt"]);
    }

    #[test]
    fn refuses_files_outside_the_definition_and_sql_without_a_client() {
        let outer = tempfile::tempdir().unwrap();
        let dir = outer.path().join("def");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(outer.path().join("secret.sql"), "x").unwrap();
        let (_, problems) = resolve_in(
            &dir,
            "init:\n  - sql: ../secret.sql\n  - sql: missing.sql\n  - {}\n",
        );
        assert!(
            problems[0].contains("outside the definition's directory"),
            "{problems:?}"
        );
        assert!(problems[1].contains("cannot read"), "{problems:?}");
        assert!(problems[2].contains("exactly one of"), "{problems:?}");
        let (_, problems) = resolve_in(&dir, "init:\n  - copy: { from: ., to: rel }\n");
        assert!(problems[0].contains("absolute path"), "{problems:?}");
        std::fs::write(dir.join("a.sql"), "x").unwrap();
        let (_, problems) = resolve_in(&dir, "init:\n  - sql: a.sql\n");
        assert!(problems[0].contains("need `sql_client:`"), "{problems:?}");
    }
}

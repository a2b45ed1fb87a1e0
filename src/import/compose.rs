//! Reads Compose files and merges them as `docker compose -f a -f b` does.
//!
//! The rules follow the Compose specification's merge section (and compose-go's
//! `override/merge.go`): mappings merge key by key, later files win; sequences append;
//! `command`, `entrypoint` and `healthcheck.test` are replaced; `ports` are unique by their
//! address and `volumes` by target; `environment`, `depends_on`, `networks` and `build` are
//! normalised to mappings first so a list in one file and a mapping in another merge; `!reset`
//! removes a value and `!override` replaces it. Paths in override files are relative to the
//! first file's directory (the project directory), paths in a file named by `extends` to that
//! file's own directory. `extends` is applied after the files are merged, like Compose.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::interp::Vars;
use super::report::Findings;
use super::yaml::{self, At, Entry, Node, Value};

#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// How reports name it: the path as given (or joined from the file that named it).
    pub shown: String,
    /// The directory its relative paths are resolved against.
    pub base_dir: PathBuf,
}

#[derive(Debug)]
pub struct Project {
    pub files: Vec<SourceFile>,
    /// The first file's directory, as Compose's project directory.
    pub dir: PathBuf,
    /// The merged document.
    pub root: Node,
    pub vars: Vars,
    /// Where each service was written, in every file that wrote it.
    pub origins: BTreeMap<String, Vec<At>>,
    /// Where the services a service `extends` were written.
    pub bases: BTreeMap<String, Vec<At>>,
}

impl Project {
    pub fn shown(&self, at: At) -> &str {
        self.files.get(at.file).map_or("?", |f| f.shown.as_str())
    }

    /// The directory a relative path written at `at` is relative to.
    pub fn base_dir(&self, at: At) -> &Path {
        self.files
            .get(at.file)
            .map_or(self.dir.as_path(), |f| f.base_dir.as_path())
    }
}

/// Compose's default override file next to a single given file (`x.yml` -> `x.override.yml`).
pub fn default_override(path: &Path) -> Option<PathBuf> {
    let stem = path.file_stem()?.to_str()?;
    let ext = path.extension()?.to_str()?;
    let candidate = path.with_file_name(format!("{stem}.override.{ext}"));
    candidate.is_file().then_some(candidate)
}

fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub fn load(paths: &[PathBuf], findings: &mut Findings) -> anyhow::Result<Project> {
    let first = paths.first().context("no Compose file given")?;
    let dir = dir_of(first);
    let mut vars = Vars::default();
    // Compose reads `.env` of the project directory for interpolation.
    if let Ok(text) = std::fs::read_to_string(dir.join(".env")) {
        for (k, v, _) in super::interp::parse_env_file(&text) {
            vars.dotenv.insert(k, v);
        }
    }
    let mut project = Project {
        files: Vec::new(),
        dir: dir.clone(),
        root: Node::new(Value::Map(Vec::new()), At::default()),
        vars,
        origins: BTreeMap::new(),
        bases: BTreeMap::new(),
    };
    for path in paths {
        let index = project.files.len();
        project.files.push(SourceFile {
            path: path.clone(),
            shown: path.display().to_string(),
            base_dir: dir.clone(),
        });
        let doc = read(path, index, &mut project.vars, findings)?;
        if let Some(services) = doc.get("services").and_then(Node::as_map) {
            for s in services {
                project.origins.entry(s.key.clone()).or_default().push(s.at);
            }
        }
        let root = std::mem::replace(&mut project.root, Node::new(Value::Null, At::default()));
        project.root = merge(root, doc, &mut Vec::new()).unwrap_or_else(empty_map);
    }
    apply_extends(&mut project, findings)?;
    Ok(project)
}

fn empty_map() -> Node {
    Node::new(Value::Map(Vec::new()), At::default())
}

/// Parses one file and marks its variables.
fn read(
    path: &Path,
    index: usize,
    vars: &mut Vars,
    findings: &mut Findings,
) -> anyhow::Result<Node> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut doc = match yaml::parse(&text, index) {
        Ok(doc) => doc,
        Err(e) => bail!("{}:{e}", path.display()),
    };
    if doc.is_null() {
        doc = Node::new(
            Value::Map(Vec::new()),
            At {
                file: index,
                line: 1,
            },
        );
    }
    if doc.as_map().is_none() {
        bail!(
            "{}: a Compose file is a mapping, this is {}",
            path.display(),
            doc.kind()
        );
    }
    normalise(&mut doc);
    vars.mark_tree(&mut doc, findings);
    Ok(doc)
}

/// Rewrites the short forms that Compose merges as mappings.
fn normalise(doc: &mut Node) {
    let Some(Value::Map(services)) = doc_get_mut(doc, "services").map(|n| &mut n.value) else {
        return;
    };
    for service in services.iter_mut() {
        let Value::Map(keys) = &mut service.value.value else {
            continue;
        };
        for entry in keys.iter_mut() {
            let node = &mut entry.value;
            match (entry.key.as_str(), &node.value) {
                ("environment" | "labels", Value::Seq(items)) => {
                    let map = items
                        .iter()
                        .filter_map(|item| {
                            let text = item.as_str()?;
                            let (k, v) = match text.split_once('=') {
                                Some((k, v)) => (k, Value::Scalar(v.to_string(), false)),
                                None => (text, Value::Null),
                            };
                            Some(Entry {
                                key: k.to_string(),
                                at: item.at,
                                value: Node::new(v, item.at),
                            })
                        })
                        .collect();
                    node.value = Value::Map(map);
                }
                ("depends_on" | "networks", Value::Seq(items)) => {
                    let service_dep = entry.key == "depends_on";
                    let map = items
                        .iter()
                        .filter_map(|item| {
                            let value = if service_dep {
                                Value::Map(vec![Entry {
                                    key: "condition".into(),
                                    at: item.at,
                                    value: Node::new(
                                        Value::Scalar("service_started".into(), true),
                                        item.at,
                                    ),
                                }])
                            } else {
                                Value::Null
                            };
                            Some(Entry {
                                key: item.as_str()?.to_string(),
                                at: item.at,
                                value: Node::new(value, item.at),
                            })
                        })
                        .collect();
                    node.value = Value::Map(map);
                }
                ("build", Value::Scalar(..)) => {
                    let context = node.clone();
                    node.value = Value::Map(vec![Entry {
                        key: "context".into(),
                        at: node.at,
                        value: context,
                    }]);
                }
                ("env_file", Value::Scalar(..)) => {
                    node.value = Value::Seq(vec![node.clone()]);
                }
                _ => {}
            }
        }
    }
}

fn doc_get_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut node.value {
        Value::Map(entries) => entries
            .iter_mut()
            .find(|e| e.key == key)
            .map(|e| &mut e.value),
        _ => None,
    }
}

/// The identity of a `ports` or `volumes` entry under which later files replace earlier ones.
fn unique_key(kind: &str, item: &Node) -> Option<String> {
    match (&item.value, kind) {
        (Value::Scalar(s, _), "ports") => Some(s.clone()),
        (Value::Scalar(s, _), _) => {
            let parts: Vec<&str> = s.split(':').collect();
            Some(if parts.len() == 1 { parts[0] } else { parts[1] }.to_string())
        }
        (Value::Map(_), "ports") => Some(
            ["host_ip", "target", "published", "protocol"]
                .iter()
                .map(|k| item.get(k).and_then(Node::as_str).unwrap_or(""))
                .collect::<Vec<_>>()
                .join("|"),
        ),
        (Value::Map(_), _) => item
            .get("target")
            .and_then(Node::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// Merges `over` onto `base` at `path` (keys from `services` down); `None` removes the value.
pub fn merge(base: Node, over: Node, path: &mut Vec<String>) -> Option<Node> {
    match over.tag.as_deref() {
        Some("reset") => return None,
        Some("override") => return Some(over),
        _ => {}
    }
    let service_key = (path.len() >= 3 && path[0] == "services").then(|| path[2..].join("."));
    if let Some(key) = service_key.as_deref() {
        if matches!(key, "command" | "entrypoint" | "healthcheck.test") {
            return Some(over);
        }
    }
    match (base.value, over.value) {
        (Value::Map(mut entries), Value::Map(others)) => {
            for other in others {
                match entries.iter().position(|e| e.key == other.key) {
                    // Extension fields are replaced whole, as compose-go does.
                    Some(i) if !other.key.starts_with("x-") => {
                        let existing = entries.remove(i);
                        path.push(other.key.clone());
                        let merged = merge(existing.value, other.value, path);
                        path.pop();
                        if let Some(value) = merged {
                            entries.insert(
                                i,
                                Entry {
                                    key: other.key,
                                    at: existing.at,
                                    value,
                                },
                            );
                        }
                    }
                    Some(i) => entries[i] = other,
                    None if other.value.tag.as_deref() == Some("reset") => {}
                    None => entries.push(other),
                }
            }
            Some(Node {
                value: Value::Map(entries),
                at: base.at,
                tag: None,
            })
        }
        (Value::Seq(mut items), Value::Seq(others)) => {
            let unique = service_key
                .as_deref()
                .filter(|k| matches!(*k, "ports" | "volumes"));
            for other in others {
                let key = unique.and_then(|k| unique_key(k, &other));
                let existing = key.as_ref().and_then(|key| {
                    items
                        .iter()
                        .position(|i| unique.and_then(|k| unique_key(k, i)).as_ref() == Some(key))
                });
                match existing {
                    Some(i) => items[i] = other,
                    None => items.push(other),
                }
            }
            Some(Node {
                value: Value::Seq(items),
                at: base.at,
                tag: None,
            })
        }
        (_, value) => Some(Node {
            value,
            at: over.at,
            tag: None,
        }),
    }
}

/// Applies every service's `extends`, from other files or this project's services.
fn apply_extends(project: &mut Project, findings: &mut Findings) -> anyhow::Result<()> {
    let names: Vec<String> = services_of(&project.root)
        .iter()
        .map(|e| e.key.clone())
        .collect();
    for name in names {
        let mut chain = Vec::new();
        let service = services_of(&project.root)
            .iter()
            .find(|e| e.key == name)
            .map(|e| e.value.clone());
        let Some(service) = service else { continue };
        let resolved = extend(project, service, &name, None, &mut chain, findings)?;
        if let Some(Value::Map(services)) =
            doc_get_mut(&mut project.root, "services").map(|n| &mut n.value)
        {
            if let Some(e) = services.iter_mut().find(|e| e.key == name) {
                e.value = resolved;
            }
        }
    }
    Ok(())
}

fn services_of(root: &Node) -> &[Entry] {
    root.get("services")
        .and_then(Node::as_map)
        .unwrap_or_default()
}

/// `service` with its `extends` applied; `doc` is the file it came from when that is not the
/// merged project (a service of a file named by `extends`).
fn extend(
    project: &mut Project,
    service: Node,
    name: &str,
    doc: Option<(usize, Node)>,
    chain: &mut Vec<String>,
    findings: &mut Findings,
) -> anyhow::Result<Node> {
    let Some(spec) = service.get("extends").cloned() else {
        return Ok(service);
    };
    let at = service.entry("extends").map_or(spec.at, |e| e.at);
    let (file, base_name) = match &spec.value {
        Value::Scalar(s, _) => (None, s.clone()),
        Value::Map(_) => (
            spec.get("file").and_then(Node::as_str).map(str::to_string),
            spec.get("service")
                .and_then(Node::as_str)
                .map(str::to_string)
                .with_context(|| {
                    format!(
                        "{}:{}: `extends` needs a `service`",
                        project.shown(at),
                        at.line
                    )
                })?,
        ),
        _ => bail!(
            "{}:{}: `extends` is {}",
            project.shown(at),
            at.line,
            spec.kind()
        ),
    };
    let (base_doc, base_index) = match file {
        Some(file) => {
            let declaring = dir_of(&project.files[at.file].path);
            let path = declaring.join(&file);
            let index = match project.files.iter().position(|f| f.path == path) {
                Some(i) => i,
                None => {
                    project.files.push(SourceFile {
                        shown: path.display().to_string(),
                        base_dir: dir_of(&path),
                        path: path.clone(),
                    });
                    project.files.len() - 1
                }
            };
            let doc = read(&path, index, &mut project.vars, findings)
                .with_context(|| format!("{}:{}: extends {file}", project.shown(at), at.line))?;
            (Some(doc), index)
        }
        None => (
            doc.as_ref().map(|(_, d)| d.clone()),
            doc.as_ref().map_or(usize::MAX, |(i, _)| *i),
        ),
    };
    let key = format!("{base_index}/{base_name}");
    if chain.contains(&key) {
        bail!(
            "{}:{}: `extends` goes round in a circle: {} -> {base_name}",
            project.shown(at),
            at.line,
            chain
                .iter()
                .map(|k| k.split('/').nth(1).unwrap_or(k))
                .collect::<Vec<_>>()
                .join(" -> ")
        );
    }
    chain.push(key);
    let base = match &base_doc {
        Some(d) => services_of(d)
            .iter()
            .find(|e| e.key == base_name)
            .map(|e| (e.value.clone(), e.at)),
        None => services_of(&project.root)
            .iter()
            .find(|e| e.key == base_name)
            .map(|e| (e.value.clone(), e.at)),
    };
    let Some((base, base_at)) = base else {
        bail!(
            "{}:{}: `extends` names service `{base_name}`, which is not there",
            project.shown(at),
            at.line
        );
    };
    let base = extend(
        project,
        base,
        &base_name,
        base_doc.map(|d| (base_index, d)),
        chain,
        findings,
    )?;
    chain.pop();
    // The comment above the service names the base it extends too.
    let bases = project.bases.entry(name.to_string()).or_default();
    if !bases.contains(&base_at) {
        bases.push(base_at);
    }
    let mut local = service;
    if let Value::Map(entries) = &mut local.value {
        entries.retain(|e| e.key != "extends");
    }
    let mut path = vec!["services".to_string(), name.to_string()];
    Ok(merge(base, local, &mut path).unwrap_or_else(empty_map))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(base: &str, over: &str) -> Node {
        let mut vars = Vars::default();
        let mut findings = Findings::default();
        let mut docs = [base, over].map(|t| yaml::parse(t, 0).unwrap());
        for d in &mut docs {
            normalise(d);
            vars.mark_tree(d, &mut findings);
        }
        let [a, b] = docs;
        merge(a, b, &mut Vec::new()).unwrap()
    }

    fn service<'a>(root: &'a Node, name: &str) -> &'a Node {
        root.get("services").unwrap().get(name).unwrap()
    }

    fn texts(node: &Node) -> Vec<String> {
        node.as_seq()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap_or("{map}").to_string())
            .collect()
    }

    #[test]
    fn commands_are_replaced_and_other_lists_appended() {
        let root = merged(
            "services:\n  a:\n    command: [x, y]\n    dns: [1.1.1.1]\n",
            "services:\n  a:\n    command: [z]\n    dns: [8.8.8.8]\n",
        );
        let a = service(&root, "a");
        assert_eq!(texts(a.get("command").unwrap()), ["z"]);
        assert_eq!(texts(a.get("dns").unwrap()), ["1.1.1.1", "8.8.8.8"]);
    }

    #[test]
    fn volumes_are_unique_by_target_and_ports_by_address() {
        let root = merged(
            "services:\n  a:\n    volumes: ['./a:/data', 'v:/logs']\n    ports: ['80:80']\n",
            "services:\n  a:\n    volumes: ['./b:/data']\n    ports: ['80:80', '443:443']\n",
        );
        let a = service(&root, "a");
        assert_eq!(texts(a.get("volumes").unwrap()), ["./b:/data", "v:/logs"]);
        assert_eq!(texts(a.get("ports").unwrap()), ["80:80", "443:443"]);
    }

    #[test]
    fn list_and_mapping_environments_merge_key_by_key() {
        let root = merged(
            "services:\n  a:\n    environment: [A=1, B=2]\n",
            "services:\n  a:\n    environment: {B: 3, C: 4}\n",
        );
        let env = service(&root, "a").get("environment").unwrap();
        let pairs: Vec<(String, String)> = env
            .as_map()
            .unwrap()
            .iter()
            .map(|e| (e.key.clone(), e.value.as_str().unwrap().to_string()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("A".into(), "1".into()),
                ("B".into(), "3".into()),
                ("C".into(), "4".into())
            ]
        );
    }

    #[test]
    fn reset_removes_and_override_replaces() {
        let root = merged(
            "services:\n  a:\n    ports: ['80:80']\n    volumes: ['./x:/x']\n",
            "services:\n  a:\n    ports: !reset []\n    volumes: !override ['./y:/y']\n",
        );
        let a = service(&root, "a");
        assert!(a.get("ports").is_none());
        assert_eq!(texts(a.get("volumes").unwrap()), ["./y:/y"]);
    }

    #[test]
    fn later_files_keep_the_line_of_what_they_wrote() {
        let root = merged(
            "services:\n  a:\n    image: x\n",
            "services:\n  a:\n\n    image: y\n",
        );
        let image = service(&root, "a").get("image").unwrap();
        assert_eq!((image.as_str(), image.at.line), (Some("y"), 4));
    }
}

//! Host access is opt-in: privileged containers, the host's network or PID namespace and bind
//! mounts outside the definition's directory are errors unless the definition's top-level
//! `allow:` lists them (`privileged`, `host-network`, `host-pid`, `outside-binds`).
//! A shared template cannot grant itself access: only the definition that uses it can.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::load::Loader;
use super::locate::Seg;
use crate::model::{
    Service, ServiceName, VolumeSource, ALLOW_HOST_NETWORK, ALLOW_HOST_PID, ALLOW_OUTSIDE_BINDS,
    ALLOW_PRIVILEGED,
};

const KNOWN: [&str; 4] = [
    ALLOW_PRIVILEGED,
    ALLOW_HOST_NETWORK,
    ALLOW_HOST_PID,
    ALLOW_OUTSIDE_BINDS,
];

/// Reports every host access that `allow:` does not grant, and malformed `allow:` entries.
pub(super) fn check(loader: &mut Loader, top: &Mapping, services: &BTreeMap<ServiceName, Service>) {
    let allowed = allowed(loader, top);
    let hint = |word: &str| {
        Some(format!(
            "if this is intended, add `allow: [{word}]` at the top of the definition"
        ))
    };
    for (name, service) in services {
        let at = |key: &str| vec![Seg::key("services"), Seg::key(name.as_str()), Seg::key(key)];
        let access = service.host_access;
        let keys = [
            (
                access.privileged,
                "privileged",
                ALLOW_PRIVILEGED,
                "runs privileged (full access to the host)",
            ),
            (
                access.network,
                "network_mode",
                ALLOW_HOST_NETWORK,
                "uses the host's network",
            ),
            (
                access.pid,
                "pid",
                ALLOW_HOST_PID,
                "sees the host's processes",
            ),
        ];
        for (wanted, key, word, what) in keys {
            if wanted && !allowed.contains(word) {
                loader.at(
                    &at(key),
                    format!("service `{name}` {what}, which this definition does not allow"),
                    hint(word),
                );
            }
        }
        if access.network && !service.ports.is_empty() {
            loader.at(
                &at("ports"),
                format!("service `{name}` uses the host's network: its ports are the host's, so `ports` cannot publish them"),
                Some("remove `ports`".into()),
            );
        }
        if allowed.contains(ALLOW_OUTSIDE_BINDS) {
            continue;
        }
        let roots = roots(loader);
        for (i, volume) in service.volumes.iter().enumerate() {
            let VolumeSource::Bind(path) = &volume.source else {
                continue;
            };
            if !roots.iter().any(|root| inside(path, root)) {
                loader.at(
                    &[
                        Seg::key("services"),
                        Seg::key(name.as_str()),
                        Seg::key("volumes"),
                        Seg::Index(i),
                    ],
                    format!(
                        "service `{name}` mounts {} from outside the definition's directory",
                        path.display()
                    ),
                    hint(ALLOW_OUTSIDE_BINDS),
                );
            }
        }
    }
}

/// The words of `allow:`; unknown words and wrong shapes are reported.
fn allowed(loader: &mut Loader, top: &Mapping) -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    let items = match top.get("allow") {
        None | Some(Value::Null) => return words,
        Some(Value::Sequence(items)) => items.clone(),
        Some(_) => {
            loader.at(
                &[Seg::key("allow")],
                "`allow` must be a list",
                Some(format!(
                    "write e.g. `allow: [{ALLOW_PRIVILEGED}]`; known: {}",
                    KNOWN.join(", ")
                )),
            );
            return words;
        }
    };
    for (i, item) in items.iter().enumerate() {
        match item.as_str() {
            Some(word) if KNOWN.contains(&word) => {
                words.insert(word.to_string());
            }
            _ => loader.at(
                &[Seg::key("allow"), Seg::Index(i)],
                format!("unknown `allow` entry; known: {}", KNOWN.join(", ")),
                None,
            ),
        }
    }
    words
}

/// The directories bind mounts may come from: the definition's and its bases'.
fn roots(loader: &Loader) -> Vec<PathBuf> {
    std::iter::once(loader.path.to_path_buf())
        .chain(loader.base_paths())
        .filter_map(|file| {
            let dir = std::path::absolute(&file).ok()?.parent()?.to_path_buf();
            Some(real(&dir))
        })
        .collect()
}

/// Whether `path` lies in `root`, after resolving `..` and (where they exist) symlinks.
fn inside(path: &Path, root: &Path) -> bool {
    real(path).starts_with(root)
}

/// The canonical path when it exists, else the lexically normalised absolute path.
fn real(path: &Path) -> PathBuf {
    if let Ok(canonical) = path.canonicalize() {
        return canonical;
    }
    let mut out = PathBuf::new();
    for part in std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .components()
    {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

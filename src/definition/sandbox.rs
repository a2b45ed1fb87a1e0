//! Host access is opt-in: privileged containers, the host's network or PID namespace, and
//! host paths outside the definition's directory (bind sources, build contexts, `from_file`
//! secrets) are errors unless the definition's own top-level `allow:` lists them.
//! Neither a shared template nor a base the definition extends can grant access: only the
//! file that is loaded can, so what a reviewer reads at its top is all it is granted.
//! Host paths are resolved in full here and replaced by their resolution (see `host_paths`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::document::Loader;
use super::host_paths::{self, inside_any};
use super::locate::Seg;
use crate::model::{
    EnvValue, Service, ServiceName, VolumeSource, ALLOW_HOST_NETWORK, ALLOW_HOST_PID,
    ALLOW_OUTSIDE_BINDS, ALLOW_PRIVILEGED,
};

/// A build context outside the definition's directory (the whole tree goes to the build).
pub const ALLOW_OUTSIDE_BUILD: &str = "outside-build";
/// A `from_file` secret outside the definition's directory.
pub const ALLOW_OUTSIDE_SECRETS: &str = "outside-secrets";

const KNOWN: [&str; 6] = [
    ALLOW_PRIVILEGED,
    ALLOW_HOST_NETWORK,
    ALLOW_HOST_PID,
    ALLOW_OUTSIDE_BINDS,
    ALLOW_OUTSIDE_BUILD,
    ALLOW_OUTSIDE_SECRETS,
];

/// Reports every host access that `allow:` does not grant, and malformed `allow:` entries;
/// replaces every host path by its full resolution. `own` is the loaded file's own top-level
/// mapping (its bases' `allow:` do not count); `merged` is it over its bases.
pub(super) fn check(
    loader: &mut Loader,
    own: &Mapping,
    merged: &Mapping,
    services: &mut BTreeMap<ServiceName, Service>,
) {
    let allowed = allowed(loader, own);
    let inherited = !own.contains_key("allow") && merged.contains_key("allow");
    let hint = |word: &str| {
        Some(if inherited {
            format!("if this is intended, add `allow: [{word}]` at the top of this file (`allow:` of a base it extends does not carry over)")
        } else {
            format!("if this is intended, add `allow: [{word}]` at the top of the definition")
        })
    };
    let roots = roots(loader);
    let names: Vec<ServiceName> = services.keys().cloned().collect();
    for name in &names {
        let service = &services[name];
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
        let place = |rest: &[Seg]| {
            let mut p = vec![Seg::key("services"), Seg::key(name.as_str())];
            p.extend_from_slice(rest);
            p
        };
        let service = services.get_mut(name).expect("iterating its names");
        for (i, volume) in service.volumes.iter_mut().enumerate() {
            let VolumeSource::Bind(path) = &mut volume.source else {
                continue;
            };
            let at = place(&[Seg::key("volumes"), Seg::Index(i)]);
            match host_paths::resolve(path) {
                Ok(real) => {
                    if !allowed.contains(ALLOW_OUTSIDE_BINDS) && !inside_any(&real, &roots) {
                        loader.at(
                            &at,
                            format!(
                                "service `{name}` mounts {} from outside the definition's directory",
                                shown(path, &real)
                            ),
                            hint(ALLOW_OUTSIDE_BINDS),
                        );
                    }
                    *path = real;
                }
                Err(err) => loader.at(
                    &at,
                    format!("service `{name}`: the bind source {err}"),
                    Some(
                        "a bind source must exist and be reachable; it is never judged by its text"
                            .into(),
                    ),
                ),
            }
        }
        if let Some(build) = &mut service.build {
            let at = place(&[Seg::key("build")]);
            match host_paths::resolve(&build.context) {
                Ok(real) => {
                    if !allowed.contains(ALLOW_OUTSIDE_BUILD) && !inside_any(&real, &roots) {
                        loader.at(
                            &at,
                            format!(
                                "service `{name}` builds from {}, outside the definition's directory (it would all be sent to the image build)",
                                shown(&build.context, &real)
                            ),
                            hint(ALLOW_OUTSIDE_BUILD),
                        );
                    }
                    build.context = real;
                }
                Err(err) => loader.at(
                    &at,
                    format!("service `{name}`: the build context {err}"),
                    None,
                ),
            }
        }
        for (key, value) in service.env.iter_mut() {
            let EnvValue::FromFile(path) = value else {
                continue;
            };
            let at = place(&[Seg::key("env"), Seg::key(key)]);
            match host_paths::resolve_maybe_missing(path) {
                Ok(real) => {
                    if !allowed.contains(ALLOW_OUTSIDE_SECRETS) && !inside_any(&real, &roots) {
                        loader.at(
                            &at,
                            format!(
                                "service `{name}` reads `{key}` from {}, outside the definition's directory",
                                shown(path, &real)
                            ),
                            hint(ALLOW_OUTSIDE_SECRETS),
                        );
                    }
                    *path = real;
                }
                Err(err) => loader.at(
                    &at,
                    format!("service `{name}`: the file of `{key}`, {err}"),
                    None,
                ),
            }
        }
    }
}

/// `path`, and where it really leads when that differs.
fn shown(path: &Path, real: &Path) -> String {
    if path == real {
        path.display().to_string()
    } else {
        format!("{} (which leads to {})", path.display(), real.display())
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

/// The directories host paths may come from: the definition's and its bases', resolved.
fn roots(loader: &Loader) -> Vec<PathBuf> {
    std::iter::once(loader.path.to_path_buf())
        .chain(loader.base_paths())
        .filter_map(|file| {
            let dir = std::path::absolute(&file).ok()?.parent()?.to_path_buf();
            host_paths::resolve(&dir).ok()
        })
        .collect()
}

//! Environment inheritance: `extends: PATH` loads a base environment (relative to the file
//! that says so) and overlays this file on it, with the templates' deep-merge rules. Bases may
//! extend further bases; a cycle is an error naming every file in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::diagnostics::Diagnostic;
use super::document::{parse, read, render_source, Layer, Loader};
use super::locate::Seg;
use super::render::RenderContext;
use super::sourcemap::SourceMap;
use super::templates::deep_merge;
use super::values;

/// The chain of bases of `own` (the file `loader` reads), nearest first. Each base is rendered
/// with the same Tera context (so `env` is the extending environment's name) and checked like
/// any definition; its problems name its own file. Services whose shape is broken in a base
/// are added to `broken`.
pub(super) fn load_bases(
    loader: &mut Loader,
    own: &Mapping,
    ctx: &RenderContext,
    broken: &mut BTreeSet<String>,
) -> Vec<Layer> {
    let mut layers: Vec<Layer> = Vec::new();
    let mut chain: Vec<(PathBuf, PathBuf)> = vec![(
        loader.path.to_path_buf(),
        canonical(loader.path).unwrap_or_else(|| loader.path.to_path_buf()),
    )];
    let mut current = own.clone();
    while let Some(extends) = current.get("extends") {
        let (file, map) = match layers.last() {
            Some(l) => (l.path.clone(), &l.map),
            None => (loader.path.to_path_buf(), &loader.map),
        };
        let report = |message: String, hint: Option<String>| {
            Diagnostic::new(&file, message)
                .at(map.location_of(&[Seg::key("extends")]))
                .maybe_hint(hint)
        };
        let Some(relative) = extends.as_str().filter(|s| !s.trim().is_empty()) else {
            loader.problems.push(report(
                "`extends` must be the path of a base environment file".into(),
                Some("e.g. `extends: base.yaml` (relative to this file)".into()),
            ));
            break;
        };
        let base_path = values::relative_to(&values::base_dir(&file), relative);
        let Some(base_canonical) = canonical(&base_path) else {
            loader.problems.push(report(
                format!(
                    "base environment `{relative}` not found ({})",
                    base_path.display()
                ),
                Some("`extends` is relative to the file that declares it".into()),
            ));
            break;
        };
        if let Some(start) = chain.iter().position(|(_, c)| *c == base_canonical) {
            let cycle: Vec<String> = chain[start..]
                .iter()
                .map(|(p, _)| p.display().to_string())
                .chain([chain[start].0.display().to_string()])
                .collect();
            loader.problems.push(report(
                format!("`extends` cycle: {}", cycle.join(" -> ")),
                Some("remove `extends` from one of these files".into()),
            ));
            break;
        }
        chain.push((base_path.clone(), base_canonical));
        let source = match read(&base_path) {
            Ok(s) => s,
            Err(d) => {
                loader.problems.extend(d);
                break;
            }
        };
        let rendered = match render_source(&base_path, &source, ctx) {
            Ok(r) => r,
            Err(d) => {
                loader.problems.extend(d);
                break;
            }
        };
        let mut base_loader = Loader::new(&base_path, SourceMap::new(&source, &rendered));
        let parsed = parse(&mut base_loader, &rendered, &ctx.set);
        let map = std::mem::replace(&mut base_loader.map, SourceMap::new("", ""));
        loader.problems.append(&mut base_loader.problems);
        let Some((top, shape_error_service)) = parsed else {
            break;
        };
        broken.extend(shape_error_service);
        current = top.clone();
        layers.push(Layer {
            path: base_path,
            map,
            top: Value::Mapping(top),
        });
    }
    layers
}

fn canonical(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok().filter(|p| p.is_file())
}

/// `own` over its bases (farthest first): services, libraries and every other mapping merge
/// key by key, the extending file wins; `name` and `extends` are never inherited.
pub(super) fn merge(own: &Mapping, bases: &[Layer]) -> Mapping {
    let mut merged = Value::Mapping(Mapping::new());
    for layer in bases.iter().rev() {
        let mut top = layer.top.as_mapping().cloned().unwrap_or_default();
        top.remove("name");
        top.remove("extends");
        merged = deep_merge(&merged, &Value::Mapping(top));
    }
    let mut own = own.clone();
    own.remove("extends");
    match deep_merge(&merged, &Value::Mapping(own)) {
        Value::Mapping(m) => m,
        _ => Mapping::new(),
    }
}

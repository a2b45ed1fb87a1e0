//! The pipeline: read -> render (Tera) -> parse (YAML) -> check keys and shapes -> apply
//! templates -> resolve -> validate, collecting every problem on the way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::diagnostics::Diagnostic;
use super::document::{context, parse, read, render_source, LoadOptions, Loader};
use super::extends;
use super::libraries::{self, Library};
use super::locate::Seg;
use super::render::{self, RenderContext};
use super::sourcemap::SourceMap;
use super::units::parse_limit;
use super::{sandbox, services, validate, values};
use crate::model::{Environment, InstanceId};

/// Renders the file with Tera only.
pub fn render_text(path: &Path, opts: &LoadOptions) -> Result<String, Vec<Diagnostic>> {
    let source = read(path)?;
    let ctx = context(path, &source, opts);
    render_source(path, &source, &ctx).map(|text| render::restore_set_text(&text, &ctx.set))
}

/// Loads and validates one file, finding templates on `search`.
#[cfg(test)]
pub fn load(
    path: &Path,
    opts: &LoadOptions,
    search: &[PathBuf],
) -> Result<Environment, Vec<Diagnostic>> {
    load_with(path, opts, search, libraries::Mode::Locked)
}

/// Loads and validates one file, finding templates on `search` and in its libraries, which
/// are resolved from the lock file or, with `Mode::Update`, re-resolved.
pub fn load_with(
    path: &Path,
    opts: &LoadOptions,
    search: &[PathBuf],
    mode: libraries::Mode,
) -> Result<Environment, Vec<Diagnostic>> {
    let source = read(path)?;
    let ctx = context(path, &source, opts);
    let rendered = render_source(path, &source, &ctx)?;
    let mut loader = Loader::new(path, SourceMap::new(&source, &rendered));
    let Some((own, shape_error_service)) = parse(&mut loader, &rendered, &ctx.set) else {
        return Err(loader.problems);
    };
    let mut broken_services: BTreeSet<String> = shape_error_service.into_iter().collect();
    loader.own = Value::Mapping(own.clone());
    loader.bases = extends::load_bases(&mut loader, &own, &ctx, &mut broken_services);
    let top = extends::merge(&own, &loader.bases);
    let (description, ttl, instance) = top_level(&mut loader, &top, &ctx, opts);
    let libraries = resolve_libraries(&mut loader, &top, mode);
    let (mut services, unresolved) = services::services(
        &mut loader,
        &top,
        &ctx,
        search,
        &libraries,
        &broken_services,
    );
    sandbox::check(&mut loader, &own, &top, &mut services);
    let forkable = super::forkable::declared(&mut loader, &top, &services);
    for problem in validate::check(&services, &unresolved) {
        loader.at(&problem.path, problem.message, problem.hint);
    }
    if !loader.problems.is_empty() {
        return Err(loader.problems);
    }
    let instance = instance.map_err(|e| vec![Diagnostic::new(path, e.to_string())])?;
    Ok(Environment {
        env: ctx.env.clone(),
        feature: opts.feature.clone().filter(|f| !f.is_empty()),
        instance,
        description,
        ttl,
        source: std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
        services,
        local: Default::default(),
        overlay: None,
        forkable,
    })
}

/// The libraries one definition declares (itself and its bases), resolved from the lock file.
pub fn libraries_of(
    path: &Path,
    opts: &LoadOptions,
) -> Result<BTreeMap<String, Library>, Vec<Diagnostic>> {
    let source = read(path)?;
    let ctx = context(path, &source, opts);
    let rendered = render_source(path, &source, &ctx)?;
    let mut loader = Loader::new(path, SourceMap::new(&source, &rendered));
    let Some((own, _)) = parse(&mut loader, &rendered, &ctx.set) else {
        return Err(loader.problems);
    };
    loader.own = Value::Mapping(own.clone());
    loader.bases = extends::load_bases(&mut loader, &own, &ctx, &mut BTreeSet::new());
    let top = extends::merge(&own, &loader.bases);
    let (libraries, _) = resolve_libraries(&mut loader, &top, libraries::Mode::Locked);
    if loader.problems.is_empty() {
        Ok(libraries)
    } else {
        Err(loader.problems)
    }
}

/// `libraries:` declared here or in a base, resolved (lock file next to this file).
fn resolve_libraries(
    loader: &mut Loader,
    top: &Mapping,
    mode: libraries::Mode,
) -> (BTreeMap<String, Library>, BTreeSet<String>) {
    let (declared, mut problems) = libraries::declarations(top.get("libraries"), |name| {
        let (file, _) = loader.blame(&[Seg::key("libraries"), Seg::key(name)]);
        values::base_dir(&file)
    });
    let lock_path = libraries::lockfile::path_for(loader.path);
    let (resolved, more) = libraries::resolve(&declared, &lock_path, mode);
    problems.extend(more);
    let failed = problems
        .iter()
        .map(|p| p.library.clone())
        .filter(|name| !name.is_empty() && !resolved.contains_key(name))
        .collect();
    for p in problems {
        let mut at = vec![Seg::key("libraries")];
        if !p.library.is_empty() {
            at.push(Seg::key(&p.library));
        }
        if let Some(key) = p.key {
            at.push(Seg::key(key));
        }
        loader.at(&at, p.message, p.hint);
    }
    (resolved, failed)
}

/// `name`, `description`, `ttl`, and the instance id from the name and feature.
fn top_level(
    loader: &mut Loader,
    top: &Mapping,
    ctx: &RenderContext,
    opts: &LoadOptions,
) -> (
    Option<String>,
    Option<std::time::Duration>,
    Result<InstanceId, crate::model::NameError>,
) {
    let description = match top.get("description") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                loader.at(
                    &[Seg::key("description")],
                    "`description` must be a string",
                    None,
                );
                None
            }
        },
    };
    if let Some(name) = top.get("name") {
        match name.as_str() {
            Some(name) if name == ctx.env => {}
            Some(name) => loader.at(
                &[Seg::key("name")],
                format!("`name: {name}` must be written plainly (no Tera) on its own line"),
                None,
            ),
            None => loader.at(&[Seg::key("name")], "`name` must be a string", None),
        }
    }
    let name_problem = crate::model::check_env_name(&ctx.env).err();
    if let Some(err) = &name_problem {
        loader.at(
            &[Seg::key("name")],
            err.to_string(),
            Some(match err {
                crate::model::NameError::Reserved { .. } => {
                    "rename the file or set `name:` to a name without `--`".into()
                }
                _ => "rename the file or set `name:` to a DNS-safe name".into(),
            }),
        );
    }
    let feature_problem = (!ctx.feature.is_empty())
        .then(|| crate::model::check_feature_name(&ctx.feature).err())
        .flatten();
    if let Some(err) = &feature_problem {
        loader
            .problems
            .push(Diagnostic::new(loader.path, format!("--feature: {err}")));
    }
    let instance = InstanceId::new(&ctx.env, opts.feature.as_deref());
    // Each bad name is reported once: the instance id repeats what is said above.
    if let (Err(err), None, None) = (&instance, &name_problem, &feature_problem) {
        loader
            .problems
            .push(Diagnostic::new(loader.path, err.to_string()));
    }
    let ttl = top.get("ttl").and_then(|v| {
        let text = values::scalar_text(v).unwrap_or_default();
        // `none` (no expiry) is the zero lifetime, as for `up --ttl`.
        parse_limit(&text)
            .map(|ttl| ttl.unwrap_or_default())
            .map_err(|msg| loader.at(&[Seg::key("ttl")], format!("ttl: {msg}"), None))
            .ok()
    });

    (description, ttl, instance)
}

#[cfg(test)]
mod tests;

//! The pipeline: read -> render (Tera) -> parse (YAML) -> check keys and shapes -> apply
//! templates -> resolve -> validate, collecting every problem on the way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::diagnostics::{did_you_mean, Diagnostic, Location};
use super::extends::{self, Layer};
use super::format::{DefinitionFile, ServiceDef};
use super::libraries::{self, Library};
use super::locate::{display_path, Seg};
use super::render::{self, RenderContext};
use super::sourcemap::SourceMap;
use super::templates::{self, strip_location, unknown_field_hint, InstantiateError};
use super::units::parse_limit;
use super::{resolve, sandbox, schema, validate, values, LoadOptions};
use crate::model::{Environment, InstanceId, ServiceName};

/// One definition file being loaded: its text, rendering and the problems found so far.
pub(super) struct Loader<'a> {
    pub path: &'a Path,
    pub map: SourceMap,
    pub problems: Vec<Diagnostic>,
    /// This file's own top-level mapping (before merging bases), once parsed.
    own: Value,
    /// The environments this one extends, nearest first.
    bases: Vec<Layer>,
}

impl<'a> Loader<'a> {
    /// The files of the environments this one extends.
    pub fn base_paths(&self) -> Vec<PathBuf> {
        self.bases.iter().map(|b| b.path.clone()).collect()
    }

    pub fn new(path: &'a Path, map: SourceMap) -> Self {
        Self {
            path,
            map,
            problems: Vec::new(),
            own: Value::Null,
            bases: Vec::new(),
        }
    }

    pub fn at(&mut self, path: &[Seg], message: impl Into<String>, hint: Option<String>) {
        let (file, location) = self.blame(path);
        self.problems.push(
            Diagnostic::new(&file, message)
                .at(location)
                .maybe_hint(hint),
        );
    }

    /// The file that wrote `path` (this one or a base) and where: the longest prefix of `path`
    /// found, this file first, so an overlay is blamed for what it overrides and a base for
    /// what it alone provides.
    fn blame(&self, path: &[Seg]) -> (PathBuf, Option<Location>) {
        if !self.bases.is_empty() {
            for n in (1..=path.len()).rev() {
                if has_path(&self.own, &path[..n]) {
                    break;
                }
                if let Some(layer) = self.bases.iter().find(|l| has_path(&l.top, &path[..n])) {
                    return (layer.path.clone(), layer.map.location_of(path));
                }
            }
        }
        (self.path.to_path_buf(), self.map.location_of(path))
    }
}

/// The environment name before rendering: a plain `name:` line, else the file stem.
fn env_name(path: &Path, source: &str) -> String {
    let plain = source.lines().find_map(|l| {
        let value = l.strip_prefix("name:")?.split(" #").next()?.trim();
        let value = value.trim_matches(|c| c == '"' || c == '\'');
        (!value.is_empty() && !value.contains("{{") && !value.contains("{%"))
            .then(|| value.to_string())
    });
    plain.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// The Tera context for one file.
pub fn context(path: &Path, source: &str, opts: &LoadOptions) -> RenderContext {
    let env = env_name(path, source);
    let feature = opts.feature.clone().unwrap_or_default();
    let instance = crate::model::instance_name(&env, Some(&feature));
    RenderContext {
        env,
        feature,
        instance,
        set: opts.set.clone(),
        advertise_host: opts.advertise_host.clone(),
    }
}

/// Renders the file with Tera only.
pub fn render_text(path: &Path, opts: &LoadOptions) -> Result<String, Vec<Diagnostic>> {
    let source = read(path)?;
    let ctx = context(path, &source, opts);
    render_source(path, &source, &ctx).map(|text| render::restore_set_text(&text, &ctx.set))
}

pub(super) fn read(path: &Path) -> Result<String, Vec<Diagnostic>> {
    std::fs::read_to_string(path).map_err(|e| {
        vec![Diagnostic::new(
            path,
            format!("cannot read the definition: {e}"),
        )]
    })
}

pub(super) fn render_source(
    path: &Path,
    source: &str,
    ctx: &RenderContext,
) -> Result<String, Vec<Diagnostic>> {
    render::render(source, ctx, &BTreeMap::new(), None).map_err(|failure| {
        let map = SourceMap::new(source, source);
        vec![Diagnostic::new(path, format!("Tera: {}", failure.message))
            .at(failure
                .position
                .and_then(|(l, c)| map.source_location(l, c)))
            .maybe_hint(tera_hint(&failure.message))]
    })
}

fn tera_hint(message: &str) -> Option<String> {
    if message.contains("not defined") || message.contains("not found in") {
        Some("define it with `{% set NAME = set.NAME | default(value=\"...\") %}` or pass `--set NAME=VALUE`".into())
    } else if message.contains("Unexpected end of input") {
        Some("a Tera tag is not closed: check `{{ }}` and `{% %}`, and that every `{% for %}`/`{% if %}` has its `{% endfor %}`/`{% endif %}`".into())
    } else {
        None
    }
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
    let (mut services, unresolved) = services(
        &mut loader,
        &top,
        &ctx,
        search,
        &libraries,
        &broken_services,
    );
    sandbox::check(&mut loader, &own, &top, &mut services);
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

/// YAML parse, unknown keys (reported, then dropped) and shapes. Returns the top mapping and
/// the service whose shape error was reported (it is skipped later); `None` when nothing
/// further can be checked.
pub(super) fn parse(
    loader: &mut Loader,
    rendered: &str,
    set: &BTreeMap<String, String>,
) -> Option<(Mapping, Option<String>)> {
    if let Some((line, col)) = values::too_deep_flow(rendered) {
        let loc = loader.map.location(line, col);
        loader.problems.push(
            Diagnostic::new(
                loader.path,
                format!(
                    "YAML: `[`/`{{` nested more than {} deep",
                    values::MAX_FLOW_DEPTH
                ),
            )
            .at(loc),
        );
        return None;
    }
    let document: Value = match serde_yaml::from_str(rendered) {
        Ok(mut v) => {
            render::restore_set_values(&mut v, set);
            v
        }
        Err(e) => {
            let loc = e
                .location()
                .and_then(|l| loader.map.location(l.line(), l.column()));
            loader.problems.push(
                Diagnostic::new(
                    loader.path,
                    format!("YAML: {}", strip_location(&e.to_string())),
                )
                .at(loc),
            );
            return None;
        }
    };
    let Some(top) = document.as_mapping() else {
        loader.problems.push(
            Diagnostic::new(
                loader.path,
                "a definition must be a mapping with `services:`",
            )
            .hint("start with `services:` and one key per service"),
        );
        return None;
    };
    let mut top = top.clone();

    // Unknown keys: all of them, then drop them so the rest can still be checked.
    let unknown = schema::unknown_keys(&document, &schema::DEFINITION);
    for u in &unknown {
        let mut key_path = u.path.clone();
        key_path.push(Seg::key(&u.key));
        let place = if u.path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in `{}`", display_path(&u.path))
        };
        let hint = did_you_mean(&u.key, u.known.iter().copied())
            .or_else(|| Some(format!("known keys: {}", u.known.join(", "))));
        loader.at(&key_path, format!("unknown key `{}` {place}", u.key), hint);
        remove_path(&mut top, &key_path);
    }
    // Shapes: the whole text first, for an exact position, when there were no unknown keys.
    let mut shape_error_service: Option<String> = None;
    if unknown.is_empty() {
        if let Err(e) = serde_yaml::from_str::<DefinitionFile>(rendered) {
            let message = strip_location(&e.to_string());
            shape_error_service = message
                .strip_prefix("services.")
                .and_then(|r| r.split(['.', ':', '[']).next())
                .map(str::to_string);
            let loc = e
                .location()
                .and_then(|l| loader.map.location(l.line(), l.column()));
            let hint = unknown_field_hint(&message).or_else(|| shape_hint(&message));
            loader.problems.push(
                Diagnostic::new(loader.path, message)
                    .at(loc)
                    .maybe_hint(hint),
            );
            // A shape error outside one service leaves nothing reliable to check.
            shape_error_service.as_ref()?;
        }
    }

    Some((top, shape_error_service))
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
    if !ctx.feature.is_empty() {
        if let Err(err) = crate::model::check_feature_name(&ctx.feature) {
            loader
                .problems
                .push(Diagnostic::new(loader.path, format!("--feature: {err}")));
        }
    }
    let instance = InstanceId::new(&ctx.env, opts.feature.as_deref());
    // A bad environment or feature name is reported above, at its place.
    let feature_problem =
        !ctx.feature.is_empty() && crate::model::check_feature_name(&ctx.feature).is_err();
    if let (Err(err), None, false) = (&instance, &name_problem, feature_problem) {
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

/// Every service, templates applied and resolved; also the services that exist but could
/// not be resolved (their problems are reported already).
fn services(
    loader: &mut Loader,
    top: &Mapping,
    ctx: &RenderContext,
    search: &[PathBuf],
    libraries: &(BTreeMap<String, Library>, BTreeSet<String>),
    broken_services: &BTreeSet<String>,
) -> (
    BTreeMap<ServiceName, crate::model::Service>,
    std::collections::BTreeSet<ServiceName>,
) {
    let mut services = BTreeMap::new();
    // Services that exist but could not be resolved: others may still depend on them.
    let mut unresolved = std::collections::BTreeSet::new();
    let service_values = match top.get("services") {
        Some(Value::Mapping(m)) => m.clone(),
        None | Some(Value::Null) => {
            loader.at(
                &[],
                "the definition has no `services`",
                Some("add `services:` with at least one service".into()),
            );
            Mapping::new()
        }
        Some(_) => Mapping::new(), // reported by the typed parse
    };
    for (key, own) in &service_values {
        let Some(name) = key.as_str() else {
            loader.at(
                &[Seg::key("services")],
                "service names must be strings",
                None,
            );
            continue;
        };
        let svc_path = vec![Seg::key("services"), Seg::key(name)];
        let service_name = match ServiceName::new(name) {
            Ok(n) => n,
            Err(err) => {
                loader.at(
                    &svc_path,
                    err.to_string(),
                    Some(
                        "service names become DNS names: use lowercase letters, digits and `-`"
                            .into(),
                    ),
                );
                continue;
            }
        };
        if broken_services.contains(name) {
            unresolved.insert(service_name);
            continue;
        }
        let own = match own {
            Value::Mapping(m) => m.clone(),
            Value::Null => Mapping::new(),
            _ => {
                loader.at(
                    &svc_path,
                    format!("service `{name}` must be a mapping"),
                    None,
                );
                unresolved.insert(service_name);
                continue;
            }
        };
        // Relative paths are relative to the file that wrote them (this one or a base).
        let base = ["volumes", "build", "env"]
            .iter()
            .map(|key| vec![Seg::key("services"), Seg::key(name), Seg::key(key)])
            .find(|p| has_path(&Value::Mapping(top.clone()), p))
            .map_or_else(|| loader.path.to_path_buf(), |p| loader.blame(&p).0);
        let base = values::base_dir(&base);
        let found = TemplateSources {
            search,
            libraries: &libraries.0,
            failed: &libraries.1,
        };
        match load_service(loader, &service_name, &own, ctx, &found, &base) {
            Some(service) => {
                services.insert(service_name, service);
            }
            None => {
                unresolved.insert(service_name);
            }
        }
    }
    (services, unresolved)
}

fn shape_hint(message: &str) -> Option<String> {
    if message.contains("unknown variant") {
        let rest = message.split("unknown variant `").nth(1)?;
        let (got, rest) = rest.split_once('`')?;
        let known: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        did_you_mean(got, known)
    } else {
        None
    }
}

/// Where templates come from: the search path, and `LIB/NAME` from declared libraries.
struct TemplateSources<'a> {
    search: &'a [PathBuf],
    libraries: &'a BTreeMap<String, Library>,
    /// Declared libraries that could not be resolved (their templates are skipped).
    failed: &'a BTreeSet<String>,
}

/// Applies the service's template (if any), then resolves it.
fn load_service(
    loader: &mut Loader,
    name: &ServiceName,
    own: &Mapping,
    ctx: &RenderContext,
    sources: &TemplateSources,
    base: &Path,
) -> Option<crate::model::Service> {
    let svc_path = |rest: &[Seg]| -> Vec<Seg> {
        let mut p = vec![Seg::key("services"), Seg::key(name.as_str())];
        p.extend_from_slice(rest);
        p
    };
    let template_name = match own.get("template") {
        None => None,
        Some(v) => match v.as_str() {
            Some(t) => Some(t.to_string()),
            None => {
                loader.at(
                    &svc_path(&[Seg::key("template")]),
                    "`template` must be a template name",
                    None,
                );
                return None;
            }
        },
    };
    let with = match own.get("with") {
        None | Some(Value::Null) => Mapping::new(),
        Some(Value::Mapping(m)) => m.clone(),
        Some(_) => {
            loader.at(
                &svc_path(&[Seg::key("with")]),
                "`with` must be a mapping of template params",
                None,
            );
            return None;
        }
    };
    if template_name.is_none() && !with.is_empty() {
        loader.at(
            &svc_path(&[Seg::key("with")]),
            "`with` sets template params, but the service has no `template`",
            Some("add `template: NAME` or remove `with`".into()),
        );
    }
    let mut own_body = own.clone();
    own_body.remove("template");
    own_body.remove("with");
    let own_value = Value::Mapping(own_body);

    let mut instantiated = None;
    // For a library template: the library, and a prefix for problems in its files.
    let library = template_name
        .as_deref()
        .and_then(|t| libraries::split(t, sources.libraries));
    let in_library = |message: String| match library {
        Some((lib, _)) => format!("{}: {message}", lib.describe()),
        None => message,
    };
    let label = match (&library, &template_name) {
        (Some((lib, rest)), _) => Some(lib.label(rest)),
        (None, t) => t.clone(),
    };
    let found = if let (Some((lib, rest)), Some(_)) = (library, &template_name) {
        let found = lib.find(rest).map_err(|err| {
            let message = match err {
                templates::LookupError::NotFound { .. } => {
                    format!("template `{rest}` not found in {}", lib.describe())
                }
                other => format!("{}: {other}", lib.describe()),
            };
            let known: Vec<String> = lib
                .list()
                .into_iter()
                .filter_map(Result::ok)
                .map(|t| t.name)
                .collect();
            let hint = did_you_mean(rest, known.iter().map(String::as_str))
                .map(|h| h.replacen('`', &format!("`{}/", lib.name), 1))
                .or_else(|| {
                    (!known.is_empty()).then(|| format!("its templates: {}", known.join(", ")))
                });
            loader.at(&svc_path(&[Seg::key("template")]), message, hint);
        });
        Some(found.ok()?)
    } else if template_name
        .as_deref()
        .and_then(|t| t.split_once('/'))
        .is_some_and(|(lib, _)| sources.failed.contains(lib))
    {
        // Its library could not be resolved; that problem is reported already.
        return None;
    } else if let Some(template) = &template_name {
        let search = sources.search;
        let found = templates::find(template, search).map_err(|err| {
            loader.at(
                &svc_path(&[Seg::key("template")]),
                err.to_string(),
                match err {
                    templates::LookupError::NotFound { .. } => Some(
                        "add the file to one of these directories, or set ENVCTL_TEMPLATE_PATH"
                            .into(),
                    ),
                    templates::LookupError::InvalidName(_)
                    | templates::LookupError::LeavesLibrary { .. } => None,
                },
            );
        });
        Some(found.ok()?)
    } else {
        None
    };
    // One instantiation for both kinds; problems in a library's files say which library.
    if let (Some(found), Some(template)) = (found, &template_name) {
        match templates::instantiate(template, &found, name.as_str(), &with, ctx) {
            Ok(i) => instantiated = Some(i),
            Err(InstantiateError::Params(problems)) => {
                for p in problems {
                    loader.at(&svc_path(&p.path), p.message, p.hint);
                }
                return None;
            }
            Err(InstantiateError::Template(diags)) => {
                loader.problems.extend(diags.into_iter().map(|mut d| {
                    d.message = in_library(d.message);
                    d
                }));
                return None;
            }
        }
    }
    let merged = match &instantiated {
        Some(i) => templates::deep_merge(&i.service, &own_value),
        None => own_value.clone(),
    };
    let def: ServiceDef = match serde_yaml::from_value(merged) {
        Ok(d) => d,
        Err(e) => {
            let message = strip_location(&e.to_string());
            let hint = unknown_field_hint(&message).or_else(|| shape_hint(&message));
            loader.at(&svc_path(&[]), format!("service `{name}`: {message}"), hint);
            return None;
        }
    };
    let (service, problems) = resolve::service(name, &def, label.as_deref(), &ctx.env, base);
    for problem in problems {
        let in_own = problem.path.is_empty() || has_path(&own_value, &problem.path);
        match (&instantiated, in_own) {
            (Some(t), false) => {
                let mut p = vec![Seg::key("service")];
                p.extend(problem.path.iter().cloned());
                let location = t.map.location_of(&p);
                loader.problems.push(
                    Diagnostic::new(
                        &t.path,
                        in_library(format!(
                            "{} (from template `{}`, for service `{name}`)",
                            problem.message,
                            template_name.as_deref().unwrap_or("")
                        )),
                    )
                    .at(location)
                    .maybe_hint(problem.hint),
                );
            }
            _ => loader.at(&svc_path(&problem.path), problem.message, problem.hint),
        }
    }
    Some(service)
}

/// Whether `path` exists in `value` (keys and indices).
pub(super) fn has_path(value: &Value, path: &[Seg]) -> bool {
    let mut current = value;
    for seg in path {
        let next = match seg {
            Seg::Key(k) => current.as_mapping().and_then(|m| m.get(k.as_str())),
            Seg::Index(i) => current.as_sequence().and_then(|s| s.get(*i)),
        };
        match next {
            Some(v) => current = v,
            None => return false,
        }
    }
    true
}

/// Removes the key at `path` (used to drop unknown keys after reporting them).
fn remove_path(top: &mut Mapping, path: &[Seg]) {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return;
    };
    let mut current = top;
    for seg in parents {
        let Seg::Key(k) = seg else { return };
        match current.get_mut(k.as_str()).and_then(Value::as_mapping_mut) {
            Some(m) => current = m,
            None => return,
        }
    }
    current.remove(last.as_str());
}

#[cfg(test)]
mod tests;

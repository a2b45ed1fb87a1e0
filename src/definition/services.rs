//! The services of a definition: each one's template looked up (search path or library),
//! instantiated with its `with:` params, merged under the service's own keys, and resolved.
//! Problems name the definition, or the template file for what only the template wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value};

use super::diagnostics::{did_you_mean, Diagnostic};
use super::document::{has_path, shape_hint, Loader};
use super::format::ServiceDef;
use super::libraries::{self, Library};
use super::locate::Seg;
use super::render::RenderContext;
use super::templates::{self, strip_location, unknown_field_hint, InstantiateError, Instantiated};
use super::{resolve, values};
use crate::model::{Service, ServiceName};

/// Every service, templates applied and resolved; also the services that exist but could
/// not be resolved (their problems are reported already).
pub fn services(
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

/// Where templates come from: the search path, and `LIB/NAME` from declared libraries.
struct TemplateSources<'a> {
    search: &'a [PathBuf],
    libraries: &'a BTreeMap<String, Library>,
    /// Declared libraries that could not be resolved (their templates are skipped).
    failed: &'a BTreeSet<String>,
}

/// A service's template, found: its file, and the library it comes from, if any.
struct FoundTemplate<'a> {
    /// As written in `template:`.
    name: String,
    path: PathBuf,
    /// The library and the template's name in it.
    library: Option<(&'a Library, String)>,
}

impl FoundTemplate<'_> {
    /// What the service records as its template (`LIB/NAME@commit` for library templates).
    fn label(&self) -> String {
        match &self.library {
            Some((lib, rest)) => lib.label(rest),
            None => self.name.clone(),
        }
    }

    /// Problems in a library's files say which library.
    fn in_library(&self, message: String) -> String {
        match &self.library {
            Some((lib, _)) => format!("{}: {message}", lib.describe()),
            None => message,
        }
    }
}

fn at_service(name: &ServiceName, rest: &[Seg]) -> Vec<Seg> {
    let mut p = vec![Seg::key("services"), Seg::key(name.as_str())];
    p.extend_from_slice(rest);
    p
}

/// Applies the service's template (if any), then resolves it. `None` when a problem was
/// reported that leaves nothing to resolve.
fn load_service(
    loader: &mut Loader,
    name: &ServiceName,
    own: &Mapping,
    ctx: &RenderContext,
    sources: &TemplateSources,
    base: &Path,
) -> Option<Service> {
    let (template, with) = template_and_params(loader, name, own)?;
    let mut own_body = own.clone();
    own_body.remove("template");
    own_body.remove("with");
    let own_value = Value::Mapping(own_body);
    let found = match &template {
        Some(template) => Some(lookup(loader, name, template, sources)?),
        None => None,
    };
    let instantiated = match &found {
        Some(found) => Some(instantiate(loader, name, found, &with, ctx)?),
        None => None,
    };
    let merged = match &instantiated {
        Some(i) => templates::deep_merge(&i.service, &own_value),
        None => own_value.clone(),
    };
    let def: ServiceDef = match serde_yaml::from_value(merged) {
        Ok(d) => d,
        Err(e) => {
            let message = strip_location(&e.to_string());
            let hint = unknown_field_hint(&message).or_else(|| shape_hint(&message));
            loader.at(
                &at_service(name, &[]),
                format!("service `{name}`: {message}"),
                hint,
            );
            return None;
        }
    };
    let label = found.as_ref().map(FoundTemplate::label);
    let (service, problems) = resolve::service(name, &def, label.as_deref(), &ctx.env, base);
    for problem in problems {
        let in_own = problem.path.is_empty() || has_path(&own_value, &problem.path);
        match (&instantiated, &found, in_own) {
            // What only the template wrote is blamed on the template file.
            (Some(t), Some(found), false) => {
                let mut p = vec![Seg::key("service")];
                p.extend(problem.path.iter().cloned());
                loader.problems.push(
                    Diagnostic::new(
                        &t.path,
                        found.in_library(format!(
                            "{} (from template `{}`, for service `{name}`)",
                            problem.message, found.name
                        )),
                    )
                    .at(t.map.location_of(&p))
                    .maybe_hint(problem.hint),
                );
            }
            _ => loader.at(
                &at_service(name, &problem.path),
                problem.message,
                problem.hint,
            ),
        }
    }
    Some(service)
}

/// `template:` and `with:` of a service, checked for shape.
fn template_and_params(
    loader: &mut Loader,
    name: &ServiceName,
    own: &Mapping,
) -> Option<(Option<String>, Mapping)> {
    let template = match own.get("template") {
        None => None,
        Some(v) => match v.as_str() {
            Some(t) => Some(t.to_string()),
            None => {
                loader.at(
                    &at_service(name, &[Seg::key("template")]),
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
                &at_service(name, &[Seg::key("with")]),
                "`with` must be a mapping of template params",
                None,
            );
            return None;
        }
    };
    if template.is_none() && !with.is_empty() {
        loader.at(
            &at_service(name, &[Seg::key("with")]),
            "`with` sets template params, but the service has no `template`",
            Some("add `template: NAME` or remove `with`".into()),
        );
    }
    Some((template, with))
}

/// Finds the template file: `LIB/NAME` in a declared library, else on the search path.
/// `None` when it is not found (reported) or its library could not be resolved (reported
/// already).
fn lookup<'a>(
    loader: &mut Loader,
    name: &ServiceName,
    template: &str,
    sources: &TemplateSources<'a>,
) -> Option<FoundTemplate<'a>> {
    let at = at_service(name, &[Seg::key("template")]);
    if let Some((lib, rest)) = libraries::split(template, sources.libraries) {
        let path = lib.find(rest).map_err(|err| {
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
            loader.at(&at, message, hint);
        });
        return Some(FoundTemplate {
            name: template.to_string(),
            path: path.ok()?,
            library: Some((lib, rest.to_string())),
        });
    }
    if template
        .split_once('/')
        .is_some_and(|(lib, _)| sources.failed.contains(lib))
    {
        return None;
    }
    let path = templates::find(template, sources.search).map_err(|err| {
        let hint = match err {
            templates::LookupError::NotFound { .. } => {
                Some("add the file to one of these directories, or set ENVCTL_TEMPLATE_PATH".into())
            }
            templates::LookupError::InvalidName(_)
            | templates::LookupError::LeavesLibrary { .. } => None,
        };
        loader.at(&at, err.to_string(), hint);
    });
    Some(FoundTemplate {
        name: template.to_string(),
        path: path.ok()?,
        library: None,
    })
}

/// Renders the found template for this service with its params. `None` when a problem was
/// reported.
fn instantiate(
    loader: &mut Loader,
    name: &ServiceName,
    found: &FoundTemplate,
    with: &Mapping,
    ctx: &RenderContext,
) -> Option<Instantiated> {
    match templates::instantiate(&found.name, &found.path, name.as_str(), with, ctx) {
        Ok(i) => Some(i),
        Err(InstantiateError::Params(problems)) => {
            for p in problems {
                loader.at(&at_service(name, &p.path), p.message, p.hint);
            }
            None
        }
        Err(InstantiateError::Template(diags)) => {
            loader.problems.extend(diags.into_iter().map(|mut d| {
                d.message = found.in_library(d.message);
                d
            }));
            None
        }
    }
}

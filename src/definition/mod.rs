//! From a definition file to a validated `model::Environment`:
//! file --render (Tera)--> text --parse (YAML)--> Definition --resolve--> Environment.
//! YAML and Tera types stay inside this module.

mod bounded_filters;
mod budget;
mod diagnostics;
mod document;
mod extends;
mod forkable;
mod format;
mod host_paths;
mod init;
mod libraries;
mod load;
mod locate;
mod params;
mod problem;
mod render;
mod resolve;
mod sandbox;
mod schema;
mod seed_digests;
mod services;
mod sourcemap;
mod templates;
mod units;
mod validate;
mod values;
mod view;
mod written;

use std::path::PathBuf;

use crate::model::Environment;

pub use diagnostics::{Diagnostic, Location};
pub use document::LoadOptions;
pub use format::ParamType;
pub use host_paths::{verify_unchanged as verify_host_path, HostPathError};
pub use params::{Param, ParamValue};
pub use render::CONTEXT_VARIABLES;
pub use templates::{search_path as template_search_path, TemplateInfo};
pub use units::{
    format_duration, parse_duration, parse_limit, parse_memory, UnitError, MAX_DURATION,
};
pub use view::{EnvironmentView, ServiceView};

/// Every problem found while loading, each naming the file and line:col.
///
/// `rendered` starts with `error: `; Display leaves that first prefix out because the binary
/// prints every top-level error as `error: {err}`.
#[derive(Debug, thiserror::Error)]
#[error("{}", rendered.strip_prefix("error: ").unwrap_or(rendered))]
pub struct DefinitionError {
    /// The diagnostics, already formatted for a terminal.
    pub rendered: String,
    /// The problems, one by one (empty when the file itself was not found).
    pub diagnostics: Vec<Diagnostic>,
}

impl DefinitionError {
    fn from_diagnostics(diagnostics: Vec<Diagnostic>) -> Self {
        Self {
            rendered: diagnostics::render_all(&diagnostics),
            diagnostics,
        }
    }

    fn message(rendered: String) -> Self {
        Self {
            rendered,
            diagnostics: Vec::new(),
        }
    }
}

/// Finds the definition file: a path to a file, or a name in ./environments.
pub fn locate(env_or_path: &str) -> Result<PathBuf, DefinitionError> {
    let as_path = PathBuf::from(env_or_path);
    if as_path.is_file() {
        return Ok(as_path);
    }
    let in_dir = PathBuf::from("environments").join(format!("{env_or_path}.yaml"));
    if in_dir.is_file() {
        return Ok(in_dir);
    }
    let known: Vec<String> = list_environments()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let hint =
        diagnostics::did_you_mean(env_or_path, known.iter().map(String::as_str)).or_else(|| {
            (!known.is_empty()).then(|| format!("known environments: {}", known.join(", ")))
        });
    Err(DefinitionError::message(format!(
        "error: no environment `{env_or_path}`: neither a file nor {}{}",
        in_dir.display(),
        hint.map(|h| format!("\n  = help: {h}")).unwrap_or_default()
    )))
}

/// The definition files in ./environments, sorted.
pub fn list_environments() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir("environments")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// Loads, renders, parses, resolves and validates one environment.
pub fn load(env_or_path: &str, opts: &LoadOptions) -> Result<Environment, DefinitionError> {
    let path = locate(env_or_path)?;
    load::load_with(
        &path,
        opts,
        &templates::search_path(),
        libraries::Mode::Locked,
    )
    .map_err(DefinitionError::from_diagnostics)
}

/// One library pin that `update_libraries` changed (or added).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LibraryUpdate {
    pub git: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit before, when the ref was locked already.
    pub from: Option<String>,
    pub to: String,
}

/// What `update_libraries` did to one environment's lock file.
#[derive(Debug)]
pub struct UpdateOutcome {
    pub lock_file: PathBuf,
    pub changes: Vec<LibraryUpdate>,
    /// Problems found while loading the environment (the lock is written regardless, for the
    /// refs that resolved).
    pub problems: Option<DefinitionError>,
}

/// Re-resolves every library ref of one environment (fetching), rewrites its `envctl.lock`,
/// and says what changed. The environment is loaded in full, so its other problems are
/// reported too.
pub fn update_libraries(
    env_or_path: &str,
    opts: &LoadOptions,
) -> Result<UpdateOutcome, DefinitionError> {
    let path = locate(env_or_path)?;
    let lock_path = libraries::lockfile::path_for(&path);
    let before = libraries::lockfile::LockFile::read(&lock_path).unwrap_or_default();
    let loaded = load::load_with(
        &path,
        opts,
        &templates::search_path(),
        libraries::Mode::Update,
    );
    let after = libraries::lockfile::LockFile::read(&lock_path).unwrap_or_default();
    let changes = after
        .libraries
        .iter()
        .filter_map(|entry| {
            let from = before.commit(&entry.git, &entry.git_ref);
            (from != Some(entry.commit.as_str())).then(|| LibraryUpdate {
                git: entry.git.clone(),
                git_ref: entry.git_ref.clone(),
                from: from.map(str::to_string),
                to: entry.commit.clone(),
            })
        })
        .collect();
    Ok(UpdateOutcome {
        lock_file: lock_path,
        changes,
        problems: loaded.err().map(DefinitionError::from_diagnostics),
    })
}

/// The file after Tera rendering, before YAML parsing (for debugging templates).
pub fn render_text(env_or_path: &str, opts: &LoadOptions) -> Result<String, DefinitionError> {
    let path = locate(env_or_path)?;
    load::render_text(&path, opts).map_err(DefinitionError::from_diagnostics)
}

/// Every template on the search path, with its description and params, and the problems of
/// templates whose header could not be read (the others are still listed).
pub fn list_templates() -> (Vec<TemplateInfo>, Option<DefinitionError>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for entry in templates::list(&templates::search_path()) {
        match entry {
            Ok(info) => out.push(info),
            Err(diags) => problems.extend(diags),
        }
    }
    let error = (!problems.is_empty()).then(|| DefinitionError::from_diagnostics(problems));
    (out, error)
}

/// The templates of every library `env_or_path` declares, named `LIB/NAME`, with the
/// library's pin (`LIB/NAME@commit`) in `source`.
pub fn list_library_templates(
    env_or_path: &str,
    opts: &LoadOptions,
) -> Result<(Vec<TemplateInfo>, Option<DefinitionError>), DefinitionError> {
    let path = locate(env_or_path)?;
    let libraries = load::libraries_of(&path, opts).map_err(DefinitionError::from_diagnostics)?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for lib in libraries.values() {
        for entry in lib.list() {
            match entry {
                Ok(mut info) => {
                    info.source = Some(lib.label(&info.name));
                    info.name = format!("{}/{}", lib.name, info.name);
                    out.push(info);
                }
                Err(diags) => problems.extend(diags),
            }
        }
    }
    let error = (!problems.is_empty()).then(|| DefinitionError::from_diagnostics(problems));
    Ok((out, error))
}

/// One template of a library that `env_or_path` declares (`LIB/NAME`).
pub fn show_library_template(
    env_or_path: &str,
    name: &str,
    opts: &LoadOptions,
) -> Result<TemplateInfo, DefinitionError> {
    let path = locate(env_or_path)?;
    let libraries = load::libraries_of(&path, opts).map_err(DefinitionError::from_diagnostics)?;
    let Some((lib, rest)) = libraries::split(name, &libraries) else {
        return show_template(name);
    };
    let found = lib.find(rest).map_err(|e| {
        DefinitionError::message(match e {
            templates::LookupError::LeavesLibrary { .. } => {
                format!("error: {}: {e}", lib.describe())
            }
            _ => format!("error: template `{rest}` not found in {}", lib.describe()),
        })
    })?;
    let mut info = templates::info(name, &found).map_err(DefinitionError::from_diagnostics)?;
    info.source = Some(lib.label(rest));
    Ok(info)
}

/// The JSON Schema of definition files, generated from the format structs.
pub fn definition_schema() -> serde_json::Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(format::DefinitionFile)).unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), "envctl environment definition (v1)".into());
    }
    schema
}

/// The JSON Schema of service template files.
pub fn template_schema() -> serde_json::Value {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(format::TemplateBody)).unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), "envctl service template (v1)".into());
    }
    schema
}

/// One template, found on the search path.
pub fn show_template(name: &str) -> Result<TemplateInfo, DefinitionError> {
    let path = templates::find(name, &templates::search_path())
        .map_err(|e| DefinitionError::message(format!("error: {e}")))?;
    templates::info(name, &path).map_err(DefinitionError::from_diagnostics)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_leaves_the_first_error_prefix_to_the_caller() {
        let err = DefinitionError::from_diagnostics(vec![Diagnostic::new(
            std::path::Path::new("x.yaml"),
            "bad",
        )]);
        assert!(err.rendered.starts_with("error: bad"));
        assert!(err.to_string().starts_with("bad\n"));
        let anyhow_err = anyhow::Error::from(err);
        assert!(crate::errors::render_error(&anyhow_err).starts_with("error: bad\n"));
    }
}

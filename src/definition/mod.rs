//! From a definition file to a validated `model::Environment`:
//! file --render (Tera)--> text --parse (YAML)--> Definition --resolve--> Environment.
//! YAML and Tera types stay inside this module.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::model::Environment;

/// Inputs that are not in the file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub feature: Option<String>,
    /// `--set key=value`, available to templates as `set.key`.
    pub set: BTreeMap<String, String>,
    /// The address outsiders use to reach published ports (`advertise_host` in templates).
    pub advertise_host: String,
}

/// Every problem found while loading, each naming the file and line:col.
#[derive(Debug, thiserror::Error)]
#[error("{rendered}")]
pub struct DefinitionError {
    /// The diagnostics, already formatted for a terminal.
    pub rendered: String,
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
    Err(DefinitionError {
        rendered: format!(
            "no environment `{env_or_path}`: neither a file nor {}",
            in_dir.display()
        ),
    })
}

/// Loads, renders, parses, resolves and validates one environment.
pub fn load(env_or_path: &str, _opts: &LoadOptions) -> Result<Environment, DefinitionError> {
    let path = locate(env_or_path)?;
    Err(DefinitionError {
        rendered: format!(
            "{}: loading definitions is not implemented yet",
            path.display()
        ),
    })
}

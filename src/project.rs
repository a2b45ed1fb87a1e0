//! The project file `envctl.yaml` beside `environments/`: settings a team shares in its
//! repository (the engine its environments live on, the registry a cluster pulls local
//! images from).

use std::path::{Path, PathBuf};

/// The project file's name, looked up in the working directory.
pub const FILE: &str = "envctl.yaml";

/// The environment variable that overrides `registry:` of the project file.
pub const REGISTRY_VAR: &str = crate::settings::REGISTRY;

/// What the project file may say; any other key is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The engine: a URL (`tcp://server:2375`) or a docker context name.
    pub engine: Option<String>,
    /// The registry (`host[:port][/path]`) images built on this machine are pushed to for a
    /// Kubernetes cluster to pull (`ENVCTL_REGISTRY` overrides it).
    pub registry: Option<String>,
}

/// The project file cannot be used: names the file and the line.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: serde_yaml::Error,
    },
    #[error("{path}: `engine:` is empty; remove the line for the default engine")]
    EmptyEngine { path: PathBuf },
    #[error("{set_in}: registry `{value}` {why}")]
    BadRegistry {
        set_in: RegistrySource,
        value: String,
        why: &'static str,
    },
}

/// Where the effective registry was set, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrySource {
    /// The `ENVCTL_REGISTRY` environment variable.
    Environment,
    /// `registry:` in this project file.
    ProjectFile(PathBuf),
}

impl std::fmt::Display for RegistrySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Environment => write!(f, "{REGISTRY_VAR}"),
            Self::ProjectFile(path) => write!(f, "{}", path.display()),
        }
    }
}

/// The registry local images are pushed to, and where it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// `host[:port][/path]`, without a trailing `/`.
    pub address: String,
    pub source: RegistrySource,
}

impl std::fmt::Display for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            RegistrySource::Environment => write!(f, "{} (from {REGISTRY_VAR})", self.address),
            RegistrySource::ProjectFile(path) => {
                write!(f, "{} (`registry:` in {})", self.address, path.display())
            }
        }
    }
}

/// The project file of `dir`, when there is one.
pub fn load(dir: &Path) -> Result<Option<(PathBuf, ProjectConfig)>, ProjectError> {
    let path = dir.join(FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ProjectError::Read { path, source }),
    };
    if text.trim().is_empty() {
        return Ok(Some((path, ProjectConfig::default())));
    }
    let config: ProjectConfig =
        serde_yaml::from_str(&text).map_err(|source| ProjectError::Parse {
            path: path.clone(),
            source,
        })?;
    if config
        .engine
        .as_deref()
        .is_some_and(|e| e.trim().is_empty())
    {
        return Err(ProjectError::EmptyEngine { path });
    }
    Ok(Some((path, config)))
}

/// The effective registry: `ENVCTL_REGISTRY` when set, else `registry:` of the working
/// directory's project file; `None` when neither says one.
pub fn registry() -> Result<Option<Registry>, ProjectError> {
    let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    registry_from(std::env::var(REGISTRY_VAR).ok(), &dir)
}

/// `registry` with the variable's value and the directory given.
pub fn registry_from(
    variable: Option<String>,
    dir: &Path,
) -> Result<Option<Registry>, ProjectError> {
    // An empty variable is an error below, not unset: it is nearly always a script's unset
    // shell variable, and silently using the file's registry instead would hide that.
    let (value, source) = match variable {
        Some(value) => (value, RegistrySource::Environment),
        None => match load(dir)? {
            Some((
                path,
                ProjectConfig {
                    registry: Some(value),
                    ..
                },
            )) => (value, RegistrySource::ProjectFile(path)),
            _ => return Ok(None),
        },
    };
    let bad = |why| ProjectError::BadRegistry {
        set_in: source.clone(),
        value: value.clone(),
        why,
    };
    let address = value.trim().trim_end_matches('/');
    if address.is_empty() {
        return Err(bad(
            "is empty: give host[:port], e.g. registry.example.com:5000",
        ));
    }
    if address.contains("://") {
        return Err(bad("has a scheme: give host[:port][/path] as in an image name, e.g. registry.example.com:5000"));
    }
    if address.contains(char::is_whitespace) || address.contains('@') {
        return Err(bad(
            "is not host[:port][/path] as in an image name, e.g. registry.example.com:5000",
        ));
    }
    Ok(Some(Registry {
        address: address.to_string(),
        source,
    }))
}

/// `engine:` of the working directory's project file, with the file's path.
pub fn engine_entry() -> Result<Option<(PathBuf, String)>, ProjectError> {
    let dir = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Ok(load(&dir)?.and_then(|(path, config)| config.engine.map(|engine| (path, engine))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(text: &str) -> (tempfile::TempDir, Result<Option<ProjectConfig>, String>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), text).unwrap();
        let loaded = load(dir.path())
            .map(|found| found.map(|(_, config)| config))
            .map_err(|e| e.to_string());
        (dir, loaded)
    }

    #[test]
    fn engine_entry_and_no_file() {
        let empty = tempfile::tempdir().unwrap();
        assert!(load(empty.path()).unwrap().is_none());
        let (_dir, loaded) = project("engine: tcp://server:2375\n");
        assert_eq!(
            loaded.unwrap().unwrap().engine.as_deref(),
            Some("tcp://server:2375")
        );
    }

    #[test]
    fn unknown_keys_and_empty_engine_name_the_file_and_line() {
        let (_dir, loaded) = project("engine: tcp://s:2375\nengnie: x\n");
        let err = loaded.unwrap_err();
        assert!(
            err.contains("envctl.yaml") && err.contains("line 2"),
            "{err}"
        );
        let (_dir, loaded) = project("engine: ''\n");
        assert!(loaded.unwrap_err().contains("`engine:` is empty"));
    }

    #[test]
    fn the_registry_comes_from_the_variable_else_the_project_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(registry_from(None, dir.path()).unwrap(), None);
        let file = dir.path().join(FILE);
        std::fs::write(&file, "registry: registry.example.com:5000/shop/\n").unwrap();
        let from_file = registry_from(None, dir.path()).unwrap().unwrap();
        assert_eq!(from_file.address, "registry.example.com:5000/shop");
        assert_eq!(from_file.source, RegistrySource::ProjectFile(file.clone()));
        assert_eq!(
            from_file.to_string(),
            format!(
                "registry.example.com:5000/shop (`registry:` in {})",
                file.display()
            )
        );
        let from_env = registry_from(Some("127.0.0.1:5000".into()), dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(from_env.address, "127.0.0.1:5000");
        assert_eq!(
            from_env.to_string(),
            "127.0.0.1:5000 (from ENVCTL_REGISTRY)"
        );
        // An empty variable is refused, not taken for unset.
        assert_eq!(
            registry_from(Some(" ".into()), dir.path())
                .unwrap_err()
                .to_string(),
            "ENVCTL_REGISTRY: registry ` ` is empty: give host[:port], e.g. registry.example.com:5000"
        );
    }

    #[test]
    fn a_registry_that_is_no_image_prefix_is_refused_naming_where_it_was_set() {
        let err = registry_from(Some("http://r:5000".into()), Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "ENVCTL_REGISTRY: registry `http://r:5000` has a scheme: give host[:port][/path] as in an image name, e.g. registry.example.com:5000"
        );
        let (dir, _) = project("registry: ''\n");
        let err = registry_from(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains("envctl.yaml: registry `` is empty"), "{err}");
        let (_dir, loaded) = project("registry: r:5000\nregistyr: x\n");
        assert!(loaded.unwrap_err().contains("line 2"));
    }
}

//! The project file `envctl.yaml` beside `environments/`: settings a team shares in its
//! repository (today the engine its environments live on).

use std::path::{Path, PathBuf};

/// The project file's name, looked up in the working directory.
pub const FILE: &str = "envctl.yaml";

/// The environment variable that overrides `registry:` of the project file.
pub const REGISTRY_VAR: &str = "ENVCTL_REGISTRY";

/// What the project file may say; any other key is an error.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// The engine: a URL (`tcp://server:2375`) or a docker context name.
    pub engine: Option<String>,
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
}

//! Which engine envctl talks to, chosen as Docker users expect. Pure over its inputs (the
//! variables and the Docker CLI's config directory), so every rule is unit-tested.
//!
//! Precedence, first that is set wins:
//! 1. `--engine URL|CONTEXT`
//! 2. `ENVCTL_ENGINE`
//! 3. `engine:` in the project file `envctl.yaml` (see `engine::project`)
//! 4. `DOCKER_HOST` (with `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH` for TLS)
//! 5. `DOCKER_CONTEXT`
//! 6. the Docker CLI's current context (`currentContext` in `$DOCKER_CONFIG/config.json`)
//! 7. the local socket `unix:///var/run/docker.sock`
//!
//! envctl's own settings come first: they are about envctl; the Docker ones order as in the
//! Docker CLI (`DOCKER_HOST` beats `DOCKER_CONTEXT`, which beats the current context).
//!
//! The first three may also name a Kubernetes cluster: `kubernetes` (the kubeconfig's current
//! context: `KUBECONFIG`, else `~/.kube/config`) or `kubernetes:CONTEXT`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";
/// The name of the Docker CLI's implicit context: `DOCKER_HOST`, else the local socket.
const DEFAULT_CONTEXT: &str = "default";

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineUrl {
    Unix(PathBuf),
    Tcp {
        host: String,
        port: u16,
        tls: Option<TlsFiles>,
    },
    /// `ssh://[user@]host[:port]`: recognised, so the error can say it is not supported yet.
    Ssh {
        authority: String,
    },
    /// A Kubernetes cluster from the kubeconfig: its current context, or the one named.
    Kubernetes {
        context: Option<String>,
    },
}

/// The engine value that names a cluster instead of a Docker engine.
const KUBERNETES: &str = "kubernetes";

/// Client certificate, key and CA for a TLS connection (`ca.pem`, `cert.pem`, `key.pem`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub dir: PathBuf,
}

impl TlsFiles {
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
    pub fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }
}

/// Which setting chose the engine (shown by `ls`/`status`, so a surprise is explained).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSource {
    Flag,
    EnvctlEngine,
    Project(PathBuf),
    DockerHost,
    DockerContext(String),
    CurrentContext(String),
    Default,
}

impl fmt::Display for TargetSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => write!(f, "--engine"),
            Self::EnvctlEngine => write!(f, "ENVCTL_ENGINE"),
            Self::Project(path) => write!(f, "engine: in {}", path.display()),
            Self::DockerHost => write!(f, "DOCKER_HOST"),
            Self::DockerContext(name) => write!(f, "DOCKER_CONTEXT={name}"),
            Self::CurrentContext(name) => write!(f, "docker context {name}"),
            Self::Default => write!(f, "default"),
        }
    }
}

/// The chosen engine and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineTarget {
    pub url: EngineUrl,
    pub source: TargetSource,
}

impl EngineTarget {
    /// The local socket, as when nothing is set.
    pub fn local() -> Self {
        Self {
            url: EngineUrl::Unix(PathBuf::from(DEFAULT_SOCKET)),
            source: TargetSource::Default,
        }
    }

    /// The engine's host when it is reached over the network (`None` for a unix socket): its
    /// published ports are there, so probes dial it and outsiders are told it.
    pub fn remote_host(&self) -> Option<&str> {
        match &self.url {
            EngineUrl::Tcp { host, .. } => Some(host),
            EngineUrl::Unix(_) | EngineUrl::Ssh { .. } | EngineUrl::Kubernetes { .. } => None,
        }
    }

    /// The kubeconfig context to use, when the engine is a Kubernetes cluster (`Some(None)`:
    /// the current context).
    pub fn kubernetes(&self) -> Option<Option<&str>> {
        match &self.url {
            EngineUrl::Kubernetes { context } => Some(context.as_deref()),
            _ => None,
        }
    }

    /// The URL as the user would write it (`unix:///…`, `tcp://h:p`; TLS is said apart).
    pub fn url_text(&self) -> String {
        self.url.to_string()
    }
}

impl fmt::Display for EngineUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
            Self::Tcp { host, port, tls } => {
                let host = crate::advertise::join_host_port(host, *port);
                let tls = if tls.is_some() { " (TLS)" } else { "" };
                write!(f, "tcp://{host}{tls}")
            }
            Self::Ssh { authority } => write!(f, "ssh://{authority}"),
            Self::Kubernetes { context: None } => write!(f, "{KUBERNETES}"),
            Self::Kubernetes {
                context: Some(context),
            } => write!(f, "{KUBERNETES}:{context}"),
        }
    }
}

impl fmt::Display for EngineTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (from {})", self.url, self.source)
    }
}

/// A setting that names no usable engine; says which setting and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{source_name}: `{value}` is not an engine address: {reason} (expected unix:///path/docker.sock, tcp://HOST:PORT, a docker context name, or kubernetes[:CONTEXT])")]
    BadUrl {
        source_name: String,
        value: String,
        reason: String,
    },
    #[error("{source_name}: docker context `{name}` does not exist (no {meta}); `docker context ls` lists them")]
    NoSuchContext {
        source_name: String,
        name: String,
        meta: PathBuf,
    },
    #[error("{source_name}: docker context `{name}`: {path}: {reason}")]
    BadContext {
        source_name: String,
        name: String,
        path: PathBuf,
        reason: String,
    },
    #[error("{path}: {reason}")]
    BadDockerConfig { path: PathBuf, reason: String },
    #[error("DOCKER_TLS_VERIFY is set but {missing} does not exist; set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem")]
    MissingTlsFile { missing: PathBuf },
}

/// Everything the choice depends on, read once from the process (`from_process`) or built by
/// hand in tests.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub flag: Option<String>,
    pub envctl_engine: Option<String>,
    /// `engine:` of the project file, with the file's path.
    pub project: Option<(PathBuf, String)>,
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    pub tls_verify: bool,
    /// `DOCKER_CERT_PATH`, else the Docker config directory.
    pub cert_path: Option<PathBuf>,
    /// `DOCKER_CONFIG`, else `~/.docker`.
    pub docker_config: Option<PathBuf>,
}

impl Selection {
    /// The variables of this process; `flag` is `--engine`, `project` the project file's entry.
    pub fn from_process(flag: Option<String>, project: Option<(PathBuf, String)>) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let docker_config = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|home| home.join(".docker")));
        Self {
            flag,
            envctl_engine: var("ENVCTL_ENGINE"),
            project,
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            // The Docker CLI turns TLS on for any non-empty value, "0" included.
            tls_verify: var("DOCKER_TLS_VERIFY").is_some(),
            cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
            docker_config,
        }
    }
}

/// Chooses the engine (see the module comment for the order).
pub fn resolve(sel: &Selection) -> Result<EngineTarget, TargetError> {
    let chosen = [
        (sel.flag.clone(), TargetSource::Flag),
        (sel.envctl_engine.clone(), TargetSource::EnvctlEngine),
        (
            sel.project.as_ref().map(|(_, v)| v.clone()),
            TargetSource::Project(sel.project.clone().map(|(p, _)| p).unwrap_or_default()),
        ),
    ]
    .into_iter()
    .find_map(|(value, source)| value.map(|v| (v, source)));
    if let Some((value, source)) = chosen {
        if let Some(url) = kubernetes_value(&value, &source)? {
            return Ok(EngineTarget { url, source });
        }
        return if value.contains("://") {
            let url = parse_url(&value, &source, None)?;
            Ok(EngineTarget { url, source })
        } else {
            from_context(sel, &value, source)
        };
    }
    if let Some(host) = &sel.docker_host {
        return docker_host_target(sel, host, TargetSource::DockerHost);
    }
    if let Some(name) = &sel.docker_context {
        return from_context(sel, name, TargetSource::DockerContext(name.clone()));
    }
    if let Some(name) = current_context(sel)? {
        return from_context(sel, &name, TargetSource::CurrentContext(name.clone()));
    }
    Ok(EngineTarget::local())
}

/// `kubernetes` or `kubernetes:CONTEXT` (`None` for any other value: a Docker engine).
fn kubernetes_value(value: &str, source: &TargetSource) -> Result<Option<EngineUrl>, TargetError> {
    let Some(rest) = value.strip_prefix(KUBERNETES) else {
        return Ok(None);
    };
    if rest.is_empty() {
        return Ok(Some(EngineUrl::Kubernetes { context: None }));
    }
    match rest.strip_prefix(':') {
        Some(context) if !context.trim().is_empty() => Ok(Some(EngineUrl::Kubernetes {
            context: Some(context.to_string()),
        })),
        Some(_) => Err(TargetError::BadUrl {
            source_name: source.to_string(),
            value: value.to_string(),
            reason: "no kubeconfig context after `kubernetes:`".into(),
        }),
        // `kubernetes-lab`: a docker context that happens to start with the word.
        None => Ok(None),
    }
}

/// `DOCKER_HOST`, with TLS from `DOCKER_TLS_VERIFY`/`DOCKER_CERT_PATH` for `tcp://`.
fn docker_host_target(
    sel: &Selection,
    host: &str,
    source: TargetSource,
) -> Result<EngineTarget, TargetError> {
    let tls = if sel.tls_verify {
        let dir = sel
            .cert_path
            .clone()
            .or_else(|| sel.docker_config.clone())
            .unwrap_or_default();
        let files = TlsFiles { dir };
        for file in [files.ca(), files.cert(), files.key()] {
            if !file.is_file() {
                return Err(TargetError::MissingTlsFile { missing: file });
            }
        }
        Some(files)
    } else {
        None
    };
    let url = parse_url(host, &source, tls)?;
    Ok(EngineTarget { url, source })
}

/// The engine of a docker context: `contexts/meta/<sha256(name)>/meta.json` in the Docker
/// config directory, TLS files (when the context has them) in `contexts/tls/<sha256>/docker/`.
fn from_context(
    sel: &Selection,
    name: &str,
    source: TargetSource,
) -> Result<EngineTarget, TargetError> {
    if name == DEFAULT_CONTEXT {
        return match &sel.docker_host {
            Some(host) => docker_host_target(sel, host, source),
            None => Ok(EngineTarget {
                source,
                ..EngineTarget::local()
            }),
        };
    }
    let config = sel.docker_config.clone().unwrap_or_default();
    let meta = context_meta_path(&config, name);
    let source_name = source.to_string();
    let text = std::fs::read_to_string(&meta).map_err(|_| TargetError::NoSuchContext {
        source_name: source_name.clone(),
        name: name.to_string(),
        meta: meta.clone(),
    })?;
    let bad = |reason: String| TargetError::BadContext {
        source_name: source_name.clone(),
        name: name.to_string(),
        path: meta.clone(),
        reason,
    };
    let parsed: ContextMeta = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let endpoint = parsed
        .endpoints
        .get("docker")
        .ok_or_else(|| bad("it has no docker endpoint".into()))?;
    let tls_dir = config
        .join("contexts")
        .join("tls")
        .join(context_digest(name))
        .join("docker");
    let tls = (endpoint.host.starts_with("tcp://") && tls_dir.join("ca.pem").is_file())
        .then_some(TlsFiles { dir: tls_dir });
    if endpoint.skip_tls_verify {
        return Err(bad(
            "SkipTLSVerify is set; envctl always verifies the engine's certificate".into(),
        ));
    }
    let url = parse_url(&endpoint.host, &source, tls)?;
    Ok(EngineTarget { url, source })
}

#[derive(serde::Deserialize)]
struct ContextMeta {
    #[serde(rename = "Endpoints", default)]
    endpoints: BTreeMap<String, ContextEndpoint>,
}

#[derive(serde::Deserialize)]
struct ContextEndpoint {
    #[serde(rename = "Host")]
    host: String,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// `currentContext` of `config.json` in the Docker config directory, when it names one.
fn current_context(sel: &Selection) -> Result<Option<String>, TargetError> {
    let Some(dir) = &sel.docker_config else {
        return Ok(None);
    };
    let path = dir.join("config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(rename = "currentContext", default)]
        current_context: Option<String>,
    }
    let config: Config = serde_json::from_str(&text).map_err(|e| TargetError::BadDockerConfig {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(config
        .current_context
        .filter(|name| !name.is_empty() && name != DEFAULT_CONTEXT))
}

/// `unix:///path`, `tcp://host:port` (also `http://`; `https://` means TLS), `ssh://…`.
fn parse_url(
    value: &str,
    source: &TargetSource,
    tls: Option<TlsFiles>,
) -> Result<EngineUrl, TargetError> {
    let bad = |reason: &str| TargetError::BadUrl {
        source_name: source.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let (scheme, rest) = value.split_once("://").ok_or_else(|| bad("no scheme"))?;
    match scheme {
        "unix" if rest.starts_with('/') => Ok(EngineUrl::Unix(PathBuf::from(rest))),
        "unix" => Err(bad("the socket path must be absolute")),
        "tcp" | "http" | "https" => {
            let url = url::Url::parse(&format!("tcp://{rest}")).map_err(|e| bad(&e.to_string()))?;
            let host = url
                .host_str()
                .filter(|h| !h.is_empty())
                .ok_or_else(|| bad("no host"))?
                .trim_matches(['[', ']'])
                .to_string();
            if !matches!(url.path(), "" | "/") {
                return Err(bad("a path after the port is not allowed"));
            }
            let default_port = if tls.is_some() || scheme == "https" {
                2376
            } else {
                2375
            };
            if scheme == "https" && tls.is_none() {
                return Err(bad(
                    "https:// needs DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH with the client certificate",
                ));
            }
            Ok(EngineUrl::Tcp {
                host,
                port: url.port().unwrap_or(default_port),
                tls,
            })
        }
        "ssh" if !rest.is_empty() => Ok(EngineUrl::Ssh {
            authority: rest.trim_end_matches('/').to_string(),
        }),
        _ => Err(bad("unsupported scheme")),
    }
}

/// The directory name the Docker CLI gives a context's files: the hex SHA-256 of its name.
fn context_digest(name: &str) -> String {
    hex::encode(Sha256::digest(name.as_bytes()))
}

/// Where the Docker CLI keeps a context's endpoints: `contexts/meta/<digest>/meta.json`.
pub fn context_meta_path(config: &Path, name: &str) -> PathBuf {
    config
        .join("contexts")
        .join("meta")
        .join(context_digest(name))
        .join("meta.json")
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;

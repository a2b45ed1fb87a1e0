//! Connecting to the Docker engine, and how its errors are worded for the user.

use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::Docker;

use crate::advertise::join_host_port;
use crate::engine::target::{self, EngineTarget, EngineUrl};
use crate::engine::{Engine, EngineError, EngineResult};

/// The oldest Docker API envctl supports (Engine 20.10).
pub const MIN_API_VERSION: (u32, u32) = (1, 41);
/// How long `connect` waits for the daemon to answer before calling it unreachable.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The deadline of every request (until the engine starts answering): a dropped link to a
/// remote engine is an error after this long, never a hang. Streams (logs, events, pulls) are
/// read on without it once they have started.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to a Docker engine.
#[derive(Clone)]
pub struct DockerEngine {
    pub(super) docker: Docker,
    pub(super) endpoint: String,
    /// Where images the engine lacks are copied from (this machine's engine, for an engine
    /// elsewhere; `transfer`); `None`: they are pulled.
    pub(super) image_source: Option<EngineTarget>,
    /// How long a copy may go without a byte moving or a word from the engine (`transfer`).
    pub(super) stall_window: Duration,
}

impl std::fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEngine")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl DockerEngine {
    /// Connects to the engine the process environment names (`DOCKER_HOST`, docker contexts;
    /// see `engine::target`), as tests and tools without `--engine` do.
    pub async fn connect() -> EngineResult<Self> {
        let target =
            target::resolve(&target::Selection::from_process(None, None)).map_err(|e| {
                EngineError::Unreachable {
                    endpoint: "the configured engine".into(),
                    reason: e.to_string(),
                }
            })?;
        Self::connect_to(&target).await
    }

    /// Connects to `target`, checks the daemon answers within a few seconds and negotiates the
    /// API version down to the daemon's. Every later request has `REQUEST_TIMEOUT`.
    pub async fn connect_to(target: &EngineTarget) -> EngineResult<Self> {
        let endpoint = target.to_string();
        let unreachable = |err: &BollardError| EngineError::Unreachable {
            endpoint: endpoint.clone(),
            reason: unreachable_reason(err),
        };
        let docker = client(target).map_err(|e| match e {
            ClientError::Bollard(err) => unreachable(&err),
            ClientError::Unsupported(reason) => EngineError::Unreachable {
                endpoint: endpoint.clone(),
                reason,
            },
        })?;
        let timed_out = || {
            EngineError::Unreachable {
            endpoint: endpoint.clone(),
            reason: format!(
                "no answer within {}s: the engine is hung, the network to it is down, or the address points at something else; restart it (`sudo systemctl restart docker`) or fix the address",
                CONNECT_TIMEOUT.as_secs()
            ),
        }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, docker.ping())
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| unreachable(&e))?;
        let docker = tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version())
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| unreachable(&e))?;
        let engine = Self {
            docker,
            endpoint,
            image_source: None,
            stall_window: REQUEST_TIMEOUT,
        };
        let info = engine.info().await?;
        match parse_api_version(&info.api_version) {
            Some(found) if found >= MIN_API_VERSION => Ok(engine),
            _ => Err(EngineError::TooOld {
                found: info.api_version,
                needed: format!("{}.{}", MIN_API_VERSION.0, MIN_API_VERSION.1),
            }),
        }
    }

    /// The engine's address and the setting that chose it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
}

enum ClientError {
    Bollard(BollardError),
    Unsupported(String),
}

/// A client for `target` (no request is made yet).
fn client(target: &EngineTarget) -> Result<Docker, ClientError> {
    let secs = REQUEST_TIMEOUT.as_secs();
    let version = bollard::API_DEFAULT_VERSION;
    let docker = match &target.url {
        EngineUrl::Unix(path) => Docker::connect_with_unix(&path.to_string_lossy(), secs, version),
        EngineUrl::Tcp {
            host,
            port,
            tls: None,
        } => Docker::connect_with_http(
            &format!("tcp://{}", join_host_port(host, *port)),
            secs,
            version,
        ),
        EngineUrl::Tcp {
            host,
            port,
            tls: Some(files),
        } => Docker::connect_with_ssl(
            &format!("https://{}", join_host_port(host, *port)),
            &files.key(),
            &files.cert(),
            &files.ca(),
            secs,
            version,
        ),
        EngineUrl::Ssh { .. } => {
            return Err(ClientError::Unsupported(
                "ssh:// engines are not supported yet; forward the engine's socket \
                 (`ssh -nNT -L /tmp/engine.sock:/var/run/docker.sock USER@HOST`) and use \
                 unix:///tmp/engine.sock, or have the server listen on tcp:// with TLS"
                    .into(),
            ))
        }
        EngineUrl::Kubernetes { .. } => {
            return Err(ClientError::Unsupported(
                "a Kubernetes cluster is not a Docker engine".into(),
            ))
        }
    };
    docker.map_err(ClientError::Bollard)
}

pub(super) fn parse_api_version(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// A reason a user can act on, from a failed connection attempt.
pub(super) fn unreachable_reason(err: &BollardError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    let lower = text.to_lowercase();
    if matches!(err, BollardError::SocketNotFoundError(_))
        || lower.contains("no such file")
        || lower.contains("not found")
    {
        format!("the socket does not exist: start the engine (`sudo systemctl start docker`) or set DOCKER_HOST to its socket ({text})")
    } else if lower.contains("permission denied") {
        format!(
            "permission denied on the socket: add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again) or run as root ({text})"
        )
    } else if lower.contains("invalid peer certificate") {
        format!("the engine's TLS certificate is not one the CA in DOCKER_CERT_PATH (ca.pem) signed, or not for this address: point DOCKER_CERT_PATH at this engine's client certificates ({text})")
    } else if lower.contains("alert") && lower.contains("certificate") {
        format!("the engine refused this machine's client certificate (cert.pem, key.pem in DOCKER_CERT_PATH): use one signed by the engine's CA ({text})")
    } else if lower.contains("connection refused") {
        format!("nothing answers there: start the engine (`sudo systemctl start docker`) or set DOCKER_HOST to the right address ({text})")
    } else {
        format!("check that DOCKER_HOST names the engine's socket, e.g. unix:///var/run/docker.sock ({text})")
    }
}

/// Maps a bollard error to ours: 404 and 409 become NotFound and Conflict on `what`.
pub(super) fn api_err(
    endpoint: &str,
    op: &'static str,
    what: impl Into<String>,
) -> impl FnOnce(BollardError) -> EngineError {
    let what = what.into();
    let endpoint = endpoint.to_string();
    move |err| match err {
        BollardError::DockerResponseServerError {
            status_code: 404, ..
        } => EngineError::NotFound { what },
        BollardError::DockerResponseServerError {
            status_code: 409, ..
        } => EngineError::Conflict { what },
        BollardError::DockerResponseServerError { message, .. } => EngineError::Api {
            context: format!("{op} {what}"),
            message,
        },
        BollardError::SocketNotFoundError(_)
        | BollardError::HyperLegacyError { .. }
        | BollardError::IOError { .. } => EngineError::Unreachable {
            endpoint,
            reason: unreachable_reason(&err),
        },
        other => EngineError::Api {
            context: format!("{op} {what}"),
            message: other.to_string(),
        },
    }
}

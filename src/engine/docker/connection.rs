//! Connecting to the Docker engine, and how its errors are worded for the user.

use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::Docker;

use crate::engine::{Engine, EngineError, EngineResult};

/// The oldest Docker API envctl supports (Engine 20.10).
pub const MIN_API_VERSION: (u32, u32) = (1, 41);
/// How long `connect` waits for the daemon to answer before calling it unreachable.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub(super) const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A connection to a Docker engine.
#[derive(Clone)]
pub struct DockerEngine {
    pub(super) docker: Docker,
    pub(super) endpoint: String,
}

impl std::fmt::Debug for DockerEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerEngine")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl DockerEngine {
    /// Connects with the local defaults (honouring `DOCKER_HOST`), checks the daemon answers
    /// within a few seconds and negotiates the API version down to the daemon's.
    pub async fn connect() -> EngineResult<Self> {
        let endpoint = std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string());
        let unreachable = |err: &BollardError| EngineError::Unreachable {
            endpoint: endpoint.clone(),
            reason: unreachable_reason(err),
        };
        let docker = Docker::connect_with_defaults().map_err(|e| unreachable(&e))?;
        let timed_out = || {
            EngineError::Unreachable {
            endpoint: endpoint.clone(),
            reason: format!(
                "no answer within {}s: the engine is hung or DOCKER_HOST points at something else; restart it (`sudo systemctl restart docker`) or fix DOCKER_HOST",
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
        let engine = Self { docker, endpoint };
        let info = engine.info().await?;
        match parse_api_version(&info.api_version) {
            Some(found) if found >= MIN_API_VERSION => Ok(engine),
            _ => Err(EngineError::TooOld {
                found: info.api_version,
                needed: format!("{}.{}", MIN_API_VERSION.0, MIN_API_VERSION.1),
            }),
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
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
    } else if lower.contains("connection refused") {
        format!("nothing answers there: start the engine (`sudo systemctl start docker`) or set DOCKER_HOST to the right address ({text})")
    } else {
        format!("check that DOCKER_HOST names the engine's socket, e.g. unix:///var/run/docker.sock ({text})")
    }
}

/// Maps a bollard error to ours: 404 and 409 become NotFound and Conflict on `what`.
pub(super) fn api_err(
    op: &'static str,
    what: impl Into<String>,
) -> impl FnOnce(BollardError) -> EngineError {
    let what = what.into();
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
            endpoint: std::env::var("DOCKER_HOST").unwrap_or_else(|_| DEFAULT_HOST.to_string()),
            reason: unreachable_reason(&err),
        },
        other => EngineError::Api {
            context: format!("{op} {what}"),
            message: other.to_string(),
        },
    }
}

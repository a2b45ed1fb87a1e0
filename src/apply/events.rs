//! What `apply` and `down` report while they work. They never print; `output` draws these.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// One step of one service (or of an instance resource such as its network).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceEvent {
    /// The service name, or `network NAME` / `volume NAME` / `orphan NAME` for resources.
    pub service: String,
    #[serde(flatten)]
    pub phase: Phase,
    /// Time since the operation (up, down) began.
    #[serde(serialize_with = "as_seconds")]
    pub elapsed: Duration,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Pulling the service's image; `progress` is the latest layer status.
    Pulling {
        image: String,
        progress: String,
    },
    /// Copying the service's image from this machine's engine to the engine (on another
    /// machine): `sent` of `total` bytes.
    Copying {
        image: String,
        sent: u64,
        total: u64,
    },
    /// Building the service's image; `line` is the latest build output.
    Building {
        image: String,
        line: String,
    },
    /// The container is up to date and running; nothing to do.
    Unchanged,
    Creating,
    /// Replacing the container; these fields changed.
    Recreating {
        changed: Vec<String>,
    },
    Starting,
    /// Waiting on a dependency or a health check.
    Waiting {
        reason: String,
    },
    /// Running an `init:` step (seeding its data); `step` says which.
    Seeding {
        step: String,
    },
    /// Started, not waited on (`--no-wait`).
    Started,
    /// Running and healthy.
    Ready,
    /// A job that exited with status 0.
    Completed,
    Removing,
    Removed,
    /// Created (networks, volumes).
    Created,
    Failed {
        reason: String,
        logs: Vec<String>,
    },
}

impl Phase {
    /// A phase after which nothing more happens to this service.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Phase::Unchanged
                | Phase::Started
                | Phase::Ready
                | Phase::Completed
                | Phase::Removed
                | Phase::Created
                | Phase::Failed { .. }
        )
    }

    /// A short word for progress lines.
    pub fn word(&self) -> &'static str {
        match self {
            Phase::Pulling { .. } => "pulling",
            Phase::Copying { .. } => "copying",
            Phase::Building { .. } => "building",
            Phase::Unchanged => "unchanged",
            Phase::Creating => "creating",
            Phase::Recreating { .. } => "recreating",
            Phase::Starting => "starting",
            Phase::Waiting { .. } => "waiting",
            Phase::Seeding { .. } => "seeding",
            Phase::Started => "started",
            Phase::Ready => "ready",
            Phase::Completed => "completed",
            Phase::Removing => "removing",
            Phase::Removed => "removed",
            Phase::Created => "created",
            Phase::Failed { .. } => "failed",
        }
    }

    /// The phase's detail, if any, in one line.
    pub fn detail(&self) -> String {
        match self {
            Phase::Pulling { image, progress } => format!("{image} {progress}"),
            Phase::Copying { image, sent, total } => format!(
                "{image} to the engine: {:.1}/{:.1} MB",
                super::pull_progress::mb(*sent),
                super::pull_progress::mb(*total)
            ),
            Phase::Building { image, line } => format!("{image} {line}"),
            Phase::Recreating { changed } => format!("changed: {}", changed.join(", ")),
            Phase::Waiting { reason } => reason.clone(),
            Phase::Seeding { step } => step.clone(),
            Phase::Failed { reason, .. } => reason.clone(),
            _ => String::new(),
        }
    }
}

fn as_seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Where events go.
pub type EventSink = Arc<dyn Fn(ServiceEvent) + Send + Sync>;

/// A sink that drops everything.
pub fn discard() -> EventSink {
    Arc::new(|_| {})
}

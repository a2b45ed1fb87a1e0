//! One service's container made to exist and run: started, created, or replaced as the plan
//! says, once its image is there. Readiness and dependencies are `run_service`'s business.

use crate::engine::{ContainerSpec, EngineError};
use crate::plan::{Action, ServiceTarget};

use super::images::{wait_image, ImageFailed};
use super::{down, Ctx, Phase};

/// Why a service's container could not be made to run.
#[derive(Debug, thiserror::Error)]
pub(super) enum ContainerFailed {
    #[error(transparent)]
    Image(#[from] ImageFailed),
    #[error("create failed: {0}")]
    Create(EngineError),
    #[error("start failed: {error}")]
    Start { id: String, error: EngineError },
    #[error("removing the old container failed: {0}")]
    RemoveOld(EngineError),
    /// A plan `apply` cannot carry out (a bug, not the engine).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ContainerFailed {
    /// The container whose logs explain the failure, when there is one.
    pub(super) fn logs_of(&self) -> Option<&str> {
        match self {
            ContainerFailed::Start { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// Makes the service's container exist and run; returns its id.
pub(super) async fn converge_container(
    ctx: &Ctx,
    target: &ServiceTarget,
    action: Option<Action>,
) -> Result<String, ContainerFailed> {
    let name = target.name.as_str();
    let engine = ctx.engine.as_ref();
    let spec = match action {
        None => {
            let id = target.existing_id.clone().ok_or_else(|| {
                ContainerFailed::Internal("no container and no action".to_string())
            })?;
            ctx.emit(name, Phase::Unchanged);
            return Ok(id);
        }
        Some(Action::StartContainer { id, .. }) => {
            ctx.emit(name, Phase::Starting);
            start(ctx, &id).await?;
            return Ok(id);
        }
        Some(Action::CreateContainer { spec, .. }) => {
            wait_image(ctx, &spec.image).await?;
            ctx.emit(name, Phase::Creating);
            spec
        }
        Some(Action::RecreateContainer {
            spec,
            old_id,
            changed,
            ..
        }) => {
            wait_image(ctx, &spec.image).await?;
            ctx.emit(name, Phase::Recreating { changed });
            if !spec.mounts.is_empty() {
                // Let a service with data flush it; a failed stop is fine, removal kills.
                let _ = engine.stop_container(&old_id, down::STOP_TIMEOUT).await;
            }
            engine
                .remove_container(&old_id)
                .await
                .map_err(ContainerFailed::RemoveOld)?;
            spec
        }
        Some(other) => {
            return Err(ContainerFailed::Internal(format!(
                "unexpected action {other:?}"
            )))
        }
    };
    let id = engine
        .create_container(&spec)
        .await
        .map_err(ContainerFailed::Create)?;
    ctx.emit(name, Phase::Starting);
    start(ctx, &id).await?;
    Ok(id)
}

async fn start(ctx: &Ctx, id: &str) -> Result<(), ContainerFailed> {
    ctx.engine
        .start_container(id)
        .await
        .map_err(|error| ContainerFailed::Start {
            id: id.to_string(),
            error,
        })
}

/// Creates a new container before its dependencies are ready; it is started once they are
/// (as Compose does). Creating costs the engine about as much as starting, so doing it while
/// the dependencies start and pass their health checks takes it off the critical path. A
/// container whose dependency fails stays created, never started; `up` starts it next time.
pub(super) async fn create_early(
    ctx: &Ctx,
    name: &str,
    spec: &ContainerSpec,
) -> Result<String, ContainerFailed> {
    wait_image(ctx, &spec.image).await?;
    ctx.emit(name, Phase::Creating);
    ctx.engine
        .create_container(spec)
        .await
        .map_err(ContainerFailed::Create)
}

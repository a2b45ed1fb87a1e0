//! One service's container made to exist and run: started, created, or replaced as the plan
//! says, once its image is there. Readiness and dependencies are `run_service`'s business.

use crate::engine::ContainerSpec;
use crate::plan::{Action, ServiceTarget};

use super::images::wait_image;
use super::{down, Ctx, Phase};

/// Makes the service's container exist and run; returns its id. On failure: the reason and
/// the id of a container whose logs explain it.
pub(super) async fn converge_container(
    ctx: &Ctx,
    target: &ServiceTarget,
    action: Option<Action>,
) -> Result<String, (String, Option<String>)> {
    let name = target.name.as_str();
    let engine = ctx.engine.as_ref();
    let spec = match action {
        None => {
            let id = target.existing_id.clone().ok_or_else(|| {
                (
                    "internal error: no container and no action".to_string(),
                    None,
                )
            })?;
            ctx.emit(name, Phase::Unchanged);
            return Ok(id);
        }
        Some(Action::StartContainer { id, .. }) => {
            ctx.emit(name, Phase::Starting);
            engine
                .start_container(&id)
                .await
                .map_err(|e| (format!("start failed: {e}"), Some(id.clone())))?;
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
                .map_err(|e| (format!("removing the old container failed: {e}"), None))?;
            spec
        }
        Some(other) => return Err((format!("internal error: unexpected action {other:?}"), None)),
    };
    let id = engine
        .create_container(&spec)
        .await
        .map_err(|e| (format!("create failed: {e}"), None))?;
    ctx.emit(name, Phase::Starting);
    engine
        .start_container(&id)
        .await
        .map_err(|e| (format!("start failed: {e}"), Some(id.clone())))?;
    Ok(id)
}

/// Creates a new container before its dependencies are ready; it is started once they are
/// (as Compose does). Creating costs the engine about as much as starting, so doing it while
/// the dependencies start and pass their health checks takes it off the critical path. A
/// container whose dependency fails stays created, never started; `up` starts it next time.
pub(super) async fn create_early(
    ctx: &Ctx,
    name: &str,
    spec: &ContainerSpec,
) -> Result<String, (String, Option<String>)> {
    wait_image(ctx, &spec.image).await?;
    ctx.emit(name, Phase::Creating);
    ctx.engine
        .create_container(spec)
        .await
        .map_err(|e| (format!("create failed: {e}"), None))
}

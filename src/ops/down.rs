//! The `down` use case: remove one instance under its lock, or every instance of an
//! environment. An overlay goes alone (its base's network stays); a base with overlays
//! attached is refused unless `cascade`, which removes the overlays first.

use crate::apply::{DownReport, DownScope, EventSink};
use crate::backend::{Backend, OwnershipError};
use crate::engine::EngineError;
use crate::lock::{LockError, WaitPolicy};
use crate::model::InstanceId;

use super::instance_locks;

#[derive(Debug, thiserror::Error)]
pub enum DownError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error("{instance} has overlays attached: {}; they run on its network. Remove them first (`envctl down {env} --feature F`), or give --cascade to remove them with it; nothing was removed", .overlays.join(", "))]
    HasOverlays {
        instance: String,
        env: String,
        overlays: Vec<String>,
    },
}

/// What to remove.
pub enum DownTarget {
    /// One instance, under its lock (and its base's, for an overlay); `cascade` also removes
    /// the overlays attached to it.
    Instance {
        id: InstanceId,
        policy: WaitPolicy,
        cascade: bool,
    },
    /// Every instance of an environment (features and overlays included).
    AllOf(String),
}

/// Removes the target; `on_lock_wait` hears once who holds the instance when it must wait.
pub async fn down(
    backend: &dyn Backend,
    target: DownTarget,
    volumes: bool,
    sink: EventSink,
    on_lock_wait: &mut dyn FnMut(&str),
) -> Result<DownReport, DownError> {
    match target {
        DownTarget::Instance {
            id,
            policy,
            cascade,
        } => {
            let base = super::overlays::base_of(backend, &id).await?;
            let mut order: Vec<&InstanceId> = base.iter().collect();
            order.push(&id);
            let held =
                instance_locks::acquire(backend, &order, "down", policy, on_lock_wait).await?;
            let how = Cascade {
                cascade,
                policy,
                volumes,
            };
            let result = down_locked(backend, &id, how, sink, on_lock_wait).await;
            instance_locks::release(backend, held).await;
            result
        }
        DownTarget::AllOf(env) => Ok(backend
            .down(&DownScope::AllOf { env }, volumes, sink)
            .await?),
    }
}

struct Cascade {
    cascade: bool,
    policy: WaitPolicy,
    volumes: bool,
}

/// `down` of one instance once its locks are held: its overlays first (with `cascade`).
async fn down_locked(
    backend: &dyn Backend,
    instance: &InstanceId,
    how: Cascade,
    sink: EventSink,
    on_lock_wait: &mut dyn FnMut(&str),
) -> Result<DownReport, DownError> {
    backend.verify_owner(instance).await?;
    let overlays = super::overlays::of(backend, instance).await?;
    if !overlays.is_empty() && !how.cascade {
        return Err(DownError::HasOverlays {
            instance: instance.to_string(),
            env: instance.env().to_string(),
            overlays: overlays.iter().map(|o| o.owner.instance.clone()).collect(),
        });
    }
    let mut report = DownReport::default();
    for overlay in &overlays {
        let feature = overlay.owner.feature.as_deref();
        let Ok(id) = InstanceId::new(&overlay.owner.env, feature) else {
            continue;
        };
        // Base before overlay: the order every command takes them in.
        let held =
            instance_locks::acquire(backend, &[&id], "down", how.policy, on_lock_wait).await?;
        let scope = DownScope::Instance(id.to_string());
        let removed = backend.down(&scope, how.volumes, sink.clone()).await;
        instance_locks::release(backend, held).await;
        merge(&mut report, removed?);
    }
    let scope = DownScope::Instance(instance.to_string());
    merge(&mut report, backend.down(&scope, how.volumes, sink).await?);
    Ok(report)
}

fn merge(into: &mut DownReport, from: DownReport) {
    into.instances.extend(from.instances);
    into.containers.extend(from.containers);
    into.networks.extend(from.networks);
    into.volumes.extend(from.volumes);
    into.kept_volumes.extend(from.kept_volumes);
    into.failures.extend(from.failures);
    into.on_cluster |= from.on_cluster;
}

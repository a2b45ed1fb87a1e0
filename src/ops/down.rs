//! The `down` use case: remove one instance under its lock, or every instance of an
//! environment.

use crate::apply::{DownReport, DownScope, EventSink};
use crate::backend::{Backend, OwnershipError};
use crate::engine::EngineError;
use crate::lock::{self, LockError, WaitPolicy};
use crate::model::InstanceId;

#[derive(Debug, thiserror::Error)]
pub enum DownError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
}

/// What to remove.
pub enum DownTarget {
    /// One instance, under its lock.
    Instance(InstanceId, WaitPolicy),
    /// Every instance of an environment (features included).
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
        DownTarget::Instance(instance, policy) => {
            let _lock = lock::acquire(&instance, "down", policy, on_lock_wait)?;
            let on_engine =
                super::engine_lock::acquire(backend, &instance, "down", policy, on_lock_wait)
                    .await?;
            let result = down_locked(backend, &instance, volumes, sink).await;
            super::engine_lock::release(backend, on_engine).await;
            result
        }
        DownTarget::AllOf(env) => Ok(backend
            .down(&DownScope::AllOf { env }, volumes, sink)
            .await?),
    }
}

/// `down` of one instance once its locks are held.
async fn down_locked(
    backend: &dyn Backend,
    instance: &InstanceId,
    volumes: bool,
    sink: EventSink,
) -> Result<DownReport, DownError> {
    backend.verify_owner(instance).await?;
    let scope = DownScope::Instance(instance.to_string());
    Ok(backend.down(&scope, volumes, sink).await?)
}

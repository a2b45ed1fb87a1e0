//! The `down` use case: remove one instance under its lock, or every instance of an
//! environment.

use std::sync::Arc;

use crate::apply::{self, DownReport, DownScope, EventSink};
use crate::engine::{Engine, EngineError};
use crate::lock::{self, LockError, WaitPolicy};
use crate::model::InstanceId;

#[derive(Debug, thiserror::Error)]
pub enum DownError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Ownership(#[from] super::ownership::OwnershipError),
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
    engine: Arc<dyn Engine>,
    target: DownTarget,
    volumes: bool,
    sink: EventSink,
    on_lock_wait: &mut dyn FnMut(&str),
) -> Result<DownReport, DownError> {
    let (scope, _lock) = match target {
        DownTarget::Instance(instance, policy) => {
            let lock = lock::acquire(&instance, "down", policy, on_lock_wait)?;
            super::ownership::verify(engine.as_ref(), &instance).await?;
            (DownScope::Instance(instance.to_string()), Some(lock))
        }
        DownTarget::AllOf(env) => (DownScope::AllOf { env }, None),
    };
    Ok(apply::down(engine, &scope, volumes, sink).await?)
}

//! The `extend` use case (`envctl ui`): give an existing instance a new lifetime from now,
//! under its lock, without its definition (the lease carries everything it needs).

use std::time::Duration;

use crate::backend::Backend;
use crate::engine::EngineError;
use crate::lifetime::Lease;
use crate::lock::{self, LockError, WaitPolicy};
use crate::model::InstanceId;

use super::inspect::{self, InspectError};

#[derive(Debug, thiserror::Error)]
pub enum ExtendError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Inspect(#[from] InspectError),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Sets the lifetime of `instance` to `ttl` from now (zero removes it, as `up --ttl 0` does);
/// returns the lease in force.
pub async fn extend(
    backend: &dyn Backend,
    instance: &InstanceId,
    ttl: Duration,
    policy: WaitPolicy,
    on_lock_wait: &mut dyn FnMut(&str),
) -> Result<Option<Lease>, ExtendError> {
    let _lock = lock::acquire(instance, "extend", policy, on_lock_wait)?;
    // A typo must not create a lease for an instance that does not exist.
    inspect::existing_instance(backend, instance).await?;
    Ok(backend
        .renew_lease(instance, Some(ttl), chrono::Utc::now())
        .await?)
}

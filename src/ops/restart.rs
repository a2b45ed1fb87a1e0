//! The `restart` use case (`envctl ui`): stop and start one service's workload under the
//! instance lock, so it never races an `up` or `down` of the same instance.

use std::time::Duration;

use crate::backend::Backend;
use crate::engine::EngineError;
use crate::lock::{self, LockError, WaitPolicy};
use crate::model::InstanceId;

use super::inspect::{self, InspectError};

/// How long a service gets to stop on its own before it is killed (`docker restart`'s default).
const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Inspect(#[from] InspectError),
    #[error("instance {instance} has no container for service `{service}`")]
    NoSuchService { instance: String, service: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Restarts `service` of `instance`; returns its workload's name.
pub async fn restart(
    backend: &dyn Backend,
    instance: &InstanceId,
    service: &str,
    policy: WaitPolicy,
    on_lock_wait: &mut dyn FnMut(&str),
) -> Result<String, RestartError> {
    let _lock = lock::acquire(instance, "restart", policy, on_lock_wait)?;
    let workloads = inspect::existing_instance(backend, instance).await?;
    let workload = workloads
        .get(service)
        .ok_or_else(|| RestartError::NoSuchService {
            instance: instance.to_string(),
            service: service.to_string(),
        })?;
    backend.restart(workload, STOP_GRACE).await?;
    Ok(workload.name.clone())
}

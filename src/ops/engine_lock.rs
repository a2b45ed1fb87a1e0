//! Taking an instance's lock on a shared engine (`Backend::try_lock`) with the same policy and
//! messages as the file lock: fail at once, or wait (polling) up to a deadline, telling the
//! caller once who holds it.

use std::time::{Duration, Instant};

use crate::backend::{Backend, EngineLock, LockAttempt};
use crate::lock::{LockError, WaitPolicy};
use crate::model::InstanceId;

/// How often a waiting command asks the engine again.
const POLL: Duration = Duration::from_millis(500);

/// The lock of `instance` on the backend's engine, or `None` when the engine needs none.
pub async fn acquire(
    backend: &dyn Backend,
    instance: &InstanceId,
    command: &str,
    policy: WaitPolicy,
    on_wait: &mut dyn FnMut(&str),
) -> Result<Option<EngineLock>, LockError> {
    let me = format!(
        "{} (pid {}, envctl {command})",
        crate::owner::current(),
        std::process::id()
    );
    let began = Instant::now();
    let mut told = false;
    loop {
        let holder = match backend.try_lock(instance, &me).await? {
            LockAttempt::NotNeeded => return Ok(None),
            LockAttempt::Acquired(lock) => return Ok(Some(lock)),
            LockAttempt::Held { holder } => holder,
        };
        let what = format!("instance {instance}");
        match policy {
            WaitPolicy::FailFast => return Err(LockError::Busy { what, holder }),
            WaitPolicy::Wait(limit) if began.elapsed() >= limit => {
                return Err(LockError::TimedOut {
                    what,
                    holder,
                    waited: limit,
                })
            }
            WaitPolicy::Wait(_) => {}
        }
        if !told {
            on_wait(&holder);
            told = true;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Releases `lock`; a failure is left to the lease (the lock frees itself when it ends).
pub async fn release(backend: &dyn Backend, lock: Option<EngineLock>) {
    if let Some(lock) = lock {
        let _ = backend.unlock(lock).await;
    }
}

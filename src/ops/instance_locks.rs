//! Holding the locks of several instances at once, always in one order: an overlay's base
//! before the overlay. `up` and `down` of an overlay take its base's lock too, so neither can
//! run while the base goes down (which would pull the network from under the overlay), and
//! `down --cascade` of a base, holding the base, then takes each overlay's. One order, no
//! deadlock. The cost: two overlays of one base wait for each other's `up`.

use crate::backend::{Backend, EngineLock};
use crate::lock::{self, InstanceLock, LockError, WaitPolicy};
use crate::model::InstanceId;

/// Locks held until `release` (the file locks also when dropped).
#[must_use = "release the engine locks with `release`"]
pub struct Held {
    files: Vec<InstanceLock>,
    engine: Vec<EngineLock>,
}

/// Takes the file lock, then the engine lock, of each instance in `order`.
pub async fn acquire(
    backend: &dyn Backend,
    order: &[&InstanceId],
    command: &str,
    policy: WaitPolicy,
    on_wait: &mut dyn FnMut(&str),
) -> Result<Held, LockError> {
    let mut held = Held {
        files: Vec::new(),
        engine: Vec::new(),
    };
    for instance in order {
        let taken = take(backend, instance, command, policy, on_wait).await;
        match taken {
            Ok((file, engine)) => {
                held.files.push(file);
                held.engine.extend(engine);
            }
            Err(err) => {
                release(backend, held).await;
                return Err(err);
            }
        }
    }
    Ok(held)
}

async fn take(
    backend: &dyn Backend,
    instance: &InstanceId,
    command: &str,
    policy: WaitPolicy,
    on_wait: &mut dyn FnMut(&str),
) -> Result<(InstanceLock, Option<EngineLock>), LockError> {
    let file = lock::acquire(instance, command, policy, on_wait)?;
    let engine = super::engine_lock::acquire(backend, instance, command, policy, on_wait).await?;
    Ok((file, engine))
}

/// Releases every lock, the last taken first.
pub async fn release(backend: &dyn Backend, mut held: Held) {
    while let Some(lock) = held.engine.pop() {
        super::engine_lock::release(backend, Some(lock)).await;
    }
    while held.files.pop().is_some() {}
}

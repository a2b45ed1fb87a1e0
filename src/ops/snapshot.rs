//! The `snapshot save` use case: the instance is locked while its data is copied, so no `up`
//! or `down` changes it halfway.

use crate::backend::Backend;
use crate::lock::{self, LockError, WaitPolicy};
use crate::snapshot::{SaveRequest, Snapshot, SnapshotError};

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
}

pub async fn save(
    backend: &dyn Backend,
    req: &SaveRequest,
    policy: WaitPolicy,
    on_lock_wait: &mut dyn FnMut(&str),
    progress: &(dyn Fn(String) + Send + Sync),
) -> Result<Snapshot, SaveError> {
    let _lock = lock::acquire(&req.instance, "snapshot save", policy, on_lock_wait)?;
    Ok(backend.snapshot_save(req, progress).await?)
}

//! A team on one engine: removing an instance someone else made needs `--force`, and the
//! refusal says whose it is (`io.envctl.owner`, see `crate::owner`).

use crate::backend::{Backend, FoundInstance};
use crate::engine::EngineError;

/// Instances made by someone else, refused without `--force`.
#[derive(Debug, thiserror::Error)]
pub enum OwnersError {
    #[error("{}; pass --force to remove {} anyway", describe(.0), if .0.len() == 1 { "it" } else { "them" })]
    NotYours(Vec<(String, String)>),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

fn describe(others: &[(String, String)]) -> String {
    others
        .iter()
        .map(|(instance, owner)| format!("instance {instance} belongs to {owner}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses when an instance `wanted` selects was made by someone other than `me`.
pub async fn refuse_others(
    backend: &dyn Backend,
    wanted: &dyn Fn(&FoundInstance) -> bool,
    me: &str,
) -> Result<(), OwnersError> {
    let others: Vec<(String, String)> = backend
        .instances()
        .await?
        .into_iter()
        .filter(|found| wanted(found))
        .filter(|found| crate::owner::is_someone_else(found.owned_by.as_deref(), me))
        .map(|found| (found.owner.instance, found.owned_by.unwrap_or_default()))
        .collect();
    if others.is_empty() {
        Ok(())
    } else {
        Err(OwnersError::NotYours(others))
    }
}

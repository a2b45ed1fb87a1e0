//! Which instances are overlays of which base, as their labels say (`io.envctl.base`).

use std::collections::BTreeMap;

use crate::backend::{Backend, FoundInstance};
use crate::engine::{EngineResult, ObservedContainer};
use crate::model::{labels, Environment, InstanceId};

/// The overlays attached to `base`, by instance name.
pub async fn of(backend: &dyn Backend, base: &InstanceId) -> EngineResult<Vec<FoundInstance>> {
    let all = backend.instances().await?;
    Ok(all
        .into_iter()
        .filter(|found| found.owner.base.as_deref() == Some(base.as_str()))
        .collect())
}

/// The base of `instance` when it is an overlay that exists.
pub async fn base_of(
    backend: &dyn Backend,
    instance: &InstanceId,
) -> EngineResult<Option<InstanceId>> {
    let all = backend.instances().await?;
    let Some(found) = all.iter().find(|f| f.owner.instance == instance.as_str()) else {
        return Ok(None);
    };
    let Some(base) = &found.owner.base else {
        return Ok(None);
    };
    Ok(base_id(instance.env(), base))
}

/// An overlay's base and tag, as its workloads' labels say.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OverlayOf {
    pub base: String,
    pub tag: String,
}

impl OverlayOf {
    /// The base's feature (`None`: the main instance of `env`).
    pub fn base_feature(&self, env: &str) -> Option<&str> {
        base_feature(env, &self.base)
    }
}

/// The feature of `base`, an instance of `env` (`<env>` or `<env>--<feature>`: an overlay's
/// base is always of its own environment).
fn base_feature<'b>(env: &str, base: &'b str) -> Option<&'b str> {
    base.strip_prefix(env)
        .and_then(|rest| rest.strip_prefix(crate::model::FEATURE_SEPARATOR))
}

/// The instance id of an overlay's base (its `io.envctl.base` label), in `env`.
pub fn base_id(env: &str, base: &str) -> Option<InstanceId> {
    InstanceId::new(env, base_feature(env, base)).ok()
}

/// Whether `workloads` (one instance's) are an overlay's, and of which base.
pub fn read(workloads: &BTreeMap<String, ObservedContainer>) -> Option<OverlayOf> {
    workloads.values().find_map(|c| {
        let owner = labels::Ownership::read(&c.labels)?;
        Some(OverlayOf {
            base: owner.base?,
            tag: owner.tag.unwrap_or_default(),
        })
    })
}

/// `env` narrowed as `up` narrowed it, to the services the overlay runs (the declared
/// `overlay.services` no longer limits: what runs is what `up` accepted); `None` when that
/// no longer fits the definition.
pub fn narrow(
    env: &Environment,
    overlay: &OverlayOf,
    workloads: &BTreeMap<String, ObservedContainer>,
) -> Option<Environment> {
    let mut env = env.clone();
    env.forkable = None;
    let running: Vec<String> = workloads.keys().cloned().collect();
    let base = overlay.base_feature(&env.env).map(str::to_string);
    let registry = crate::dubbo::registry::may_be_registry;
    env.into_overlay(base.as_deref(), &running, &registry)
        .ok()?;
    Some(env)
}

/// The workloads of `instance`'s base when `workloads` (its own) are an overlay's; empty
/// otherwise.
pub async fn base_workloads(
    backend: &dyn Backend,
    instance: &InstanceId,
    workloads: &BTreeMap<String, ObservedContainer>,
) -> EngineResult<Vec<ObservedContainer>> {
    let Some(overlay) = read(workloads) else {
        return Ok(Vec::new());
    };
    let Ok(base) = InstanceId::new(instance.env(), overlay.base_feature(instance.env())) else {
        return Ok(Vec::new());
    };
    Ok(backend.services(&base).await?.into_values().collect())
}

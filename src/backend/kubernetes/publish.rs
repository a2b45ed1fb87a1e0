//! Images built on this machine (`build:`, `envctl/*`) reach a cluster only through a
//! registry: before `up` applies a workload that runs one, it is tagged and pushed there
//! (`crate::kubernetes::registry`). Only workloads being applied push: a converged `up` stays
//! free of writes, to the registry too.

use std::collections::BTreeSet;

use super::plan::KubePlan;
use super::progress::Progress;
use crate::apply::{Phase, UpError};
use crate::engine::docker::DockerEngine;
use crate::engine::ImageProgress;
use crate::kubernetes::images::local_only_images;
use crate::kubernetes::registry::{publish_images, PublishError};
use crate::model::{labels, Environment};

/// Pushes the local-only images of the workloads `plan` applies to `registry`.
pub async fn images_of_applied(
    env: &Environment,
    plan: &KubePlan,
    registry: &str,
    progress: &Progress,
) -> Result<(), UpError> {
    let images = pushed_by(env, plan);
    if images.is_empty() {
        return Ok(());
    }
    // This machine's own engine, where build-images.sh and `build:` put images (the selected
    // engine is the cluster).
    let engine = DockerEngine::connect_to(&crate::engine::target::EngineTarget::local())
        .await
        .map_err(|e| PublishError::NoEngine {
            registry: registry.to_string(),
            reason: e.to_string(),
        })?;
    for (service, image) in &images {
        let report = |event: ImageProgress| {
            let text = match event {
                ImageProgress::Layer { id, status, .. } => format!("push {id}: {status}"),
                ImageProgress::Line(line) => format!("push: {line}"),
                ImageProgress::Copy { sent, total } => format!("push: {sent}/{total} bytes"),
            };
            progress.emit(
                service,
                Phase::Pulling {
                    image: image.clone(),
                    progress: text,
                },
            )
        };
        publish_images(
            &engine,
            registry,
            &[(service.clone(), image.clone())],
            &report,
        )
        .await?;
    }
    Ok(())
}

/// (service, image) of each local-only image a workload of `plan` runs, one per image.
fn pushed_by(env: &Environment, plan: &KubePlan) -> Vec<(String, String)> {
    let applied: BTreeSet<&str> = plan
        .applies
        .iter()
        .map(|apply| &apply.object)
        .filter(|doc| matches!(doc["kind"].as_str(), Some("Deployment" | "Job")))
        .filter_map(|doc| doc["metadata"]["labels"][labels::SERVICE].as_str())
        .collect();
    let mut seen = BTreeSet::new();
    local_only_images(env)
        .into_iter()
        .filter(|(service, _)| applied.contains(service.as_str()))
        .filter(|(_, image)| seen.insert(image.clone()))
        .collect()
}

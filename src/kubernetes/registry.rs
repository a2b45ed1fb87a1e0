//! Publishing images built on this machine to the project's registry (`registry:` in
//! envctl.yaml, or ENVCTL_REGISTRY): a cluster's nodes pull, they never see this machine's
//! Docker engine. Each local-only image (`images::local_only_images`) is tagged
//! `<registry>/<name>:<tag>` (`images::pushed_name`, the name the manifests use) and pushed
//! through the local engine, which holds it.

use std::collections::BTreeMap;

use crate::engine::docker::DockerEngine;
use crate::engine::{Engine, ProgressSink};

use super::images::pushed_name;

/// One image as published: the services using it, its local name, its name in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub services: Vec<String>,
    pub local: String,
    pub pushed: String,
}

/// Why an image could not be published; names the services, the image and the registry.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("images built on this machine are pushed to {registry} through its Docker engine, which cannot be reached: {reason}")]
    NoEngine { registry: String, reason: String },
    #[error("image {image} (service {}) is not on this machine's Docker engine at {endpoint}, so it cannot be pushed: build it first (scripts/build-images.sh for envctl/* images; `envctl up` on Docker builds `build:` services)", list(.services))]
    Missing {
        services: Vec<String>,
        image: String,
        endpoint: String,
    },
    #[error("image {image} (service {}) could not be pushed to {registry} as {target}: {reason}; check that the registry runs and this machine may push to it (a registry outside 127.0.0.0/8 without TLS must be in the engine's `insecure-registries`)", list(.services))]
    Push {
        services: Vec<String>,
        image: String,
        registry: String,
        target: String,
        reason: String,
    },
}

fn list(services: &[String]) -> String {
    services
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tags and pushes each of `images` ((service, image), as `images::local_only_images` gives
/// them) to `registry` through `engine` (this machine's), once per image, in name order.
pub async fn publish_images(
    engine: &DockerEngine,
    registry: &str,
    images: &[(String, String)],
    progress: ProgressSink<'_>,
) -> Result<Vec<Published>, PublishError> {
    let mut by_image: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (service, image) in images {
        by_image.entry(image).or_default().push(service.clone());
    }
    let mut published = Vec::new();
    for (image, services) in by_image {
        let target = pushed_name(registry, image);
        let push_failed = |reason: String| PublishError::Push {
            services: services.clone(),
            image: image.to_string(),
            registry: registry.to_string(),
            target: target.clone(),
            reason,
        };
        match engine.inspect_image(image).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(PublishError::Missing {
                    services,
                    image: image.to_string(),
                    endpoint: engine.endpoint().to_string(),
                })
            }
            Err(e) => return Err(push_failed(e.to_string())),
        }
        engine
            .tag_image(image, &target)
            .await
            .map_err(|e| push_failed(e.to_string()))?;
        engine
            .push_image(&target, progress)
            .await
            .map_err(|e| push_failed(e.to_string()))?;
        published.push(Published {
            services,
            local: image.to_string(),
            pushed: target,
        });
    }
    Ok(published)
}

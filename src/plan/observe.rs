//! What the engine holds that matters for planning one instance. Read-only.

use std::collections::BTreeSet;

use crate::engine::{
    Engine, EngineResult, LabelFilter, ObservedContainer, ObservedNetwork, ObservedVolume,
};
use crate::model::{labels, Environment};

/// The engine's state as seen for one instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Containers labelled with this instance.
    pub containers: Vec<ObservedContainer>,
    /// The network with the instance's network name, whoever owns it.
    pub network: Option<ObservedNetwork>,
    /// Volumes labelled with this instance.
    pub volumes: Vec<ObservedVolume>,
    /// envctl containers of every other instance (for host-port uniqueness).
    pub others: Vec<ObservedContainer>,
    /// Containers holding one of this instance's container names without its label.
    pub foreign: Vec<ObservedContainer>,
    /// Images of the environment that exist locally.
    pub images: BTreeSet<String>,
}

/// Reads the engine state `plan` needs for `env`.
pub async fn observe(engine: &dyn Engine, env: &Environment) -> EngineResult<Observed> {
    let instance = env.instance.as_str();
    let all = engine.list_containers(&LabelFilter::envctl()).await?;
    let (containers, others): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|c| c.labels.get(labels::INSTANCE).map(String::as_str) == Some(instance));
    let mut foreign = Vec::new();
    for name in env.services.keys() {
        let container_name = env.instance.container_name(name);
        if containers.iter().any(|c| c.name == container_name) {
            continue;
        }
        if let Some(found) = engine.find_container(&container_name).await? {
            foreign.push(found);
        }
    }
    let network = engine.find_network(&env.instance.network_name()).await?;
    let volumes = engine
        .list_volumes(&LabelFilter::instance(instance))
        .await?;
    let mut images = BTreeSet::new();
    let wanted: BTreeSet<&str> = env.services.values().map(|s| s.image.as_str()).collect();
    for image in wanted {
        if engine.image_exists(image).await? {
            images.insert(image.to_string());
        }
    }
    Ok(Observed {
        containers,
        network,
        volumes,
        others,
        foreign,
        images,
    })
}

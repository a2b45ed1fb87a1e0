//! What the engine holds that matters for planning one instance. Read-only.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;

use crate::engine::{
    Engine, EngineResult, LabelFilter, ObservedContainer, ObservedImage, ObservedNetwork,
    ObservedVolume,
};
use crate::model::{labels, Environment};

/// The engine's state as seen for one instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// Containers labelled with this instance.
    pub containers: Vec<ObservedContainer>,
    /// The network with the instance's network name (an overlay's: its base's), whoever
    /// owns it.
    pub network: Option<ObservedNetwork>,
    /// Volumes holding one of this instance's volume names (current or legacy), whoever
    /// owns them.
    pub volumes: Vec<ObservedVolume>,
    /// envctl containers of every other instance (for host-port uniqueness).
    pub others: Vec<ObservedContainer>,
    /// For an overlay: a network of its own name, left by the full copy it would replace.
    pub own_network: Option<ObservedNetwork>,
    /// Containers holding one of this instance's container names without its label.
    pub foreign: Vec<ObservedContainer>,
    /// Images of the environment that exist locally, by the name the definition uses.
    pub images: BTreeMap<String, ObservedImage>,
    /// The digest of the build inputs of each `build:` image (by tag), or why it failed.
    pub build_inputs: BTreeMap<String, Result<super::BuildDigest, super::UnreadableContext>>,
}

/// Reads the engine state `plan` needs for `env`.
pub async fn observe(engine: &dyn Engine, env: &Environment) -> EngineResult<Observed> {
    let network_name = env.network_name();
    // An overlay has no network of its own; one there is a full copy's (see `ownership`).
    let own_network = match &env.overlay {
        Some(_) => engine.find_network(&env.instance.network_name()).await?,
        None => None,
    };
    let (envctl, every) = (LabelFilter::envctl(), LabelFilter::default());
    // Every volume, not only labelled ones: a volume with our name but without our labels
    // must be seen to be refused (creating it again would silently reuse it).
    let (all, network, volumes) = tokio::try_join!(
        engine.list_containers(&envctl),
        engine.find_network(&network_name),
        engine.list_volumes(&every),
    )?;
    let names: BTreeSet<String> = super::ownership::wanted_volumes(env)
        .into_iter()
        .flat_map(|v| {
            [
                env.instance.volume_name(v),
                env.instance.legacy_volume_name(v),
            ]
        })
        .collect();
    let volumes = volumes
        .into_iter()
        .filter(|v| names.contains(&v.name))
        .collect();
    // Ours: the instance label and the env/feature it was made from; a container with our
    // instance label but another env/feature is someone else's (it still holds its ports).
    let (containers, others): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|c| labels::Ownership::read(&c.labels).is_some_and(|o| o.is(&env.instance)));
    // Names not held by our own containers may be held by someone else's: ask for each, at once.
    let unclaimed: Vec<String> = env
        .services
        .keys()
        .map(|name| env.instance.container_name(name))
        .filter(|name| !containers.iter().any(|c| &c.name == name))
        .collect();
    let found = join_all(unclaimed.iter().map(|name| engine.find_container(name))).await;
    let mut foreign = Vec::new();
    for result in found {
        foreign.extend(result?);
    }
    let wanted: BTreeSet<&str> = env.services.values().map(|s| s.image.as_str()).collect();
    let found = join_all(wanted.iter().map(|image| engine.inspect_image(image))).await;
    let mut images = BTreeMap::new();
    for (image, found) in wanted.into_iter().zip(found) {
        if let Some(found) = found? {
            images.insert(image.to_string(), found);
        }
    }
    // Reading a context is file I/O of any size: off the async threads, one build at a time.
    let mut build_inputs = BTreeMap::new();
    for service in env.services.values() {
        let Some(build) = &service.build else {
            continue;
        };
        if build_inputs.contains_key(&service.image) {
            continue;
        }
        let build = build.clone();
        let digest = tokio::task::spawn_blocking(move || super::build_digest(&build))
            .await
            .unwrap_or_else(|e| {
                Err(super::UnreadableContext(format!(
                    "reading the build context failed: {e}"
                )))
            });
        build_inputs.insert(service.image.clone(), digest);
    }
    Ok(Observed {
        containers,
        network,
        own_network,
        volumes,
        others,
        foreign,
        images,
        build_inputs,
    })
}

//! Instances as a container engine holds them: found by their labels.

use std::collections::BTreeMap;

use crate::backend::FoundInstance;
use crate::engine::{Engine, EngineResult, LabelFilter, ObservedContainer};
use crate::model::{labels, InstanceId};

/// The containers of one instance, by service name.
pub async fn containers(
    engine: &dyn Engine,
    instance: &InstanceId,
) -> EngineResult<BTreeMap<String, ObservedContainer>> {
    let containers = engine
        .list_containers(&LabelFilter::instance(instance.as_str()))
        .await?;
    Ok(containers
        .into_iter()
        .map(|c| {
            let service = labels::Ownership::read(&c.labels)
                .and_then(|o| o.service)
                .unwrap_or_else(|| c.name.clone());
            (service, c)
        })
        .collect())
}

/// Every instance with containers, else with a network.
pub async fn all(engine: &dyn Engine) -> EngineResult<Vec<FoundInstance>> {
    let mut instances: BTreeMap<String, FoundInstance> = BTreeMap::new();
    let found = |owner: labels::Ownership, created: i64| FoundInstance {
        owner,
        created,
        services: 0,
        ready: 0,
        owned_by: None,
    };
    for c in engine.list_containers(&LabelFilter::envctl()).await? {
        let Some(owner) = labels::Ownership::read(&c.labels) else {
            continue;
        };
        let entry = instances
            .entry(owner.instance.clone())
            .or_insert_with(|| found(owner, c.created));
        entry.services += 1;
        if entry.owned_by.is_none() {
            entry.owned_by = c.labels.get(labels::OWNER).cloned();
        }
        entry.ready += usize::from(c.ready_by_state());
        entry.created = entry.created.min(c.created);
    }
    // An instance whose containers are gone may still hold its network.
    for n in engine.list_networks(&LabelFilter::envctl()).await? {
        let Some(owner) = labels::Ownership::read(&n.labels) else {
            continue;
        };
        let created = chrono::DateTime::parse_from_rfc3339(
            n.labels
                .get(labels::CREATED)
                .map(String::as_str)
                .unwrap_or(""),
        )
        .map(|t| t.timestamp())
        .unwrap_or_else(|_| chrono::Utc::now().timestamp());
        let entry = instances
            .entry(owner.instance.clone())
            .or_insert_with(|| found(owner, created));
        // The network is made once, by whoever first brought the instance up.
        if let Some(by) = n.labels.get(labels::OWNER) {
            entry.owned_by = Some(by.clone());
        }
    }
    Ok(instances.into_values().collect())
}

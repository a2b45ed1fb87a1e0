//! The ownership check every command makes before acting on an instance: everything carrying
//! the instance's label must also name its environment and feature. An instance label alone is
//! not proof: an environment file `x--y` made by an older envctl labels its objects `x--y`,
//! the very instance `x --feature y` names. Such objects are refused, never touched.

use crate::backend::OwnershipError;
use crate::engine::{Engine, LabelFilter};
use crate::model::labels::{check_owner, NotOurs};
use crate::model::InstanceId;

/// Checks every container, network and volume labelled with `instance` (read-only).
pub async fn verify(engine: &dyn Engine, instance: &InstanceId) -> Result<(), OwnershipError> {
    let filter = LabelFilter::instance(instance.as_str());
    let (containers, networks, volumes) = tokio::try_join!(
        engine.list_containers(&filter),
        engine.list_networks(&filter),
        engine.list_volumes(&filter),
    )?;
    let found = containers
        .iter()
        .map(|c| ("container", &c.name, &c.labels))
        .chain(networks.iter().map(|n| ("network", &n.name, &n.labels)))
        .chain(volumes.iter().map(|v| ("volume", &v.name, &v.labels)));
    let problems: Vec<NotOurs> = found
        .filter_map(|(kind, name, labels)| check_owner(kind, name, labels, instance).err())
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(OwnershipError::NotOurs(problems))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::FakeEngine;
    use crate::engine::Labels;
    use crate::model::labels;

    #[tokio::test]
    async fn an_instance_label_of_another_env_and_feature_is_refused() {
        let engine = FakeEngine::new();
        let legacy = Labels::from([
            (labels::INSTANCE.to_string(), "x--y".to_string()),
            (labels::ENV.to_string(), "x--y".to_string()),
            (labels::FEATURE.to_string(), String::new()),
        ]);
        engine.create_network("envctl-x--y", &legacy).await.unwrap();
        let asked = InstanceId::new("x", Some("y")).unwrap();
        let err = verify(&engine, &asked).await.unwrap_err().to_string();
        assert!(err.contains("network `envctl-x--y`"), "{err}");
        assert!(err.contains("environment `x--y` (main instance)"), "{err}");
        let other = InstanceId::new("x", Some("z")).unwrap();
        assert!(verify(&engine, &other).await.is_ok());
    }
}

//! The ownership check every command makes before acting on an instance: everything carrying
//! the instance's label must also name its environment and feature. An instance label alone is
//! not proof: an environment file `x--y` made by an older envctl labels its objects `x--y`,
//! the very instance `x --feature y` names. Such objects are refused, never touched.

use crate::engine::{Engine, EngineError, LabelFilter};
use crate::model::labels::{check_owner, NotOurs};
use crate::model::InstanceId;

#[derive(Debug, thiserror::Error)]
pub enum OwnershipError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    NotOurs(Vec<NotOurs>),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

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

    #[tokio::test]
    async fn gc_refuses_an_expired_instance_whose_label_is_shared() {
        let engine = std::sync::Arc::new(FakeEngine::new());
        let id = InstanceId::new("gcx", Some("y")).unwrap();
        let mut lease = Labels::from([
            (labels::INSTANCE.to_string(), id.to_string()),
            (labels::ENV.to_string(), "gcx".to_string()),
            (labels::FEATURE.to_string(), "y".to_string()),
            (labels::LEASE.to_string(), "1".to_string()),
        ]);
        lease.insert(labels::EXPIRES_AT.into(), "2000-01-01T00:00:00Z".into());
        engine
            .create_volume("envctl-lease.gcx--y.1", &lease)
            .await
            .unwrap();
        let legacy = Labels::from([
            (labels::INSTANCE.to_string(), "gcx--y".to_string()),
            (labels::ENV.to_string(), "gcx--y".to_string()),
        ]);
        engine
            .create_network("envctl-gcx--y", &legacy)
            .await
            .unwrap();
        let sink: crate::apply::EventSink = std::sync::Arc::new(|_| {});
        let results = crate::ops::gc::gc(engine.clone(), &Default::default(), false, true, sink)
            .await
            .unwrap();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].result, crate::ops::gc::GcOutcome::Failed);
        let reason = results[0].reason.clone().unwrap_or_default();
        assert!(reason.contains("network `envctl-gcx--y`"), "{reason}");
        assert_eq!(engine.network_names(), ["envctl-gcx--y"]);
    }
}

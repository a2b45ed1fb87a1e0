//! The `gc` use case: remove instances whose lifetime has passed, exactly as `down` would, and
//! nothing else. An instance someone is working on (its lock is held) is skipped. Overlays
//! expire on their own; expired ones go before expired bases, and a base that still has
//! overlays attached is skipped (its network carries them), saying which, even with `--force`:
//! `down --cascade` is the way to remove both at once.

use serde::Serialize;

use crate::apply::{DownScope, EventSink};
use crate::backend::Backend;
use crate::engine::{EngineResult, LabelFilter};
use crate::lifetime;
use crate::lock::{self, WaitPolicy};
use crate::model::{labels, InstanceId};

/// What happened to one expired instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcOutcome {
    Removed,
    WouldRemove,
    /// Busy (someone holds its lock), or someone else's without `--force`.
    Skipped,
    Failed,
}

impl GcOutcome {
    pub fn word(self) -> &'static str {
        match self {
            GcOutcome::Removed => "removed",
            GcOutcome::WouldRemove => "would-remove",
            GcOutcome::Skipped => "skipped",
            GcOutcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Expired {
    pub instance: String,
    pub expires_at: String,
    pub result: GcOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Which instances `gc` may look at: all of them by default, else those of one environment,
/// one instance, and/or those whose labels match every selector. Scripts and tests sharing an
/// engine scope their sweep so it never removes someone else's expired instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcScope {
    /// Every instance of this environment (the main one and its features).
    pub env: Option<String>,
    /// Exactly this instance.
    pub instance: Option<InstanceId>,
    /// `key=value` pairs the instance's labels must all carry.
    pub selectors: Vec<(String, String)>,
    /// The caller (`user@host`): instances someone else made are skipped, saying whose.
    /// `None` (`gc --force`) removes them too.
    pub mine: Option<String>,
}

impl GcScope {
    /// The label filter for the instances' leases (which carry the instance labels).
    pub fn filter(&self) -> LabelFilter {
        let mut filter = LabelFilter::envctl();
        if let Some(env) = &self.env {
            filter.0.push(format!("{}={env}", labels::ENV));
        }
        if let Some(instance) = &self.instance {
            filter
                .0
                .push(format!("{}={}", labels::INSTANCE, instance.as_str()));
        }
        for (key, value) in &self.selectors {
            filter.0.push(format!("{key}={value}"));
        }
        filter
    }

    /// The scope in words, for "nothing to collect" messages; empty for everything.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(instance) = &self.instance {
            parts.push(format!("instance {instance}"));
        } else if let Some(env) = &self.env {
            parts.push(format!("environment {env}"));
        }
        parts.extend(self.selectors.iter().map(|(k, v)| format!("{k}={v}")));
        parts.join(", ")
    }
}

/// Finds the expired instances in `scope` and (unless `dry_run`) removes them.
pub async fn gc(
    backend: &dyn Backend,
    scope: &GcScope,
    dry_run: bool,
    volumes: bool,
    sink: EventSink,
) -> EngineResult<Vec<Expired>> {
    let now = chrono::Utc::now();
    let mut expired: Vec<lifetime::Lease> = backend
        .leases(scope.filter())
        .await?
        .into_iter()
        .filter(|l| l.expired(now))
        .collect();
    let found = match expired.is_empty() {
        true => Vec::new(),
        false => backend.instances().await?,
    };
    // Who made each instance, when only the caller's may go.
    let owners: std::collections::BTreeMap<String, String> = match &scope.mine {
        Some(_) => found
            .iter()
            .filter_map(|f| Some((f.owner.instance.clone(), f.owned_by.clone()?)))
            .collect(),
        None => Default::default(),
    };
    // Each overlay's base, and overlays first: an expired base then finds them gone.
    let bases: std::collections::BTreeMap<String, String> = found
        .iter()
        .filter_map(|f| Some((f.owner.instance.clone(), f.owner.base.clone()?)))
        .collect();
    expired.sort_by_key(|l| !bases.contains_key(&l.instance));
    let mut results = Vec::new();
    for lease in expired {
        let someone_else = scope.mine.as_deref().and_then(|me| {
            let by = owners.get(&lease.instance)?;
            crate::owner::is_someone_else(Some(by), me).then(|| by.clone())
        });
        let (result, reason) = if let Some(by) = someone_else {
            (
                GcOutcome::Skipped,
                Some(format!("belongs to {by}; gc --force removes it")),
            )
        } else if dry_run {
            (GcOutcome::WouldRemove, None)
        } else {
            let base = bases.get(&lease.instance).map(String::as_str);
            remove(backend, &lease, base, volumes, sink.clone()).await
        };
        results.push(Expired {
            instance: lease.instance.clone(),
            expires_at: lifetime::format_time(lease.expires_at),
            result,
            reason,
        });
    }
    Ok(results)
}

/// Removes one expired instance under its lock (and an overlay's base's, first), as `down`
/// does.
async fn remove(
    backend: &dyn Backend,
    lease: &lifetime::Lease,
    base: Option<&str>,
    volumes: bool,
    sink: EventSink,
) -> (GcOutcome, Option<String>) {
    let instance = &lease.instance;
    let Some(id) = lease.id() else {
        return (
            GcOutcome::Failed,
            Some(format!("`{instance}` is not an instance id")),
        );
    };
    let base = base.and_then(|b| super::overlays::base_id(id.env(), b));
    let mut order: Vec<&InstanceId> = base.iter().collect();
    order.push(&id);
    let policy = WaitPolicy::FailFast;
    let held =
        match super::instance_locks::acquire(backend, &order, "gc", policy, &mut |_| {}).await {
            Ok(held) => held,
            Err(lock::LockError::Busy { holder, .. }) => return (GcOutcome::Skipped, Some(holder)),
            Err(err) => return (GcOutcome::Failed, Some(err.to_string())),
        };
    let outcome = remove_locked(backend, &id, volumes, sink).await;
    super::instance_locks::release(backend, held).await;
    outcome
}

/// Removes one expired instance once its locks are held.
async fn remove_locked(
    backend: &dyn Backend,
    id: &InstanceId,
    volumes: bool,
    sink: EventSink,
) -> (GcOutcome, Option<String>) {
    let instance = id.to_string();
    if let Err(err) = backend.verify_owner(id).await {
        return (GcOutcome::Failed, Some(err.to_string()));
    }
    match super::overlays::of(backend, id).await {
        Ok(overlays) if !overlays.is_empty() => {
            let names: Vec<String> = overlays.into_iter().map(|o| o.owner.instance).collect();
            let reason = format!(
                "overlays attached: {} (run on its network); `envctl down {}{} --cascade` removes them all",
                names.join(", "),
                id.env(),
                id.feature().map(|f| format!(" --feature {f}")).unwrap_or_default()
            );
            return (GcOutcome::Skipped, Some(reason));
        }
        Ok(_) => {}
        Err(err) => return (GcOutcome::Failed, Some(err.to_string())),
    }
    let scope = DownScope::Instance(instance);
    match backend.down(&scope, volumes, sink).await {
        Ok(report) if report.failures.is_empty() => (GcOutcome::Removed, None),
        Ok(report) => (
            GcOutcome::Failed,
            Some(
                report
                    .failures
                    .iter()
                    .map(|f| format!("{}: {}", f.service, f.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        Err(err) => (GcOutcome::Failed, Some(err.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::docker::DockerBackend;
    use crate::backend::HostAddress;
    use crate::engine::fake::FakeEngine;
    use crate::engine::{Engine, Labels};

    /// `gc` over the fake engine, everything else in `scope` left alone.
    async fn gc_all(engine: &Arc<FakeEngine>, scope: &GcScope, volumes: bool) -> Vec<Expired> {
        let backend = DockerBackend::new(engine.clone(), HostAddress::local_engine(None));
        let sink: EventSink = Arc::new(|_| {});
        gc(&backend, scope, false, volumes, sink).await.unwrap()
    }

    /// An expired lease for `env`/`feature`, as `up --ttl` leaves it.
    async fn expired_lease(engine: &FakeEngine, env: &str, feature: Option<&str>) -> String {
        let id = InstanceId::new(env, feature).unwrap();
        let labels = Labels::from([
            (labels::INSTANCE.to_string(), id.to_string()),
            (labels::ENV.to_string(), env.to_string()),
            (
                labels::FEATURE.to_string(),
                feature.unwrap_or("").to_string(),
            ),
            (labels::LEASE.to_string(), "true".to_string()),
            (labels::EXPIRES_AT.into(), "2000-01-01T00:00:00Z".into()),
        ]);
        let name = format!("envctl-lease.{id}.1");
        engine.create_volume(&name, &labels).await.unwrap();
        id.to_string()
    }

    async fn run(engine: &Arc<FakeEngine>, scope: &GcScope) -> Vec<(String, GcOutcome)> {
        gc_all(engine, scope, false)
            .await
            .into_iter()
            .map(|e| (e.instance, e.result))
            .collect()
    }

    #[tokio::test]
    async fn a_scoped_gc_leaves_other_expired_instances_alone() {
        let engine = Arc::new(FakeEngine::new());
        let main = expired_lease(&engine, "gcs", None).await;
        let feature = expired_lease(&engine, "gcs", Some("pr1")).await;
        let other = expired_lease(&engine, "gcsother", Some("pr1")).await;
        let removed = |ids: &[&String]| -> Vec<(String, GcOutcome)> {
            ids.iter()
                .map(|id| (id.to_string(), GcOutcome::Removed))
                .collect()
        };

        let one = GcScope {
            instance: Some(InstanceId::new("gcs", Some("pr1")).unwrap()),
            ..Default::default()
        };
        assert_eq!(run(&engine, &one).await, removed(&[&feature]));
        let env = GcScope {
            env: Some("gcs".into()),
            ..Default::default()
        };
        assert_eq!(run(&engine, &env).await, removed(&[&main]));
        let selected = GcScope {
            selectors: vec![(labels::FEATURE.into(), "nothing-like-it".into())],
            ..Default::default()
        };
        assert_eq!(run(&engine, &selected).await, []);
        let selected = GcScope {
            selectors: vec![(labels::FEATURE.into(), "pr1".into())],
            ..Default::default()
        };
        assert_eq!(run(&engine, &selected).await, removed(&[&other]));
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
        let results = gc_all(&engine, &Default::default(), true).await;
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].result, GcOutcome::Failed);
        let reason = results[0].reason.clone().unwrap_or_default();
        assert!(reason.contains("network `envctl-gcx--y`"), "{reason}");
        assert_eq!(engine.network_names(), ["envctl-gcx--y"]);
    }

    #[test]
    fn the_scope_in_words() {
        assert_eq!(GcScope::default().describe(), "");
        let scope = GcScope {
            env: Some("shop".into()),
            selectors: vec![("team".into(), "a".into())],
            ..Default::default()
        };
        assert_eq!(scope.describe(), "environment shop, team=a");
    }
}

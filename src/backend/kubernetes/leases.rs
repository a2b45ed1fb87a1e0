//! Instance lifetimes on a cluster: the lease is two annotations on the instance's namespace
//! (`io.envctl.expires-at`, `io.envctl.ttl`: the keys of the Docker lease), written with a
//! JSON merge patch so the next apply of the namespace's manifest leaves them alone.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::api::Kube;
use super::kinds::NAMESPACE;
use super::observe::{annotations_of, labels_of, name_of};
use crate::engine::{EngineResult, LabelFilter};
use crate::kubernetes::manifests::namespace_name;
use crate::kubernetes::pod_io::label_selector;
use crate::lifetime::{format_time, Lease, TTL_LABEL};
use crate::model::{labels, InstanceId};

/// The lease of every instance namespace matching `filter`.
pub async fn leases(kube: &Kube, filter: &LabelFilter) -> EngineResult<Vec<Lease>> {
    let namespaces = kube.list(&NAMESPACE, None, &label_selector(filter)).await?;
    Ok(namespaces.iter().filter_map(lease_of).collect())
}

/// The lease a namespace carries, if any.
pub fn lease_of(namespace: &Value) -> Option<Lease> {
    let labels = labels_of(namespace);
    let annotations = annotations_of(namespace);
    let expires_at = DateTime::parse_from_rfc3339(annotations.get(labels::EXPIRES_AT)?)
        .ok()?
        .with_timezone(&Utc);
    Some(Lease {
        instance: labels.get(labels::INSTANCE)?.clone(),
        env: labels.get(labels::ENV).cloned().unwrap_or_default(),
        feature: labels.get(labels::FEATURE).cloned().unwrap_or_default(),
        expires_at,
        ttl: annotations
            .get(TTL_LABEL)
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or_default(),
    })
}

/// Sets the instance's lifetime to `ttl` from `now` (`None`: renew with the one it has; zero:
/// none). An instance without a namespace has no lease to set.
pub async fn renew(
    kube: &Kube,
    instance: &InstanceId,
    ttl: Option<Duration>,
    now: DateTime<Utc>,
) -> EngineResult<Option<Lease>> {
    let ns = namespace_name(instance.as_str());
    let Some(namespace) = kube.get(&NAMESPACE, None, &ns).await? else {
        return Ok(None);
    };
    let current = lease_of(&namespace);
    let ttl = match ttl.or(current.as_ref().map(|l| l.ttl)) {
        Some(ttl) if !ttl.is_zero() => ttl,
        _ => {
            if current.is_some() {
                clear(kube, &ns).await?;
            }
            return Ok(None);
        }
    };
    let lease = Lease {
        instance: instance.to_string(),
        env: instance.env().to_string(),
        feature: instance.feature().unwrap_or_default().to_string(),
        expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
        ttl,
    };
    let patch = json!({ "metadata": { "annotations": {
        labels::EXPIRES_AT: format_time(lease.expires_at),
        TTL_LABEL: ttl.as_secs().to_string(),
    } } });
    kube.merge_patch(&NAMESPACE, None, name_of(&namespace), &patch)
        .await?;
    Ok(Some(lease))
}

/// Removes the namespace's lease (what `down` does to an instance it keeps the data of).
pub async fn clear(kube: &Kube, ns: &str) -> EngineResult<()> {
    let patch = json!({ "metadata": { "annotations": { labels::EXPIRES_AT: null } } });
    kube.merge_patch(&NAMESPACE, None, ns, &patch)
        .await
        .map(|_| ())
}

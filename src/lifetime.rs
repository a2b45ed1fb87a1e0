//! Instance lifetimes: `up --ttl` and `envctl gc`.
//!
//! Labels cannot change on an existing container, network or volume, so the expiry lives on a
//! small per-instance *lease*: an empty volume `envctl-lease.<instance>.<unix-seconds>` carrying
//! the instance labels plus `io.envctl.expires-at` (RFC 3339) and `io.envctl.ttl` (seconds).
//! Renewing creates a new lease and then removes the older ones, so there is always at least
//! one and no container is ever recreated for it. The dot cannot appear in an instance id, so
//! a lease never collides with an instance's named volumes (`<instance>_<name>`).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::engine::{Engine, EngineResult, LabelFilter, Labels, ObservedVolume};
use crate::model::{labels, Environment};

/// Marks a volume as an instance's lease.
pub const LEASE_LABEL: &str = labels::LEASE;
/// The lifetime the lease was made with, in seconds, renewed by the next `up`.
pub const TTL_LABEL: &str = labels::TTL;
const LEASE_PREFIX: &str = "envctl-lease.";

/// An instance's current lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub instance: String,
    pub env: String,
    /// Empty when the instance has no feature.
    pub feature: String,
    pub expires_at: DateTime<Utc>,
    pub ttl: Duration,
}

impl Lease {
    /// The instance id, when the labels form a valid one.
    pub fn id(&self) -> Option<crate::model::InstanceId> {
        let feature = Some(self.feature.as_str()).filter(|f| !f.is_empty());
        crate::model::InstanceId::new(&self.env, feature)
            .ok()
            .filter(|id| id.as_str() == self.instance)
    }

    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// What `up` asks for: a lifetime from `--ttl`, else the definition's `ttl:` (feature
/// instances only), else whatever lifetime the instance already has. `Some(ZERO)` removes it.
pub fn requested_ttl(env: &Environment, flag: Option<Duration>) -> Option<Duration> {
    flag.or_else(|| env.feature.as_ref().and(env.ttl))
}

/// Every lease volume matching `filter` (add `LEASE_LABEL` so nothing else is listed).
fn lease_filter(mut filter: LabelFilter) -> LabelFilter {
    filter.0.push(LEASE_LABEL.to_string());
    filter
}

/// Reads the newest lease of every instance matching `filter`.
pub async fn leases(engine: &dyn Engine, filter: LabelFilter) -> EngineResult<Vec<Lease>> {
    let volumes = engine.list_volumes(&lease_filter(filter)).await?;
    let mut newest: std::collections::BTreeMap<String, (i64, Lease)> = Default::default();
    for v in &volumes {
        let Some(lease) = parse_lease(v) else {
            continue;
        };
        let stamp = lease_stamp(&v.name);
        match newest.get(&lease.instance) {
            Some((seen, _)) if *seen >= stamp => {}
            _ => {
                newest.insert(lease.instance.clone(), (stamp, lease));
            }
        }
    }
    Ok(newest.into_values().map(|(_, lease)| lease).collect())
}

fn parse_lease(v: &ObservedVolume) -> Option<Lease> {
    let instance = v.labels.get(labels::INSTANCE)?.clone();
    let expires_at = DateTime::parse_from_rfc3339(v.labels.get(labels::EXPIRES_AT)?)
        .ok()?
        .with_timezone(&Utc);
    let ttl = v
        .labels
        .get(TTL_LABEL)
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or_default();
    Some(Lease {
        instance,
        env: v.labels.get(labels::ENV).cloned().unwrap_or_default(),
        feature: v.labels.get(labels::FEATURE).cloned().unwrap_or_default(),
        expires_at,
        ttl,
    })
}

/// The creation second encoded in a lease name (0 when unreadable).
fn lease_stamp(name: &str) -> i64 {
    name.rsplit('.')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Applies the lifetime `up` asked for: renews (or starts) the lease with `ttl`, renews an
/// existing lease with its own ttl when none is asked for, removes it for a zero ttl.
/// Returns the lease now in force.
pub async fn renew(
    engine: &dyn Engine,
    env: &Environment,
    ttl: Option<Duration>,
    now: DateTime<Utc>,
) -> EngineResult<Option<Lease>> {
    renew_instance(engine, &env.instance, ttl, now).await
}

/// `renew` for an instance known by its id alone (the lease needs no definition): what
/// extending a lifetime from `envctl ui` does.
pub async fn renew_instance(
    engine: &dyn Engine,
    id: &crate::model::InstanceId,
    ttl: Option<Duration>,
    now: DateTime<Utc>,
) -> EngineResult<Option<Lease>> {
    let instance = id.as_str();
    let env_name = id.env().to_string();
    let feature = id.feature().unwrap_or_default().to_string();
    let existing = engine
        .list_volumes(&lease_filter(LabelFilter::instance(instance)))
        .await?;
    let current_ttl = existing
        .iter()
        .filter_map(parse_lease)
        .max_by_key(|l| l.expires_at)
        .map(|l| l.ttl);
    let ttl = match ttl.or(current_ttl) {
        Some(ttl) if !ttl.is_zero() => ttl,
        _ => {
            remove_all(engine, &existing).await?;
            return Ok(None);
        }
    };
    let lease = Lease {
        instance: instance.to_string(),
        env: env_name.clone(),
        feature: feature.clone(),
        expires_at: now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
        ttl,
    };
    let mut labels = Labels::from([
        (labels::INSTANCE.to_string(), instance.to_string()),
        (labels::ENV.to_string(), env_name),
        (labels::FEATURE.to_string(), feature),
        (
            labels::CREATED.to_string(),
            now.to_rfc3339_opts(SecondsFormat::Secs, true),
        ),
        (LEASE_LABEL.to_string(), "true".to_string()),
        (TTL_LABEL.to_string(), ttl.as_secs().to_string()),
    ]);
    labels.insert(
        labels::EXPIRES_AT.to_string(),
        format_time(lease.expires_at),
    );
    // A name per renewal second: the old lease stays until the new one exists.
    let stamp = now.timestamp().max(
        existing
            .iter()
            .map(|v| lease_stamp(&v.name) + 1)
            .max()
            .unwrap_or(0),
    );
    let name = format!("{LEASE_PREFIX}{instance}.{stamp}");
    engine.create_volume(&name, &labels).await?;
    let older: Vec<ObservedVolume> = existing.into_iter().filter(|v| v.name != name).collect();
    remove_all(engine, &older).await?;
    Ok(Some(lease))
}

async fn remove_all(engine: &dyn Engine, volumes: &[ObservedVolume]) -> EngineResult<()> {
    for v in volumes {
        engine.remove_volume(&v.name).await?;
    }
    Ok(())
}

/// Removes the leases matching `filter` (what `down` does to every instance it removes).
pub async fn remove_leases(engine: &dyn Engine, filter: LabelFilter) -> EngineResult<Vec<String>> {
    let volumes = engine.list_volumes(&lease_filter(filter)).await?;
    remove_all(engine, &volumes).await?;
    Ok(volumes.into_iter().map(|v| v.name).collect())
}

/// RFC 3339 in UTC, to the second: the form of `io.envctl.expires-at`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// How long until `expires_at`, compactly (`2h`, `3d`), or `expired`.
pub fn remaining(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (expires_at - now).num_seconds();
    match secs {
        s if s <= 0 => "expired".into(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// Parses `--ttl`: a duration like `3d`, `2h`, `90`, or `none` (also `0`) for no expiry,
/// which removes the lifetime the instance had.
pub fn parse_ttl(text: &str) -> Result<Duration, crate::definition::UnitError> {
    match text.trim() {
        "never" => Ok(Duration::ZERO),
        other => crate::definition::parse_limit(other).map(Option::unwrap_or_default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::FakeEngine;
    use crate::model::InstanceId;

    fn env(feature: Option<&str>, ttl: Option<Duration>) -> Environment {
        Environment {
            env: "shop".into(),
            feature: feature.map(String::from),
            instance: InstanceId::new("shop", feature).unwrap(),
            description: None,
            ttl,
            source: "environments/shop.yaml".into(),
            services: Default::default(),
            local: Default::default(),
            overlay: None,
            forkable: None,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn definition_ttl_applies_to_features_only() {
        let day = Some(Duration::from_secs(86_400));
        assert_eq!(requested_ttl(&env(None, day), None), None);
        assert_eq!(requested_ttl(&env(Some("f"), day), None), day);
        let flag = Some(Duration::from_secs(60));
        assert_eq!(requested_ttl(&env(None, day), flag), flag);
    }

    #[tokio::test]
    async fn renewing_replaces_the_lease_and_keeps_its_ttl() {
        let engine = FakeEngine::new();
        let e = env(Some("f"), None);
        let first = renew(&engine, &e, Some(Duration::from_secs(60)), at(0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.expires_at, at(60));
        // No ttl asked for: the lease is renewed with the one it has.
        let second = renew(&engine, &e, None, at(30)).await.unwrap().unwrap();
        assert_eq!(second.expires_at, at(90));
        let all = leases(&engine, LabelFilter::envctl()).await.unwrap();
        assert_eq!(all, vec![second]);
        let volumes = engine.list_volumes(&LabelFilter::envctl()).await.unwrap();
        assert_eq!(volumes.len(), 1, "{volumes:?}");
        assert!(!all[0].expired(at(89)) && all[0].expired(at(90)));
    }

    #[tokio::test]
    async fn zero_ttl_removes_the_lease() {
        let engine = FakeEngine::new();
        let e = env(None, None);
        renew(&engine, &e, Some(Duration::from_secs(60)), at(0))
            .await
            .unwrap();
        assert_eq!(
            renew(&engine, &e, Some(Duration::ZERO), at(1))
                .await
                .unwrap(),
            None
        );
        assert!(leases(&engine, LabelFilter::envctl())
            .await
            .unwrap()
            .is_empty());
    }

    #[test]
    fn ttl_flag_and_remaining() {
        assert_eq!(parse_ttl("none"), Ok(Duration::ZERO));
        assert_eq!(parse_ttl("3d"), Ok(Duration::from_secs(259_200)));
        assert!(parse_ttl("soon").is_err());
        assert_eq!(remaining(at(0), at(1)), "expired");
        assert_eq!(remaining(at(7200), at(0)), "2h");
    }
}

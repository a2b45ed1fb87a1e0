//! An instance's lock on a shared engine, so two machines serialise `up`/`down` of one
//! instance (each machine's file lock only serialises its own processes).
//!
//! The lock is a volume `envctl-lock-<instance>-<generation>` whose labels carry the holder
//! (`user@host`, pid, command), a random token and the lease's end. The engine creates a volume
//! name at most once and answers a second create with the existing volume, unchanged: so
//! whoever finds their own token on it after creating it holds the lock. A lock whose lease
//! has ended is never removed to be taken over (two stealers could then both win): the next
//! generation is created instead, by the same rule, and superseded generations are removed by
//! the winner. A crashed holder's lock is free once its lease ends. Lock volumes carry no
//! `io.envctl.instance`: they are not part of the instance, and `ls`/`down`/`gc` ignore them.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backend::{EngineLock, LockAttempt};
use crate::engine::{Engine, EngineResult, LabelFilter};
use crate::model::InstanceId;

const LOCK_OF: &str = "io.envctl.lock";
const GENERATION: &str = "io.envctl.lock-generation";
const HOLDER: &str = "io.envctl.lock-holder";
const TOKEN: &str = "io.envctl.lock-token";
const EXPIRES: &str = "io.envctl.lock-expires";

/// One generation of an instance's lock as the engine lists it.
struct Found {
    name: String,
    generation: u64,
    holder: String,
    token: String,
    expires: DateTime<Utc>,
}

async fn generations(engine: &dyn Engine, instance: &InstanceId) -> EngineResult<Vec<Found>> {
    let filter = LabelFilter(vec![format!("{LOCK_OF}={instance}")]);
    let volumes = engine.list_volumes(&filter).await?;
    Ok(volumes
        .into_iter()
        .map(|v| {
            let label = |key: &str| v.labels.get(key).cloned().unwrap_or_default();
            Found {
                generation: label(GENERATION).parse().unwrap_or(0),
                holder: label(HOLDER),
                token: label(TOKEN),
                // An unreadable end counts as ended: such a lock can never be released.
                expires: DateTime::parse_from_rfc3339(&label(EXPIRES))
                    .map(|t| t.with_timezone(&Utc))
                    .unwrap_or(DateTime::<Utc>::MIN_UTC),
                name: v.name,
            }
        })
        .collect())
}

/// One attempt at the lock of `instance` for `holder`, valid for `lease`.
pub(super) async fn try_lock(
    engine: &dyn Engine,
    instance: &InstanceId,
    holder: &str,
    lease: Duration,
) -> EngineResult<LockAttempt> {
    let now = Utc::now();
    let found = generations(engine, instance).await?;
    let top = found.iter().max_by_key(|f| f.generation);
    if let Some(top) = top.filter(|t| t.expires > now) {
        return Ok(LockAttempt::Held {
            holder: describe(top),
        });
    }
    let generation = top.map_or(1, |t| t.generation + 1);
    let name = format!("envctl-lock-{instance}-{generation}");
    let token = format!(
        "{}-{}-{}",
        std::process::id(),
        now.timestamp_nanos_opt().unwrap_or_default(),
        rand_suffix()
    );
    let expires = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
    let labels = crate::engine::Labels::from([
        (LOCK_OF.to_string(), instance.to_string()),
        (GENERATION.to_string(), generation.to_string()),
        (HOLDER.to_string(), holder.to_string()),
        (TOKEN.to_string(), token.clone()),
        (EXPIRES.to_string(), crate::lifetime::format_time(expires)),
    ]);
    engine.create_volume(&name, &labels).await?;
    // Labels never change after creation: the token on the volume says who created it.
    let after = generations(engine, instance).await?;
    match after.iter().find(|f| f.name == name) {
        Some(mine) if mine.token == token => {
            for old in after.iter().filter(|f| f.generation < generation) {
                // Superseded and expired; a failure leaves a lock that is ignored anyway.
                let _ = engine.remove_volume(&old.name).await;
            }
            Ok(LockAttempt::Acquired(EngineLock { name }))
        }
        Some(theirs) => Ok(LockAttempt::Held {
            holder: describe(theirs),
        }),
        // Created and already gone: its winner released it. Try again.
        None => Ok(LockAttempt::Held {
            holder: "another envctl (just released)".into(),
        }),
    }
}

/// Releases a lock this process holds.
pub(super) async fn unlock(engine: &dyn Engine, lock: EngineLock) -> EngineResult<()> {
    match engine.remove_volume(&lock.name).await {
        Err(crate::engine::EngineError::NotFound { .. }) => Ok(()),
        other => other,
    }
}

fn describe(found: &Found) -> String {
    format!(
        "held by {} until {}",
        found.holder,
        crate::lifetime::format_time(found.expires)
    )
}

/// Distinguishes two processes with the same pid on two machines in the same nanosecond.
fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(u64::from(std::process::id()));
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fake::FakeEngine;

    #[tokio::test]
    async fn one_holder_at_a_time_and_an_expired_lease_is_superseded() {
        let engine = FakeEngine::new();
        let id = InstanceId::new("shop", Some("f1")).unwrap();
        let minute = Duration::from_secs(60);
        let LockAttempt::Acquired(first) = try_lock(&engine, &id, "alice@a", minute).await.unwrap()
        else {
            panic!("the first attempt must win");
        };
        match try_lock(&engine, &id, "bob@b", minute).await.unwrap() {
            LockAttempt::Held { holder } => assert!(holder.contains("alice@a"), "{holder}"),
            other => panic!("{other:?}"),
        }
        unlock(&engine, first).await.unwrap();
        // Released: free again. A lease that has ended is taken over by a new generation.
        let LockAttempt::Acquired(_) = try_lock(&engine, &id, "bob@b", Duration::ZERO)
            .await
            .unwrap()
        else {
            panic!("free after release");
        };
        let LockAttempt::Acquired(carol) = try_lock(&engine, &id, "carol@c", minute).await.unwrap()
        else {
            panic!("an ended lease must be taken over");
        };
        assert!(carol.name.ends_with("-2"), "{}", carol.name);
        assert_eq!(generations(&engine, &id).await.unwrap().len(), 1);
    }
}

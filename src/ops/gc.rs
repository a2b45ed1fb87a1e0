//! The `gc` use case: remove instances whose lifetime has passed, exactly as `down` would, and
//! nothing else. An instance someone is working on (its lock is held) is skipped.

use std::sync::Arc;

use serde::Serialize;

use crate::apply::{self, DownScope, EventSink};
use crate::engine::{Engine, EngineResult, LabelFilter};
use crate::lifetime;
use crate::lock::{self, WaitPolicy};

/// What happened to one expired instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GcOutcome {
    Removed,
    WouldRemove,
    /// Busy: someone holds its lock.
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

/// Finds the expired instances and (unless `dry_run`) removes them.
pub async fn gc(
    engine: Arc<dyn Engine>,
    dry_run: bool,
    volumes: bool,
    sink: EventSink,
) -> EngineResult<Vec<Expired>> {
    let now = chrono::Utc::now();
    let expired: Vec<lifetime::Lease> = lifetime::leases(engine.as_ref(), LabelFilter::envctl())
        .await?
        .into_iter()
        .filter(|l| l.expired(now))
        .collect();
    let mut results = Vec::new();
    for lease in expired {
        let (result, reason) = if dry_run {
            (GcOutcome::WouldRemove, None)
        } else {
            remove(engine.clone(), &lease, volumes, sink.clone()).await
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

/// Removes one expired instance under its lock, as `down` does.
async fn remove(
    engine: Arc<dyn Engine>,
    lease: &lifetime::Lease,
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
    let _lock = match lock::acquire(&id, "gc", WaitPolicy::FailFast, &mut |_| {}) {
        Ok(lock) => lock,
        Err(lock::LockError::Busy { holder, .. }) => return (GcOutcome::Skipped, Some(holder)),
        Err(err) => return (GcOutcome::Failed, Some(err.to_string())),
    };
    if let Err(err) = super::ownership::verify(engine.as_ref(), &id).await {
        return (GcOutcome::Failed, Some(err.to_string()));
    }
    let scope = DownScope::Instance(instance.clone());
    match apply::down(engine, &scope, volumes, sink).await {
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

//! `envctl gc`: removes instances whose lifetime (`up --ttl`) has passed, exactly as `down`
//! would, and nothing else. An instance someone is working on (its lock is held) is skipped.

use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use crate::apply::{self, DownScope, EventSink};
use crate::engine::LabelFilter;
use crate::lifetime;
use crate::lock::{self, WaitPolicy};
use crate::output;

use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove the expired instances' named volumes (their data is lost).
    #[arg(long)]
    pub volumes: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Serialize)]
struct Expired {
    instance: String,
    expires_at: String,
    /// `removed`, `would-remove`, `skipped` (busy) or `failed`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

pub async fn run(args: GcArgs) -> anyhow::Result<i32> {
    let engine = common::connect().await?;
    let json = args.output == OutputFormat::Json;
    let now = chrono::Utc::now();
    let expired: Vec<lifetime::Lease> = lifetime::leases(engine.as_ref(), LabelFilter::envctl())
        .await?
        .into_iter()
        .filter(|l| l.expired(now))
        .collect();

    let renderer = output::SharedRenderer::new(json);
    // JSON output is one document; progress lines are for humans only.
    let sink = if json {
        apply::discard()
    } else {
        renderer.sink()
    };
    let mut results = Vec::new();
    for lease in expired {
        let mut entry = Expired {
            instance: lease.instance.clone(),
            expires_at: lifetime::format_time(lease.expires_at),
            result: "would-remove",
            reason: None,
        };
        if !args.dry_run {
            (entry.result, entry.reason) =
                remove(engine.clone(), &lease, args.volumes, sink.clone()).await;
        }
        results.push(entry);
    }
    renderer.finish();

    let failed = results.iter().any(|r| r.result == "failed");
    if json {
        println!("{}", serde_json::json!({ "instances": results }));
    } else if results.is_empty() {
        println!("nothing to collect: no expired instances");
    } else {
        for r in &results {
            let why = r
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            println!(
                "{} {} (expired at {}){why}",
                r.result, r.instance, r.expires_at
            );
        }
    }
    Ok(if failed { 1 } else { 0 })
}

/// Removes one expired instance under its lock, as `down` does.
async fn remove(
    engine: Arc<dyn crate::engine::Engine>,
    lease: &lifetime::Lease,
    volumes: bool,
    sink: EventSink,
) -> (&'static str, Option<String>) {
    let instance = &lease.instance;
    let Some(id) = lease.id() else {
        return (
            "failed",
            Some(format!("`{instance}` is not an instance id")),
        );
    };
    let _lock = match lock::acquire(&id, "gc", WaitPolicy::FailFast, &mut |_| {}) {
        Ok(lock) => lock,
        Err(lock::LockError::Busy { holder, .. }) => return ("skipped", Some(holder)),
        Err(err) => return ("failed", Some(err.to_string())),
    };
    let scope = DownScope::Instance(instance.clone());
    match apply::down(engine, &scope, volumes, sink).await {
        Ok(report) if report.failures.is_empty() => ("removed", None),
        Ok(report) => (
            "failed",
            Some(
                report
                    .failures
                    .iter()
                    .map(|f| format!("{}: {}", f.service, f.reason))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        ),
        Err(err) => ("failed", Some(err.to_string())),
    }
}

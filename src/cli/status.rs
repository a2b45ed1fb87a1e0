//! `envctl status`: the services of one instance, their state, readiness and ports.
//!
//! Works from labels alone; when the definition loads, readiness is checked with each
//! service's own health check (one attempt) and pending changes are shown as `up` would make
//! them.

use std::collections::BTreeMap;

use clap::Args;
use futures_util::future::join_all;
use serde::Serialize;

use crate::apply::{self, Reach};
use crate::engine::{Engine, ObservedContainer};
use crate::model::labels;
use crate::output;
use crate::plan::ports::decode_label;
use crate::plan::{self, Plan};

use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    #[command(flatten)]
    pub render: super::RenderInputs,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Serialize)]
struct Row {
    service: String,
    container: String,
    state: String,
    ready: bool,
    /// What `up` would do to it, when the definition is known (`create`, `recreate`, ...).
    pending: Option<String>,
    /// `host->container/proto`.
    ports: Vec<String>,
    image: String,
}

pub async fn run(args: StatusArgs) -> anyhow::Result<i32> {
    let instance = common::instance_id(&args.instance)?;
    let engine = common::connect().await?;
    let containers = common::instance_containers(engine.as_ref(), &instance).await?;
    // The definition is optional: without it, status still reports what the labels say.
    let plan = match common::load(&args.instance, &args.render) {
        Ok(env) => match plan::observe(engine.as_ref(), &env).await {
            Ok(observed) => plan::plan(&env, &observed, &common::plan_inputs()?).ok(),
            Err(_) => None,
        },
        Err(_) => None,
    };
    let ready = readiness(engine.as_ref(), &containers, plan.as_ref()).await;
    let mut rows: Vec<Row> = containers
        .iter()
        .map(|(service, c)| Row {
            service: service.clone(),
            container: c.name.clone(),
            state: common::state_word(c.state),
            ready: ready.get(service).copied().unwrap_or(false),
            pending: pending(plan.as_ref(), service),
            ports: c
                .labels
                .get(labels::PORTS)
                .map(|l| decode_label(l))
                .unwrap_or_default()
                .iter()
                .map(|((container, proto), host)| format!("{host}->{container}/{}", proto.as_str()))
                .collect(),
            image: c.image.clone(),
        })
        .collect();
    if let Some(plan) = &plan {
        for target in plan.services.iter() {
            if !containers.contains_key(target.name.as_str()) {
                rows.push(Row {
                    service: target.name.to_string(),
                    container: target.container_name.clone(),
                    state: "missing".into(),
                    ready: false,
                    pending: pending(Some(plan), target.name.as_str()),
                    ports: Vec::new(),
                    image: target.image.clone(),
                });
            }
        }
    }
    let lease = crate::lifetime::leases(
        engine.as_ref(),
        crate::engine::LabelFilter::instance(instance.as_str()),
    )
    .await?
    .into_iter()
    .next();
    let expires_at = lease
        .as_ref()
        .map(|l| crate::lifetime::format_time(l.expires_at));
    match args.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::json!({
                "instance": instance.as_str(),
                "converged": plan.as_ref().map(Plan::is_empty),
                "expires_at": expires_at,
                "services": rows,
            })
        ),
        OutputFormat::Text if rows.is_empty() => {
            println!("{instance}: no containers (not up, or removed)")
        }
        OutputFormat::Text => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.service.clone(),
                        r.state.clone(),
                        if r.ready { "yes" } else { "no" }.to_string(),
                        r.ports.join(", "),
                        r.pending.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(&["SERVICE", "STATE", "READY", "PORTS", "PENDING"], &table)
            );
            if let Some(lease) = &lease {
                let left = crate::lifetime::remaining(lease.expires_at, chrono::Utc::now());
                println!(
                    "expires at {} ({left}); `envctl up` renews it",
                    crate::lifetime::format_time(lease.expires_at)
                );
            }
        }
    }
    Ok(0)
}

/// Readiness per service: its health check when the definition is known, else its state.
async fn readiness(
    engine: &dyn Engine,
    containers: &BTreeMap<String, ObservedContainer>,
    plan: Option<&Plan>,
) -> BTreeMap<String, bool> {
    let registry = plan.and_then(apply::registry_address);
    let checks = containers.iter().map(|(service, c)| async move {
        let target = plan.and_then(|p| p.service(service));
        let ready = match target.and_then(|t| t.healthcheck.as_ref().map(|hc| (t, hc))) {
            Some((target, hc)) if c.state.is_running() => {
                let reach = Reach {
                    network: plan.map(|p| p.network.as_str()).unwrap_or_default(),
                    registry,
                };
                apply::check_once(engine, c, reach, target, hc)
                    .await
                    .is_ok()
            }
            _ => common::ready_by_state(c),
        };
        (service.clone(), ready)
    });
    join_all(checks).await.into_iter().collect()
}

fn pending(plan: Option<&Plan>, service: &str) -> Option<String> {
    plan?
        .actions
        .iter()
        .find(|a| a.service().map(|s| s.as_str()) == Some(service))
        .map(|a| {
            let s = a.summary();
            format!("{} ({})", s.action, s.reason)
        })
}

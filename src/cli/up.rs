//! `envctl up`: parse, run the `ops::up` use case, print its result.

use std::time::Duration;

use clap::Args;
use serde::Serialize;

use crate::apply::ApplyOptions;
use crate::errors::ExitCode;
use crate::local::LocalSettings;
use crate::lock::WaitPolicy;
use crate::ops::up::{UpRequest, UpResult};
use crate::output::{self, Report};

use super::common::{self, parse_duration};
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    #[command(flatten)]
    pub render: super::RenderInputs,
    #[command(flatten)]
    pub overlay: super::args::OverlayArgs,
    /// Give up waiting for readiness after this long overall (e.g. 90, 1m30s, 5m; `none` for
    /// no limit). `0` does not wait at all: envctl makes the changes, then looks once at each
    /// service (its health check once): ready services are reported ready, the others
    /// `starting`, and dependents of a service not yet ready are not started.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "300s")]
    pub wait_timeout: Duration,
    /// Do not wait for services to become ready (dependencies are still honoured).
    #[arg(long)]
    pub no_wait: bool,
    /// Run SERVICE on this host instead (e.g. from an IDE): no container is made for it,
    /// containers reach it by its name through the host gateway, and envctl prints the
    /// settings to start it with (repeatable).
    #[arg(long, value_name = "SERVICE")]
    pub local: Vec<String>,
    /// Fail at once when another envctl works on this instance, instead of waiting.
    #[arg(long)]
    pub no_wait_lock: bool,
    /// Build every `build:` image again, even when its Dockerfile, context and args are
    /// unchanged; containers whose image changes are recreated.
    #[arg(long)]
    pub build: bool,
    /// Pull every image that is not built before planning, even when it is present; containers
    /// whose image changes are recreated. Fails, changing nothing, when a pull fails.
    #[arg(long)]
    pub pull: bool,
    /// Run SERVICE's `init:` steps (its seed) again although its volume was already seeded
    /// (repeatable). The steps run on the data as it is: write them to be re-runnable
    /// (e.g. `DROP TABLE IF EXISTS`), or `down --volumes` for a fresh start.
    #[arg(long, value_name = "SERVICE")]
    pub reseed: Vec<String>,
    /// Fill the new instance's named volumes from snapshot NAME (`envctl snapshot save`)
    /// before its services first start; their seeds do not run. The instance must have no
    /// volumes yet; differences from the snapshot's definition are warned about per service.
    #[arg(long, value_name = "NAME")]
    pub from_snapshot: Option<String>,
    /// Lifetime of the instance (e.g. 3d, 8h, 1m30s; `none` or `0` for no expiry). Default:
    /// the definition's `ttl:` for feature instances, else the lifetime the instance already
    /// has. Every `up` renews it; `envctl gc` removes expired instances.
    #[arg(long, value_name = "DURATION", value_parser = crate::lifetime::parse_ttl)]
    pub ttl: Option<Duration>,
    /// Record this owner (e.g. `alice@laptop`) instead of your `user@host`.
    #[arg(long, env = "ENVCTL_OWNER", value_name = "USER@HOST")]
    pub owner: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    // Before anything is created: providers would register an address nobody can reach.
    common::check_advertise_host(args.render.advertise_host.as_deref())?;
    let mut env = common::load_with_overlay(&args.instance, &args.render, &args.overlay)?;
    common::run_locally(&mut env, &args.local)?;
    check_reseed(&env, &args.reseed)?;
    let backend = common::connect(args.render.advertise_host.as_deref()).await?;
    let json = args.output == OutputFormat::Json;
    let mut inputs = common::plan_inputs()?;
    inputs.rebuild = args.build;
    if let Some(owner) = &args.owner {
        inputs.owner = owner.clone();
    }
    let request = UpRequest {
        apply: ApplyOptions {
            wait: !args.no_wait,
            wait_timeout: args.wait_timeout,
            check_once: args.wait_timeout.is_zero(),
            reseed: args.reseed.iter().cloned().collect(),
            // The backend sets where its published ports are dialled.
            ..ApplyOptions::default()
        },
        lock: if args.no_wait_lock {
            WaitPolicy::FailFast
        } else {
            WaitPolicy::Wait(args.wait_timeout)
        },
        ttl: args.ttl,
        pull: args.pull,
        inputs: &inputs,
        interrupt: super::interrupt::listen(json),
        from_snapshot: args.from_snapshot.clone(),
    };
    let renderer = output::SharedRenderer::new(json);
    let result = crate::ops::up::up(
        backend.as_ref(),
        &env,
        request,
        renderer.sink(),
        &mut common::note_lock_wait(&env.instance, json),
    )
    .await;
    renderer.finish();
    let result = result?;
    let mut report = UpReport::new(&args, &result);
    if let Some(restored) = &result.restored {
        for warning in &restored.warnings {
            report.problems.push_str(&format!("warning: {warning}\n"));
        }
        report.restored = Some(restored.clone());
    }
    Ok(output::emit(&report, json))
}

/// `--reseed NAME` must name a service that has `init:` steps.
#[derive(Debug, thiserror::Error)]
#[error("--reseed {name}: {why}")]
pub struct BadReseed {
    name: String,
    why: String,
}

fn check_reseed(env: &crate::model::Environment, names: &[String]) -> Result<(), BadReseed> {
    for name in names {
        let seeded: Vec<&str> = env
            .services
            .values()
            .filter(|s| !s.init.is_empty())
            .map(|s| s.name.as_str())
            .collect();
        let why = match env.services.iter().find(|(n, _)| n.as_str() == name) {
            Some((_, s)) if !s.init.is_empty() => continue,
            Some(_) => "this service has no `init:` steps".to_string(),
            None => "no such service".to_string(),
        };
        let known = if seeded.is_empty() {
            "no service of this environment has `init:` steps".to_string()
        } else {
            format!("services with `init:` steps: {}", seeded.join(", "))
        };
        return Err(BadReseed {
            name: name.clone(),
            why: format!("{why}; {known}"),
        });
    }
    Ok(())
}

/// What `up` prints: `ready`/`failed`, or `interrupted` with each service's state.
#[derive(Debug, Serialize)]
struct UpReport {
    result: &'static str,
    instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    elapsed: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failures: Option<Vec<Failure>>,
    expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    local: Option<Vec<LocalSettings>>,
    /// When interrupted: the state of each service.
    #[serde(skip_serializing_if = "Option::is_none")]
    services: Option<std::collections::BTreeMap<String, String>>,
    /// Allocated host ports that moved because another process took them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports_moved: Vec<crate::plan::PortMove>,
    #[serde(skip)]
    text: String,
    #[serde(skip)]
    problems: String,
    /// With `--from-snapshot`: the volumes filled and each difference found.
    #[serde(skip_serializing_if = "Option::is_none")]
    restored: Option<crate::snapshot::RestoreReport>,
}

#[derive(Debug, Serialize)]
struct Failure {
    service: String,
    reason: String,
    logs: Vec<String>,
}

impl UpReport {
    fn new(args: &UpArgs, r: &UpResult) -> Self {
        let instance = r.plan.instance.to_string();
        let rerun = format!("envctl up {}{}", args.instance.env, feature_flag(args));
        if let Some(services) = &r.interrupted {
            let list: Vec<String> = services.iter().map(|(s, st)| format!("{s} {st}")).collect();
            return Self {
                result: "interrupted",
                problems: format!(
                    "interrupted: {instance} is partly up ({}); run `{rerun}` to converge it or `envctl down` to remove it\n",
                    list.join(", ")
                ),
                instance,
                elapsed: None,
                failures: None,
                expires_at: None,
                local: None,
                services: Some(services.clone()),
                ports_moved: r.plan.port_moves.clone(),
                text: String::new(),
                restored: None,
            };
        }
        let elapsed = r.elapsed.as_secs_f64();
        let ok = r.report.ok();
        let mut text = String::new();
        let mut problems = String::new();
        let pending = &r.report.pending;
        for moved in &r.plan.port_moves {
            text.push_str(&format!("{}: {moved}\n", moved.service));
        }
        if ok {
            let what = if args.no_wait || !pending.is_empty() {
                "started"
            } else {
                "ready"
            };
            text.push_str(&format!(
                "{instance} is {what}: {} services in {elapsed:.1}s (ports: envctl ports {}{})\n",
                r.plan.services.len(),
                args.instance.env,
                feature_flag(args)
            ));
            if !pending.is_empty() {
                let list: Vec<String> = pending
                    .iter()
                    .map(|(s, why)| format!("{s} {why}"))
                    .collect();
                text.push_str(&format!(
                    "not waited for (--wait-timeout 0): {}\n",
                    list.join(", ")
                ));
            }
            if let Some(lease) = &r.lease {
                text.push_str(&format!(
                    "{instance} expires at {} (in {}); every `envctl up` renews it, `envctl gc` removes it after\n",
                    crate::lifetime::format_time(lease.expires_at),
                    crate::lifetime::remaining(lease.expires_at, chrono::Utc::now())
                ));
            }
            for settings in &r.local {
                text.push_str(&crate::local::render_text(settings));
            }
        } else {
            problems.push_str(&output::failure_report(&r.report.failures));
            problems.push_str(&format!(
                "error: {} of {instance} failed; fix the cause and run `envctl up` again: it resumes where this stopped\n",
                plural(r.report.failures.len(), "service"),
            ));
        }
        // Looking once (--wait-timeout 0), every service's state: ready, or why not yet.
        let services = args.wait_timeout.is_zero().then(|| {
            r.plan
                .services
                .iter()
                .map(|s| {
                    let name = s.name.to_string();
                    let state = match pending.get(&name) {
                        Some(why) => why.clone(),
                        None if r.report.failures.iter().any(|f| f.service == name) => {
                            "failed".to_string()
                        }
                        None => "ready".to_string(),
                    };
                    (name, state)
                })
                .collect()
        });
        Self {
            result: match (ok, pending.is_empty()) {
                (true, true) => "ready",
                (true, false) => "started",
                (false, _) => "failed",
            },
            instance,
            elapsed: Some((elapsed * 1000.0).round() / 1000.0),
            failures: Some(
                r.report
                    .failures
                    .iter()
                    .map(|f| Failure {
                        service: f.service.clone(),
                        reason: f.reason.clone(),
                        logs: f.logs.clone(),
                    })
                    .collect(),
            ),
            expires_at: r
                .lease
                .as_ref()
                .map(|l| crate::lifetime::format_time(l.expires_at)),
            local: Some(r.local.clone()),
            services,
            ports_moved: r.plan.port_moves.clone(),
            text,
            problems,
            restored: None,
        }
    }
}

impl Report for UpReport {
    fn text(&self) -> String {
        self.text.clone()
    }
    fn text_problems(&self) -> String {
        // The interruption note goes to stderr in text; JSON carries the states.
        self.problems.clone()
    }
    fn exit_code(&self) -> ExitCode {
        match self.result {
            "ready" | "started" => ExitCode::Ok,
            "interrupted" => ExitCode::Interrupted,
            _ => ExitCode::Failed,
        }
    }
}

fn feature_flag(args: &UpArgs) -> String {
    match &args.instance.feature {
        Some(f) if !f.is_empty() => format!(" --feature {f}"),
        _ => String::new(),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

//! `envctl up`: load -> observe -> plan -> apply -> report.

use std::time::{Duration, Instant};

use clap::Args;

use crate::apply::{self, ApplyOptions};
use crate::local::LocalSettings;
use crate::lock::{self, WaitPolicy};
use crate::model::{Environment, Protocol};
use crate::output;

use super::common::{self, parse_duration};
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    #[command(flatten)]
    pub render: super::RenderInputs,
    /// Give up waiting for readiness after this long overall (e.g. 90s, 5m).
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
    /// Lifetime of the instance (e.g. 3d, 8h; `none` for no expiry). Default: the definition's
    /// `ttl:` for feature instances, else the lifetime the instance already has. Every `up`
    /// renews it; `envctl gc` removes expired instances.
    #[arg(long, value_name = "DURATION", value_parser = crate::lifetime::parse_ttl)]
    pub ttl: Option<Duration>,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: UpArgs) -> anyhow::Result<i32> {
    let began = Instant::now();
    let mut env = common::load(&args.instance, &args.render)?;
    common::run_locally(&mut env, &args.local)?;
    let engine = common::connect().await?;
    let policy = if args.no_wait_lock {
        WaitPolicy::FailFast
    } else {
        WaitPolicy::Wait(args.wait_timeout)
    };
    let json = args.output == OutputFormat::Json;
    let _lock = lock::acquire(&env.instance, "up", policy, &mut |holder| {
        if !json {
            eprintln!("waiting for instance {}: {holder}", env.instance);
        }
    })?;

    let renderer = output::SharedRenderer::new(json);
    let sink = renderer.sink();
    let opts = ApplyOptions {
        wait: !args.no_wait,
        wait_timeout: args.wait_timeout,
    };
    let interrupt = super::interrupt::listen(json);
    let outcome = apply::up_until(
        engine.clone(),
        &env,
        &common::plan_inputs()?,
        &opts,
        sink,
        interrupt.clone(),
    )
    .await;
    renderer.finish();
    let apply::UpOutcome { plan, report, .. } = outcome?;
    // Renewed once something may exist (also after a failed or interrupted apply); a plan
    // that failed changed nothing, the lifetime included.
    let ttl = crate::lifetime::requested_ttl(&env, args.ttl);
    let lease = crate::lifetime::renew(engine.as_ref(), &env, ttl, chrono::Utc::now()).await?;
    if interrupt.is_set() {
        let rerun = format!("envctl up {}", args.instance.env);
        let rerun = match &args.instance.feature {
            Some(f) if !f.is_empty() => format!("{rerun} --feature {f}"),
            _ => rerun,
        };
        return Ok(
            super::interrupt::report(engine.as_ref(), &env.instance, &plan, &rerun, json).await,
        );
    }

    let elapsed = began.elapsed().as_secs_f64();
    let local = local_settings(&env, &plan);
    if json {
        let failures: Vec<serde_json::Value> = report
            .failures
            .iter()
            .map(|f| serde_json::json!({"service": f.service, "reason": f.reason, "logs": f.logs}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "result": if report.ok() { "ready" } else { "failed" },
                "instance": env.instance.as_str(),
                "elapsed": (elapsed * 1000.0).round() / 1000.0,
                "failures": failures,
                "expires_at": lease.as_ref().map(|l| crate::lifetime::format_time(l.expires_at)),
                "local": local,
            })
        );
    } else if report.ok() {
        let what = if args.no_wait { "started" } else { "ready" };
        let feature = match &args.instance.feature {
            Some(f) if !f.is_empty() => format!(" --feature {f}"),
            _ => String::new(),
        };
        println!(
            "{} is {what}: {} services in {elapsed:.1}s (ports: envctl ports {}{feature})",
            env.instance,
            plan.services.len(),
            args.instance.env
        );
        if let Some(lease) = &lease {
            println!(
                "{} expires at {} (in {}); every `envctl up` renews it, `envctl gc` removes it after",
                env.instance,
                crate::lifetime::format_time(lease.expires_at),
                crate::lifetime::remaining(lease.expires_at, chrono::Utc::now())
            );
        }
        for settings in &local {
            print!("{}", crate::local::render_text(settings));
        }
    } else {
        eprint!("{}", output::failure_report(&report.failures));
        eprintln!(
            "error: {} of {} failed; fix the cause and run `envctl up` again: it resumes where this stopped",
            plural(report.failures.len(), "service"),
            env.instance
        );
    }
    Ok(if report.ok() { 0 } else { 1 })
}

/// What the developer needs to run each `--local` service against this instance.
fn local_settings(env: &Environment, plan: &crate::plan::Plan) -> Vec<LocalSettings> {
    let host_ports: crate::local::HostPorts = plan
        .services
        .iter()
        .map(|s| {
            let tcp = s
                .ports
                .iter()
                .filter(|((_, proto), _)| *proto == Protocol::Tcp)
                .map(|((container, _), host)| (*container, *host))
                .collect();
            (s.name.to_string(), tcp)
        })
        .collect();
    env.local
        .values()
        .map(|service| crate::local::settings(service, &host_ports))
        .collect()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

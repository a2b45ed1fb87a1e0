//! `envctl snapshot save|ls|rm`: an instance's data, captured and kept on the engine.

use clap::{Args, Subcommand};
use serde::Serialize;

use crate::errors::ExitCode;
use crate::lock::WaitPolicy;
use crate::output::{self, Report};
use crate::snapshot::{human_size, SaveRequest, Snapshot};

use super::common;
use super::OutputFormat;

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Capture an instance's named volumes as snapshot NAME (services are stopped for a
    /// consistent copy and started again, unless --hot).
    Save(SaveArgs),
    /// List the snapshots on the engine.
    Ls(LsArgs),
    /// Remove a snapshot (`down` and `gc` never do).
    Rm(RmArgs),
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    /// The snapshot's name (a DNS label, unique on the engine).
    pub name: String,
    /// Copy while the services run (no downtime; the copy may be inconsistent).
    #[arg(long)]
    pub hot: bool,
    /// Fail at once when another envctl works on this instance, instead of waiting.
    #[arg(long)]
    pub no_wait_lock: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    pub name: String,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(cmd: SnapshotCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        SnapshotCommand::Save(args) => save(args).await,
        SnapshotCommand::Ls(args) => {
            let backend = common::connect(None).await?;
            let snapshots = backend.snapshots().await?;
            Ok(output::emit(
                &Listing { snapshots },
                args.output == OutputFormat::Json,
            ))
        }
        SnapshotCommand::Rm(args) => {
            let backend = common::connect(None).await?;
            let removed = backend.snapshot_remove(&args.name).await?;
            let report = Done {
                result: "removed",
                snapshot: removed,
            };
            Ok(output::emit(&report, args.output == OutputFormat::Json))
        }
    }
}

async fn save(args: SaveArgs) -> anyhow::Result<ExitCode> {
    let instance = common::instance_id(&args.instance)?;
    let json = args.output == OutputFormat::Json;
    let backend = common::connect(None).await?;
    let req = SaveRequest {
        env: common::env_name(&args.instance.env),
        feature: args.instance.feature.clone(),
        instance: instance.clone(),
        name: args.name.clone(),
        hot: args.hot,
        now: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let policy = if args.no_wait_lock {
        WaitPolicy::FailFast
    } else {
        WaitPolicy::Wait(crate::apply::DEFAULT_WAIT_TIMEOUT)
    };
    // Progress goes to stderr, so stdout stays the result (text or JSON).
    let progress = |step: String| crate::errln!("snapshot {}: {step}", args.name);
    let quiet = |_: String| {};
    let progress: &(dyn Fn(String) + Send + Sync) = if json { &quiet } else { &progress };
    let snapshot = crate::ops::snapshot::save(
        backend.as_ref(),
        &req,
        policy,
        &mut common::note_lock_wait(&instance, json),
        progress,
    )
    .await?;
    let report = Done {
        result: "saved",
        snapshot,
    };
    Ok(output::emit(&report, json))
}

#[derive(Debug, Serialize)]
struct Done {
    result: &'static str,
    snapshot: Snapshot,
}

impl Report for Done {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Ok
    }

    fn text(&self) -> String {
        let s = &self.snapshot;
        format!(
            "{} snapshot {} of {} ({}, {} volume(s))\n",
            self.result,
            s.name,
            s.instance,
            human_size(s.size),
            s.volumes.len()
        )
    }
}

#[derive(Debug, Serialize)]
struct Listing {
    snapshots: Vec<Snapshot>,
}

impl Report for Listing {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Ok
    }

    fn text(&self) -> String {
        if self.snapshots.is_empty() {
            return "no snapshots\n".into();
        }
        let mut out = format!(
            "{:<20} {:<28} {:>10}  {:<20}  VOLUMES\n",
            "NAME", "INSTANCE", "SIZE", "CREATED"
        );
        for s in &self.snapshots {
            let volumes: Vec<&str> = s.volumes.keys().map(String::as_str).collect();
            let hot = if s.hot { " (hot)" } else { "" };
            out.push_str(&format!(
                "{:<20} {:<28} {:>10}  {:<20}  {}{hot}\n",
                s.name,
                s.instance,
                human_size(s.size),
                s.created,
                volumes.join(",")
            ));
        }
        out
    }
}

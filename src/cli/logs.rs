//! `envctl logs`: the logs of an instance's services, each line prefixed with its service.
//! Lines go out as they come, through the pipe-safe stream: `envctl logs X | head` ends
//! quietly, and a follower stops once nobody reads.

use clap::Args;
use futures_util::stream::{self, StreamExt};

use crate::errors::ExitCode;

use super::common;

/// `-f` is `--feature` here as everywhere; following is `--follow`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    /// Only this service.
    pub service: Option<String>,
    /// Keep following new lines (`docker logs -f`).
    #[arg(long)]
    pub follow: bool,
    /// Show only the last N lines of each service.
    #[arg(long)]
    pub tail: Option<usize>,
}

pub async fn run(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let instance = common::instance_id(&args.instance)?;
    let backend = common::connect(None).await?;
    let mut containers =
        crate::ops::inspect::existing_instance(backend.as_ref(), &instance).await?;
    if let Some(service) = &args.service {
        containers.retain(|name, _| name == service);
        if containers.is_empty() {
            anyhow::bail!("instance {instance} has no container for service `{service}`");
        }
    }
    let tail = args.tail.unwrap_or(usize::MAX);
    let width = containers.keys().map(|s| s.len()).max().unwrap_or(0);
    let closed = crate::output::stream::stdout_closed;
    if args.follow {
        let streams = containers.iter().map(|(service, c)| {
            let prefix = format!("{service:<width$} |");
            backend
                .follow_logs(c, tail)
                .map(move |line| line.map(|l| format!("{prefix} {l}")))
        });
        let mut merged = stream::select_all(streams);
        while let Some(line) = merged.next().await {
            crate::outln!("{}", line?);
            if closed() {
                break;
            }
        }
    } else {
        for (service, c) in &containers {
            for line in backend.logs(c, tail).await? {
                crate::outln!("{service:<width$} | {line}");
            }
            if closed() {
                break;
            }
        }
    }
    Ok(ExitCode::Ok)
}

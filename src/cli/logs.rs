//! `envctl logs`: the logs of an instance's services, each line prefixed with its service.

use clap::Args;
use futures_util::stream::{self, StreamExt};

use super::common;

/// `-f` follows here, as in `docker logs -f`; the feature is `--feature` only.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Environment: a name found in ./environments, or a path to a definition file.
    pub env: String,
    /// Only this service.
    pub service: Option<String>,
    /// The isolated copy for this feature branch (instance `<env>--<feature>`).
    #[arg(long)]
    pub feature: Option<String>,
    /// Keep following new lines.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Show only the last N lines of each service.
    #[arg(long)]
    pub tail: Option<usize>,
}

pub async fn run(args: LogsArgs) -> anyhow::Result<i32> {
    let instance = common::instance_id(&super::InstanceArgs {
        env: args.env.clone(),
        feature: args.feature.clone(),
    })?;
    let engine = common::connect().await?;
    let mut containers = common::instance_containers(engine.as_ref(), &instance).await?;
    if let Some(service) = &args.service {
        containers.retain(|name, _| name == service);
        if containers.is_empty() {
            anyhow::bail!("instance {instance} has no container for service `{service}`");
        }
    }
    let tail = args.tail.unwrap_or(usize::MAX);
    let width = containers.keys().map(|s| s.len()).max().unwrap_or(0);
    if args.follow {
        let streams = containers.iter().map(|(service, c)| {
            let prefix = format!("{service:<width$} |");
            engine
                .follow_logs(&c.id, tail)
                .map(move |line| line.map(|l| format!("{prefix} {l}")))
        });
        let mut merged = stream::select_all(streams);
        while let Some(line) = merged.next().await {
            println!("{}", line?);
        }
    } else {
        for (service, c) in &containers {
            for line in engine.logs(&c.id, tail).await? {
                println!("{service:<width$} | {line}");
            }
        }
    }
    Ok(0)
}

//! What the engine-facing commands share: connecting to the engine, loading a definition,
//! naming an instance without its definition, durations, and reading instances by labels.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::definition::{self, LoadOptions};
use crate::engine::{ContainerState, Engine, LabelFilter, ObservedContainer};
use crate::model::{labels, Environment, InstanceId};

use super::{InstanceArgs, RenderInputs};

/// Connects to the local engine; the one place engine-connection errors are worded.
pub async fn connect() -> anyhow::Result<Arc<dyn Engine>> {
    connect_engine().await
}

async fn connect_engine() -> anyhow::Result<Arc<dyn Engine>> {
    let engine = crate::engine::docker::DockerEngine::connect().await?;
    Ok(Arc::new(engine))
}

/// Planning inputs from this host.
pub fn plan_inputs() -> anyhow::Result<crate::plan::PlanInputs<'static>> {
    crate::plan::PlanInputs::from_host().map_err(|e| anyhow::anyhow!(e))
}

/// Loads and validates the definition for `instance` with the given inputs.
pub fn load(instance: &InstanceArgs, inputs: &RenderInputs) -> anyhow::Result<Environment> {
    let opts = LoadOptions {
        feature: instance.feature.clone().filter(|f| !f.is_empty()),
        set: inputs.set.iter().cloned().collect(),
        advertise_host: inputs
            .advertise_host
            .clone()
            .unwrap_or_else(|| crate::advertise::detect().to_string()),
    };
    Ok(definition::load(&instance.env, &opts)?)
}

/// Moves the `--local` services out of the containers (see `model::Environment::run_locally`).
pub fn run_locally(env: &mut Environment, local: &[String]) -> anyhow::Result<()> {
    for name in local {
        env.run_locally(name).map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(())
}

/// The instance id for commands that act by labels. The definition's `name:` wins when the
/// file is there and loads; without it (or when it is broken) the environment is the name
/// given, or the file stem of the path given.
pub fn instance_id(instance: &InstanceArgs) -> anyhow::Result<InstanceId> {
    if definition::locate(&instance.env).is_ok() {
        let inputs = RenderInputs {
            set: Vec::new(),
            advertise_host: Some("127.0.0.1".into()),
        };
        if let Ok(env) = load(instance, &inputs) {
            return Ok(env.instance);
        }
    }
    let env = env_name(&instance.env);
    InstanceId::new(&env, instance.feature.as_deref())
        .with_context(|| format!("`{}` does not name an instance", instance.env))
}

/// The environment name of `ENV` as given on the command line.
pub fn env_name(arg: &str) -> String {
    let looks_like_path = arg.contains('/') || arg.ends_with(".yaml") || arg.ends_with(".yml");
    if looks_like_path {
        std::path::Path::new(arg)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| arg.to_string())
    } else {
        arg.to_string()
    }
}

/// Parses `90`, `90s`, `500ms`, `5m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 5m or 500ms"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use ms, s, m or h)"
            ))
        }
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// The containers of one instance, by service name.
pub async fn instance_containers(
    engine: &dyn Engine,
    instance: &InstanceId,
) -> anyhow::Result<BTreeMap<String, ObservedContainer>> {
    let containers = engine
        .list_containers(&LabelFilter::instance(instance.as_str()))
        .await?;
    Ok(containers
        .into_iter()
        .map(|c| {
            let service = c
                .labels
                .get(labels::SERVICE)
                .cloned()
                .unwrap_or_else(|| c.name.clone());
            (service, c)
        })
        .collect())
}

/// Whether a container counts as ready when only its state is known: a running service, or
/// a job that exited 0.
pub fn ready_by_state(c: &ObservedContainer) -> bool {
    let is_job = c.labels.get(crate::plan::KIND_LABEL).map(String::as_str) == Some("job");
    match c.state {
        ContainerState::Running => true,
        ContainerState::Exited { code: 0 } => is_job,
        _ => false,
    }
}

/// A short human word for a container state.
pub fn state_word(state: ContainerState) -> String {
    match state {
        ContainerState::Exited { code } => format!("exited ({code})"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// How long ago a unix timestamp was, compactly (`3m`, `2h`, `4d`).
pub fn age(created_unix: i64) -> String {
    let now = chrono::Utc::now().timestamp();
    let secs = (now - created_unix).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn env_names_from_paths() {
        assert_eq!(env_name("shop"), "shop");
        assert_eq!(env_name("envs/shop.yaml"), "shop");
        assert_eq!(env_name("./x/y.yml"), "y");
    }
}

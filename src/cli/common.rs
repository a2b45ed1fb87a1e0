//! What the instance-facing commands share: connecting to the backend, loading a definition,
//! naming an instance without its definition, and duration flags.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::backend::{self, Backend};
use crate::definition;
use crate::model::{Environment, InstanceId};

use super::{InstanceArgs, RenderInputs};

/// Connects to the backend (see `backend::connect`); `advertise` is `--advertise-host`.
pub async fn connect(advertise: Option<&str>) -> anyhow::Result<Arc<dyn Backend>> {
    Ok(backend::connect(backend::host_address(advertise), advertise).await?)
}

/// Refuses an `--advertise-host` that is neither this machine's nor the engine host's, before
/// anything is created: providers would register an address nobody can reach.
pub fn check_advertise_host(host: Option<&str>) -> anyhow::Result<()> {
    if let Some(host) = host {
        let engine = backend::selection::selected()?;
        // On a cluster it is a node's address, which this machine cannot judge.
        if engine.target.kubernetes().is_some() {
            return Ok(());
        }
        crate::settings::check_advertise_host(host, engine.target.remote_host())?;
    }
    Ok(())
}

/// The engine this process talks to and the setting that chose it, as `ls` and `status` show
/// it: `tcp://server:2375 (from DOCKER_HOST)`.
pub fn engine_text() -> String {
    match backend::selection::selected() {
        Ok(selected) => selected.target.to_string(),
        Err(err) => err.to_string(),
    }
}

/// A report with the engine it came from (`"engine"` in JSON, beside the report's own fields).
#[derive(Debug, serde::Serialize)]
pub struct OnEngine<T> {
    pub engine: String,
    #[serde(flatten)]
    pub report: T,
}

impl<T> OnEngine<T> {
    pub fn new(report: T) -> Self {
        Self {
            engine: engine_text(),
            report,
        }
    }
}

/// What `up` and `down` say (text output only) when another envctl holds the instance.
pub fn note_lock_wait(instance: &InstanceId, json: bool) -> impl FnMut(&str) + '_ {
    move |holder| {
        if !json {
            crate::errln!("waiting for instance {instance}: {holder}");
        }
    }
}

/// Planning inputs from this host.
pub fn plan_inputs() -> anyhow::Result<crate::plan::PlanInputs<'static>> {
    Ok(crate::plan::PlanInputs::from_host()?)
}

/// Loads and validates the definition for `instance` with the given inputs.
pub fn load(instance: &InstanceArgs, inputs: &RenderInputs) -> anyhow::Result<Environment> {
    let opts = inputs.load_options(instance.feature.as_deref());
    Ok(definition::load(&instance.env, &opts)?)
}

/// Loads the definition as `load` does, then makes it an overlay when `overlay` asks for one
/// (templates then see the tag as `dubbo_tag`).
pub fn load_with_overlay(
    instance: &InstanceArgs,
    inputs: &RenderInputs,
    overlay: &super::args::OverlayArgs,
) -> anyhow::Result<Environment> {
    let mut opts = inputs.load_options(instance.feature.as_deref());
    if overlay.requested() {
        opts.dubbo_tag = instance.feature.clone();
    }
    let mut env = definition::load(&instance.env, &opts)?;
    if overlay.requested() {
        let registry = crate::dubbo::registry::may_be_registry;
        env.into_overlay(overlay.base.as_deref(), &overlay.only, &registry)?;
    }
    Ok(env)
}

/// Moves the `--local` services out of the containers (see `model::Environment::run_locally`).
pub fn run_locally(env: &mut Environment, local: &[String]) -> anyhow::Result<()> {
    for name in local {
        env.run_locally(name)?;
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

/// Parses a duration flag: the one grammar of `definition::parse_duration` (`90`, `1m30s`,
/// `500ms`, `3d`), plus `none` for no limit (the longest duration allowed).
pub fn parse_duration(text: &str) -> Result<Duration, crate::definition::UnitError> {
    crate::definition::parse_limit(text)
        .map(|limit| limit.unwrap_or(crate::definition::MAX_DURATION))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_from_paths() {
        assert_eq!(env_name("shop"), "shop");
        assert_eq!(env_name("envs/shop.yaml"), "shop");
        assert_eq!(env_name("./x/y.yml"), "y");
    }
}

//! Arguments shared by several commands.

use clap::{Args, ValueEnum};

/// Which environment and which copy of it.
#[derive(Debug, Clone, Args)]
pub struct InstanceArgs {
    /// Environment: a name found in ./environments, or a path to a definition file.
    pub env: String,
    /// Act on the isolated copy for this feature branch (instance `<env>--<feature>`). A DNS
    /// label without `--`; an empty value is an error, never the main instance.
    #[arg(long, short = 'f', value_parser = parse_feature)]
    pub feature: Option<String>,
}

/// Making a feature instance an overlay on a base instance (see docs/commands.md, overlays).
#[derive(Debug, Clone, Default, Args)]
pub struct OverlayArgs {
    /// Make the feature instance an overlay running only these services (comma-separated or
    /// repeated) and what only they use, on the base instance's network and registry, tagged
    /// with the feature for Dubbo routing. Needs --feature.
    #[arg(
        long,
        value_name = "SERVICE,...",
        value_delimiter = ',',
        requires = "feature"
    )]
    pub only: Vec<String>,
    /// The base of the overlay: the instance of this feature (default: the main instance),
    /// which must be up.
    #[arg(long, value_name = "FEATURE", value_parser = parse_feature, requires = "feature")]
    pub base: Option<String>,
    /// Make an overlay of the services the definition's `overlay.services` lists (what --only
    /// or --base alone also imply when --only is absent).
    #[arg(long, requires = "feature")]
    pub overlay: bool,
}

impl OverlayArgs {
    /// Whether an overlay was asked for at all: without these, `--feature` is a full copy.
    pub fn requested(&self) -> bool {
        self.overlay || self.base.is_some() || !self.only.is_empty()
    }
}

/// Inputs to rendering a definition.
#[derive(Debug, Clone, Args)]
pub struct RenderInputs {
    /// Set a template variable, available as `set.KEY` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Address that outsiders use to reach published ports (default: the host's primary IPv4).
    /// `up` refuses one that is not an address of this machine or of the engine host.
    #[arg(long, env = "ENVCTL_ADVERTISE_HOST", value_parser = crate::settings::parse_advertise_host)]
    pub advertise_host: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, for scripts.
    Json,
}

/// `--feature`: refused at parse time (exit 2, nothing touched) when empty or not a valid
/// feature name, so a script passing an empty `$BRANCH` never acts on the main instance.
pub fn parse_feature(s: &str) -> Result<String, FlagError> {
    crate::model::check_feature_name(s)
        .map(|()| s.to_string())
        .map_err(|err| match err {
            crate::model::NameError::Empty { .. } => FlagError::EmptyFeature,
            other => FlagError::BadFeature(other),
        })
}

pub fn parse_key_value(s: &str) -> Result<(String, String), FlagError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(FlagError::NotKeyValue(s.to_string())),
    }
}

/// A flag value refused at parse time (clap prints it under the flag's name).
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("the feature name is empty; leave out --feature to mean the main instance")]
    EmptyFeature,
    #[error(transparent)]
    BadFeature(crate::model::NameError),
    #[error("expected KEY=VALUE, got `{0}`")]
    NotKeyValue(String),
}

/// The environments named on the command line, or every `./environments/*.yaml` when none are;
/// an error saying what to do when there is nothing to `verb`.
pub fn environments_or_all(given: &[String], verb: &str) -> anyhow::Result<Vec<String>> {
    let envs: Vec<String> = if given.is_empty() {
        crate::definition::list_environments()
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    } else {
        given.to_vec()
    };
    if envs.is_empty() {
        anyhow::bail!(
            "nothing to {verb}: no ./environments/*.yaml and no ENV given; \
             name an environment file, or run `envctl init` to create one"
        );
    }
    Ok(envs)
}

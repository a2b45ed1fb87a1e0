//! `envctl gc`: removes instances whose lifetime (`up --ttl`) has passed, exactly as `down`
//! would, and nothing else (see `ops::gc`); optionally only those of one environment, one
//! instance, or with given labels.

use anyhow::Context;
use clap::Args;
use serde::Serialize;

use crate::apply;
use crate::errors::ExitCode;
use crate::model::InstanceId;
use crate::ops::gc::{Expired, GcOutcome, GcScope};
use crate::output::{self, Report};

use super::args::{parse_feature, parse_key_value};
use super::common;
use super::OutputFormat;

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only instances of this environment (the main one and every feature): a name found in
    /// ./environments, or a path to a definition file.
    pub env: Option<String>,
    /// Only the instance of ENV for this feature branch (`<env>--<feature>`).
    #[arg(long, short = 'f', value_parser = parse_feature, requires = "env")]
    pub feature: Option<String>,
    /// Only this instance (as `envctl ls` names it, e.g. `shop--pr-12`).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["env", "feature"])]
    pub instance: Option<String>,
    /// Only instances whose labels carry KEY=VALUE, e.g. `io.envctl.feature=pr-12`
    /// (repeatable: all must match).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub selector: Vec<(String, String)>,
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Also remove the expired instances' named volumes (their data is lost).
    #[arg(long)]
    pub volumes: bool,
    /// Also remove expired instances someone else made (`envctl ls` shows owners).
    #[arg(long)]
    pub force: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

pub async fn run(args: GcArgs) -> anyhow::Result<ExitCode> {
    // Bad scope input is refused before the engine is touched.
    let scope = scope(&args)?;
    let backend = common::connect(None).await?;
    let json = args.output == OutputFormat::Json;
    let renderer = output::SharedRenderer::new(json);
    // JSON output is one document; progress lines are for humans only.
    let sink = if json {
        apply::discard()
    } else {
        renderer.sink()
    };
    let instances =
        crate::ops::gc::gc(backend.as_ref(), &scope, args.dry_run, args.volumes, sink).await;
    renderer.finish();
    let collected = Collected {
        instances: instances?,
        scope: scope.describe(),
    };
    Ok(output::emit(&collected, json))
}

/// The scope the flags ask for. ENV alone means every instance of it; with `--feature`, that
/// one instance (the definition's `name:` wins when the file is there, as for `down`).
fn scope(args: &GcArgs) -> anyhow::Result<GcScope> {
    let mut scope = GcScope {
        selectors: args.selector.clone(),
        mine: (!args.force).then(crate::owner::current),
        ..Default::default()
    };
    if let Some(name) = &args.instance {
        // `<env>--<feature>`: `--` is reserved in both names, so the split is unambiguous.
        let (env, feature) = match name.split_once("--") {
            Some((env, feature)) => (env, Some(feature)),
            None => (name.as_str(), None),
        };
        let id = InstanceId::new(env, feature)
            .with_context(|| format!("--instance `{name}` does not name an instance"))?;
        scope.instance = Some(id);
    } else if let Some(env) = &args.env {
        let id = common::instance_id(&super::InstanceArgs {
            env: env.clone(),
            feature: args.feature.clone(),
        })?;
        scope.env = Some(id.env().to_string());
        if id.feature().is_some() {
            scope.instance = Some(id);
        }
    }
    Ok(scope)
}

#[derive(Debug, Serialize)]
struct Collected {
    instances: Vec<Expired>,
    #[serde(skip)]
    scope: String,
}

impl Report for Collected {
    fn text(&self) -> String {
        if self.instances.is_empty() {
            return match self.scope.as_str() {
                "" => "nothing to collect: no expired instances\n".into(),
                scope => format!("nothing to collect: no expired instances ({scope})\n"),
            };
        }
        self.instances
            .iter()
            .map(|r| {
                let why = r
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                format!(
                    "{} {} (expired at {}){why}\n",
                    r.result.word(),
                    r.instance,
                    r.expires_at
                )
            })
            .collect()
    }
    fn exit_code(&self) -> ExitCode {
        ExitCode::from_ok(!self.instances.iter().any(|r| r.result == GcOutcome::Failed))
    }
}

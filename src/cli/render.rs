//! `envctl render`: the fully resolved definition (templates applied, defaults filled), or
//! with `--target kubernetes` the manifests `kubernetes::manifests` maps it to.

use std::collections::BTreeMap;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{InstanceArgs, RenderInputs};
use crate::definition::{self, EnvironmentView, LoadOptions};
use crate::errors::ExitCode;
use crate::model::{host_port_token, InstanceId};

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    #[command(flatten)]
    pub inputs: RenderInputs,
    /// Output format: the resolved environment as YAML or JSON, or the Tera-rendered text
    /// before parsing (to debug templates).
    #[arg(long, short = 'o', value_enum, default_value_t = RenderFormat::Yaml)]
    pub output: RenderFormat,
    /// What to render: `docker`, the resolved environment envctl runs on Docker; or
    /// `kubernetes`, the manifests of the instance (multi-document YAML for
    /// `kubectl apply -f -`, or a JSON `List` with `--output json`; secrets as placeholders,
    /// node ports left to the cluster). See docs/kubernetes.md.
    #[arg(long, value_enum, default_value_t = RenderTarget::Docker)]
    pub target: RenderTarget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderTarget {
    Docker,
    Kubernetes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    Yaml,
    Json,
    /// The file after Tera rendering, before YAML parsing.
    Text,
}

impl RenderInputs {
    /// The load options for one instance: `--set` values, and the address outsiders use as
    /// the backend reports it (`--advertise-host`, else detected). An empty feature is none.
    pub fn load_options(&self, feature: Option<&str>) -> LoadOptions {
        LoadOptions {
            feature: feature.filter(|f| !f.is_empty()).map(str::to_string),
            set: self.set.iter().cloned().collect(),
            advertise_host: crate::backend::host_address(self.advertise_host.as_deref()).advertise,
            dubbo_tag: None,
        }
    }
}

pub async fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    if args.target == RenderTarget::Kubernetes && args.output == RenderFormat::Text {
        crate::errln!("error: --output text shows the definition before parsing; it has no Kubernetes form (use --output yaml or json)");
        return Ok(ExitCode::Failed);
    }
    let opts = args.inputs.load_options(args.instance.feature.as_deref());
    if args.output == RenderFormat::Text {
        return Ok(match definition::render_text(&args.instance.env, &opts) {
            Ok(text) => {
                let ports = match super::common::instance_id(&args.instance) {
                    Ok(instance) => allocated_ports(&instance).await,
                    Err(_) => AllocatedPorts::new(),
                };
                emit(&host_port_token::display(&text, |s: &str, p| {
                    lookup(&ports, s, p)
                }))?;
                ExitCode::Ok
            }
            Err(err) => report(&err),
        });
    }
    let env = match definition::load(&args.instance.env, &opts) {
        Ok(env) => env,
        Err(err) => return Ok(report(&err)),
    };
    if args.target == RenderTarget::Kubernetes {
        return kubernetes(&env, args.output);
    }
    let ports = allocated_ports(&env.instance).await;
    let view = EnvironmentView::with_host_ports(&env, &|s: &str, p| lookup(&ports, s, p));
    match args.output {
        RenderFormat::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&view)?))?,
        _ => emit(&serde_yaml::to_string(&view)?)?,
    }
    Ok(ExitCode::Ok)
}

/// The instance's Kubernetes manifests. No engine or cluster is asked anything: node ports
/// are the cluster's to allocate until the Kubernetes backend does it.
fn kubernetes(env: &crate::model::Environment, output: RenderFormat) -> anyhow::Result<ExitCode> {
    let text = match output {
        RenderFormat::Json => crate::kubernetes::manifests(env).map(|items| {
            let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items });
            format!(
                "{}\n",
                serde_json::to_string_pretty(&list).expect("JSON values print")
            )
        }),
        _ => crate::kubernetes::render_yaml(env),
    };
    match text {
        Ok(text) => {
            emit(&text)?;
            Ok(ExitCode::Ok)
        }
        Err(err) => {
            crate::errln!("error: {err}");
            Ok(ExitCode::Failed)
        }
    }
}

/// (service, container port) -> host port.
type AllocatedPorts = BTreeMap<(String, u16), u16>;

fn lookup(ports: &AllocatedPorts, service: &str, port: u16) -> Option<u16> {
    ports.get(&(service.to_string(), port)).copied()
}

/// How long `render` waits for the engine before showing placeholders instead of ports.
const ENGINE_WAIT: Duration = Duration::from_secs(3);

/// The host ports of `instance` when it exists on the engine; none when it does not or the
/// engine cannot be reached (render never needs the engine).
async fn allocated_ports(instance: &InstanceId) -> AllocatedPorts {
    let rows = async {
        let backend = super::common::connect(None).await.ok()?;
        crate::ops::inspect::ports(backend.as_ref(), instance)
            .await
            .ok()
    };
    let mut rows = tokio::time::timeout(ENGINE_WAIT, rows)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    // A token names no protocol: TCP wins over UDP, as when `up` replaces it.
    rows.sort_by_key(|r| r.protocol == "tcp");
    rows.into_iter()
        .map(|r| ((r.service, r.container_port), r.host_port))
        .collect()
}

/// Prints the diagnostics, exactly as `main` would print the error, and fails.
pub(super) fn report(err: &definition::DefinitionError) -> ExitCode {
    crate::errln!("{}", err.rendered);
    ExitCode::Failed
}

/// Writes to stdout; a closed pipe (`envctl render x | head`) is not an error.
/// Writes a document to stdout through the pipe-safe stream.
pub(super) fn emit(text: &str) -> anyhow::Result<()> {
    crate::out!("{text}");
    Ok(())
}

//! `envctl endpoints`: the Dubbo providers registered in an instance's ZooKeeper, with the
//! address an outsider (IDE, test runner, another machine) should use, plus every published port.

use anyhow::Context;
use clap::Args;

use crate::dubbo::endpoints::{Endpoints, ProviderEndpoint, Reach};
use crate::dubbo::RegistryAddress;
use crate::engine::ObservedContainer;
use crate::model::{Environment, InstanceId};
use crate::ops::endpoints::{collect, provider_name, RegistryChoice};

#[derive(Debug, Args)]
pub struct EndpointsArgs {
    #[command(flatten)]
    pub instance: super::InstanceArgs,
    /// Address outsiders use to reach published ports (default: the host's primary IPv4).
    #[arg(long, env = "ENVCTL_ADVERTISE_HOST", value_parser = crate::settings::parse_advertise_host)]
    pub advertise_host: Option<String>,
    /// The Dubbo registry group (root node) providers register under (overrides the
    /// `group=` of --registry).
    #[arg(long)]
    pub group: Option<String>,
    /// The registry address as the providers are configured with it, its hosts naming
    /// services of the instance: `zookeeper://zk1:2181?backup=zk2:2181&group=shop`,
    /// `zk1:2181,zk2:2181/chroot` (default: the instance's ZooKeeper, Dubbo's default layout).
    #[arg(long, value_parser = parse_registry)]
    pub registry: Option<RegistryAddress>,
    /// Keep watching: print providers as they register and vanish (ZooKeeper watches), one
    /// line each (`+`/`-`; with --output json one JSON object per line), until interrupted.
    #[arg(long)]
    pub watch: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: super::OutputFormat,
}

pub async fn run(args: EndpointsArgs) -> anyhow::Result<crate::errors::ExitCode> {
    let backend = super::common::connect(args.advertise_host.as_deref()).await?;
    let host = backend.host_address().clone();
    let (instance, env) = resolve_instance(&args.instance, &host.advertise)?;
    backend.verify_owner(&instance).await?;
    let workloads = backend
        .services(&instance)
        .await
        .context("listing the instance's containers")?;
    let base = crate::ops::overlays::base_workloads(backend.as_ref(), &instance, &workloads)
        .await
        .context("listing the overlay's base containers")?;
    let containers: Vec<ObservedContainer> = workloads.into_values().collect();
    if containers.is_empty() {
        anyhow::bail!(
            "no instance `{instance}` on this engine (start it with `envctl up {}`)",
            args.instance.env
        );
    }
    let mut choice = registry_choice(&args);
    choice.base = base;
    if args.watch {
        let watched = super::endpoints_watch::Watched {
            address: choice.address.as_ref(),
            layout: &choice.layout,
            json: matches!(args.output, super::OutputFormat::Json),
        };
        return super::endpoints_watch::run(watched, backend.as_ref(), &instance, env.as_ref())
            .await;
    }
    let found = collect(&instance, containers, env.as_ref(), &host, &choice).await;
    match args.output {
        super::OutputFormat::Json => crate::outln!("{}", serde_json::to_string_pretty(&found)?),
        super::OutputFormat::Text => crate::out!("{}", render_text(&found)),
    }
    Ok(crate::errors::ExitCode::Ok)
}

fn parse_registry(text: &str) -> Result<RegistryAddress, crate::dubbo::address::AddressError> {
    crate::dubbo::address::parse(text)
}

/// Which registry to read: an address (its layout, `--group` winning) or the instance's
/// ZooKeeper under `--group`.
pub fn registry_choice(args: &EndpointsArgs) -> RegistryChoice {
    let mut layout = args
        .registry
        .as_ref()
        .map(|a| a.layout.clone())
        .unwrap_or_default();
    if let Some(group) = &args.group {
        layout.group = group.trim_matches('/').to_string();
    }
    RegistryChoice {
        address: args.registry.clone(),
        layout,
        base: Vec::new(),
    }
}

/// The instance id, and its definition when it loads. Without a readable definition the
/// instance is still found by name: `endpoints` must work for an instance whose file has
/// moved on.
fn resolve_instance(
    args: &super::InstanceArgs,
    advertise_host: &str,
) -> anyhow::Result<(InstanceId, Option<Environment>)> {
    let inputs = super::RenderInputs {
        set: Vec::new(),
        advertise_host: Some(advertise_host.to_string()),
    };
    match super::common::load(args, &inputs) {
        Ok(env) => Ok((env.instance.clone(), Some(env))),
        Err(_) => Ok((super::common::instance_id(args)?, None)),
    }
}

/// The human-readable report; columns sized to their widest entry.
pub fn render_text(e: &Endpoints) -> String {
    let mut out = String::new();
    let registry = e.registry.as_deref().unwrap_or("none found");
    out.push_str(&format!(
        "Instance {} (advertised as {}, registry {registry})\n",
        e.instance, e.advertise_host
    ));
    out.push_str("\nDubbo providers:\n");
    if e.providers.is_empty() {
        out.push_str("  (none registered)\n");
    }
    let outside = |p: &ProviderEndpoint| p.outside.clone().unwrap_or_else(|| "unreachable".into());
    let w_addr = e
        .providers
        .iter()
        .map(|p| outside(p).len())
        .max()
        .unwrap_or(0);
    let w_service = e
        .providers
        .iter()
        .map(|p| p.service.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(0);
    let mut heading = String::new();
    for p in &e.providers {
        if provider_name(p) != heading {
            heading = provider_name(p);
            out.push_str(&format!("  {heading}\n"));
        }
        let how = match p.reach {
            Reach::Advertised => "registered for outsiders".to_string(),
            Reach::PublishedPort => format!("registered as {} (container)", p.registered),
            Reach::ContainerOnly => format!("registered as {} (container only)", p.registered),
            Reach::External => "registered outside this instance".to_string(),
        };
        let how = match (&p.form, &p.application) {
            (crate::dubbo::Form::Instance, Some(app)) => format!("{how}, instance of {app}"),
            _ => how,
        };
        let how = match &p.tag {
            Some(tag) => format!("{how}, tag {tag}"),
            None => how,
        };
        out.push_str(&format!(
            "    {:<w_addr$}  {:<w_service$}  {:<5} {how}\n",
            outside(p),
            p.service.as_deref().unwrap_or("-"),
            p.protocol,
        ));
    }
    out.push_str("\nPublished ports:\n");
    if e.ports.is_empty() {
        out.push_str("  (none)\n");
    }
    let w_service = e.ports.iter().map(|p| p.service.len()).max().unwrap_or(0);
    let w_port = e
        .ports
        .iter()
        .map(|p| format!("{}/{}", p.container_port, p.protocol).len())
        .max()
        .unwrap_or(0);
    let w_outside = e.ports.iter().map(|p| p.outside.len()).max().unwrap_or(0);
    for p in &e.ports {
        let port = format!("{}/{}", p.container_port, p.protocol);
        out.push_str(&format!(
            "  {:<w_service$}  {port:>w_port$} -> {:<w_outside$}  (local {})\n",
            p.service, p.outside, p.local
        ));
    }
    for w in &e.warnings {
        out.push_str(&format!("\nwarning: {w}"));
    }
    if !e.warnings.is_empty() {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::HostAddress;
    use crate::engine::{ContainerState, PublishedPort};
    use crate::model::{labels, Protocol};
    use crate::zookeeper::fake::FakeZk;

    fn outside() -> HostAddress {
        HostAddress::local_engine(Some("192.168.1.20"))
    }

    fn container(service: &str, image: &str, ip: &str, ports: &[(u16, u16)]) -> ObservedContainer {
        ObservedContainer {
            id: service.to_string(),
            name: format!("shop-{service}"),
            image: image.to_string(),
            image_id: String::new(),
            labels: [
                (labels::INSTANCE.to_string(), "shop".to_string()),
                (labels::SERVICE.to_string(), service.to_string()),
            ]
            .into(),
            state: ContainerState::Running,
            ports: ports
                .iter()
                .map(|&(container, host)| PublishedPort {
                    container,
                    host,
                    protocol: Protocol::Tcp,
                })
                .collect(),
            ips: [("shop".to_string(), ip.to_string())].into(),
            created: 0,
        }
    }

    const ADVERTISED: &str = "tri%3A%2F%2F192.168.1.20%3A41002%2Fa.Greeter%3Finterface%3Da.Greeter";
    const INTERNAL: &str = "tri%3A%2F%2F172.20.0.4%3A20880%2Fa.Stock";

    #[tokio::test]
    async fn reads_the_registry_through_its_published_port() {
        let zk = FakeZk::start(&[
            ("/dubbo", &["a.Greeter", "a.Stock"]),
            ("/dubbo/a.Greeter/providers", &[ADVERTISED]),
            ("/dubbo/a.Stock/providers", &[INTERNAL]),
        ])
        .await;
        let containers = vec![
            container(
                "zookeeper",
                "envctl/zookeeper:3.8",
                "172.20.0.2",
                &[(2181, zk.addr.port())],
            ),
            container(
                "greeter",
                "envctl/dubbo-python:3.0",
                "172.20.0.3",
                &[(20880, 41002)],
            ),
            container("stock", "envctl/dubbo-python:3.0", "172.20.0.4", &[]),
        ];
        let instance = InstanceId::new("shop", None).unwrap();
        let e = collect(
            &instance,
            containers,
            None,
            &outside(),
            &RegistryChoice::default(),
        )
        .await;
        assert_eq!(e.registry, Some(zk.addr.to_string()));
        assert_eq!(e.providers.len(), 2);
        assert_eq!(
            e.providers[0].outside.as_deref(),
            Some("192.168.1.20:41002")
        );
        assert_eq!(e.providers[0].service.as_deref(), Some("greeter"));
        assert_eq!(e.providers[1].reach, Reach::ContainerOnly);
        assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
        let text = render_text(&e);
        assert!(
            text.contains("a.Greeter\n    192.168.1.20:41002  greeter"),
            "{text}"
        );
        assert!(
            text.contains("  zookeeper   2181/tcp -> 192.168.1.20:"),
            "{text}"
        );
        assert!(
            text.contains("    unreachable         stock    tri"),
            "{text}"
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["providers"][1]["reach"], "container-only");
    }

    #[tokio::test]
    async fn no_registry_still_lists_ports() {
        let containers = vec![container(
            "cache",
            "envctl/redis:7",
            "172.20.0.5",
            &[(6379, 41010)],
        )];
        let instance = InstanceId::new("shop", None).unwrap();
        let e = collect(
            &instance,
            containers,
            None,
            &outside(),
            &RegistryChoice::default(),
        )
        .await;
        assert!(e.registry.is_none() && e.providers.is_empty());
        assert_eq!(e.ports[0].outside, "192.168.1.20:41010");
        assert!(e.warnings[0].contains("no ZooKeeper"));
    }
}

//! End to end on the real Docker engine: ZooKeeper and a real Dubbo provider
//! (envctl/dubbo-python) on a private network, as envctl runs them. From the host we read the
//! registration from ZooKeeper, decode it with envctl's own code, and make a real Dubbo
//! (triple) call at the registered address from the host's network namespace.
//!
//! Until `envctl up` drives these, containers are made with the docker CLI; every name is
//! unique per test and a guard removes them (and the network) even when an assertion fails.
//! Traffic goes only to loopback, this host's advertise address and our own containers.

use crate::support;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use envctl::dubbo::{providers, Layout, Registration};
use envctl::model::{DubboProbe, Probe};
use envctl::probe::{check, ProbeTarget};
use envctl::zookeeper::Session;

use support::docker_stdout;

const ZOOKEEPER_IMAGE: &str = "envctl/zookeeper:3.8";
use support::DUBBO_IMAGE;
const READY_WITHIN: Duration = Duration::from_secs(90);

fn ensure_images() {
    support::ensure_images(&[
        (ZOOKEEPER_IMAGE, "zookeeper"),
        (DUBBO_IMAGE, "dubbo-python"),
    ]);
}

/// One private network with its containers; removed on drop.
struct Instance {
    name: String,
    containers: Vec<String>,
}

impl Instance {
    fn new() -> Self {
        let name = support::unique_name("envctl-dubbo-test-");
        let instance = Instance {
            name,
            containers: Vec::new(),
        };
        docker_stdout(&[
            "network",
            "create",
            "--label",
            "io.envctl.test=1",
            &instance.name,
        ])
        .unwrap();
        instance
    }

    /// Starts a detached container on the network; `args` go before the image.
    fn run(&mut self, service: &str, args: &[&str], image: &str, command: &[&str]) -> String {
        let name = format!("{}-{service}", self.name);
        self.containers.push(name.clone());
        // envctl's own labels, so `envctl endpoints` finds these containers as an instance.
        let instance_label = format!("io.envctl.instance={}", self.name);
        let service_label = format!("io.envctl.service={service}");
        let mut all = vec![
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "io.envctl.test=1",
            "--label",
            &instance_label,
            "--label",
            &service_label,
            "--network",
            &self.name,
            "--network-alias",
            service,
        ];
        all.extend_from_slice(args);
        all.push(image);
        all.extend_from_slice(command);
        docker_stdout(&all).unwrap();
        name
    }

    fn host_port(&self, container: &str, port: u16) -> u16 {
        let out = docker_stdout(&["port", container, &format!("{port}/tcp")]).unwrap();
        let first = out.lines().next().unwrap_or_default();
        first
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no host port in {out:?}"))
    }

    fn container_ip(&self, container: &str) -> String {
        let format = format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").IPAddress}}}}",
            self.name
        );
        docker_stdout(&["inspect", "-f", &format, container]).unwrap()
    }

    fn logs(&self, container: &str) -> String {
        let out = Command::new("docker")
            .args(["logs", "--tail", "30", container])
            .output();
        out.map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_default()
    }

    /// ZooKeeper with 2181 published on loopback; returns its host address once it serves.
    async fn zookeeper(&mut self) -> SocketAddr {
        let zk = self.run(
            "zookeeper",
            &["-p", "127.0.0.1::2181"],
            ZOOKEEPER_IMAGE,
            &[],
        );
        let host_port = self.host_port(&zk, 2181);
        let target = ProbeTarget {
            host_ports: BTreeMap::from([(2181, host_port)]),
            ..ProbeTarget::default()
        };
        let probe = Probe::Zookeeper { port: 2181 };
        wait_ready(&probe, &target, || self.logs(&zk)).await;
        SocketAddr::from(([127, 0, 0, 1], host_port))
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if !self.containers.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(self.containers.iter().map(String::as_str));
            support::check_cleanup_result(
                &format!("containers {:?}", self.containers),
                docker_stdout(&args),
            );
        }
        support::check_cleanup_result(
            &format!("network {}", self.name),
            docker_stdout(&["network", "rm", &self.name]),
        );
    }
}

/// Polls a probe until it passes; panics with the last reason and the logs at the deadline.
async fn wait_ready(probe: &Probe, target: &ProbeTarget, logs: impl Fn() -> String) {
    let deadline = Instant::now() + READY_WITHIN;
    loop {
        match check(probe, target, Duration::from_secs(2)).await {
            Ok(()) => return,
            Err(reason) if Instant::now() >= deadline => {
                panic!(
                    "{probe:?} not ready within {READY_WITHIN:?}: {reason}\n{}",
                    logs()
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// The registrations of `interface`, read from the host through ZooKeeper's published port.
async fn registrations(registry: SocketAddr, interface: &str) -> Vec<Registration> {
    let mut session = Session::connect(registry, Duration::from_secs(5))
        .await
        .unwrap();
    let found = providers(&mut session, &Layout::default(), interface)
        .await
        .unwrap();
    session.close().await;
    assert!(found.undecodable.is_empty(), "{:?}", found.undecodable);
    found.registrations
}

/// A real Dubbo call from the host to the address envctl decoded.
fn call_from_host(
    instance: &mut Instance,
    address: &str,
    interface: &str,
    data: &str,
) -> serde_json::Value {
    let name = format!("{}-consumer-{}", instance.name, instance.containers.len());
    // Tracked too, so a consumer left by a killed run is still removed.
    instance.containers.push(name.clone());
    support::dubbo_call_from_host(&name, address, interface, data)
}

/// `envctl endpoints` for the test instance (no definition file: found by its labels).
fn endpoints(instance: &Instance, advertise: IpAddr) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_envctl"))
        .args(["endpoints", &instance.name, "--output", "json"])
        .args(["--advertise-host", &advertise.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "envctl endpoints: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The `envctl endpoints` entry of `interface`.
fn provider_entry<'a>(all: &'a serde_json::Value, interface: &str) -> &'a serde_json::Value {
    let providers = all["providers"].as_array().unwrap();
    let mut matching = providers.iter().filter(|p| p["interface"] == interface);
    let entry = matching
        .next()
        .unwrap_or_else(|| panic!("{interface} missing: {all}"));
    assert!(matching.next().is_none(), "{interface} listed twice: {all}");
    entry
}

/// A port nobody on this host listens on right now, for the provider's published port
/// (envctl's allocator does this for real).
fn free_port(ip: IpAddr) -> u16 {
    let listener = std::net::TcpListener::bind((ip, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn advertised_registration_is_callable_from_the_host() {
    ensure_images();
    let advertise = envctl::advertise::detect();
    let mut instance = Instance::new();
    let registry = instance.zookeeper().await;

    let interface = format!("org.envctl.test.Greeter{}", std::process::id());
    let host_port = free_port(advertise);
    let publish = format!("{advertise}:{host_port}:20880");
    let env = [
        format!("DUBBO_SERVICE_INTERFACE={interface}"),
        "DUBBO_REGISTRY_ADDRESS=zookeeper://zookeeper:2181".to_string(),
        format!("DUBBO_IP_TO_REGISTRY={advertise}"),
        format!("DUBBO_PORT_TO_REGISTRY={host_port}"),
    ];
    let provider = instance.run(
        "greeter",
        &[
            "-p", &publish, "-e", &env[0], "-e", &env[1], "-e", &env[2], "-e", &env[3],
        ],
        DUBBO_IMAGE,
        &[],
    );
    let target = ProbeTarget {
        registry: vec![registry],
        ..ProbeTarget::default()
    };
    wait_ready(
        &Probe::Dubbo(DubboProbe::interface(interface.clone())),
        &target,
        || instance.logs(&provider),
    )
    .await;

    let found = registrations(registry, &interface).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let r = &found[0];
    assert_eq!(
        (
            r.protocol.as_str(),
            r.interface.as_deref().unwrap_or_default()
        ),
        ("tri", interface.as_str())
    );
    assert_eq!(
        r.host,
        advertise.to_string(),
        "the advertise host is registered, not the container"
    );
    assert_eq!(
        r.port, host_port,
        "the published host port is registered, not 20880"
    );
    assert_eq!(r.params.get("side").map(String::as_str), Some("provider"));

    let reply = call_from_host(&mut instance, &r.address(), &interface, "outside");
    assert_eq!(reply["reply"]["message"], "Hello, outside", "{reply}");
    assert_eq!(reply["reply"]["interface"], interface.as_str(), "{reply}");

    let all = endpoints(&instance, advertise);
    assert_eq!(all["registry"], registry.to_string(), "{all}");
    let entry = provider_entry(&all, &interface);
    assert_eq!(entry["reach"], "advertised", "{all}");
    assert_eq!(entry["service"], "greeter", "{all}");
    assert_eq!(
        entry["outside"],
        format!("{advertise}:{host_port}"),
        "{all}"
    );
    let ports = all["ports"].as_array().unwrap();
    assert!(
        ports
            .iter()
            .any(|p| p["service"] == "greeter" && p["host_port"] == host_port),
        "{all}"
    );
    assert!(
        ports
            .iter()
            .any(|p| p["service"] == "zookeeper" && p["container_port"] == 2181),
        "{all}"
    );
}

#[tokio::test]
async fn without_advertising_the_container_address_is_registered() {
    ensure_images();
    let mut instance = Instance::new();
    let registry = instance.zookeeper().await;
    let pid = std::process::id();

    // Advertising off: no DUBBO_*_TO_REGISTRY at all. And a provider told to register a
    // loopback address, which Java Dubbo refuses too: it must fall back to its own address.
    let plain = format!("org.envctl.test.Plain{pid}");
    let loopback = format!("org.envctl.test.Loopback{pid}");
    let mut made = Vec::new();
    for (service, interface, extra) in [
        ("plain", &plain, None),
        (
            "loopback",
            &loopback,
            Some("DUBBO_IP_TO_REGISTRY=127.0.0.1"),
        ),
    ] {
        let iface_env = format!("DUBBO_SERVICE_INTERFACE={interface}");
        let mut args = vec![
            "-p",
            "127.0.0.1::20880",
            "-e",
            &iface_env,
            "-e",
            "DUBBO_REGISTRY_ADDRESS=zookeeper://zookeeper:2181",
        ];
        if let Some(extra) = extra {
            args.extend(["-e", extra]);
        }
        made.push((
            instance.run(service, &args, DUBBO_IMAGE, &[]),
            interface.clone(),
        ));
    }

    let target = ProbeTarget {
        registry: vec![registry],
        ..ProbeTarget::default()
    };
    for (container, interface) in &made {
        wait_ready(
            &Probe::Dubbo(DubboProbe::interface(interface.clone())),
            &target,
            || instance.logs(container),
        )
        .await;
        let found = registrations(registry, interface).await;
        assert_eq!(found.len(), 1, "{found:?}");
        let container_ip = instance.container_ip(container);
        assert_eq!(
            found[0].host, container_ip,
            "{interface}: the container address is registered"
        );
        assert_eq!(found[0].port, 20880);
        let reply = call_from_host(&mut instance, &found[0].address(), interface, "network");
        assert_eq!(reply["reply"]["message"], "Hello, network", "{reply}");
    }

    // Outsiders are pointed at the published port instead of the container address.
    let advertise = envctl::advertise::detect();
    let all = endpoints(&instance, advertise);
    for (container, interface) in &made {
        let entry = provider_entry(&all, interface);
        assert_eq!(entry["reach"], "published-port", "{all}");
        assert_eq!(
            entry["registered"],
            format!("{}:20880", instance.container_ip(container))
        );
        let host_port = instance.host_port(container, 20880);
        assert_eq!(
            entry["outside"],
            format!("{advertise}:{host_port}"),
            "{all}"
        );
    }
}

//! Issue 4 end to end with envctl itself: `envctl up` of ZooKeeper plus two real Dubbo
//! providers from the shared templates (one advertised, one not), then from the host: read
//! and decode the registrations, make real Dubbo calls at the registered addresses, and check
//! what `envctl endpoints` tells an outsider. `envctl down` (and a label sweep) cleans up.

use crate::support;
use support::Instance;

use std::net::SocketAddr;
use std::time::Duration;

use envctl::dubbo::{providers, Layout, Registration};
use envctl::zookeeper::Session;

use support::docker_stdout;

const GREETER: &str = "org.envctl.up.Greeter";
const INTERNAL: &str = "org.envctl.up.Internal";

const DEFINITION: &str = r#"
description: issue 4 end-to-end fixture
services:
  zookeeper:
    template: zookeeper
  greeter:
    template: dubbo-provider
    with: { interface: "org.envctl.up.Greeter" }
    depends_on: { zookeeper: healthy }
  internal:
    template: dubbo-provider
    with: { interface: "org.envctl.up.Internal", advertise: false }
    depends_on: { zookeeper: healthy }
"#;

fn ensure_images() {
    support::ensure_images(&[
        ("envctl/zookeeper:3.8", "zookeeper"),
        (support::DUBBO_IMAGE, "dubbo-python"),
    ]);
}

/// An instance of DEFINITION with the shipped templates, advertised on the address envctl
/// detects (no advertise host set).
fn dubbo_instance() -> Instance {
    Instance::new("du", DEFINITION)
        .with_shared_templates()
        .without_var("ENVCTL_ADVERTISE_HOST")
        .with_timeout(Duration::from_secs(300))
}

async fn registration(registry: SocketAddr, interface: &str) -> Registration {
    let mut session = Session::connect(registry, Duration::from_secs(5))
        .await
        .unwrap();
    let found = providers(&mut session, &Layout::default(), interface)
        .await
        .unwrap();
    session.close().await;
    assert_eq!(found.registrations.len(), 1, "{found:?}");
    found.registrations[0].clone()
}

/// A real Dubbo call from the host's network namespace.
fn call_from_host(fixture: &Instance, address: &str, interface: &str) -> serde_json::Value {
    let name = format!("{}-test-consumer", fixture.env);
    support::dubbo_call_from_host(&name, address, interface, "envctl")
}

#[tokio::test]
async fn up_registers_providers_reachable_from_outside() {
    ensure_images();
    let advertise = envctl::advertise::detect().to_string();
    let fixture = dubbo_instance();
    fixture.envctl_ok(&["up", &fixture.env, "--advertise-host", &advertise]);

    let endpoints: serde_json::Value = serde_json::from_str(&fixture.envctl_ok(&[
        "endpoints",
        &fixture.env,
        "--output",
        "json",
        "--advertise-host",
        &advertise,
    ]))
    .unwrap();
    let registry: SocketAddr = endpoints["registry"].as_str().unwrap().parse().unwrap();
    let host_port = |service: &str| {
        endpoints["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["service"] == service && p["container_port"] == 20880)
            .and_then(|p| p["host_port"].as_u64())
            .unwrap_or_else(|| panic!("{service} publishes no 20880: {endpoints}"))
    };

    // Advertised: the registration itself is the outsider's address.
    let greeter = registration(registry, GREETER).await;
    assert_eq!(greeter.host, advertise);
    assert_eq!(u64::from(greeter.port), host_port("greeter"));
    let reply = call_from_host(&fixture, &greeter.address(), GREETER);
    assert_eq!(reply["reply"]["message"], "Hello, envctl", "{reply}");

    // Not advertised: the container address is registered (and reachable from this host).
    let internal = registration(registry, INTERNAL).await;
    let container_ip = docker_stdout(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        &format!("{}-internal", fixture.env),
    ])
    .unwrap();
    assert_eq!(
        (internal.host.as_str(), internal.port),
        (container_ip.as_str(), 20880)
    );
    let reply = call_from_host(&fixture, &internal.address(), INTERNAL);
    assert_eq!(reply["reply"]["message"], "Hello, envctl", "{reply}");

    // What `envctl endpoints` tells outsiders about both.
    let entry = |interface: &str| {
        endpoints["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["interface"] == interface)
            .cloned()
            .unwrap_or_else(|| panic!("{interface} missing: {endpoints}"))
    };
    let g = entry(GREETER);
    assert_eq!(
        (g["reach"].as_str(), g["service"].as_str()),
        (Some("advertised"), Some("greeter"))
    );
    assert_eq!(g["outside"], greeter.address());
    let i = entry(INTERNAL);
    assert_eq!(i["reach"], "published-port");
    assert_eq!(
        i["outside"],
        format!("{advertise}:{}", host_port("internal"))
    );
}

/// Two feature instances of one environment: each has its own registry, and each registry
/// offers only its own instance's provider, so feature A's consumers never see feature B's.
#[tokio::test]
async fn feature_instances_never_share_registrations() {
    ensure_images();
    let advertise = envctl::advertise::detect().to_string();
    let fixture = dubbo_instance();
    let mut seen = Vec::new();
    for feature in ["fa", "fb"] {
        fixture.envctl_ok(&[
            "up",
            &fixture.env,
            "--feature",
            feature,
            "--advertise-host",
            &advertise,
        ]);
    }
    for feature in ["fa", "fb"] {
        let endpoints: serde_json::Value = serde_json::from_str(&fixture.envctl_ok(&[
            "endpoints",
            &fixture.env,
            "--feature",
            feature,
            "--output",
            "json",
            "--advertise-host",
            &advertise,
        ]))
        .unwrap();
        let registry: SocketAddr = endpoints["registry"].as_str().unwrap().parse().unwrap();
        let own_port = endpoints["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["service"] == "greeter")
            .and_then(|p| p["host_port"].as_u64())
            .unwrap();
        // `registration` asserts there is exactly one provider in this registry.
        let greeter = registration(registry, GREETER).await;
        assert_eq!(u64::from(greeter.port), own_port, "{feature}: {greeter:?}");
        seen.push((registry, greeter.port));
    }
    assert_ne!(seen[0].0, seen[1].0, "the features share a registry");
    assert_ne!(seen[0].1, seen[1].1, "the features share a provider port");
}

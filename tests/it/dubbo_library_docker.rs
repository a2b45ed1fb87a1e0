//! Issue 12 with real containers: a provider on the unmodified PyPI `apache-dubbo` library
//! (its own registry code registers it) comes up healthy under the `dubbo-provider` template,
//! and the `dubbo` readiness check holds a real dubbo-protocol heartbeat exchange with a
//! server speaking the protocol (envctl/dubbo-python's `dubbo_responder.py`, written from
//! apache/dubbo `ExchangeCodec`), while a published port with nothing behind it (docker-proxy
//! accepts, then hangs up) is not ready.

use crate::support;

use std::net::SocketAddr;
use std::time::Duration;

use envctl::dubbo::{providers, Form, Layout};
use envctl::model::{DubboProbe, Probe};
use envctl::probe::ProbeTarget;
use envctl::zookeeper::Session;
use support::Instance;

fn ensure_images() {
    support::ensure_images(&[
        ("envctl/zookeeper:3.8", "zookeeper"),
        (support::DUBBO_IMAGE, "dubbo-python"),
    ]);
}

/// An instance of `definition` with the shared templates on the path.
fn with_templates(prefix: &str, definition: &str) -> Instance {
    Instance::new(prefix, definition)
        .with_shared_templates()
        .with_timeout(Duration::from_secs(300))
}

fn endpoints(fixture: &Instance) -> serde_json::Value {
    serde_json::from_str(&fixture.envctl_ok(&["endpoints", &fixture.env, "--output", "json"]))
        .unwrap()
}

fn registry_of(report: &serde_json::Value) -> SocketAddr {
    report["registry"].as_str().unwrap().parse().unwrap()
}

const LIBRARY: &str = r#"
description: the unmodified apache-dubbo library registers itself
services:
  zookeeper:
    template: zookeeper
  greeter:
    template: dubbo-provider
    with: { interface: "org.envctl.lib.Greeter", registration: library }
    depends_on: { zookeeper: healthy }
"#;

#[tokio::test]
async fn an_unmodified_apache_dubbo_provider_is_healthy_under_the_template() {
    ensure_images();
    let fixture = with_templates("dlib", LIBRARY);
    // `up` passes only if the dubbo check finds the library's own registration and the
    // provider answers HTTP/2 at the registered address.
    fixture.envctl_ok(&["up", &fixture.env]);
    let report = endpoints(&fixture);

    // The node is the library's form: no URL path, no `interface=`, the interface in
    // `service=` (dubbo/registry/zookeeper/zk_registry.py, url.py).
    let mut zk = Session::connect(registry_of(&report), Duration::from_secs(5))
        .await
        .unwrap();
    let nodes = zk
        .children("/dubbo/org.envctl.lib.Greeter/providers")
        .await
        .unwrap();
    let found = providers(&mut zk, &Layout::default(), "org.envctl.lib.Greeter")
        .await
        .unwrap();
    zk.close().await;
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert!(
        nodes[0].contains("service%3Dorg.envctl.lib.Greeter"),
        "{nodes:?}"
    );
    assert!(!nodes[0].contains("interface%3D"), "{nodes:?}");
    assert_eq!(found.registrations.len(), 1, "{found:?}");
    let r = &found.registrations[0];
    assert_eq!((r.form, r.protocol.as_str()), (Form::Interface, "tri"));
    assert_eq!(r.interface.as_deref(), Some("org.envctl.lib.Greeter"));

    // `endpoints` names it without a warning, at the container address it registered.
    assert!(
        report["warnings"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let provider = &report["providers"][0];
    assert_eq!(provider["interface"], "org.envctl.lib.Greeter", "{report}");
    assert_eq!(provider["service"], "greeter", "{report}");
    assert_eq!(provider["registered"], r.address());
    // And it is the library serving: a real triple call from the host gets its answer.
    let reply = support::dubbo_call_from_host(
        &format!("{}-call", fixture.env),
        &r.address(),
        "org.envctl.lib.Greeter",
        "library",
    );
    assert_eq!(reply["reply"]["message"], "Hello, library", "{reply}");
}

const RESPONDER: &str = r#"
description: a server of the dubbo protocol, and a published port with nothing behind it
services:
  zookeeper:
    template: zookeeper
  legacy:
    image: envctl/dubbo-python:3.0
    command: ["python3", "/opt/dubbo/app/dubbo_responder.py"]
    env:
      DUBBO_SERVICE_INTERFACE: org.envctl.lib.Legacy
      DUBBO_REGISTRY_ADDRESS: "zookeeper://zookeeper:2181"
    depends_on: { zookeeper: healthy }
    healthcheck: { dubbo: { interface: org.envctl.lib.Legacy }, interval: 200ms, retries: 100 }
  silent:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    ports: [20880]
"#;

#[tokio::test]
async fn the_dubbo_check_is_a_heartbeat_not_an_open_socket() {
    ensure_images();
    let fixture = with_templates("dhb", RESPONDER);
    // `legacy` is ready only after a heartbeat exchange with the responder.
    fixture.envctl_ok(&["up", &fixture.env]);
    let report = endpoints(&fixture);
    let registry = registry_of(&report);
    let legacy = report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["interface"] == "org.envctl.lib.Legacy")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(legacy["protocol"], "dubbo");

    // Register the silent service's published port as a dubbo provider: docker-proxy accepts
    // the connection, nothing answers the heartbeat.
    let silent_port = report["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["service"] == "silent")
        .and_then(|p| p["host_port"].as_u64())
        .unwrap_or_else(|| panic!("{report}"));
    let url = format!("dubbo://127.0.0.1:{silent_port}/org.envctl.lib.Silent?interface=org.envctl.lib.Silent&side=provider");
    let node = percent_encoding::utf8_percent_encode(&url, percent_encoding::NON_ALPHANUMERIC);
    let mut zk = Session::connect(registry, Duration::from_secs(5))
        .await
        .unwrap();
    for path in [
        "/dubbo/org.envctl.lib.Silent",
        "/dubbo/org.envctl.lib.Silent/providers",
    ] {
        zk.create(path, b"", false).await.unwrap();
    }
    zk.create(
        &format!("/dubbo/org.envctl.lib.Silent/providers/{node}"),
        b"",
        true,
    )
    .await
    .unwrap();
    let target = ProbeTarget {
        registry: vec![registry],
        ..ProbeTarget::default()
    };
    let err = envctl::probe::check(
        &Probe::Dubbo(DubboProbe::interface("org.envctl.lib.Silent")),
        &target,
        Duration::from_secs(2),
    )
    .await
    .unwrap_err();
    zk.close().await;
    assert!(
        err.0.contains("hung up") || err.0.contains("no answer to a dubbo heartbeat"),
        "{err}"
    );
    // The same check against the responder passes.
    envctl::probe::check(
        &Probe::Dubbo(DubboProbe::interface("org.envctl.lib.Legacy")),
        &target,
        Duration::from_secs(2),
    )
    .await
    .unwrap();
}

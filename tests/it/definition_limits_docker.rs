//! Issue 11 class 7 (every missing secret in one run) and issue 17 (`render` shows the port
//! `up` allocated) against the real engine. Each test works on its own instance and removes
//! it in a drop guard.

use crate::support;
use support::Instance;

use support::{assert_ok, text, BUSYBOX};

/// An instance of `definition`; the secrets it reads are never set.
fn instance(prefix: &str, definition: &str) -> Instance {
    Instance::new(prefix, definition)
        .without_var("DEFLIM_MISSING_1")
        .without_var("DEFLIM_MISSING_2")
        .without_var("DEFLIM_MISSING_3")
}

#[test]
fn every_missing_secret_is_named_in_one_run_and_nothing_is_created() {
    let fx = instance(
        "secrets",
        &format!(
            "services:\n  a:\n    image: {BUSYBOX}\n    command: [sleep, '300']\n    env:\n      S1: {{ from_env: DEFLIM_MISSING_1 }}\n      S2: {{ from_env: DEFLIM_MISSING_2 }}\n  b:\n    image: {BUSYBOX}\n    command: [sleep, '300']\n    env:\n      S3: {{ from_env: DEFLIM_MISSING_3 }}\n"
        ),
    );
    for command in ["plan", "up"] {
        let out = fx.envctl(&[command, &fx.env]);
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{command} must fail:\n{all}");
        for name in ["DEFLIM_MISSING_1", "DEFLIM_MISSING_2", "DEFLIM_MISSING_3"] {
            assert!(all.contains(name), "{command} does not name {name}:\n{all}");
        }
    }
    let containers = support::docker_stdout(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.envctl.instance={}", fx.env),
    ])
    .unwrap();
    assert_eq!(containers, "", "up created containers");
}

#[test]
fn render_shows_the_host_port_allocated_by_up() {
    let fx = instance(
        "render",
        &format!(
            "services:\n  order:\n    image: {BUSYBOX}\n    command: [sleep, '300']\n    ports: [50051]\n    env:\n      DUBBO_PORT_TO_REGISTRY: \"{{{{ host_port(service='order', port=50051) }}}}\"\n"
        ),
    );
    assert_ok(&fx.envctl(&["up", &fx.env]));
    let ports = fx.envctl(&["ports", &fx.env, "--output", "json"]);
    assert_ok(&ports);
    let rows: serde_json::Value = serde_json::from_slice(&ports.stdout).unwrap();
    let host_port = rows[0]["host_port"].as_u64().expect("a host port");

    let out = fx.envctl(&["render", &fx.env, "--output", "json"]);
    assert_ok(&out);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["services"]["order"]["env"]["DUBBO_PORT_TO_REGISTRY"],
        host_port.to_string()
    );
    // The container got the same port.
    let inspect = support::docker_stdout(&[
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        &format!("{}-order", fx.env),
    ])
    .unwrap();
    assert!(
        inspect.contains(&format!("DUBBO_PORT_TO_REGISTRY={host_port}")),
        "{inspect}"
    );
}

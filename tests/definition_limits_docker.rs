//! Issue 11 class 7 (every missing secret in one run) and issue 17 (`render` shows the port
//! `up` allocated) against the real engine. Each test works on its own instance and removes
//! it in a drop guard.

mod support;

use std::process::Output;
use std::time::Duration;

use support::{assert_ok, text, unique_name, BUSYBOX};

struct Fixture {
    dir: tempfile::TempDir,
    env: String,
}

impl Fixture {
    fn new(prefix: &str, definition: &str) -> Self {
        let env = unique_name(prefix);
        let dir = support::definition_dir(&env, definition);
        Self { dir, env }
    }

    fn envctl(&self, args: &[&str]) -> Output {
        let mut cmd = assert_cmd::Command::cargo_bin("envctl").expect("binary built");
        cmd.current_dir(self.dir.path())
            .env("ENVCTL_LOCK_DIR", self.dir.path().join("locks"))
            .env("ENVCTL_ADVERTISE_HOST", "127.0.0.1")
            .env_remove("DEFLIM_MISSING_1")
            .env_remove("DEFLIM_MISSING_2")
            .env_remove("DEFLIM_MISSING_3")
            .args(args)
            .timeout(Duration::from_secs(120));
        cmd.output().expect("envctl runs")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let out = self.envctl(&["down", &self.env, "--all-features", "--volumes"]);
        support::check_cleanup(&format!("down {} --all-features", self.env), &out);
    }
}

#[test]
fn every_missing_secret_is_named_in_one_run_and_nothing_is_created() {
    let fx = Fixture::new(
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
    let fx = Fixture::new(
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

//! Issue 11 classes 2 and 5 and issue 19 point 6 against the real engine: one name is one
//! instance, allocated ports heal, pinned-port races leave nothing half-created, and volume
//! names never collide. Every test has its own environment names and a guard that removes
//! what it made (its instances, and the objects it planted by name).

use crate::support;
use support::Instance;

use std::net::TcpListener;
use std::process::Output;

use support::{docker_cli, docker_stdout, text, unique_name};

fn all_output(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// Names of the objects of `kind` (`ps -a`, `network ls`, `volume ls`) with label `filter`.
fn names_with(kind: &str, filter: &str) -> Vec<String> {
    let filter = format!("label={filter}");
    let args: Vec<&str> = match kind {
        "container" => vec!["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"],
        other => vec![other, "ls", "--filter", &filter, "--format", "{{.Name}}"],
    };
    let out = docker_stdout(&args).unwrap();
    out.lines().map(str::to_string).collect()
}

fn exists(kind: &str, name: &str) -> bool {
    match kind {
        "container" => docker_cli(&["inspect", "--type", "container", name]),
        other => docker_cli(&[other, "inspect", name]),
    }
    .status
    .success()
}

const SLEEPER: &str = r#"
services:
  web:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
"#;

#[test]
fn a_separator_in_a_name_and_an_empty_feature_are_refused_and_change_nothing() {
    let fx = Instance::without_definition("id");
    let base = unique_name("idn");
    fx.define(&base, SLEEPER);
    let joined = format!("{base}--y");
    fx.define_refused(&joined, SLEEPER);

    // `<base>--y` as an environment would be the instance of `<base> --feature y`.
    let out = fx.envctl(&["up", &joined]);
    assert!(!out.status.success(), "{}", all_output(&out));
    let said = all_output(&out);
    assert!(said.contains(&format!("{joined}.yaml")), "{said}");
    assert!(said.contains("reserves"), "{said}");
    let instance_filter = format!("io.envctl.instance={joined}");
    assert!(names_with("container", &instance_filter).is_empty());
    assert!(names_with("network", &instance_filter).is_empty());

    // `--feature ""` is a usage error (exit 2), never the main instance.
    for command in ["up", "down", "status"] {
        let out = fx.envctl(&[command, &base, "--feature", ""]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{command}: {}",
            all_output(&out)
        );
        assert!(
            text(&out.stderr).contains("feature name is empty"),
            "{}",
            all_output(&out)
        );
    }
    let out = fx.envctl(&["up", &base, "--feature", "a--b"]);
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(names_with("container", &format!("io.envctl.env={base}")).is_empty());
}

#[test]
fn objects_with_our_instance_label_but_another_env_are_never_touched() {
    let fx = Instance::without_definition("id");
    let base = unique_name("idl");
    fx.define(&base, SLEEPER);
    let instance = format!("{base}--y");
    // What an environment file `<base>--y` made with an older envctl carries.
    let labels = [
        format!("io.envctl.instance={instance}"),
        format!("io.envctl.env={instance}"),
        "io.envctl.feature=".to_string(),
        "io.envctl.service=web".to_string(),
    ];
    let mut args: Vec<&str> = Vec::new();
    for label in &labels {
        args.extend_from_slice(&["--label", label]);
    }
    let container = format!("{instance}-web");
    fx.plant("container", &container, &args);
    support::docker_cli_ok(&["start", &container]);

    for command in [
        vec!["down", &base, "--feature", "y"],
        vec!["status", &base, "--feature", "y"],
        vec!["logs", &base, "--feature", "y"],
        vec!["exec", &base, "--feature", "y", "web", "--", "true"],
        vec!["up", &base, "--feature", "y"],
    ] {
        let out = fx.envctl(&command);
        let said = all_output(&out);
        assert!(!out.status.success(), "{command:?} must refuse: {said}");
        assert!(
            said.contains(&format!("container `{container}`")),
            "{command:?}: {said}"
        );
        assert!(
            said.contains(&format!("environment `{instance}` (main instance)")),
            "{said}"
        );
        assert!(exists("container", &container), "{command:?} removed it");
    }
    let state = docker_stdout(&["inspect", "--format", "{{.State.Running}}", &container]);
    assert_eq!(state.unwrap(), "true", "still running, untouched");
    // `up` created nothing for the feature either.
    assert!(!exists("network", &format!("envctl-{instance}")));
}

/// The host port recorded for `service`'s container port 8080.
fn allocated_port(container: &str) -> u16 {
    let label = docker_stdout(&[
        "inspect",
        "--format",
        "{{index .Config.Labels \"io.envctl.ports\"}}",
        container,
    ])
    .unwrap();
    let host = label
        .split(',')
        .find_map(|e| e.strip_prefix("8080/tcp="))
        .unwrap_or_else(|| panic!("no 8080 in `{label}`"));
    host.parse().unwrap()
}

const HTTPD: &str = r#"
services:
  web:
    image: envctl/busybox:1.35
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
    ports: [8080]
"#;

#[test]
fn an_allocated_port_taken_while_stopped_moves_and_up_says_so() {
    let fx = Instance::without_definition("id");
    let env = unique_name("idp");
    fx.define(&env, HTTPD);
    let out = fx.envctl(&["up", &env]);
    assert!(out.status.success(), "{}", all_output(&out));
    let container = format!("{env}-web");
    let before = allocated_port(&container);

    support::docker_cli_ok(&["stop", "-t", "0", &container]);
    // Another process takes the port while the container is stopped.
    let squatter = TcpListener::bind(("0.0.0.0", before)).expect("the stopped port is free");

    let out = fx.envctl(&["up", &env, "--output", "json"]);
    assert!(out.status.success(), "{}", all_output(&out));
    // Progress events come first, one JSON object a line; the report is the one with `result`.
    let report: serde_json::Value = text(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v.get("result").is_some())
        .unwrap_or_else(|| panic!("no report in {}", all_output(&out)));
    let moved = &report["ports_moved"][0];
    assert_eq!(moved["from"], before, "{report}");
    let after = allocated_port(&container);
    assert_eq!(moved["to"], after, "{report}");
    assert_ne!(after, before);
    let state = docker_stdout(&["inspect", "--format", "{{.State.Running}}", &container]);
    assert_eq!(state.unwrap(), "true");

    // In text, the change is said in a line of its own.
    support::docker_cli_ok(&["stop", "-t", "0", &container]);
    let squatter2 = TcpListener::bind(("0.0.0.0", after)).expect("free again");
    let out = fx.envctl(&["up", &env]);
    assert!(out.status.success(), "{}", all_output(&out));
    let said = all_output(&out);
    assert!(said.contains(&format!("host port {after}")), "{said}");
    assert!(said.contains("in use by another process"), "{said}");
    drop((squatter, squatter2));
}

fn pinned(port: u16, dependency: &str) -> String {
    format!(
        r#"
services:
{dependency}
  web:
    image: envctl/busybox:1.35
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
    ports: ["{port}:8080"]
"#
    )
}

/// A port free on IPv4 and IPv6 now (the kernel's choice).
fn free_port() -> u16 {
    loop {
        let port = TcpListener::bind(("0.0.0.0", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if envctl::plan::host_port_free(port, envctl::model::Protocol::Tcp) {
            return port;
        }
    }
}

#[test]
fn a_pinned_port_bound_on_ipv6_only_is_busy() {
    let Ok(v6) = TcpListener::bind(("::1", 0)) else {
        eprintln!("no IPv6 loopback here: nothing to check");
        return;
    };
    let port = v6.local_addr().unwrap().port();
    let fx = Instance::without_definition("id");
    let env = unique_name("idv");
    fx.define(&env, &pinned(port, ""));
    let out = fx.envctl(&["up", &env]);
    let said = all_output(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains(&format!("pinned host port {port}")), "{said}");
    assert!(said.contains("already in use on this host"), "{said}");
    assert!(
        !exists("network", &format!("envctl-{env}")),
        "nothing created"
    );
    drop(v6);
}

#[test]
fn two_instances_racing_for_a_pinned_port_leave_the_loser_with_nothing() {
    let fx = Instance::without_definition("id");
    let port = free_port();
    // A job that takes a moment first, so both `up`s are well under way when `web` starts.
    let job =
        "  first:\n    kind: job\n    image: envctl/busybox:1.35\n    command: [\"sleep\", \"2\"]";
    let definition = pinned(port, job).replace(
        "    ports:",
        "    depends_on: { first: completed }\n    ports:",
    );
    let (a, b) = (unique_name("ida"), unique_name("idb"));
    fx.define(&a, &definition);
    fx.define(&b, &definition);

    let runs: Vec<std::process::Child> = [&a, &b]
        .iter()
        .map(|env| {
            fx.command(&["up", env])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let won: Vec<bool> = outs.iter().map(|o| o.status.success()).collect();
    let report = format!("a: {}\nb: {}", all_output(&outs[0]), all_output(&outs[1]));
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{report}");
    let (loser, out) = if won[0] {
        (&b, &outs[1])
    } else {
        (&a, &outs[0])
    };
    let said = all_output(out);
    assert!(
        said.contains(&format!("pinned host port {port}")),
        "{report}"
    );
    let filter = format!("io.envctl.instance={loser}");
    assert!(names_with("container", &filter).is_empty(), "{report}");
    assert!(names_with("network", &filter).is_empty(), "{report}");
}

const TWO_VOLUMES: &str = r#"
services:
  app:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    volumes: ["VOLUME:/data"]
"#;

#[test]
fn volume_names_never_collide_and_someone_elses_volume_is_refused() {
    let fx = Instance::without_definition("id");
    // `x` + `a-data` and `x-a` + `data`: one Docker volume under the old naming.
    let x = unique_name("idw");
    let xa = format!("{x}-a");
    fx.define(&x, &TWO_VOLUMES.replace("VOLUME", "a-data"));
    fx.define(&xa, &TWO_VOLUMES.replace("VOLUME", "data"));
    for env in [&x, &xa] {
        let out = fx.envctl(&["up", env]);
        assert!(out.status.success(), "{}", all_output(&out));
    }
    let write = fx.envctl(&["exec", &x, "app", "--", "sh", "-c", "echo mine > /data/f"]);
    assert!(write.status.success(), "{}", all_output(&write));
    let read = fx.envctl(&["exec", &xa, "app", "--", "sh", "-c", "test ! -e /data/f"]);
    assert!(read.status.success(), "{x}'s file is visible to {xa}");
    let mut names = names_with("volume", &format!("io.envctl.env={x}"));
    names.extend(names_with("volume", &format!("io.envctl.env={xa}")));
    names.retain(|n| !n.starts_with("envctl-lease."));
    names.sort();
    assert_eq!(names, [format!("{x}-a_data"), format!("{x}_a-data")]);

    // A volume with the name an instance would use, but not its labels: refused, not reused.
    let y = unique_name("idz");
    fx.define(&y, &TWO_VOLUMES.replace("VOLUME", "data"));
    let theirs = format!("{y}_data");
    fx.plant("volume", &theirs, &["--label", "owner=someone"]);
    let out = fx.envctl(&["up", &y]);
    let said = all_output(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains(&format!("volume `{theirs}`")), "{said}");
    assert!(names_with("container", &format!("io.envctl.env={y}")).is_empty());
}

#[test]
fn creating_a_volume_someone_else_made_meanwhile_is_a_conflict_not_a_takeover() {
    use envctl::engine::{Engine, EngineError, Labels};
    let fx = Instance::without_definition("id");
    let name = format!("{}_data", unique_name("idr"));
    // Made by someone else after `plan` looked, before `up` creates it.
    fx.plant("volume", &name, &["--label", "owner=someone"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = rt
        .block_on(envctl::engine::docker::DockerEngine::connect())
        .expect("the Docker engine must be running for these tests");
    let labels = Labels::from([
        ("io.envctl.instance".to_string(), "idr".to_string()),
        ("io.envctl.env".to_string(), "idr".to_string()),
        ("io.envctl.feature".to_string(), String::new()),
    ]);
    let got = rt.block_on(engine.create_volume(&name, &labels));
    assert!(matches!(got, Err(EngineError::Conflict { .. })), "{got:?}");
    let kept = docker_stdout(&["volume", "inspect", "-f", "{{.Labels}}", &name]).unwrap();
    assert_eq!(kept, "map[owner:someone]");
}

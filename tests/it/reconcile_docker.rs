//! End to end: the real `envctl` binary against the real Docker engine, with the local
//! `envctl/busybox:1.35` image. Every test uses its own environment name and a guard that
//! removes everything it made (by label, plus any foreign container it planted).

use crate::support;
use support::Instance;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use envctl::engine::{Engine, LabelFilter, ObservedContainer};
use envctl::model::labels;

use support::{assert_ok, docker_cli, plain_spec, text, LocalRegistry, BUSYBOX};

/// `a` serves TCP on 8080 (tcp health check); `b` needs `a` healthy, carries `MSG` and is
/// checked by a command inside it;
/// `c` exists only with `--set extra=yes`; `bad` only with `--set bad=yes` and never gets healthy.
const DEFINITION: &str = r#"
description: reconcile end-to-end fixture
services:
  a:
    image: envctl/busybox:1.35
    command: ["httpd", "-f", "-p", "8080", "-h", "/"]
    ports: [8080]
    volumes: ["data:/data"]
    healthcheck: { tcp: 8080, interval: 100ms, retries: 100 }
  b:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "echo b is up; exec sleep 3600"]
    env: { MSG: "{{ set.msg | default(value='one') }}" }
    depends_on: { a: healthy }
    healthcheck: { cmd: ["sh", "-c", "test -n \"$MSG\""], interval: 100ms }
{% if set.extra | default(value='') == 'yes' %}
  c:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
{% endif %}
{% if set.bad | default(value='') == 'yes' %}
  bad:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "echo about to fail; echo never listening; sleep 3600"]
    ports: [9999]
    healthcheck: { tcp: 9999, interval: 100ms, timeout: 200ms, retries: 10 }
{% endif %}
"#;

/// An instance of DEFINITION.
fn reconciled() -> Instance {
    Instance::new("rc", DEFINITION)
}

fn ids(containers: &BTreeMap<String, ObservedContainer>) -> BTreeMap<String, String> {
    containers
        .iter()
        .map(|(s, c)| (s.clone(), c.id.clone()))
        .collect()
}

#[test]
fn up_reaches_ready_and_a_second_up_writes_nothing() {
    let fx = reconciled();
    let instance = fx.env.clone();
    let out = fx.run("up", &[]);
    assert_ok(&out);
    let containers = fx.containers(&instance);
    assert_eq!(containers.len(), 2);
    for c in containers.values() {
        assert!(c.state.is_running(), "{c:?}");
        assert_eq!(c.labels[labels::INSTANCE], instance);
        assert_eq!(c.labels[labels::SPEC_HASH].len(), 64);
    }
    // `a` (busybox httpd) answers HTTP on its allocated host port.
    let port = containers["a"].ports[0].host;
    let (status, _) = support::protocols::http_get(port, "/").unwrap();
    assert!((200..500).contains(&status), "a answered {status}");

    // Watch the engine's container, network and volume events during a plan and a second
    // up; sentinel events (a throwaway volume of this test's own) mark where the window
    // starts and ends, so the whole window was seen, not just the part before a timeout.
    let mut events = support::events::EventWatch::start(&instance);
    let out = fx.run("plan", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_ok(&fx.run("up", &[]));
    let writes: Vec<String> = events
        .mark()
        .into_iter()
        // Readiness checks of `cmd` kind run inside the container: reads, not changes.
        .filter(|e| support::events::of_instance(&e.name, &instance))
        .filter(|e| !e.action.starts_with("exec_"))
        .map(|e| e.to_string())
        .collect();
    assert!(writes.is_empty(), "second up wrote: {writes:?}");
    assert_eq!(
        ids(&fx.containers(&instance)).get("a"),
        Some(&containers["a"].id)
    );
}

#[test]
fn a_change_recreates_only_that_service_and_orphans_are_removed() {
    let fx = reconciled();
    let instance = fx.env.clone();
    assert_ok(&fx.run("up", &["--set", "extra=yes"]));
    let before = ids(&fx.containers(&instance));
    assert_eq!(before.len(), 3);

    // Plan explains the change and exits 2; up then touches only `b` and the orphan `c`.
    let out = fx.run("plan", &["--set", "msg=two"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(plan.contains("recreate b: changed: env.MSG"), "{plan}");
    assert!(plan.contains("remove-orphan"), "{plan}");
    assert!(!plan.contains(" a:"), "{plan}");

    assert_ok(&fx.run("up", &["--set", "msg=two"]));
    let after = ids(&fx.containers(&instance));
    assert_eq!(after.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(after["a"], before["a"], "a was recreated");
    assert_ne!(after["b"], before["b"], "b was not recreated");
    let out = fx.run("plan", &["--set", "msg=two"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn features_live_side_by_side_and_down_removes_exactly_one() {
    let fx = reconciled();
    let (one, two) = (fx.instance("one"), fx.instance("two"));
    assert_ok(&fx.run("up", &["--feature", "one"]));
    assert_ok(&fx.run("up", &["--feature", "two"]));
    let (c1, c2) = (fx.containers(&one), fx.containers(&two));
    assert_eq!(c1["a"].name, format!("{one}-a"));
    assert_eq!(c2["a"].name, format!("{two}-a"));
    assert_ne!(c1["a"].ports[0].host, c2["a"].ports[0].host);

    // Each instance resolves `a` to its own `a` (asking the engine's resolver only about
    // names it knows, so no query leaves the host), and the instances share no network.
    let ip_of_a = |feature: &str| {
        let out = fx.run(
            "exec",
            &["--feature", feature, "b", "--", "nslookup", "-type=a", "a"],
        );
        assert_ok(&out);
        text(&out.stdout)
    };
    let (net1, net2) = (format!("envctl-{one}"), format!("envctl-{two}"));
    let (ip1, ip2) = (ip_of_a("one"), ip_of_a("two"));
    assert!(ip1.contains(&c1["a"].ips[&net1]), "{ip1}");
    assert!(ip2.contains(&c2["a"].ips[&net2]), "{ip2}");
    for c in c1.values() {
        assert_eq!(c.ips.keys().collect::<Vec<_>>(), [&net1], "{c:?}");
    }
    for c in c2.values() {
        assert_eq!(c.ips.keys().collect::<Vec<_>>(), [&net2], "{c:?}");
    }

    // `b` has no volume, so it is killed, not stopped gracefully (nothing to flush): the
    // engine reports one SIGKILL for it, never a SIGTERM or a `stop`. (`a` has a volume and
    // gets the graceful stop.)
    let mut events = support::events::EventWatch::start(&one);
    assert_ok(&fx.run("down", &["--feature", "one"]));
    let b = format!("{one}-b");
    let signals: Vec<String> = events
        .mark()
        .into_iter()
        .filter(|e| e.kind == "container" && e.name == b)
        .filter(|e| e.action == "stop" || e.action == "kill")
        .map(|e| format!("{} {}", e.action, e.signal))
        .collect();
    assert_eq!(signals, ["kill 9"], "b was not simply killed");
    assert!(fx.containers(&one).is_empty());
    let left = fx.containers(&two);
    assert_eq!(left.len(), 2);
    assert!(left.values().all(|c| c.state.is_running()));
    let networks = fx
        .block_on(fx.engine().find_network(&format!("envctl-{one}")))
        .unwrap();
    assert!(networks.is_none(), "network of {one} left behind");

    // Named volumes survive a plain down and go with --volumes, each instance its own.
    let volumes = |instance: &str| -> Vec<String> {
        fx.block_on(fx.engine().list_volumes(&LabelFilter::instance(instance)))
            .unwrap()
            .into_iter()
            .map(|v| v.name)
            .collect()
    };
    assert_eq!(volumes(&one), [format!("{one}_data")]);
    assert_ok(&fx.run("down", &["--feature", "one", "--volumes"]));
    assert!(volumes(&one).is_empty());
    assert_eq!(volumes(&two), [format!("{two}_data")]);
}

#[test]
fn a_foreign_container_with_our_name_is_left_untouched() {
    let fx = reconciled();
    let instance = fx.env.clone();
    let foreign = plain_spec(format!("{instance}-b"), vec!["sleep".into(), "3600".into()]);
    let id = fx.block_on(fx.engine().create_container(&foreign)).unwrap();
    fx.planted_elsewhere("container", &id);

    let out = fx.run("up", &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("`{instance}-b`")), "{err}");
    assert!(err.contains("untouched"), "{err}");
    let still = fx
        .block_on(fx.engine().find_container(&format!("{instance}-b")))
        .unwrap()
        .expect("foreign container still there");
    assert_eq!(still.id, id);
    assert!(fx.containers(&instance).is_empty(), "up created something");

    // down acts by label only: the foreign container survives it too.
    assert_ok(&fx.run("down", &[]));
    assert!(fx
        .block_on(fx.engine().find_container(&format!("{instance}-b")))
        .unwrap()
        .is_some());
}

#[test]
fn a_service_that_never_gets_healthy_fails_in_time_with_its_logs() {
    let fx = reconciled();
    let started = Instant::now();
    // The check fails after its 10 retries (about a second); the wait timeout is far away,
    // so failing well before it shows the retries ended the wait, not the timeout.
    let out = fx.run("up", &["--set", "bad=yes", "--wait-timeout", "600s"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(took < Duration::from_secs(100), "took {took:?}");
    let err = text(&out.stderr);
    assert!(err.contains("service bad failed"), "{err}");
    assert!(err.contains("unhealthy"), "{err}");
    assert!(err.contains("| about to fail"), "{err}");
    // Independent services came up all the same.
    let containers = fx.containers(&fx.env.clone());
    assert!(containers["a"].state.is_running());
    assert!(containers["b"].state.is_running());
}

#[test]
fn status_ports_and_ls_describe_the_instance() {
    let fx = reconciled();
    let instance = fx.env.clone();
    assert_ok(&fx.run("up", &["--no-wait"]));
    let out = fx.run("ports", &["--output", "dotenv"]);
    assert_ok(&out);
    let port = fx.containers(&instance)["a"].ports[0].host;
    assert_eq!(text(&out.stdout), format!("A_PORT_8080={port}\n"));
    let out = fx.run("status", &["--output", "json"]);
    assert_ok(&out);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["services"].as_array().unwrap().len(), 2);
    let out = fx.envctl(&["ls", "--output", "json"]);
    assert_ok(&out);
    let ls: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mine = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == instance.as_str())
        .expect("instance listed");
    assert_eq!(mine["total"], 2);

    // exec passes the command's exit code through; logs prefix each line with its service.
    let out = fx.run("exec", &["b", "--", "sh", "-c", "echo to-b; exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(text(&out.stdout), "to-b\n");
    let out = fx.run("logs", &[]);
    assert_ok(&out);
    assert!(
        text(&out.stdout).contains("b | b is up\n"),
        "{}",
        text(&out.stdout)
    );
    let out = fx.run("plan", &["--output", "json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["converged"], true, "{plan}");
}

#[test]
fn concurrent_ups_of_two_features_both_converge_without_port_clashes() {
    let fx = reconciled();
    let spawn = |feature: &str| {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("envctl"))
            .current_dir(fx.dir.path())
            .env("ENVCTL_LOCK_DIR", fx.dir.path().join("locks"))
            .env("ENVCTL_ADVERTISE_HOST", "127.0.0.1")
            // Two ports for two instances: they often pick the same one at the same time,
            // and the loser must re-plan onto the other.
            .env("ENVCTL_PORT_RANGE", "47311-47312")
            .args(["up", &fx.env, "--feature", feature, "--set", "extra=yes"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("envctl starts")
    };
    let (x, y) = (spawn("x"), spawn("y"));
    assert_ok(&x.wait_with_output().unwrap());
    assert_ok(&y.wait_with_output().unwrap());
    let mut hosts: Vec<u16> = ["x", "y"]
        .iter()
        .flat_map(|f| fx.containers(&fx.instance(f)).into_values())
        .flat_map(|c| c.ports.into_iter().map(|p| p.host))
        .collect();
    let all = hosts.len();
    hosts.sort();
    hosts.dedup();
    assert_eq!(hosts.len(), all, "a host port was handed out twice");
    assert_eq!(all, 2);
}

#[test]
fn missing_images_are_pulled_once_with_progress_and_build_contexts_built() {
    let registry = LocalRegistry::start();
    let fx = Instance::new(
        "rc",
        r#"
allow: [outside-build] # the context is beside environments/, outside the definition's dir
services:
  p1:
    image: "{{ set.image }}"
    command: ["sleep", "3600"]
  p2:
    image: "{{ set.image }}"
    command: ["sleep", "3600"]
  built:
    build: { context: ../ctx }
"#,
    );
    let image = format!("127.0.0.1:{}/envctl-test/{}:1", registry.port, fx.env);
    let built_tag = format!("envctl-build/{}-built:latest", fx.env);
    // Removed by the guard after the instance: an image still used by a container would only
    // be untagged, leaving a dangling image on the engine.
    fx.track_image(&image);
    fx.track_image(&built_tag);
    // Seed the registry with an image that has a layer of its own, then forget the local copy.
    support::build_image(
        &fx.dir.path().join("seed"),
        &image,
        &format!("FROM {BUSYBOX}\nRUN head -c 300000 /dev/urandom > /noise\n"),
    );
    assert_ok(&docker_cli(&["push", &image]));
    assert_ok(&docker_cli(&["image", "rm", &image]));
    let ctx = fx.dir.path().join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {BUSYBOX}\nCMD [\"sleep\", \"3600\"]\n"),
    )
    .unwrap();

    let set = format!("image={image}");
    let out = fx.run("plan", &["--set", &set]);
    let plan = text(&out.stdout);
    assert_eq!(plan.matches(&format!("pull {image}")).count(), 1, "{plan}");
    assert!(plan.contains(&format!("build {built_tag}")), "{plan}");

    let out = fx.run("up", &["--set", &set, "--output", "json"]);
    assert_ok(&out);
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let pulling = |service: &str| {
        events
            .iter()
            .filter(|e| e["service"] == service && e["phase"] == "pulling")
            .count()
    };
    // Both users of the image hear about the one pull, with layer progress.
    assert!(pulling("p1") > 0 && pulling("p2") > 0, "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["phase"] == "pulling"
                && e["progress"].as_str().unwrap_or("").contains("layers")),
        "{events:#?}"
    );
    assert!(events
        .iter()
        .any(|e| e["service"] == "built" && e["phase"] == "building"));
    let containers = fx.containers(&fx.env.clone());
    assert_eq!(containers.len(), 3);
    assert!(containers.values().all(|c| c.state.is_running()));
    assert_eq!(containers["built"].image, built_tag);
}

/// `up --local api`: `api` gets no container, its dependents stop waiting for it and reach a
/// server on the host under the name `api`, and the printed settings point at loopback ports.
#[test]
fn local_service_runs_on_the_host_and_containers_reach_it_by_name() {
    // The "IDE process": a tiny HTTP server on all interfaces of the host.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 13\r\n\r\nfrom the host");
        }
    });
    let definition = format!(
        r#"
services:
  registry:
    image: envctl/busybox:1.35
    command: ["httpd", "-f", "-p", "2181", "-h", "/"]
    ports: [2181]
    healthcheck: {{ tcp: 2181, interval: 100ms, retries: 100 }}
  api:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    ports: [{port}]
    env: {{ REGISTRY: "zk://registry:2181/root", OWN_PORT: "{{{{ host_port(service='api', port={port}) }}}}" }}
    depends_on: {{ registry: healthy }}
  client:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: {{ api: started }}
"#
    );
    let fx = Instance::new("rc", &definition);
    let instance = fx.instance("hybrid");
    let out = fx.run(
        "up",
        &["--feature", "hybrid", "--local", "api", "--output", "json"],
    );
    assert_ok(&out);
    // JSON lines: progress events, then the result.
    let stdout = text(&out.stdout);
    let result = stdout.lines().last().expect("a result line");
    let report: serde_json::Value = serde_json::from_str(result).unwrap();
    let settings = &report["local"][0];
    assert_eq!(settings["service"], "api");
    assert_eq!(settings["listen"][0], port);
    assert_eq!(settings["env"]["OWN_PORT"], port.to_string());

    // No container for api; the others run.
    let containers = fx.containers(&instance);
    assert_eq!(
        containers.keys().collect::<Vec<_>>(),
        ["client", "registry"]
    );
    // The rewritten registry address works from the host.
    let registry_port = containers["registry"].ports[0].host;
    assert_eq!(
        settings["env"]["REGISTRY"],
        format!("zk://127.0.0.1:{registry_port}/root")
    );
    let (status, _) = support::protocols::http_get(registry_port, "/").unwrap();
    assert!((200..500).contains(&status), "registry answered {status}");

    // Inside the network, `api` is the host process.
    let url = format!("http://api:{port}/");
    let out = fx.run(
        "exec",
        &[
            "--feature",
            "hybrid",
            "client",
            "--",
            "wget",
            "-q",
            "-O",
            "-",
            &url,
        ],
    );
    assert_ok(&out);
    assert_eq!(text(&out.stdout), "from the host");

    // The same instance planned without --local wants api back in a container.
    let out = fx.run("plan", &["--feature", "hybrid", "--local", "api"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = fx.run("plan", &["--feature", "hybrid"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
}

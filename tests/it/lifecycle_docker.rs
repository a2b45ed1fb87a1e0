//! Issue 6 end to end: lifetimes and gc, secrets, concurrent ups, interrupts, against the real
//! engine with the local `envctl/busybox:1.35` image. Every test has its own environment name
//! and a guard that removes every instance of it.

use crate::support;
use support::child::{lines_of, read_until, wait_exit};
use support::Instance;

use std::process::Output;
use std::time::{Duration, Instant};

use support::{assert_ok, text};

const DEFINITION: &str = r#"
services:
  app:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "echo app started; exec sleep 3600"]
    env:
      PLAIN: visible
      TOKEN: { from_env: LIFECYCLE_TEST_TOKEN }
      PASSWORD: { from_file: ./secret.txt }
"#;

const TOKEN: &str = "LIFECYCLE_TEST_TOKEN";

/// An instance of `definition` with the secrets DEFINITION reads: `TOKEN` set for every
/// envctl run and `secret.txt` beside the definition.
fn with_definition(definition: &str) -> Instance {
    let fx = Instance::new("lc", definition).with_var(TOKEN, "env-secret-value");
    fx.write("secret.txt", "file-secret-value\n");
    fx
}

fn json(out: &Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// The `ls --output json` entry of `instance`.
fn ls_entry(fx: &Instance, instance: &str) -> Option<serde_json::Value> {
    json(&fx.envctl(&["ls", "--output", "json"]))
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == instance)
        .cloned()
}

/// `gc --output json` as (instance, result) pairs, in the order listed.
fn collected(out: &Output) -> Vec<(String, String)> {
    json(out)["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["instance"].as_str().unwrap().to_string(),
                i["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Runs `gc <args> --dry-run --output json` until it lists something (or a minute passes).
fn first_expired(fx: &Instance, args: &[&str]) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut all = args.to_vec();
        all.extend(["--dry-run", "--output", "json"]);
        let listed = collected(&fx.envctl(&all));
        if !listed.is_empty() {
            return listed;
        }
        assert!(Instant::now() < deadline, "gc {args:?}: nothing expired");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn pair(instance: &str, result: &str) -> Vec<(String, String)> {
    vec![(instance.to_string(), result.to_string())]
}

#[test]
fn gc_removes_an_expired_instance_and_nothing_else() {
    let fx = with_definition(DEFINITION);
    // Another environment on the same engine, with an instance that expires first: a scoped
    // gc must leave it alone, as it leaves alone anybody else's expired instances.
    let other = with_definition(DEFINITION);
    let neighbour = other.instance("short");
    assert_ok(&other.run("up", &["--feature", "short", "--ttl", "1s", "--no-wait"]));
    let (short, long, forever) = (fx.instance("short"), fx.instance("long"), fx.env.clone());
    assert_ok(&fx.run("up", &["--feature", "short", "--ttl", "2s", "--no-wait"]));
    assert_ok(&fx.run("up", &["--feature", "long", "--ttl", "1h", "--no-wait"]));
    assert_ok(&fx.run("up", &["--no-wait"]));

    // ls shows age and expiry.
    let entry = ls_entry(&fx, &long).expect("long listed");
    assert!(entry["expires_at"].is_string(), "{entry}");
    assert!(entry["age"].is_string(), "{entry}");
    assert_eq!(ls_entry(&fx, &forever).unwrap()["expires"], "-");
    let table = text(&fx.envctl(&["ls"]).stdout);
    assert!(table.contains("EXPIRES"), "{table}");

    // Renewing the long-lived one keeps its container.
    let before = fx.containers(&long)["app"].id.clone();
    let first_expiry = entry["expires_at"].clone();
    assert_ok(&fx.run("up", &["--feature", "long", "--ttl", "2h", "--no-wait"]));
    assert_eq!(fx.containers(&long)["app"].id, before, "renewal recreated");
    let renewed = ls_entry(&fx, &long).unwrap();
    let status = json(&fx.run("status", &["--feature", "long", "--output", "json"]));
    assert_eq!(status["expires_at"], renewed["expires_at"], "{status}");
    assert_ne!(renewed["expires_at"], first_expiry, "{renewed}");
    assert_ok(&fx.run("plan", &["--feature", "long"]));

    // Both short-lived instances expire; the dry run of each scope lists only its own.
    let by_instance = ["gc", "--instance", neighbour.as_str()];
    assert_eq!(
        first_expired(&other, &by_instance),
        pair(&neighbour, "would-remove")
    );
    let by_env = ["gc", fx.env.as_str()];
    assert_eq!(first_expired(&fx, &by_env), pair(&short, "would-remove"));
    let by_feature = ["gc", fx.env.as_str(), "--feature", "short"];
    assert_eq!(
        first_expired(&fx, &by_feature),
        pair(&short, "would-remove")
    );
    assert_eq!(fx.containers(&short).len(), 1, "dry run removed something");

    let done = fx.run("gc", &["--output", "json"]);
    assert_eq!(collected(&done), pair(&short, "removed"));
    assert!(fx.containers(&short).is_empty());
    assert!(ls_entry(&fx, &short).is_none(), "lease or network left");
    assert_eq!(fx.containers(&long).len(), 1);
    assert_eq!(fx.containers(&forever).len(), 1);
    assert_eq!(
        other.containers(&neighbour).len(),
        1,
        "out of scope, removed"
    );
    // Nothing more to collect here.
    let again = text(&fx.run("gc", &[]).stdout);
    assert!(
        again.contains(&format!("no expired instances (environment {})", fx.env)),
        "{again}"
    );

    // A selector scopes by the instance labels.
    let env_label = format!("io.envctl.env={}", other.env);
    let wrong = [
        "gc",
        "--selector",
        &env_label,
        "--selector",
        "io.envctl.feature=long",
    ];
    assert_eq!(
        collected(&other.envctl(&[&wrong[..], &["--output", "json"]].concat())),
        []
    );
    let right = [
        "gc",
        "--selector",
        &env_label,
        "--selector",
        "io.envctl.feature=short",
    ];
    let done = other.envctl(&[&right[..], &["--output", "json"]].concat());
    assert_eq!(collected(&done), pair(&neighbour, "removed"));
    assert!(other.containers(&neighbour).is_empty());
}

#[test]
fn gc_refuses_a_bad_scope_before_touching_anything() {
    let fx = with_definition(DEFINITION);
    for (args, says) in [
        (&["gc", "--feature", "x"][..], "ENV"),
        (&["gc", "--instance", "shop--"][..], "--instance `shop--`"),
        (
            &["gc", "--instance", "a--b", "shop"][..],
            "cannot be used with",
        ),
        (&["gc", "--selector", "novalue"][..], "KEY=VALUE"),
    ] {
        let out = fx.envctl(args);
        let stderr = text(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn secrets_reach_the_container_and_nowhere_else() {
    let mut fx = with_definition(DEFINITION);
    let secrets = ["env-secret-value", "file-secret-value"];
    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut record = |what: &str, out: Output| outputs.push((what.to_string(), out));
    record("render", fx.run("render", &[]));
    record("render json", fx.run("render", &["--output", "json"]));
    record("validate", fx.run("validate", &[]));
    record("plan before", fx.run("plan", &[]));
    record("plan json", fx.run("plan", &["--output", "json"]));
    let up = fx.run("up", &[]);
    assert_ok(&up);
    record("up", up);
    record("up json", fx.run("up", &["--output", "json"]));
    record("plan after", fx.run("plan", &[]));
    record("status", fx.run("status", &[]));
    record("status json", fx.run("status", &["--output", "json"]));
    record("ports", fx.run("ports", &[]));
    record("ports json", fx.run("ports", &["--output", "json"]));
    record("ls", fx.envctl(&["ls"]));
    record("ls json", fx.envctl(&["ls", "--output", "json"]));
    record("logs", fx.run("logs", &[]));
    for (what, out) in &outputs {
        let all = text(&out.stdout) + &text(&out.stderr);
        assert!(
            matches!(out.status.code(), Some(0 | 2)),
            "{what} failed: {all}"
        );
        for secret in secrets {
            assert!(!all.contains(secret), "{what} shows {secret}:\n{all}");
        }
    }

    // Labels (the spec JSON included) never hold the value; the container's env does.
    let instance = fx.env.clone();
    let app = fx.containers(&instance).remove("app").expect("app exists");
    let labels = serde_json::to_string(&app.labels).unwrap();
    for secret in secrets {
        assert!(!labels.contains(secret), "labels show {secret}: {labels}");
    }
    let inspect = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{json .Config.Labels}}", &app.id])
        .output()
        .unwrap();
    assert_ok(&inspect);
    for secret in secrets {
        assert!(!text(&inspect.stdout).contains(secret));
    }
    let env = fx.run("exec", &["app", "--", "env"]);
    assert_ok(&env);
    let env = text(&env.stdout);
    assert!(env.contains("TOKEN=env-secret-value"), "{env}");
    assert!(env.contains("PASSWORD=file-secret-value"), "{env}");
    assert!(env.contains("PLAIN=visible"), "{env}");

    // A changed secret recreates the container, without saying the value.
    fx.put_var(TOKEN, "rotated-secret");
    let plan = fx.run("plan", &[]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stdout));
    let shown = text(&plan.stdout) + &text(&plan.stderr);
    assert!(shown.contains("secret"), "{shown}");
    assert!(!shown.contains("rotated-secret"), "{shown}");

    // A missing source is an error naming it, and changes nothing.
    fx.forget_var(TOKEN);
    let up = fx.run("up", &["--ttl", "1h"]);
    assert!(!up.status.success());
    let err = text(&up.stderr);
    assert!(err.contains("LIFECYCLE_TEST_TOKEN"), "{err}");
    assert_eq!(
        fx.containers(&instance)["app"].id,
        app.id,
        "up changed something"
    );
    let entry = ls_entry(&fx, &instance).unwrap();
    assert_eq!(entry["expires"], "-", "a failed up set a lifetime: {entry}");
    fx.put_var(TOKEN, "env-secret-value");
    std::fs::remove_file(fx.dir.path().join("environments/secret.txt")).unwrap();
    let up = fx.run("up", &[]);
    assert!(!up.status.success());
    let err = text(&up.stderr);
    assert!(err.contains("secret.txt"), "{err}");
    assert_eq!(
        fx.containers(&instance)["app"].id,
        app.id,
        "up changed something"
    );
}

/// `slow` becomes healthy only once the test creates /tmp/go inside it; `after` waits for it.
const SLOW: &str = r#"
services:
  a:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
  slow:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: [a]
    healthcheck: { cmd: ["test", "-f", "/tmp/go"], interval: 100ms, retries: 100000 }
  after:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: { slow: healthy }
"#;

#[test]
fn two_concurrent_ups_of_one_instance_wait_for_each_other_and_converge() {
    let fx = with_definition(SLOW);
    let piped = std::process::Stdio::piped;
    let mut first = fx
        .command(&["up", &fx.env])
        .stdout(piped())
        .spawn()
        .unwrap();
    let first_out = lines_of(first.stdout.take().unwrap());
    let mut started = false;
    read_until(&first_out, Duration::from_secs(60), |line| {
        started |= line.contains("] slow: starting");
        started && line.contains("] slow: waiting")
    });
    // The first holds the lock while it waits for `slow`: the second says so and waits.
    let mut second = fx
        .command(&["up", &fx.env])
        .stdout(piped())
        .stderr(piped())
        .spawn()
        .unwrap();
    let second_err = lines_of(second.stderr.take().unwrap());
    let said = read_until(&second_err, Duration::from_secs(30), |l| {
        l.contains("waiting for instance")
    });
    let holder = said.last().unwrap();
    assert!(
        holder.contains(&format!("pid {}", first.id())) && holder.contains("envctl up"),
        "{holder}"
    );
    assert!(second.try_wait().unwrap().is_none(), "second did not wait");

    assert_ok(&fx.run("exec", &["slow", "--", "touch", "/tmp/go"]));
    assert!(wait_exit(&mut first, Duration::from_secs(60)).success());
    assert!(wait_exit(&mut second, Duration::from_secs(60)).success());
    let ids: Vec<String> = fx
        .containers(&fx.env)
        .values()
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(ids.len(), 3);
    let plan = fx.run("plan", &[]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stdout));
}

#[test]
fn sigint_during_up_stops_cleanly_and_the_next_up_converges() {
    interrupt_during_up("-INT");
}

#[test]
fn sigterm_during_up_stops_cleanly_and_the_next_up_converges() {
    interrupt_during_up("-TERM");
}

fn interrupt_during_up(signal: &str) {
    let fx = with_definition(SLOW);
    let mut child = fx
        .command(&["up", &fx.env])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines_of(child.stdout.take().unwrap());
    // Wait until `slow` has started and is being health-checked.
    let mut started = false;
    read_until(&out, Duration::from_secs(60), |line| {
        started |= line.contains("] slow: starting");
        started && line.contains("] slow: waiting")
    });
    let kill = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_exit(&mut child, Duration::from_secs(30));
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "stderr:\n{stderr}");
    assert!(stderr.contains("interrupted:"), "{stderr}");
    // Containers are created early and started once their dependencies are ready, so `after`
    // may exist (its create was already under way), but it was never started.
    assert!(
        stderr.contains("after created") || stderr.contains("after not created"),
        "{stderr}"
    );
    assert!(stderr.contains("slow running"), "{stderr}");
    let containers = fx.containers(&fx.env);
    if let Some(after) = containers.get("after") {
        assert!(!after.state.is_running(), "after was started: {after:?}");
    }

    // Let `slow` become ready; the next up converges and plan has nothing left to do.
    assert_ok(&fx.run("exec", &["slow", "--", "touch", "/tmp/go"]));
    assert_ok(&fx.run("up", &[]));
    let plan = fx.run("plan", &[]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stdout));
    assert_eq!(fx.containers(&fx.env).len(), 3);
}

#[test]
fn host_access_is_opt_in_reaches_the_engine_and_is_flagged_in_plan() {
    let risky = "services:\n  tool:\n    image: envctl/busybox:1.35\n    command: [\"sleep\", \"3600\"]\n    privileged: true\n    pid: host\n";
    let fx = with_definition(risky);
    let out = fx.run("up", &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("runs privileged") && err.contains("allow: [privileged]"),
        "{err}"
    );
    assert!(fx.containers(&fx.env).is_empty());

    // Privileged containers cannot start on every engine (rootless, nested): the engine test
    // runs the host PID namespace; privileged mode is checked on the request (docker.rs).
    let shared = "services:\n  tool:\n    image: envctl/busybox:1.35\n    command: [\"sleep\", \"3600\"]\n    pid: host\n";
    let fx = with_definition(&format!("allow: [host-pid]\n{shared}"));
    let plan = fx.run("plan", &[]);
    let shown = text(&plan.stdout);
    assert!(
        shown.contains("! tool has host access: host-pid"),
        "{shown}"
    );
    assert_ok(&fx.run("up", &[]));
    let tool = fx.containers(&fx.env).remove("tool").unwrap();
    let inspect = std::process::Command::new("docker")
        .args(["inspect", "--format", "{{.HostConfig.PidMode}}", &tool.id])
        .output()
        .unwrap();
    assert_eq!(text(&inspect.stdout).trim(), "host");
    // The host's init is visible: PID 1 is not the container's sleep.
    let ps = fx.run("exec", &["tool", "--", "cat", "/proc/1/cmdline"]);
    assert_ok(&ps);
    assert!(
        !text(&ps.stdout).starts_with("sleep"),
        "{}",
        text(&ps.stdout)
    );
    let plan = json(&fx.run("plan", &["--output", "json"]));
    assert_eq!(plan["converged"], true, "{plan}");
    assert_eq!(plan["host_access"]["tool"], serde_json::json!(["host-pid"]));
}

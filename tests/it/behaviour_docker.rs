//! What users rely on, end to end on the real engine with the local busybox image: `down` and
//! `gc` respecting a running `up`'s lock (and `--no-wait-lock` failing at once), jobs and
//! `depends_on: completed`, a second Ctrl-C and the JSON `interrupted` result, `logs --tail`
//! and `--follow`, `status` pending changes and `ls` ready counts. Every test has its own
//! environment name and a guard that removes every instance of it.
//!
//! Covered elsewhere end to end: two `up`s waiting for each other and a single SIGINT/SIGTERM
//! (`lifecycle_docker`), project-a's frontend -> gateway -> provider chain
//! (`project_a_docker`), pinned and busy host ports (`identity_docker`).

use crate::support;
use support::child::{read_until, rest, wait_exit};
use support::Instance;

use std::process::{Child, Output};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use support::{assert_ok, text, BUSYBOX};

/// `slow` becomes healthy only once the test creates /tmp/go inside it; `after` waits for it.
const SLOW: &str = r#"
services:
  slow:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    healthcheck: { cmd: ["test", "-f", "/tmp/go"], interval: 100ms, retries: 100000 }
  after:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: { slow: healthy }
"#;

/// Makes `slow` of the instance (of `feature`) healthy.
fn release(fx: &Instance, feature: Option<&str>) {
    let mut args = vec!["slow", "--", "touch", "/tmp/go"];
    if let Some(f) = feature {
        args.extend(["--feature", f]);
        args.rotate_right(2);
    }
    assert_ok(&fx.run("exec", &args));
}

fn json(out: &Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

/// Starts `up` of SLOW and returns once it holds the lock and waits for `slow`.
fn up_waiting_for_slow(
    fx: &Instance,
    rest: &[&str],
) -> (Child, Receiver<String>, Receiver<String>) {
    let (child, out, err) = fx.spawn("up", rest);
    read_until(&out, Duration::from_secs(60), |l| {
        l.contains("] slow: waiting")
    });
    (child, out, err)
}

#[test]
fn down_waits_for_a_running_up_and_no_wait_lock_fails_at_once() {
    let fx = Instance::new("bh", SLOW);
    let (mut up, _up_out, _up_err) = up_waiting_for_slow(&fx, &[]);

    // --no-wait-lock: fails at once, names the holder, changes nothing.
    for command in ["down", "up"] {
        let out = fx.run(command, &["--no-wait-lock"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("pid {}", up.id())),
            "{command}: {stderr}"
        );
        assert!(stderr.contains("envctl up"), "{command}: {stderr}");
    }
    assert_eq!(
        fx.containers(&fx.env).len(),
        2,
        "--no-wait-lock changed something"
    );

    // A plain down says whom it waits for and waits: nothing is removed under the running up.
    let (mut down, _down_out, down_err) = fx.spawn("down", &[]);
    let said = read_until(&down_err, Duration::from_secs(30), |l| {
        l.contains("waiting for instance")
    });
    assert!(
        said.last().unwrap().contains(&format!("pid {}", up.id())),
        "{said:?}"
    );
    assert!(down.try_wait().unwrap().is_none(), "down did not wait");
    assert!(fx.containers(&fx.env)["slow"].state.is_running());

    // The up finishes undisturbed; then the down removes everything.
    release(&fx, None);
    assert!(
        wait_exit(&mut up, Duration::from_secs(60)).success(),
        "up failed"
    );
    let status = wait_exit(&mut down, Duration::from_secs(60));
    assert!(status.success(), "down: {}", rest(&down_err));
    assert!(fx.containers(&fx.env).is_empty());
}

#[test]
fn gc_skips_an_expired_instance_whose_lock_is_held() {
    let mut fx = Instance::new("bh", SLOW);
    let instance = fx.instance("x");
    let (mut first, _out, _err) = up_waiting_for_slow(&fx, &["--feature", "x", "--ttl", "1s"]);
    release(&fx, Some("x"));
    assert!(wait_exit(&mut first, Duration::from_secs(60)).success());
    // A second up renews the 1 s lifetime and holds the lock while `slow` is not ready again.
    let unready = ["slow", "--", "rm", "/tmp/go"];
    assert_ok(&fx.run("exec", &[&["--feature", "x"][..], &unready].concat()));
    let (up, _out, _err) = up_waiting_for_slow(&fx, &["--feature", "x"]);
    fx.children.push(up);
    let scope = ["gc", fx.env.as_str(), "--feature", "x", "--output", "json"];
    let deadline = Instant::now() + Duration::from_secs(60);
    let result = loop {
        let listed = json(&fx.envctl(&scope))["instances"].clone();
        if let Some(entry) = listed.as_array().unwrap().first() {
            break entry.clone();
        }
        assert!(Instant::now() < deadline, "the 1 s lifetime never expired");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(result["instance"], instance.as_str(), "{result}");
    assert_eq!(result["result"], "skipped", "{result}");
    let pid = fx.children[0].id();
    assert!(
        result["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("pid {pid}")),
        "{result}"
    );
    assert_eq!(
        fx.containers(&instance).len(),
        2,
        "gc removed a locked instance"
    );

    // Once the up is done, the same gc removes it.
    release(&fx, Some("x"));
    let mut up = fx.children.remove(0);
    assert!(wait_exit(&mut up, Duration::from_secs(60)).success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = json(&fx.envctl(&scope))["instances"].clone();
        if let Some(entry) = listed.as_array().unwrap().first() {
            assert_eq!(entry["result"], "removed", "{entry}");
            break;
        }
        assert!(Instant::now() < deadline, "never expired after the up");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(fx.containers(&instance).is_empty());
}

const JOB: &str = r#"
services:
  migrate:
    kind: job
    image: envctl/busybox:1.35
    command: ["sh", "-c", "{% if set.fail | default(value='') == 'yes' %}echo migration broke; exit 3{% else %}sleep 1; echo migrated > /data/done; echo migration finished{% endif %}"]
    volumes: ["data:/data"]
  app:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "cat /data/done; exec sleep 3600"]
    volumes: ["data:/data"]
    depends_on: { migrate: completed }
"#;

#[test]
fn a_job_completes_before_its_dependent_starts_and_is_not_run_again() {
    let fx = Instance::new("bh", JOB);
    assert_ok(&fx.run("up", &[]));
    let containers = fx.containers(&fx.env);
    assert!(containers["app"].state.is_running());
    // The app saw the job's file at its start: it started after the job completed.
    let logs = text(&fx.run("logs", &["app"]).stdout);
    assert!(logs.contains("app | migrated"), "{logs}");
    // ls counts a job that exited 0 as ready.
    let ls = json(&fx.envctl(&["ls", "--output", "json"]));
    let mine = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == fx.env.as_str());
    let mine = mine.expect("listed");
    assert_eq!(
        (&mine["ready"], &mine["total"]),
        (&2.into(), &2.into()),
        "{mine}"
    );

    // A second up leaves the completed job alone: same container, run once.
    let job = containers["migrate"].id.clone();
    assert_ok(&fx.run("up", &[]));
    assert_eq!(fx.containers(&fx.env)["migrate"].id, job);
    let logs = text(&fx.run("logs", &["migrate"]).stdout);
    assert_eq!(logs.matches("migration finished").count(), 1, "{logs}");

    // A failing job fails up, and its dependent is never started.
    let out = fx.run("up", &["--feature", "bad", "--set", "fail=yes"]);
    let all = text(&out.stdout) + &text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("migrate"), "{all}");
    assert!(all.contains("migration broke"), "{all}");
    let bad = fx.containers(&fx.instance("bad"));
    assert!(
        bad.get("app").is_none_or(|c| !c.state.is_running()),
        "{bad:?}"
    );
}

/// Accepts connections and never answers: a registry whose pull hangs.
fn hung_registry() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    port
}

#[test]
fn a_second_interrupt_exits_at_once() {
    let port = hung_registry();
    let fx = Instance::new(
        "bh",
        &format!("services:\n  app:\n    image: 127.0.0.1:{port}/envctl-test/hung:1\n"),
    );
    let (mut up, out, err) = fx.spawn("up", &[]);
    read_until(&out, Duration::from_secs(60), |l| l.contains("pulling"));
    let signal = |child: &Child| {
        let kill = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
    };
    // The first interrupt lets the running pull finish (it never will here)...
    signal(&up);
    read_until(&err, Duration::from_secs(30), |l| {
        l.contains("interrupting")
    });
    assert!(
        up.try_wait().unwrap().is_none(),
        "the first interrupt exited"
    );
    // ...the second exits at once.
    signal(&up);
    let status = wait_exit(&mut up, Duration::from_secs(20));
    let stderr = rest(&err);
    assert_eq!(status.code(), Some(130), "{status:?}: {stderr}");
    assert!(
        stderr.contains("interrupted again: exiting now"),
        "{stderr}"
    );
}

#[test]
fn an_interrupted_up_says_so_in_json() {
    let fx = Instance::new("bh", SLOW);
    let (mut up, out, err) = fx.spawn("up", &["--output", "json"]);
    // JSON output has no progress lines: wait on the engine until `slow` runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fx
        .containers(&fx.env)
        .get("slow")
        .is_some_and(|c| c.state.is_running())
    {
        assert!(Instant::now() < deadline, "slow never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &up.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = wait_exit(&mut up, Duration::from_secs(30));
    let stdout = rest(&out);
    assert_eq!(status.code(), Some(130), "{stdout}\n{}", rest(&err));
    // Progress events are JSON lines; the result is the last one.
    let last = stdout.lines().last().unwrap_or_default();
    let report: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    assert_eq!(report["result"], "interrupted", "{report}");
    assert_eq!(report["instance"], fx.env.as_str(), "{report}");
    assert_eq!(report["services"]["slow"], "running", "{report}");
}

const TALKER: &str = r#"
services:
  app:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; while [ ! -f /tmp/more ]; do sleep 0.1; done; echo later; exec sleep 3600"]
"#;

#[test]
fn logs_tail_and_follow() {
    let mut fx = Instance::new("bh", TALKER);
    assert_ok(&fx.run("up", &[]));
    let deadline = Instant::now() + Duration::from_secs(30);
    let tail = loop {
        let out = fx.run("logs", &["--tail", "2"]);
        assert_ok(&out);
        let tail = text(&out.stdout);
        if tail.contains("line 5") {
            break tail;
        }
        assert!(Instant::now() < deadline, "line 5 never logged: {tail}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(tail, "app | line 4\napp | line 5\n");

    // --follow starts with the tail and keeps printing what comes later.
    let (child, out, _err) = fx.spawn("logs", &["--follow", "--tail", "1"]);
    fx.children.push(child);
    let first = read_until(&out, Duration::from_secs(30), |l| l.contains("line 5"));
    assert_eq!(first, ["app | line 5"]);
    assert_ok(&fx.run("exec", &["app", "--", "touch", "/tmp/more"]));
    let next = read_until(&out, Duration::from_secs(30), |l| l.contains("later"));
    assert_eq!(next, ["app | later"]);
    assert!(
        fx.children[0].try_wait().unwrap().is_none(),
        "follow stopped"
    );
}

#[test]
fn status_shows_pending_changes_and_ls_counts_ready_services() {
    let definition = format!(
        "services:\n  a:\n    image: {BUSYBOX}\n    command: [\"sleep\", \"3600\"]\n  b:\n    image: {BUSYBOX}\n    command: [\"sleep\", \"3600\"]\n    env: {{ MSG: \"{{{{ set.msg | default(value='one') }}}}\" }}\n"
    );
    let fx = Instance::new("bh", &definition);
    assert_ok(&fx.run("up", &[]));
    let status = json(&fx.run("status", &["--output", "json"]));
    assert_eq!(status["converged"], true, "{status}");

    // A changed input: status names the service and what up would do, and changes nothing.
    let status = json(&fx.run("status", &["--set", "msg=two", "--output", "json"]));
    assert_eq!(status["converged"], false, "{status}");
    let services = status["services"].as_array().unwrap();
    let pending = |name: &str| {
        services
            .iter()
            .find(|s| s["service"] == name)
            .unwrap_or_else(|| panic!("{name} in {status}"))["pending"]
            .clone()
    };
    assert!(
        pending("b")
            .as_str()
            .unwrap_or_default()
            .contains("recreate"),
        "{status}"
    );
    assert_eq!(pending("a"), serde_json::Value::Null, "{status}");
    let table = text(&fx.run("status", &["--set", "msg=two"]).stdout);
    assert!(table.contains("recreate"), "{table}");

    // ls counts ready services: 2/2, then 1/2 once one is stopped behind envctl's back.
    let ready = || {
        let ls = json(&fx.envctl(&["ls", "--output", "json"]));
        let mine = ls
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["instance"] == fx.env.as_str())
            .cloned();
        let mine = mine.expect("listed");
        (
            mine["ready"].as_u64().unwrap(),
            mine["total"].as_u64().unwrap(),
        )
    };
    assert_eq!(ready(), (2, 2));
    let b = fx.containers(&fx.env)["b"].name.clone();
    support::docker_cli_ok(&["kill", &b]);
    assert_eq!(ready(), (1, 2));
    let table = text(&fx.envctl(&["ls"]).stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with(fx.env.as_str()))
        .unwrap_or_default();
    assert!(row.contains("1/2"), "{table}");
}

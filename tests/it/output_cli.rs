//! Output never decides the outcome (a closed stdout is dropped quietly, the work goes to the
//! end), instances that do not exist are errors, `down` names the volumes it kept, and every
//! duration flag takes one grammar with bounds. Against the real engine.

use crate::support;
use support::Instance;

use std::process::{Output, Stdio};
use std::time::Duration;

use support::{assert_ok, docker_stdout, text, unique_name, BUSYBOX};

/// An instance of two busybox services, `a` with a named volume.
fn pipes() -> Instance {
    let definition = format!(
        "services:\n  a:\n    image: {BUSYBOX}\n    command: [\"sh\", \"-c\", \"echo hello from a; sleep 3600\"]\n    volumes: [\"data:/data\"]\n  b:\n    image: {BUSYBOX}\n    command: [\"sh\", \"-c\", \"echo hello from b; sleep 3600\"]\n"
    );
    Instance::new("pipes", &definition)
}

/// Runs envctl with its stdout closed before it writes anything (`| head -0`).
fn run_with_stdout_closed(fx: &Instance, args: &[&str]) -> Output {
    let mut child = fx
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("envctl starts");
    drop(child.stdout.take());
    child.wait_with_output().expect("envctl ends")
}

/// The services of the instance that are running.
fn running(fx: &Instance) -> Vec<String> {
    let out = docker_stdout(&[
        "ps",
        "--filter",
        &format!("label=io.envctl.instance={}", fx.env),
        "--filter",
        "status=running",
        "--format",
        "{{.Label \"io.envctl.service\"}}",
    ])
    .unwrap();
    let mut services: Vec<String> = out.lines().map(String::from).collect();
    services.sort();
    services
}

#[track_caller]
fn assert_quiet_success(what: &str, out: &Output) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
}

#[test]
fn a_closed_stdout_never_decides_the_outcome() {
    let fx = pipes();
    let env = fx.env.as_str();
    // `up` with nobody reading still brings every service up and exits 0.
    let up = run_with_stdout_closed(&fx, &["up", env]);
    assert_quiet_success("up", &up);
    assert_eq!(running(&fx), vec!["a", "b"]);

    for args in [
        vec!["ls"],
        vec!["ls", "--output", "json"],
        vec!["status", env],
        vec!["status", env, "--output", "json"],
        vec!["ports", env],
        vec!["logs", env],
        vec!["plan", env],
        vec!["render", env],
        vec!["validate", env],
        vec!["exec", env, "a", "--", "echo", "hi"],
    ] {
        let out = run_with_stdout_closed(&fx, &args);
        assert_quiet_success(&args.join(" "), &out);
    }
    // A follower stops once nobody reads, instead of following for ever.
    let mut follow = fx
        .command(&["logs", env, "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(follow.stdout.take());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = follow.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "logs --follow kept going"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}");

    // `down` with a closed stdout removes everything and says which volume it kept.
    let down = fx.envctl(&["down", env]);
    assert_ok(&down);
    let said = text(&down.stdout);
    assert!(
        said.contains("kept 1 named volume") && said.contains(&format!("{env}_data")),
        "{said}"
    );
    assert!(running(&fx).is_empty());
    let up = fx.envctl(&["up", env, "--no-wait"]);
    assert_ok(&up);
    let down = run_with_stdout_closed(&fx, &["down", env, "--volumes"]);
    assert_quiet_success("down", &down);
    assert!(running(&fx).is_empty());
}

#[test]
fn a_closed_stdout_does_not_stop_a_real_up_half_way_with_json() {
    let fx = pipes();
    let up = run_with_stdout_closed(&fx, &["up", &fx.env, "--output", "json"]);
    assert_quiet_success("up --output json", &up);
    assert_eq!(running(&fx), vec!["a", "b"]);
}

#[test]
fn instances_that_do_not_exist_are_errors() {
    let fx = pipes();
    let missing = unique_name("nosuch");
    for command in ["status", "ports", "logs"] {
        let out = fx.envctl(&[command, &missing]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("instance {missing} does not exist")),
            "{command}: {stderr}"
        );
    }
    // The definition exists but was never brought up: still no instance.
    let out = fx.envctl(&["status", &fx.env]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn every_duration_flag_takes_one_grammar() {
    let fx = pipes();
    let missing = unique_name("nosuch");
    for flag in ["--wait-timeout", "--ttl"] {
        for good in ["90", "1m30s", "3d", "500ms", "none", "0"] {
            let out = fx.envctl(&["up", &missing, flag, good]);
            let stderr = text(&out.stderr);
            // Parsed: the command goes on to look for the (missing) environment.
            assert_eq!(out.status.code(), Some(1), "{flag} {good}: {stderr}");
            assert!(!stderr.contains("invalid value"), "{flag} {good}: {stderr}");
        }
        for absurd in ["99999999d", "18446744073709551615s", "18446744073709551616"] {
            let out = fx.envctl(&["up", &missing, flag, absurd]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {absurd}: {stderr}");
            assert!(stderr.contains("too long"), "{flag} {absurd}: {stderr}");
            assert!(!stderr.contains("panicked"), "{flag} {absurd}: {stderr}");
        }
        let out = fx.envctl(&["up", &missing, flag, "soon"]);
        assert!(text(&out.stderr).contains("is not a duration"));
    }
}

#[test]
fn short_f_means_feature_everywhere() {
    let fx = pipes();
    let missing = unique_name("nosuch");
    for command in [
        "up", "down", "plan", "status", "ports", "logs", "render", "validate",
    ] {
        let out = fx.envctl(&[command, &missing, "-f", "x", "--help"]);
        let help = text(&out.stdout);
        assert!(
            help.contains("-f, --feature"),
            "{command}: -f is not --feature:\n{help}"
        );
    }
}

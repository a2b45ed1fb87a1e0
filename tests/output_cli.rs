//! Output never decides the outcome (a closed stdout is dropped quietly, the work goes to the
//! end), instances that do not exist are errors, `down` names the volumes it kept, and every
//! duration flag takes one grammar with bounds. Against the real engine.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{assert_ok, definition_dir, docker_stdout, text, unique_name, BUSYBOX};

struct Fixture {
    dir: tempfile::TempDir,
    env: String,
}

impl Fixture {
    fn new() -> Self {
        let env = unique_name("pipes");
        let definition = format!(
            "services:\n  a:\n    image: {BUSYBOX}\n    command: [\"sh\", \"-c\", \"echo hello from a; sleep 3600\"]\n    volumes: [\"data:/data\"]\n  b:\n    image: {BUSYBOX}\n    command: [\"sh\", \"-c\", \"echo hello from b; sleep 3600\"]\n"
        );
        Self {
            dir: definition_dir(&env, &definition),
            env,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("envctl"));
        cmd.current_dir(self.dir.path())
            .env("ENVCTL_LOCK_DIR", self.dir.path().join("locks"))
            .env("ENVCTL_ADVERTISE_HOST", "127.0.0.1")
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("envctl runs")
    }

    /// Runs envctl with its stdout closed before it writes anything (`| head -0`).
    fn run_with_stdout_closed(&self, args: &[&str]) -> Output {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("envctl starts");
        drop(child.stdout.take());
        child.wait_with_output().expect("envctl ends")
    }

    fn running(&self) -> Vec<String> {
        let out = docker_stdout(&[
            "ps",
            "--filter",
            &format!("label=io.envctl.instance={}", self.env),
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
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let out = self.run(&["down", &self.env, "--volumes"]);
        support::check_cleanup(&format!("down {}", self.env), &out);
    }
}

#[track_caller]
fn assert_quiet_success(what: &str, out: &Output) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
}

#[test]
fn a_closed_stdout_never_decides_the_outcome() {
    let fx = Fixture::new();
    let env = fx.env.as_str();
    // `up` with nobody reading still brings every service up and exits 0.
    let up = fx.run_with_stdout_closed(&["up", env]);
    assert_quiet_success("up", &up);
    assert_eq!(fx.running(), vec!["a", "b"]);

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
        let out = fx.run_with_stdout_closed(&args);
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
    let down = fx.run(&["down", env]);
    assert_ok(&down);
    let said = text(&down.stdout);
    assert!(
        said.contains("kept 1 named volume") && said.contains(&format!("{env}_data")),
        "{said}"
    );
    assert!(fx.running().is_empty());
    let up = fx.run(&["up", env, "--no-wait"]);
    assert_ok(&up);
    let down = fx.run_with_stdout_closed(&["down", env, "--volumes"]);
    assert_quiet_success("down", &down);
    assert!(fx.running().is_empty());
}

#[test]
fn a_closed_stdout_does_not_stop_a_real_up_half_way_with_json() {
    let fx = Fixture::new();
    let up = fx.run_with_stdout_closed(&["up", &fx.env, "--output", "json"]);
    assert_quiet_success("up --output json", &up);
    assert_eq!(fx.running(), vec!["a", "b"]);
}

#[test]
fn instances_that_do_not_exist_are_errors() {
    let fx = Fixture::new();
    let missing = unique_name("nosuch");
    for command in ["status", "ports", "logs"] {
        let out = fx.run(&[command, &missing]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {stderr}");
        assert!(
            stderr.contains(&format!("instance {missing} does not exist")),
            "{command}: {stderr}"
        );
    }
    // The definition exists but was never brought up: still no instance.
    let out = fx.run(&["status", &fx.env]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn every_duration_flag_takes_one_grammar() {
    let fx = Fixture::new();
    let missing = unique_name("nosuch");
    for flag in ["--wait-timeout", "--ttl"] {
        for good in ["90", "1m30s", "3d", "500ms", "none", "0"] {
            let out = fx.run(&["up", &missing, flag, good]);
            let stderr = text(&out.stderr);
            // Parsed: the command goes on to look for the (missing) environment.
            assert_eq!(out.status.code(), Some(1), "{flag} {good}: {stderr}");
            assert!(!stderr.contains("invalid value"), "{flag} {good}: {stderr}");
        }
        for absurd in ["99999999d", "18446744073709551615s", "18446744073709551616"] {
            let out = fx.run(&["up", &missing, flag, absurd]);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{flag} {absurd}: {stderr}");
            assert!(stderr.contains("too long"), "{flag} {absurd}: {stderr}");
            assert!(!stderr.contains("panicked"), "{flag} {absurd}: {stderr}");
        }
        let out = fx.run(&["up", &missing, flag, "soon"]);
        assert!(text(&out.stderr).contains("is not a duration"));
    }
}

#[test]
fn short_f_means_feature_everywhere() {
    let fx = Fixture::new();
    let missing = unique_name("nosuch");
    for command in [
        "up", "down", "plan", "status", "ports", "logs", "render", "validate",
    ] {
        let out = fx.run(&[command, &missing, "-f", "x", "--help"]);
        let help = text(&out.stdout);
        assert!(
            help.contains("-f, --feature"),
            "{command}: -f is not --feature:\n{help}"
        );
    }
}

//! Issue 21 against the real engine: corpus cases with an `up` file are imported with their
//! `--image-map` (to the local envctl/* images), brought up with `envctl up`, found converged
//! by `envctl plan`, checked through what their containers did, and taken down.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use support::{assert_ok, text};

/// An imported case in a temp dir; `envctl down --volumes` runs on drop.
struct Imported {
    dir: tempfile::TempDir,
    env: String,
}

impl Imported {
    fn new(case: &str, compose: &str) -> Self {
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import");
        let dir = tempfile::tempdir().unwrap();
        support::copy_dir(&corpus.join(case), &dir.path().join(case));
        let env = support::unique_name("imp");
        let me = Self { dir, env };
        let mut args: Vec<String> = vec![
            "import".into(),
            format!("{case}/{compose}"),
            "--name".into(),
            me.env.clone(),
        ];
        let up = std::fs::read_to_string(corpus.join(case).join("up")).unwrap();
        args.extend(up.split_whitespace().map(str::to_string));
        let out = me.envctl(&args);
        assert_ok(&out);
        me
    }

    fn envctl(&self, args: &[String]) -> Output {
        let mut cmd = assert_cmd::Command::from_std({
            let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("envctl"));
            c.current_dir(self.dir.path())
                .env("ENVCTL_LOCK_DIR", self.dir.path().join("locks"))
                .env("ENVCTL_ADVERTISE_HOST", "127.0.0.1")
                .args(args);
            c
        });
        cmd.timeout(Duration::from_secs(300));
        cmd.output().expect("run envctl")
    }

    fn run(&self, verb: &str) -> Output {
        self.envctl(&[verb.to_string(), self.env.clone()])
    }

    fn logs(&self, service: &str) -> String {
        let out = support::docker_cli(&["logs", &format!("{}-{service}", self.env)]);
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    }

    /// Waits (up to 20 s) until the service's log contains `wanted`: a process may be ready
    /// a moment before the engine has its first line.
    fn assert_logged(&self, service: &str, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let logs = self.logs(service);
            if logs.contains(wanted) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{service} never logged {wanted:?}:\n{logs}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Up, then plan must be converged (exit 0).
    fn up_and_converge(&self) {
        let up = self.run("up");
        assert_ok(&up);
        let plan = self.run("plan");
        assert_eq!(
            plan.status.code(),
            Some(0),
            "plan after up is not converged:\n{}\n{}",
            text(&plan.stdout),
            text(&plan.stderr)
        );
    }

    fn definition(&self) -> PathBuf {
        self.dir
            .path()
            .join("environments")
            .join(format!("{}.yaml", self.env))
    }
}

impl Drop for Imported {
    fn drop(&mut self) {
        let out = self.envctl(&["down".into(), self.env.clone(), "--volumes".into()]);
        support::check_cleanup(&format!("down {}", self.env), &out);
    }
}

#[test]
fn anchors_and_a_healthy_dependency_come_up() {
    let imp = Imported::new("up-cache-worker", "compose.yaml");
    imp.up_and_converge();
    // The worker started after Redis answered, with the anchor's environment and the default
    // of `${QUEUE:-default}`.
    imp.assert_logged("worker", "worker on queue default via cache");
    let ping = support::docker_cli(&["exec", &format!("{}-cache", imp.env), "redis-cli", "ping"]);
    assert_eq!(text(&ping.stdout).trim(), "PONG");
}

#[test]
fn an_override_file_and_profiles_come_up() {
    let imp = Imported::new("up-web-override", "compose.yaml");
    let text_def = std::fs::read_to_string(imp.definition()).unwrap();
    assert!(
        text_def.contains("smoke:"),
        "the override file was not merged:\n{text_def}"
    );
    imp.up_and_converge();
    imp.assert_logged("smoke", "smoke test passed");
    let env = support::docker_cli(&[
        "exec",
        &format!("{}-web", imp.env),
        "sh",
        "-c",
        "echo $SESSION_SERVERS",
    ]);
    assert_eq!(text(&env.stdout).trim(), "sessions:11211");
    // The debug service is behind a profile: not started by default.
    let debug = support::docker_cli(&["inspect", &format!("{}-debug", imp.env)]);
    assert!(
        !debug.status.success(),
        "the debug profile service was started"
    );
}

#[test]
fn extends_and_a_migration_job_come_up() {
    let imp = Imported::new("up-db-migrate", "docker-compose.yml");
    imp.up_and_converge();
    imp.assert_logged("migrate", "migrated shop on db");
    // The app waited for the job: it runs, with the environment from base.yml.
    let env = support::docker_cli(&[
        "exec",
        &format!("{}-app", imp.env),
        "sh",
        "-c",
        "echo $DB_HOST/$DB_NAME",
    ]);
    assert_eq!(text(&env.stdout).trim(), "db/shop");
}

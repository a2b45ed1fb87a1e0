//! Issue 21 against the real engine: corpus cases with an `up` file are imported with their
//! `--image-map` (to the local envctl/* images), brought up with `envctl up`, found converged
//! by `envctl plan`, checked through what their containers did, and taken down.

use crate::support;
use support::Instance;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{assert_ok, text};

/// A corpus case copied into the instance's directory and imported as its environment.
fn imported(case: &str, compose: &str) -> Instance {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import");
    let fx = Instance::without_definition("imp").with_timeout(Duration::from_secs(300));
    support::copy_dir(&corpus.join(case), &fx.dir.path().join(case));
    let compose = format!("{case}/{compose}");
    let mut args = vec!["import", compose.as_str(), "--name", fx.env.as_str()];
    let up = std::fs::read_to_string(corpus.join(case).join("up")).unwrap();
    args.extend(up.split_whitespace());
    assert_ok(&fx.envctl(&args));
    fx.defined_elsewhere(&fx.env);
    fx
}

fn logs(fx: &Instance, service: &str) -> String {
    let out = support::docker_cli(&["logs", &format!("{}-{service}", fx.env)]);
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// Waits (up to 20 s) until the service's log contains `wanted`: a process may be ready
/// a moment before the engine has its first line.
fn assert_logged(fx: &Instance, service: &str, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = logs(fx, service);
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
fn up_and_converge(fx: &Instance) {
    let up = fx.run("up", &[]);
    assert_ok(&up);
    let plan = fx.run("plan", &[]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan after up is not converged:\n{}\n{}",
        text(&plan.stdout),
        text(&plan.stderr)
    );
}

#[test]
fn anchors_and_a_healthy_dependency_come_up() {
    let imp = imported("up-cache-worker", "compose.yaml");
    up_and_converge(&imp);
    // The worker started after Redis answered, with the anchor's environment and the default
    // of `${QUEUE:-default}`.
    assert_logged(&imp, "worker", "worker on queue default via cache");
    let ping = support::docker_cli(&["exec", &format!("{}-cache", imp.env), "redis-cli", "ping"]);
    assert_eq!(text(&ping.stdout).trim(), "PONG");
}

#[test]
fn an_override_file_and_profiles_come_up() {
    let imp = imported("up-web-override", "compose.yaml");
    let text_def = std::fs::read_to_string(imp.path(&format!("{}.yaml", imp.env))).unwrap();
    assert!(
        text_def.contains("smoke:"),
        "the override file was not merged:\n{text_def}"
    );
    up_and_converge(&imp);
    assert_logged(&imp, "smoke", "smoke test passed");
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
    let imp = imported("up-db-migrate", "docker-compose.yml");
    up_and_converge(&imp);
    assert_logged(&imp, "migrate", "migrated shop on db");
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

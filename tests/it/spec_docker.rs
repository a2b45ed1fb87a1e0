//! Issue 11 classes 3 and 4 (what runs is what was defined; ready means ready), the `cmd`
//! health-check part of class 7, and issue 19 point 7 (the spec hash confirms no secret),
//! against the real engine with the local `envctl/*` images. Every test has its own
//! environment name and a guard that removes every instance of it and the images it made.

use crate::support;
use support::Instance;

use std::process::Output;
use std::time::Duration;

use sha2::{Digest, Sha256};

use envctl::engine::ObservedContainer;
use envctl::model::labels;

use support::{assert_ok, docker_cli, docker_stdout, text, BUSYBOX};

/// An instance of `definition`; `up` may build, so one run may take three minutes.
fn instance(definition: &str) -> Instance {
    Instance::new("spec", definition).with_timeout(Duration::from_secs(180))
}

fn container(fx: &Instance, service: &str) -> ObservedContainer {
    fx.containers(&fx.env)
        .remove(service)
        .unwrap_or_else(|| panic!("no container for {service}"))
}

/// The ID of the image a service's container runs.
fn image_of(fx: &Instance, service: &str) -> String {
    let id = container(fx, service).id;
    docker_stdout(&["inspect", "-f", "{{.Image}}", &id]).unwrap()
}

/// Remembers the image a container runs, so the guard removes it (and its old builds).
fn track_image_of(fx: &Instance, service: &str) {
    fx.track_image(&image_of(fx, service));
}

fn exec(fx: &Instance, service: &str, cmd: &[&str]) -> String {
    let name = format!("{}-{service}", fx.env);
    let mut args = vec!["exec", name.as_str()];
    args.extend_from_slice(cmd);
    docker_stdout(&args).unwrap()
}

/// `plan` and its exit status (0 converged, 2 changes pending).
fn plan(fx: &Instance, rest: &[&str]) -> (i32, String) {
    let out = fx.run("plan", rest);
    (out.status.code().unwrap_or(-1), text(&out.stdout))
}

fn json(out: &Output) -> serde_json::Value {
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

const BUILD_DEFINITION: &str = r#"
services:
  web:
    build:
      context: ./web
      args: { GREETING: "{{ set.greeting | default(value='hello') }}" }
    restart: "no"
"#;

const DOCKERFILE: &str = "FROM envctl/busybox:1.35\nARG GREETING\nCOPY app.txt /app.txt\nRUN echo \"$GREETING\" > /greeting\nCMD [\"sleep\", \"3600\"]\n";

/// Class 3: a changed Dockerfile, context file or build arg is noticed by `plan` with its
/// reason and rebuilt by `up`; an ignored file is not; a deleted image is rebuilt;
/// `up --build` rebuilds regardless.
#[test]
fn build_inputs_rebuild_and_recreate() {
    let fx = instance(BUILD_DEFINITION);
    fx.write("web/Dockerfile", DOCKERFILE);
    fx.write("web/app.txt", "one\n");
    fx.write("web/.dockerignore", "*.log\n");
    fx.write("web/debug.log", "ignored\n");
    let tag = format!("envctl-build/{}-web:latest", fx.env);
    fx.track_image(&tag);

    assert_ok(&fx.run("up", &[]));
    track_image_of(&fx, "web");
    assert_eq!(plan(&fx, &[]).0, 0, "{}", plan(&fx, &[]).1);
    assert_eq!(exec(&fx, "web", &["cat", "/app.txt"]), "one");

    // An ignored file changes nothing.
    fx.write("web/debug.log", "still ignored\n");
    assert_eq!(plan(&fx, &[]).0, 0, "{}", plan(&fx, &[]).1);

    // One input at a time: plan names it, up rebuilds and the container runs the new image.
    let steps: [(&str, &str, &[&str]); 3] = [
        ("web/app.txt", "build context changed", &[]),
        ("web/Dockerfile", "Dockerfile changed", &[]),
        ("", "build args changed", &["--set", "greeting=bonjour"]),
    ];
    for (file, why, set) in steps {
        match file {
            "web/app.txt" => fx.write(file, "two\n"),
            "web/Dockerfile" => fx.write(file, &format!("{DOCKERFILE}LABEL step=2\n")),
            _ => {}
        }
        let before = (container(&fx, "web").id, image_of(&fx, "web"));
        let (code, shown) = plan(&fx, set);
        assert_eq!(code, 2, "{shown}");
        assert!(shown.contains(&format!("build {tag}: {why}")), "{shown}");
        assert!(
            shown.contains(&format!(
                "recreate web: changed: image {tag} is rebuilt ({why})"
            )),
            "{shown}"
        );
        let mut args = vec![];
        args.extend_from_slice(set);
        assert_ok(&fx.run("up", &args));
        track_image_of(&fx, "web");
        assert_ne!(container(&fx, "web").id, before.0, "{why}: not recreated");
        assert_ne!(image_of(&fx, "web"), before.1, "{why}: not rebuilt");
        assert_eq!(plan(&fx, set).0, 0, "{why}: {}", plan(&fx, set).1);
    }
    assert_eq!(exec(&fx, "web", &["cat", "/app.txt"]), "two");
    assert_eq!(exec(&fx, "web", &["cat", "/greeting"]), "bonjour");
    let set: &[&str] = &["--set", "greeting=bonjour"];

    // Deleting the image: rebuilt.
    assert_ok(&docker_cli(&["image", "rm", "-f", &tag]));
    let (code, shown) = plan(&fx, set);
    assert_eq!(code, 2, "{shown}");
    assert!(
        shown.contains(&format!("build {tag}: image not present locally")),
        "{shown}"
    );
    assert_ok(&fx.run("up", set));
    track_image_of(&fx, "web");
    assert_eq!(plan(&fx, set).0, 0);

    // up --build rebuilds even when nothing changed.
    let out = fx.run(
        "up",
        &["--build", "--output", "json", "--set", "greeting=bonjour"],
    );
    assert_ok(&out);
    track_image_of(&fx, "web");
    assert!(
        text(&out.stdout).contains(r#""phase":"building""#),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(plan(&fx, set).0, 0);
}

/// Class 3: an image replaced under the same tag (rebuilt, re-pulled, retagged) is noticed:
/// `plan` says which image it now is, `up` recreates the container from it.
#[test]
fn a_retagged_image_recreates_its_container() {
    let fx_env = support::unique_name("specimg");
    let image = format!("envctl-test/{fx_env}:1");
    let fx = instance(&format!(
        "services:\n  app:\n    image: {image}\n    pull: never\n    command: [\"sleep\", \"3600\"]\n"
    ));
    fx.track_image(&image);
    assert_ok(&docker_cli(&["tag", BUSYBOX, &image]));
    assert_ok(&fx.run("up", &[]));
    let before = (container(&fx, "app").id, image_of(&fx, "app"));
    assert_eq!(plan(&fx, &[]).0, 0);

    // Another image under the same tag.
    support::build_image(
        &fx.dir.path().join("retag"),
        &image,
        &format!("FROM {BUSYBOX}\nLABEL io.envctl.test.retagged={fx_env}\n"),
    );
    let new_id = docker_stdout(&["image", "inspect", "-f", "{{.Id}}", &image]).unwrap();
    assert_ne!(new_id, before.1);

    let (code, shown) = plan(&fx, &[]);
    assert_eq!(code, 2, "{shown}");
    assert!(
        shown.contains(&format!(
            "recreate app: changed: image {image} is now {}",
            &new_id[..19]
        )),
        "{shown}"
    );
    assert_ok(&fx.run("up", &[]));
    assert_ne!(container(&fx, "app").id, before.0);
    assert_eq!(image_of(&fx, "app"), new_id);
    assert_eq!(plan(&fx, &[]).0, 0);
}

/// Class 3: `up --pull` pulls before planning; with no registry it fails clearly and
/// creates nothing.
#[test]
fn up_pull_without_a_registry_fails_and_changes_nothing() {
    let fx = instance(&format!(
        "services:\n  app:\n    image: {BUSYBOX}\n    command: [\"sleep\", \"3600\"]\n"
    ));
    let out = fx.run("up", &["--pull"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("up --pull: cannot pull image {BUSYBOX}")),
        "{err}"
    );
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(fx.containers(&fx.env).is_empty());
    let network = format!("envctl-{}", fx.env);
    assert!(docker_cli(&["network", "inspect", &network])
        .status
        .code()
        .is_some_and(|c| c != 0));
}

/// Class 3 and issue 14: `up --pull` shows each pull's progress (layers and bytes) on the
/// services using the image, before anything is created.
#[test]
fn up_pull_shows_its_progress() {
    let registry = support::LocalRegistry::start();
    let name = support::unique_name("specpull");
    let image = format!("127.0.0.1:{}/envctl-test/{name}:1", registry.port);
    let fx = instance(&format!(
        "services:\n  app:\n    image: {image}\n    command: [\"sleep\", \"3600\"]\n"
    ));
    fx.track_image(&image);
    // An image with a layer of its own in the registry, and no local copy: the pull downloads.
    support::build_image(
        &fx.dir.path().join("seed"),
        &image,
        &format!("FROM {BUSYBOX}\nRUN head -c 300000 /dev/urandom > /noise\n"),
    );
    assert_ok(&docker_cli(&["push", &image]));
    assert_ok(&docker_cli(&["image", "rm", &image]));

    let out = fx.run("up", &["--pull", "--output", "json"]);
    assert_ok(&out);
    let events: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let first = |phase: &str, detail: &str| {
        events.iter().position(|e| {
            e["service"] == "app"
                && e["phase"] == phase
                && e["progress"].as_str().unwrap_or_default().contains(detail)
        })
    };
    let started = first("pulling", "(--pull)").unwrap_or_else(|| panic!("{events:#?}"));
    let bytes = first("pulling", " MB").unwrap_or_else(|| panic!("{events:#?}"));
    let created = first("creating", "").unwrap_or_else(|| panic!("{events:#?}"));
    assert!(started < bytes && bytes < created, "{events:#?}");
}

/// Class 4: a container that exits at once under `restart: on-failure` or `always` is
/// running most of the time; `up` must still report it failed.
#[test]
fn a_crash_looping_container_fails_up() {
    for policy in ["on-failure", "always"] {
        let fx = instance(&format!(
            "services:\n  loop:\n    image: {BUSYBOX}\n    command: [\"sh\", \"-c\", \"echo crashing; exit 3\"]\n    restart: {policy}\n"
        ));
        let out = fx.run("up", &["--wait-timeout", "60s", "--output", "json"]);
        let report = json(&out);
        assert_eq!(out.status.code(), Some(1), "{policy}: {report}");
        assert_eq!(report["result"], "failed", "{policy}: {report}");
        let reason = report["failures"][0]["reason"].as_str().unwrap();
        // Seen between runs (exited, before the engine's 100 ms restart delay: its exit code
        // is known) or running again after a restart (the engine has reset the code to 0, so
        // none is given): never a made-up code.
        let between_runs = reason.contains("code 3");
        let running_again = reason.contains("restarted") && !reason.contains("code");
        assert!(between_runs || running_again, "{policy}: {reason}");
    }
}

/// Class 4: with a health check, a restart resets readiness: a server that crashed once and,
/// restarted by `restart: always`, now answers for half a second between crashes must not
/// pass as healthy (its file system survives restarts: `/ran` marks the first run).
#[test]
fn a_restart_resets_health_check_readiness() {
    let fx = instance(&format!(
        r#"
services:
  flaky:
    image: {BUSYBOX}
    command: ["sh", "-c", "if [ -f /ran ]; then httpd -p 8080; sleep 0.5; fi; touch /ran; exit 3"]
    restart: always
    healthcheck: {{ tcp: 8080, interval: 200ms, retries: 5 }}
"#
    ));
    let out = fx.run("up", &["--wait-timeout", "60s", "--output", "json"]);
    let report = json(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let reason = report["failures"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("restart"), "{reason}");
}

/// Class 4: without a health check a service that stays up is ready after the settle
/// window, and `--wait-timeout 0` on a converged, healthy instance waits for nothing and
/// reports every service ready (a dependent of a healthy service included: it used to fail
/// at once, its dependency "not healthy before the wait timeout").
#[test]
fn wait_timeout_zero_reports_a_healthy_instance_ready() {
    let fx = instance(&format!(
        r#"
services:
  web:
    image: {BUSYBOX}
    command: ["httpd", "-f", "-p", "8080"]
    ports: [8080]
    healthcheck: {{ tcp: 8080, interval: 200ms, retries: 50 }}
  worker:
    image: {BUSYBOX}
    command: ["sleep", "3600"]
    depends_on: {{ web: healthy }}
"#
    ));
    assert_ok(&fx.run("up", &["--wait-timeout", "60s"]));
    let out = fx.run("up", &["--wait-timeout", "0", "--output", "json"]);
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(report["result"], "ready", "{report}");
    assert_eq!(report["services"]["web"], "ready", "{report}");
    assert_eq!(report["services"]["worker"], "ready", "{report}");
}

/// Class 7: a `cmd` check that times out leaves no process behind in the container.
#[test]
fn a_timed_out_cmd_check_leaves_no_process() {
    let fx = instance(&format!(
        r#"
services:
  slow:
    image: {BUSYBOX}
    command: ["sleep", "3600"]
    healthcheck: {{ cmd: ["sh", "-c", "sleep 100; true"], timeout: 1s, interval: 1s, retries: 2 }}
"#
    ));
    let out = fx.run("up", &["--wait-timeout", "60s", "--output", "json"]);
    let report = json(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let reason = report["failures"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("took longer than"), "{reason}");
    // Killing is asynchronous in the kernel: poll briefly for the processes to be gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ps = exec(&fx, "slow", &["ps", "-o", "pid,stat,args"]);
        let live: Vec<&str> = ps
            .lines()
            .filter(|l| l.contains("sleep 100") && !l.contains(" Z "))
            .collect();
        if live.is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "stray check processes:\n{ps}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Issue 19 point 7: the spec-hash label cannot confirm a guessed secret (it was an unsalted
/// sha256 over the spec and the secret); it is keyed with a 0600 per-machine key.
#[test]
fn the_spec_hash_label_does_not_confirm_a_guessed_secret() {
    let mut fx = instance(&format!(
        "services:\n  app:\n    image: {BUSYBOX}\n    command: [\"sleep\", \"3600\"]\n    env:\n      PASSWORD: {{ from_env: SPEC_TEST_PASSWORD }}\n"
    ));
    fx.put_var("SPEC_TEST_PASSWORD", "correct horse");
    let out = fx.envctl(&["up", &fx.env]);
    assert_ok(&out);
    let c = container(&fx, "app");
    let label = &c.labels[labels::SPEC_HASH];
    let view = &c.labels[envctl::plan::SPEC_LABEL];
    // The guess an attacker checks: sha256(view, "\0PASSWORD=guess") as before.
    let guess = |secret: &str| {
        let mut d = Sha256::new();
        d.update(view.as_bytes());
        d.update(format!("\0PASSWORD={secret}").as_bytes());
        hex::encode(d.finalize())
    };
    assert_ne!(label, &guess("correct horse"));
    assert!(!label.contains("correct horse") && !view.contains("correct horse"));

    // The key is private to this machine's user.
    let key = fx.dir.path().join("state").join("spec-key");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    // With the same key and secret the plan is converged; a rotated secret recreates.
    let same = fx.envctl(&["plan", &fx.env]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stdout));
    fx.put_var("SPEC_TEST_PASSWORD", "battery staple");
    let rotated = fx.envctl(&["plan", &fx.env]);
    assert_eq!(rotated.status.code(), Some(2), "{}", text(&rotated.stdout));
    assert!(text(&rotated.stdout).contains("a secret value"));
}

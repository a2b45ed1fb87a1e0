//! Helpers shared by the integration test modules: `use crate::support;` in a module.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use envctl::engine::ContainerSpec;

pub mod child;
pub mod events;
pub mod instance;
pub mod java;
pub mod protocols;
pub mod remote;
pub mod ui;

pub use instance::Instance;

/// The busybox image every engine test runs.
pub const BUSYBOX: &str = "envctl/busybox:1.35";

/// A name no other test of this run uses: `<prefix><pid>x<n>`, so runs never collide.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{prefix}{}x{n}", std::process::id())
}

/// A temp dir holding `environments/<env>.yaml` with `text`, as envctl looks for it.
pub fn definition_dir(env: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("environments")).unwrap();
    std::fs::write(
        dir.path().join("environments").join(format!("{env}.yaml")),
        text,
    )
    .unwrap();
    dir
}

/// Bytes from a process (stdout or stderr) as text, lossily.
pub fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

/// Asserts that a process succeeded, showing its status, stdout and stderr otherwise.
#[track_caller]
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Runs the `docker` CLI (test scaffolding only: envctl itself never shells out to docker).
pub fn docker_cli(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker CLI")
}

/// Runs the `docker` CLI and asserts that it succeeded.
#[track_caller]
pub fn docker_cli_ok(args: &[&str]) {
    let out = docker_cli(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs the `docker` CLI: its trimmed stdout, or an error naming the command with its stderr.
pub fn docker_stdout(args: &[&str]) -> Result<String, String> {
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|e| format!("docker {args:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A busybox container spec running `command`, with no labels, ports, mounts or limits, on the
/// default `bridge` network; override fields with `ContainerSpec { .., ..plain_spec(..) }`.
pub fn plain_spec(name: String, command: Vec<String>) -> ContainerSpec {
    ContainerSpec {
        name,
        image: BUSYBOX.into(),
        env: vec![],
        labels: Default::default(),
        command: Some(command),
        entrypoint: None,
        ports: vec![],
        publish_address: "127.0.0.1".into(),
        network: "bridge".into(),
        aliases: vec![],
        links: vec![],
        mounts: vec![],
        memory_bytes: None,
        nano_cpus: None,
        restart: "no".into(),
        extra_hosts: vec![],
        host_access: Default::default(),
    }
}

/// Removes image names (tags) a test gave images on the engine; the images stay.
pub struct UntagGuard(pub Vec<String>);

impl Drop for UntagGuard {
    fn drop(&mut self) {
        for name in &self.0 {
            check_cleanup(
                &format!("image name {name}"),
                &docker_cli(&["image", "rm", name]),
            );
        }
    }
}

/// A private registry (Debian's docker-registry) on a loopback port, stopped on drop.
pub struct LocalRegistry {
    child: std::process::Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl LocalRegistry {
    /// Starts the registry and waits (up to 20 s) until it answers. The port is free when
    /// picked but not reserved: a concurrent test may bind it first, and then the registry
    /// exits and another port is tried.
    pub fn start() -> Self {
        for _ in 0..3 {
            if let Some(registry) = Self::try_start() {
                return registry;
            }
        }
        panic!("docker-registry exited at start on three free ports in a row");
    }

    fn try_start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("docker-registry must be installed (apt-get install docker-registry; scripts/test.sh does)");
        let deadline = Instant::now() + Duration::from_secs(20);
        // Ready when it answers the registry API's version check, not merely accepts a connection.
        while protocols::http_get(port, "/v2/").map(|(status, _)| status) != Ok(200) {
            if child.try_wait().unwrap().is_some() {
                return None;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the local registry never answered GET /v2/");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Self {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Dubbo provider/consumer image.
pub const DUBBO_IMAGE: &str = "envctl/dubbo-python:3.0";

/// A real Dubbo call (`greet` with `data`) from the host's network namespace: the consumer
/// image with host networking is a process on the host. `name` names the short-lived
/// consumer container. Returns the consumer's JSON answer.
pub fn dubbo_call_from_host(
    name: &str,
    address: &str,
    interface: &str,
    data: &str,
) -> serde_json::Value {
    let out = docker_stdout(&[
        "run",
        "--rm",
        "--name",
        name,
        "--label",
        "io.envctl.test=1",
        "--network",
        "host",
        DUBBO_IMAGE,
        "python3",
        "consumer.py",
        "call",
        "--timeout",
        "30",
        "--address",
        address,
        "--interface",
        interface,
        "--method",
        "greet",
        "--data",
        data,
    ])
    .unwrap_or_else(|e| panic!("calling {interface} at {address}: {e}"));
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("consumer output {out:?}: {e}"))
}

/// Reports a failed cleanup step, naming the object: the test fails (a panic), unless it is
/// already failing, when a second panic would abort and hide the first: then on stderr.
pub fn cleanup_failed(what: &str, why: &str) {
    if std::thread::panicking() {
        eprintln!("cleanup failed: {what}: {why}");
    } else {
        panic!("cleanup failed: {what}: {why}");
    }
}

/// Whether an error says the object is already gone, which is what cleanup wants.
fn already_gone(why: &str) -> bool {
    let why = why.to_ascii_lowercase();
    why.contains("no such") || why.contains("not found")
}

/// Checks a cleanup command's output (reporting it via `cleanup_failed`); "already gone" is fine.
pub fn check_cleanup(what: &str, out: &Output) {
    let stderr = text(&out.stderr);
    if !out.status.success() && !already_gone(&stderr) {
        cleanup_failed(
            what,
            &format!("status {:?}: {}{}", out.status, text(&out.stdout), stderr),
        );
    }
}

/// Checks a cleanup step's result (reporting it via `cleanup_failed`); "already gone" is fine.
pub fn check_cleanup_result<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) {
    if let Err(err) = result {
        let why = err.to_string();
        if !already_gone(&why) {
            cleanup_failed(what, &why);
        }
    }
}

/// A runtime and a connection to the real engine, as every engine-backed fixture needs.
pub fn connect_engine() -> (
    tokio::runtime::Runtime,
    envctl::engine::docker::DockerEngine,
) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = rt
        .block_on(envctl::engine::docker::DockerEngine::connect())
        .expect("the Docker engine must be running for these tests");
    (rt, engine)
}

/// `envctl ARGS` run in `dir`, with the test's own lock directory and a loopback advertise
/// address (the default in every engine test).
pub fn envctl_in(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("envctl"));
    cmd.current_dir(dir)
        .env("ENVCTL_LOCK_DIR", dir.join("locks"))
        .env("ENVCTL_ADVERTISE_HOST", "127.0.0.1")
        .args(args);
    cmd
}

/// Copies a directory tree (a test corpus case) into a test's own folder.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Builds `dockerfile` in a new context directory `dir` as `tag` with the docker CLI.
pub fn build_image(dir: &std::path::Path, tag: &str, dockerfile: &str) {
    std::fs::create_dir(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    assert_ok(&docker_cli(&[
        "build",
        "-q",
        "-t",
        tag,
        dir.to_str().unwrap(),
    ]));
}

/// Makes sure the local images exist: each one's idempotent `images/<dir>/build.sh` runs once
/// per process, and modules asking at the same time wait for one build instead of racing two.
pub fn ensure_images(images: &[(&str, &str)]) {
    static ENSURED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut ensured = ENSURED.lock().unwrap_or_else(|e| e.into_inner());
    for (image, dir) in images {
        if ensured.iter().any(|p| p == image) {
            continue;
        }
        // The script itself skips a present image (unless ENVCTL_REBUILD asks otherwise).
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("images")
            .join(dir)
            .join("build.sh");
        let status = Command::new("bash")
            .arg(&script)
            .status()
            .unwrap_or_else(|e| panic!("{}: {e}", script.display()));
        assert!(status.success(), "{} failed ({status})", script.display());
        ensured.push(image.to_string());
    }
}

//! The Docker engine adapter against the real engine, with the locally built
//! envctl/busybox:1.35 (scripts/build-images.sh busybox). Every test labels what it creates
//! with its own instance id and removes it all in a drop guard, pass or fail.

use crate::support;

use std::collections::BTreeMap;
use std::time::Duration;

use envctl::engine::docker::DockerEngine;
use envctl::engine::{
    BuildRequest, ContainerSpec, ContainerState, Engine, EngineError, ImageProgress, LabelFilter,
    Labels, Mount, MountKind, PublishedPort,
};
use envctl::model::{labels, Protocol};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use support::{docker_cli_ok, plain_spec, LocalRegistry, BUSYBOX};

const DEADLINE: Duration = Duration::from_secs(20);

/// Removes everything labelled with one test's instance id when dropped, through a fresh
/// engine connection on its own thread (the test's runtime may be gone or busy).
struct Cleanup {
    instance: String,
    images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let instance = self.instance.clone();
        let images = std::mem::take(&mut self.images);
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().expect("cleanup runtime");
            rt.block_on(async {
                let engine = DockerEngine::connect().await.expect("cleanup connect");
                let filter = LabelFilter::instance(&instance);
                let listed = |what: &str| format!("listing the {what} of {instance}");
                let containers = engine.list_containers(&filter).await;
                for c in containers.as_deref().unwrap_or_default() {
                    let removed = engine.remove_container(&c.id).await;
                    support::check_cleanup_result(&format!("container {}", c.name), removed);
                }
                support::check_cleanup_result(&listed("containers"), containers);
                let networks = engine.list_networks(&filter).await;
                for n in networks.as_deref().unwrap_or_default() {
                    let removed = engine.remove_network(&n.id).await;
                    support::check_cleanup_result(&format!("network {}", n.name), removed);
                }
                support::check_cleanup_result(&listed("networks"), networks);
                let volumes = engine.list_volumes(&filter).await;
                for v in volumes.as_deref().unwrap_or_default() {
                    let removed = engine.remove_volume(&v.name).await;
                    support::check_cleanup_result(&format!("volume {}", v.name), removed);
                }
                support::check_cleanup_result(&listed("volumes"), volumes);
            });
            for image in images {
                // The engine trait has no image removal (envctl never deletes images); the CLI is
                // fine for test cleanup.
                let out = support::docker_cli(&["image", "rm", "-f", &image]);
                support::check_cleanup(&format!("image {image}"), &out);
            }
        })
        .join();
        if done.is_err() && !std::thread::panicking() {
            panic!("cleanup of {} failed", self.instance);
        }
    }
}

struct TestEnv {
    engine: DockerEngine,
    instance: String,
    guard: Cleanup,
}

impl TestEnv {
    async fn new() -> Self {
        let instance = support::unique_name("envctl-engine-test-");
        let engine = DockerEngine::connect()
            .await
            .expect("the Docker engine must be running (scripts/ensure-docker.sh)");
        assert!(
            engine.image_exists(BUSYBOX).await.unwrap(),
            "{BUSYBOX} is missing: run scripts/build-images.sh busybox"
        );
        Self {
            engine,
            guard: Cleanup {
                instance: instance.clone(),
                images: Vec::new(),
            },
            instance,
        }
    }

    fn labels(&self, service: &str) -> Labels {
        BTreeMap::from([
            (labels::INSTANCE.to_string(), self.instance.clone()),
            (labels::SERVICE.to_string(), service.to_string()),
        ])
    }

    fn name(&self, service: &str) -> String {
        format!("{}-{service}", self.instance)
    }

    fn spec(&self, service: &str, script: &str) -> ContainerSpec {
        ContainerSpec {
            env: vec!["GREETING=hello".to_string()],
            labels: self.labels(service),
            network: String::new(),
            // `exec` so the shell does not linger; TERM ends sleeping shells quickly.
            ..plain_spec(
                self.name(service),
                vec!["sh".into(), "-c".into(), script.to_string()],
            )
        }
    }

    async fn network(&self) -> String {
        let name = self.instance.clone();
        self.engine
            .create_network(&name, &self.labels(""))
            .await
            .expect("create network");
        name
    }

    async fn run(&self, spec: &ContainerSpec) -> String {
        let id = self.engine.create_container(spec).await.expect("create");
        self.engine.start_container(&id).await.expect("start");
        id
    }
}

/// A shell that exits promptly on `docker stop` (PID 1 ignores TERM unless trapped).
fn serving(script: &str) -> String {
    format!("trap 'exit 0' TERM; {script} & wait")
}

/// Polls `check` until it yields a value or the deadline passes.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn sh(script: &str) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script.into()]
}

#[tokio::test]
async fn container_lifecycle_create_start_logs_exec_stop_remove() {
    let t = TestEnv::new().await;
    let spec = t.spec(
        "app",
        &serving("echo out-$GREETING; echo err-line >&2; sleep 600"),
    );
    let spec = ContainerSpec {
        restart: "unless-stopped".into(),
        extra_hosts: vec!["envctl-extra-host:10.1.2.3".into()],
        host_access: Default::default(),
        ..spec
    };
    let id = t.engine.create_container(&spec).await.unwrap();

    let created = t.engine.inspect_container(&id).await.unwrap();
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.name, spec.name);
    assert_eq!(created.image, BUSYBOX);
    assert_eq!(
        without_image_labels(&created.labels),
        spec.labels,
        "labels round-trip"
    );

    t.engine.start_container(&id).await.unwrap();
    assert!(t
        .engine
        .inspect_container(&id)
        .await
        .unwrap()
        .state
        .is_running());

    let lines = eventually("both log lines", || async {
        let lines = t.engine.logs(&id, 100).await.unwrap();
        (lines.len() >= 2).then_some(lines)
    })
    .await;
    assert!(lines.contains(&"out-hello".to_string()), "{lines:?}");
    assert!(lines.contains(&"err-line".to_string()), "{lines:?}");
    assert_eq!(t.engine.logs(&id, 1).await.unwrap().len(), 1, "tail");

    let out = t
        .engine
        .exec(&id, &sh("echo exec-$GREETING; echo to-stderr >&2; exit 3"))
        .await
        .unwrap();
    assert_eq!(out.exit_code, 3);
    assert!(out.output.contains("exec-hello"), "{out:?}");
    assert!(out.output.contains("to-stderr"), "{out:?}");

    let hosts = t
        .engine
        .exec(&id, &sh("grep envctl-extra-host /etc/hosts"))
        .await
        .unwrap();
    assert!(hosts.output.contains("10.1.2.3"), "{hosts:?}");

    let found = t.engine.find_container(&spec.name).await.unwrap().unwrap();
    assert_eq!(found.id, id);
    assert!(found.state.is_running());
    assert_eq!(without_image_labels(&found.labels), spec.labels);
    // The engine's name filter matches substrings; ours must not.
    let prefix = &spec.name[..spec.name.len() - 1];
    assert_eq!(t.engine.find_container(prefix).await.unwrap(), None);

    let listed = t
        .engine
        .list_containers(&LabelFilter::instance(&t.instance))
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|c| &c.id).collect::<Vec<_>>(), vec![&id]);

    t.engine
        .stop_container(&id, Duration::from_secs(10))
        .await
        .unwrap();
    let stopped = t.engine.inspect_container(&id).await.unwrap();
    assert_eq!(stopped.state, ContainerState::Exited { code: 0 });
    let listed = t.engine.find_container(&spec.name).await.unwrap().unwrap();
    assert_eq!(listed.state, ContainerState::Exited { code: 0 });

    t.engine.remove_container(&id).await.unwrap();
    assert!(matches!(
        t.engine.inspect_container(&id).await,
        Err(EngineError::NotFound { .. })
    ));
}

#[tokio::test]
async fn wait_returns_the_exit_code_and_follow_logs_ends_with_the_container() {
    let t = TestEnv::new().await;
    let spec = t.spec("job", "echo one; echo two; echo three >&2; exit 7");
    let id = t.engine.create_container(&spec).await.unwrap();
    let mut follow = t.engine.follow_logs(&id, usize::MAX);
    t.engine.start_container(&id).await.unwrap();
    let code = tokio::time::timeout(DEADLINE, t.engine.wait_container(&id))
        .await
        .expect("wait timed out")
        .unwrap();
    assert_eq!(code, 7);
    let mut lines = Vec::new();
    while let Some(line) = tokio::time::timeout(DEADLINE, follow.next())
        .await
        .expect("follow_logs did not end with the container")
    {
        lines.push(line.unwrap());
    }
    lines.sort();
    assert_eq!(lines, vec!["one", "three", "two"]);
    let listed = t.engine.find_container(&spec.name).await.unwrap().unwrap();
    assert_eq!(listed.state, ContainerState::Exited { code: 7 });
}

#[tokio::test]
async fn engine_errors_map_to_not_found_and_conflict() {
    let t = TestEnv::new().await;
    let missing = format!("{}-nothing", t.instance);
    assert!(matches!(
        t.engine.inspect_container(&missing).await,
        Err(EngineError::NotFound { .. })
    ));
    assert!(matches!(
        t.engine.start_container(&missing).await,
        Err(EngineError::NotFound { .. })
    ));
    assert!(matches!(
        t.engine.remove_container(&missing).await,
        Err(EngineError::NotFound { .. })
    ));
    assert_eq!(t.engine.find_container(&missing).await.unwrap(), None);

    let spec = t.spec("dup", "true");
    let id = t.engine.create_container(&spec).await.unwrap();
    match t.engine.exec(&id, &sh("true")).await {
        Err(EngineError::Api { message, .. }) => {
            assert!(message.contains("not running"), "{message}")
        }
        other => panic!("exec in a stopped container must fail plainly, got {other:?}"),
    }
    assert!(matches!(
        t.engine.create_container(&spec).await,
        Err(EngineError::Conflict { .. })
    ));

    t.network().await;
    assert!(matches!(
        t.engine.create_network(&t.instance, &t.labels("")).await,
        Err(EngineError::Conflict { .. })
    ));

    let mut no_image = t.spec("noimage", "true");
    no_image.image = "envctl-test/does-not-exist:1".into();
    match t.engine.create_container(&no_image).await {
        Err(EngineError::NotFound { what }) => assert!(what.contains("does-not-exist"), "{what}"),
        other => panic!("expected NotFound for a missing image, got {other:?}"),
    }
    assert!(!t
        .engine
        .image_exists("envctl-test/does-not-exist:1")
        .await
        .unwrap());
}

#[tokio::test]
async fn services_resolve_each_other_by_name_and_alias_on_their_network() {
    let t = TestEnv::new().await;
    let network = t.network().await;
    let listed = t
        .engine
        .list_networks(&LabelFilter::instance(&t.instance))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, network);
    assert_eq!(
        listed[0].labels.get(labels::INSTANCE),
        Some(&t.instance),
        "network labels round-trip"
    );
    assert_eq!(
        t.engine.find_network(&network).await.unwrap().unwrap().id,
        listed[0].id
    );

    let mut server = t.spec(
        "server",
        &serving(
            "mkdir -p /www && echo served-by-server > /www/index.html && httpd -f -p 8080 -h /www",
        ),
    );
    server.network = network.clone();
    server.aliases = vec!["server".into(), "db-alias".into()];
    let server_id = t.run(&server).await;
    let mut client = t.spec("client", &serving("sleep 600"));
    client.network = network.clone();
    client.aliases = vec!["client".into()];
    let client_id = t.run(&client).await;

    for host in ["server", "db-alias"] {
        let url = format!("http://{host}:8080/");
        let out = eventually(&format!("{url} from the client"), || async {
            let out = t
                .engine
                .exec(&client_id, &["wget".into(), "-qO-".into(), url.clone()])
                .await
                .unwrap();
            (out.exit_code == 0).then_some(out.output)
        })
        .await;
        assert_eq!(out.trim(), "served-by-server");
    }
    let observed = t.engine.inspect_container(&server_id).await.unwrap();
    assert!(observed.ips.contains_key(&network), "{:?}", observed.ips);
}

#[tokio::test]
async fn published_ports_are_reachable_on_loopback() {
    let t = TestEnv::new().await;
    // A pinned host port (taken from the OS, then released) and one the engine picks.
    let pinned = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut spec = t.spec(
        "web",
        &serving("mkdir -p /www && echo hello-port > /www/index.html && httpd -f -p 80 -h /www"),
    );
    spec.ports = vec![
        PublishedPort {
            container: 80,
            host: pinned,
            protocol: Protocol::Tcp,
        },
        PublishedPort {
            container: 81,
            host: 0,
            protocol: Protocol::Tcp,
        },
    ];
    let id = t.run(&spec).await;
    let observed = t.engine.inspect_container(&id).await.unwrap();
    assert!(
        observed.ports.contains(&PublishedPort {
            container: 80,
            host: pinned,
            protocol: Protocol::Tcp
        }),
        "{:?}",
        observed.ports
    );
    assert!(
        observed
            .ports
            .iter()
            .any(|p| p.container == 81 && p.host != 0),
        "{:?}",
        observed.ports
    );
    let summary = t.engine.find_container(&spec.name).await.unwrap().unwrap();
    assert_eq!(summary.ports, observed.ports, "list and inspect agree");

    let body = eventually("the page on the published port", || async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", pinned))
            .await
            .ok()?;
        stream
            .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        response.contains("hello-port").then_some(response)
    })
    .await;
    assert!(body.starts_with("HTTP/1."), "{body}");
}

#[tokio::test]
async fn events_stream_sees_create_and_start_of_labelled_containers() {
    let t = TestEnv::new().await;
    let mut events = t
        .engine
        .container_events(&LabelFilter::instance(&t.instance));
    let id = t.run(&t.spec("evented", &serving("sleep 600"))).await;
    let mut seen = Vec::new();
    while !(seen.contains(&"create".to_string()) && seen.contains(&"start".to_string())) {
        let event = tokio::time::timeout(DEADLINE, events.next())
            .await
            .unwrap_or_else(|_| panic!("no create+start events, saw {seen:?}"))
            .expect("events stream ended")
            .unwrap();
        assert_eq!(event.container_id, id);
        assert_eq!(event.labels.get(labels::INSTANCE), Some(&t.instance));
        assert!(!event.labels.contains_key("name"), "{:?}", event.labels);
        seen.push(event.action);
    }
}

#[tokio::test]
async fn volumes_are_labelled_mounted_and_removed() {
    let t = TestEnv::new().await;
    let volume = format!("{}-data", t.instance);
    t.engine
        .create_volume(&volume, &t.labels("data"))
        .await
        .unwrap();
    let listed = t
        .engine
        .list_volumes(&LabelFilter::instance(&t.instance))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, volume);
    assert_eq!(listed[0].labels.get(labels::SERVICE).unwrap(), "data");

    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(host_dir.path().join("conf.txt"), "from-host").unwrap();
    let mut writer = t.spec(
        "writer",
        "echo persisted > /data/file && cat /conf/conf.txt && ! touch /conf/other 2>/dev/null",
    );
    writer.memory_bytes = Some(64 * 1024 * 1024);
    writer.nano_cpus = Some(500_000_000);
    writer.mounts = vec![
        Mount {
            kind: MountKind::Volume,
            source: volume.clone(),
            target: "/data".into(),
            read_only: false,
        },
        Mount {
            kind: MountKind::Bind,
            source: host_dir.path().display().to_string(),
            target: "/conf".into(),
            read_only: true,
        },
    ];
    let id = t.run(&writer).await;
    assert_eq!(
        t.engine.wait_container(&id).await.unwrap(),
        0,
        "{:?}",
        t.engine.logs(&id, 10).await
    );
    assert_eq!(t.engine.logs(&id, 10).await.unwrap(), vec!["from-host"]);

    let mut reader = t.spec("reader", "cat /data/file");
    reader.mounts = vec![writer.mounts[0].clone()];
    let reader_id = t.run(&reader).await;
    assert_eq!(t.engine.wait_container(&reader_id).await.unwrap(), 0);
    assert_eq!(
        t.engine.logs(&reader_id, 10).await.unwrap(),
        vec!["persisted"]
    );

    t.engine.remove_container(&id).await.unwrap();
    t.engine.remove_container(&reader_id).await.unwrap();
    t.engine.remove_volume(&volume).await.unwrap();
    assert!(t
        .engine
        .list_volumes(&LabelFilter::instance(&t.instance))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn images_build_through_the_api_and_failures_carry_the_message() {
    let mut t = TestEnv::new().await;
    let tag = format!("envctl-test/{}:built", t.instance);
    t.guard.images.push(tag.clone());
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("payload.txt"), "from-context\n").unwrap();
    std::fs::write(
        context.path().join("Custom.Dockerfile"),
        format!("FROM {BUSYBOX}\nARG WHO\nCOPY payload.txt /payload.txt\nRUN echo built-for-$WHO > /who\n"),
    )
    .unwrap();
    let lines = std::sync::Mutex::new(Vec::new());
    let sink = |p: ImageProgress| {
        if let ImageProgress::Line(line) = p {
            lines.lock().unwrap().push(line);
        }
    };
    let req = BuildRequest {
        tag: tag.clone(),
        context: context.path().to_path_buf(),
        dockerfile: "Custom.Dockerfile".into(),
        args: BTreeMap::from([("WHO".to_string(), "tests".to_string())]),
        labels: t.labels("built"),
    };
    t.engine.build_image(&req, &sink).await.unwrap();
    assert!(
        lines.lock().unwrap().iter().any(|l| l.contains("Step")),
        "{:?}",
        lines.lock().unwrap()
    );
    assert!(t.engine.image_exists(&tag).await.unwrap());

    let mut spec = t.spec("built", "cat /payload.txt /who");
    spec.image = tag.clone();
    let id = t.run(&spec).await;
    assert_eq!(t.engine.wait_container(&id).await.unwrap(), 0);
    assert_eq!(
        t.engine.logs(&id, 10).await.unwrap(),
        vec!["from-context", "built-for-tests"]
    );

    std::fs::write(
        context.path().join("Dockerfile"),
        format!(
            "FROM {BUSYBOX}\nRUN echo about-to-fail-{} && exit 3\n",
            t.instance
        ),
    )
    .unwrap();
    let failing = BuildRequest {
        tag: format!("envctl-test/{}:broken", t.instance),
        dockerfile: "Dockerfile".into(),
        ..req
    };
    t.guard.images.push(failing.tag.clone());
    match t.engine.build_image(&failing, &|_| {}).await {
        Err(EngineError::Build { image, reason }) => {
            assert_eq!(image, failing.tag);
            assert!(reason.contains("returned a non-zero code: 3"), "{reason}");
        }
        other => panic!("expected a build failure, got {other:?}"),
    }
    // The failed step's container is not left behind on the engine.
    let out = std::process::Command::new("docker")
        .args(["ps", "-a", "--no-trunc", "--format", "{{.Command}}"])
        .output()
        .expect("docker ps");
    let listed = String::from_utf8_lossy(&out.stdout);
    let marker = format!("about-to-fail-{}", t.instance);
    assert!(!listed.contains(&marker), "left behind: {listed}");
}

#[tokio::test]
async fn pulling_from_an_unreachable_registry_is_a_pull_error() {
    let t = TestEnv::new().await;
    // Port 1 on loopback: nothing listens, so the pull fails fast without leaving the host.
    let image = "127.0.0.1:1/envctl/nothing:1";
    match t.engine.pull_image(image, &|_| {}).await {
        Err(EngineError::Pull { image: got, reason }) => {
            assert_eq!(got, image);
            assert!(!reason.is_empty());
        }
        other => panic!("expected a pull error, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_reports_a_missing_socket_clearly() {
    // DOCKER_HOST is process-wide; run the probe in a child process so other tests are unaffected.
    if std::env::var("ENVCTL_TEST_MISSING_SOCKET").is_ok() {
        let err = DockerEngine::connect().await.unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, EngineError::Unreachable { .. }), "{text}");
        assert!(text.contains("start the engine"), "{text}");
        return;
    }
    // The test's full name in the harness: its module path without the crate's name.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = format!("{module}::connect_reports_a_missing_socket_clearly");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture"])
        .env("ENVCTL_TEST_MISSING_SOCKET", "1")
        .env("DOCKER_HOST", "unix:///nonexistent/envctl/docker.sock")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A filter that matched nothing also succeeds: the child must have run exactly this test.
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
}

#[tokio::test]
async fn pulls_from_a_local_registry_report_layer_progress() {
    let mut t = TestEnv::new().await;
    let registry = LocalRegistry::start();
    let image = format!("127.0.0.1:{}/envctl-test/{}:1", registry.port, t.instance);
    t.guard.images.push(image.clone());
    // An image with a layer of its own, so the pull really downloads something.
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {BUSYBOX}\nRUN head -c 200000 /dev/urandom > /noise\n"),
    )
    .unwrap();
    let build = BuildRequest {
        tag: image.clone(),
        context: context.path().to_path_buf(),
        dockerfile: "Dockerfile".into(),
        args: BTreeMap::new(),
        labels: t.labels("pulled"),
    };
    t.engine.build_image(&build, &|_| {}).await.unwrap();
    // Seed the registry with the CLI (envctl itself never pushes), then forget the local copy.
    docker_cli_ok(&["push", &image]);
    docker_cli_ok(&["image", "rm", &image]);
    assert!(!t.engine.image_exists(&image).await.unwrap());

    let events = std::sync::Mutex::new(Vec::new());
    t.engine
        .pull_image(&image, &|p| events.lock().unwrap().push(p))
        .await
        .unwrap();
    assert!(t.engine.image_exists(&image).await.unwrap());
    let events = events.into_inner().unwrap();
    let layers: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ImageProgress::Layer { id, status, .. } if !id.is_empty() && id != "1" => {
                Some(status.as_str())
            }
            _ => None,
        })
        .collect();
    assert!(
        layers.contains(&"Pull complete"),
        "no completed layer in {events:?}"
    );
    assert!(
        layers.contains(&"Already exists"),
        "the base layer should be local: {events:?}"
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            ImageProgress::Layer { status, total: Some(total), .. }
                if status == "Downloading" && *total > 0
        )),
        "no byte progress in {events:?}"
    );
}

/// A container's labels less those Docker copies from its image (envctl/* images carry their
/// source hash, `images/lib.sh`).
fn without_image_labels(labels: &Labels) -> Labels {
    let mut labels = labels.clone();
    labels.remove("io.envctl.source-hash");
    labels
}

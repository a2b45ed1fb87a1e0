//! envctl against a remote engine (a second, real dockerd in its own network namespace,
//! `tests/support/remote.rs`): probes, `ports`, `endpoints` and Dubbo registrations use the
//! engine host's address; host ports are chosen from what that engine publishes.

use crate::support;

use std::path::Path;
use std::process::Output;

use support::{assert_ok, remote, text};

const WEB: &str = r#"
services:
  web:
    image: envctl/nginx:1.22
    ports: [80]
    healthcheck: { http: { port: 80 }, interval: 200ms, retries: 100 }
"#;

/// An environment on the remote engine; `down` and a label sweep on drop.
struct Remote {
    dir: tempfile::TempDir,
    env: String,
}

impl Remote {
    fn new(prefix: &str, definition: &str) -> Self {
        let env = support::unique_name(prefix);
        let dir = support::definition_dir(&env, definition);
        Self { dir, env }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn envctl(&self, args: &[&str]) -> Output {
        remote::envctl(self.path(), args).output().unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.envctl(args);
        assert_ok(&out);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        let out = self.envctl(&["down", &self.env, "--all-features", "--force"]);
        support::check_cleanup(&format!("down {} on the remote engine", self.env), &out);
        remote::sweep(&self.env);
    }
}

#[test]
fn up_is_ready_through_the_remote_address_and_reports_it() {
    let host = remote::host();
    let fx = Remote::new("rweb", WEB);
    let out = fx.envctl(&["up", &fx.env]);
    assert_ok(&out);
    // The probe dialled the engine host: loopback has nothing listening on that port.
    let ports = fx.json(&["ports", &fx.env, "--output", "json"]);
    let row = &ports[0];
    let port = row["host_port"].as_u64().unwrap();
    assert_eq!(row["address"], format!("{host}:{port}"), "{ports}");
    let (status, _) = support::protocols::http_get_at(host, port as u16, "/").unwrap();
    assert_eq!(status, 200);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port as u16)).is_err(),
        "port {port} must not be published on this machine"
    );
    // Nothing of it is on the local engine.
    let label = format!("label=io.envctl.env={}", fx.env);
    let local = support::docker_stdout(&["ps", "-aq", "--filter", &label]).unwrap();
    assert_eq!(local, "", "containers on the local engine");

    let endpoints = text(&fx.envctl(&["endpoints", &fx.env]).stdout);
    assert!(
        endpoints.contains(&format!("advertised as {host}"))
            && endpoints.contains(&format!("-> {host}:{port}")),
        "{endpoints}"
    );
    let ls = fx.json(&["ls", "--output", "json"]);
    let mine = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == fx.env.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("not listed: {ls}"));
    assert_eq!(
        mine["engine"],
        format!("{} (from DOCKER_HOST)", remote::engine()),
        "{mine}"
    );
    let status = fx.json(&["status", &fx.env, "--output", "json"]);
    assert_eq!(status["engine"], mine["engine"]);
    assert_eq!(status["services"][0]["ready"], true, "{status}");
}

const DUBBO: &str = r#"
services:
  zookeeper:
    template: zookeeper
  greeter:
    template: dubbo-provider
    with: { interface: "org.envctl.remote.Greeter" }
    depends_on: { zookeeper: healthy }
"#;

#[tokio::test]
async fn a_provider_registers_the_server_address_and_a_host_caller_reaches_it() {
    use envctl::dubbo::{providers, Layout};
    use envctl::zookeeper::Session;

    let host = remote::host();
    let fx = Remote::new("rdub", DUBBO);
    assert_ok(&fx.envctl(&["up", &fx.env]));
    let endpoints = fx.json(&["endpoints", &fx.env, "--output", "json"]);
    let registry: std::net::SocketAddr = endpoints["registry"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no registry: {endpoints}"));
    assert_eq!(registry.ip().to_string(), host, "{endpoints}");

    let mut session = Session::connect(registry, std::time::Duration::from_secs(5))
        .await
        .unwrap();
    let found = providers(
        &mut session,
        &Layout::default(),
        "org.envctl.remote.Greeter",
    )
    .await
    .unwrap();
    session.close().await;
    assert_eq!(found.registrations.len(), 1, "{found:?}");
    let registered = &found.registrations[0];
    assert_eq!(registered.host, host);

    // A caller on this machine, through what ZooKeeper says.
    let reply = support::dubbo_call_from_host(
        &format!("{}-caller", fx.env),
        &registered.address(),
        "org.envctl.remote.Greeter",
        "team",
    );
    assert_eq!(reply["reply"]["message"], "Hello, team", "{reply}");
}

#[test]
fn host_ports_skip_what_the_remote_engine_already_publishes() {
    // A container that is not envctl's holds a port on the server; locally that port is free,
    // so only the engine's own port bindings can tell.
    let blocker = support::unique_name("rblock");
    let listed = remote::docker_stdout(&[
        "run",
        "-d",
        "--name",
        &blocker,
        "-p",
        "0:80",
        "envctl/nginx:1.22",
    ]);
    let _guard = RemoveContainer(blocker.clone());
    listed.unwrap();
    let held: u16 = remote::docker_stdout(&["port", &blocker, "80/tcp"])
        .unwrap()
        .lines()
        .next()
        .and_then(|l| l.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .expect("published port");

    let fx = Remote::new("rport", WEB);
    let only_held = format!("{held}-{held}");
    let out = remote::envctl(fx.path(), &["up", &fx.env])
        .env("ENVCTL_PORT_RANGE", &only_held)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&only_held), "{stderr}");
    // Refused while planning: nothing was created to fail at start.
    let label = format!("label=io.envctl.env={}", fx.env);
    let made = remote::docker_stdout(&["ps", "-aq", "--filter", &label]).unwrap();
    assert_eq!(made, "", "{stderr}");

    let two = format!("{held}-{}", held + 1);
    let out = remote::envctl(fx.path(), &["up", &fx.env])
        .env("ENVCTL_PORT_RANGE", &two)
        .output()
        .unwrap();
    assert_ok(&out);
    let ports = fx.json(&["ports", &fx.env, "--output", "json"]);
    assert_eq!(ports[0]["host_port"], held + 1, "{ports}");
}

/// Removes a scaffolding container from the remote engine.
struct RemoveContainer(String);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        let _ = remote::docker_stdout(&["rm", "-f", &self.0]);
    }
}

#[test]
fn owners_are_recorded_listed_and_guard_down() {
    let fx = Remote::new("rown", WEB);
    let as_owner = |owner: &str, args: &[&str]| {
        remote::envctl(fx.path(), args)
            .env("ENVCTL_OWNER", owner)
            .output()
            .unwrap()
    };
    assert_ok(&as_owner("alice@laptop-a", &["up", &fx.env]));
    let listed = |owner: &str, args: &[&str]| -> Vec<serde_json::Value> {
        let out = as_owner(owner, args);
        assert_ok(&out);
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .filter(|i| i["instance"] == fx.env.as_str())
            .cloned()
            .collect()
    };
    let all = listed("bob@laptop-b", &["ls", "--output", "json"]);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["owner"], "alice@laptop-a");
    assert!(listed("bob@laptop-b", &["ls", "--mine", "--output", "json"]).is_empty());
    assert_eq!(
        listed("alice@laptop-a", &["ls", "--mine", "--output", "json"]).len(),
        1
    );
    let table = text(&as_owner("bob@laptop-b", &["ls"]).stdout);
    assert!(
        table.contains("OWNER") && table.contains("alice@laptop-a"),
        "{table}"
    );

    // Bob's down is refused, names Alice, and removes nothing.
    let out = as_owner("bob@laptop-b", &["down", &fx.env]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("instance {} belongs to alice@laptop-a", fx.env))
            && stderr.contains("--force"),
        "{stderr}"
    );
    let label = format!("label=io.envctl.env={}", fx.env);
    let left = remote::docker_stdout(&["ps", "-q", "--filter", &label]).unwrap();
    assert_eq!(left.lines().count(), 1, "the instance must be untouched");
    assert_ok(&as_owner("bob@laptop-b", &["down", &fx.env, "--force"]));
    let left = remote::docker_stdout(&["ps", "-aq", "--filter", &label]).unwrap();
    assert_eq!(left, "");
}

#[test]
fn two_machines_upping_one_instance_take_turns() {
    let fx = Remote::new("rlock", WEB);
    // Two "machines": their own file-lock directories and owners, one engine.
    let spawn = |who: &str| {
        let locks = fx.path().join(format!("locks-{who}"));
        remote::envctl(fx.path(), &["up", &fx.env])
            .env("ENVCTL_OWNER", format!("{who}@machine-{who}"))
            .env("ENVCTL_LOCK_DIR", locks)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("a"), spawn("b"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_ok(&a);
    assert_ok(&b);
    let (a_err, b_err) = (text(&a.stderr), text(&b.stderr));
    let waited = |stderr: &str, other: &str| {
        stderr.contains(&format!("waiting for instance {}", fx.env))
            && stderr.contains(&format!("{other}@machine-{other}"))
    };
    assert!(
        waited(&a_err, "b") ^ waited(&b_err, "a"),
        "exactly one must wait for the other:\na: {a_err}\nb: {b_err}"
    );
    let label = format!("label=io.envctl.env={}", fx.env);
    let running = remote::docker_stdout(&["ps", "-q", "--filter", &label]).unwrap();
    assert_eq!(running.lines().count(), 1, "one converged instance");
    // Both released the lock: nothing of it is left on the engine.
    let lock = format!("label=io.envctl.lock={}", fx.env);
    let locks = remote::docker_stdout(&["volume", "ls", "-q", "--filter", &lock]).unwrap();
    assert_eq!(locks, "");
}

/// `a` becomes healthy a few seconds after it starts, so `up` is still at work (waiting to
/// start `b`) when the link drops.
const SLOW: &str = r#"
services:
  a:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "sleep 3; touch /tmp/ok; exec sleep 86400"]
    healthcheck: { cmd: ["test", "-f", "/tmp/ok"], interval: 200ms, retries: 200 }
  b:
    image: envctl/busybox:1.35
    command: ["sleep", "86400"]
    depends_on: { a: healthy }
"#;

#[test]
fn a_link_dropped_mid_up_leaves_a_state_the_next_up_converges() {
    let fx = Remote::new("rcut", SLOW);
    let relay = remote::Relay::start();
    let began = std::time::Instant::now();
    let child = remote::envctl(fx.path(), &["up", &fx.env])
        .env("DOCKER_HOST", &relay.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Cut once `a` exists on the server: `up` is then waiting for it to become healthy.
    let a = format!("{}-a", fx.env);
    let deadline = began + std::time::Duration::from_secs(60);
    while remote::docker_stdout(&["ps", "-aq", "--filter", &format!("name=^{a}$")])
        .unwrap()
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "{a} never appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    relay.cut();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot reach the Docker engine"),
        "{stderr}"
    );
    assert!(
        began.elapsed() < std::time::Duration::from_secs(60),
        "up hung after the link dropped"
    );
    // Containers are created early; b must not have been started.
    let b = format!("{}-b", fx.env);
    let started = remote::docker_stdout(&["ps", "-q", "--filter", &format!("name=^{b}$")]);
    assert_eq!(started.unwrap(), "", "b must not run yet: {stderr}");

    // Over a working link the next up converges, and then nothing is left to do.
    assert_ok(&fx.envctl(&["up", &fx.env]));
    let plan = fx.envctl(&["plan", &fx.env]);
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stdout));
    let label = format!("label=io.envctl.env={}", fx.env);
    let running = remote::docker_stdout(&["ps", "-q", "--filter", &label]).unwrap();
    assert_eq!(running.lines().count(), 2);
}

#[test]
fn a_local_service_is_reached_from_the_servers_containers() {
    // The `--local` service is this test: a listener on this machine.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let definition = format!(
        r#"
services:
  ide:
    image: envctl/busybox:1.35
    command: ["sleep", "86400"]
    ports: [{port}]
  caller:
    image: envctl/busybox:1.35
    command: ["sleep", "86400"]
    healthcheck: {{ cmd: ["sh", "-c", "echo hi | nc -w 2 ide {port}"], interval: 200ms, retries: 100 }}
"#
    );
    let fx = Remote::new("rloc", &definition);
    let accepted = std::thread::spawn(move || listener.accept().map(|(_, from)| from.ip()));
    let out = fx.envctl(&["up", &fx.env, "--local", "ide"]);
    assert_ok(&out);
    let from = accepted.join().unwrap().unwrap();
    // The server's containers came in through the server (its address on the shared link).
    assert_eq!(from.to_string(), remote::host(), "{}", text(&out.stdout));
}

#[test]
fn gc_leaves_someone_elses_expired_instance_without_force() {
    let fx = Remote::new("rgc", WEB);
    let as_owner = |owner: &str, args: &[&str]| {
        remote::envctl(fx.path(), args)
            .env("ENVCTL_OWNER", owner)
            .output()
            .unwrap()
    };
    assert_ok(&as_owner("alice@laptop-a", &["up", &fx.env, "--ttl", "1s"]));
    let gc = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["gc", "--instance", fx.env.as_str(), "--output", "json"];
        all.extend(args);
        let out = as_owner("bob@laptop-b", &all);
        assert_ok(&out);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Wait (bounded) until the lifetime has passed: gc then lists the instance.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let skipped = loop {
        let found = gc(&[]);
        if !found["instances"].as_array().unwrap().is_empty() {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never expired: {found}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let entry = &skipped["instances"][0];
    assert_eq!(entry["result"], "skipped", "{skipped}");
    assert!(
        entry["reason"]
            .as_str()
            .is_some_and(|r| r.contains("belongs to alice@laptop-a")),
        "{skipped}"
    );
    let label = format!("label=io.envctl.env={}", fx.env);
    let left = remote::docker_stdout(&["ps", "-q", "--filter", &label]).unwrap();
    assert_eq!(left.lines().count(), 1, "gc must leave it");
    let forced = gc(&["--force"]);
    assert_eq!(forced["instances"][0]["result"], "removed", "{forced}");
    let left = remote::docker_stdout(&["ps", "-aq", "--filter", &label]).unwrap();
    assert_eq!(left, "");
}

const SLEEPER: &str = r#"
services:
  box:
    image: envctl/busybox:1.35
    command: ["sleep", "86400"]
"#;

#[test]
fn tls_with_the_engines_ca_works_and_a_wrong_ca_is_refused() {
    let (url, certs) = remote::tls();
    let fx = Remote::new("rtls", SLEEPER);
    let over_tls = |cert_path: &Path, args: &[&str]| {
        remote::envctl(fx.path(), args)
            .env("DOCKER_HOST", &url)
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", cert_path)
            .output()
            .unwrap()
    };
    let label = format!("label=io.envctl.env={}", fx.env);

    // A CA that did not sign the engine's certificate: refused, saying so, nothing created.
    let wrong = tempfile::tempdir().unwrap();
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=not-the-engines-ca", "-keyout"])
        .arg(wrong.path().join("ca-key.pem"))
        .arg("-out")
        .arg(wrong.path().join("ca.pem"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    for file in ["cert.pem", "key.pem"] {
        std::fs::copy(certs.join(file), wrong.path().join(file)).unwrap();
    }
    let out = over_tls(wrong.path(), &["up", &fx.env]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("{url} (TLS)"))
            && stderr.contains("TLS certificate is not one the CA in DOCKER_CERT_PATH")
            && stderr.lines().count() <= 3,
        "{stderr}"
    );
    assert_eq!(
        remote::docker_stdout(&["ps", "-aq", "--filter", &label]).unwrap(),
        ""
    );

    // The engine's own CA and a client certificate it signed: up and ls work over TLS.
    assert_ok(&over_tls(&certs, &["up", &fx.env]));
    let engine = format!("{url} (TLS) (from DOCKER_HOST)");
    let ls = over_tls(&certs, &["ls", "--output", "json"]);
    assert_ok(&ls);
    let listed: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let mine = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == fx.env.as_str());
    assert_eq!(
        mine.map(|i| &i["engine"]),
        Some(&engine.clone().into()),
        "{listed}"
    );
    let status = over_tls(&certs, &["status", &fx.env, "--output", "json"]);
    assert_ok(&status);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["engine"], engine, "{status}");
    assert_eq!(status["services"][0]["ready"], true, "{status}");
    let running = remote::docker_stdout(&["ps", "-q", "--filter", &label]).unwrap();
    assert_eq!(running.lines().count(), 1);
}

#[test]
fn a_local_provider_registers_this_machines_address_as_the_server_dials_it() {
    // The `--local` provider is this test: a listener on this machine, on the provider's port.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let definition = format!(
        r#"
services:
  zookeeper:
    template: zookeeper
  greeter:
    template: dubbo-provider
    with: {{ interface: "org.envctl.remote.Local", port: {port} }}
    depends_on: {{ zookeeper: healthy }}
"#
    );
    let fx = Remote::new("rlocdub", &definition);
    let out = fx.envctl(&["up", &fx.env, "--local", "greeter", "--output", "json"]);
    assert_ok(&out);
    let stdout = text(&out.stdout);
    let report: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a result line")).unwrap();
    let env = &report["local"][0]["env"];
    // Its neighbours are on the server; it registers this machine, not the server.
    let registered = env["DUBBO_IP_TO_REGISTRY"].as_str().unwrap_or_default();
    assert_ne!(registered, remote::host(), "{env}");
    assert_eq!(env["DUBBO_PORT_TO_REGISTRY"], port.to_string(), "{env}");
    let zookeeper = env["DUBBO_REGISTRY_ADDRESS"].as_str().unwrap_or_default();
    assert!(
        zookeeper.starts_with(&format!("zookeeper://{}:", remote::host())),
        "{env}"
    );
    // A consumer on the server dials what would be registered and reaches this machine: the
    // listener answers its first caller, so the caller's output proves the round trip.
    let answer = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("a caller");
        std::io::Write::write_all(&mut conn, b"here is this machine\n").unwrap();
    });
    let caller = support::unique_name("rlocdubcall");
    let _guard = RemoveContainer(caller.clone());
    let called = remote::docker(&[
        "run",
        "--name",
        &caller,
        "envctl/busybox:1.35",
        "sh",
        "-c",
        // nc quits when its stdin ends: a FIFO opened read-write never ends, so it reads
        // until this machine closes the connection.
        &format!("mkfifo /idle && nc -w 5 {registered} {port} <>/idle"),
    ]);
    assert!(called.status.success(), "{}", text(&called.stderr));
    assert_eq!(text(&called.stdout).trim(), "here is this machine");
    answer.join().unwrap();
}

/// Removes a test's image from this machine's engine and the remote one, pass or fail (after
/// the instance: declare it first, so it drops last).
struct RemoveImage(String);

impl Drop for RemoveImage {
    fn drop(&mut self) {
        let here = support::docker_cli(&["image", "rm", "-f", &self.0]);
        support::check_cleanup(&format!("image {} on this machine", self.0), &here);
        let there = remote::docker(&["image", "rm", "-f", &self.0]);
        support::check_cleanup(&format!("image {} on the remote engine", self.0), &there);
    }
}

/// The JSON events of an `up --output json` (every stdout line is one; the report is last).
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The image's ID on this machine's engine, or on the remote one.
fn image_id(image: &str, remote_engine: bool) -> Result<String, String> {
    let args = ["image", "inspect", "-f", "{{.Id}}", image];
    if remote_engine {
        remote::docker_stdout(&args)
    } else {
        support::docker_stdout(&args)
    }
}

/// Issue 14: a team without a registry builds images on their own machines; `up` against the
/// server copies what it lacks from this machine's engine, with progress in bytes, once.
#[test]
fn an_image_only_this_machine_has_is_copied_to_the_engine_with_progress() {
    // Named on an unreachable loopback registry: were it ever pulled, it fails here at once.
    let image = format!(
        "127.0.0.1:1/envctl-test/{}:1",
        support::unique_name("rcopyimg")
    );
    // `pull: never` forbids a pull, not a copy.
    let never = format!("{image}-never");
    let _images = [RemoveImage(image.clone()), RemoveImage(never.clone())];
    let fx = Remote::new(
        "rcopy",
        &format!(
            "services:\n  app:\n    image: \"{image}\"\n    healthcheck: {{ cmd: [\"test\", \"-f\", \"/noise\"], interval: 200ms, retries: 100 }}\n  never:\n    image: \"{never}\"\n    pull: never\n"
        ),
    );
    for (tag, dir) in [(&image, "image"), (&never, "never")] {
        support::build_image(
            &fx.path().join(dir),
            tag,
            &format!(
                "FROM {}\nRUN head -c 8000000 /dev/urandom > /noise\nCMD [\"sleep\", \"86400\"]\n",
                support::BUSYBOX
            ),
        );
    }
    let here = image_id(&image, false).unwrap();
    let size: u64 = support::docker_stdout(&["image", "inspect", "-f", "{{.Size}}", &image])
        .unwrap()
        .parse()
        .unwrap();
    assert!(image_id(&image, true).is_err(), "the server has it already");

    let out = fx.envctl(&["up", &fx.env, "--output", "json"]);
    assert_ok(&out);
    let events = json_lines(&out);
    let copying: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["service"] == "app" && e["phase"] == "copying")
        .collect();
    let last = copying
        .last()
        .unwrap_or_else(|| panic!("no copy progress: {events:#?}"));
    assert_eq!(last["image"], image.as_str(), "{last}");
    let (sent, total) = (
        last["sent"].as_u64().unwrap(),
        last["total"].as_u64().unwrap(),
    );
    // The archive carries the whole image (a little more: tar headers, its config).
    assert!(
        sent == total && sent >= size,
        "{sent}/{total} of {size}: {events:#?}"
    );
    assert_eq!(copying[0]["sent"], 0, "{events:#?}");
    assert_eq!(
        image_id(&image, true).unwrap(),
        here,
        "the same image on the server"
    );
    assert_eq!(image_id(&never, true), image_id(&never, false));
    let status = fx.json(&["status", &fx.env, "--output", "json"]);
    let services = status["services"].as_array().unwrap();
    assert!(
        services.len() == 2 && services.iter().all(|s| s["ready"] == true),
        "{status}"
    );

    // A second up finds it there: nothing is fetched.
    let again = fx.envctl(&["up", &fx.env, "--output", "json"]);
    assert_ok(&again);
    let fetched: Vec<serde_json::Value> = json_lines(&again)
        .into_iter()
        .filter(|e| {
            e["phase"] == "copying"
                || e["phase"] == "pulling"
                || e["reason"]
                    .as_str()
                    .is_some_and(|r| r.contains("for image"))
        })
        .collect();
    assert!(
        fetched.is_empty(),
        "the second up fetched again: {fetched:#?}"
    );
}

/// An image neither the engine nor this machine has, which the engine cannot pull: `up` says
/// so, naming the image, the engine and what to do, and creates nothing on the server.
#[test]
fn an_image_nobody_has_fails_up_clearly_and_creates_nothing() {
    let image = format!(
        "127.0.0.1:1/envctl-test/{}:1",
        support::unique_name("rnoneimg")
    );
    let fx = Remote::new(
        "rnone",
        &format!(
            "services:\n  app:\n    image: \"{image}\"\n  other:\n    image: {}\n    command: [\"sleep\", \"86400\"]\n",
            support::BUSYBOX
        ),
    );
    let out = fx.envctl(&["up", &fx.env]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "image {image} is neither on the engine at {}",
            remote::engine()
        )) && stderr.contains("unix:///var/run/docker.sock: no such image")
            && stderr.contains("build it on the engine")
            && stderr.contains("push it to a registry")
            && stderr.contains("nothing of the instance was created")
            && stderr.lines().count() <= 5,
        "{stderr}"
    );
    let label = format!("label=io.envctl.env={}", fx.env);
    for list in [
        &["ps", "-aq"][..],
        &["network", "ls", "-q"],
        &["volume", "ls", "-q"],
    ] {
        let mut args = list.to_vec();
        args.extend(["--filter", label.as_str()]);
        assert_eq!(
            remote::docker_stdout(&args).unwrap(),
            "",
            "{args:?}: {stderr}"
        );
    }
}

/// An engine reached through this machine's loopback (a tunnel to a server) is not known to be
/// elsewhere before `up` applies, but a missing image is still copied, while `up` applies.
#[test]
fn an_engine_behind_a_loopback_tunnel_gets_copies_too() {
    let image = format!(
        "127.0.0.1:1/envctl-test/{}:1",
        support::unique_name("rtunimg")
    );
    let _image = RemoveImage(image.clone());
    let fx = Remote::new(
        "rtun",
        &format!("services:\n  app:\n    image: \"{image}\"\n"),
    );
    support::build_image(
        &fx.path().join("image"),
        &image,
        &format!(
            "FROM {}\nLABEL io.envctl.test.tunnel={}\nCMD [\"sleep\", \"86400\"]\n",
            support::BUSYBOX,
            fx.env
        ),
    );
    let relay = remote::Relay::start();
    let out = remote::envctl(fx.path(), &["up", &fx.env, "--output", "json"])
        .env("DOCKER_HOST", &relay.url)
        .output()
        .unwrap();
    assert_ok(&out);
    let events = json_lines(&out);
    assert!(
        events
            .iter()
            .any(|e| e["phase"] == "copying" && e["sent"].as_u64() > Some(0)),
        "{events:#?}"
    );
    assert_eq!(image_id(&image, true), image_id(&image, false));
}

/// A link that goes silent mid-copy (nothing reset, nothing moving) fails the copy once nothing
/// has moved for the stall window, instead of hanging; the server does not get the image.
#[tokio::test]
async fn a_copy_over_a_link_gone_silent_fails_instead_of_hanging() {
    use envctl::engine::docker::DockerEngine;
    use envctl::engine::target::{EngineTarget, EngineUrl, TargetSource};
    use envctl::engine::{Engine, ImageProgress};
    use std::time::{Duration, Instant};

    let image = format!(
        "127.0.0.1:1/envctl-test/{}:1",
        support::unique_name("rstallimg")
    );
    let _image = RemoveImage(image.clone());
    let dir = tempfile::tempdir().unwrap();
    // Far larger than socket buffers hold and than a quarter second (the first progress
    // report) moves over the test link, so pausing the link does stop the copy.
    support::build_image(
        &dir.path().join("image"),
        &image,
        &format!(
            "FROM {}\nRUN head -c 128000000 /dev/urandom > /noise\n",
            support::BUSYBOX
        ),
    );
    let relay = remote::Relay::start();
    let (host, port) = relay
        .url
        .trim_start_matches("tcp://")
        .rsplit_once(':')
        .unwrap();
    let target = EngineTarget {
        url: EngineUrl::Tcp {
            host: host.into(),
            port: port.parse().unwrap(),
            tls: None,
        },
        source: TargetSource::Flag,
    };
    let engine = DockerEngine::connect_to(&target)
        .await
        .unwrap()
        .with_image_source(EngineTarget::local())
        .with_stall_window(Duration::from_secs(2));
    // The link goes silent once the first bytes are on their way.
    let pause = relay.pauser();
    let paused_at = std::sync::Mutex::new(None::<Instant>);
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        engine.fetch_image(&image, &|p| {
            if let ImageProgress::Copy { sent, .. } = p {
                let mut at = paused_at.lock().unwrap();
                if sent > 0 && at.is_none() {
                    pause();
                    *at = Some(Instant::now());
                }
            }
        }),
    )
    .await
    .expect("the copy hung on a silent link");
    let paused_at = paused_at
        .lock()
        .unwrap()
        .expect("the copy never reported bytes sent");
    let err = result
        .expect_err("the copy finished through a paused link")
        .to_string();
    assert!(
        err.contains(&format!("copying image {image}: nothing moved for 2s")),
        "{err}"
    );
    assert!(paused_at.elapsed() < Duration::from_secs(20), "{err}");
    drop(relay);
    assert!(
        image_id(&image, true).is_err(),
        "a broken copy left the image"
    );
}

//! Issue 13, envctl's side: `up --feature F --only S` makes an overlay that runs only S (and
//! what only S uses) on the base instance's network and registry, with the overlay labels and
//! the Dubbo tag variables, taking no DNS name from the base; `down` of the base refuses while
//! it has overlays (and `--cascade` removes both); `down` of the overlay leaves the base
//! untouched (engine events). Real engine, the shipped templates and images. It does not rely
//! on the images routing by tag (that lands separately): the tag is checked in the container's
//! environment, and in the registration only when the image writes one.

use crate::support;
use support::{assert_ok, docker_stdout, text, Instance};

use std::time::Duration;

const DEFINITION: &str = r#"
description: issue 13 overlay fixture
services:
  zookeeper:
    template: zookeeper
  payment-db:
    image: envctl/redis:7
  payment:
    template: dubbo-provider
    with: { interface: "org.envctl.overlay.Payment" }
    depends_on: { zookeeper: healthy, payment-db: started }
  order:
    template: dubbo-provider
    with: { interface: "org.envctl.overlay.Order" }
    depends_on: { zookeeper: healthy }
  gateway:
    template: dubbo-consumer
    with: { interface: "org.envctl.overlay.Order" }
    depends_on: { zookeeper: healthy, order: healthy }
"#;

fn overlay_fixture() -> Instance {
    support::ensure_images(&[
        ("envctl/zookeeper:3.8", "zookeeper"),
        ("envctl/redis:7", "redis"),
        (support::DUBBO_IMAGE, "dubbo-python"),
    ]);
    // Providers must register an address the host can dial: the detected one, not loopback.
    Instance::new("ovl", DEFINITION)
        .with_shared_templates()
        .without_var("ENVCTL_ADVERTISE_HOST")
        .with_timeout(Duration::from_secs(300))
}

/// The addresses `name` resolves to inside `container` (Docker's embedded DNS).
fn resolve(container: &str, name: &str) -> Vec<String> {
    let script = format!(
        "import socket\ntry:\n print(' '.join(sorted(socket.gethostbyname_ex('{name}')[2])))\nexcept OSError:\n print('')"
    );
    let out = docker_stdout(&["exec", container, "python3", "-c", &script]).unwrap();
    out.split_whitespace().map(str::to_string).collect()
}

fn ip_of(fx: &Instance, instance: &str, service: &str) -> String {
    let containers = fx.containers(instance);
    let c = &containers[service];
    c.ips.values().next().cloned().unwrap()
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_overlay_runs_only_its_services_on_the_base_and_goes_alone() {
    let mut fx = overlay_fixture();
    let base = fx.env.clone();
    let overlay = fx.instance("pay");
    let only = ["--feature", "pay", "--only", "payment"];

    // No base yet: refused clearly, nothing made.
    let out = fx.run("up", &only);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("base instance `{base}`, which is not up"))
            && err.contains(&format!("envctl up {base}")),
        "{err}"
    );
    assert!(fx.containers(&overlay).is_empty());
    // An unknown service: refused naming the services there are, nothing made.
    let out = fx.run("up", &["--feature", "pay", "--only", "nope"]);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains("--only nope: no such service; services are: gateway, order, payment, payment-db, zookeeper"),
        "{err}"
    );
    assert!(fx.containers(&overlay).is_empty());

    assert_ok(&fx.run("up", &[]));
    let base_before = fx.containers(&base);
    assert_eq!(base_before.len(), 5);
    assert_ok(&fx.run("up", &only));

    // Only payment and its private database; zookeeper (shared) stays the base's.
    let made = fx.containers(&overlay);
    assert_eq!(made.keys().collect::<Vec<_>>(), ["payment", "payment-db"]);
    let network = format!("envctl-{base}");
    for (service, c) in &made {
        assert_eq!(c.name, format!("{overlay}-{service}"));
        assert_eq!(c.ips.keys().collect::<Vec<_>>(), [&network], "{service}");
        assert_eq!(c.labels["io.envctl.base"], base);
        assert_eq!(c.labels["io.envctl.tag"], "pay");
    }
    let payment = format!("{overlay}-payment");
    let env = docker_stdout(&["inspect", "-f", "{{json .Config.Env}}", &payment]).unwrap();
    assert!(
        env.contains("\"DUBBO_PROVIDER_TAG=pay\"") && env.contains("\"DUBBO_CONSUMER_TAG=pay\""),
        "{env}"
    );
    // No network-wide names: the base's `payment` and `payment-db` stay the base's only,
    // while the overlay's payment reaches its own database under the usual name.
    let base_order = format!("{base}-order");
    assert_eq!(
        resolve(&base_order, "payment"),
        [ip_of(&fx, &base, "payment")]
    );
    assert_eq!(
        resolve(&base_order, "payment-db"),
        [ip_of(&fx, &base, "payment-db")]
    );
    assert_eq!(
        resolve(&payment, "payment-db"),
        [ip_of(&fx, &overlay, "payment-db")]
    );
    assert_eq!(
        resolve(&payment, "zookeeper"),
        [ip_of(&fx, &base, "zookeeper")]
    );

    // Registered in the base's ZooKeeper, and shown as the overlay's own provider.
    let found = json(&fx.run("endpoints", &["--feature", "pay", "--output", "json"]));
    let providers = found["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 1, "{found}");
    assert_eq!(providers[0]["service"], "payment");
    assert_eq!(providers[0]["interface"], "org.envctl.overlay.Payment");
    // The tag shows once the image registers `dubbo.tag` (issue 13's image side).
    if let Some(tag) = providers[0].get("tag") {
        assert_eq!(tag, "pay", "{found}");
    }
    // Watching the overlay reads the base's registry too, and shows only its own provider:
    // the first line is it (the base's payment, registered earlier, is not shown).
    let watch = ["--feature", "pay", "--watch", "--output", "json"];
    let (watcher, lines, _err) = fx.spawn("endpoints", &watch);
    fx.children.push(watcher);
    let first = support::child::read_until(&lines, Duration::from_secs(30), |_| true);
    let change: serde_json::Value = serde_json::from_str(&first[0]).unwrap();
    assert_eq!(change["event"], "added", "{change}");
    assert_eq!(change["provider"]["service"], "payment", "{change}");
    let base_found = json(&fx.run("endpoints", &["--output", "json"]));
    let payments = base_found["providers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["interface"] == "org.envctl.overlay.Payment")
        .count();
    assert_eq!(payments, 2, "the base's and the overlay's: {base_found}");

    // Converged; status and ls say what it is.
    let out = fx.run("plan", &only);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(&format!("{overlay} is an overlay on {base} (tag pay)")));
    let status = json(&fx.run("status", &["--feature", "pay", "--output", "json"]));
    assert_eq!(status["overlay"]["base"], base.as_str(), "{status}");
    let ls = json(&fx.envctl(&["ls", "--output", "json"]));
    let listed = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["instance"] == overlay.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (&listed["base"], &listed["tag"]),
        (&base.as_str().into(), &"pay".into())
    );

    // The base refuses to go while the overlay runs on its network; nothing is removed.
    let out = fx.run("down", &[]);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{base} has overlays attached: {overlay}"))
            && err.contains("--cascade"),
        "{err}"
    );
    assert_eq!(fx.containers(&base).len(), 5);
    assert_eq!(fx.containers(&overlay).len(), 2);

    // The overlay goes alone: nothing of the base changes (its network only sees the
    // overlay's containers leave).
    let mut events = support::events::EventWatch::start(&overlay);
    assert_ok(&fx.run("down", &["--feature", "pay"]));
    let touched: Vec<String> = events
        .mark()
        .into_iter()
        .filter(|e| support::events::of_instance(&e.name, &base))
        .filter(|e| !support::events::of_instance(&e.name, &overlay))
        .filter(|e| !(e.kind == "network" && e.action == "disconnect"))
        .filter(|e| !e.action.starts_with("exec_"))
        .map(|e| e.to_string())
        .collect();
    assert!(
        touched.is_empty(),
        "the overlay's down touched the base: {touched:?}"
    );
    assert!(fx.containers(&overlay).is_empty());
    let base_after = fx.containers(&base);
    for (service, c) in &base_before {
        assert_eq!(base_after[service].id, c.id, "{service}");
        assert!(base_after[service].state.is_running(), "{service}");
    }
    assert!(docker_stdout(&["network", "inspect", &network]).is_ok());

    // Again, then the base with --cascade: both go.
    assert_ok(&fx.run("up", &only));
    let out = fx.run("down", &["--cascade"]);
    assert_ok(&out);
    assert!(fx.containers(&overlay).is_empty());
    assert!(fx.containers(&base).is_empty());
    assert!(docker_stdout(&["network", "inspect", &network]).is_err());
}

const PLAIN: &str = r#"
overlay: { services: [b] }
services:
  a:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "exec sleep 3600"]
  b:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "exec sleep 3600"]
"#;

/// `gc ENV --output json` until it reports something (lifetimes of 1 s pass while polling).
fn first_gc(fx: &Instance) -> serde_json::Value {
    let scope = ["gc", fx.env.as_str(), "--output", "json"];
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let listed = json(&fx.envctl(&scope))["instances"].clone();
        if !listed.as_array().unwrap().is_empty() {
            return listed;
        }
        assert!(std::time::Instant::now() < deadline, "nothing expired");
        // Polling the clock, not waiting for an outcome: the lifetime is 1 s.
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn gc_keeps_an_expired_base_while_an_overlay_runs_on_it() {
    let fx = Instance::new("ovg", PLAIN);
    let (base, overlay) = (fx.env.clone(), fx.instance("b2"));
    // Declared form: --only outside `overlay.services` is refused, nothing made.
    assert_ok(&fx.run("up", &["--ttl", "1s"]));
    let out = fx.run("up", &["--feature", "b2", "--only", "a"]);
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "--only a: the definition's `overlay.services` does not list it; a feature may fork: b"
        ),
        "{err}"
    );
    assert!(fx.containers(&overlay).is_empty());
    // --overlay alone forks what is declared.
    assert_ok(&fx.run("up", &["--feature", "b2", "--overlay", "--ttl", "1h"]));
    assert_eq!(fx.containers(&overlay).keys().collect::<Vec<_>>(), ["b"]);

    let swept = first_gc(&fx);
    let entry = &swept[0];
    assert_eq!(entry["instance"], base.as_str(), "{swept}");
    assert_eq!(entry["result"], "skipped", "{swept}");
    let reason = entry["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("overlays attached: {overlay}")),
        "{reason}"
    );
    assert_eq!(fx.containers(&base).len(), 2);
    assert_eq!(fx.containers(&overlay).len(), 1);

    // Once the overlay is gone, the expired base goes.
    assert_ok(&fx.run("down", &["--feature", "b2"]));
    let swept = first_gc(&fx);
    assert_eq!(swept[0]["result"], "removed", "{swept}");
    assert!(fx.containers(&base).is_empty());
}

const SLOW_OVERLAY: &str = r#"
services:
  base-only:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
  slow:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    healthcheck: { cmd: ["test", "-f", "/tmp/go"], interval: 100ms, retries: 100000 }
"#;

#[test]
fn an_overlay_being_made_holds_its_base_against_down() {
    let fx = Instance::new("ovk", SLOW_OVERLAY);
    let base = fx.env.clone();
    // The base's `slow` is made ready at once, so its own up returns.
    let (mut up, out, _err) = fx.spawn("up", &[]);
    support::child::read_until(&out, Duration::from_secs(60), |l| {
        l.contains("] slow: waiting")
    });
    assert_ok(&fx.run("exec", &["slow", "--", "touch", "/tmp/go"]));
    assert!(support::child::wait_exit(&mut up, Duration::from_secs(60)).success());

    // The overlay's up waits for its own `slow` while holding the base's lock (not only its
    // own: the base's down is refused on the base's lock, before it looks at overlays).
    let (mut overlay_up, out, _err) = fx.spawn("up", &["--feature", "x", "--only", "slow"]);
    support::child::read_until(&out, Duration::from_secs(60), |l| {
        l.contains("] slow: waiting")
    });
    let out = fx.run("down", &["--no-wait-lock", "--cascade"]);
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("instance {base} is busy"))
            && stderr.contains(&format!("pid {}", overlay_up.id())),
        "{stderr}"
    );
    assert_eq!(
        fx.containers(&base).len(),
        2,
        "the refused down removed something"
    );

    assert_ok(&fx.run(
        "exec",
        &["--feature", "x", "slow", "--", "touch", "/tmp/go"],
    ));
    assert!(support::child::wait_exit(&mut overlay_up, Duration::from_secs(60)).success());
    assert_ok(&fx.run("down", &["--cascade"]));
    assert!(fx.containers(&fx.instance("x")).is_empty());
}

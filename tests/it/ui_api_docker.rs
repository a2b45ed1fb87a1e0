//! `envctl ui`'s JSON API against the real engine: every endpoint, the actions with their
//! live progress, and the security rules (token, same origin, Host, escaping, secrets).

use crate::support;

use std::time::Duration;

use support::ui::{request, sse, DownOnDrop, UiServer};

/// Redis with a published port and a health check, and a busybox service that waits for it
/// and writes markup to its log. The secret must never appear in any answer.
fn definition() -> String {
    format!(
        r#"
services:
  cache:
    image: envctl/redis:7
    ports: [6379]
    healthcheck: {{ tcp: 6379 }}
  app:
    image: {}
    command: ["sh", "-c", "echo '<script>alert(1)</script>'; exec sleep 3600"]
    env:
      API_KEY: {{ from_env: UI_TEST_SECRET }}
    depends_on: {{ cache: healthy }}
"#,
        support::BUSYBOX
    )
}

const SECRET: &str = "ui-secret-value-4711";

/// The server runs with the secret in its environment, as a developer's shell would have it.
fn start(dir: &std::path::Path, listen: &str) -> UiServer {
    UiServer::start(dir, listen, &[("UI_TEST_SECRET", SECRET)])
}

#[test]
fn every_endpoint_against_the_real_engine() {
    let env = support::unique_name("uiapi");
    let dir = support::definition_dir(&env, &definition());
    let _down = DownOnDrop {
        dir: dir.path(),
        env: env.clone(),
    };
    let ui = start(dir.path(), "127.0.0.1:0");
    let base = format!("/api/instances/{env}");

    let envs = ui.get("/api/environments");
    assert_eq!(envs.status, 200);
    assert!(envs
        .json()
        .as_array()
        .unwrap()
        .contains(&env.clone().into()));
    assert_eq!(ui.get(&base).status, 404, "not up yet");

    // up: answered at once, progress streamed, the outcome at the end.
    let done = ui.act(&format!("{base}/up"), "");
    assert_eq!(done["ok"], true, "{done}");
    let action = ui.get("/api/actions/1").json();
    assert_eq!(action["kind"], "up");
    let phases: Vec<String> = action["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["service"].as_str().unwrap(),
                e["phase"].as_str().unwrap()
            )
        })
        .collect();
    assert!(phases.contains(&"cache ready".to_string()), "{phases:?}");
    assert!(phases.contains(&"app waiting".to_string()), "{phases:?}");

    let list = ui.get("/api/instances").json();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["instance"] == env.as_str())
        .unwrap_or_else(|| panic!("{env} not listed: {list}"));
    assert_eq!(
        (row["ready"].as_u64(), row["total"].as_u64()),
        (Some(2), Some(2))
    );
    let mut listed = false;
    sse(
        ui.port,
        "/api/instances/events",
        Duration::from_secs(30),
        |name, data| {
            listed = name == "instances" && data.contains(&format!("\"instance\":\"{env}\""));
            listed
        },
    );

    let view = ui.get(&base).json();
    let services = view["services"].as_array().unwrap();
    let app = services.iter().find(|s| s["service"] == "app").unwrap();
    let cache = services.iter().find(|s| s["service"] == "cache").unwrap();
    assert_eq!(app["state"], "ready");
    assert_eq!(app["depends_on"], serde_json::json!(["cache"]));
    let port = &cache["ports"][0];
    assert_eq!(port["container_port"], 6379);
    assert_eq!(
        port["address"],
        format!("127.0.0.1:{}", port["host_port"].as_u64().unwrap())
    );
    sse(
        ui.port,
        &format!("{base}/events"),
        Duration::from_secs(30),
        |name, data| name == "instance" && data.contains("\"state\":\"ready\""),
    );

    let plan = ui.get(&format!("{base}/plan")).json();
    assert_eq!(plan["converged"], true, "{plan}");
    let endpoints = ui.get(&format!("{base}/endpoints")).json();
    assert_eq!(endpoints["ports"][0]["service"], "cache", "{endpoints}");

    // Logs are JSON strings: markup arrives as data, for the page to show as text.
    let mut first = String::new();
    sse(
        ui.port,
        &format!("{base}/services/app/logs?tail=10"),
        Duration::from_secs(30),
        |name, data| {
            if name == "line" {
                first = serde_json::from_str(data).unwrap();
            }
            !first.is_empty()
        },
    );
    assert_eq!(first, "<script>alert(1)</script>");
    assert_eq!(ui.get(&format!("{base}/services/nope/logs")).status, 404);

    // Secrets: no answer carries the value, whatever the page asks.
    for path in [
        base.clone(),
        format!("{base}/plan"),
        format!("{base}/endpoints"),
        "/api/instances".into(),
    ] {
        let body = ui.get(&path).body;
        assert!(!body.contains(SECRET), "{path} shows the secret: {body}");
    }

    let extended = ui.act(&format!("{base}/extend"), r#"{"ttl": "2h"}"#);
    assert_eq!(extended["ok"], true, "{extended}");
    assert!(ui.get(&base).json()["expires_at"].is_string());
    assert_eq!(
        ui.post(&format!("{base}/extend"), r#"{"ttl": "soon"}"#)
            .status,
        400
    );
    assert_eq!(
        ui.post(&format!("{base}/extend"), r#"{"tll": "2h"}"#)
            .status,
        400
    );

    let before = support::docker_stdout(&[
        "inspect",
        "-f",
        "{{.State.StartedAt}}",
        &format!("{env}-app"),
    ])
    .unwrap();
    let restarted = ui.act(&format!("{base}/services/app/restart"), "");
    assert_eq!(restarted["ok"], true, "{restarted}");
    let after = support::docker_stdout(&[
        "inspect",
        "-f",
        "{{.State.StartedAt}}",
        &format!("{env}-app"),
    ])
    .unwrap();
    assert_ne!(before, after, "app was not restarted");

    let removed = ui.act(&format!("{base}/down"), "");
    assert_eq!(removed["ok"], true, "{removed}");
    assert_eq!(ui.get(&base).status, 404);
    let left = support::docker_stdout(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=io.envctl.instance={env}"),
    ])
    .unwrap();
    assert!(left.is_empty(), "containers left: {left}");
}

#[test]
fn bad_requests_are_named_and_change_nothing() {
    let env = support::unique_name("uibad");
    let dir = support::definition_dir(&env, &definition());
    let ui = start(dir.path(), "127.0.0.1:0");
    let bad = ui.get("/api/instances/Not_Valid");
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"].as_str().unwrap().contains("Not_Valid"),
        "{bad:?}"
    );
    assert_eq!(ui.get("/api/nothing-here").status, 404);
    assert_eq!(ui.get("/api/actions/999").status, 404);
    // A definition that does not exist here cannot be brought up: refused before any action.
    let up = ui.post("/api/instances/uiabsent/up", "");
    assert_eq!(up.status, 422, "{up:?}");
    assert_eq!(
        ui.get("/api/actions/1").status,
        404,
        "no action was started"
    );
}

#[test]
fn changes_need_the_token_and_the_same_origin() {
    let env = support::unique_name("uisec");
    let dir = support::definition_dir(&env, &definition());
    let ui = start(dir.path(), "127.0.0.1:0");
    let path = format!("/api/instances/{env}/up");
    let token = ui.token.clone();
    let origin = ui.origin();
    let refused = [
        (vec![("Origin", origin.as_str())], 401),
        (
            vec![("X-Envctl-Token", "0000000000000000"), ("Origin", &origin)],
            401,
        ),
        (vec![("X-Envctl-Token", token.as_str())], 403),
        (
            vec![
                ("X-Envctl-Token", &token),
                ("Origin", "http://evil.example"),
            ],
            403,
        ),
        (vec![("X-Envctl-Token", &token), ("Origin", "null")], 403),
    ];
    for (headers, status) in refused {
        let reply = request(ui.port, "POST", &path, &headers, "");
        assert_eq!(reply.status, status, "{headers:?}: {reply:?}");
        assert!(reply.json()["error"].is_string());
    }
    // DNS rebinding: another name that resolves to loopback is not this server.
    let rebound = request(
        ui.port,
        "GET",
        "/api/instances",
        &[("Host", "evil.example")],
        "",
    );
    assert_eq!(rebound.status, 421);
    // Nothing ran: no action, no instance.
    assert_eq!(ui.get("/api/actions/1").status, 404);
    assert_eq!(ui.get(&format!("/api/instances/{env}")).status, 404);
    // The page itself ships with a policy that forbids inline scripts.
    let page = request(ui.port, "GET", "/", &[], "");
    assert_eq!(page.status, 200);
    assert!(
        page.head
            .to_ascii_lowercase()
            .contains("content-security-policy: default-src 'self'; script-src 'self';"),
        "{}",
        page.head
    );
}

#[test]
fn off_loopback_every_api_call_needs_the_token() {
    let env = support::unique_name("uinet");
    let dir = support::definition_dir(&env, &definition());
    let ui = start(dir.path(), "0.0.0.0:0");
    assert_eq!(ui.get("/api/instances").status, 401);
    assert_eq!(ui.get("/api/environments").status, 401);
    let wrong = request(
        ui.port,
        "GET",
        "/api/instances",
        &[("X-Envctl-Token", "not-the-token-at-all")],
        "",
    );
    assert_eq!(wrong.status, 401);
    let header = request(
        ui.port,
        "GET",
        "/api/instances",
        &[("X-Envctl-Token", &ui.token)],
        "",
    );
    assert_eq!(header.status, 200, "{header:?}");
    let query = ui.get(&format!("/api/environments?token={}", ui.token));
    assert_eq!(query.status, 200, "{query:?}");
    assert!(
        ui.url.contains(&format!("#token={}", ui.token)),
        "{}",
        ui.url
    );
}

#[test]
fn a_short_token_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    let out = support::envctl_in(dir.path(), &["ui", "--token", "short"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        support::text(&out.stderr).contains("--token must be at least 16"),
        "{}",
        support::text(&out.stderr)
    );
}

/// An instance brought up by the CLI, with ZooKeeper and a real Dubbo provider from the
/// shared templates: the page's endpoint lists the provider under its interface with the
/// address an outsider dials.
#[test]
fn dubbo_providers_per_interface() {
    const GREETER: &str = "org.envctl.ui.Greeter";
    let env = support::unique_name("uidubbo");
    let definition = format!(
        r#"
services:
  zookeeper:
    template: zookeeper
  greeter:
    template: dubbo-provider
    with: {{ interface: "{GREETER}" }}
    depends_on: {{ zookeeper: healthy }}
"#
    );
    let dir = support::definition_dir(&env, &definition);
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let templates = templates.to_str().unwrap();
    let _down = DownOnDrop {
        dir: dir.path(),
        env: env.clone(),
    };
    // Providers register the host's own address (the default), as a team would reach them.
    let up = support::envctl_in(dir.path(), &["up", &env])
        .env("ENVCTL_TEMPLATE_PATH", templates)
        .env_remove("ENVCTL_ADVERTISE_HOST")
        .output()
        .unwrap();
    support::assert_ok(&up);
    let mut command = UiServer::command(dir.path(), "127.0.0.1:0");
    command
        .env("ENVCTL_TEMPLATE_PATH", templates)
        .env_remove("ENVCTL_ADVERTISE_HOST");
    let ui = UiServer::spawn(command);
    let endpoints = ui.get(&format!("/api/instances/{env}/endpoints")).json();
    let providers = endpoints["providers"].as_array().unwrap();
    let greeter = providers
        .iter()
        .find(|p| p["interface"] == GREETER)
        .unwrap_or_else(|| panic!("{GREETER} not listed: {endpoints}"));
    assert_eq!(greeter["service"], "greeter");
    let outside = greeter["outside"].as_str().unwrap();
    assert!(
        outside.starts_with(endpoints["advertise_host"].as_str().unwrap()),
        "{endpoints}"
    );
    let view = ui.get(&format!("/api/instances/{env}")).json();
    let port = view["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == "greeter")
        .map(|s| s["ports"][0]["address"].clone())
        .unwrap();
    assert_eq!(port, outside, "the graph's address is the provider's");
}

/// An action takes the CLI's own per-instance lock: while a CLI holds it, the action says
/// it waits and does nothing; once released, it runs.
#[test]
fn actions_wait_for_the_cli_lock() {
    let env = support::unique_name("uilock");
    let dir = support::definition_dir(&env, &definition());
    let ui = start(dir.path(), "127.0.0.1:0");
    let id = envctl::model::InstanceId::new(&env, None).unwrap();
    let held = envctl::lock::acquire_in(
        &dir.path().join("locks"),
        &id,
        "up",
        envctl::lock::WaitPolicy::FailFast,
        &mut |_| {},
    )
    .expect("the test takes the instance lock");
    let reply = ui.post(&format!("/api/instances/{env}/down"), "");
    assert_eq!(reply.status, 202, "{reply:?}");
    let events = reply.json()["events"].as_str().unwrap().to_string();
    let mut held = Some(held);
    let mut outcome = None;
    sse(ui.port, &events, Duration::from_secs(60), |name, data| {
        if name == "progress" && data.contains("waiting for the instance lock") {
            let action = ui.get("/api/actions/1").json();
            assert!(action["result"].is_null(), "ran while locked: {action}");
            held.take();
        }
        if name == "done" {
            outcome = Some(serde_json::from_str::<serde_json::Value>(data).unwrap());
        }
        outcome.is_some()
    });
    assert!(
        held.is_none(),
        "the action never said it waited for the lock"
    );
    assert_eq!(outcome.unwrap()["ok"], true);
}

/// Ctrl-C stops the server even while a page holds an event stream open (they never end).
#[test]
fn ctrl_c_stops_the_server_with_a_page_open() {
    let env = support::unique_name("uistop");
    let dir = support::definition_dir(&env, &definition());
    let mut ui = start(dir.path(), "127.0.0.1:0");
    let port = ui.port;
    let (opened, is_open) = std::sync::mpsc::channel();
    let page = std::thread::spawn(move || {
        // Holds the stream (after its first event) until the server goes away.
        std::panic::catch_unwind(move || {
            sse(
                port,
                "/api/instances/events",
                Duration::from_secs(60),
                |name, _| {
                    if name == "instances" {
                        let _ = opened.send(());
                    }
                    false
                },
            )
        })
    });
    is_open
        .recv_timeout(Duration::from_secs(30))
        .expect("the page's stream opened");
    let status = ui.interrupt(Duration::from_secs(20));
    assert!(status.success(), "{status:?}");
    assert!(
        page.join().unwrap().is_err(),
        "the page's stream outlived the server"
    );
}

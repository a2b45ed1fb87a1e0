//! The `dubbo-java` template on the real engine with envctl/dubbo-java:17. No Dubbo jar can be
//! fetched here, so the jar is a stand-in (support::java, tests/fixtures/dubbo-java): it reads
//! the variables Java Dubbo reads, registers in ZooKeeper as a Java provider does, answers
//! Dubbo heartbeats and reports over HTTP, on the Dubbo port, what its JVM received. From the
//! host we check that report, the registration, and that bad uses of the template are refused
//! before anything is created.

use crate::support;

use std::time::Duration;

use support::{protocols, Instance};

const JAVA_IMAGE: &str = "envctl/dubbo-java:17";
const ZOOKEEPER_IMAGE: &str = "envctl/zookeeper:3.8";
const INTERFACE: &str = "org.envctl.it.Orders";

fn ensure_images() {
    support::ensure_images(&[(JAVA_IMAGE, "dubbo-java"), (ZOOKEEPER_IMAGE, "zookeeper")]);
}

/// An instance of `definition` with the shipped templates and the stand-in jar at
/// `environments/app/reporter.jar`, next to a Dockerfile that builds it FROM the image.
fn java_instance(prefix: &str, definition: &str) -> Instance {
    let fixture = Instance::new(prefix, definition)
        .with_shared_templates()
        .with_timeout(Duration::from_secs(300));
    std::fs::create_dir_all(fixture.path("app")).unwrap();
    std::fs::copy(
        support::java::reporter_jar(),
        fixture.path("app/reporter.jar"),
    )
    .unwrap();
    fixture.write(
        "app/Dockerfile",
        &format!("FROM {JAVA_IMAGE}\nCOPY reporter.jar /app/app.jar\n"),
    );
    fixture
}

/// What the stand-in's JVM received, from its published Dubbo port.
fn report(host_port: u16) -> serde_json::Value {
    let (status, body) = protocols::http_get(host_port, "/report").unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The heap the JVM chose against the one asked for: `Runtime.maxMemory` is the max heap
/// less one survivor space under the serial collector (small containers get it), so it may be
/// up to a tenth under.
#[track_caller]
fn assert_heap_near(report: &serde_json::Value, expected: u64) {
    let heap = report["max_heap_bytes"].as_u64().unwrap();
    assert!(
        heap <= expected && heap * 10 >= expected * 9,
        "max heap {heap} bytes, expected about {expected}: {report}"
    );
}

#[test]
fn a_built_jar_gets_its_properties_heap_and_an_address_outsiders_reach() {
    ensure_images();
    let advertise = envctl::advertise::detect().to_string();
    let fixture = java_instance(
        "dj",
        r#"
services:
  zookeeper:
    template: zookeeper
  orders:
    template: dubbo-java
    with:
      build: ./app
      interface: org.envctl.it.Orders
      application: orders-app
      memory: 320m
      heap_percent: 60
      properties: { dubbo.provider.timeout: 3000, dubbo.protocol.name: dubbo }
      java_tool_options: "-Dreporter.tool=yes -Xss512k"
    command: ["org.envctl.it.Orders"]
    depends_on: { zookeeper: healthy }
"#,
    )
    .with_var("ENVCTL_ADVERTISE_HOST", &advertise);
    fixture.track_image(&format!("envctl-build/{}-orders:latest", fixture.env));
    // Ready by the template's default check: the stand-in registered `interface` in the
    // instance's ZooKeeper and the registered address answered a Dubbo heartbeat.
    fixture.envctl_ok(&["up", &fixture.env]);

    let port = fixture.host_port("orders", 20880);
    let report = report(port);
    let properties = &report["properties"];
    assert_eq!(
        properties["dubbo.registry.address"], "zookeeper://zookeeper:2181",
        "{report}"
    );
    assert_eq!(
        properties["dubbo.application.name"], "orders-app",
        "{report}"
    );
    assert_eq!(properties["dubbo.provider.timeout"], "3000", "{report}");
    assert_eq!(properties["dubbo.protocol.name"], "dubbo", "{report}");
    let env = &report["env"];
    assert_eq!(
        env["JAVA_TOOL_OPTIONS"], "-Dreporter.tool=yes -Xss512k",
        "{report}"
    );
    assert_eq!(env["DUBBO_IP_TO_REGISTRY"], advertise.as_str(), "{report}");
    assert_eq!(env["DUBBO_PORT_TO_REGISTRY"], port.to_string(), "{report}");
    assert_eq!(env["DUBBO_PORT_TO_BIND"], "20880", "{report}");
    // Java Dubbo throws on DUBBO_IP_TO_BIND=0.0.0.0: the template must leave it unset.
    assert!(env.get("DUBBO_IP_TO_BIND").is_none(), "{report}");
    // The JVM applied JAVA_TOOL_OPTIONS itself, and the jar got the service's command.
    let arguments = report["input_arguments"].as_array().unwrap();
    assert!(arguments.iter().any(|a| a == "-Xss512k"), "{report}");
    assert!(
        arguments.iter().any(|a| a == "-XX:MaxRAMPercentage=60"),
        "{report}"
    );
    assert_eq!(report["args"], serde_json::json!([INTERFACE]), "{report}");
    assert_heap_near(&report, 320 * 1024 * 1024 * 60 / 100);

    // What outsiders find in ZooKeeper is the advertised address, and envctl says so.
    let endpoints: serde_json::Value =
        serde_json::from_str(&fixture.envctl_ok(&["endpoints", &fixture.env, "--output", "json"]))
            .unwrap();
    let provider = endpoints["providers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["interface"] == INTERFACE)
        .unwrap_or_else(|| panic!("{INTERFACE} is not registered: {endpoints}"));
    assert_eq!(provider["reach"], "advertised", "{endpoints}");
    assert_eq!(
        provider["outside"],
        format!("{advertise}:{port}"),
        "{endpoints}"
    );
    assert_eq!(provider["service"], "orders", "{endpoints}");
}

#[test]
fn a_mounted_jar_runs_on_the_shipped_image_with_a_heap_that_follows_its_own_memory_limit() {
    ensure_images();
    let fixture = java_instance(
        "dm",
        r#"
services:
  billing:
    template: dubbo-java
    with: { jar: ./app/reporter.jar, port: 20990, advertise: false }
    resources: { memory: 384m }
"#,
    );
    // No interface: ready once the port answers (the stand-in registers nothing without one).
    fixture.envctl_ok(&["up", &fixture.env]);

    let report = report(fixture.host_port("billing", 20990));
    assert_eq!(report["env"]["DUBBO_PORT_TO_BIND"], "20990", "{report}");
    assert!(
        report["env"].get("DUBBO_IP_TO_REGISTRY").is_none(),
        "{report}"
    );
    assert!(report["env"].get("JAVA_TOOL_OPTIONS").is_none(), "{report}");
    assert_eq!(report["args"], serde_json::json!([]), "{report}");
    // The template's 75%, of the limit the service set itself (not the template's 512m).
    assert_heap_near(&report, 384 * 1024 * 1024 * 75 / 100);
    let containers = fixture.containers(&fixture.env);
    assert_eq!(containers["billing"].image, JAVA_IMAGE);
}

#[test]
fn bad_uses_of_the_template_are_refused_before_anything_is_made() {
    let outside = tempfile::NamedTempFile::new().unwrap();
    let cases = [
        ("{}", "the jar to run is missing"),
        (
            "{ build: ./app, jar: ./app/reporter.jar }",
            "give `build` or `jar`, not both",
        ),
        (
            "{ jar: ./app/reporter.jar, properties: { dubbo.tag: \"a b\" } }",
            "property `dubbo.tag`: JAVA_OPTS is split on whitespace",
        ),
        (
            "{ jar: ./app/reporter.jar, heap_percent: 0 }",
            "heap_percent must be 1-100, got 0",
        ),
        (
            &format!("{{ jar: {} }}", outside.path().display()),
            "allow: [outside-binds]",
        ),
    ];
    let advertise = envctl::advertise::detect().to_string();
    for (with, expected) in cases {
        let fixture = java_instance(
            "dx",
            &format!("services:\n  app:\n    template: dubbo-java\n    with: {with}\n"),
        )
        .with_var("ENVCTL_ADVERTISE_HOST", &advertise);
        let out = fixture.run("up", &[]);
        let stderr = support::text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{with}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{with}: expected {expected:?} in:\n{stderr}"
        );
        assert!(fixture.containers(&fixture.env).is_empty(), "{with}");
    }

    // Java Dubbo refuses a loopback DUBBO_IP_TO_REGISTRY: so does the template, unless
    // `advertise: false` says not to advertise at all.
    let fixture = java_instance(
        "dx",
        "services:\n  app:\n    template: dubbo-java\n    with: { jar: ./app/reporter.jar }\n",
    )
    .with_var("ENVCTL_ADVERTISE_HOST", "127.0.0.1");
    let out = fixture.run("validate", &[]);
    let stderr = support::text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("advertise host 127.0.0.1 is loopback, which Java Dubbo refuses"),
        "{stderr}"
    );
}

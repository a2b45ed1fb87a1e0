//! CLI tests for definitions: every file of tests/broken/ fails `envctl validate` with an error
//! that names the culprit and its line; the shipped environments validate and render.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `envctl` run from the repository root, with the broken templates on the search path and
/// a fixed advertise host so output does not depend on the machine.
fn envctl() -> Command {
    let mut cmd = Command::cargo_bin("envctl").expect("binary built");
    cmd.current_dir(root())
        .env(
            "ENVCTL_TEMPLATE_PATH",
            root().join("tests/broken/templates"),
        )
        .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10")
        .env_remove("XDG_CONFIG_HOME");
    cmd
}

/// (file in tests/broken, texts the error must contain, `file:line:` it must point at).
const BROKEN: &[(&str, &[&str], &str)] = &[
    (
        "host-port-not-published.yaml",
        &["host_port refers to port 3307 of `db`, which does not publish it"],
        "host-port-not-published.yaml:9:",
    ),
    (
        "alias-clash.yaml",
        &["alias `web` of `admin` is already the name or an alias of `web`"],
        "alias-clash.yaml:7:",
    ),
    (
        "error-inside-a-loop.yaml",
        &[
            "service `c-service` depends on `zookeper`",
            "did you mean `zookeeper`?",
        ],
        "error-inside-a-loop.yaml:10:7",
    ),
    (
        "typo-service-key.yaml",
        &["unknown key `helthcheck`", "did you mean `healthcheck`?"],
        "typo-service-key.yaml:5:",
    ),
    (
        "typo-top-level-key.yaml",
        &["unknown key `servics`", "did you mean `services`?"],
        "typo-top-level-key.yaml:3:",
    ),
    (
        "typo-nested-flow-key.yaml",
        &["unknown key `intervall`", "did you mean `interval`?"],
        "typo-nested-flow-key.yaml:5:31",
    ),
    (
        "dangling-dependency.yaml",
        &[
            "depends on `dbb`, which is not defined",
            "did you mean `db`?",
        ],
        "dangling-dependency.yaml:9:",
    ),
    (
        "dependency-cycle.yaml",
        &["dependency cycle: a -> b -> c -> a"],
        "dependency-cycle.yaml:5:",
    ),
    (
        "tera-unclosed-for.yaml",
        &["Tera", "Unexpected end of input"],
        "tera-unclosed-for.yaml:5:",
    ),
    (
        "tera-undefined-variable.yaml",
        &["Variable `tag` is not defined", "--set"],
        "tera-undefined-variable.yaml:4:",
    ),
    (
        "tera-unknown-filter.yaml",
        &["Unknown filter `shout`"],
        "tera-unknown-filter.yaml:4:",
    ),
    (
        "tera-host-port-without-service.yaml",
        &["host_port", "name the service"],
        "tera-host-port-without-service.yaml:6:",
    ),
    (
        "missing-required-param.yaml",
        &["template `dubbo-provider` needs param `interface`"],
        "missing-required-param.yaml:6:",
    ),
    (
        "unknown-param.yaml",
        &[
            "template `redis` has no param `versoin`",
            "did you mean `version`?",
        ],
        "unknown-param.yaml:6:",
    ),
    (
        "param-wrong-type.yaml",
        &["template `dubbo-provider`: param `port` must be of type int"],
        "param-wrong-type.yaml:7:",
    ),
    (
        "ports-not-a-list.yaml",
        &["services.cache.ports", "expected a sequence"],
        "ports-not-a-list.yaml:5:",
    ),
    (
        "port-out-of-range.yaml",
        &["port 70000 is out of range"],
        "port-out-of-range.yaml:7:",
    ),
    (
        "bad-duration.yaml",
        &["`1x` is not a duration"],
        "bad-duration.yaml:7:",
    ),
    (
        "bad-ttl.yaml",
        &["ttl", "`99999999d` is too long"],
        "bad-ttl.yaml:2:",
    ),
    (
        "bad-memory.yaml",
        &["`lots` is not a memory size"],
        "bad-memory.yaml:6:",
    ),
    (
        "pinned-port-clash.yaml",
        &["host port 8080/tcp is pinned by both `admin` and `web`"],
        "pinned-port-clash.yaml:5:",
    ),
    (
        "bad-service-name.yaml",
        &["service name `Order_Service`"],
        "bad-service-name.yaml:3:",
    ),
    (
        "bad-env-name.yaml",
        &["environment name `Project_A`"],
        "bad-env-name.yaml:2:",
    ),
    (
        "missing-template.yaml",
        &[
            "template `nosuch` not found",
            "templates/nosuch.yaml",
            "tests/broken/templates/nosuch.yaml",
        ],
        "missing-template.yaml:4:",
    ),
    (
        "template-escapes-search-path.yaml",
        &["template name `../../etc/passwd` is not allowed"],
        "template-escapes-search-path.yaml:4:",
    ),
    (
        "two-probes.yaml",
        &["healthcheck has 2 probes (tcp, http)"],
        "two-probes.yaml:5:",
    ),
    (
        "completed-on-a-service.yaml",
        &["waits for `migrate` to complete, but `migrate` is not a job"],
        "completed-on-a-service.yaml:8:",
    ),
    (
        "healthy-without-healthcheck.yaml",
        &["`db` has no healthcheck"],
        "healthy-without-healthcheck.yaml:7:",
    ),
    (
        "yaml-syntax-error.yaml",
        &["YAML", "while parsing a flow sequence (started on line 5)"],
        "yaml-syntax-error.yaml:6:",
    ),
    (
        "bad-restart-policy.yaml",
        &["unknown variant `allways`", "did you mean `always`?"],
        "bad-restart-policy.yaml:5:",
    ),
    (
        "bad-env-secret.yaml",
        &["env `DB_PASSWORD`", "`from_vault`"],
        "bad-env-secret.yaml:6:",
    ),
    (
        "bad-volume.yaml",
        &["target `var/lib/mysql` must be an absolute path"],
        "bad-volume.yaml:6:",
    ),
    (
        "no-image.yaml",
        &["service `app` has no `image`"],
        "no-image.yaml:3:",
    ),
    (
        "template-tera-error.yaml",
        &["template `bad-tera`", "expected }}"],
        "templates/bad-tera.yaml:5:",
    ),
    (
        "template-unknown-key.yaml",
        &[
            "template `bad-key`: unknown key `restrat`",
            "did you mean `restart`?",
        ],
        "templates/bad-key.yaml:5:",
    ),
    (
        "template-bad-value.yaml",
        &[
            "`soon` is not a duration",
            "from template `bad-duration`, for service `app`",
        ],
        "templates/bad-duration.yaml:6:",
    ),
    (
        "many-problems.yaml",
        &[
            "unknown key `imgae`",
            "`1x` is not a memory size",
            "depends on `api`",
            "3 problems found",
        ],
        "many-problems.yaml:5:",
    ),
];

#[test]
fn every_broken_definition_names_its_culprit_and_line() {
    let dir = root().join("tests/broken");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BROKEN.iter().map(|(f, _, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every broken file needs an expectation, and vice versa"
    );
    assert!(BROKEN.len() >= 20);

    let mut failures = Vec::new();
    for (file, texts, at) in BROKEN {
        let path = Path::new("tests/broken").join(file);
        let out = envctl().arg("validate").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() != Some(1) {
            failures.push(format!("{file}: exit {:?}, expected 1", out.status.code()));
        }
        for text in texts.iter().chain(std::iter::once(at)) {
            if !stderr.contains(text) {
                failures.push(format!("{file}: no `{text}` in:\n{stderr}"));
            }
        }
        if stderr.contains("panicked") {
            failures.push(format!("{file}: panicked:\n{stderr}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_diagnostic_in_full() {
    let out = envctl()
        .args(["validate", "tests/broken/typo-service-key.yaml"])
        .output()
        .unwrap();
    let expected = "\
error: unknown key `helthcheck` in `services.cache`
 --> tests/broken/typo-service-key.yaml:5:5
  |
5 |     helthcheck: { tcp: 6379 }
  |     ^
  = help: did you mean `healthcheck`?

1 problem found

FAILED tests/broken/typo-service-key.yaml
";
    assert_eq!(String::from_utf8_lossy(&out.stderr), expected);
    assert_eq!(out.stdout, b"");
}

#[test]
fn shipped_environments_validate() {
    let out = envctl().arg("validate").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("OK environments/project-a.yaml"),
        "{stdout}"
    );
    assert!(
        stdout.contains("OK environments/cache-demo.yaml"),
        "{stdout}"
    );
}

#[test]
fn validate_fails_when_any_file_fails() {
    envctl()
        .args(["validate", "project-a", "tests/broken/bad-memory.yaml"])
        .assert()
        .code(1)
        .stdout(predicates::str::contains("OK project-a"))
        .stderr(predicates::str::contains(
            "FAILED tests/broken/bad-memory.yaml",
        ));
}

#[test]
fn validate_as_json_lists_problems_with_positions() {
    let out = envctl()
        .args([
            "validate",
            "cache-demo",
            "tests/broken/many-problems.yaml",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["ok"], true);
    assert_eq!(reports[0]["services"], 2);
    assert_eq!(reports[1]["ok"], false);
    let problems = reports[1]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3);
    assert_eq!(problems[0]["line"], 5);
    assert_eq!(problems[0]["hint"], "did you mean `image`?");
}

#[test]
fn render_project_a_for_a_feature_as_json() {
    let out = envctl()
        .args([
            "render",
            "project-a",
            "--feature",
            "pay-v2",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["instance"], "project-a--pay-v2");
    let services = doc["services"].as_object().unwrap();
    assert!(services.len() >= 15, "{} services", services.len());
    let order = &services["order-service"];
    assert_eq!(order["container"], "project-a--pay-v2-order-service");
    assert_eq!(order["template"], "dubbo-provider");
    assert_eq!(order["env"]["DUBBO_IP_TO_REGISTRY"], "192.0.2.10");
    assert_eq!(
        order["env"]["DUBBO_PORT_TO_REGISTRY"],
        "<host port of order-service:20884, allocated at up>"
    );
    assert_eq!(order["env"]["SHOP_FEATURE"], "pay-v2");
    assert_eq!(order["depends_on"]["zookeeper"], "healthy");
    assert_eq!(
        order["healthcheck"]["probe"]["dubbo"]["interface"],
        "com.shop.OrderService"
    );
    let mysql = &services["mysql"];
    assert_eq!(mysql["memory_bytes"], 1u64 << 30);
    assert_eq!(
        mysql["volumes"][0],
        "project-a--pay-v2_mysql-data:/var/lib/mysql"
    );
}

#[test]
fn render_yaml_applies_set_values() {
    envctl()
        .args(["render", "project-a", "--set", "provider_version=2.0.0"])
        .assert()
        .success()
        .stdout(predicates::str::contains("DUBBO_SERVICE_VERSION: 2.0.0"));
}

#[test]
fn render_text_shows_the_tera_output() {
    envctl()
        .args([
            "render",
            "cache-demo",
            "--feature",
            "f1",
            "--output",
            "text",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("SET hello cache-demo--f1"));
}

#[test]
fn unknown_environment_suggests_known_ones() {
    envctl()
        .args(["render", "project-b"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no environment `project-b`"))
        .stderr(predicates::str::contains("did you mean `project-a`?"));
}

#[test]
fn bad_feature_name_is_an_error() {
    envctl()
        .args(["validate", "cache-demo", "--feature", "Pay_V2"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("feature name `Pay_V2`"));
}

#[test]
fn template_list_and_show() {
    let out = envctl()
        .args(["template", "list", "--output", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for name in [
        "zookeeper",
        "redis",
        "memcached",
        "mysql",
        "nginx",
        "dubbo-provider",
        "dubbo-consumer",
        "dubbo-java",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    envctl()
        .args(["template", "show", "dubbo-provider"])
        .assert()
        .success()
        .stdout(predicates::str::contains("interface  [string, required]"))
        .stdout(predicates::str::contains(
            "registry  [string, default: zookeeper:2181]",
        ));
    envctl()
        .args(["template", "show", "nope"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("template `nope` not found"));
}

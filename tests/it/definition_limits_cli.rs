//! Issue 11 classes 6 and 7 (definition side) and issue 17's render point, without an engine:
//! rendering is bounded in time and size with errors naming the file and line, each bad name
//! is reported once, unquoted env values keep their text, and `render` shows a readable
//! placeholder for a host port not allocated yet.

use crate::support;

use std::process::Output;
use std::time::{Duration, Instant};

use support::{text, unique_name, BUSYBOX};

/// Runs envctl in `dir` with a deadline well past the render budget (5 s): a command still
/// running then has no budget at all.
fn envctl(dir: &std::path::Path, args: &[&str]) -> Output {
    let mut cmd = assert_cmd::Command::cargo_bin("envctl").expect("binary built");
    cmd.current_dir(dir)
        .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10")
        .env("ENVCTL_LOCK_DIR", dir.join("locks"))
        .env_remove("ENVCTL_TEMPLATE_PATH")
        .args(args)
        .timeout(Duration::from_secs(60));
    cmd.output().expect("envctl runs")
}

/// Fails with what envctl said unless it failed, and returns its stderr.
#[track_caller]
fn failed(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "must fail with an exit code (not be killed); status {:?}\nstdout:\n{}\nstderr:\n{stderr}",
        out.status,
        text(&out.stdout)
    );
    stderr
}

#[test]
fn nested_loops_stop_at_the_time_budget_with_the_file_and_line() {
    let env = unique_name("loops");
    let dir = support::definition_dir(
        &env,
        &format!(
            "services:\n  a:\n    image: {BUSYBOX}\n{{% for i in range(end=100000) %}}{{% for j in range(end=100000) %}}{{% endfor %}}{{% endfor %}}\n"
        ),
    );
    let started = Instant::now();
    let out = envctl(dir.path(), &["validate", &env]);
    let took = started.elapsed();
    let stderr = failed(&out);
    assert!(stderr.contains("time budget of 5 s"), "{stderr}");
    assert!(stderr.contains(&format!("{env}.yaml:4:")), "{stderr}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

#[test]
fn a_rendering_larger_than_the_budget_is_refused_at_its_loop() {
    let env = unique_name("wide");
    // Up to 100 MB in 1 kB steps: few iterations, so the output budget stops it, not time.
    let chunk = "x".repeat(1000);
    let dir = support::definition_dir(
        &env,
        &format!(
            "services:\n  a:\n    image: {BUSYBOX}\n    env:\n      X: \"{{% for i in range(end=100000) %}}{chunk}{{% endfor %}}\"\n"
        ),
    );
    let out = envctl(dir.path(), &["validate", &env]);
    let stderr = failed(&out);
    assert!(
        stderr.contains("larger than the budget of 4 MiB"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{env}.yaml:5:")), "{stderr}");
}

#[test]
fn a_string_doubled_in_a_loop_is_stopped_by_the_memory_budget() {
    let env = unique_name("double");
    let dir = support::definition_dir(
        &env,
        &format!(
            "{{% set_global s = \"xxxxxxxxxxxxxxxx\" %}}\n{{% for i in range(end=40) %}}{{% set_global s = s ~ s %}}{{% endfor %}}\nservices:\n  a:\n    image: {BUSYBOX}\n    env:\n      X: \"{{{{ s | length }}}}\"\n"
        ),
    );
    let out = envctl(dir.path(), &["validate", &env]);
    let stderr = failed(&out);
    assert!(stderr.contains("memory budget of 256 MiB"), "{stderr}");
    assert!(stderr.contains(&format!("{env}.yaml:2:")), "{stderr}");
}

#[test]
fn one_replace_building_gigabytes_is_refused() {
    let env = unique_name("replace");
    let dir = support::definition_dir(
        &env,
        &format!(
            "{{% set a = range(end=1000) | join(sep=\"{sep}\") %}}\nservices:\n  a:\n    image: {BUSYBOX}\n    env:\n      X: \"{{{{ a | replace(from='x', to=a) | length }}}}\"\n",
            sep = "x".repeat(100)
        ),
    );
    let out = envctl(dir.path(), &["validate", &env]);
    let stderr = failed(&out);
    assert!(
        stderr.contains("`replace` would build a string"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{env}.yaml:6:")), "{stderr}");
}

#[test]
fn a_file_over_the_size_limit_is_refused_unread() {
    let env = unique_name("huge");
    let value = "x".repeat(20 * 1024 * 1024);
    let dir = support::definition_dir(
        &env,
        &format!("services:\n  a:\n    image: {BUSYBOX}\n    env:\n      X: \"{value}\"\n"),
    );
    let out = envctl(dir.path(), &["validate", &env]);
    let stderr = failed(&out);
    assert!(
        stderr.contains("larger than the limit of 1024 KiB"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{env}.yaml")), "{stderr}");
}

#[test]
fn an_invalid_feature_name_is_reported_once() {
    let env = unique_name("names");
    let dir = support::definition_dir(&env, &format!("services:\n  a:\n    image: {BUSYBOX}\n"));
    let out = envctl(dir.path(), &["validate", &env, "--feature", "Bad_F"]);
    let stderr = failed(&out);
    assert_eq!(stderr.matches("`Bad_F`").count(), 1, "{stderr}");
    assert!(stderr.contains("1 problem found"), "{stderr}");
}

#[test]
fn unquoted_env_values_keep_the_text_written() {
    let env = unique_name("text");
    let dir = support::definition_dir(
        &env,
        &format!(
            "services:\n  a:\n    image: {BUSYBOX}\n    env:\n      VERSION: 1.10\n      ENABLED: TRUE\n      HEX: 0x1F\n      PORT: 8080\n  b:\n    image: {BUSYBOX}\n    env: {{ RATIO: 0.50, NAME: x }}\n"
        ),
    );
    let out = envctl(dir.path(), &["render", &env, "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &doc["services"]["a"]["env"];
    assert_eq!(a["VERSION"], "1.10");
    assert_eq!(a["ENABLED"], "TRUE");
    assert_eq!(a["HEX"], "0x1F");
    assert_eq!(a["PORT"], "8080");
    assert_eq!(doc["services"]["b"]["env"]["RATIO"], "0.50");
}

#[test]
fn unquoted_env_values_from_a_template_keep_the_text_written() {
    let env = unique_name("tmpl");
    let dir = support::definition_dir(&env, "services:\n  a:\n    template: versioned\n");
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    std::fs::write(
        dir.path().join("templates/versioned.yaml"),
        format!("service:\n  image: {BUSYBOX}\n  env:\n    VERSION: 3.10\n"),
    )
    .unwrap();
    let out = envctl(dir.path(), &["render", &env, "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["services"]["a"]["env"]["VERSION"], "3.10");
}

#[test]
fn render_shows_a_readable_placeholder_for_a_port_not_allocated() {
    let env = unique_name("placeholder");
    let dir = support::definition_dir(
        &env,
        &format!(
            "services:\n  order:\n    image: {BUSYBOX}\n    ports: [50051]\n    env:\n      DUBBO_PORT_TO_REGISTRY: \"{{{{ host_port(service='order', port=50051) }}}}\"\n    command: [\"echo\", \"{{{{ host_port(port=50051, service='order') }}}}\"]\n"
        ),
    );
    let placeholder = "<host port of order:50051, allocated at up>";
    let out = envctl(dir.path(), &["render", &env, "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let order = &doc["services"]["order"];
    assert_eq!(order["env"]["DUBBO_PORT_TO_REGISTRY"], placeholder);
    assert_eq!(order["command"][1], placeholder);
    for format in ["yaml", "text"] {
        let out = envctl(dir.path(), &["render", &env, "--output", format]);
        let stdout = text(&out.stdout);
        assert!(stdout.contains(placeholder), "{format}:\n{stdout}");
        assert!(!stdout.contains("@@envctl"), "{format}:\n{stdout}");
    }
}

//! `envctl render --target kubernetes`: the manifests of the shipped environments match the
//! golden files in tests/golden/kubernetes/ exactly, and those files pass the official
//! Kubernetes schemas (`kubernetes-validate`, strict, for a pinned Kubernetes version) — a
//! validator that is shown to refuse a broken manifest, so a pass means something.
//!
//! One more golden file shows what `up` applies: the same mapping with its inputs filled in
//! (node ports, the Dubbo address, the registry), through the library.
//!
//! `ENVCTL_UPDATE_GOLDEN=1 cargo test --test it kubernetes_render_cli` rewrites the golden
//! files from the current output (review the diff before committing it).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support;

/// The Kubernetes version the manifests are validated against (docs/kubernetes.md).
const KUBERNETES_VERSION: &str = "1.30.0";

/// (golden file, `envctl render` arguments after `render`).
const CASES: &[(&str, &[&str])] = &[
    ("project-a.yaml", &["project-a"]),
    (
        "project-a--pay-v2.yaml",
        &["project-a", "--feature", "pay-v2"],
    ),
    ("cache-demo--f1.yaml", &["cache-demo", "--feature", "f1"]),
];

/// The golden file of `project-a --feature pay-v2` as `up` maps it (`with_inputs`).
const WITH_INPUTS: &str = "project-a--pay-v2.up.yaml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden(name: &str) -> PathBuf {
    root().join("tests/golden/kubernetes").join(name)
}

/// `envctl render ARGS --target kubernetes` from the repository root, with a fixed advertise
/// host and no user configuration, so the output depends on the definitions alone.
fn render(args: &[&str]) -> std::process::Output {
    Command::new(assert_cmd::cargo::cargo_bin("envctl"))
        .current_dir(root())
        .arg("render")
        .args(args)
        .args(["--target", "kubernetes"])
        .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("ENVCTL_TEMPLATE_PATH")
        .output()
        .expect("envctl runs")
}

fn stdout_of(args: &[&str]) -> String {
    let out = render(args);
    assert!(
        out.status.success(),
        "envctl render {args:?} failed: {}",
        support::text(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Compares `got` with golden file `file` (or rewrites it with ENVCTL_UPDATE_GOLDEN=1):
/// `None` when equal, else where they first differ.
fn stale_golden(file: &str, got: &str) -> Option<String> {
    let path = golden(file);
    if std::env::var_os("ENVCTL_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, got).unwrap();
        return None;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (ENVCTL_UPDATE_GOLDEN=1 writes it)", path.display()));
    if got == want {
        return None;
    }
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(g, w)| g != w)
        .unwrap_or(got.lines().count().min(want.lines().count()));
    Some(format!(
        "{}: differs from line {} (got {:?}, golden {:?})\nrerun with ENVCTL_UPDATE_GOLDEN=1 if the change is intended",
        path.display(),
        line + 1,
        got.lines().nth(line),
        want.lines().nth(line)
    ))
}

#[test]
fn shipped_environments_render_their_golden_manifests() {
    let stale: Vec<String> = CASES
        .iter()
        .filter_map(|(file, args)| stale_golden(file, &stdout_of(args)))
        .collect();
    assert!(stale.is_empty(), "{}", stale.join("\n"));
}

/// `project-a --feature pay-v2` as `up` maps it: node ports allocated for the instance (from
/// an empty cluster, so the hash alone places them), providers registering a fixed address,
/// local images named in a registry. Loaded as render loads it, with the same advertise host.
fn with_inputs() -> String {
    use envctl::kubernetes::{node_ports, Advertise, MappingInputs};
    let opts = envctl::definition::LoadOptions {
        feature: Some("pay-v2".into()),
        set: Default::default(),
        advertise_host: "192.0.2.10".into(),
        dubbo_tag: None,
    };
    let path = root().join("environments/project-a.yaml");
    let env = envctl::definition::load(path.to_str().unwrap(), &opts).expect("project-a loads");
    let range = node_ports::DEFAULT_RANGE;
    let ports = node_ports::allocate_for_env(
        &env,
        &Default::default(),
        &Default::default(),
        range.clone(),
    )
    .unwrap();
    let mut inputs = MappingInputs::up(ports, range);
    inputs.advertise = Advertise::Literal("203.0.113.20".into());
    inputs.registry = Some("registry.example.com:5000/shop".into());
    inputs.secrets = Some(Default::default());
    envctl::kubernetes::render_yaml_with(&env, &inputs).expect("project-a maps")
}

#[test]
fn project_a_with_up_inputs_matches_its_golden_manifests() {
    let got = with_inputs();
    if let Some(stale) = stale_golden(WITH_INPUTS, &got) {
        panic!("{stale}");
    }
    // What the inputs change, visible in the file: no placeholder is left, every provider
    // registers the fixed address, images built here are named in the registry.
    assert!(!got.contains("allocated at up"), "{got}");
    assert!(got.contains("nodePort: "), "{got}");
    assert!(got.contains("value: \"203.0.113.20\""), "{got}");
    assert!(!got.contains("192.0.2.10"), "{got}");
    assert!(
        got.contains("image: \"registry.example.com:5000/shop/envctl/dubbo-python:3.0\""),
        "{got}"
    );
    assert!(!got.contains("image: \"envctl/"), "{got}");
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let args = ["project-a", "--feature", "pay-v2"];
    assert_eq!(stdout_of(&args), stdout_of(&args));
}

#[test]
fn secrets_and_host_ports_appear_only_as_placeholders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sec.yaml"),
        "services:\n  db:\n    image: envctl/busybox:1.35\n    ports: [3306]\n    env:\n      \
         PASSWORD: { from_env: K8S_RENDER_TEST_SECRET }\n      \
         PORT: '{{ host_port(service=\"db\", port=3306) }}'\n",
    )
    .unwrap();
    let path = dir.path().join("sec.yaml");
    let out = Command::new(assert_cmd::cargo::cargo_bin("envctl"))
        .current_dir(dir.path())
        .args(["render", path.to_str().unwrap(), "--target", "kubernetes"])
        .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10")
        .env("K8S_RENDER_TEST_SECRET", "hunter2-do-not-print")
        .output()
        .unwrap();
    let text = support::text(&out.stdout);
    assert!(out.status.success(), "{}", support::text(&out.stderr));
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        text.contains("db.PASSWORD: \"<secret: from_env K8S_RENDER_TEST_SECRET, filled at up>\""),
        "{text}"
    );
    assert!(text.contains("secretKeyRef"), "{text}");
    assert!(
        text.contains("<host port of db:3306, allocated at up>"),
        "{text}"
    );
}

#[test]
fn unmappable_restart_is_an_error_naming_the_service_and_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crashy.yaml");
    std::fs::write(
        &path,
        "services:\n  worker:\n    image: envctl/busybox:1.35\n    restart: on-failure\n",
    )
    .unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("envctl"))
        .current_dir(dir.path())
        .args(["render", path.to_str().unwrap(), "--target", "kubernetes"])
        .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10")
        .output()
        .unwrap();
    let err = support::text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains("service `worker`: `restart: on-failure`"),
        "{err}"
    );
}

#[test]
fn docker_target_is_still_the_default() {
    let out = Command::new(assert_cmd::cargo::cargo_bin("envctl"))
        .current_dir(root())
        .args([
            "render",
            "cache-demo",
            "--target",
            "docker",
            "--output",
            "json",
        ])
        .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10")
        .output()
        .unwrap();
    assert!(out.status.success());
    let default = Command::new(assert_cmd::cargo::cargo_bin("envctl"))
        .current_dir(root())
        .args(["render", "cache-demo", "--output", "json"])
        .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10")
        .output()
        .unwrap();
    assert_eq!(out.stdout, default.stdout);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["instance"], "cache-demo");
}

/// `kubernetes-validate` (PyPI; scripts/test.sh installs it) over `files`, strict, for the
/// pinned version. Missing is a failure, not a skip: CI must validate.
fn validate(files: &[&Path]) -> std::process::Output {
    let out = Command::new("python3")
        .args([
            "-m",
            "kubernetes_validate",
            "--strict",
            "--quiet",
            "-k",
            KUBERNETES_VERSION,
        ])
        .args(files)
        .output()
        .expect("python3 runs");
    let err = support::text(&out.stderr);
    assert!(
        !err.contains("No module named kubernetes_validate"),
        "kubernetes-validate is not installed: `pip install kubernetes-validate` (scripts/test.sh does)"
    );
    out
}

#[test]
fn golden_manifests_pass_the_kubernetes_schemas() {
    let files: Vec<PathBuf> = CASES
        .iter()
        .map(|(file, _)| *file)
        .chain([WITH_INPUTS])
        .map(golden)
        .collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = validate(&refs);
    assert!(
        out.status.success(),
        "kubernetes-validate {KUBERNETES_VERSION} refused the golden manifests:\n{}{}",
        support::text(&out.stdout),
        support::text(&out.stderr)
    );
}

#[test]
fn every_mapped_key_gives_manifests_the_schemas_accept() {
    let out = render(&["tests/fixtures/kubernetes/every-key.yaml"]);
    assert!(out.status.success(), "{}", support::text(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("every-key.yaml");
    std::fs::write(&path, &out.stdout).unwrap();
    let checked = validate(&[&path]);
    assert!(
        checked.status.success(),
        "kubernetes-validate {KUBERNETES_VERSION} refused every-key.yaml:\n{}{}",
        support::text(&checked.stdout),
        support::text(&checked.stderr)
    );
    // The keys only this fixture has reach the manifests.
    let text = support::text(&out.stdout);
    for wanted in [
        "protocol: UDP",
        "hostPath:",
        "restartPolicy: OnFailure",
        "privileged: true",
        "hostNetwork: true",
        "hostPID: true",
        "io.envctl.local-image",
        "name: helper",
        "imagePullPolicy: Always",
        "key: db.KEY",
    ] {
        assert!(text.contains(wanted), "no `{wanted}` in:\n{text}");
    }
    assert!(!text.contains("not a real secret"), "{text}");
}

#[test]
fn the_schema_check_refuses_a_broken_manifest() {
    let dir = tempfile::tempdir().unwrap();
    // A valid Namespace, a Deployment whose replicas is text, and a ConfigMap with a field
    // the schema does not know (strict mode): both must be reported.
    let text = stdout_of(&["cache-demo"]);
    let namespace = text.split("---\n").nth(1).unwrap();
    let broken = format!(
        "---\n{namespace}---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n\
         spec:\n  replicas: one\n  selector: {{ matchLabels: {{ a: b }} }}\n  \
         template:\n    metadata: {{ labels: {{ a: b }} }}\n    \
         spec:\n      containers: [{{ name: x, image: x }}]\n\
         ---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{ name: y }}\ncolour: red\n"
    );
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, broken).unwrap();
    let out = validate(&[&path]);
    let report = format!(
        "{}{}",
        support::text(&out.stdout),
        support::text(&out.stderr)
    );
    assert!(!out.status.success(), "a broken manifest passed:\n{report}");
    assert!(report.contains("spec.replicas: 'one'"), "{report}");
    assert!(report.contains("colour"), "{report}");
}

//! Issue 21: `envctl import` on the Compose corpus in tests/import/ (see its README.md).
//!
//! Each case directory is copied to a temp dir and imported from there; the definition must
//! validate, the report (stderr lines `FILE:LINE: lost|changed|note: ...`) must equal
//! `tests/import/CASE.report` and the definition `tests/import/CASE.envctl.yaml`.
//! `ENVCTL_BLESS=1 cargo test --test import_cli` rewrites both golden files.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::text;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import")
}

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The case's import arguments: its `args` file (`{dir}` is the case directory), else its
/// Compose file.
fn import_args(case: &str) -> Vec<String> {
    let dir = corpus().join(case);
    if let Ok(args) = std::fs::read_to_string(dir.join("args")) {
        return args
            .split_whitespace()
            .map(|a| a.replace("{dir}", case))
            .collect();
    }
    let file = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yml",
        "docker-compose.yaml",
    ]
    .iter()
    .find(|f| dir.join(f).is_file())
    .unwrap_or_else(|| panic!("{case}: no Compose file"));
    vec![format!("{case}/{file}")]
}

fn envctl(dir: &Path, args: &[String]) -> Output {
    Command::new(assert_cmd::cargo::cargo_bin("envctl"))
        .current_dir(dir)
        .env(
            "ENVCTL_TEMPLATE_PATH",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
        )
        .env_remove("ENVCTL_ADVERTISE_HOST")
        .args(args)
        .output()
        .expect("run envctl")
}

fn report_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| {
            [": lost: ", ": changed: ", ": note: "]
                .iter()
                .any(|k| l.contains(k))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Compares with a golden file, or rewrites it under ENVCTL_BLESS=1.
fn golden(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("ENVCTL_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "{} differs (ENVCTL_BLESS=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        ))
    }
}

#[test]
fn the_corpus_has_enough_cases_and_a_readme_entry_for_each() {
    let cases = cases();
    assert!(cases.len() >= 25, "{} cases", cases.len());
    let readme = std::fs::read_to_string(corpus().join("README.md")).unwrap();
    for case in &cases {
        assert!(
            readme.contains(&format!("`{case}`")),
            "README.md does not describe {case}"
        );
    }
}

#[test]
fn every_case_imports_validates_and_matches_its_golden_report() {
    let mut failures = Vec::new();
    for case in cases() {
        let tmp = tempfile::tempdir().unwrap();
        support::copy_dir(&corpus().join(&case), &tmp.path().join(&case));
        let out_file = format!("environments/{case}.yaml");
        let mut args = vec!["import".to_string()];
        args.extend(import_args(&case));
        args.extend(["-o".to_string(), out_file.clone()]);
        let out = envctl(tmp.path(), &args);
        let stderr = text(&out.stderr);
        if !out.status.success() {
            failures.push(format!(
                "{case}: import failed\n{stderr}{}",
                text(&out.stdout)
            ));
            continue;
        }
        let validate = envctl(tmp.path(), &["validate".into(), out_file.clone()]);
        if !validate.status.success() {
            failures.push(format!(
                "{case}: validate failed\n{}",
                text(&validate.stderr)
            ));
        }
        let report = report_lines(&stderr);
        if let Err(e) = golden(&corpus().join(format!("{case}.report")), &report) {
            failures.push(e);
        }
        let written = std::fs::read_to_string(tmp.path().join(&out_file)).unwrap();
        if let Err(e) = golden(&corpus().join(format!("{case}.envctl.yaml")), &written) {
            failures.push(e);
        }
        // --check agrees with the report: it fails exactly when something is lost.
        let mut check_args = args.clone();
        check_args.push("--check".into());
        check_args.push("--force".into());
        let check = envctl(tmp.path(), &check_args);
        let lost = report.contains(": lost: ");
        if check.status.success() == lost {
            failures.push(format!(
                "{case}: --check exited {:?} but the report has {} lost lines",
                check.status.code(),
                report.matches(": lost: ").count()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn check_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    support::copy_dir(&corpus().join("healthcheck-forms"), &tmp.path().join("c"));
    let out = envctl(
        tmp.path(),
        &[
            "import".into(),
            "c/docker-compose.yml".into(),
            "--check".into(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("c/docker-compose.yml:29: lost: "));
    assert!(
        !tmp.path().join("environments").exists(),
        "--check created environments/"
    );
}

#[test]
fn an_existing_definition_is_not_overwritten_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    support::copy_dir(&corpus().join("up-cache-worker"), &tmp.path().join("c"));
    std::fs::create_dir(tmp.path().join("environments")).unwrap();
    std::fs::write(tmp.path().join("environments/c.yaml"), "keep me\n").unwrap();
    let args: Vec<String> = ["import", "c/compose.yaml", "--name", "c"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = envctl(tmp.path(), &args);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    let kept = std::fs::read_to_string(tmp.path().join("environments/c.yaml")).unwrap();
    assert_eq!(kept, "keep me\n");
    let mut forced = args.clone();
    forced.push("--force".into());
    support::assert_ok(&envctl(tmp.path(), &forced));
    let written = std::fs::read_to_string(tmp.path().join("environments/c.yaml")).unwrap();
    assert!(written.contains("name: c\n"), "{written}");
    // No temporary file is left next to it.
    let names: Vec<String> = std::fs::read_dir(tmp.path().join("environments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["c.yaml"]);
}

#[test]
fn profiles_are_started_with_set_profiles() {
    let tmp = imported_as_c("up-web-override");
    let render = |extra: &[&str]| {
        let mut args: Vec<String> = vec![
            "render".into(),
            "c".into(),
            "--output".into(),
            "json".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let out = envctl(tmp.path(), &args);
        support::assert_ok(&out);
        text(&out.stdout)
    };
    assert!(!render(&[]).contains("\"debug\""));
    assert!(render(&["--set", "profiles=debug"]).contains("\"debug\""));
}

#[test]
fn variables_become_set_values() {
    let tmp = imported_as_c("up-cache-worker");
    let out = envctl(
        tmp.path(),
        &[
            "render".into(),
            "c".into(),
            "--set".into(),
            "QUEUE=urgent".into(),
        ],
    );
    support::assert_ok(&out);
    assert!(
        text(&out.stdout).contains("urgent"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_template_probe_counts_only_with_use_templates() {
    let tmp = tempfile::tempdir().unwrap();
    support::copy_dir(&corpus().join("shipped-templates"), &tmp.path().join("c"));
    let base: Vec<String> = ["import", "c/docker-compose.yml", "--check"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let plain = envctl(tmp.path(), &base);
    assert!(
        text(&plain.stderr)
            .contains("lost: `cache: service_healthy`, but `cache` has no healthcheck"),
        "{}",
        text(&plain.stderr)
    );
    let mut with = base.clone();
    with.push("--use-templates".into());
    let templated = envctl(tmp.path(), &with);
    support::assert_ok(&templated);
    assert!(
        !text(&templated.stderr).contains("lost:"),
        "{}",
        text(&templated.stderr)
    );
}

/// A temporary folder holding corpus case `case` under `c/`, imported as environment `c`.
fn imported_as_c(case: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    support::copy_dir(&corpus().join(case), &tmp.path().join("c"));
    support::assert_ok(&envctl(
        tmp.path(),
        &[
            "import".into(),
            "c/compose.yaml".into(),
            "--name".into(),
            "c".into(),
        ],
    ));
    tmp
}

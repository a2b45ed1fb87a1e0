//! Issue 19 through the CLI, without an engine: host paths are judged by where they lead,
//! `allow:` is granted only by the loaded file, `render` shows host access, a `--set` value is
//! one scalar, and a library cannot read host files through symlinks. (The symlink swapped in
//! at run time is tested against the real engine in security_docker.rs.)

use crate::support;

use std::path::Path;
use std::process::Output;

use support::text;

/// A definition directory (`environments/<env>.yaml`) and `envctl` run inside it.
struct Defs {
    dir: tempfile::TempDir,
    env: &'static str,
}

impl Defs {
    fn new(definition: &str) -> Self {
        let env = "sec";
        Self {
            dir: support::definition_dir(env, definition),
            env,
        }
    }

    fn envs(&self) -> std::path::PathBuf {
        self.dir.path().join("environments")
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.envs().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn envctl(&self, args: &[&str]) -> Output {
        assert_cmd::Command::cargo_bin("envctl")
            .unwrap()
            .current_dir(self.dir.path())
            .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10")
            .env("ENVCTL_TEMPLATE_PATH", self.dir.path().join("no-templates"))
            .args(args)
            .output()
            .unwrap()
    }

    fn validate(&self) -> Output {
        self.envctl(&["validate", self.env])
    }

    /// The stderr of a failing `validate`.
    #[track_caller]
    fn errors(&self) -> String {
        let out = self.validate();
        assert!(
            !out.status.success(),
            "expected problems: {}",
            text(&out.stdout)
        );
        text(&out.stderr)
    }
}

const BUSYBOX: &str = "envctl/busybox:1.35";

#[test]
fn a_bind_source_that_cannot_be_resolved_is_refused_not_judged_by_its_text() {
    let defs = Defs::new(&format!(
        "services:\n  a:\n    image: {BUSYBOX}\n    volumes: [\"./loop/x:/x\"]\n"
    ));
    // A symlink loop inside the directory: its text looks "inside", but it leads nowhere.
    std::os::unix::fs::symlink("loop", defs.envs().join("loop")).unwrap();
    let errors = defs.errors();
    assert!(errors.contains("cannot be resolved"), "{errors}");
    assert!(errors.contains("sec.yaml:4:"), "{errors}");
}

#[test]
fn bind_sources_pass_to_the_engine_resolved() {
    let defs = Defs::new(&format!(
        "services:\n  a:\n    image: {BUSYBOX}\n    volumes: [\"./link:/x\"]\n"
    ));
    std::fs::create_dir(defs.envs().join("real")).unwrap();
    std::os::unix::fs::symlink("real", defs.envs().join("link")).unwrap();
    let out = defs.envctl(&["render", defs.env, "--output", "json"]);
    support::assert_ok(&out);
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let real = defs.envs().canonicalize().unwrap().join("real");
    assert_eq!(
        view["services"]["a"]["volumes"][0],
        format!("{}:/x", real.display())
    );
}

#[test]
fn a_build_context_outside_the_directory_needs_allow() {
    let body = "services:\n  app:\n    build: { context: ../.. }\n";
    let defs = Defs::new(body);
    let errors = defs.errors();
    assert!(
        errors.contains("outside the definition's directory"),
        "{errors}"
    );
    assert!(errors.contains("allow: [outside-build]"), "{errors}");
    assert!(errors.contains("sec.yaml:3:"), "{errors}");
    let allowed = Defs::new(&format!("allow: [outside-build]\n{body}"));
    support::assert_ok(&allowed.validate());
}

#[test]
fn a_secret_file_outside_the_directory_needs_allow() {
    let body =
        format!("services:\n  a:\n    image: {BUSYBOX}\n    env:\n      KEY: {{ from_file: /etc/hostname }}\n      OWN: {{ from_file: ./own.txt }}\n");
    let defs = Defs::new(&body);
    let errors = defs.errors();
    assert!(
        errors.contains("reads `KEY` from /etc/hostname"),
        "{errors}"
    );
    assert!(errors.contains("allow: [outside-secrets]"), "{errors}");
    assert!(!errors.contains("OWN"), "a file inside is fine: {errors}");
    let allowed = Defs::new(&format!("allow: [outside-secrets]\n{body}"));
    support::assert_ok(&allowed.validate());
}

#[test]
fn allow_of_a_base_does_not_carry_over_to_the_file_that_extends_it() {
    let defs = Defs::new("extends: base.yaml\nservices:\n  b:\n    image: x\n");
    defs.write(
        "base.yaml",
        &format!(
            "allow: [privileged]\nservices:\n  a:\n    image: {BUSYBOX}\n    privileged: true\n"
        ),
    );
    // The base alone is a valid environment: it grants itself what it uses.
    support::assert_ok(&defs.envctl(&["validate", "environments/base.yaml"]));
    let errors = defs.errors();
    assert!(errors.contains("service `a` runs privileged"), "{errors}");
    assert!(errors.contains("does not carry over"), "{errors}");
    defs.write(
        "sec.yaml",
        "extends: base.yaml\nallow: [privileged]\nservices:\n  b:\n    image: x\n",
    );
    support::assert_ok(&defs.validate());
}

#[test]
fn render_shows_host_access() {
    let defs = Defs::new(&format!(
        "allow: [privileged, host-network, host-pid]\nservices:\n  a:\n    image: {BUSYBOX}\n    privileged: true\n    network_mode: host\n    pid: host\n"
    ));
    let out = defs.envctl(&["render", defs.env]);
    support::assert_ok(&out);
    let yaml = text(&out.stdout);
    for needle in ["privileged: true", "network_mode: host", "pid: host"] {
        assert!(yaml.contains(needle), "no {needle:?} in\n{yaml}");
    }
}

#[test]
fn a_set_value_is_one_scalar_whatever_it_contains() {
    let defs = Defs::new(&format!(
        "description: {{{{ set.note }}}}\nservices:\n  a:\n    image: {BUSYBOX}\n    ports: [{{{{ set.port }}}}]\n    env: {{ A: \"{{{{ set.quoted }}}}\", TAG: {{{{ set.tag }}}} }}\n"
    ));
    let note = "x\nallow: [privileged, outside-binds]";
    let quoted = "y\", B: \"injected";
    let out = defs.envctl(&[
        "render",
        defs.env,
        "--output",
        "json",
        "--set",
        &format!("note={note}"),
        "--set",
        &format!("quoted={quoted}"),
        "--set",
        "port=8080",
        "--set",
        "tag=1.2.3-rc/x",
    ]);
    support::assert_ok(&out);
    let view: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(view["description"], note, "{view}");
    let a = &view["services"]["a"];
    assert_eq!(a["env"]["A"], quoted, "{a}");
    assert!(a["env"].get("B").is_none(), "{a}");
    assert_eq!(a["env"]["TAG"], "1.2.3-rc/x");
    assert_eq!(
        a["ports"][0], "8080/tcp",
        "plain values keep their YAML meaning"
    );
    // Tera logic sees the value itself; `render --output text` shows it as written.
    let out = defs.envctl(&[
        "render",
        defs.env,
        "--output",
        "text",
        "--set",
        &format!("note={note}"),
        "--set",
        "quoted=q",
        "--set",
        "port=1",
        "--set",
        "tag=t",
    ]);
    support::assert_ok(&out);
    assert!(text(&out.stdout).contains(note), "{}", text(&out.stdout));
}

#[test]
fn a_library_symlink_out_of_the_library_is_refused_and_never_printed() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("host-file");
    std::fs::write(&secret, "HOST-SECRET-LINE: [unclosed\n").unwrap();
    let defs =
        Defs::new("libraries:\n  team: { path: lib }\nservices:\n  a:\n    template: team/evil\n");
    std::fs::create_dir_all(defs.envs().join("lib")).unwrap();
    std::os::unix::fs::symlink(&secret, defs.envs().join("lib/evil.yaml")).unwrap();
    let check = |out: &Output| {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!out.status.success(), "{all}");
        assert!(
            !all.contains("HOST-SECRET-LINE"),
            "host file content printed:\n{all}"
        );
        assert!(all.contains("symlink out of its library"), "{all}");
    };
    check(&defs.validate());
    check(&defs.envctl(&["template", "show", "team/evil", "--env", defs.env]));
    check(&defs.envctl(&["template", "list", "--env", defs.env]));
    assert!(Path::new(&secret).exists());
}

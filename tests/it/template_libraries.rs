//! Issue 7: template libraries (git, pinned in envctl.lock, offline from the cache),
//! environment inheritance, the JSON Schema and `envctl init`, through the CLI.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;

/// A project dir, a library origin repository and a private cache, all in one temp dir.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let world = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(world.project().join("environments")).unwrap();
        world
    }

    fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    fn origin(&self) -> PathBuf {
        self.dir.path().join("origin")
    }

    fn url(&self) -> String {
        format!("file://{}", self.origin().display())
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    /// `envctl` in the project, with its own cache and no user-wide templates.
    fn envctl(&self) -> Command {
        let mut cmd = Command::cargo_bin("envctl").unwrap();
        cmd.current_dir(self.project())
            .env("ENVCTL_CACHE_DIR", self.cache())
            .env("ENVCTL_TEMPLATE_PATH", "")
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("ENVCTL_ADVERTISE_HOST", "192.0.2.10");
        cmd
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Process::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
            .args(args)
            .current_dir(self.origin())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The origin library: v1 (redis with VERSION=1), then v2 (VERSION=2, a new param, and
    /// a broken template).
    fn make_library(&self) {
        let templates = self.origin().join("templates");
        std::fs::create_dir_all(&templates).unwrap();
        self.git(&["init", "-q", "-b", "main"]);
        std::fs::write(
            templates.join("redis.yaml"),
            "description: Platform Redis v1\nparams:\n  version: { type: string, default: \"7\" }\nservice:\n  image: \"envctl/redis:{{ version }}\"\n  ports: [6379]\n  env: { LIBRARY_VERSION: \"1\" }\n",
        )
        .unwrap();
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "v1"]);
        self.git(&["tag", "v1"]);
        std::fs::write(
            templates.join("redis.yaml"),
            "description: Platform Redis v2\nparams:\n  version: { type: string, default: \"7\" }\n  mode: { type: enum, values: [cache, store], default: cache }\nservice:\n  image: \"envctl/redis:{{ version }}\"\n  ports: [6379]\n  env: { LIBRARY_VERSION: \"2\", MODE: \"{{ mode }}\" }\n",
        )
        .unwrap();
        std::fs::write(
            templates.join("broken.yaml"),
            "description: broken on purpose\nservice:\n  image: x\n  ports: [6379,\n",
        )
        .unwrap();
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "v2"]);
        self.git(&["tag", "-a", "v2", "-m", "v2"]);
    }

    fn commit_of(&self, git_ref: &str) -> String {
        self.git(&["rev-parse", &format!("{git_ref}^{{commit}}")])
    }

    fn write_env(&self, name: &str, text: &str) -> PathBuf {
        let path = self
            .project()
            .join("environments")
            .join(format!("{name}.yaml"));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn shop(&self, git_ref: &str, template: &str) {
        self.write_env(
            "shop",
            &format!(
                "libraries:\n  platform: {{ git: \"{}\", ref: {git_ref} }}\nservices:\n  cache:\n    template: {template}\n",
                self.url()
            ),
        );
    }

    fn render_json(&self) -> serde_json::Value {
        let out = self
            .envctl()
            .args(["render", "shop", "-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "render failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn failure(&self, args: &[&str]) -> String {
        let out = self.envctl().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn lock(&self) -> String {
        std::fs::read_to_string(self.project().join("environments/envctl.lock")).unwrap()
    }
}

fn cache_env(env: &serde_json::Value) -> (&str, &str) {
    let cache = &env["services"]["cache"];
    (
        cache["env"]["LIBRARY_VERSION"].as_str().unwrap(),
        cache["template"].as_str().unwrap(),
    )
}

#[test]
fn pin_v1_then_upgrade_to_v2_with_template_update() {
    let w = World::new();
    w.make_library();
    let (v1, v2) = (w.commit_of("v1"), w.commit_of("v2"));
    w.shop("v1", "platform/redis");

    let env = w.render_json();
    assert_eq!(
        cache_env(&env),
        ("1", format!("platform/redis@{}", &v1[..7]).as_str())
    );
    assert!(w.lock().contains(&v1), "{}", w.lock());

    // Upgrade on purpose: point at v2 and re-resolve.
    w.shop("v2", "platform/redis");
    let out = w
        .envctl()
        .args(["template", "update", "shop"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("v2: locked at {}", &v2[..7])),
        "{stdout}"
    );
    let env = w.render_json();
    assert_eq!(
        cache_env(&env),
        ("2", format!("platform/redis@{}", &v2[..7]).as_str())
    );
    assert_eq!(env["services"]["cache"]["env"]["MODE"], "cache");

    // A typed param of the new version is checked against its values.
    w.write_env(
        "shop",
        &format!(
            "libraries:\n  platform: {{ git: \"{}\", ref: v2 }}\nservices:\n  cache:\n    template: platform/redis\n    with: {{ mode: stroe }}\n",
            w.url()
        ),
    );
    let err = w.failure(&["validate", "shop"]);
    assert!(
        err.contains("param `mode` must be one of `cache`, `store`, got stroe"),
        "{err}"
    );
}

#[test]
fn a_locked_branch_stays_put_until_template_update() {
    let w = World::new();
    w.make_library();
    w.git(&["checkout", "-q", "-b", "stable", "v1"]);
    w.shop("stable", "platform/redis");
    assert_eq!(cache_env(&w.render_json()).0, "1");

    // The branch moves upstream; the lock keeps the environment where it was.
    w.git(&["merge", "-q", "--ff-only", "main"]);
    assert_eq!(cache_env(&w.render_json()).0, "1");

    let out = w.envctl().args(["template", "update"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let (v1, v2) = (w.commit_of("v1"), w.commit_of("v2"));
    assert!(
        stdout.contains(&format!("stable: {} -> {}", &v1[..7], &v2[..7])),
        "{stdout}"
    );
    assert_eq!(cache_env(&w.render_json()).0, "2");
    let again = w
        .envctl()
        .args(["template", "update", "shop"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));
}

#[test]
fn works_offline_from_the_cache_once_locked() {
    let w = World::new();
    w.make_library();
    w.shop("v1", "platform/redis");
    assert_eq!(cache_env(&w.render_json()).0, "1");

    std::fs::remove_dir_all(w.origin()).unwrap();
    assert_eq!(cache_env(&w.render_json()).0, "1", "served from the cache");

    // Without the cache, the unreachable repository is a clear error.
    std::fs::remove_dir_all(w.cache()).unwrap();
    let err = w.failure(&["render", "shop"]);
    assert!(
        err.contains("library `platform`: cannot fetch file://"),
        "{err}"
    );
    assert!(err.contains("for ref `v1`"), "{err}");
    assert!(err.contains("shop.yaml:2:"), "{err}");
}

#[test]
fn a_missing_ref_names_the_library_the_ref_and_the_file() {
    let w = World::new();
    w.make_library();
    w.shop("v9", "platform/redis");
    let err = w.failure(&["validate", "shop"]);
    assert!(
        err.contains("library `platform`: ref `v9` not found in file://"),
        "{err}"
    );
    assert!(err.contains("environments/shop.yaml:2:"), "{err}");
    assert!(
        err.contains("1 problem found"),
        "no cascade of template-not-found errors: {err}"
    );
    assert!(!w.project().join("environments/envctl.lock").exists());
}

#[test]
fn a_broken_template_in_the_library_names_the_library_the_ref_and_the_file() {
    let w = World::new();
    w.make_library();
    let v2 = w.commit_of("v2");
    w.shop("v2", "platform/broken");
    let err = w.failure(&["validate", "shop"]);
    assert!(
        err.contains(&format!(
            "library `platform` (ref `v2`, commit {})",
            &v2[..7]
        )),
        "{err}"
    );
    assert!(err.contains("templates/broken.yaml:4:"), "{err}");
    assert!(err.contains("template `platform/broken`"), "{err}");

    w.shop("v2", "platform/rdis");
    let err = w.failure(&["validate", "shop"]);
    assert!(
        err.contains("template `rdis` not found in library `platform`"),
        "{err}"
    );
    assert!(err.contains("did you mean `platform/redis`?"), "{err}");
}

#[test]
fn template_show_documents_library_params() {
    let w = World::new();
    w.make_library();
    w.shop("v2", "platform/redis");
    let out = w
        .envctl()
        .args(["template", "show", "platform/redis", "--env", "shop"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Platform Redis v2"), "{text}");
    assert!(
        text.contains("mode  [one of `cache`, `store`, default: cache]"),
        "{text}"
    );
    assert!(text.contains("recorded as: platform/redis@"), "{text}");
}

#[test]
fn extends_overlays_a_base_and_render_shows_the_result() {
    let w = World::new();
    std::fs::create_dir_all(w.project().join("base")).unwrap();
    std::fs::write(
        w.project().join("base/infra.yaml"),
        "services:\n  zk:\n    image: envctl/zookeeper:3.8\n    env: { A: base, B: base }\n",
    )
    .unwrap();
    w.write_env(
        "shop",
        "extends: ../base/infra.yaml\nservices:\n  zk:\n    env: { B: shop }\n  web:\n    image: envctl/nginx:1.22\n",
    );
    let env = w.render_json();
    assert_eq!(env["services"]["zk"]["image"], "envctl/zookeeper:3.8");
    assert_eq!(env["services"]["zk"]["env"]["A"], "base");
    assert_eq!(env["services"]["zk"]["env"]["B"], "shop");
    assert_eq!(env["services"]["web"]["image"], "envctl/nginx:1.22");

    std::fs::write(
        w.project().join("base/infra.yaml"),
        "extends: ../environments/shop.yaml\nservices: {}\n",
    )
    .unwrap();
    let err = w.failure(&["render", "shop"]);
    assert!(err.contains("`extends` cycle: "), "{err}");
    assert!(err.contains("shop.yaml"), "{err}");
    assert!(err.contains("infra.yaml"), "{err}");
}

#[test]
fn schema_is_json_and_names_every_top_level_key() {
    let w = World::new();
    let out = w.envctl().arg("schema").output().unwrap();
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "allow",
            "description",
            "extends",
            "libraries",
            "name",
            "overlay",
            "services",
            "ttl"
        ]
    );
    assert_eq!(schema["additionalProperties"], false);
    let service = &schema["$defs"]["ServiceDef"]["properties"];
    for key in [
        "template",
        "with",
        "image",
        "ports",
        "healthcheck",
        "depends_on",
    ] {
        assert!(service.get(key).is_some(), "no {key} in {service}");
    }
    let out = w.envctl().args(["schema", "--template"]).output().unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(schema["properties"]["service"].is_object(), "{schema}");
}

#[test]
fn init_scaffolds_a_tree_that_validates_and_refuses_to_overwrite() {
    let w = World::new();
    let target = w.dir.path().join("new");
    w.envctl().arg("init").arg(&target).assert().success();
    let mut validate = w.envctl();
    validate
        .current_dir(&target)
        .arg("validate")
        .assert()
        .success();
    let out = w.envctl().arg("init").arg(&target).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    assert!(Path::new(&target.join("templates/cache.yaml")).is_file());
}

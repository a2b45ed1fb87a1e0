//! One envctl environment per test: its definition in a temp dir under a name no other test
//! uses, envctl run against it with the test's own lock and state directories, its containers
//! read from the engine, and a drop guard that takes every instance of it down (volumes too),
//! removes what the test planted or built, and fails the test when that cleanup fails.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::OnceLock;
use std::time::Duration;

use envctl::engine::docker::DockerEngine;
use envctl::engine::{Engine, LabelFilter, ObservedContainer};
use envctl::model::labels;

use super::{
    check_cleanup, child, cleanup_failed, docker_cli, docker_cli_ok, docker_stdout, envctl_in,
    text, unique_name, BUSYBOX,
};

pub struct Instance {
    pub dir: tempfile::TempDir,
    /// The environment's name, unique to this test; `@ENV@` in its definition becomes it.
    pub env: String,
    /// envctl children still running when the test ends: the guard kills them first.
    pub children: Vec<Child>,
    vars: Vec<(String, String)>,
    unset: Vec<String>,
    timeout: Duration,
    /// Environments whose instances the guard takes down.
    defined: RefCell<Vec<String>>,
    /// `(kind, name or id)` of objects made behind envctl's back, removed by the guard.
    planted: RefCell<Vec<(&'static str, String)>>,
    /// Images (tags or IDs) the test made, removed by the guard after the instances.
    images: RefCell<Vec<String>>,
    engine: OnceLock<(tokio::runtime::Runtime, DockerEngine)>,
}

impl Instance {
    /// Environment `<prefix><unique>` defined by `definition`.
    pub fn new(prefix: &str, definition: &str) -> Self {
        let me = Self::without_definition(prefix);
        me.define(&me.env, &definition.replace("@ENV@", &me.env));
        me
    }

    /// An empty `environments/` directory: the test defines what it needs with `define`
    /// (`env` is reserved for it but not yet defined).
    pub fn without_definition(prefix: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("environments")).unwrap();
        Self {
            dir,
            env: unique_name(prefix),
            children: Vec::new(),
            vars: Vec::new(),
            unset: Vec::new(),
            timeout: Duration::from_secs(120),
            defined: RefCell::default(),
            planted: RefCell::default(),
            images: RefCell::default(),
            engine: OnceLock::new(),
        }
    }

    /// Sets `key` for every envctl run.
    pub fn with_var(mut self, key: &str, value: &str) -> Self {
        self.put_var(key, value);
        self
    }

    /// Sets (or changes) `key` for the envctl runs from now on.
    pub fn put_var(&mut self, key: &str, value: &str) {
        self.forget_var(key);
        self.vars.push((key.into(), value.into()));
    }

    /// Stops setting `key` (set with `with_var` or `put_var`) for the runs from now on.
    pub fn forget_var(&mut self, key: &str) {
        self.vars.retain(|(k, _)| k != key);
    }

    /// Removes `key` (inherited or a default of these runs) from every envctl run.
    pub fn without_var(mut self, key: &str) -> Self {
        self.unset.push(key.into());
        self
    }

    /// Puts the shipped `templates/` on the template path of every run.
    pub fn with_shared_templates(self) -> Self {
        let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        self.with_var("ENVCTL_TEMPLATE_PATH", templates.to_str().unwrap())
    }

    /// How long one envctl run may take (default 2 minutes).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Writes `environments/<env>.yaml`; the guard takes every instance of `env` down.
    pub fn define(&self, env: &str, definition: &str) {
        self.define_refused(env, definition);
        self.defined_elsewhere(env);
    }

    /// An environment the test defined itself (`envctl import`, `init`): the guard takes
    /// every instance of it down.
    pub fn defined_elsewhere(&self, env: &str) {
        self.defined.borrow_mut().push(env.to_string());
    }

    /// Writes `environments/<env>.yaml` for a name envctl refuses: nothing can exist under
    /// it, and `down` refuses it too, so the guard has nothing to take down.
    pub fn define_refused(&self, env: &str, definition: &str) {
        self.write(&format!("{env}.yaml"), definition);
    }

    /// A path under `environments/`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join("environments").join(rel)
    }

    /// Writes a file under `environments/`, making its directories.
    pub fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// `envctl ARGS` in the test's directory, with its own lock and state directories.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = envctl_in(self.dir.path(), args);
        cmd.env("ENVCTL_STATE_DIR", self.dir.path().join("state"));
        for (key, value) in &self.vars {
            cmd.env(key, value);
        }
        for key in &self.unset {
            cmd.env_remove(key);
        }
        cmd
    }

    /// Runs `envctl ARGS` to the end (failing the test after the timeout).
    pub fn envctl(&self, args: &[&str]) -> Output {
        let mut cmd = assert_cmd::Command::from_std(self.command(args));
        cmd.timeout(self.timeout);
        cmd.output().expect("envctl runs")
    }

    /// Runs `envctl ARGS`, asserting success; its stdout.
    #[track_caller]
    pub fn envctl_ok(&self, args: &[&str]) -> String {
        let out = self.envctl(args);
        super::assert_ok(&out);
        text(&out.stdout)
    }

    /// The host port envctl published for `service`'s container port `port` (`envctl ports`
    /// of the main instance).
    #[track_caller]
    pub fn host_port(&self, service: &str, port: u16) -> u16 {
        let listed = self.envctl_ok(&["ports", &self.env, "--output", "json"]);
        let ports: serde_json::Value = serde_json::from_str(&listed).unwrap();
        ports
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["service"] == service && p["container_port"] == port)
            .and_then(|p| p["host_port"].as_u64())
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or_else(|| panic!("{service} publishes no {port}: {ports}"))
    }

    /// `envctl <command> <env> <rest...>`.
    pub fn run(&self, command: &str, rest: &[&str]) -> Output {
        let mut args = vec![command, self.env.as_str()];
        args.extend_from_slice(rest);
        self.envctl(&args)
    }

    /// Starts `envctl <command> <env> <rest...>`; its stdout and stderr lines.
    pub fn spawn(
        &self,
        command: &str,
        rest: &[&str],
    ) -> (Child, Receiver<String>, Receiver<String>) {
        let mut args = vec![command, self.env.as_str()];
        args.extend_from_slice(rest);
        let mut process = self
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child::lines_of(process.stdout.take().unwrap());
        let err = child::lines_of(process.stderr.take().unwrap());
        (process, out, err)
    }

    /// The instance name of `feature` of this environment.
    pub fn instance(&self, feature: &str) -> String {
        format!("{}--{feature}", self.env)
    }

    /// The engine, connected on first use.
    pub fn engine(&self) -> &DockerEngine {
        &self.connection().1
    }

    /// Runs an engine call (or any future) to completion.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.connection().0.block_on(future)
    }

    fn connection(&self) -> &(tokio::runtime::Runtime, DockerEngine) {
        self.engine.get_or_init(super::connect_engine)
    }

    /// The containers of `instance` by service (by name when one has no service label).
    pub fn containers(&self, instance: &str) -> BTreeMap<String, ObservedContainer> {
        self.block_on(
            self.engine()
                .list_containers(&LabelFilter::instance(instance)),
        )
        .unwrap()
        .into_iter()
        .map(|c| {
            let key = c.labels.get(labels::SERVICE).cloned();
            (key.unwrap_or_else(|| c.name.clone()), c)
        })
        .collect()
    }

    /// Creates an object (`container`, `volume`, `network`) named `name` with the docker CLI,
    /// `args` before the name; the guard removes it.
    pub fn plant(&self, kind: &'static str, name: &str, args: &[&str]) {
        self.planted_elsewhere(kind, name);
        let mut all = vec![kind, "create"];
        all.extend_from_slice(args);
        if kind == "container" {
            all.extend_from_slice(&["--name", name, BUSYBOX, "sleep", "3600"]);
        } else {
            all.push(name);
        }
        docker_cli_ok(&all);
    }

    /// An object (by name or id) the test made itself; the guard removes it.
    pub fn planted_elsewhere(&self, kind: &'static str, name: &str) {
        self.planted.borrow_mut().push((kind, name.to_string()));
    }

    /// An image (tag or id) the test made or caused; the guard removes it.
    pub fn track_image(&self, image: &str) {
        self.images.borrow_mut().push(image.to_string());
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        for process in &mut self.children {
            super::check_cleanup_result("an envctl child", process.kill());
            super::check_cleanup_result("an envctl child", process.wait());
        }
        // A failed `down` is reported at the end: the sweep below still has to run.
        let mut failed = Vec::new();
        for env in self.defined.borrow().iter() {
            let out = self.envctl(&["down", env, "--all-features", "--volumes"]);
            if !out.status.success() {
                failed.push(format!("down {env} --all-features: {}", text(&out.stderr)));
            }
        }
        for (kind, name) in self.planted.borrow().iter().rev() {
            remove(kind, name, &format!("planted {kind} {name}"));
        }
        // What `down` left (it failed, or missed something) is removed, so the engine is left
        // as found either way, and then fails the test.
        for env in self.defined.borrow().iter() {
            let label = format!("label={}={env}", labels::ENV);
            for (kind, list) in [
                ("container", &["ps", "-aq", "--filter", &label][..]),
                ("network", &["network", "ls", "-q", "--filter", &label]),
                ("volume", &["volume", "ls", "-q", "--filter", &label]),
            ] {
                match docker_stdout(list) {
                    Ok(ids) => {
                        for id in ids.lines() {
                            let what = format!("{kind} {id} of {env}");
                            remove(kind, id, &what);
                            failed.push(format!("{what} left behind"));
                        }
                    }
                    Err(why) => cleanup_failed(&format!("listing the {kind}s of {env}"), &why),
                }
            }
        }
        for image in self.images.borrow().iter().rev() {
            check_cleanup(
                &format!("image {image}"),
                &docker_cli(&["image", "rm", "-f", image]),
            );
        }
        if !failed.is_empty() {
            cleanup_failed(
                &format!("the instances of {}", self.env),
                &failed.join("\n"),
            );
        }
    }
}

/// Removes an object of `kind` by name or id, reporting a failure as `what`.
fn remove(kind: &str, name: &str, what: &str) {
    let out = match kind {
        "container" => docker_cli(&["rm", "-f", "-v", name]),
        "network" => docker_cli(&["network", "rm", name]),
        other => docker_cli(&[other, "rm", "-f", name]),
    };
    check_cleanup(what, &out);
}

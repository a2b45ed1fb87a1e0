//! An envctl instance made by a test in its own directory, taken down on drop (and swept by
//! label should `down` fail), so the engine is left as found.

use std::path::Path;
use std::process::Output;

use super::{check_cleanup, check_cleanup_result, docker_stdout, envctl_in, text};

pub struct EnvFixture {
    pub dir: tempfile::TempDir,
    pub env: String,
}

impl EnvFixture {
    /// `environments/<unique env>.yaml` holding `definition`.
    pub fn new(prefix: &str, definition: &str) -> Self {
        let env = super::unique_name(prefix);
        let dir = super::definition_dir(&env, definition);
        Self { dir, env }
    }

    /// Replaces the definition (the next `up` converges to it).
    pub fn redefine(&self, definition: &str) {
        let file = self
            .dir
            .path()
            .join("environments")
            .join(format!("{}.yaml", self.env));
        std::fs::write(file, definition).unwrap();
    }

    /// `envctl ARGS` with the shared templates on the path.
    pub fn envctl(&self, args: &[&str]) -> Output {
        envctl_in(self.dir.path(), args)
            .env(
                "ENVCTL_TEMPLATE_PATH",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("templates"),
            )
            .output()
            .unwrap()
    }

    /// As `envctl`, asserting success; stdout.
    #[track_caller]
    pub fn envctl_ok(&self, args: &[&str]) -> String {
        let out = self.envctl(args);
        super::assert_ok(&out);
        text(&out.stdout)
    }
}

impl Drop for EnvFixture {
    fn drop(&mut self) {
        let out = self.envctl(&["down", &self.env, "--all-features"]);
        check_cleanup(&format!("down {} --all-features", self.env), &out);
        let label = format!("label=io.envctl.env={}", self.env);
        if let Ok(ids) = docker_stdout(&["ps", "-aq", "--filter", &label]) {
            for id in ids.lines() {
                check_cleanup_result(
                    &format!("container {id} of {}", self.env),
                    docker_stdout(&["rm", "-f", "-v", id]),
                );
            }
        }
        if let Ok(ids) = docker_stdout(&["network", "ls", "-q", "--filter", &label]) {
            for id in ids.lines() {
                check_cleanup_result(
                    &format!("network {id} of {}", self.env),
                    docker_stdout(&["network", "rm", id]),
                );
            }
        }
    }
}

//! Issue 18, seeding: a MariaDB service seeded from SQL files by `init:`, against the real
//! engine with the local `envctl/mariadb` image. Every test has its own environment name and
//! a guard that removes every instance of it, volumes included.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use tempfile::TempDir;

use support::protocols::sql_query;
use support::{assert_ok, text};

/// The root password of the `mysql` template (its default).
const PASSWORD: &str = "envctl";

const DEFINITION: &str = r#"
services:
  db:
    template: mysql
    init:
      - sql: seed/schema.sql
      - sql: seed/rows.sql
      - copy: { from: seed/conf, to: /etc/shop }
      - exec: ["sh", "-c", "cp /etc/shop/greeting.txt /var/lib/mysql/greeting.txt"]
"#;

const SCHEMA: &str = "CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(20));\n";
const ROWS: &str = "INSERT INTO item VALUES (1, 'one');\nINSERT INTO item VALUES (2, 'two');\n";

struct Fixture {
    dir: TempDir,
    env: String,
}

impl Fixture {
    fn new() -> Self {
        let env = support::unique_name("seed");
        let dir = support::definition_dir(&env, DEFINITION);
        let fx = Self { dir, env };
        fx.write("seed/schema.sql", SCHEMA);
        fx.write("seed/rows.sql", ROWS);
        fx.write("seed/conf/greeting.txt", "hello from the seed\n");
        fx
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join("environments").join(rel)
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// `envctl <command> <env> <rest...>` with the repository's templates.
    fn run(&self, command: &str, rest: &[&str]) -> Output {
        let mut args = vec![command, self.env.as_str()];
        args.extend_from_slice(rest);
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut cmd = support::envctl_in(self.dir.path(), &args);
        cmd.env("ENVCTL_TEMPLATE_PATH", templates)
            .env("ENVCTL_STATE_DIR", self.dir.path().join("state"));
        let mut cmd = assert_cmd::Command::from_std(cmd);
        cmd.timeout(Duration::from_secs(240));
        cmd.output().expect("envctl runs")
    }

    fn container(&self) -> String {
        format!("{}-db", self.env)
    }

    fn rows(&self) -> String {
        sql_query(
            &self.container(),
            PASSWORD,
            "SELECT id, name FROM app.item ORDER BY id",
        )
        .unwrap_or_else(|e| panic!("query: {e}"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let out = self.run("down", &["--all-features", "--volumes"]);
        support::check_cleanup(&format!("down {} --all-features", self.env), &out);
    }
}

#[test]
fn a_seed_runs_once_per_volume_and_again_only_on_request() {
    let fx = Fixture::new();
    assert_ok(&fx.run("up", &[]));
    assert_eq!(fx.rows(), "1\tone\n2\ttwo");
    let greeting = support::docker_stdout(&[
        "exec",
        &fx.container(),
        "cat",
        "/var/lib/mysql/greeting.txt",
    ]);
    assert_eq!(greeting.unwrap().trim(), "hello from the seed");

    // A second `up` finds the marker on the volume: the schema would fail if it ran again.
    sql_query(
        &fx.container(),
        PASSWORD,
        "INSERT INTO app.item VALUES (3, 'later')",
    )
    .unwrap();
    let again = fx.run("up", &[]);
    assert_ok(&again);
    assert!(
        !text(&again.stdout).contains("seeding"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(fx.rows(), "1\tone\n2\ttwo\n3\tlater");
    let out = fx.run("plan", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A changed seed is a change `plan` names; `up` keeps the seeded data.
    fx.write("seed/rows.sql", "INSERT INTO item VALUES (4, 'four');\n");
    let out = fx.run("plan", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("recreate db: changed: init"),
        "{}",
        text(&out.stdout)
    );
    assert_ok(&fx.run("up", &[]));
    assert_eq!(fx.rows(), "1\tone\n2\ttwo\n3\tlater");

    // `--reseed` runs the (re-runnable) seed on the data as it is.
    fx.write(
        "seed/schema.sql",
        &format!("DROP TABLE IF EXISTS item;\n{SCHEMA}"),
    );
    assert_ok(&fx.run("up", &["--reseed", "db"]));
    assert_eq!(fx.rows(), "4\tfour");
    let out = fx.run("up", &["--reseed", "nope"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr)
            .contains("--reseed nope: no such service; services with `init:` steps: db"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_failing_statement_is_named_by_file_and_line_and_the_seed_runs_again_next_time() {
    let fx = Fixture::new();
    fx.write(
        "seed/rows.sql",
        "INSERT INTO item VALUES (1, 'one');\n\nSELEC oops;\n",
    );
    let out = fx.run("up", &[]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("seed seed/rows.sql, line 3: ERROR 1064"),
        "{stderr}"
    );
    assert!(stderr.contains("3 | SELEC oops;"), "{stderr}");

    // No marker was written: once fixed, the next `up` seeds (the schema step re-runs, so it
    // must be re-runnable, as this one is made to be).
    fx.write(
        "seed/schema.sql",
        &format!("DROP TABLE IF EXISTS item;\n{SCHEMA}"),
    );
    fx.write("seed/rows.sql", ROWS);
    assert_ok(&fx.run("up", &[]));
    assert_eq!(fx.rows(), "1\tone\n2\ttwo");
}

//! Issue 18, snapshots: a seeded MariaDB + Redis instance captured with `snapshot save`,
//! changed afterwards; a feature instance `up --from-snapshot` has exactly the snapshot's rows
//! and keys (its seed not run), the source is unchanged; `down` and `gc` leave snapshots
//! alone, `snapshot rm` removes them. Real engine, local `envctl/*` images.

use crate::seed_docker::{rows, seeded};
use crate::support::instance::Instance;
use crate::support::{assert_ok, check_cleanup, docker_stdout, text};

const DEFINITION: &str = r#"
services:
  db:
    template: mysql
    init:
      - sql: seed/schema.sql
      - sql: seed/rows.sql
  cache:
    template: redis
    volumes: ["cache-data:/var/lib/redis"]
"#;

/// Removes the test's snapshots when it ends (before the instance guard runs).
struct Snapshots<'a> {
    fx: &'a Instance,
    names: Vec<String>,
}

impl Drop for Snapshots<'_> {
    fn drop(&mut self) {
        let listed = self.fx.envctl(&["snapshot", "ls", "--output", "json"]);
        for name in &self.names {
            if text(&listed.stdout).contains(&format!("\"name\":\"{name}\"")) {
                check_cleanup(
                    &format!("snapshot {name}"),
                    &self.fx.envctl(&["snapshot", "rm", name]),
                );
            }
        }
    }
}

fn redis(container: &str, args: &[&str]) -> String {
    let mut cmd = vec!["exec", container, "redis-cli"];
    cmd.extend_from_slice(args);
    docker_stdout(&cmd).unwrap_or_else(|e| panic!("redis-cli in {container}: {e}"))
}

/// Runs `statement` once the database answers (polled, 60 s at most).
fn sql_when_ready(container: &str, statement: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match crate::support::protocols::sql_query(container, "envctl", statement) {
            Ok(_) => return,
            Err(e) if std::time::Instant::now() > deadline => panic!("{statement}: {e}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
}

#[test]
fn a_feature_started_from_a_snapshot_has_exactly_its_data() {
    let fx = seeded("snap", DEFINITION);
    let name = fx.env.clone();
    let _snapshots = Snapshots {
        fx: &fx,
        names: vec![name.clone()],
    };
    assert_ok(&fx.run("up", &[]));
    let (db, cache) = (format!("{}-db", fx.env), format!("{}-cache", fx.env));
    redis(&cache, &["SET", "k1", "before"]);

    let saved = fx.envctl(&["snapshot", "save", &fx.env, &name, "--output", "json"]);
    assert_ok(&saved);
    let meta: serde_json::Value = serde_json::from_slice(&saved.stdout).unwrap();
    assert_eq!(meta["snapshot"]["env"], fx.env.as_str());
    assert_eq!(meta["snapshot"]["volumes"]["mysql-data"], "db");
    assert!(
        meta["snapshot"]["size"].as_u64().unwrap() > 1_000_000,
        "{meta}"
    );
    assert!(
        meta["snapshot"]["services"]["db"]["spec_hash"].is_string(),
        "{meta}"
    );
    // The services run again after a (cold) save.
    assert_eq!(redis(&cache, &["GET", "k1"]), "before");

    // Changes after the snapshot stay in the source only. `save` returns once the services
    // are started again, not ready: MariaDB may still be opening its files.
    redis(&cache, &["SET", "k2", "after"]);
    sql_when_ready(&db, "INSERT INTO app.item VALUES (3, 'after')");

    let feature = fx.run("up", &["--feature", "copy", "--from-snapshot", &name]);
    assert_ok(&feature);
    assert!(
        !text(&feature.stdout).contains("seeding"),
        "{}",
        text(&feature.stdout)
    );
    let (fdb, fcache) = (
        format!("{}--copy-db", fx.env),
        format!("{}--copy-cache", fx.env),
    );
    assert_eq!(rows(&fdb), "1\tone\n2\ttwo");
    assert_eq!(redis(&fcache, &["KEYS", "*"]), "k1");
    assert_eq!(rows(&db), "1\tone\n2\ttwo\n3\tafter");
    assert_eq!(redis(&cache, &["GET", "k2"]), "after");

    // Only a new instance is filled; `down --volumes` and `gc` keep the snapshot.
    let again = fx.run("up", &["--feature", "copy", "--from-snapshot", &name]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("already has data"),
        "{}",
        text(&again.stderr)
    );
    assert_ok(&fx.run("down", &["--all-features", "--volumes"]));
    assert_ok(&fx.envctl(&["gc", &fx.env, "--volumes"]));
    let listed = fx.envctl(&["snapshot", "ls", "--output", "json"]);
    assert!(
        text(&listed.stdout).contains(&format!("\"name\":\"{name}\"")),
        "{}",
        text(&listed.stdout)
    );

    let removed = fx.envctl(&["snapshot", "rm", &name]);
    assert_ok(&removed);
    let volumes = docker_stdout(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=io.envctl.snapshot={name}"),
    ]);
    assert_eq!(volumes.unwrap(), "");
    let missing = fx.run("up", &["--feature", "gone", "--from-snapshot", &name]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains(&format!("no snapshot `{name}`")),
        "{}",
        text(&missing.stderr)
    );
}

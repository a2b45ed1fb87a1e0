//! Issue 18, seeding: a MariaDB service seeded from SQL files by `init:`, against the real
//! engine with the local `envctl/mariadb` image: runs once per volume, a changed seed shows in
//! `plan`, `--reseed` runs it again, a failing statement is named by file and line.

use std::time::Duration;

use crate::support::instance::Instance;
use crate::support::protocols::sql_query;
use crate::support::{assert_ok, docker_stdout, text};

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

/// An instance of the seeded definition, its seed files written.
pub fn seeded(prefix: &str, definition: &str) -> Instance {
    let fx = Instance::new(prefix, definition)
        .with_shared_templates()
        .with_timeout(Duration::from_secs(240));
    fx.write("seed/schema.sql", SCHEMA);
    fx.write("seed/rows.sql", ROWS);
    fx.write("seed/conf/greeting.txt", "hello from the seed\n");
    fx
}

/// `id name` rows of `app.item` in `container`, ordered by id.
pub fn rows(container: &str) -> String {
    sql_query(
        container,
        PASSWORD,
        "SELECT id, name FROM app.item ORDER BY id",
    )
    .unwrap_or_else(|e| panic!("query in {container}: {e}"))
}

#[test]
fn a_seed_runs_once_per_volume_and_again_only_on_request() {
    let fx = seeded("seed", DEFINITION);
    let db = format!("{}-db", fx.env);
    assert_ok(&fx.run("up", &[]));
    assert_eq!(rows(&db), "1\tone\n2\ttwo");
    let greeting = docker_stdout(&["exec", &db, "cat", "/var/lib/mysql/greeting.txt"]);
    assert_eq!(greeting.unwrap().trim(), "hello from the seed");

    // A second `up` finds the marker on the volume: the schema would fail if it ran again.
    sql_query(&db, PASSWORD, "INSERT INTO app.item VALUES (3, 'later')").unwrap();
    let again = fx.run("up", &[]);
    assert_ok(&again);
    assert!(
        !text(&again.stdout).contains("seeding"),
        "{}",
        text(&again.stdout)
    );
    assert_eq!(rows(&db), "1\tone\n2\ttwo\n3\tlater");
    let out = fx.run("plan", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A changed seed is a change `plan` names; `up` keeps the seeded data.
    fx.write("seed/rows.sql", "INSERT INTO item VALUES (4, 'four');\n");
    let out = fx.run("plan", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let said = text(&out.stdout);
    assert!(said.contains("recreate db: changed: init"), "{said}");
    assert_ok(&fx.run("up", &[]));
    assert_eq!(rows(&db), "1\tone\n2\ttwo\n3\tlater");

    // `--reseed` runs the (re-runnable) seed on the data as it is.
    fx.write(
        "seed/schema.sql",
        &format!("DROP TABLE IF EXISTS item;\n{SCHEMA}"),
    );
    assert_ok(&fx.run("up", &["--reseed", "db"]));
    assert_eq!(rows(&db), "4\tfour");
    let out = fx.run("up", &["--reseed", "nope"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--reseed nope: no such service; services with `init:` steps: db"),
        "{stderr}"
    );
}

#[test]
fn a_failing_statement_is_named_by_file_and_line_and_the_seed_runs_again_next_time() {
    let fx = seeded("seedfail", DEFINITION);
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
    assert_eq!(rows(&format!("{}-db", fx.env)), "1\tone\n2\ttwo");
}

#[test]
fn a_seed_file_larger_than_memory_should_hold_is_streamed_intact() {
    // 96 MiB of bytes that differ along the file (a constant file would hide a misplaced
    // chunk); more than the 64 MiB seeds were once capped at, when they were held in memory.
    let fx = Instance::new(
        "seedbig",
        r#"
services:
  box:
    image: envctl/busybox:1.35
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
    init:
      - copy: { from: seed/dump, to: /data }
"#,
    );
    let path = fx.path("seed/dump/big.bin");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let block: Vec<u8> = (0..=255u8).collect();
    let mut content = Vec::with_capacity(96 << 20);
    for n in 0u32..(96 << 12) {
        content.extend_from_slice(&n.to_le_bytes());
        content.extend_from_slice(&block[..252]);
    }
    std::fs::write(&path, &content).unwrap();
    let expected = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&content))
    };
    drop(content);
    assert_ok(&fx.run("up", &[]));
    let box_ = format!("{}-box", fx.env);
    let sum = docker_stdout(&["exec", &box_, "sha256sum", "/data/big.bin"]).unwrap();
    assert_eq!(sum.split_whitespace().next(), Some(expected.as_str()));
}

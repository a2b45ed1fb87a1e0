#!/usr/bin/env python3
"""Starting a feature from a snapshot vs re-running the seed that made the data (issue 18).

One MariaDB service (the shipped `mysql` template) seeded by `init:` with about --mb megabytes
of rows, in one of two forms (--seed):

  dump       (default) what a team's seed file is: the rows written out as `mysqldump` writes
             them (extended INSERTs of about 1 MB each), so the seed file is as large as the data
             and the server parses every row
  generated  the cheapest seed there is: MariaDB makes the rows itself (INSERT ... SELECT from
             seq_1_to_N, in chunks): the seed file is small, the data is not; a lower bound

The base instance is seeded once and captured with `envctl snapshot save`. Then, each round,
on a fresh feature instance each time:

  seed      `envctl up ENV --feature sN`: the container starts, the seed SQL runs again
  restore   `envctl up ENV --feature rN --from-snapshot NAME`: the volume is copied from the
            snapshot on the engine, the container starts, no seed runs

Both are timed from the command's start to "ready" (the same health check), and both
instances are checked to hold the same row count. Each feature is removed with
`down --volumes` before the next step. The load average before and after each step is kept.
Everything the run makes (instances, the snapshot) is removed at the end, also on failure.

Usage: bench/snapshot.py [--mb 1024] [--seed dump|generated] [--rounds 1] [--envctl PATH]
                         [--json out.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envctl_run import REPO, EnvctlRun, load

ROW_BYTES = 1000  # CHAR(250) x 4 in latin1, plus the key
CHUNK_ROWS = 100_000
DUMP_STATEMENT_BYTES = 1 << 20  # mysqldump's extended INSERTs end near net_buffer_length (1 MB)
CREATE_TABLE = (
    "CREATE TABLE bulk (id INT PRIMARY KEY, a CHAR(250), b CHAR(250), c CHAR(250),"
    " d CHAR(250)) ENGINE=InnoDB DEFAULT CHARSET=latin1;"
)

DEFINITION = """services:
  db:
    template: mysql
    resources: { memory: 1g }
    init:
      - sql: seed/bulk.sql
"""


def generated_seed(rows, path):
    lines = [CREATE_TABLE]
    for start in range(0, rows, CHUNK_ROWS):
        end = min(rows, start + CHUNK_ROWS)
        lines.append(
            f"INSERT INTO bulk SELECT seq, REPEAT('a',250), REPEAT('b',250), REPEAT('c',250),"
            f" REPEAT('d',250) FROM seq_{start + 1}_to_{end};"
        )
    path.write_text("\n".join(lines) + "\n")


def dump_seed(rows, path):
    """The rows as `mysqldump` writes them by default (its header, LOCK TABLES, keys disabled,
    extended INSERTs, autocommit on); each row's text differs, as real data does."""
    with path.open("w") as out:
        out.write("/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n"
                  "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS,"
                  " FOREIGN_KEY_CHECKS=0 */;\n")
        out.write(CREATE_TABLE + "\n")
        out.write("LOCK TABLES `bulk` WRITE;\n/*!40000 ALTER TABLE `bulk` DISABLE KEYS */;\n")
        statement, size = [], 0
        for n in range(1, rows + 1):
            key = f"{n:010d}"
            row = f"({n}," + ",".join(f"'{(letter + key * 25)[:250]}'" for letter in "abcd") + ")"
            statement.append(row)
            size += len(row) + 1
            if size >= DUMP_STATEMENT_BYTES or n == rows:
                out.write("INSERT INTO `bulk` VALUES " + ",".join(statement) + ";\n")
                statement, size = [], 0
        out.write("/*!40000 ALTER TABLE `bulk` ENABLE KEYS */;\nUNLOCK TABLES;\n"
                  "/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n"
                  "/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n")


class Run(EnvctlRun):
    def __init__(self, envctl, workdir, env):
        super().__init__(envctl, workdir, env, timeout=3600)

    def timed(self, *args):
        before = load()
        began = time.monotonic()
        self.run(*args)
        return {"seconds": round(time.monotonic() - began, 2), "load_before": before,
                "load_after": load()}

    def rows(self, instance):
        out = subprocess.run(
            ["docker", "exec", f"{instance}-db", "sh", "-c",
             'MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb -uroot -N "$MARIADB_DATABASE"'
             ' -e "SELECT COUNT(*) FROM bulk"'],
            capture_output=True, text=True, check=True,
        )
        return int(out.stdout.strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024)
    parser.add_argument("--seed", choices=("dump", "generated"), default="dump")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--envctl", default=str(REPO / "target" / "release" / "envctl"))
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = args.mb * 1024 * 1024 // ROW_BYTES
    env = f"snapbench{os.getpid()}"
    snapshot = env
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "environments" / "seed").mkdir(parents=True)
        (workdir / "environments" / f"{env}.yaml").write_text(DEFINITION)
        seed_file = workdir / "environments" / "seed" / "bulk.sql"
        (dump_seed if args.seed == "dump" else generated_seed)(rows, seed_file)
        run = Run(args.envctl, workdir, env)
        result = {"mb": args.mb, "rows": rows, "seed": args.seed,
                  "seed_file_bytes": seed_file.stat().st_size, "nproc": os.cpu_count(),
                  "rounds": []}
        try:
            result["base_seed"] = run.timed("up", env, "--wait-timeout", "none")
            result["save"] = run.timed("snapshot", "save", env, snapshot)
            listed = json.loads(run.run("snapshot", "ls", "--output", "json").stdout)
            mine = [s for s in listed["snapshots"] if s["name"] == snapshot]
            result["snapshot_bytes"] = mine[0]["size"]
            for n in range(args.rounds):
                one = {}
                for step, extra in (("seed", []), ("restore", ["--from-snapshot", snapshot])):
                    feature = f"{step[0]}{n}"
                    one[step] = run.timed("up", env, "--feature", feature,
                                          "--wait-timeout", "none", *extra)
                    one[step]["rows"] = run.rows(f"{env}--{feature}")
                    run.run("down", env, "--feature", feature, "--volumes")
                if one["seed"]["rows"] != rows or one["restore"]["rows"] != rows:
                    raise SystemExit(f"row counts differ from {rows}: {one}")
                result["rounds"].append(one)
                print(f"round {n + 1}: seed {one['seed']['seconds']} s, "
                      f"restore {one['restore']['seconds']} s", file=sys.stderr)
        finally:
            run.run("down", env, "--all-features", "--volumes", check=False)
            run.run("snapshot", "rm", snapshot, check=False)
    seed = statistics.median(r["seed"]["seconds"] for r in result["rounds"])
    restore = statistics.median(r["restore"]["seconds"] for r in result["rounds"])
    result["median_seed_s"] = seed
    result["median_restore_s"] = restore
    result["speedup"] = round(seed / restore, 1)
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    print(f"\n{args.mb} MB ({rows} rows, {args.seed} seed, snapshot {result['snapshot_bytes'] / 2**20:.0f} MiB): "
          f"seed {seed} s, restore {restore} s, restore is {result['speedup']}x faster "
          f"(goal >= 5x)", file=sys.stderr)
    return 0 if result["speedup"] >= 5 else 1


if __name__ == "__main__":
    sys.exit(main())

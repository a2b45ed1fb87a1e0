#!/usr/bin/env python3
"""Starting a feature from a snapshot vs re-running the seed that made the data (issue 18).

One MariaDB service (the shipped `mysql` template) seeded by `init:` with SQL that generates
about --mb megabytes of rows (INSERT ... SELECT from MariaDB's seq_1_to_N, in chunks: the
seed file is small, the data is not). The base instance is seeded once and captured with
`envctl snapshot save`. Then, each round, on a fresh feature instance each time:

  seed      `envctl up ENV --feature sN`: the container starts, the seed SQL runs again
  restore   `envctl up ENV --feature rN --from-snapshot NAME`: the volume is copied from the
            snapshot on the engine, the container starts, no seed runs

Both are timed from the command's start to "ready" (the same health check), and both
instances are checked to hold the same row count. Each feature is removed with
`down --volumes` before the next step. The load average before and after each step is kept.
Everything the run makes (instances, the snapshot) is removed at the end, also on failure.

Usage: bench/snapshot.py [--mb 1024] [--rounds 1] [--envctl PATH] [--json out.json]
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

REPO = Path(__file__).resolve().parent.parent
ROW_BYTES = 1000  # CHAR(250) x 4 in latin1, plus the key
CHUNK_ROWS = 100_000

DEFINITION = """services:
  db:
    template: mysql
    resources: { memory: 1g }
    init:
      - sql: seed/bulk.sql
"""


def seed_sql(rows):
    lines = [
        "CREATE TABLE bulk (id INT PRIMARY KEY, a CHAR(250), b CHAR(250), c CHAR(250),"
        " d CHAR(250)) ENGINE=InnoDB DEFAULT CHARSET=latin1;"
    ]
    for start in range(0, rows, CHUNK_ROWS):
        end = min(rows, start + CHUNK_ROWS)
        lines.append(
            f"INSERT INTO bulk SELECT seq, REPEAT('a',250), REPEAT('b',250), REPEAT('c',250),"
            f" REPEAT('d',250) FROM seq_{start + 1}_to_{end};"
        )
    return "\n".join(lines) + "\n"


def load():
    return os.getloadavg()[0]


class Run:
    def __init__(self, envctl, workdir, env):
        self.envctl = envctl
        self.workdir = workdir
        self.env = env
        self.vars = dict(os.environ)
        self.vars["ENVCTL_TEMPLATE_PATH"] = str(REPO / "templates")
        self.vars["ENVCTL_LOCK_DIR"] = str(workdir / "locks")

    def run(self, *args, check=True):
        out = subprocess.run(
            [self.envctl, *args], cwd=self.workdir, env=self.vars,
            capture_output=True, text=True, timeout=3600,
        )
        if check and out.returncode != 0:
            raise SystemExit(f"envctl {' '.join(args)} failed ({out.returncode}):\n"
                             f"{out.stdout}\n{out.stderr}")
        return out

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
        (workdir / "environments" / "seed" / "bulk.sql").write_text(seed_sql(rows))
        run = Run(args.envctl, workdir, env)
        result = {"mb": args.mb, "rows": rows, "nproc": os.cpu_count(), "rounds": []}
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
    print(f"\n{args.mb} MB ({rows} rows, snapshot {result['snapshot_bytes'] / 2**20:.0f} MiB): "
          f"seed {seed} s, restore {restore} s, restore is {result['speedup']}x faster "
          f"(goal >= 5x)", file=sys.stderr)
    return 0 if result["speedup"] >= 5 else 1


if __name__ == "__main__":
    sys.exit(main())

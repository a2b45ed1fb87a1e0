#!/usr/bin/env python3
"""A feature as an overlay vs a full feature copy of project-a (issue 13).

environments/project-a.yaml (18 services: ZooKeeper, Redis, Memcached, MariaDB, 12 Dubbo
providers, a gateway, nginx) is copied under a unique name (the engine is shared) and its base
instance brought up once. Then, each round:

  full     `envctl up ENV --feature fullN`: a full copy of every service
  overlay  `envctl up ENV --feature ovN --only payment-service,order-service`: only the two
           changed providers, on the base's network and registry

For each: the containers the instance has, the wall time of the `up` (it returns when every
service is ready), and its memory: the sum of `docker stats --no-stream` MemUsage over the
instance's containers, read once the `up` returned. Each feature is removed (`down --volumes`)
before the next step, so the two never compete. The load average before and after each step is
kept. Everything the run makes is removed at the end, also on failure.

Goal (issue 13): the overlay needs at most 20 % of the memory and 25 % of the time.

Usage: bench/overlay.py [--rounds 1] [--envctl PATH] [--json out.json]
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envctl_run import REPO, EnvctlRun, load

OVERLAY_SERVICES = "payment-service,order-service"
UNITS = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2,
         "gb": 1000**3}


def mem_bytes(usage):
    """'12.5MiB / 1GiB' -> bytes used."""
    used = usage.split("/")[0].strip()
    number, unit = re.fullmatch(r"([0-9.]+)\s*([A-Za-z]+)", used).groups()
    return float(number) * UNITS[unit.lower()]


def docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


class Run(EnvctlRun):
    def __init__(self, envctl, workdir, env):
        super().__init__(envctl, workdir, env, timeout=1800)

    def measured_up(self, feature, *extra):
        """`up` of one feature, timed; then its containers and their memory."""
        before = load()
        began = time.monotonic()
        self.run("up", self.env, "--feature", feature, "--wait-timeout", "10m", *extra)
        seconds = round(time.monotonic() - began, 2)
        after = load()
        instance = f"{self.env}--{feature}"
        names = docker("ps", "-a", "--filter", f"label=io.envctl.instance={instance}",
                       "--format", "{{.Names}}").split()
        stats = docker("stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *names)
        memory = {name: mem_bytes(usage) for name, usage in
                  (line.split("\t") for line in stats.strip().splitlines())}
        return {"seconds": seconds, "load_before": before, "load_after": after,
                "containers": len(names), "memory_mib": round(sum(memory.values()) / 2**20, 1),
                "memory_by_container_mib": {n: round(b / 2**20, 1) for n, b in memory.items()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--envctl", default=str(REPO / "target" / "release" / "envctl"))
    parser.add_argument("--json")
    args = parser.parse_args()
    # envctl runs in a temporary directory: a relative path must not be read from there.
    args.envctl = str(Path(args.envctl).resolve())
    env = f"ovbench{os.getpid()}"
    definition = (REPO / "environments" / "project-a.yaml").read_text()
    definition = re.sub(r"(?m)^name: project-a$", f"name: {env}", definition)
    result = {"envctl": args.envctl, "nproc": os.cpu_count(), "overlay_services":
              OVERLAY_SERVICES, "rounds": []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "environments").mkdir()
        (workdir / "environments" / f"{env}.yaml").write_text(definition)
        run = Run(args.envctl, workdir, env)
        try:
            began, before = time.monotonic(), load()
            run.run("up", env, "--wait-timeout", "10m")
            result["base"] = {"seconds": round(time.monotonic() - began, 2),
                              "load_before": before, "load_after": load()}
            for n in range(args.rounds):
                one = {"full": run.measured_up(f"full{n}")}
                run.run("down", env, "--feature", f"full{n}", "--volumes")
                one["overlay"] = run.measured_up(f"ov{n}", "--only", OVERLAY_SERVICES)
                run.run("down", env, "--feature", f"ov{n}", "--volumes")
                one["memory_ratio"] = round(one["overlay"]["memory_mib"]
                                            / one["full"]["memory_mib"], 3)
                one["time_ratio"] = round(one["overlay"]["seconds"] / one["full"]["seconds"], 3)
                result["rounds"].append(one)
                print(f"round {n + 1}: full {one['full']['containers']} containers "
                      f"{one['full']['memory_mib']} MiB {one['full']['seconds']} s; overlay "
                      f"{one['overlay']['containers']} containers {one['overlay']['memory_mib']} "
                      f"MiB {one['overlay']['seconds']} s", file=sys.stderr)
        finally:
            run.run("down", env, "--all-features", "--volumes", check=False)
            left = docker("ps", "-aq", "--filter", f"label=io.envctl.env={env}").split()
            if left:
                print(f"left behind after down: {left}", file=sys.stderr)
    memory = statistics.median(r["memory_ratio"] for r in result["rounds"])
    seconds = statistics.median(r["time_ratio"] for r in result["rounds"])
    result["median_memory_ratio"] = memory
    result["median_time_ratio"] = seconds
    result["goal_met"] = memory <= 0.20 and seconds <= 0.25
    text = json.dumps(result, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    print(f"\noverlay / full copy (median of {args.rounds}): memory {memory:.1%} (goal <= 20 %), "
          f"time {seconds:.1%} (goal <= 25 %)", file=sys.stderr)
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())

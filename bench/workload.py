"""The benchmarked environment, written once and rendered for each tool.

A registry with an HTTP health check, a cache, N providers waiting for the registry to be
healthy (and the cache started), and a frontend depending on every provider. Every service is
busybox httpd on `envctl/busybox:1.35`, with one published port.

The same list of services feeds the envctl definition, the Compose file and the engine floor,
so the three cannot drift apart: same image, same command, same published ports on the same
host address (IPv4 0.0.0.0, which is where envctl publishes), same volumes in the `volumes`
variant.
"""

import json
from dataclasses import dataclass, field

IMAGE = "envctl/busybox:1.35"
# Where every tool publishes: envctl publishes on 0.0.0.0 (IPv4 only). Compose would also bind
# [::] when no host IP is given; pinning it keeps the engine's work (docker-proxy, iptables)
# the same for all three.
HOST_IP = "0.0.0.0"
# Health check budget: the same total time (30 s) whatever the interval.
HEALTH_TIMEOUT = "2s"
HEALTH_BUDGET_SECS = 30


@dataclass
class Service:
    name: str
    port: int
    depends: dict = field(default_factory=dict)  # name -> "healthy" | "started"
    healthcheck: bool = False


def httpd(port):
    """busybox httpd serving /tmp/health on `port`. The shell stays PID 1 and exits on SIGTERM,
    so a graceful stop takes milliseconds, not a stop timeout: the benchmark measures the tools,
    not the image's signal handling."""
    script = (f"echo ok > /tmp/health; trap 'exit 0' TERM; "
              f"httpd -f -p {port} -h /tmp & wait")
    return ["sh", "-c", script]


def services(n):
    out = [Service("registry", 2181, healthcheck=True), Service("cache", 6379)]
    out += [Service(f"provider-{i:02d}", 20880, {"registry": "healthy", "cache": "started"})
            for i in range(n)]
    out.append(Service("frontend", 80, {f"provider-{i:02d}": "started" for i in range(n)}))
    return out


def volume_of(service):
    """The named volume of a service in the `volumes` variant (mounted where nothing writes)."""
    return f"{service.name}-data"


VOLUME_TARGET = "/data"


def seconds_text(secs):
    return f"{int(secs * 1000)}ms"


def envctl_definition(name, n, interval, volumes=False):
    """The envctl definition (YAML). envctl probes from the host: the first probe ~25 ms after
    start, backing off to `interval`."""
    retries = max(1, round(HEALTH_BUDGET_SECS / interval))
    lines = [f"name: {name}", "services:"]
    for s in services(n):
        lines += [f"  {s.name}:",
                  f"    image: {IMAGE}",
                  f"    command: {json.dumps(httpd(s.port))}",
                  f"    ports: [{s.port}]"]
        if s.healthcheck:
            lines.append(f"    healthcheck: {{ http: {{ port: {s.port}, path: /health }}, "
                         f"interval: {seconds_text(interval)}, timeout: {HEALTH_TIMEOUT}, "
                         f"retries: {retries} }}")
        if s.depends:
            deps = ", ".join(f"{d}: {cond}" for d, cond in s.depends.items())
            lines.append(f"    depends_on: {{ {deps} }}")
        if volumes:
            lines.append(f"    volumes: [\"{volume_of(s)}:{VOLUME_TARGET}\"]")
    return "\n".join(lines) + "\n"


def compose_file(n, interval, volumes=False):
    """The Compose file (JSON, which is YAML). Compose's health check runs inside the
    container (busybox nc has no -z): the same HTTP GET of /health that envctl's `http` probe
    makes. The engine runs the first check one interval after start (Engine 20.10 has no
    start_interval), which is why Compose is measured at two intervals."""
    retries = max(1, round(HEALTH_BUDGET_SECS / interval))
    out = {}
    for s in services(n):
        svc = {"image": IMAGE, "command": httpd(s.port),
               "ports": [{"target": s.port, "host_ip": HOST_IP, "protocol": "tcp"}]}
        if s.healthcheck:
            svc["healthcheck"] = {
                "test": ["CMD", "wget", "-q", "-O", "/dev/null",
                         f"http://127.0.0.1:{s.port}/health"],
                "interval": seconds_text(interval), "timeout": HEALTH_TIMEOUT,
                "retries": retries}
        if s.depends:
            svc["depends_on"] = {d: {"condition": f"service_{cond}"}
                                 for d, cond in s.depends.items()}
        if volumes:
            svc["volumes"] = [f"{volume_of(s)}:{VOLUME_TARGET}"]
        out[s.name] = svc
    doc = {"services": out}
    if volumes:
        doc["volumes"] = {volume_of(s): {} for s in services(n)}
    return json.dumps(doc, indent=1)

"""The engine floor: the same containers created, started and removed through the raw Docker
API, with no dependency order and no readiness wait.

An independent client on purpose: Python's standard library speaking HTTP over the engine's
unix socket, no envctl code and no SDK, so a slow path in envctl's engine adapter cannot slow
the floor down with it. The floor is a lower bound: a tool that waits for readiness and orders
its services cannot beat it, and the benchmark flags it if envctl does.
"""

import http.client
import json
import os
import socket
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from workload import HOST_IP, IMAGE, VOLUME_TARGET, httpd, services, volume_of

API = "/v1.41"
SOCKET = "/var/run/docker.sock"
LABEL = "io.envctl-bench.floor"


class ApiError(Exception):
    pass


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def socket_path():
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        raise SystemExit(f"the floor speaks to a unix socket only; DOCKER_HOST={host}")
    return host[len("unix://"):] if host else SOCKET


def call(method, path, body=None, ok=(200, 201, 204), query=None):
    """One API call on its own connection (threads never share one). Returns the decoded JSON
    body, or None when there is none."""
    url = API + path + ("?" + urllib.parse.urlencode(query) if query else "")
    conn = UnixConnection(socket_path())
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, url, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    if resp.status not in ok:
        raise ApiError(f"{method} {url}: {resp.status} {raw.decode(errors='replace').strip()}")
    return json.loads(raw) if raw else None


def container_body(service, network, labels, volume_prefix):
    port = f"{service.port}/tcp"
    host = {"NetworkMode": network,
            # Same host address as envctl and Compose; the engine picks the host port.
            "PortBindings": {port: [{"HostIp": HOST_IP, "HostPort": ""}]}}
    if volume_prefix:
        host["Mounts"] = [{"Type": "volume", "Source": f"{volume_prefix}-{volume_of(service)}",
                           "Target": VOLUME_TARGET}]
    return {"Image": IMAGE, "Cmd": httpd(service.port), "Labels": labels,
            "ExposedPorts": {port: {}}, "HostConfig": host,
            "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": [service.name]}}}}


class Floor:
    """One floor instance: `up` creates and starts, `down` removes; both timed by the caller."""

    def __init__(self, n, name, volumes=False):
        self.services = services(n)
        self.name = name
        self.volumes = volumes
        self.labels = {LABEL: name}
        self.network = f"{name}-net"
        self.network_id = None
        self.ids = []

    def _pool(self):
        return ThreadPoolExecutor(max_workers=len(self.services))

    def up(self):
        self.network_id = call("POST", "/networks/create",
                               {"Name": self.network, "Labels": self.labels,
                                "CheckDuplicate": True})["Id"]
        prefix = self.name if self.volumes else None

        def one(service):
            body = container_body(service, self.network, self.labels, prefix)
            cid = call("POST", "/containers/create", body,
                       query={"name": f"{self.name}-{service.name}"})["Id"]
            self.ids.append(cid)
            call("POST", f"/containers/{cid}/start")
            return cid

        with self._pool() as pool:
            list(pool.map(one, self.services))

    def down(self, graceful):
        """Immediate: force-remove (SIGKILL). Graceful: stop (SIGTERM, 10 s like Compose's
        default) then remove. Volumes and the network go too, as `down -v` does."""

        def one(cid):
            if graceful:
                call("POST", f"/containers/{cid}/stop", ok=(204, 304), query={"t": 10})
            call("DELETE", f"/containers/{cid}", query={"force": "true", "v": "true"})

        with self._pool() as pool:
            list(pool.map(one, self.ids))
        if self.volumes:
            with self._pool() as pool:
                list(pool.map(lambda s: call("DELETE", f"/volumes/{self.name}-{volume_of(s)}"),
                              self.services))
        call("DELETE", f"/networks/{self.network_id}")
        self.ids = []


def timed_cycle(n, name, volumes, graceful):
    """Times up, then down. On any failure everything this floor created is removed."""
    floor = Floor(n, name, volumes)
    try:
        start = time.perf_counter()
        floor.up()
        up = time.perf_counter() - start
        start = time.perf_counter()
        floor.down(graceful)
        down = time.perf_counter() - start
        return up, down
    except Exception:
        cleanup()
        raise


def cleanup():
    """Removes every object the floor ever labelled (and only those)."""
    flt = json.dumps({"label": [LABEL]})
    for c in call("GET", "/containers/json", query={"all": "true", "filters": flt}):
        call("DELETE", f"/containers/{c['Id']}", ok=(204, 404),
             query={"force": "true", "v": "true"})
    for net in call("GET", "/networks", query={"filters": flt}):
        call("DELETE", f"/networks/{net['Id']}", ok=(204, 404))
    # Volumes created implicitly by a mount carry no labels: find them by the floor's prefix.
    vols = call("GET", "/volumes").get("Volumes") or []
    for v in vols:
        if v["Name"].startswith("bench-floor-"):
            call("DELETE", f"/volumes/{v['Name']}", ok=(204, 404))


def engine_version():
    return call("GET", "/version")

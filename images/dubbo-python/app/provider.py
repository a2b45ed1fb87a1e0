"""A Dubbo provider serving one interface over the triple protocol (Apache Dubbo for Python).

The interface name comes from DUBBO_SERVICE_INTERFACE; it offers two unary methods:
  greet(name: utf-8) -> JSON {"message": "Hello, <name>", "interface", "application", "host"}
  echo(bytes)        -> the same bytes
Binding and registration follow contract.py (Java Dubbo's DUBBO_*_TO_BIND/_TO_REGISTRY rules).
By default the library's own registry is bypassed: it registers the bind host and drops the
URL path, so we register a Java-style URL ourselves with kazoo, as an ephemeral node, and
re-create it if a ZooKeeper session expires.

With DUBBO_REGISTRATION=library the library registers itself, unmodified (what a team using
PyPI `apache-dubbo` as is gets): `tri://<bind host>:<port>?service=<interface>`. The bind host
is what it registers, so a wildcard bind becomes the container's own IP (logged), and
DUBBO_*_TO_REGISTRY cannot apply.
"""

import json
import os
import signal
import socket
import sys
import threading

import dubbo
from dubbo.configs import RegistryConfig, ServiceConfig
from dubbo.proxy.handlers import RpcMethodHandler, RpcServiceHandler
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError, NoNodeError

import contract
import runtime

METHODS = ("echo", "greet")


def log(message: str) -> None:
    print(f"provider: {message}", flush=True)


def service_handler(interface: str, application: str) -> RpcServiceHandler:
    host = socket.gethostname()

    def greet(request: bytes) -> bytes:
        name = request.decode("utf-8", errors="replace") or "world"
        reply = {
            "message": f"Hello, {name}",
            "interface": interface,
            "application": application,
            "host": host,
        }
        return json.dumps(reply).encode("utf-8")

    def echo(request: bytes) -> bytes:
        return request

    return RpcServiceHandler(
        service_name=interface,
        method_handlers=[
            RpcMethodHandler.unary(method=greet, method_name="greet"),
            RpcMethodHandler.unary(method=echo, method_name="echo"),
        ],
    )


class Registration:
    """Keeps one ephemeral registration alive across ZooKeeper session loss."""

    def __init__(self, registry: contract.Registry, path: str):
        self.path = path
        self.client = KazooClient(
            hosts=registry.hosts,
            timeout=10.0,
            # Retry the connection forever: the registry may start after us.
            connection_retry={"max_tries": -1, "delay": 0.5, "max_delay": 2},
            command_retry={"max_tries": 3, "delay": 0.2, "max_delay": 1},
        )
        self.stopping = threading.Event()

    def ensure(self) -> None:
        try:
            self.client.ensure_path(os.path.dirname(self.path))
            self.client.create(self.path, b"", ephemeral=True)
            log(f"registered {self.path}")
        except NodeExistsError:
            pass

    def run(self, hosts: str) -> None:
        log(f"connecting to ZooKeeper at {hosts}")
        self.client.start_async()
        while not self.stopping.is_set():
            if self.client.connected:
                try:
                    self.ensure()
                except Exception as err:  # noqa: BLE001 - keep retrying; log why
                    log(f"registration failed, retrying: {err}")
            self.stopping.wait(1.0)

    def close(self) -> None:
        self.stopping.set()
        try:
            if self.client.connected:
                self.client.delete(self.path)
                log(f"unregistered {self.path}")
        except NoNodeError:
            pass
        except Exception as err:  # noqa: BLE001 - shutting down anyway
            log(f"unregister failed: {err}")
        self.client.stop()
        self.client.close()


def main() -> int:
    env = os.environ
    interface = env.get("DUBBO_SERVICE_INTERFACE", "").strip()
    if not interface:
        log("DUBBO_SERVICE_INTERFACE is required (e.g. org.example.GreeterService)")
        return 2
    application = env.get("DUBBO_APPLICATION_NAME", "").strip() or interface.rsplit(".", 1)[-1]
    try:
        registry = contract.parse_registry(env.get("DUBBO_REGISTRY_ADDRESS"))
        addresses = contract.resolve_addresses(env, contract.own_ip())
    except contract.ContractError as err:
        log(f"invalid setting: {err}")
        return 2
    for note in addresses.notes:
        log(note)
    library_registers = env.get("DUBBO_REGISTRATION", "").strip() == "library"
    library_registry = None
    if library_registers and registry is not None:
        if addresses.anyhost:
            log(f"the library registers its bind host: binding {addresses.registry_ip}")
            addresses.bind_ip = addresses.registry_ip
        library_registry = RegistryConfig.from_url(env["DUBBO_REGISTRY_ADDRESS"])

    server_config = ServiceConfig(
        service_handler=service_handler(interface, application),
        host=addresses.bind_ip,
        port=addresses.bind_port,
        protocol=contract.PROTOCOL,
    )
    dubbo.Server(server_config, runtime.bootstrap(library_registry)).start()
    if library_registry is not None:
        log(f"registered by the library itself in {env['DUBBO_REGISTRY_ADDRESS']}")
    log(f"serving {interface} ({', '.join(METHODS)}) on {addresses.bind_ip}:{addresses.bind_port}")

    done = threading.Event()
    # PID 1 in a container ignores signals without a handler: install one so `docker stop`
    # unregisters at once instead of waiting for the kill and the session timeout.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())

    registration = None
    if registry is None:
        log("DUBBO_REGISTRY_ADDRESS is N/A or unset: not registering")
    elif library_registry is None:
        url = contract.provider_url(
            interface,
            addresses.registry_ip,
            addresses.registry_port,
            METHODS,
            application,
            addresses.anyhost,
            version=env.get("DUBBO_SERVICE_VERSION") or None,
            group=env.get("DUBBO_SERVICE_GROUP") or None,
        )
        path = contract.registration_path(registry.group, interface, url)
        log(f"registry address {addresses.registry_ip}:{addresses.registry_port}: {url}")
        registration = Registration(registry, path)
        threading.Thread(target=registration.run, args=(registry.hosts,), daemon=True).start()

    done.wait()
    log("stopping")
    if registration is not None:
        registration.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A Dubbo provider serving one interface over the triple protocol (Apache Dubbo for Python).

The interface name comes from DUBBO_SERVICE_INTERFACE; it offers two unary methods:
  greet(name: utf-8) -> JSON {"message": "Hello, <name>", "interface", "application", "host",
                              "tag", "feature", "answer", "request_tag", "downstream"}
  echo(bytes)        -> the same bytes
Binding and registration follow contract.py (Java Dubbo's DUBBO_*_TO_BIND/_TO_REGISTRY rules).
By default the library's own registry is bypassed: it registers the bind host and drops the
URL path, so we register a Java-style URL ourselves with kazoo, as an ephemeral node, and
re-create it if a ZooKeeper session expires.

Tags (Java Dubbo's tag routing, see routing.py): DUBBO_PROVIDER_TAG puts `dubbo.tag=<tag>`
in the registered URL. DUBBO_DOWNSTREAM (comma-separated interfaces) makes `greet` call each
of them, as a consumer, before answering, and include their answers under "downstream"; those
calls carry the tag of the request being served (the propagation Java needs two filters for,
docs/dubbo.md), else DUBBO_CONSUMER_TAG. "feature" is SHOP_FEATURE and "answer" ANSWER, so an
answer shows which provider served each hop.

With DUBBO_REGISTRATION=library the library registers itself, unmodified (what a team using
PyPI `apache-dubbo` as is gets): `tri://<bind host>:<port>?service=<interface>`. The bind host
is what it registers, so a wildcard bind becomes the container's own IP (logged), and
DUBBO_*_TO_REGISTRY cannot apply. Nor can a tag: the library's ServiceConfig.to_url writes
the `service` parameter only, so DUBBO_PROVIDER_TAG with it is refused at start.
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

import attachments
import calls
import contract
import routing
import runtime

METHODS = ("echo", "greet")
# Seconds one downstream call may take, failover included.
DOWNSTREAM_TIMEOUT = 10.0


def log(message: str) -> None:
    print(f"provider: {message}", flush=True)


def greeting(name: str, identity: dict, request_tag: str, downstream: list) -> dict:
    """greet's answer: who served it, the tag it came with and what downstream answered."""
    return {
        "message": f"Hello, {name}",
        **identity,
        "request_tag": request_tag,
        "downstream": downstream,
    }


def call_downstream(caller: calls.Caller, interfaces, data: bytes, timeout: float) -> list:
    """Calls each downstream interface with the tag of the request being served; a failure
    fails the request, as it would in a real service, naming the hop."""
    request = routing.propagated_request_tag(attachments.incoming(), os.environ)
    hops = []
    for interface in interfaces:
        try:
            provider, _node, raw = caller.call(interface, "greet", data, request, timeout)
        except (calls.NoProvider, calls.CallFailed) as err:
            raise RuntimeError(f"downstream {interface} ({request.describe()}): {err}") from None
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = raw.decode("utf-8", errors="replace")
        hops.append({"interface": interface, "provider": f"{provider.host}:{provider.port}", "reply": reply})
    return hops


def service_handler(interface: str, application: str, tag: str, caller) -> RpcServiceHandler:
    env = os.environ
    identity = {
        "interface": interface,
        "application": application,
        "host": socket.gethostname(),
        "tag": tag,
        "feature": env.get("SHOP_FEATURE", ""),
        "answer": env.get("ANSWER", ""),
    }
    downstream = routing.split_interfaces(env.get("DUBBO_DOWNSTREAM"))

    def greet(request: bytes) -> bytes:
        name = request.decode("utf-8", errors="replace") or "world"
        hops = call_downstream(caller, downstream, request, DOWNSTREAM_TIMEOUT) if downstream else []
        incoming = attachments.incoming().get(routing.TAG_KEY, "")
        return json.dumps(greeting(name, identity, incoming, hops)).encode("utf-8")

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
    tag = env.get("DUBBO_PROVIDER_TAG", "").strip()
    library_registers = env.get("DUBBO_REGISTRATION", "").strip() == "library"
    if library_registers and tag:
        log(
            f"DUBBO_PROVIDER_TAG={tag} cannot apply with DUBBO_REGISTRATION=library: the library "
            "registers `service` as its only URL parameter (ServiceConfig.to_url), so no dubbo.tag"
        )
        return 2
    downstream = routing.split_interfaces(env.get("DUBBO_DOWNSTREAM"))
    if downstream and registry is None:
        log(f"DUBBO_DOWNSTREAM={','.join(downstream)} needs DUBBO_REGISTRY_ADDRESS to find them")
        return 2
    # Downstream interfaces are called in any version: DUBBO_SERVICE_VERSION is this one's.
    caller = calls.Caller(env["DUBBO_REGISTRY_ADDRESS"]) if downstream else None
    library_registry = None
    if library_registers and registry is not None:
        if addresses.anyhost:
            log(f"the library registers its bind host: binding {addresses.registry_ip}")
            addresses.bind_ip = addresses.registry_ip
        library_registry = RegistryConfig.from_url(env["DUBBO_REGISTRY_ADDRESS"])

    server_config = ServiceConfig(
        service_handler=service_handler(interface, application, tag, caller),
        host=addresses.bind_ip,
        port=addresses.bind_port,
        protocol=contract.PROTOCOL,
    )
    dubbo.Server(server_config, runtime.bootstrap(library_registry)).start()
    if library_registry is not None:
        log(f"registered by the library itself in {env['DUBBO_REGISTRY_ADDRESS']}")
    log(
        f"serving {interface} ({', '.join(METHODS)}) on {addresses.bind_ip}:{addresses.bind_port}"
        + (f", tag {tag}" if tag else "")
        + (f", calling {', '.join(downstream)}" if downstream else "")
    )

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
            tag=tag or None,
        )
        path = contract.registration_path(registry.group, interface, url)
        log(f"registry address {addresses.registry_ip}:{addresses.registry_port}: {url}")
        registration = Registration(registry, path)
        threading.Thread(target=registration.run, args=(registry.hosts,), daemon=True).start()

    done.wait()
    log("stopping")
    if registration is not None:
        registration.close()
    if caller is not None:
        caller.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

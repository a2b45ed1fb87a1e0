"""Calling an interface as a Dubbo consumer: find its providers in ZooKeeper, route by tag
(routing.py), call one over triple with the request's attachments (attachments.py), and
fail over to the next routed provider when a call fails, as Java's failover cluster does.

Every caller in the image goes through here: consumer.py's `call` and `gateway`, and a
provider's own downstream calls (provider.py).
"""

import threading
import time
from typing import List, Optional, Tuple

import dubbo
from dubbo.configs import ReferenceConfig
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

import attachments
import contract
import routing
import runtime

_clients = {}
_clients_lock = threading.Lock()


class NoProvider(Exception):
    """Routing left no provider; the message names the interface and the tag."""


class CallFailed(Exception):
    """Every routed provider failed; the message has each one's error."""


def connect_registry(address: str, timeout: float) -> Tuple[KazooClient, contract.Registry]:
    registry = contract.parse_registry(address)
    if registry is None:
        raise contract.ContractError("no registry: pass --registry or --address")
    client = KazooClient(hosts=registry.hosts, timeout=10.0)
    client.start(timeout=timeout)
    return client, registry


def version_matches(wanted: str, provider: contract.Provider) -> bool:
    return wanted in ("", "*") or provider.params.get("version", "") == wanted


def list_providers(zk: KazooClient, registry: contract.Registry, interface: str, version: str = "") -> list:
    """(Provider, node) pairs of `interface` with a matching version, sorted by address."""
    try:
        nodes = zk.get_children(contract.providers_path(registry.group, interface))
    except NoNodeError:
        return []
    providers = []
    for node in nodes:
        try:
            provider = contract.decode_registration(node)
        except contract.ContractError:
            continue
        if version_matches(version, provider):
            providers.append((provider, node))
    providers.sort(key=lambda p: (p[0].host, p[0].port))
    return providers


def wait_for_providers(zk, registry, interface: str, version: str, deadline: float) -> list:
    while True:
        providers = list_providers(zk, registry, interface, version)
        if providers or time.monotonic() >= deadline:
            return providers
        time.sleep(0.3)


def route(found: list, request: routing.RequestTag) -> list:
    """The (Provider, node) pairs `request` may go to (Dubbo's tag routing)."""
    return routing.route(found, lambda pair: routing.provider_tag(pair[0].params), request)


def no_provider(interface: str, found: list, request: routing.RequestTag) -> NoProvider:
    tags = [routing.provider_tag(p.params) for p, _node in found]
    return NoProvider(routing.no_provider_message(interface, request, tags))


def invoke(
    host: str,
    port: int,
    interface: str,
    method: str,
    data: bytes,
    timeout: float,
    request: Optional[routing.RequestTag] = None,
) -> bytes:
    """One unary call carrying `request`'s tag, bounded by `timeout` (the library itself
    waits forever)."""
    key = (host, port, interface)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            reference = ReferenceConfig(protocol=contract.PROTOCOL, service=interface, host=host, port=port)
            client = dubbo.Client(reference, runtime.bootstrap())
            _clients[key] = client
    result = {}
    carried = request.attachments() if request else {}

    def run():
        try:
            with attachments.sending(carried):
                result["reply"] = client.unary(method_name=method)(data)
        except Exception as err:  # noqa: BLE001 - reported to the caller below
            result["error"] = err

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no reply from {host}:{port} within {timeout}s")
    if "error" in result:
        raise result["error"]
    return result["reply"]


def call_routed(
    candidates: List[Tuple[contract.Provider, Optional[str]]],
    interface: str,
    method: str,
    data: bytes,
    request: routing.RequestTag,
    deadline: float,
) -> Tuple[contract.Provider, Optional[str], bytes]:
    """Tries each candidate in turn, sharing the time left (a provider killed without
    unregistering stays listed until its session expires)."""
    errors = []
    for i, (provider, node) in enumerate(candidates):
        remaining = deadline - time.monotonic()
        budget = max(2.0, remaining / (len(candidates) - i))
        try:
            reply = invoke(provider.host, provider.port, interface, method, data, budget, request)
        except Exception as err:  # noqa: BLE001 - one line per failed provider
            errors.append(f"{interface}.{method} at {provider.host}:{provider.port}: {err}")
            continue
        return provider, node, reply
    raise CallFailed("; ".join(errors))


class Caller:
    """A consumer of one registry, connected on first use and shared by threads."""

    def __init__(self, registry_address: str, version: str = "", connect_timeout: float = 60.0):
        self.registry_address = registry_address
        self.connect_timeout = connect_timeout
        self.version = version
        self._zk = None
        self._registry = None
        self._lock = threading.Lock()

    def registry(self) -> Tuple[KazooClient, contract.Registry]:
        with self._lock:
            if self._zk is None:
                self._zk, self._registry = connect_registry(self.registry_address, self.connect_timeout)
            return self._zk, self._registry

    @property
    def connected(self) -> bool:
        return self._zk is not None and self._zk.connected

    def providers(self, interface: str) -> list:
        zk, registry = self.registry()
        return list_providers(zk, registry, interface, self.version)

    def call(
        self, interface: str, method: str, data: bytes, request: routing.RequestTag, timeout: float
    ) -> Tuple[contract.Provider, Optional[str], bytes]:
        """Routes and calls; raises NoProvider or CallFailed."""
        deadline = time.monotonic() + timeout
        found = self.providers(interface)
        candidates = route(found, request)
        if not candidates:
            raise no_provider(interface, found, request)
        return call_routed(candidates, interface, method, data, request, deadline)

    def close(self) -> None:
        with self._lock:
            if self._zk is not None:
                self._zk.stop()
                self._zk = None

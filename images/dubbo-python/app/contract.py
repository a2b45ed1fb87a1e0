"""The environment contract of envctl/dubbo-python, shared by provider.py and consumer.py.

Java Dubbo reads where to bind and what to register from the environment; Apache Dubbo's
Python implementation (3.0.0b1) does not, and registers the bind host with the URL path
missing. This module reproduces the Java behaviour so our provider is a faithful stand-in:

* DUBBO_IP_TO_BIND / DUBBO_PORT_TO_BIND: where the server listens (default 0.0.0.0:20880).
* DUBBO_IP_TO_REGISTRY / DUBBO_PORT_TO_REGISTRY: the address written into the registry
  (default: the container's own IP and the bind port).
* Each name also has a protocol-prefixed form, DUBBO_<PROTOCOL>_IP_TO_REGISTRY etc., which
  wins over the plain one (our protocol is `tri`, so DUBBO_TRI_PORT_TO_REGISTRY).
* Loopback, `localhost`, `0.0.0.0` and `anyhost` are never registered: they mean "this
  machine" to every reader. Java throws on them; we log why and register the container's
  own IP instead (as Java does when the bind host is "any").
* Registrations live at /<group>/<interface>/providers/<url-encoded provider URL>
  (group from `?group=` on the registry address, default `dubbo`), as ephemeral nodes.

Pure functions only, so they are unit-tested without a network (test_contract.py).
"""

import os
import socket
import time
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple
from urllib.parse import parse_qs, quote, unquote, urlencode, urlparse

PROTOCOL = "tri"
DEFAULT_PORT = 20880
DEFAULT_GROUP = "dubbo"
DUBBO_PROTOCOL_VERSION = "2.0.2"
RELEASE = "python-3.0.0b1"


class ContractError(ValueError):
    """A setting that cannot work; the message names the variable."""


def setting(env: Mapping[str, str], name: str, protocol: str = PROTOCOL) -> Optional[str]:
    """DUBBO_<PROTOCOL>_<name> wins over DUBBO_<name>, as in Java's getValueFromConfig."""
    for key in (f"DUBBO_{protocol.upper()}_{name}", f"DUBBO_{name}"):
        value = env.get(key, "").strip()
        if value:
            return value
    return None


def is_invalid_local_host(host: Optional[str]) -> bool:
    """Java NetUtils.isInvalidLocalHost: addresses that mean "this machine" to every reader."""
    if not host:
        return True
    host = host.strip().lower()
    return (
        host in ("localhost", "0.0.0.0", "anyhost", "::", "::1", "[::]", "[::1]")
        or host.startswith("127.")
    )


def parse_port(env: Mapping[str, str], name: str, protocol: str = PROTOCOL) -> Optional[int]:
    raw = setting(env, name, protocol)
    if raw is None:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise ContractError(f"DUBBO_{name}={raw!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ContractError(f"DUBBO_{name}={port} is out of range 1-65535")
    return port


def own_ip() -> str:
    """The container's address as Java's NetUtils.getLocalHost finds it: the hostname's
    address when valid, else the source address of the default route."""
    try:
        ip = socket.gethostbyname(socket.gethostname())
        if not is_invalid_local_host(ip):
            return ip
    except OSError:
        pass
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # A UDP connect only picks a route; nothing is sent.
        probe.connect(("192.0.2.1", 9))
        return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    finally:
        probe.close()


@dataclass
class Addresses:
    bind_ip: str
    bind_port: int
    registry_ip: str
    registry_port: int
    anyhost: bool
    # Why an address was not used as asked, for the log.
    notes: list = field(default_factory=list)


def resolve_addresses(
    env: Mapping[str, str], container_ip: str, protocol: str = PROTOCOL
) -> Addresses:
    notes = []
    bind_ip = setting(env, "IP_TO_BIND", protocol) or "0.0.0.0"
    anyhost = bind_ip in ("0.0.0.0", "::", "anyhost")
    if anyhost:
        bind_ip = "0.0.0.0"
    bind_port = parse_port(env, "PORT_TO_BIND", protocol) or DEFAULT_PORT

    registry_ip = setting(env, "IP_TO_REGISTRY", protocol)
    if registry_ip is not None and is_invalid_local_host(registry_ip):
        notes.append(
            f"DUBBO_IP_TO_REGISTRY={registry_ip} is a local address nobody else can use; "
            f"registering {container_ip} instead"
        )
        registry_ip = None
    if registry_ip is None:
        registry_ip = bind_ip if not is_invalid_local_host(bind_ip) else container_ip
    registry_port = parse_port(env, "PORT_TO_REGISTRY", protocol) or bind_port
    return Addresses(bind_ip, bind_port, registry_ip, registry_port, anyhost, notes)


@dataclass
class Registry:
    hosts: str  # kazoo form: "host:port[,host:port]"
    group: str


def parse_registry(address: Optional[str]) -> Optional[Registry]:
    """zookeeper://host:port[?backup=h2:p2&group=g]; `N/A` (as in Java) means none."""
    if not address or address.strip().upper() == "N/A":
        return None
    address = address.strip()
    if "://" not in address:
        raise ContractError(f"DUBBO_REGISTRY_ADDRESS={address!r}: expected zookeeper://host:port")
    parsed = urlparse(address)
    if parsed.scheme != "zookeeper":
        raise ContractError(
            f"DUBBO_REGISTRY_ADDRESS={address!r}: only zookeeper registries are supported"
        )
    if not parsed.hostname:
        raise ContractError(f"DUBBO_REGISTRY_ADDRESS={address!r} names no host")
    params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    hosts = [f"{parsed.hostname}:{parsed.port or 2181}"]
    hosts += [h for h in params.get("backup", "").split(",") if h]
    group = params.get("group", DEFAULT_GROUP).strip("/") or DEFAULT_GROUP
    return Registry(",".join(hosts), group)


def provider_url(
    interface: str,
    ip: str,
    port: int,
    methods,
    application: str,
    anyhost: bool,
    version: Optional[str] = None,
    group: Optional[str] = None,
    timestamp_ms: Optional[int] = None,
    protocol: str = PROTOCOL,
    tag: Optional[str] = None,
) -> str:
    """The provider URL as Java Dubbo writes it (parameters sorted by name). `tag` becomes
    `dubbo.tag`, as Java's ProviderConfig.tag (`-Ddubbo.provider.tag`, DUBBO_PROVIDER_TAG)
    does (AbstractInterfaceConfig.getTag, `@Parameter(key = TAG_KEY)`)."""
    params: Dict[str, str] = {
        "anyhost": "true" if anyhost else "false",
        "application": application,
        "deprecated": "false",
        "dubbo": DUBBO_PROTOCOL_VERSION,
        "dynamic": "true",
        "generic": "false",
        "interface": interface,
        "methods": ",".join(sorted(methods)),
        "pid": str(os.getpid()),
        "release": RELEASE,
        "side": "provider",
        "timestamp": str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)),
    }
    if version:
        params["version"] = version
    if group:
        params["group"] = group
    if tag:
        params["dubbo.tag"] = tag
    query = urlencode(sorted(params.items()))
    return f"{protocol}://{ip}:{port}/{interface}?{query}"


def providers_path(group: str, interface: str) -> str:
    return f"/{group}/{interface}/providers"


def registration_path(group: str, interface: str, url: str) -> str:
    return f"{providers_path(group, interface)}/{quote(url, safe='')}"


@dataclass
class Provider:
    protocol: str
    host: str
    port: int
    interface: str
    params: Dict[str, str]


def decode_registration(node: str) -> Provider:
    """The inverse of registration_path's last segment."""
    parsed = urlparse(unquote(node))
    if not parsed.hostname or not parsed.port:
        raise ContractError(f"registration {node!r} has no host:port")
    params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    interface = params.get("interface") or parsed.path.lstrip("/")
    return Provider(parsed.scheme, parsed.hostname, parsed.port, interface, params)


def split_host_port(text: str) -> Tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise ContractError(f"{text!r}: expected host:port")
    return host, int(port)

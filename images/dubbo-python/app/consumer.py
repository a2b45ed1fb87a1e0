"""A Dubbo consumer: finds providers of an interface in ZooKeeper and calls them (triple).

  consumer.py list    --interface X [--registry zookeeper://h:2181]
  consumer.py call    --interface X [--registry ... | --address host:port]
                      [--method greet] [--data TEXT] [--timeout 20]
  consumer.py gateway --listen 0.0.0.0:8080 [--registry ...]
        HTTP: GET /call/<interface>/<method>?data=TEXT -> the provider's reply (JSON)
              GET /call/<method>?data=TEXT           -> the same for DUBBO_SERVICE_INTERFACE
              GET /providers/<interface>             -> the registered providers (JSON)
              GET /health                            -> 200 while connected to ZooKeeper

--interface defaults to DUBBO_SERVICE_INTERFACE; --version (DUBBO_SERVICE_VERSION) selects
providers registered with that version, as Java Dubbo does (`*` or empty: any).

--registry defaults to DUBBO_REGISTRY_ADDRESS. `call` waits up to --timeout for a provider
to be registered, then calls the first one (sorted by address) and prints one JSON object:
{"provider": "host:port", "url": ..., "reply": ...}. Exit status 1 when no call succeeded.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import dubbo
from dubbo.configs import ReferenceConfig
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

import contract
import runtime

_clients = {}
_clients_lock = threading.Lock()


def connect_registry(address: str, timeout: float) -> tuple:
    registry = contract.parse_registry(address)
    if registry is None:
        raise contract.ContractError("no registry: pass --registry or --address")
    client = KazooClient(hosts=registry.hosts, timeout=10.0)
    client.start(timeout=timeout)
    return client, registry


def version_matches(wanted: str, provider: contract.Provider) -> bool:
    return wanted in ("", "*") or provider.params.get("version", "") == wanted


def list_providers(zk: KazooClient, registry: contract.Registry, interface: str, version: str = "") -> list:
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


def invoke(host: str, port: int, interface: str, method: str, data: bytes, timeout: float) -> bytes:
    """One unary call, bounded by `timeout` (the library itself waits forever)."""
    key = (host, port, interface)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            reference = ReferenceConfig(protocol=contract.PROTOCOL, service=interface, host=host, port=port)
            client = dubbo.Client(reference, runtime.bootstrap())
            _clients[key] = client
    result = {}

    def run():
        try:
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


def decode_reply(reply: bytes):
    try:
        return json.loads(reply)
    except ValueError:
        return reply.decode("utf-8", errors="replace")


def provider_json(provider: contract.Provider, node: str) -> dict:
    return {
        "interface": provider.interface,
        "protocol": provider.protocol,
        "host": provider.host,
        "port": provider.port,
        "params": provider.params,
        "node": node,
    }


def cmd_list(args) -> int:
    zk, registry = connect_registry(args.registry, args.timeout)
    try:
        found = list_providers(zk, registry, args.interface, args.version)
        print(json.dumps([provider_json(p, n) for p, n in found]))
        return 0
    finally:
        zk.stop()


def cmd_call(args) -> int:
    deadline = time.monotonic() + args.timeout
    if args.address:
        host, port = contract.split_host_port(args.address)
        candidates = [(host, port, None)]
    else:
        zk, registry = connect_registry(args.registry, args.timeout)
        try:
            found = wait_for_providers(zk, registry, args.interface, args.version, deadline)
        finally:
            zk.stop()
        if not found:
            print(f"consumer: no provider of {args.interface} registered", file=sys.stderr)
            return 1
        candidates = [(p.host, p.port, unquote(node)) for p, node in found]
    # A provider killed without unregistering stays listed until its session expires:
    # try each registered provider in turn, sharing the time left.
    for i, (host, port, url) in enumerate(candidates):
        remaining = deadline - time.monotonic()
        budget = max(2.0, remaining / (len(candidates) - i))
        try:
            reply = invoke(host, port, args.interface, args.method, args.data.encode(), budget)
        except Exception as err:  # noqa: BLE001 - one line per failed provider
            print(f"consumer: calling {args.interface}.{args.method} at {host}:{port} failed: {err}", file=sys.stderr)
            continue
        print(json.dumps({"provider": f"{host}:{port}", "url": url, "reply": decode_reply(reply)}))
        return 0
    return 1


def cmd_gateway(args) -> int:
    zk, registry = connect_registry(args.registry, 60.0)
    timeout = args.timeout

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status: int, body) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            parts = [p for p in url.path.split("/") if p]
            if parts == ["health"]:
                if zk.connected:
                    return self.reply(200, {"status": "ok"})
                return self.reply(503, {"status": "not connected to ZooKeeper"})
            if len(parts) == 2 and parts[0] == "providers":
                found = list_providers(zk, registry, parts[1], args.version)
                return self.reply(200, [provider_json(p, n) for p, n in found])
            if len(parts) == 2 and parts[0] == "call" and args.interface:
                parts = ["call", args.interface, parts[1]]
            if len(parts) == 3 and parts[0] == "call":
                interface, method = parts[1], parts[2]
                data = parse_qs(url.query).get("data", [""])[0].encode()
                found = list_providers(zk, registry, interface, args.version)
                if not found:
                    return self.reply(503, {"error": f"no provider of {interface} registered"})
                errors = []
                for provider, _node in found:
                    address = f"{provider.host}:{provider.port}"
                    try:
                        raw = invoke(provider.host, provider.port, interface, method, data, timeout)
                    except Exception as err:  # noqa: BLE001 - reported as 502 if all fail
                        errors.append(f"{address}: {err}")
                        continue
                    return self.reply(200, {"provider": address, "reply": decode_reply(raw)})
                return self.reply(502, {"error": "; ".join(errors)})
            return self.reply(404, {"error": "try /call/<interface>/<method>?data=x, /call/<method> or /providers/<interface>"})

        def log_message(self, fmt, *fmt_args):
            print("gateway: " + fmt % fmt_args, flush=True)

    host, port = contract.split_host_port(args.listen)
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"gateway: listening on {host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    zk.stop()
    return 0


def main() -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", default=os.environ.get("DUBBO_REGISTRY_ADDRESS", ""))
    common.add_argument("--timeout", type=float, default=20.0)
    common.add_argument("--interface", default=os.environ.get("DUBBO_SERVICE_INTERFACE", ""))
    common.add_argument("--version", default=os.environ.get("DUBBO_SERVICE_VERSION", ""))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[common])
    p_call = sub.add_parser("call", parents=[common])
    p_call.add_argument("--address")
    p_call.add_argument("--method", default="greet")
    p_call.add_argument("--data", default="world")
    p_gw = sub.add_parser("gateway", parents=[common])
    p_gw.add_argument("--listen", default="0.0.0.0:8080")
    args = parser.parse_args()
    if args.command in ("list", "call") and not args.interface:
        parser.error("--interface (or DUBBO_SERVICE_INTERFACE) is required")
    try:
        return {"list": cmd_list, "call": cmd_call, "gateway": cmd_gateway}[args.command](args)
    except contract.ContractError as err:
        print(f"consumer: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

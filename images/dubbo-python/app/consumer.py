"""A Dubbo consumer: finds providers of an interface in ZooKeeper and calls them (triple).

  consumer.py list    --interface X [--registry zookeeper://h:2181]
  consumer.py call    --interface X [--registry ... | --address host:port]
                      [--method greet] [--data TEXT] [--timeout 20] [--tag T] [--force-tag]
  consumer.py gateway --listen 0.0.0.0:8080 [--registry ...]
        HTTP: GET /call/<interface>/<method>?data=TEXT -> the provider's reply (JSON)
              GET /call/<method>?data=TEXT           -> the same for DUBBO_SERVICE_INTERFACE
              GET /providers/<interface>             -> the registered providers (JSON)
              GET /health                            -> 200 while connected to ZooKeeper

--interface defaults to DUBBO_SERVICE_INTERFACE; --version (DUBBO_SERVICE_VERSION) selects
providers registered with that version, as Java Dubbo does (`*` or empty: any).

Calls are routed by tag as Java Dubbo routes them (routing.py, calls.py): `call` takes --tag
(default DUBBO_CONSUMER_TAG) and --force-tag (default DUBBO_FORCE_TAG=true); the gateway takes
the `dubbo-tag` header (else the `dubbo.tag` query parameter, else DUBBO_CONSUMER_TAG) and
`dubbo-force-tag: true` (else DUBBO_FORCE_TAG). The tag travels with the call as the triple
header `dubbo.tag` (attachments.py). A request no provider may take gets HTTP 503 naming the
interface and the tag; one whose providers all fail, 502.

--registry defaults to DUBBO_REGISTRY_ADDRESS. `call` waits up to --timeout for a provider
to be registered, then calls the first routed one (sorted by address) and prints one JSON
object: {"provider": "host:port", "url": ..., "tag": ..., "reply": ...}. Exit status 1 when
no call succeeded.
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

import calls
import contract
import routing


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
        "tag": routing.provider_tag(provider.params),
        "params": provider.params,
        "node": node,
    }


def cmd_list(args) -> int:
    zk, registry = calls.connect_registry(args.registry, args.timeout)
    try:
        found = calls.list_providers(zk, registry, args.interface, args.version)
        print(json.dumps([provider_json(p, n) for p, n in found]))
        return 0
    finally:
        zk.stop()


def cmd_call(args) -> int:
    deadline = time.monotonic() + args.timeout
    request = routing.RequestTag(args.tag.strip(), args.force_tag)
    if args.address:
        host, port = contract.split_host_port(args.address)
        # An address given is called as is: routing is for what the registry lists.
        candidates = [(contract.Provider(contract.PROTOCOL, host, port, args.interface, {}), None)]
    else:
        zk, registry = calls.connect_registry(args.registry, args.timeout)
        try:
            found = calls.wait_for_providers(zk, registry, args.interface, args.version, deadline)
        finally:
            zk.stop()
        candidates = calls.route(found, request)
        if not candidates:
            print(f"consumer: {calls.no_provider(args.interface, found, request)}", file=sys.stderr)
            return 1
    try:
        provider, node, reply = calls.call_routed(
            candidates, args.interface, args.method, args.data.encode(), request, deadline
        )
    except calls.CallFailed as err:
        print(f"consumer: {err}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "provider": f"{provider.host}:{provider.port}",
                "url": unquote(node) if node else None,
                "tag": routing.provider_tag(provider.params),
                "reply": decode_reply(reply),
            }
        )
    )
    return 0


def cmd_gateway(args) -> int:
    caller = calls.Caller(args.registry, args.version)
    caller.registry()
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
            query = parse_qs(url.query)
            parts = [p for p in url.path.split("/") if p]
            if parts == ["health"]:
                if caller.connected:
                    return self.reply(200, {"status": "ok"})
                return self.reply(503, {"status": "not connected to ZooKeeper"})
            if len(parts) == 2 and parts[0] == "providers":
                found = caller.providers(parts[1])
                return self.reply(200, [provider_json(p, n) for p, n in found])
            if len(parts) == 2 and parts[0] == "call" and args.interface:
                parts = ["call", args.interface, parts[1]]
            if len(parts) == 3 and parts[0] == "call":
                interface, method = parts[1], parts[2]
                data = query.get("data", [""])[0].encode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = routing.gateway_request_tag(headers, query, os.environ)
                answer = {"interface": interface, "tag": request.tag, "force": request.force}
                try:
                    provider, _node, raw = caller.call(interface, method, data, request, timeout)
                except calls.NoProvider as err:
                    return self.reply(503, {**answer, "error": str(err)})
                except calls.CallFailed as err:
                    return self.reply(502, {**answer, "error": str(err)})
                answer["provider"] = f"{provider.host}:{provider.port}"
                answer["provider_tag"] = routing.provider_tag(provider.params)
                answer["reply"] = decode_reply(raw)
                return self.reply(200, answer)
            return self.reply(404, {"error": "try /call/<interface>/<method>?data=x, /call/<method> or /providers/<interface>"})

        def log_message(self, fmt, *fmt_args):
            print("gateway: " + fmt % fmt_args, flush=True)

    host, port = contract.split_host_port(args.listen)
    server = ThreadingHTTPServer((host, port), Handler)
    print(f"gateway: listening on {host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()
    caller.close()
    return 0


def main() -> int:
    env = os.environ
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--registry", default=env.get("DUBBO_REGISTRY_ADDRESS", ""))
    common.add_argument("--timeout", type=float, default=20.0)
    common.add_argument("--interface", default=env.get("DUBBO_SERVICE_INTERFACE", ""))
    common.add_argument("--version", default=env.get("DUBBO_SERVICE_VERSION", ""))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", parents=[common])
    p_call = sub.add_parser("call", parents=[common])
    p_call.add_argument("--address")
    p_call.add_argument("--method", default="greet")
    p_call.add_argument("--data", default="world")
    p_call.add_argument("--tag", default=env.get("DUBBO_CONSUMER_TAG", ""))
    p_call.add_argument(
        "--force-tag", action="store_true", default=routing.is_true(env.get("DUBBO_FORCE_TAG"))
    )
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

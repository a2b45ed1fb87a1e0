"""A minimal server of the `dubbo` protocol (Dubbo 2's Hessian-framed TCP protocol): it answers
heartbeats, and refuses calls with an error response, so readiness checks that speak the
protocol have a real peer. Apache Dubbo for Python has no `dubbo` protocol (triple only).

Frames follow apache/dubbo dubbo-remoting-api `ExchangeCodec` (`decodeBody`, `encodeResponse`):
a 16-byte header — magic 0xdabb, a flag byte (0x80 request, 0x40 two-way, 0x20 event, low 5
bits the serialization id), a status byte, an 8-byte request id, a 4-byte body length — then
the body. A heartbeat is an event request; its response keeps the serialization id and the
event flag, clears the request flags, echoes the id, has status 20 (OK) and the body `N`
(hessian2 null). A call gets status 70 (SERVICE_ERROR) and a hessian2 string saying why.

Registers `dubbo://<ip>:<port>/<interface>?...` like Java Dubbo (contract.py, kazoo), from
the same variables as provider.py (DUBBO_SERVICE_INTERFACE, DUBBO_REGISTRY_ADDRESS,
DUBBO_*_TO_BIND / _TO_REGISTRY, with DUBBO_DUBBO_* as the protocol-prefixed forms).
"""

import asyncio
import os
import signal
import sys
import threading

import contract
from provider import Registration, log

PROTOCOL = "dubbo"
MAGIC = b"\xda\xbb"
HEADER_LENGTH = 16
FLAG_REQUEST = 0x80
FLAG_TWOWAY = 0x40
FLAG_EVENT = 0x20
SERIALIZATION_MASK = 0x1F
OK = 20
SERVICE_ERROR = 70
HESSIAN2_NULL = b"N"
# Dubbo's default payload limit (8 MiB): a bigger length means a broken or hostile peer.
MAX_PAYLOAD = 8 * 1024 * 1024


def hessian2_string(text: str) -> bytes:
    """A hessian2 string of up to 65535 UTF-16 units, as a final chunk (`S` + length)."""
    data = text.encode("utf-8")
    return b"S" + len(text).to_bytes(2, "big") + data


def response(flag: int, status: int, request_id: bytes, body: bytes) -> bytes:
    header = MAGIC + bytes([flag, status]) + request_id + len(body).to_bytes(4, "big")
    return header + body


def answer(header: bytes) -> bytes:
    """The response to one request header, or b"" when none is due (one-way, a response)."""
    flag = header[2]
    if not flag & FLAG_REQUEST or not flag & FLAG_TWOWAY:
        return b""
    serialization = flag & SERIALIZATION_MASK
    request_id = header[4:12]
    if flag & FLAG_EVENT:
        return response(serialization | FLAG_EVENT, OK, request_id, HESSIAN2_NULL)
    reason = hessian2_string("envctl/dubbo-python's dubbo responder answers heartbeats only")
    return response(serialization, SERVICE_ERROR, request_id, reason)


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            header = await reader.readexactly(HEADER_LENGTH)
            if header[:2] != MAGIC:
                return  # not the dubbo protocol (Dubbo's telnet fallback is not offered)
            length = int.from_bytes(header[12:16], "big")
            if length > MAX_PAYLOAD:
                return
            await reader.readexactly(length)
            reply = answer(header)
            if reply:
                writer.write(reply)
                await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def main() -> int:
    env = os.environ
    interface = env.get("DUBBO_SERVICE_INTERFACE", "").strip()
    if not interface:
        log("DUBBO_SERVICE_INTERFACE is required")
        return 2
    application = env.get("DUBBO_APPLICATION_NAME", "").strip() or interface.rsplit(".", 1)[-1]
    try:
        registry = contract.parse_registry(env.get("DUBBO_REGISTRY_ADDRESS"))
        addresses = contract.resolve_addresses(env, contract.own_ip(), PROTOCOL)
    except contract.ContractError as err:
        log(f"invalid setting: {err}")
        return 2
    for note in addresses.notes:
        log(note)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        asyncio.start_server(serve_connection, addresses.bind_ip, addresses.bind_port)
    )
    log(f"dubbo protocol (heartbeats) on {addresses.bind_ip}:{addresses.bind_port}")

    registration = None
    if registry is not None:
        url = contract.provider_url(
            interface,
            addresses.registry_ip,
            addresses.registry_port,
            ["heartbeat"],
            application,
            addresses.anyhost,
            protocol=PROTOCOL,
        )
        path = contract.registration_path(registry.group, interface, url)
        registration = Registration(registry, path)
        threading.Thread(target=registration.run, args=(registry.hosts,), daemon=True).start()

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    log("stopping")
    if registration is not None:
        registration.close()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

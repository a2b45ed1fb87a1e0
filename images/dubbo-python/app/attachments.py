"""Invocation attachments over triple as HTTP/2 headers, the way Java Dubbo sends them.

Java's triple protocol writes each attachment as a request header, its key lowercased
(apache/dubbo dubbo-rpc-triple `StreamUtils.convertAttachment`), and the receiving side
reads the headers back into the invocation's attachments. So `dubbo.tag` travels as the
header `dubbo.tag: pay-v2`, and a Java provider or consumer on the other end sees it.

apache-dubbo 3.0.0b1 has the wire half only: `RequestMetadata.to_headers` writes
`metadata.attachments` as headers (dubbo/protocol/triple/metadata.py), but nothing fills
them: `MultipleRpcCallable._create_invocation` (dubbo/proxy/callables.py) makes invocations
without attachments, `TripleInvoker._create_metadata` (dubbo/protocol/triple/invoker.py)
copies none ("TODO add more metadata"), and `TripleServerCall.on_headers`
(dubbo/protocol/triple/call/server_call.py) drops the request's headers before running the
method, which is given the payload alone. `install()` fills exactly those three gaps, for
the keys in CARRIED, so the library's own wire format carries them:

* the calling thread sets what to send with `sending({...})`;
* a method handler reads what its request carried with `incoming()`.

The hooks replace private methods of the pinned version (build.sh pins 3.0.0b1);
`install()` refuses to run on any other, rather than fail quietly. runtime.bootstrap()
installs them in every process, before the library serves or calls anything.
"""

import threading
from contextlib import contextmanager
from typing import Dict, Iterator, Mapping

from dubbo.protocol.triple.call.server_call import TripleServerCall
from dubbo.protocol.triple.invoker import TripleInvoker
from dubbo.proxy.callables import MultipleRpcCallable

from library_fixes import require_pinned_library
from routing import FORCE_TAG_KEY, TAG_KEY

# The attachments this image sends and reads; lowercase, as they are on the wire.
CARRIED = (TAG_KEY, FORCE_TAG_KEY)

_local = threading.local()
_installed = False


def outgoing() -> Dict[str, str]:
    """What calls made by this thread attach."""
    return getattr(_local, "outgoing", {})


def incoming() -> Dict[str, str]:
    """What the request this thread serves carried (only in a method handler)."""
    return getattr(_local, "incoming", {})


@contextmanager
def sending(attachments: Mapping[str, str]) -> Iterator[None]:
    """Calls made by this thread inside the block attach `attachments`."""
    previous = outgoing()
    _local.outgoing = {k: v for k, v in attachments.items() if k in CARRIED and v}
    try:
        yield
    finally:
        _local.outgoing = previous


def carried(headers: Mapping[str, str]) -> Dict[str, str]:
    """The CARRIED attachments among a request's headers."""
    return {key: str(headers[key]) for key in CARRIED if headers.get(key)}


def install() -> None:
    """Hooks the library (once per process); see the module's comment."""
    global _installed
    if _installed:
        return
    require_pinned_library("attachments.py")

    create_invocation = MultipleRpcCallable._create_invocation
    create_metadata = TripleInvoker._create_metadata

    def create_invocation_with_attachments(self, argument):
        invocation = create_invocation(self, argument)
        for key, value in outgoing().items():
            invocation.add_attachment(key, value)
        return invocation

    def create_metadata_with_attachments(self, invocation):
        metadata = create_metadata(self, invocation)
        for key in CARRIED:
            value = invocation.get_attachment(key)
            if value:
                metadata.attachments[key] = value
        return metadata

    def on_headers_keeping_attachments(self, headers):
        # The original submits the method runner to the executor and ignores `headers`;
        # this one runs it with the request's attachments visible to the handler's thread.
        found = carried(headers)
        run = self._method_runner.run

        def run_with_attachments():
            _local.incoming = found
            try:
                run()
            finally:
                _local.incoming = {}

        self._executor.submit(run_with_attachments)

    MultipleRpcCallable._create_invocation = create_invocation_with_attachments
    TripleInvoker._create_metadata = create_metadata_with_attachments
    TripleServerCall.on_headers = on_headers_keeping_attachments
    _installed = True

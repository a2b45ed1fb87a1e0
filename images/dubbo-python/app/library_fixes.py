"""A fix for a bug of apache-dubbo 3.0.0b1 (the pinned PyPI library) that chains of services hit.

A provider answers only its newest connection. TripleProtocol.export makes one
StreamServerMultiplexHandler per server and hands it to every accepted connection through
the URL (dubbo/protocol/triple/protocol.py); each connection's Http2ServerProtocol calls its
do_init on connect (dubbo/remoting/aio/http2/protocol.py, connection_made), which replaces
the handler's protocol and stream table (dubbo/remoting/aio/http2/stream_handler.py). Answers
to an older connection's requests then go out on the newest one, where h2 refuses them
("Invalid stream ID for peer"), and the older consumer waits forever. Any provider with two
consumers (a gateway calling it directly, and a service calling it downstream) hits it.

`install()` gives each connection its own handler, made as export makes the shared one.
"""

from dubbo.__version__ import __version__ as library_version
from dubbo.remoting.aio.http2.protocol import Http2ServerProtocol
from dubbo.remoting.aio.http2.stream_handler import StreamServerMultiplexHandler

LIBRARY_VERSION = "3.0.0b1"

_installed = False


def require_pinned_library(module: str) -> None:
    """Refuses to patch a library version whose private methods were not checked."""
    if library_version != LIBRARY_VERSION:
        raise RuntimeError(
            f"{module} hooks apache-dubbo {LIBRARY_VERSION}'s private methods; found "
            f"{library_version}: check them again before changing the pin in build.sh"
        )


def install() -> None:
    global _installed
    if _installed:
        return
    require_pinned_library("library_fixes.py")
    original_init = Http2ServerProtocol.__init__

    def init_with_own_stream_handler(self, url):
        original_init(self, url)
        shared = self._stream_handler
        self._stream_handler = StreamServerMultiplexHandler(shared._listener_factory)

    Http2ServerProtocol.__init__ = init_with_own_stream_handler
    _installed = True

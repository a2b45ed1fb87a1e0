"""Unit test of library_fixes.py: each server connection gets its own stream table (no network)."""

import asyncio
import unittest

from dubbo.remoting.aio import constants as aio_constants
from dubbo.remoting.aio.http2.protocol import Http2ServerProtocol
from dubbo.remoting.aio.http2.stream_handler import StreamServerMultiplexHandler
from dubbo.url import URL

import library_fixes

library_fixes.install()


class ServerConnections(unittest.TestCase):
    def test_each_connection_has_its_own_stream_handler(self):
        def listener_factory():
            return None

        shared = StreamServerMultiplexHandler(listener_factory)
        url = URL(scheme="tri", host="0.0.0.0", port=20880, attributes={aio_constants.STREAM_HANDLER_KEY: shared})

        async def two_connections():
            return Http2ServerProtocol(url), Http2ServerProtocol(url)

        first, second = asyncio.run(two_connections())
        handlers = [first._stream_handler, second._stream_handler]
        self.assertIsNot(handlers[0], handlers[1])
        for handler in handlers:
            self.assertIsNot(handler, shared)
            self.assertIs(handler._listener_factory, listener_factory)


if __name__ == "__main__":
    unittest.main()

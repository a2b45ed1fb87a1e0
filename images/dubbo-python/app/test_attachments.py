"""Unit tests of attachments.py: the hooks in apache-dubbo 3.0.0b1 put `dubbo.tag` on the
wire as an HTTP/2 header and give it back to the method handler (no network)."""

import threading
import unittest

from dubbo.classes import MethodDescriptor
from dubbo.constants import common_constants
from dubbo.protocol.triple.call.server_call import TripleServerCall
from dubbo.protocol.triple.invoker import TripleInvoker
from dubbo.proxy.callables import MultipleRpcCallable
from dubbo.types import RpcTypes
from dubbo.url import URL

import attachments

attachments.install()


def request_headers(carried):
    """The HTTP/2 headers the library writes for one unary call made with `carried`."""
    descriptor = MethodDescriptor(
        method_name="greet", arg_serialization=(None, None), return_serialization=(None, None),
        rpc_type=RpcTypes.UNARY.value,
    )
    url = URL(scheme="tri", host="10.0.0.1", port=20880, path="org.envctl.T",
              attributes={common_constants.METHOD_DESCRIPTOR_KEY: descriptor})
    callable_ = MultipleRpcCallable(invoker=None, url=url)
    with attachments.sending(carried):
        invocation = callable_._create_invocation((("x",), {}))
    invoker = TripleInvoker.__new__(TripleInvoker)
    invoker._url = url
    return invoker._create_metadata(invocation).to_headers().to_dict()


class Client(unittest.TestCase):
    def test_the_tag_is_a_request_header(self):
        headers = request_headers({"dubbo.tag": "pay-v2", "dubbo.force.tag": "true"})
        self.assertEqual(headers.get("dubbo.tag"), "pay-v2")
        self.assertEqual(headers.get("dubbo.force.tag"), "true")
        self.assertEqual(headers.get(":path"), "/org.envctl.T/greet")

    def test_nothing_is_sent_outside_the_block_or_when_empty(self):
        headers = request_headers({"dubbo.tag": ""})
        self.assertNotIn("dubbo.tag", headers)
        self.assertEqual(attachments.outgoing(), {})


class Server(unittest.TestCase):
    def test_the_handler_sees_its_requests_tag_in_its_own_thread(self):
        seen = {}

        class Runner:
            def run(self):
                seen["during"] = attachments.incoming()

        class Executor:
            def submit(self, fn):
                worker = threading.Thread(target=fn)
                worker.start()
                worker.join()

        call = TripleServerCall.__new__(TripleServerCall)
        call._method_runner = Runner()
        call._executor = Executor()
        call.on_headers({":path": "/org.envctl.T/greet", "dubbo.tag": "cart-x", "te": "trailers"})
        self.assertEqual(seen["during"], {"dubbo.tag": "cart-x"})
        self.assertEqual(attachments.incoming(), {})


if __name__ == "__main__":
    unittest.main()

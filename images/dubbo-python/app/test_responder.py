"""Unit tests of dubbo_responder's frames against apache/dubbo ExchangeCodec (no network)."""

import unittest

import dubbo_responder as r


def request(flag: int, request_id: int = 7, body: bytes = b"N") -> bytes:
    return r.MAGIC + bytes([flag, 0]) + request_id.to_bytes(8, "big") + len(body).to_bytes(4, "big")


class ResponderTest(unittest.TestCase):
    def test_a_heartbeat_gets_the_event_response(self):
        # What Dubbo's HeartbeatHandler sends: request | two-way | event, hessian2 (2).
        reply = r.answer(request(0xE2, 7))
        self.assertEqual(reply, bytes.fromhex("dabb2214") + (7).to_bytes(8, "big") + b"\x00\x00\x00\x01N")

    def test_a_call_is_refused_with_a_service_error(self):
        reply = r.answer(request(0xC2, 9))
        self.assertEqual(reply[2:4], bytes([0x02, r.SERVICE_ERROR]))
        self.assertEqual(reply[4:12], (9).to_bytes(8, "big"))
        body = reply[16:]
        self.assertEqual(len(body), int.from_bytes(reply[12:16], "big"))
        self.assertTrue(body.startswith(b"S"))

    def test_one_way_requests_and_responses_get_nothing(self):
        self.assertEqual(r.answer(request(0xA2)), b"")  # one-way heartbeat
        self.assertEqual(r.answer(request(0x22)), b"")  # a heartbeat response


if __name__ == "__main__":
    unittest.main()

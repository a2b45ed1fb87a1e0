"""Unit tests of routing.py against apache/dubbo TagStateRouter.filterUsingStaticTag (no network)."""

import unittest

import routing
from routing import RequestTag

# (name, tag) pairs stand in for providers.
BASE, BASE2 = ("base", ""), ("base2", "")
PAY_V2, CART_X = ("pay-v2", "pay-v2"), ("cart-x", "cart-x")
ALL = [BASE, PAY_V2, CART_X, BASE2]


def names(request, providers=ALL):
    return [name for name, _tag in routing.route(providers, lambda p: p[1], request)]


class Route(unittest.TestCase):
    def test_a_tagged_request_goes_to_its_tag_only(self):
        self.assertEqual(names(RequestTag("pay-v2")), ["pay-v2"])
        self.assertEqual(names(RequestTag("cart-x")), ["cart-x"])

    def test_an_untagged_request_never_reaches_tagged_providers(self):
        self.assertEqual(names(RequestTag()), ["base", "base2"])
        self.assertEqual(names(RequestTag(), [PAY_V2, CART_X]), [])

    def test_a_tag_without_providers_falls_back_to_untagged_ones(self):
        self.assertEqual(names(RequestTag("gone")), ["base", "base2"])
        # ...and never to another tag's providers.
        self.assertEqual(names(RequestTag("gone"), [PAY_V2, CART_X]), [])

    def test_force_means_no_fallback(self):
        self.assertEqual(names(RequestTag("gone", force=True)), [])
        self.assertEqual(names(RequestTag("pay-v2", force=True)), ["pay-v2"])

    def test_the_provider_tag_is_the_url_parameter(self):
        self.assertEqual(routing.provider_tag({"dubbo.tag": " pay-v2 "}), "pay-v2")
        self.assertEqual(routing.provider_tag({"tag": "pay-v2"}), "")


class Messages(unittest.TestCase):
    def test_each_refusal_names_interface_and_tag(self):
        forced = routing.no_provider_message("com.shop.PaymentService", RequestTag("x", True), ["", "pay-v2"])
        self.assertIn("com.shop.PaymentService with tag x", forced)
        self.assertIn("dubbo.force.tag=true", forced)
        self.assertIn("pay-v2, untagged", forced)
        untagged = routing.no_provider_message("com.shop.PaymentService", RequestTag(), ["pay-v2"])
        self.assertIn("no untagged provider of com.shop.PaymentService", untagged)
        none = routing.no_provider_message("com.shop.PaymentService", RequestTag("x"), [])
        self.assertEqual(none, "no provider of com.shop.PaymentService registered")


class RequestTags(unittest.TestCase):
    def test_the_gateway_header_wins_then_the_query_then_its_own_tag(self):
        env = {"DUBBO_CONSUMER_TAG": "own", "DUBBO_FORCE_TAG": "true"}
        self.assertEqual(routing.gateway_request_tag({"dubbo-tag": "h"}, {"dubbo.tag": ["q"]}, env), RequestTag("h", True))
        self.assertEqual(routing.gateway_request_tag({}, {"dubbo.tag": ["q"]}, env).tag, "q")
        self.assertEqual(routing.gateway_request_tag({}, {}, env).tag, "own")
        self.assertEqual(routing.gateway_request_tag({}, {}, {}), RequestTag())

    def test_the_force_header_overrides_the_environment(self):
        env = {"DUBBO_FORCE_TAG": "true"}
        self.assertFalse(routing.gateway_request_tag({"dubbo-force-tag": "false"}, {}, env).force)
        self.assertTrue(routing.gateway_request_tag({"dubbo-force-tag": "TRUE"}, {}, {}).force)
        self.assertFalse(routing.gateway_request_tag({"dubbo-force-tag": "yes"}, {}, {}).force)

    def test_a_provider_passes_the_request_tag_on_not_its_force(self):
        incoming = {"dubbo.tag": "pay-v2", "dubbo.force.tag": "true"}
        self.assertEqual(routing.propagated_request_tag(incoming, {"DUBBO_CONSUMER_TAG": "own"}), RequestTag("pay-v2"))
        self.assertEqual(routing.propagated_request_tag({}, {"DUBBO_CONSUMER_TAG": "own"}), RequestTag("own"))
        self.assertEqual(routing.propagated_request_tag({}, {}), RequestTag())

    def test_attachments(self):
        self.assertEqual(RequestTag().attachments(), {})
        self.assertEqual(RequestTag("a").attachments(), {"dubbo.tag": "a"})
        self.assertEqual(RequestTag("a", True).attachments(), {"dubbo.tag": "a", "dubbo.force.tag": "true"})

    def test_downstream_list(self):
        self.assertEqual(routing.split_interfaces(" a.B, ,c.D ,"), ("a.B", "c.D"))
        self.assertEqual(routing.split_interfaces(None), ())


if __name__ == "__main__":
    unittest.main()

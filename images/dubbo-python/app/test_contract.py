"""Unit tests of contract.py: run with `python3 -m unittest test_contract` (no network)."""

import unittest

import contract


class Settings(unittest.TestCase):
    def test_protocol_prefixed_setting_wins(self):
        env = {"DUBBO_IP_TO_REGISTRY": "10.0.0.1", "DUBBO_TRI_IP_TO_REGISTRY": "10.0.0.2"}
        self.assertEqual(contract.setting(env, "IP_TO_REGISTRY"), "10.0.0.2")
        self.assertEqual(contract.setting({"DUBBO_IP_TO_REGISTRY": "10.0.0.1"}, "IP_TO_REGISTRY"), "10.0.0.1")

    def test_other_protocols_prefix_is_ignored(self):
        env = {"DUBBO_DUBBO_IP_TO_REGISTRY": "10.0.0.9"}
        self.assertIsNone(contract.setting(env, "IP_TO_REGISTRY"))
        self.assertEqual(contract.setting(env, "IP_TO_REGISTRY", protocol="dubbo"), "10.0.0.9")

    def test_defaults_bind_any_and_register_own_ip(self):
        a = contract.resolve_addresses({}, "172.18.0.5")
        self.assertEqual((a.bind_ip, a.bind_port), ("0.0.0.0", 20880))
        self.assertEqual((a.registry_ip, a.registry_port), ("172.18.0.5", 20880))
        self.assertTrue(a.anyhost)

    def test_advertised_address(self):
        env = {"DUBBO_IP_TO_REGISTRY": "192.168.1.20", "DUBBO_TRI_PORT_TO_REGISTRY": "41234"}
        a = contract.resolve_addresses(env, "172.18.0.5")
        self.assertEqual((a.registry_ip, a.registry_port), ("192.168.1.20", 41234))
        self.assertEqual(a.bind_port, 20880)

    def test_local_addresses_are_never_registered(self):
        for bad in ("127.0.0.1", "127.1.2.3", "localhost", "0.0.0.0", "anyhost"):
            a = contract.resolve_addresses({"DUBBO_IP_TO_REGISTRY": bad}, "172.18.0.5")
            self.assertEqual(a.registry_ip, "172.18.0.5", bad)
            self.assertTrue(a.notes, bad)

    def test_bad_ports_are_errors(self):
        for bad in ("x", "0", "70000"):
            with self.assertRaises(contract.ContractError):
                contract.resolve_addresses({"DUBBO_PORT_TO_REGISTRY": bad}, "172.18.0.5")


class RegistryAddress(unittest.TestCase):
    def test_parse(self):
        r = contract.parse_registry("zookeeper://zookeeper:2181")
        self.assertEqual((r.hosts, r.group), ("zookeeper:2181", "dubbo"))
        r = contract.parse_registry("zookeeper://zk:2182?backup=zk2:2181&group=feature-a")
        self.assertEqual((r.hosts, r.group), ("zk:2182,zk2:2181", "feature-a"))

    def test_none_and_errors(self):
        self.assertIsNone(contract.parse_registry("N/A"))
        self.assertIsNone(contract.parse_registry(""))
        for bad in ("zookeeper:2181", "nacos://x:8848", "zookeeper://"):
            with self.assertRaises(contract.ContractError):
                contract.parse_registry(bad)


class Registration(unittest.TestCase):
    def test_round_trip(self):
        url = contract.provider_url(
            "org.example.Greeter", "192.168.1.20", 41234, ["greet", "echo"], "greeter", True,
            version="1.0.0", timestamp_ms=1,
        )
        self.assertTrue(url.startswith("tri://192.168.1.20:41234/org.example.Greeter?anyhost=true&"))
        self.assertIn("methods=echo%2Cgreet", url)
        path = contract.registration_path("dubbo", "org.example.Greeter", url)
        prefix = "/dubbo/org.example.Greeter/providers/tri%3A%2F%2F192.168.1.20%3A41234%2F"
        self.assertTrue(path.startswith(prefix), path)
        self.assertEqual(path.count("/"), 4)
        p = contract.decode_registration(path.rsplit("/", 1)[1])
        self.assertEqual((p.protocol, p.host, p.port, p.interface), ("tri", "192.168.1.20", 41234, "org.example.Greeter"))
        self.assertEqual(p.params["methods"], "echo,greet")
        self.assertEqual(p.params["version"], "1.0.0")
        self.assertEqual(p.params["side"], "provider")

    def test_a_tag_is_the_dubbo_tag_parameter(self):
        url = contract.provider_url("org.example.Greeter", "10.0.0.1", 20880, ["greet"], "g", True, tag="pay-v2")
        self.assertIn("dubbo.tag=pay-v2", url)
        p = contract.decode_registration(contract.registration_path("dubbo", "org.example.Greeter", url).rsplit("/", 1)[1])
        self.assertEqual(p.params["dubbo.tag"], "pay-v2")
        untagged = contract.provider_url("org.example.Greeter", "10.0.0.1", 20880, ["greet"], "g", True)
        self.assertNotIn("dubbo.tag", untagged)


if __name__ == "__main__":
    unittest.main()

//! Decoding interface-level Dubbo registrations: ZooKeeper nodes named
//! `/<group>/<interface>/providers/<url-encoded provider URL>`, e.g.
//! `tri%3A%2F%2F192.168.1.20%3A41234%2Forg.example.Greeter%3Fside%3Dprovider%26...`.
//!
//! Each flavour writes the URL a little differently; the interface is taken from the first of
//! `interface=`, the URL path, `service=` and the ZooKeeper path that names one:
//! - Java Dubbo 2.7/3.x (`ZookeeperRegistry.toUrlPath`): `dubbo://` or `tri://host:port/<path>?
//!   interface=...`, form-encoded by `URL.encode` (space as `+`);
//! - dubbo-go (`registry/base_registry.go`, `providerRegistry`): the same shape, encoded by Go's
//!   `url.QueryEscape`;
//! - Apache Dubbo for Python (`dubbo/registry/zookeeper/zk_registry.py`, `to_url_path`):
//!   `tri://host:port?service=<interface>`, no path and no `interface=`.

use std::collections::BTreeMap;

use serde::Serialize;

/// Which of Dubbo's two registration models a registration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    /// A URL node under `/<group>/<interface>/providers` (Dubbo 2.x, 3.x `register-mode`
    /// `interface`/`all`, dubbo-go, Python).
    Interface,
    /// A Dubbo 3 application instance under `/services/<application>` (`register-mode`
    /// `instance`/`all`).
    Instance,
}

/// One provider as it registered itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    pub form: Form,
    /// The interface provided; `None` for an application instance no mapping names.
    pub interface: Option<String>,
    /// The Dubbo application (`application=` of a URL, the instance's service name).
    pub application: Option<String>,
    /// `dubbo`, `tri`, ...
    pub protocol: String,
    /// As registered: an IP address or a host name (no brackets around IPv6).
    pub host: String,
    pub port: u16,
    /// The URL's query parameters (`side`, `methods`, `version`, `application`, ...), or an
    /// instance's metadata.
    pub params: BTreeMap<String, String>,
    /// The decoded provider URL, or the instance node's path.
    pub url: String,
}

impl Registration {
    /// `host:port`, with IPv6 hosts in brackets.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("registration `{node}` is not UTF-8 once decoded")]
    NotUtf8 { node: String },
    #[error("registration `{url}` is not a URL: {reason}")]
    NotUrl { url: String, reason: String },
    #[error("registration `{url}` has no host and port")]
    NoAddress { url: String },
    #[error("registration `{url}` names no interface")]
    NoInterface { url: String },
    #[error("application instance {path} is not Dubbo's instance JSON: {reason}")]
    NotInstance { path: String, reason: String },
}

/// Decodes one node name found under `/<group>/<path_interface>/providers`. Java Dubbo
/// form-encodes the URL (space as `+`), Go and Python quote it (space as `%20`); all decode the
/// same way here. `path_interface` is the (still encoded) path segment, or `""` when unknown.
pub fn decode(node: &str, path_interface: &str) -> Result<Registration, DecodeError> {
    let url = unescape(node).ok_or_else(|| DecodeError::NotUtf8 {
        node: node.to_string(),
    })?;
    let parsed = url::Url::parse(&url).map_err(|err| DecodeError::NotUrl {
        url: url.clone(),
        reason: err.to_string(),
    })?;
    let host = match parsed.host() {
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        Some(host) => host.to_string(),
        None => return Err(DecodeError::NoAddress { url }),
    };
    let Some(port) = parsed.port() else {
        return Err(DecodeError::NoAddress { url });
    };
    let params: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
    let from_path = parsed.path().trim_matches('/').to_string();
    let from_zk_path = unescape(path_interface).unwrap_or_default();
    let interface = [
        params.get("interface").cloned(),
        Some(from_path),
        params.get("service").cloned(),
        Some(from_zk_path),
    ]
    .into_iter()
    .flatten()
    .find(|candidate| !candidate.is_empty());
    let Some(interface) = interface else {
        return Err(DecodeError::NoInterface { url });
    };
    Ok(Registration {
        form: Form::Interface,
        interface: Some(interface),
        application: params.get("application").cloned(),
        protocol: parsed.scheme().to_string(),
        host,
        port,
        params,
        url,
    })
}

/// Form-decodes a node name (`+` is a space); `None` when the result is not UTF-8.
fn unescape(node: &str) -> Option<String> {
    let plus_as_space = node.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What envctl/dubbo-python's provider writes (Python `quote(url, safe="")`).
    const PYTHON_NODE: &str = "tri%3A%2F%2F192.168.1.20%3A41234%2Forg.example.Greeter%3Fanyhost%3Dtrue%26application%3Dgreeter%26methods%3Decho%252Cgreet%26side%3Dprovider%26version%3D1.0.0";
    /// What Java Dubbo writes (`URLEncoder.encode`), params unencoded inside.
    const JAVA_NODE: &str = "dubbo%3A%2F%2F172.18.0.3%3A20880%2Fcom.shop.OrderService%3Fanyhost%3Dtrue%26application%3Dorder+service%26interface%3Dcom.shop.OrderService%26methods%3Dplace%2Ccancel%26side%3Dprovider";

    #[test]
    fn decodes_the_python_provider() {
        let r = decode(PYTHON_NODE, "org.example.Greeter").unwrap();
        assert_eq!(r.protocol, "tri");
        assert_eq!((r.host.as_str(), r.port), ("192.168.1.20", 41234));
        assert_eq!(r.interface.as_deref(), Some("org.example.Greeter"));
        assert_eq!(r.params["methods"], "echo,greet");
        assert_eq!(r.params["version"], "1.0.0");
        assert_eq!(r.address(), "192.168.1.20:41234");
        assert!(r
            .url
            .starts_with("tri://192.168.1.20:41234/org.example.Greeter?"));
    }

    #[test]
    fn decodes_the_java_provider_and_prefers_the_interface_param() {
        let r = decode(JAVA_NODE, "com.shop.OrderService").unwrap();
        assert_eq!(
            (r.protocol.as_str(), r.host.as_str(), r.port),
            ("dubbo", "172.18.0.3", 20880)
        );
        assert_eq!(r.interface.as_deref(), Some("com.shop.OrderService"));
        assert_eq!(r.params["application"], "order service");
        assert_eq!(r.params["methods"], "place,cancel");
    }

    #[test]
    fn ipv6_and_host_names() {
        let r = decode("tri%3A%2F%2F%5Bfd00%3A%3A5%5D%3A20880%2Fx.Y", "").unwrap();
        assert_eq!(
            (r.host.as_str(), r.address().as_str()),
            ("fd00::5", "[fd00::5]:20880")
        );
        let r = decode("tri%3A%2F%2Forder-service%3A20880%2Fx.Y", "").unwrap();
        assert_eq!(r.host, "order-service");
    }

    #[test]
    fn rejects_what_is_not_a_registration() {
        for (node, want) in [
            ("%FF%FE", "not UTF-8"),
            ("not-a-url", "not a URL"),
            ("tri%3A%2F%2F10.0.0.1%2Fx.Y", "no host and port"),
            ("tri%3A%2F%2F10.0.0.1%3A20880", "no interface"),
        ] {
            let err = decode(node, "").unwrap_err().to_string();
            assert!(err.contains(want), "{node}: {err}");
        }
    }

    /// Apache Dubbo for Python 3.0.0b1 (`zk_registry.py` `to_url_path`, `url.py` `to_str`): no
    /// URL path, the interface only in `service=`.
    const PYTHON_LIBRARY_NODE: &str =
        "tri%3A%2F%2F172.18.0.5%3A20880%3Fservice%3Dorg.example.Greeter%26side%3Dprovider";
    /// dubbo-go (`registry/base_registry.go`): Go's `url.QueryEscape`, `interface=` present.
    const GO_NODE: &str = "dubbo%3A%2F%2F172.18.0.6%3A20000%2Fcom.shop.UserProvider%3Fanyhost%3Dtrue%26app.version%3D3.0%26application%3Dgo+server%26interface%3Dcom.shop.UserProvider%26methods%3DGetUser%26side%3Dprovider";

    #[test]
    fn the_interface_comes_from_the_url_path_service_or_zookeeper_path() {
        let r = decode(PYTHON_LIBRARY_NODE, "org.example.Greeter").unwrap();
        assert_eq!(r.interface.as_deref(), Some("org.example.Greeter"));
        assert_eq!(r.address(), "172.18.0.5:20880");
        let r = decode(GO_NODE, "com.shop.UserProvider").unwrap();
        assert_eq!(r.interface.as_deref(), Some("com.shop.UserProvider"));
        assert_eq!(r.application.as_deref(), Some("go server"));
        // Nothing in the URL: the ZooKeeper path names it.
        let r = decode("tri%3A%2F%2F10.0.0.1%3A20880", "x.Y").unwrap();
        assert_eq!(
            (r.interface.as_deref(), r.form),
            (Some("x.Y"), Form::Interface)
        );
    }
}

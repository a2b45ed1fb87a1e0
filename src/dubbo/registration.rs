//! Decoding Dubbo provider registrations: ZooKeeper nodes named
//! `/<group>/<interface>/providers/<url-encoded provider URL>`, e.g.
//! `tri%3A%2F%2F192.168.1.20%3A41234%2Forg.example.Greeter%3Fside%3Dprovider%26...`.

use std::collections::BTreeMap;

use serde::Serialize;

/// The registry root Dubbo uses unless a `group` is configured.
pub const DEFAULT_GROUP: &str = "dubbo";

/// Where the providers of `interface` are registered.
pub fn providers_path(group: &str, interface: &str) -> String {
    format!("/{}/{interface}/providers", group.trim_matches('/'))
}

/// The registry root for `group`.
pub fn group_root(group: &str) -> String {
    format!("/{}", group.trim_matches('/'))
}

/// One provider as it registered itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    pub interface: String,
    /// `dubbo`, `tri`, ...
    pub protocol: String,
    /// As registered: an IP address or a host name (no brackets around IPv6).
    pub host: String,
    pub port: u16,
    /// The URL's query parameters (`side`, `methods`, `version`, `application`, ...).
    pub params: BTreeMap<String, String>,
    /// The decoded provider URL.
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
}

/// Decodes one node name. Java Dubbo form-encodes the URL (space as `+`), Python quotes it
/// (space as `%20`); both decode the same way here.
pub fn decode(node: &str) -> Result<Registration, DecodeError> {
    let plus_as_space = node.replace('+', " ");
    let url = percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map_err(|_| DecodeError::NotUtf8 {
            node: node.to_string(),
        })?
        .into_owned();
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
    let interface = params
        .get("interface")
        .cloned()
        .unwrap_or_else(|| parsed.path().trim_matches('/').to_string());
    if interface.is_empty() {
        return Err(DecodeError::NoInterface { url });
    }
    Ok(Registration {
        interface,
        protocol: parsed.scheme().to_string(),
        host,
        port,
        params,
        url,
    })
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
        let r = decode(PYTHON_NODE).unwrap();
        assert_eq!(r.protocol, "tri");
        assert_eq!((r.host.as_str(), r.port), ("192.168.1.20", 41234));
        assert_eq!(r.interface, "org.example.Greeter");
        assert_eq!(r.params["methods"], "echo,greet");
        assert_eq!(r.params["version"], "1.0.0");
        assert_eq!(r.address(), "192.168.1.20:41234");
        assert!(r
            .url
            .starts_with("tri://192.168.1.20:41234/org.example.Greeter?"));
    }

    #[test]
    fn decodes_the_java_provider_and_prefers_the_interface_param() {
        let r = decode(JAVA_NODE).unwrap();
        assert_eq!(
            (r.protocol.as_str(), r.host.as_str(), r.port),
            ("dubbo", "172.18.0.3", 20880)
        );
        assert_eq!(r.interface, "com.shop.OrderService");
        assert_eq!(r.params["application"], "order service");
        assert_eq!(r.params["methods"], "place,cancel");
    }

    #[test]
    fn ipv6_and_host_names() {
        let r = decode("tri%3A%2F%2F%5Bfd00%3A%3A5%5D%3A20880%2Fx.Y").unwrap();
        assert_eq!(
            (r.host.as_str(), r.address().as_str()),
            ("fd00::5", "[fd00::5]:20880")
        );
        let r = decode("tri%3A%2F%2Forder-service%3A20880%2Fx.Y").unwrap();
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
            let err = decode(node).unwrap_err().to_string();
            assert!(err.contains(want), "{node}: {err}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(providers_path("dubbo", "a.B"), "/dubbo/a.B/providers");
        assert_eq!(
            providers_path("/feature-x/", "a.B"),
            "/feature-x/a.B/providers"
        );
        assert_eq!(group_root("dubbo"), "/dubbo");
    }
}

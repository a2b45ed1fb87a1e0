//! Decoding Dubbo 3 application-level registrations (service discovery, `register-mode:
//! instance`), as apache/dubbo writes them to ZooKeeper:
//!
//! - `<rootPath>/<application>/<host:port>` (`ZookeeperServiceDiscovery`, node id from
//!   `CuratorFrameworkUtils.generateId`), whose data is Curator's `JsonInstanceSerializer` form of
//!   a `ServiceInstance<ZookeeperInstance>`: `{"name", "id", "address", "port", "payload":
//!   {"@class": ..., "metadata": {...}}, ...}`. The metadata key `dubbo.endpoints`
//!   (`ServiceInstanceMetadataUtils.ENDPOINTS`) holds a JSON list of `{"port", "protocol"}`,
//!   one per protocol the instance serves.
//! - `/<group>/mapping/<interface>` (`ZookeeperMetadataReport.registerServiceAppMapping`,
//!   `DEFAULT_MAPPING_GROUP`), whose data is the comma-separated applications providing it
//!   (`ServiceNameMapping.getAppNames`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::registration::{DecodeError, Form, Registration};

/// Dubbo's protocol when an instance lists no endpoints.
const DEFAULT_PROTOCOL: &str = "dubbo";

#[derive(Debug, Deserialize)]
struct CuratorInstance {
    address: Option<String>,
    port: Option<u16>,
    #[serde(default)]
    payload: Option<Payload>,
}

#[derive(Debug, Default, Deserialize)]
struct Payload {
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct Endpoint {
    port: u16,
    protocol: String,
}

/// The registrations of one instance node (one per endpoint), each naming `interfaces[i]`
/// when mappings name it (else one with no interface per endpoint). `path` is the node's path.
pub fn decode_instance(
    application: &str,
    id: &str,
    data: &[u8],
    path: &str,
    interfaces: &[String],
) -> Result<Vec<Registration>, DecodeError> {
    let bad = |reason: String| DecodeError::NotInstance {
        path: path.to_string(),
        reason,
    };
    let instance: CuratorInstance =
        serde_json::from_slice(data).map_err(|err| bad(err.to_string()))?;
    // The node id is `host:port`; the JSON wins when it has them.
    let (id_host, id_port) = match id.rsplit_once(':') {
        Some((host, port)) => (Some(host.to_string()), port.parse::<u16>().ok()),
        None => (None, None),
    };
    let host = instance
        .address
        .or(id_host)
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no address".into()))?;
    let port = instance
        .port
        .or(id_port)
        .ok_or_else(|| bad("no port".into()))?;
    let metadata = instance.payload.unwrap_or_default().metadata;
    let mut endpoints: Vec<(String, u16)> = match metadata.get("dubbo.endpoints") {
        Some(text) => serde_json::from_str::<Vec<Endpoint>>(text)
            .map_err(|err| bad(format!("dubbo.endpoints: {err}")))?
            .into_iter()
            .map(|e| (e.protocol, e.port))
            .collect(),
        None => Vec::new(),
    };
    if endpoints.is_empty() {
        endpoints.push((DEFAULT_PROTOCOL.to_string(), port));
    }
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let names: Vec<Option<String>> = if interfaces.is_empty() {
        vec![None]
    } else {
        interfaces.iter().cloned().map(Some).collect()
    };
    let mut out = Vec::new();
    for interface in names {
        for (protocol, port) in &endpoints {
            out.push(Registration {
                form: Form::Instance,
                interface: interface.clone(),
                application: Some(application.to_string()),
                protocol: protocol.clone(),
                host: host.clone(),
                port: *port,
                params: metadata.clone(),
                url: path.to_string(),
            });
        }
    }
    Ok(out)
}

/// The applications a mapping node names.
pub fn decode_mapping(data: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(data)
        .split(',')
        .map(str::trim)
        .filter(|app| !app.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An instance node's data as Dubbo 3.2 writes it for a provider serving dubbo and tri.
    pub const JAVA_INSTANCE: &str = r#"{"name":"shop-order","id":"172.18.0.7:20880","address":"172.18.0.7","port":20880,"sslPort":null,"payload":{"@class":"org.apache.dubbo.registry.zookeeper.ZookeeperInstance","id":null,"name":"shop-order","metadata":{"dubbo.endpoints":"[{\"port\":20880,\"protocol\":\"dubbo\"},{\"port\":50051,\"protocol\":\"tri\"}]","dubbo.metadata.revision":"a1b2c3","dubbo.metadata.storage-type":"local","timestamp":"1700000000000"}},"registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC","uriSpec":null}"#;

    #[test]
    fn one_registration_per_endpoint_and_interface() {
        let interfaces = vec!["com.shop.Order".to_string(), "com.shop.Refund".to_string()];
        let found = decode_instance(
            "shop-order",
            "172.18.0.7:20880",
            JAVA_INSTANCE.as_bytes(),
            "/services/shop-order/172.18.0.7:20880",
            &interfaces,
        )
        .unwrap();
        assert_eq!(found.len(), 4);
        let tri = found
            .iter()
            .find(|r| r.protocol == "tri" && r.interface.as_deref() == Some("com.shop.Refund"))
            .unwrap();
        assert_eq!(
            (tri.form, tri.address().as_str()),
            (Form::Instance, "172.18.0.7:50051")
        );
        assert_eq!(tri.application.as_deref(), Some("shop-order"));
        assert_eq!(tri.params["dubbo.metadata.revision"], "a1b2c3");
    }

    #[test]
    fn without_endpoints_or_address_the_node_id_and_dubbo_are_used() {
        let found = decode_instance(
            "a",
            "10.0.0.9:20881",
            br#"{"name":"a"}"#,
            "/services/a/x",
            &[],
        )
        .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].protocol.as_str(),
                found[0].address().as_str(),
                found[0].interface.as_deref()
            ),
            ("dubbo", "10.0.0.9:20881", None)
        );
    }

    #[test]
    fn rejects_what_is_not_an_instance() {
        for data in [
            &b"not json"[..],
            br#"{"name":"a"}"#,
            br#"{"address":"h","port":1,"payload":{"metadata":{"dubbo.endpoints":"[1]"}}}"#,
        ] {
            let err = decode_instance("a", "no-port", data, "/services/a/n", &[]).unwrap_err();
            assert!(err.to_string().contains("/services/a/n"), "{err}");
        }
    }

    #[test]
    fn mappings_are_comma_separated_applications() {
        assert_eq!(
            decode_mapping(b"shop-order, shop-legacy,"),
            ["shop-order", "shop-legacy"]
        );
        assert!(decode_mapping(b"").is_empty());
    }
}

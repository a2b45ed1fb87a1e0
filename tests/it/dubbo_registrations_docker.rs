//! Issue 12: every registration form Dubbo writes, in a real ZooKeeper (envctl/zookeeper),
//! through `envctl up` readiness (`healthcheck: { dubbo: ... }`) and `envctl endpoints
//! --output json`. The test writes each node exactly as its flavour does (sources below, all
//! read in the apache/* repositories); the registered addresses are providers this test runs
//! on loopback, answering the protocol they registered (a dubbo heartbeat, an HTTP/2 preface).

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use envctl::zookeeper::Session;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use support::Instance;

/// What a provider of one protocol answers, for as long as the test runs.
#[derive(Clone, Copy)]
enum Speaks {
    /// apache/dubbo `ExchangeCodec.encodeResponse` of a heartbeat: the request's header with
    /// the request/two-way flags cleared, the event flag kept, status 20 (OK), body `N`.
    Dubbo,
    /// An HTTP/2 server's first frame: SETTINGS.
    Http2,
}

/// A provider on 127.0.0.1; its thread ends with the test process.
fn provider(speaks: Speaks) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut request = [0u8; 17];
                if conn.read_exact(&mut request).is_err() {
                    return;
                }
                let reply: Vec<u8> = match speaks {
                    Speaks::Dubbo => {
                        let mut reply = request.to_vec();
                        reply[2] = (request[2] & 0x1f) | 0x20;
                        reply[3] = 20;
                        reply
                    }
                    Speaks::Http2 => vec![0, 0, 0, 4, 0, 0, 0, 0, 0],
                };
                let _ = conn.write_all(&reply);
                let mut sink = [0u8; 256];
                while matches!(conn.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

/// Java's `URLEncoder.encode` (what `URL.encode` calls): all but `A-Za-z0-9-_.*`, space as `+`.
fn java_encode(url: &str) -> String {
    const JAVA: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'*')
        .remove(b' ');
    utf8_percent_encode(url, JAVA).to_string().replace(' ', "+")
}

/// Go's `url.QueryEscape`: all but `A-Za-z0-9-_.~`, space as `+`.
fn go_query_escape(url: &str) -> String {
    const GO: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b' ');
    utf8_percent_encode(url, GO).to_string().replace(' ', "+")
}

/// Python's `urllib.parse.quote(url, safe="")`: all but `A-Za-z0-9-_.~`, space as `%20`.
fn python_quote(url: &str) -> String {
    const PY: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(url, PY).to_string()
}

/// Creates `path` and any missing parents (as Curator's `creatingParentsIfNeeded` and kazoo's
/// `ensure_path` do), the last with `data`.
async fn create_all(session: &mut Session, path: &str, data: &str) {
    let mut at = String::new();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        at.push('/');
        at.push_str(part);
        let bytes = if i + 1 == parts.len() {
            data.as_bytes()
        } else {
            b""
        };
        match session.create(&at, bytes, false).await {
            Ok(()) | Err(envctl::zookeeper::ZkError::NodeExists { .. }) => {}
            Err(err) => panic!("creating {at}: {err}"),
        }
    }
}

const ZOOKEEPER_ONLY: &str = r#"
description: issue 12 registration forms (registry first)
services:
  zookeeper:
    template: zookeeper
"#;

/// One marker service per form, ready only when its dubbo check passes.
const WITH_CHECKS: &str = r#"
description: issue 12 registration forms
services:
  zookeeper:
    template: zookeeper
  java27:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: { zookeeper: healthy }
    healthcheck: { dubbo: { interface: com.shop.Legacy }, interval: 200ms, retries: 50 }
  java3group:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: { zookeeper: healthy }
    healthcheck:
      dubbo: { interface: com.shop.Order, registry: "zookeeper://zookeeper:2181?group=shop" }
      interval: 200ms
      retries: 50
  python:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: { zookeeper: healthy }
    healthcheck: { dubbo: { interface: org.example.Greeter }, interval: 200ms, retries: 50 }
  gochroot:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: { zookeeper: healthy }
    healthcheck:
      # The main server refuses (port 1): the backup, a service of the instance, is used.
      dubbo: { interface: com.shop.User, registry: "zookeeper://127.0.0.1:1/team?backup=zookeeper:2181" }
      interval: 200ms
      retries: 50
  mapped:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: { zookeeper: healthy }
    healthcheck: { dubbo: { interface: com.shop.Stock }, interval: 200ms, retries: 50 }
  app:
    image: envctl/busybox:1.35
    command: ["sleep", "3600"]
    depends_on: { zookeeper: healthy }
    healthcheck: { dubbo: { application: shop-stock }, interval: 200ms, retries: 50 }
"#;

fn ensure_zookeeper_image() {
    support::ensure_images(&[("envctl/zookeeper:3.8", "zookeeper")]);
}

/// An instance of `definition` with the shared templates on the path.
fn with_templates(prefix: &str, definition: &str) -> Instance {
    Instance::new(prefix, definition)
        .with_shared_templates()
        .with_timeout(Duration::from_secs(300))
}

fn endpoints(fixture: &Instance, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["endpoints", fixture.env.as_str(), "--output", "json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&fixture.envctl_ok(&args)).unwrap()
}

/// The providers of `interface` in an `endpoints` report.
fn entries<'a>(report: &'a serde_json::Value, interface: &str) -> Vec<&'a serde_json::Value> {
    report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["interface"] == interface)
        .collect()
}

#[tokio::test]
async fn every_registration_form_is_seen_by_up_and_endpoints() {
    ensure_zookeeper_image();
    let fixture = with_templates("dreg", ZOOKEEPER_ONLY);
    fixture.envctl_ok(&["up", &fixture.env]);
    let report = endpoints(&fixture, &[]);
    let registry: SocketAddr = report["registry"].as_str().unwrap().parse().unwrap();

    let dubbo = provider(Speaks::Dubbo);
    let tri = provider(Speaks::Http2);
    let stock = provider(Speaks::Dubbo);
    let mut zk = Session::connect(registry, Duration::from_secs(5))
        .await
        .unwrap();

    // Java Dubbo 2.7 (dubbo-registry-zookeeper ZookeeperRegistry.toUrlPath: /<group>/
    // URL.encode(interface)/providers/URL.encode(url.toFullString())).
    let java27 = format!(
        "dubbo://127.0.0.1:{dubbo}/com.shop.Legacy?anyhost=true&application=legacy shop&\
         dubbo=2.0.2&generic=false&interface=com.shop.Legacy&methods=find,save&pid=7&\
         release=2.7.23&side=provider&timestamp=1700000000000"
    );
    let path = format!("/dubbo/com.shop.Legacy/providers/{}", java_encode(&java27));
    create_all(&mut zk, &path, "").await;

    // Java Dubbo 3.x, triple, registry `group=shop` (the root becomes /shop).
    let java3 = format!(
        "tri://127.0.0.1:{tri}/com.shop.Order?application=shop-order&\
         interface=com.shop.Order&methods=place&release=3.2.10&side=provider&version=1.0.0"
    );
    let path = format!("/shop/com.shop.Order/providers/{}", java_encode(&java3));
    create_all(&mut zk, &path, "").await;

    // Apache Dubbo for Python 3.0.0b1 (dubbo/registry/zookeeper/zk_registry.py to_url_path,
    // url.py to_str(encode=True)): no path, `service=`, the node's data is `host:port`.
    let python = format!("tri://127.0.0.1:{tri}?service=org.example.Greeter&side=provider");
    let path = format!(
        "/dubbo/org.example.Greeter/providers/{}",
        python_quote(&python)
    );
    create_all(&mut zk, &path, &format!("127.0.0.1:{tri}")).await;

    // dubbo-go (registry/base_registry.go providerRegistry + url.QueryEscape), under the
    // chroot /team its connect string names.
    let go = format!(
        "dubbo://127.0.0.1:{dubbo}/com.shop.User?anyhost=true&application=go server&\
         category=providers&dubbo=dubbo-provider-golang-3.1.0&interface=com.shop.User&\
         methods=GetUser&side=provider"
    );
    let path = format!(
        "/team/dubbo/com.shop.User/providers/{}",
        go_query_escape(&go)
    );
    create_all(&mut zk, &path, "").await;

    // Dubbo 3 application-level discovery, register-mode=instance: only an instance node
    // (ZookeeperServiceDiscovery, Curator JsonInstanceSerializer, id from
    // CuratorFrameworkUtils.generateId) and the mapping (ZookeeperMetadataReport).
    let instance = format!(
        r#"{{"name":"shop-stock","id":"127.0.0.1:{stock}","address":"127.0.0.1","port":{stock},"sslPort":null,"payload":{{"@class":"org.apache.dubbo.registry.zookeeper.ZookeeperInstance","id":null,"name":"shop-stock","metadata":{{"dubbo.endpoints":"[{{\"port\":{stock},\"protocol\":\"dubbo\"}}]","dubbo.metadata.revision":"9f3c","dubbo.metadata.storage-type":"local"}}}},"registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC","uriSpec":null}}"#
    );
    create_all(
        &mut zk,
        &format!("/services/shop-stock/127.0.0.1:{stock}"),
        &instance,
    )
    .await;
    create_all(&mut zk, "/dubbo/mapping/com.shop.Stock", "shop-stock").await;
    zk.close().await;

    // `up` waits for every marker service's dubbo check: each form must be found and answer.
    fixture.define_refused(&fixture.env, WITH_CHECKS);
    fixture.envctl_ok(&["up", &fixture.env]);

    let report = endpoints(&fixture, &[]);
    assert!(
        report["warnings"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let legacy = entries(&report, "com.shop.Legacy");
    assert_eq!(legacy.len(), 1, "{report}");
    assert_eq!(
        (
            &legacy[0]["protocol"],
            &legacy[0]["form"],
            &legacy[0]["application"]
        ),
        (&"dubbo".into(), &"interface".into(), &"legacy shop".into())
    );
    assert_eq!(legacy[0]["outside"], format!("127.0.0.1:{dubbo}"));
    let greeter = entries(&report, "org.example.Greeter");
    assert_eq!(greeter.len(), 1, "{report}");
    assert_eq!(greeter[0]["registered"], format!("127.0.0.1:{tri}"));
    let stocks = entries(&report, "com.shop.Stock");
    assert_eq!(stocks.len(), 1, "{report}");
    assert_eq!(
        (
            &stocks[0]["form"],
            &stocks[0]["application"],
            &stocks[0]["protocol"]
        ),
        (&"instance".into(), &"shop-stock".into(), &"dubbo".into())
    );
    // Other groups and chroots are not in the default layout...
    assert!(entries(&report, "com.shop.Order").is_empty(), "{report}");
    assert!(entries(&report, "com.shop.User").is_empty(), "{report}");
    // ...but are with the address the providers use.
    let shop = endpoints(
        &fixture,
        &["--registry", "zookeeper://zookeeper:2181?group=shop"],
    );
    assert_eq!(entries(&shop, "com.shop.Order").len(), 1, "{shop}");
    let team = endpoints(&fixture, &["--registry", "zookeeper:2181/team"]);
    let user = entries(&team, "com.shop.User");
    assert_eq!(user.len(), 1, "{team}");
    assert_eq!(user[0]["application"], "go server");
}

#[test]
fn a_bad_registry_address_is_refused_when_the_definition_loads() {
    let fixture = with_templates(
        "dregbad",
        r#"
services:
  p:
    image: envctl/busybox:1.35
    healthcheck: { dubbo: { interface: a.B, registry: "nacos://n:8848" } }
  q:
    image: envctl/busybox:1.35
    healthcheck: { dubbo: { interface: a.B, application: b } }
"#,
    );
    let out = fixture.envctl(&["up", &fixture.env]);
    assert!(!out.status.success());
    let err = support::text(&out.stderr);
    assert!(err.contains("`nacos://n:8848`: only zookeeper://"), "{err}");
    assert!(
        err.contains("exactly one of `interface` and `application`"),
        "{err}"
    );
    assert!(err.contains("2 problems found"), "{err}");
}

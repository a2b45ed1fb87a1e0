//! Issue 12: `envctl endpoints --watch --output json` reports providers as they register and
//! vanish, live, from ZooKeeper watches, in a real ZooKeeper (envctl/zookeeper). The test plays
//! the providers: an interface-level registration as an ephemeral node of its own session (as
//! every Dubbo flavour registers), which vanishes when that session closes, and a Dubbo 3
//! application instance under a `/services` root that did not exist when watching began.

use crate::support;

use std::net::SocketAddr;
use std::process::Child;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use envctl::zookeeper::Session;
use support::Instance;

/// The watching process, killed on drop.
struct Watcher {
    child: Child,
    lines: Receiver<String>,
}

impl Watcher {
    fn start(fixture: &Instance) -> Self {
        let (child, lines, _stderr) = fixture.spawn("endpoints", &["--watch", "--output", "json"]);
        Watcher { child, lines }
    }

    /// The next change line, waiting up to 20 s for it.
    fn next(&self) -> serde_json::Value {
        let seen = support::child::read_until(&self.lines, Duration::from_secs(20), |_| true);
        let line = seen.last().unwrap();
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const DEFINITION: &str = r#"
description: issue 12 endpoints --watch
services:
  zookeeper:
    template: zookeeper
"#;

/// The Java form of a provider URL node (dubbo-registry-zookeeper `ZookeeperRegistry`).
fn java_node(url: &str) -> String {
    percent_encoding::utf8_percent_encode(url, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn watch_reports_registrations_as_they_come_and_go() {
    support::ensure_images(&[("envctl/zookeeper:3.8", "zookeeper")]);
    let fixture = Instance::new("dwatch", DEFINITION)
        .with_shared_templates()
        .with_timeout(Duration::from_secs(300));
    fixture.envctl_ok(&["up", &fixture.env]);
    let report: serde_json::Value =
        serde_json::from_str(&fixture.envctl_ok(&["endpoints", &fixture.env, "--output", "json"]))
            .unwrap();
    let registry: SocketAddr = report["registry"].as_str().unwrap().parse().unwrap();
    let t = Duration::from_secs(5);
    let mut admin = Session::connect(registry, t).await.unwrap();
    for path in ["/dubbo", "/dubbo/com.shop.Order"] {
        admin.create(path, b"", false).await.unwrap();
    }

    let watcher = Watcher::start(&fixture);
    // A provider starts (from the IDE): its session creates `providers` and its node.
    let mut provider = Session::connect(registry, t).await.unwrap();
    provider
        .create("/dubbo/com.shop.Order/providers", b"", false)
        .await
        .unwrap();
    let url = "tri://10.9.8.7:20880/com.shop.Order?interface=com.shop.Order&side=provider";
    let node = format!("/dubbo/com.shop.Order/providers/{}", java_node(url));
    provider.create(&node, b"", true).await.unwrap();
    let added = watcher.next();
    assert_eq!(added["event"], "added", "{added}");
    assert_eq!(added["provider"]["interface"], "com.shop.Order");
    assert_eq!(added["provider"]["registered"], "10.9.8.7:20880");

    // It stops: its session ends, ZooKeeper drops the ephemeral node.
    provider.close().await;
    let removed = watcher.next();
    assert_eq!(removed["event"], "removed", "{removed}");
    assert_eq!(removed["provider"]["registered"], "10.9.8.7:20880");

    // A Dubbo 3 instance appears under a root that did not exist when watching began.
    let instance = r#"{"name":"shop-stock","address":"10.9.8.6","port":20880}"#;
    for (path, data) in [
        ("/services", ""),
        ("/services/shop-stock", ""),
        ("/services/shop-stock/10.9.8.6:20880", instance),
    ] {
        admin.create(path, data.as_bytes(), false).await.unwrap();
    }
    let added = watcher.next();
    assert_eq!(added["event"], "added", "{added}");
    assert_eq!(added["provider"]["form"], "instance");
    assert_eq!(added["provider"]["application"], "shop-stock");
    assert_eq!(added["provider"]["interface"], serde_json::Value::Null);
    admin.close().await;
}

//! The shipped project-a comes up for real: ZooKeeper, Redis, MariaDB and nginx answer in their
//! protocols, a call goes frontend -> gateway -> order service -> payment -> account (and
//! order -> inventory), the Dubbo providers are
//! registered, and a second `up` changes nothing. Runs in its own feature
//! instance so a developer's `project-a` is never touched; a guard takes it down again.

use crate::support;

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

use envctl::model::{DubboProbe, Probe};
use envctl::probe::{self, ProbeTarget};

use support::{assert_ok, protocols, text};

struct ProjectA {
    feature: String,
    locks: tempfile::TempDir,
}

impl ProjectA {
    fn envctl(&self, args: &[&str]) -> Output {
        let mut cmd = Command::cargo_bin("envctl").unwrap();
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("ENVCTL_LOCK_DIR", self.locks.path())
            .timeout(Duration::from_secs(300))
            .args(args)
            .args(["--feature", &self.feature]);
        cmd.output().expect("envctl runs")
    }
}

impl Drop for ProjectA {
    fn drop(&mut self) {
        let out = self.envctl(&["down", "project-a", "--volumes"]);
        support::check_cleanup("down project-a", &out);
    }
}

/// Host ports of the instance by service and container port, from `envctl ports`.
fn host_port(instance: &ProjectA, service: &str, container: u16) -> u16 {
    let out = instance.envctl(&["ports", "project-a", "--output", "json"]);
    assert_ok(&out);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == service && r["container_port"] == container)
        .and_then(|r| r["host_port"].as_u64())
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or_else(|| panic!("no host port for {service}:{container}: {rows}"))
}

#[test]
fn project_a_comes_up_for_real() {
    let instance = ProjectA {
        feature: format!("rc{}", std::process::id()),
        locks: tempfile::tempdir().unwrap(),
    };
    assert_ok(&instance.envctl(&["up", "project-a", "--wait-timeout", "240s"]));

    // Each service answers in its own protocol on its allocated host port.
    let redis = host_port(&instance, "redis", 6379);
    protocols::redis_ping(redis).unwrap();
    let zk = host_port(&instance, "zookeeper", 2181);
    protocols::zookeeper_srvr(zk).unwrap();
    let mysql = format!("project-a--{}-mysql", instance.feature);
    let schemas = protocols::sql_query(
        &mysql,
        "envctl",
        "SELECT schema_name FROM information_schema.schemata WHERE schema_name = 'shop'",
    )
    .unwrap();
    assert_eq!(schemas, "shop", "the shop database exists");
    let frontend = host_port(&instance, "frontend", 80);
    let (status, page) = protocols::http_get(frontend, "/").unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(page.to_lowercase().contains("nginx"), "{page}");

    // The real call chain: from inside the frontend's container, over the instance network,
    // the gateway (by its service name) calls the order service through ZooKeeper and Dubbo.
    let call = support::docker_cli(&[
        "exec",
        &format!("project-a--{}-frontend", instance.feature),
        "bash",
        "-c",
        "exec 3<>/dev/tcp/gateway/8080 && \
         printf 'GET /call/greet?data=chain HTTP/1.0\r\nHost: gateway\r\n\r\n' >&3 && cat <&3",
    ]);
    assert_ok(&call);
    let answer = text(&call.stdout);
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP response");
    assert!(head.starts_with("HTTP/1.0 200"), "{answer}");
    let body: serde_json::Value = serde_json::from_str(body).expect("JSON from the gateway");
    assert_eq!(
        body["reply"]["interface"], "com.shop.OrderService",
        "{body}"
    );
    assert_eq!(body["reply"]["message"], "Hello, chain", "{body}");
    // Behind it the chain runs on: order -> payment -> account, and order -> inventory, each
    // hop answered by this instance's provider (its SHOP_FEATURE).
    let order = &body["reply"];
    let hops: Vec<&serde_json::Value> = order["downstream"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|hop| &hop["interface"])
        .collect();
    assert_eq!(
        hops,
        ["com.shop.PaymentService", "com.shop.InventoryService"],
        "{body}"
    );
    let payment = &order["downstream"][0]["reply"];
    assert_eq!(payment["feature"], instance.feature.as_str(), "{body}");
    assert_eq!(
        payment["downstream"][0]["reply"]["interface"], "com.shop.AccountService",
        "{body}"
    );

    // ZooKeeper answers a real session, and the order service is registered in it.
    let zk = host_port(&instance, "zookeeper", 2181);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = ProbeTarget {
        host_ports: [(2181, zk)].into(),
        registry: vec![([127, 0, 0, 1], zk).into()],
        ..ProbeTarget::default()
    };
    rt.block_on(probe::check(
        &Probe::Zookeeper { port: 2181 },
        &target,
        Duration::from_secs(5),
    ))
    .expect("ZooKeeper answers");
    rt.block_on(probe::check(
        &Probe::Dubbo(DubboProbe::interface("com.shop.OrderService")),
        &target,
        Duration::from_secs(5),
    ))
    .expect("the order service is registered and answers");

    // Converged: plan has nothing to do.
    let out = instance.envctl(&["plan", "project-a"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

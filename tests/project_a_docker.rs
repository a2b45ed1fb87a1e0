//! The shipped project-a comes up for real: ZooKeeper answers, Redis answers PING, the Dubbo
//! providers are registered, and a second `up` changes nothing. Runs in its own feature
//! instance so a developer's `project-a` is never touched; a guard takes it down again.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

use envctl::model::Probe;
use envctl::probe::{self, ProbeTarget};

use support::{assert_ok, text};

struct Instance {
    feature: String,
    locks: tempfile::TempDir,
}

impl Instance {
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

impl Drop for Instance {
    fn drop(&mut self) {
        let out = self.envctl(&["down", "project-a", "--volumes"]);
        support::check_cleanup("down project-a", &out);
    }
}

/// Host ports of the instance by service and container port, from `envctl ports`.
fn host_port(instance: &Instance, service: &str, container: u16) -> u16 {
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
    let instance = Instance {
        feature: format!("rc{}", std::process::id()),
        locks: tempfile::tempdir().unwrap(),
    };
    assert_ok(&instance.envctl(&["up", "project-a", "--wait-timeout", "240s"]));

    // Redis answers PING on its allocated host port.
    let redis = host_port(&instance, "redis", 6379);
    let mut conn = TcpStream::connect(("127.0.0.1", redis)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"PING\r\n").unwrap();
    let mut reply = [0u8; 7];
    conn.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+PONG\r\n");

    // ZooKeeper answers a real session, and the order service is registered in it.
    let zk = host_port(&instance, "zookeeper", 2181);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = ProbeTarget {
        host_ports: [(2181, zk)].into(),
        registry: Some(([127, 0, 0, 1], zk).into()),
        ..ProbeTarget::default()
    };
    rt.block_on(probe::check(
        &Probe::Zookeeper { port: 2181 },
        &target,
        Duration::from_secs(5),
    ))
    .expect("ZooKeeper answers");
    rt.block_on(probe::check(
        &Probe::Dubbo {
            interface: "com.shop.OrderService".into(),
        },
        &target,
        Duration::from_secs(5),
    ))
    .expect("the order service is registered and answers");

    // Converged: plan has nothing to do.
    let out = instance.envctl(&["plan", "project-a"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

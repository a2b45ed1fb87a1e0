//! project-a on a real Kubernetes cluster: `up` (images pushed to a registry the cluster pulls
//! from), `endpoints` (Dubbo providers registered at a node address and node port, callable
//! from here), a second `up` that changes nothing, and `down`.
//!
//! No cluster can be installed on the CI machines, so this runs only when
//! `ENVCTL_TEST_KUBECONFIG` names a kubeconfig; otherwise it prints one line and passes.
//! `ENVCTL_TEST_REGISTRY` is the registry this machine pushes to and the cluster pulls from
//! (kind or k3s setup: docs/kubernetes.md, "The real-cluster suite").

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;

use crate::support::{self, assert_ok};

const KUBECONFIG: &str = "ENVCTL_TEST_KUBECONFIG";
const REGISTRY: &str = "ENVCTL_TEST_REGISTRY";

/// The cluster settings, or `None` (after saying so) when no cluster was given.
fn cluster() -> Option<(String, Option<String>)> {
    let Ok(kubeconfig) = std::env::var(KUBECONFIG) else {
        println!("kubernetes_cluster: skipped, {KUBECONFIG} is not set (docs/kubernetes.md)");
        return None;
    };
    Some((kubeconfig, std::env::var(REGISTRY).ok()))
}

/// project-a's feature instance on the cluster; taken down (volumes too) when dropped.
struct OnCluster {
    kubeconfig: String,
    registry: Option<String>,
    feature: String,
    locks: tempfile::TempDir,
}

impl OnCluster {
    /// `envctl ARGS --feature F`.
    fn envctl(&self, args: &[&str]) -> Output {
        let mut full = args.to_vec();
        full.extend(["--feature", &self.feature]);
        self.plain(&full)
    }

    /// `envctl ARGS` against the cluster.
    fn plain(&self, args: &[&str]) -> Output {
        let mut cmd = Command::cargo_bin("envctl").unwrap();
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("ENVCTL_ENGINE", "kubernetes")
            .env("ENVCTL_LOCK_DIR", self.locks.path())
            .env_remove("ENVCTL_ADVERTISE_HOST")
            .timeout(Duration::from_secs(900))
            .args(args);
        if let Some(registry) = &self.registry {
            cmd.env("ENVCTL_REGISTRY", registry);
        }
        cmd.output().expect("envctl runs")
    }
}

impl Drop for OnCluster {
    fn drop(&mut self) {
        let out = self.envctl(&["down", "project-a", "--volumes"]);
        support::check_cleanup("down project-a on the cluster", &out);
    }
}

fn json(out: &Output) -> serde_json::Value {
    assert_ok(out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// Whether `outside` (`host:port`) accepts a TCP connection within a few seconds.
fn answers(outside: &str) -> bool {
    let addrs: Vec<SocketAddr> = match outside.to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(_) => return false,
    };
    addrs
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(5)).is_ok())
}

#[test]
fn project_a_comes_up_on_a_real_cluster() {
    let Some((kubeconfig, registry)) = cluster() else {
        return;
    };
    let instance = OnCluster {
        kubeconfig,
        registry,
        feature: format!("k{}", std::process::id()),
        locks: tempfile::tempdir().unwrap(),
    };

    let up = instance.envctl(&["up", "project-a", "--ttl", "2h", "--output", "json"]);
    assert_ok(&up);

    // Every Dubbo provider is registered at an address this machine can dial.
    let endpoints = json(&instance.envctl(&["endpoints", "project-a", "--output", "json"]));
    let providers = endpoints["providers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(providers.len() >= 5, "too few providers: {endpoints}");
    for provider in &providers {
        let outside = provider["outside"].as_str().unwrap_or_default();
        assert!(
            answers(outside),
            "{} registered at {outside}, which does not answer: {endpoints}",
            provider["interface"]
        );
    }

    // Converged: a second plan has nothing to do (exit 0), a second up writes nothing.
    let plan = instance.envctl(&["plan", "project-a"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "plan after up: {}",
        String::from_utf8_lossy(&plan.stdout)
    );

    let ls = json(&instance.plain(&["ls", "--output", "json"]));
    let name = format!("project-a--{}", instance.feature);
    assert!(ls.to_string().contains(&name), "{name} not listed: {ls}");

    let down = instance.envctl(&["down", "project-a", "--volumes"]);
    assert_ok(&down);
    let ls = json(&instance.plain(&["ls", "--output", "json"]));
    assert!(!ls.to_string().contains(&name), "{name} still listed: {ls}");
}

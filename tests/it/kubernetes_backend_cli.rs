//! The CLI on "a cluster" without one: envctl's in-memory Kubernetes API
//! (`backend::kubernetes::fake_api`) served on a loopback port and named by a kubeconfig, so
//! `--engine kubernetes` goes through kubeconfig loading, `backend::connect` and the node
//! lookup exactly as on a cluster. `up` refused without a registry for the images built
//! here, then with one (a real local registry: the images pushed, the Deployments naming
//! them there), `plan` (converged: exit 0, no write), `ports` (the node ports envctl gave),
//! `status`, `ls`, `down --volumes` (the namespace gone).

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use envctl::backend::kubernetes::fake_api::FakeApi;

use crate::support::{self, assert_ok, LocalRegistry, UntagGuard, BUSYBOX};

const REDIS: &str = "envctl/redis:7";

/// The fake API on a port of its own, served by a runtime of its own for the test's length.
struct FakeCluster {
    api: FakeApi,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl FakeCluster {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let api = FakeApi::new();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        runtime.spawn(api.clone().serve(listener));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("kubeconfig"), FakeApi::kubeconfig(address)).unwrap();
        Self {
            api,
            dir,
            _runtime: runtime,
        }
    }

    fn envctl(&self, args: &[&str]) -> Output {
        self.envctl_with(args, &[])
    }

    fn envctl_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let home: &Path = self.dir.path();
        Command::cargo_bin("envctl")
            .unwrap()
            .envs(vars.iter().copied())
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("KUBECONFIG", home.join("kubeconfig"))
            .env("ENVCTL_ENGINE", "kubernetes")
            .env("ENVCTL_LOCK_DIR", home.join("locks"))
            .env("ENVCTL_STATE_DIR", home.join("state"))
            .env_remove("ENVCTL_ADVERTISE_HOST")
            .timeout(Duration::from_secs(60))
            .args(args)
            .output()
            .expect("envctl runs")
    }
}

#[test]
fn up_plan_ls_down_run_against_the_api() {
    support::ensure_images(&[(BUSYBOX, "busybox"), (REDIS, "redis")]);
    let cluster = FakeCluster::start();
    let feature = support::unique_name("k");
    let instance = format!("cache-demo--{feature}");
    let namespace = format!("envctl-{instance}");

    // cache-demo runs images built on this machine: without a registry up is refused, and
    // leaves nothing behind.
    let refused = cluster.envctl(&["up", "cache-demo", "--feature", &feature]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    let stderr = support::text(&refused.stderr);
    assert!(
        stderr.contains(REDIS) && stderr.contains(BUSYBOX) && stderr.contains("ENVCTL_REGISTRY"),
        "{stderr}"
    );
    // Only the instance lock wrote (its namespace and Lease), and took both away again.
    let writes: Vec<String> = cluster
        .api
        .writes()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        writes.iter().all(|w| w.contains("/leases")
            || w.ends_with("/api/v1/namespaces")
            || w.contains(&format!("/namespaces/{namespace}"))),
        "{writes:#?}"
    );
    assert!(
        cluster.api.object("Namespace", "", &namespace).is_none(),
        "a refused up left its namespace: {writes:#?}"
    );
    assert!(cluster.api.objects("Deployment", &namespace).is_empty());

    // A path of this test's own in the registry: runs sharing the engine never share a name.
    let registry = LocalRegistry::start();
    let address = format!("127.0.0.1:{}/{feature}", registry.port);
    let _untag = UntagGuard(vec![
        format!("{address}/{REDIS}"),
        format!("{address}/{BUSYBOX}"),
    ]);
    let up = cluster.envctl_with(
        &["up", "cache-demo", "--feature", &feature],
        &[("ENVCTL_REGISTRY", &address)],
    );
    assert_ok(&up);
    let redis = cluster
        .api
        .object("Deployment", &namespace, "redis")
        .expect("redis applied");
    assert_eq!(
        redis["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("{address}/{REDIS}")
    );
    let (status, tags) = support::protocols::http_get(
        registry.port,
        &format!("/v2/{feature}/envctl/redis/tags/list"),
    )
    .unwrap();
    assert_eq!((status, tags.contains("\"7\"")), (200, true), "{tags}");

    let writes = cluster.api.writes().len();
    let plan = cluster.envctl_with(
        &["plan", "cache-demo", "--feature", &feature],
        &[("ENVCTL_REGISTRY", &address)],
    );
    assert_ok(&plan);
    assert!(support::text(&plan.stdout).contains("is converged"));
    assert_eq!(cluster.api.writes().len(), writes, "plan wrote something");

    // `ports` and `status` read the node ports envctl gave the Services, and the pods.
    let service = cluster
        .api
        .object("Service", &namespace, "redis-nodeport")
        .expect("redis is published");
    let node_port = service["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    let ports = cluster.envctl(&[
        "ports",
        "cache-demo",
        "--feature",
        &feature,
        "--output",
        "json",
    ]);
    assert_ok(&ports);
    assert!(
        support::text(&ports.stdout).contains(&node_port.to_string()),
        "{node_port}: {}",
        support::text(&ports.stdout)
    );
    let status = cluster.envctl(&["status", "cache-demo", "--feature", &feature]);
    assert_ok(&status);
    assert!(
        support::text(&status.stdout).contains("redis"),
        "{status:?}"
    );

    let ls = cluster.envctl(&["ls", "--output", "json"]);
    assert_ok(&ls);
    assert!(support::text(&ls.stdout).contains(&instance));

    let down = cluster.envctl(&["down", "cache-demo", "--feature", &feature, "--volumes"]);
    assert_ok(&down);
    assert!(cluster.api.object("Namespace", "", &namespace).is_none());
    // In the cluster's words: 2 Deployments, the namespace, the claims.
    let said = support::text(&down.stdout);
    assert!(said.contains("2 workload(s), 1 namespace(s)"), "{said}");
}

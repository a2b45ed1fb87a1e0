//! What the backend does through `pod_io`, against the in-memory API server: following logs,
//! restarting a pod, the instance lock, and the zookeeper health check run from this machine
//! over a node port (a fake ZooKeeper on loopback plays the node).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;

use super::fake_api::FakeApi;
use super::{KubeBackend, MappingSettings};
use crate::apply::{ApplyOptions, Interrupt, NotReady, UpOutcome};
use crate::backend::{Backend, LockAttempt};
use crate::engine::ObservedContainer;
use crate::kubernetes::up_inputs::Settings;
use crate::model::{DubboProbe, Environment, HealthCheck, Probe};
use crate::plan::tests::{env_of, inputs, port, svc};
use crate::zookeeper::fake::FakeZk;

const NS: &str = "envctl-shop";

/// Node ports are dialled on loopback, where the tests' fake servers listen.
fn backend(api: &FakeApi) -> KubeBackend {
    super::tests::backend_at(api, "127.0.0.1")
}

/// A ZooKeeper checked by the `zookeeper` probe, and a web service beside it.
fn shop() -> Environment {
    let mut zk = svc("zookeeper", "zookeeper:3.9");
    zk.ports = vec![port(2181)];
    let mut check = HealthCheck::new(Probe::Zookeeper { port: 2181 });
    check.timeout = Duration::from_secs(2);
    zk.healthcheck = Some(check);
    let mut web = svc("web", "shop/web:1");
    web.ports = vec![port(8080)];
    env_of("shop", None, vec![zk, web])
}

async fn up_with(backend: &KubeBackend, opts: ApplyOptions) -> UpOutcome {
    backend
        .up(
            &shop(),
            &inputs(),
            &opts,
            crate::apply::discard(),
            Interrupt::never(),
        )
        .await
        .unwrap()
}

/// Creates the instance without waiting for anything.
async fn created(backend: &KubeBackend) {
    let opts = ApplyOptions {
        wait: false,
        ..ApplyOptions::default()
    };
    let outcome = up_with(backend, opts).await;
    assert!(outcome.report.ok(), "{:?}", outcome.report);
}

async fn workload(backend: &KubeBackend, service: &str) -> ObservedContainer {
    let found = backend.services(&shop().instance).await.unwrap();
    found[service].clone()
}

/// Makes the ZooKeeper's node port `port` (where the test's fake ZooKeeper listens).
fn node_port(api: &FakeApi, port: u16) {
    api.edit("Service", NS, "zookeeper-nodeport", |service| {
        service["spec"]["ports"][0]["nodePort"] = json!(port);
    });
}

/// `status`'s look at the ZooKeeper: one attempt of its health check.
async fn check_zookeeper(backend: &KubeBackend) -> Result<(), NotReady> {
    let plan = backend.plan(&shop(), &inputs()).await.unwrap();
    let target = plan.service("zookeeper").unwrap().clone();
    let zk = workload(backend, "zookeeper").await;
    backend.check_ready(&zk, &plan, &target, &[]).await
}

#[tokio::test]
async fn the_zookeeper_check_runs_over_its_node_port_in_status_and_up() {
    let api = FakeApi::new();
    let backend = backend(&api);
    created(&backend).await;
    let zk = FakeZk::start(&[]).await;
    let port = zk.addr.port();
    node_port(&api, port);

    assert_eq!(check_zookeeper(&backend).await, Ok(()));
    // `up` waits for it through the same check (its node port read afresh).
    let outcome = up_with(&backend, ApplyOptions::default()).await;
    assert!(outcome.report.ok(), "{:?}", outcome.report);

    // The pod stays Ready, but nothing answers on the node port any more.
    drop(zk);
    let down = check_zookeeper(&backend).await.unwrap_err();
    assert!(down.0.contains("ZooKeeper"), "{}", down.0);
    assert!(down.0.contains(&port.to_string()), "{}", down.0);
    let opts = ApplyOptions {
        check_once: true,
        ..ApplyOptions::default()
    };
    let outcome = up_with(&backend, opts).await;
    let pending = &outcome.report.pending;
    assert!(
        pending
            .get("zookeeper")
            .is_some_and(|why| why.contains("ZooKeeper")),
        "{pending:?}"
    );
    assert!(!pending.contains_key("web"), "{pending:?}");
}

#[tokio::test]
async fn a_check_the_kubelet_runs_is_the_pods_ready_condition() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let mut env = shop();
    let web = env.services.values_mut().find(|s| s.name.as_str() == "web");
    web.unwrap().healthcheck = Some(HealthCheck::new(Probe::Tcp { port: 8080 }));
    let outcome = backend
        .up(
            &env,
            &inputs(),
            &ApplyOptions {
                wait: false,
                ..ApplyOptions::default()
            },
            crate::apply::discard(),
            Interrupt::never(),
        )
        .await
        .unwrap();
    let target = outcome.plan.service("web").unwrap().clone();
    let web = workload(&backend, "web").await;
    // Nothing listens on its node port: a probe from here would fail.
    assert_eq!(
        backend.check_ready(&web, &outcome.plan, &target, &[]).await,
        Ok(())
    );
}

#[tokio::test]
async fn follow_logs_asks_to_follow_and_yields_the_last_lines() {
    let api = FakeApi::new();
    let backend = backend(&api);
    created(&backend).await;
    api.pod_logs("web", &["a", "b", "c"]);
    let web = workload(&backend, "web").await;
    api.clear_requests();
    let lines: Vec<String> = backend
        .follow_logs(&web, 2)
        .map(|line| line.unwrap())
        .collect()
        .await;
    assert_eq!(lines, vec!["b", "c"]);
    let asked = api.requests();
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(
        asked[0].path,
        format!("/api/v1/namespaces/{NS}/pods/{}/log", web.id)
    );
    assert_eq!(asked[0].param("follow"), Some("true"));
}

#[tokio::test]
async fn restart_deletes_the_pod_and_returns_once_its_replacement_runs() {
    let api = FakeApi::new();
    let backend = backend(&api);
    created(&backend).await;
    let web = workload(&backend, "web").await;
    let old_uid = api.object("Pod", NS, &web.id).unwrap()["metadata"]["uid"].clone();
    backend.restart(&web, Duration::from_secs(3)).await.unwrap();
    let deleted = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deleted, 1);
    let pods = api.objects("Pod", NS);
    let new = pods
        .iter()
        .find(|p| p["metadata"]["labels"]["io.envctl.service"] == "web")
        .unwrap();
    assert_ne!(new["metadata"]["uid"], old_uid);
}

#[tokio::test]
async fn a_second_holder_sees_the_lock_held_until_it_is_released() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let instance = shop().instance;
    let LockAttempt::Acquired(alice) = backend.try_lock(&instance, "alice@a").await.unwrap() else {
        panic!("the first holder gets the lock");
    };
    match backend.try_lock(&instance, "bob@b").await.unwrap() {
        LockAttempt::Held { holder } => assert!(holder.contains("alice@a"), "{holder}"),
        other => panic!("bob should see alice's lock: {other:?}"),
    }
    backend.unlock(alice).await.unwrap();
    assert!(api.object("Lease", NS, "envctl-lock").is_none());
    let bob = backend.try_lock(&instance, "bob@b").await.unwrap();
    assert!(matches!(bob, LockAttempt::Acquired(_)), "{bob:?}");
    // The lock made the namespace `up` will adopt as its own.
    created(&backend).await;
}

#[tokio::test]
async fn a_dubbo_check_reads_the_registry_at_the_zookeepers_node_port() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let mut env = shop();
    let web = env.services.values_mut().find(|s| s.name.as_str() == "web");
    let mut check = HealthCheck::new(Probe::Dubbo(DubboProbe::interface("a.B")));
    check.timeout = Duration::from_secs(2);
    web.unwrap().healthcheck = Some(check);
    let opts = ApplyOptions {
        wait: false,
        ..ApplyOptions::default()
    };
    backend
        .up(
            &env,
            &inputs(),
            &opts,
            crate::apply::discard(),
            Interrupt::never(),
        )
        .await
        .unwrap();
    let zk = FakeZk::start(&[("/dubbo/a.B/providers", &[])]).await;
    node_port(&api, zk.addr.port());
    let check_web = || async {
        let plan = backend.plan(&env, &inputs()).await.unwrap();
        let target = plan.service("web").unwrap().clone();
        let web = workload(&backend, "web").await;
        backend.check_ready(&web, &plan, &target, &[]).await
    };
    // The registry answers (at the ZooKeeper's node port): nobody registered yet.
    let empty = check_web().await.unwrap_err();
    assert!(empty.0.contains("no provider of a.B"), "{}", empty.0);
    drop(zk);
    let gone = check_web().await.unwrap_err();
    assert!(gone.0.contains("registry ZooKeeper"), "{}", gone.0);
}

#[tokio::test]
async fn a_first_up_probes_at_the_node_port_envctl_allocated() {
    let api = FakeApi::new();
    let zk = FakeZk::start(&[]).await;
    let port = zk.addr.port();
    let mut env = shop();
    env.services.retain(|name, _| name.as_str() == "zookeeper");
    // A node-port range of one port: envctl can only give the ZooKeeper the fake's.
    let backend = backend(&api).with_mapping(MappingSettings {
        settings: Settings {
            node_port_range: port..=port,
            registry: None,
        },
        advertise: None,
    });
    let opts = ApplyOptions {
        wait_timeout: Duration::from_secs(5),
        ..ApplyOptions::default()
    };
    let outcome = backend
        .up(
            &env,
            &inputs(),
            &opts,
            crate::apply::discard(),
            Interrupt::never(),
        )
        .await
        .unwrap();
    assert!(outcome.report.ok(), "{:?}", outcome.report);
    // The plan knew the port before the Service existed: no Services read while waiting.
    let planned: Vec<u16> = outcome
        .plan
        .service("zookeeper")
        .unwrap()
        .ports
        .values()
        .copied()
        .collect();
    assert_eq!(planned, vec![port]);
    let services = format!("GET /api/v1/namespaces/{NS}/services");
    assert!(
        !api.requests()
            .iter()
            .any(|r| r.to_string().starts_with(&services)),
        "{:#?}",
        api.requests()
    );
}

#[tokio::test]
async fn a_zookeeper_without_a_node_port_is_probed_through_a_port_forward() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let mut env = shop();
    let zk = env
        .services
        .values_mut()
        .find(|s| s.name.as_str() == "zookeeper");
    zk.unwrap().ports.clear();
    let opts = ApplyOptions {
        wait: false,
        ..ApplyOptions::default()
    };
    let outcome = backend
        .up(
            &env,
            &inputs(),
            &opts,
            crate::apply::discard(),
            Interrupt::never(),
        )
        .await
        .unwrap();
    let target = outcome.plan.service("zookeeper").unwrap().clone();
    let zk = workload(&backend, "zookeeper").await;
    api.clear_requests();
    // The fake server speaks no websocket: the forward fails, and says where it went.
    let failed = backend
        .check_ready(&zk, &outcome.plan, &target, &[])
        .await
        .unwrap_err();
    let forward = format!("/api/v1/namespaces/{NS}/pods/{}/portforward", zk.id);
    let asked = api.requests();
    assert!(asked.iter().any(|r| r.path == forward), "{asked:?}");
    assert!(failed.0.contains(&zk.id), "{}", failed.0);
}

#[tokio::test]
async fn unlocking_removes_a_namespace_only_the_lock_made() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let instance = shop().instance;
    let LockAttempt::Acquired(lock) = backend.try_lock(&instance, "alice@a").await.unwrap() else {
        panic!("an unheld lock is acquired");
    };
    assert!(api.object("Namespace", "", NS).is_some());
    // An up refused before its first write: nothing stays.
    backend.unlock(lock).await.unwrap();
    assert!(api.object("Namespace", "", NS).is_none());

    // After an up the namespace is the instance's: unlocking keeps it.
    let LockAttempt::Acquired(lock) = backend.try_lock(&instance, "alice@a").await.unwrap() else {
        panic!("an unheld lock is acquired");
    };
    created(&backend).await;
    backend.unlock(lock).await.unwrap();
    assert!(api.object("Namespace", "", NS).is_some());
    assert!(api.object("Deployment", NS, "web").is_some());
}

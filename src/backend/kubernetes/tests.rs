//! The backend against the in-memory API server (`fake_api`): the exact requests of each
//! operation, and the messages of each failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::fake_api::{FakeApi, PodFate, Recorded};
use super::KubeBackend;
use crate::apply::{ApplyOptions, DownScope, EventSink, Interrupt, Phase, UpError, UpOutcome};
use crate::backend::{Backend, HostAddress};
use crate::model::{
    Condition, EnvValue, Environment, HealthCheck, Probe, Service, ServiceKind, VolumeMount,
    VolumeSource,
};
use crate::plan::tests::{env_of, inputs, name, port, svc};
use crate::plan::Action;

const NS: &str = "envctl-shop";

fn backend(api: &FakeApi) -> KubeBackend {
    backend_at(api, "192.0.2.10")
}

/// A backend on `api` whose node ports are dialled at `node`, looking again every 2 ms.
pub(super) fn backend_at(api: &FakeApi, node: &str) -> KubeBackend {
    let host = HostAddress {
        local: node.parse().unwrap(),
        advertise: node.into(),
    };
    KubeBackend::new(api.client(), host, "fake cluster".into())
        .with_pace(Duration::from_millis(2), Duration::from_secs(5))
}

/// A database with a volume, a secret and a TCP health check.
fn db() -> Service {
    let mut db = svc("db", "postgres:16");
    db.ports = vec![port(5432)];
    db.volumes = vec![VolumeMount {
        source: VolumeSource::Named("data".into()),
        target: "/var/lib/postgresql".into(),
        read_only: false,
    }];
    db.env
        .insert("PASSWORD".into(), EnvValue::FromEnv("DB_PASSWORD".into()));
    db.healthcheck = Some(HealthCheck::new(Probe::Tcp { port: 5432 }));
    db
}

/// A web service that needs the database healthy.
fn web(image: &str) -> Service {
    let mut web = svc("web", image);
    web.ports = vec![port(8080)];
    web.depends_on.insert(name("db"), Condition::Healthy);
    web
}

fn shop() -> Environment {
    env_of("shop", None, vec![db(), web("shop/web:1")])
}

async fn up(backend: &KubeBackend, env: &Environment) -> Result<UpOutcome, UpError> {
    up_with(backend, env, crate::apply::discard()).await
}

async fn up_with(
    backend: &KubeBackend,
    env: &Environment,
    sink: EventSink,
) -> Result<UpOutcome, UpError> {
    let opts = ApplyOptions {
        wait_timeout: Duration::from_secs(5),
        ..ApplyOptions::default()
    };
    backend
        .up(env, &inputs(), &opts, sink, Interrupt::never())
        .await
}

/// `up` of the shop, waiting at most `wait_timeout`.
async fn up_within(api: &FakeApi, wait_timeout: Duration) -> UpOutcome {
    let opts = ApplyOptions {
        wait_timeout,
        ..ApplyOptions::default()
    };
    backend(api)
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

fn lines(requests: &[Recorded]) -> Vec<String> {
    requests.iter().map(ToString::to_string).collect()
}

const APPLY: &str = "fieldManager=envctl&force=false";

#[tokio::test]
async fn first_up_applies_in_the_mappings_order_then_waits_reading_lists_only() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let outcome = up(&backend, &shop()).await.unwrap();
    assert!(outcome.report.ok(), "{:?}", outcome.report);

    let core = format!("/api/v1/namespaces/{NS}");
    let apps = format!("/apis/apps/v1/namespaces/{NS}");
    let net = format!("/apis/networking.k8s.io/v1/namespaces/{NS}");
    let expected = vec![
        format!("GET {core}"),
        // Node ports in use anywhere, so envctl's choices are free.
        "GET /api/v1/services".to_string(),
        format!("PATCH {core}?{APPLY}"),
        format!("PATCH {core}/secrets/envctl-secrets?{APPLY}"),
        format!("PATCH {core}/persistentvolumeclaims/data?{APPLY}"),
        format!("PATCH {core}/services/db?{APPLY}"),
        format!("PATCH {core}/services/db-nodeport?{APPLY}"),
        format!("PATCH {core}/services/web?{APPLY}"),
        format!("PATCH {core}/services/web-nodeport?{APPLY}"),
        format!("PATCH {apps}/deployments/db?{APPLY}"),
        format!("PATCH {apps}/deployments/web?{APPLY}"),
        format!("PATCH {net}/networkpolicies/envctl-isolation?{APPLY}"),
        format!("GET {core}/pods?labelSelector=io.envctl.instance=shop"),
        format!("GET {apps}/deployments?labelSelector=io.envctl.instance=shop"),
        format!("GET /apis/batch/v1/namespaces/{NS}/jobs?labelSelector=io.envctl.instance=shop"),
    ];
    assert_eq!(lines(&api.requests()), expected);
    // The secret's value read on this machine is in the Secret, and only there.
    let secret = api.object("Secret", NS, "envctl-secrets").unwrap();
    assert_eq!(secret["stringData"]["db.PASSWORD"], "secret-of-DB_PASSWORD");
    let db = api.object("Deployment", NS, "db").unwrap().to_string();
    assert!(!db.contains("secret-of-DB_PASSWORD"), "{db}");
    // What was applied is what the mapping made, stamped.
    let deployment = api.object("Deployment", NS, "web").unwrap();
    assert!(deployment["metadata"]["annotations"]["io.envctl.spec-hash"].is_string());
    let namespace = api.object("Namespace", "", NS).unwrap();
    assert_eq!(
        namespace["metadata"]["annotations"]["io.envctl.owner"],
        "dev@test"
    );
}

#[tokio::test]
async fn a_first_plan_reads_only_the_namespace_and_lists_every_object_to_create() {
    let api = FakeApi::new();
    let plan = backend(&api).plan(&shop(), &inputs()).await.unwrap();
    assert_eq!(
        lines(&api.requests()),
        vec![
            format!("GET /api/v1/namespaces/{NS}"),
            "GET /api/v1/services".to_string()
        ]
    );
    let summaries: Vec<String> = plan.summaries().iter().map(ToString::to_string).collect();
    assert_eq!(summaries.len(), 10, "{summaries:#?}");
    assert_eq!(
        summaries[0],
        format!("apply Namespace/{NS}: does not exist")
    );
    assert_eq!(summaries[8], "apply Deployment/web: does not exist");
    let order: Vec<&str> = plan.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(order, ["db", "web"]);
}

#[tokio::test]
async fn a_no_op_up_only_reads() {
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    api.clear_requests();

    let outcome = up(&backend, &shop()).await.unwrap();
    assert!(outcome.plan.is_empty(), "{:?}", outcome.plan.summaries());
    assert!(outcome.report.ok());
    assert_eq!(api.writes(), Vec::<Recorded>::new());
    // The namespace, one list per managed kind, then one readiness round (its node ports
    // are kept: the cluster's are not read).
    assert_eq!(
        api.requests().len(),
        1 + 6 + 3,
        "{:#?}",
        lines(&api.requests())
    );
}

#[tokio::test]
async fn planning_takes_as_many_requests_for_twelve_services_as_for_two() {
    let small = FakeApi::new();
    up(&backend(&small), &shop()).await.unwrap();
    small.clear_requests();
    let _converged = backend(&small).plan(&shop(), &inputs()).await.unwrap();

    let many: Vec<Service> = (0..12)
        .map(|i| {
            let mut s = svc(&format!("svc{i}"), "img:1");
            s.ports = vec![port(8000 + i)];
            s
        })
        .collect();
    let big_env = env_of("shop", None, many);
    let big = FakeApi::new();
    up(&backend(&big), &big_env).await.unwrap();
    big.clear_requests();
    let plan = backend(&big).plan(&big_env, &inputs()).await.unwrap();
    assert!(plan.is_empty());
    assert_eq!(big.requests().len(), small.requests().len());
    assert_eq!(big.requests().len(), 7);
}

#[tokio::test]
async fn a_changed_service_is_one_dry_run_and_one_apply_naming_the_fields() {
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    api.clear_requests();

    let changed = env_of("shop", None, vec![db(), web("shop/web:2")]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let sink: EventSink = Arc::new(move |e| seen.lock().unwrap().push(e));
    let outcome = up_with(&backend, &changed, sink).await.unwrap();
    assert!(outcome.report.ok());

    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments/web");
    assert_eq!(
        lines(&api.writes()),
        vec![
            format!("PATCH {path}?dryRun=All&{APPLY}"),
            format!("PATCH {path}?{APPLY}"),
        ]
    );
    assert_eq!(
        outcome.plan.actions,
        vec![Action::ApplyObject {
            kind: "Deployment".into(),
            name: "web".into(),
            reason: "changed: image; server dry-run accepted".into(),
        }]
    );
    let events = events.lock().unwrap();
    assert!(events.iter().any(|e| e.service == "web"
        && e.phase
            == Phase::Recreating {
                changed: vec!["image".into()]
            }));
    assert!(events
        .iter()
        .any(|e| e.service == "web" && e.phase == Phase::Ready));
    let pod = api
        .objects("Pod", NS)
        .into_iter()
        .find(|p| p["metadata"]["labels"]["io.envctl.service"] == "web");
    assert_eq!(pod.unwrap()["spec"]["containers"][0]["image"], "shop/web:2");
}

#[tokio::test]
async fn an_orphan_is_one_delete_and_claims_are_never_pruned() {
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    let labels = json!({ "io.envctl.instance": "shop", "io.envctl.env": "shop" });
    api.insert(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "legacy", "namespace": NS, "labels": labels },
        "spec": {},
    }));
    api.insert(json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": { "name": "old-data", "namespace": NS, "labels": labels },
        "spec": {},
    }));
    api.clear_requests();

    let outcome = up(&backend, &shop()).await.unwrap();
    assert_eq!(
        outcome.plan.actions,
        vec![Action::DeleteObject {
            kind: "Deployment".into(),
            name: "legacy".into()
        }]
    );
    assert_eq!(
        lines(&api.writes()),
        vec![format!(
            "DELETE /apis/apps/v1/namespaces/{NS}/deployments/legacy?propagationPolicy=Background"
        )]
    );
    assert!(api
        .object("PersistentVolumeClaim", NS, "old-data")
        .is_some());
}

#[tokio::test]
async fn a_foreign_namespace_is_refused_with_no_write() {
    for labels in [
        json!({}),
        json!({ "io.envctl.instance": "shop", "io.envctl.env": "other" }),
    ] {
        let api = FakeApi::new();
        api.insert(json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": { "name": NS, "labels": labels },
        }));
        let backend = backend(&api);
        let err = up(&backend, &shop()).await.unwrap_err().to_string();
        assert!(err.contains(&format!("namespace `{NS}`")), "{err}");
        assert!(err.contains("envctl leaves it untouched"), "{err}");
        assert!(
            err.contains(&format!("kubectl delete namespace {NS}")),
            "{err}"
        );
        // Refused on the namespace alone: nothing in it is even listed.
        assert_eq!(
            lines(&api.requests()),
            vec![format!("GET /api/v1/namespaces/{NS}")]
        );
        let refused = backend.verify_owner(&shop().instance).await.unwrap_err();
        assert!(refused.to_string().contains(NS), "{refused}");
        assert_eq!(api.writes(), Vec::<Recorded>::new());
    }
}

#[tokio::test]
async fn a_conflict_names_the_object_and_the_other_field_manager() {
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    api.conflict("deployments", "web", "kubectl-edit");
    api.clear_requests();

    let changed = env_of("shop", None, vec![db(), web("shop/web:2")]);
    let err = up(&backend, &changed).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!("deployment `web` in namespace `{NS}`")),
        "{err}"
    );
    assert!(err.contains("`kubectl-edit`"), "{err}");
    assert!(err.contains("conflicts (409)"), "{err}");
    // The server's dry run found it: nothing was written.
    let writes = api.writes();
    assert_eq!(writes.len(), 1);
    assert!(writes[0].is_dry_run());
    // `plan` says the same, so a reviewer sees it before `up`.
    let planned = backend.plan(&changed, &inputs()).await.unwrap_err();
    assert!(planned.to_string().contains("kubectl-edit"), "{planned}");
}

#[tokio::test]
async fn a_forbidden_request_names_verb_resource_and_namespace() {
    let api = FakeApi::new();
    api.forbid("patch", "deployments");
    let err = up(&backend(&api), &shop()).await.unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "Kubernetes refused to patch deployments in namespace `{NS}` (403 Forbidden)"
        )),
        "{err}"
    );
    assert!(
        err.contains("needs RBAC permission for verb `patch` on resource `deployments`"),
        "{err}"
    );
    assert!(err.contains("User \"dev\" cannot patch"), "{err}");
    // Nothing after the refused object was attempted.
    let last = api.writes().pop().unwrap();
    assert_eq!(
        last.to_string(),
        format!("PATCH /apis/apps/v1/namespaces/{NS}/deployments/db?{APPLY}")
    );
}

#[tokio::test]
async fn a_crash_looping_pod_fails_up_at_once_with_its_last_log_lines() {
    let api = FakeApi::new();
    api.pod_fate("web", PodFate::CrashLoop);
    let log: Vec<String> = (1..=25).map(|i| format!("line {i}")).collect();
    let log_refs: Vec<&str> = log.iter().map(String::as_str).collect();
    api.pod_logs("web", &log_refs);

    let outcome = up(&backend(&api), &shop()).await.unwrap();
    let failures = &outcome.report.failures;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].service, "web");
    assert!(
        failures[0].reason.contains("CrashLoopBackOff"),
        "{}",
        failures[0].reason
    );
    assert!(
        failures[0].reason.contains("restarted 4 times"),
        "{}",
        failures[0].reason
    );
    assert_eq!(failures[0].logs, log[5..].to_vec());
    // At once: one readiness round, then the log.
    let requests = lines(&api.requests());
    let rounds = requests.iter().filter(|r| r.contains("/pods?")).count();
    assert_eq!(rounds, 1, "{requests:#?}");
    let last = requests.last().unwrap();
    assert!(
        last.starts_with(&format!("GET /api/v1/namespaces/{NS}/pods/web-")),
        "{last}"
    );
    // The crashed run's log: the restarting container may have printed nothing yet.
    assert!(last.ends_with("/log?tailLines=20&previous=true"), "{last}");
}

#[tokio::test]
async fn an_image_that_cannot_be_pulled_fails_up_at_once() {
    let api = FakeApi::new();
    api.pod_fate("db", PodFate::ImagePullBackOff);
    let outcome = up(&backend(&api), &shop()).await.unwrap();
    let failure = &outcome.report.failures[0];
    assert_eq!(failure.service, "db");
    assert!(
        failure
            .reason
            .contains("ImagePullBackOff: Back-off pulling image"),
        "{}",
        failure.reason
    );
}

#[tokio::test]
async fn a_job_is_waited_for_until_it_completes_or_fails_with_its_log() {
    let mut migrate = svc("migrate", "shop/migrate:1");
    migrate.kind = ServiceKind::Job;
    let env = env_of("shop", None, vec![db(), migrate]);

    let api = FakeApi::new();
    let outcome = up(&backend(&api), &env).await.unwrap();
    assert!(outcome.report.ok(), "{:?}", outcome.report);

    let api = FakeApi::new();
    api.pod_fate("migrate", PodFate::JobFails);
    api.pod_logs("migrate", &["relation \"orders\" does not exist"]);
    let outcome = up(&backend(&api), &env).await.unwrap();
    let failure = &outcome.report.failures[0];
    assert_eq!(failure.service, "migrate");
    assert!(
        failure.reason.contains("backoff limit"),
        "{}",
        failure.reason
    );
    assert_eq!(failure.logs, vec!["relation \"orders\" does not exist"]);
}

#[tokio::test]
async fn a_pod_never_ready_times_out_naming_why() {
    let api = FakeApi::new();
    api.pod_fate("web", PodFate::Starting);
    api.pod_logs("web", &["listening on :8081"]);
    let outcome = up_within(&api, Duration::from_millis(50)).await;
    let failure = &outcome.report.failures[0];
    assert_eq!(failure.service, "web");
    assert!(
        failure.reason.contains("not Ready yet"),
        "{}",
        failure.reason
    );
    assert_eq!(failure.logs, vec!["listening on :8081"]);
}

#[tokio::test]
async fn down_deletes_the_namespace_and_waits_until_it_is_gone() {
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    api.namespace_linger(2);
    api.clear_requests();

    let scope = DownScope::Instance("shop".into());
    let report = backend
        .down(&scope, true, crate::apply::discard())
        .await
        .unwrap();
    let core = format!("/api/v1/namespaces/{NS}");
    assert_eq!(
        lines(&api.requests()),
        vec![
            format!("GET {core}"),
            format!("GET {core}/persistentvolumeclaims?labelSelector=io.envctl.instance=shop"),
            format!("GET /apis/apps/v1/namespaces/{NS}/deployments?labelSelector=io.envctl.instance=shop"),
            format!("GET /apis/batch/v1/namespaces/{NS}/jobs?labelSelector=io.envctl.instance=shop"),
            format!("DELETE {core}?propagationPolicy=Foreground"),
            format!("GET {core}"),
            format!("GET {core}"),
            format!("GET {core}"),
        ]
    );
    assert_eq!(report.networks, vec![NS.to_string()]);
    assert_eq!(report.containers, vec!["db".to_string(), "web".to_string()]);
    assert_eq!(report.volumes, vec!["data".to_string()]);
    assert!(report.failures.is_empty());
    assert!(api.object("Namespace", "", NS).is_none());
    assert!(api.objects("Deployment", NS).is_empty());
}

#[tokio::test]
async fn down_without_volumes_keeps_the_claims_and_their_namespace() {
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    api.clear_requests();

    let scope = DownScope::Instance("shop".into());
    let report = backend
        .down(&scope, false, crate::apply::discard())
        .await
        .unwrap();
    assert_eq!(report.kept_volumes, vec!["data".to_string()]);
    assert_eq!(report.containers, vec!["db".to_string(), "web".to_string()]);
    assert!(api.object("PersistentVolumeClaim", NS, "data").is_some());
    assert!(api.object("Namespace", "", NS).is_some());
    assert!(api.objects("Deployment", NS).is_empty());
    assert!(api.objects("Service", NS).is_empty());
    assert!(api.writes().iter().any(|w| w.to_string()
        == format!(
            "DELETE /apis/apps/v1/namespaces/{NS}/deployments/web?propagationPolicy=Background"
        )));
    assert!(!api
        .writes()
        .iter()
        .any(|w| w.path.contains("persistentvolumeclaims")
            || w.method == "DELETE" && w.path.ends_with(NS)));
    // Only data is left: not an instance any more; the next up finds its claim in place.
    assert!(!backend.has_remains(&shop().instance).await.unwrap());
    assert!(backend.instances().await.unwrap().is_empty());
    let again = up(&backend, &shop()).await.unwrap();
    assert!(!again
        .plan
        .summaries()
        .iter()
        .any(|s| s.target.contains("PersistentVolumeClaim")));
}

#[tokio::test]
async fn gc_removes_an_expired_lease_and_keeps_an_unexpired_one() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let expired = env_of("shop", Some("old"), vec![db(), web("shop/web:1")]);
    let current = env_of("shop", Some("new"), vec![db(), web("shop/web:1")]);
    up(&backend, &expired).await.unwrap();
    up(&backend, &current).await.unwrap();
    let hour = Duration::from_secs(3600);
    let now = chrono::Utc::now();
    backend
        .renew_lease(
            &expired.instance,
            Some(hour),
            now - chrono::Duration::hours(2),
        )
        .await
        .unwrap();
    let lease = backend
        .renew_lease(&current.instance, Some(hour), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.ttl, hour);
    assert_eq!(
        backend
            .leases(crate::engine::LabelFilter::envctl())
            .await
            .unwrap()
            .len(),
        2
    );

    let scope = crate::ops::gc::GcScope::default();
    let results = crate::ops::gc::gc(&backend, &scope, false, false, crate::apply::discard())
        .await
        .unwrap();
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].instance, "shop--old");
    assert_eq!(results[0].result, crate::ops::gc::GcOutcome::Removed);
    // As `down` without --volumes: the workloads go, the claim stays for a next `up`.
    assert!(api.objects("Deployment", "envctl-shop--old").is_empty());
    assert!(api
        .object("PersistentVolumeClaim", "envctl-shop--old", "data")
        .is_some());
    assert_eq!(api.objects("Deployment", "envctl-shop--new").len(), 2);
    let left = backend
        .leases(crate::engine::LabelFilter::envctl())
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].instance, "shop--new");
}

#[tokio::test]
async fn services_and_instances_come_from_pods_and_node_ports() {
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    let found = backend.services(&shop().instance).await.unwrap();
    let web = &found["web"];
    assert!(web.name.starts_with("web-"), "{}", web.name);
    assert_eq!(web.state, crate::engine::ContainerState::Running);
    assert_eq!(web.ports.len(), 1);
    assert_eq!(web.ports[0].container, 8080);
    assert!(
        (30000..32767).contains(&web.ports[0].host),
        "{:?}",
        web.ports
    );
    assert!(web.ips["pod"].starts_with("10.244."), "{:?}", web.ips);
    assert_eq!(web.labels["io.envctl.service"], "web");
    // The plan's targets carry the same node ports, for `endpoints`/`ports`.
    let plan = backend.plan(&shop(), &inputs()).await.unwrap();
    let target = plan.service("web").unwrap();
    assert_eq!(target.ports.values().next(), Some(&web.ports[0].host));
    // ... and `ports`/`status` read them from the label, as on Docker.
    let recorded = crate::plan::ports::decode_label(&web.labels["io.envctl.ports"]);
    assert_eq!(
        recorded.into_iter().collect::<Vec<_>>(),
        target.ports.clone().into_iter().collect::<Vec<_>>()
    );

    let instances = backend.instances().await.unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].owner.instance, "shop");
    assert_eq!((instances[0].services, instances[0].ready), (2, 2));
    assert_eq!(instances[0].owned_by.as_deref(), Some("dev@test"));
    assert!(backend.has_remains(&shop().instance).await.unwrap());

    let logs = {
        api.pod_logs("web", &["a", "b", "c"]);
        backend.logs(web, 2).await.unwrap()
    };
    assert_eq!(logs, vec!["b", "c"]);
}

#[tokio::test]
async fn what_is_not_supported_yet_says_so() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let err = backend
        .pull("img:1", &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not supported on the Kubernetes backend yet"),
        "{err}"
    );
    assert!(err.contains("fake cluster"), "{err}");
}

#[tokio::test]
async fn the_fake_server_answers_over_http_as_a_kubeconfig_names_it() {
    let api = FakeApi::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(api.clone().serve(listener));
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&FakeApi::kubeconfig(address)).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let host = HostAddress {
        local: "192.0.2.10".parse().unwrap(),
        advertise: "192.0.2.10".into(),
    };
    let backend = KubeBackend::new(client, host, "fake over http".into())
        .with_pace(Duration::from_millis(2), Duration::from_secs(5));
    let outcome = up(&backend, &shop()).await.unwrap();
    assert!(outcome.report.ok(), "{:?}", outcome.report);
    assert!(api.object("Deployment", NS, "web").is_some());
    server.abort();
}

#[tokio::test]
async fn a_lease_set_after_up_survives_the_next_up_untouched() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let mut env = env_of("shop", Some("pay"), vec![db(), web("shop/web:1")]);
    env.ttl = Some(Duration::from_secs(3600));
    up(&backend, &env).await.unwrap();
    let ns = "envctl-shop--pay";
    // The lease, not the manifest, writes the lifetime.
    let namespace = api.object("Namespace", "", ns).unwrap();
    assert!(namespace["metadata"]["annotations"]["io.envctl.ttl"].is_null());
    let two_hours = Duration::from_secs(7200);
    backend
        .renew_lease(&env.instance, Some(two_hours), chrono::Utc::now())
        .await
        .unwrap();
    api.clear_requests();

    let outcome = up(&backend, &env).await.unwrap();
    assert!(outcome.plan.is_empty(), "{:?}", outcome.plan.summaries());
    assert_eq!(api.writes(), Vec::<Recorded>::new());
    let leases = backend
        .leases(crate::engine::LabelFilter::instance("shop--pay"))
        .await
        .unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].ttl, two_hours);
    // Renewing with the lifetime it has (`up` without --ttl), then removing it (`--ttl 0`).
    let renewed = backend
        .renew_lease(&env.instance, None, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(renewed.map(|l| l.ttl), Some(two_hours));
    let removed = backend
        .renew_lease(&env.instance, Some(Duration::ZERO), chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(removed, None);
    let namespace = api.object("Namespace", "", ns).unwrap();
    assert!(namespace["metadata"]["annotations"]["io.envctl.expires-at"].is_null());
}

#[tokio::test]
async fn a_crash_while_a_dependency_is_not_ready_is_waited_out_not_final() {
    let api = FakeApi::new();
    api.pod_fate("db", PodFate::Starting);
    api.pod_fate("web", PodFate::CrashLoop);
    let outcome = up_within(&api, Duration::from_millis(50)).await;
    let failures = &outcome.report.failures;
    let web = failures.iter().find(|f| f.service == "web").unwrap();
    assert!(web.reason.starts_with("not ready after"), "{}", web.reason);
    assert!(web.reason.contains("CrashLoopBackOff"), "{}", web.reason);
    assert!(
        web.reason.contains("waiting for db first"),
        "{}",
        web.reason
    );
    let rounds = lines(&api.requests())
        .iter()
        .filter(|r| r.contains("/pods?"))
        .count();
    assert!(rounds > 1, "waited over several rounds, not failed at once");
}

#[tokio::test]
async fn an_interrupt_stops_the_wait() {
    let api = FakeApi::new();
    api.pod_fate("web", PodFate::Starting);
    let (trigger, interrupt) = Interrupt::new();
    let events: EventSink = Arc::new(move |e: crate::apply::ServiceEvent| {
        // Interrupted as soon as `up` starts waiting on web.
        if e.service == "web" && matches!(e.phase, Phase::Waiting { .. }) {
            trigger.trigger();
        }
    });
    let outcome = backend(&api)
        .up(
            &shop(),
            &inputs(),
            &ApplyOptions::default(),
            events,
            interrupt,
        )
        .await
        .unwrap();
    let web = &outcome.report.failures[0];
    assert_eq!(
        (web.service.as_str(), web.reason.as_str()),
        ("web", "interrupted")
    );
}

#[tokio::test]
async fn a_changed_job_is_deleted_and_created_again_without_a_dry_run() {
    let job = |image: &str| {
        let mut migrate = svc("migrate", image);
        migrate.kind = ServiceKind::Job;
        env_of("shop", None, vec![migrate])
    };
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &job("shop/migrate:1")).await.unwrap();
    api.clear_requests();

    let outcome = up(&backend, &job("shop/migrate:2")).await.unwrap();
    assert!(outcome.report.ok(), "{:?}", outcome.report);
    let path = format!("/apis/batch/v1/namespaces/{NS}/jobs/migrate");
    assert_eq!(
        lines(&api.writes()),
        vec![
            format!("DELETE {path}?propagationPolicy=Background"),
            format!("PATCH {path}?{APPLY}"),
        ]
    );
    let summary = outcome.plan.summaries()[0].to_string();
    assert_eq!(
        summary,
        "apply Job/migrate: changed: image; a Job cannot change: deleted and created again"
    );
    let pods = api.objects("Pod", NS);
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0]["spec"]["containers"][0]["image"], "shop/migrate:2");
}

#[tokio::test]
async fn down_of_an_environment_removes_each_of_its_instances_and_nothing_else() {
    let api = FakeApi::new();
    let backend = backend(&api);
    let main = env_of("shop", None, vec![web("shop/web:1")]);
    let feature = env_of("shop", Some("pay"), vec![web("shop/web:1")]);
    let other = env_of("bank", None, vec![web("bank/web:1")]);
    for env in [&main, &feature, &other] {
        up(&backend, env).await.unwrap();
    }
    let scope = DownScope::AllOf { env: "shop".into() };
    let report = backend
        .down(&scope, true, crate::apply::discard())
        .await
        .unwrap();
    let removed: Vec<&str> = report.instances.iter().map(String::as_str).collect();
    assert_eq!(removed, ["shop", "shop--pay"]);
    assert!(api.object("Namespace", "", "envctl-shop").is_none());
    assert!(api.object("Namespace", "", "envctl-shop--pay").is_none());
    assert!(api.object("Namespace", "", "envctl-bank").is_some());
}

#[tokio::test]
async fn check_ready_follows_the_pods_ready_condition() {
    let api = FakeApi::new();
    api.pod_fate("web", PodFate::Starting);
    let backend = backend(&api);
    let opts = ApplyOptions {
        wait: false,
        ..ApplyOptions::default()
    };
    let outcome = backend
        .up(
            &shop(),
            &inputs(),
            &opts,
            crate::apply::discard(),
            Interrupt::never(),
        )
        .await
        .unwrap();
    assert!(outcome.report.ok(), "--no-wait does not wait for web");
    let found = backend.services(&shop().instance).await.unwrap();
    let plan = &outcome.plan;
    let ready = |service: &str| {
        let workload = found[service].clone();
        let target = plan.service(service).unwrap().clone();
        let backend = &backend;
        async move { backend.check_ready(&workload, plan, &target, &[]).await }
    };
    assert_eq!(ready("db").await, Ok(()));
    let not = ready("web").await.unwrap_err();
    assert!(not.0.contains("is not Ready"), "{}", not.0);
}

#[tokio::test]
async fn up_while_the_namespace_is_being_deleted_says_so_and_writes_nothing() {
    let api = FakeApi::new();
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    api.namespace_linger(100);
    let slow = backend.with_pace(Duration::from_millis(1), Duration::from_millis(20));
    let report = slow
        .down(
            &DownScope::Instance("shop".into()),
            true,
            crate::apply::discard(),
        )
        .await
        .unwrap();
    assert!(
        report.failures[0].reason.contains("still Terminating"),
        "{:?}",
        report.failures
    );
    api.clear_requests();

    let err = up(&slow, &shop()).await.unwrap_err().to_string();
    assert!(err.contains(&format!("namespace `{NS}`")), "{err}");
    assert!(err.contains("being deleted"), "{err}");
    assert_eq!(api.writes(), Vec::<Recorded>::new());
}

#[tokio::test]
async fn a_forbidden_list_at_cluster_scope_says_so() {
    let api = FakeApi::new();
    api.forbid("list", "namespaces");
    let err = backend(&api).instances().await.unwrap_err().to_string();
    assert!(
        err.contains("Kubernetes refused to list namespaces at cluster scope (403 Forbidden)"),
        "{err}"
    );
    assert!(
        err.contains("verb `list` on resource `namespaces` at cluster scope"),
        "{err}"
    );
}

#[tokio::test]
async fn a_server_that_does_not_answer_names_the_request() {
    // Nothing listens on the port once the listener is dropped.
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&FakeApi::kubeconfig(address)).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let host = HostAddress {
        local: "192.0.2.10".parse().unwrap(),
        advertise: "192.0.2.10".into(),
    };
    let backend = KubeBackend::new(kube::Client::try_from(config).unwrap(), host, "x".into());
    let err = backend
        .verify_owner(&shop().instance)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("Kubernetes: get namespace `{NS}`")),
        "{err}"
    );
    assert!(err.contains("no answer from the API server"), "{err}");
}

#[tokio::test]
async fn an_interrupt_while_applying_stops_before_the_next_write() {
    let api = FakeApi::new();
    let (trigger, interrupt) = Interrupt::new();
    let events: EventSink = Arc::new(move |e: crate::apply::ServiceEvent| {
        if e.service == format!("namespace {NS}") && e.phase == Phase::Created {
            trigger.trigger();
        }
    });
    let outcome = backend(&api)
        .up(
            &shop(),
            &inputs(),
            &ApplyOptions::default(),
            events,
            interrupt,
        )
        .await
        .unwrap();
    assert_eq!(
        lines(&api.writes()),
        vec![format!("PATCH /api/v1/namespaces/{NS}?{APPLY}")]
    );
    let failed: Vec<(&str, &str)> = outcome
        .report
        .failures
        .iter()
        .map(|f| (f.service.as_str(), f.reason.as_str()))
        .collect();
    assert_eq!(failed, [("db", "interrupted"), ("web", "interrupted")]);
}

#[tokio::test]
async fn node_ports_are_chosen_by_envctl_clear_of_other_services_and_kept() {
    use crate::kubernetes::node_ports::{allocate_for_env, NodePorts, DEFAULT_RANGE};
    let node_port_of = |api: &FakeApi, ns: &str| {
        let service = api.object("Service", ns, "web-nodeport").unwrap();
        let ports = service["spec"]["ports"].as_array().unwrap().clone();
        let web = ports.iter().find(|p| p["port"] == 8080).unwrap();
        web["nodePort"].as_u64().unwrap()
    };
    // Where envctl puts web's port on an empty cluster...
    let empty = FakeApi::new();
    up(&backend(&empty), &shop()).await.unwrap();
    let first_choice = node_port_of(&empty, NS);
    let wanted = allocate_for_env(
        &shop(),
        &NodePorts::new(),
        &Default::default(),
        DEFAULT_RANGE,
    )
    .unwrap();
    assert_eq!(
        u64::from(wanted[&("web".to_string(), 8080)]),
        first_choice,
        "envctl's choice, not the cluster's"
    );

    // ...unless another team's Service holds it.
    let api = FakeApi::new();
    api.insert(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": "theirs", "namespace": "team-b" },
        "spec": { "type": "NodePort", "ports": [{ "port": 80, "nodePort": first_choice }] }
    }));
    let backend = backend(&api);
    up(&backend, &shop()).await.unwrap();
    let chosen = node_port_of(&api, NS);
    assert_ne!(chosen, first_choice);
    assert!(DEFAULT_RANGE.contains(&(chosen as u16)), "{chosen}");

    // A feature instance on the same cluster gets ports of its own; the first keeps its.
    let feature = env_of("shop", Some("pay-v2"), vec![db(), web("shop/web:1")]);
    up(&backend, &feature).await.unwrap();
    assert_ne!(node_port_of(&api, "envctl-shop--pay-v2"), chosen);
    let again = backend.plan(&shop(), &inputs()).await.unwrap();
    assert!(again.is_empty(), "{:?}", again.summaries());
    assert_eq!(node_port_of(&api, NS), chosen);
}

#[tokio::test]
async fn what_only_docker_runs_is_refused_before_any_request() {
    let api = FakeApi::new();
    let mut env = shop();
    let db = env.services.values_mut().find(|s| s.name.as_str() == "db");
    db.unwrap().init.steps = vec![crate::model::InitStep::Exec(vec!["true".into()])];
    let local = env.services.remove(&name("web")).unwrap();
    env.local.insert(name("web"), local);
    let err = backend(&api)
        .plan(&env, &inputs())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("service `db`: `init:`") && err.contains("service `web`: `up --local`"),
        "{err}"
    );
    assert!(
        err.contains("not supported on the Kubernetes backend yet"),
        "{err}"
    );
    assert_eq!(api.requests(), Vec::<Recorded>::new());
}

//! Table-style tests of the planner against the fake engine's state.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;
use crate::engine::fake::FakeEngine;
use crate::engine::{ContainerState, Engine, PublishedPort};
use crate::model::{EnvValue, PortSpec, PullPolicy, Service};

pub(crate) fn name(s: &str) -> ServiceName {
    ServiceName::new(s).unwrap()
}

pub(crate) fn svc(n: &str, image: &str) -> Service {
    Service::from_image(name(n), image)
}

pub(crate) fn port(container: u16) -> PortSpec {
    PortSpec {
        container,
        host: None,
        protocol: Protocol::Tcp,
    }
}

pub(crate) fn env_of(env: &str, feature: Option<&str>, services: Vec<Service>) -> Environment {
    Environment {
        env: env.into(),
        feature: feature.map(String::from),
        instance: InstanceId::new(env, feature).unwrap(),
        description: None,
        ttl: None,
        source: PathBuf::from("/tmp/x.yaml"),
        services: services.into_iter().map(|s| (s.name.clone(), s)).collect(),
        local: Default::default(),
        overlay: None,
        forkable: None,
    }
}

fn all_free(_: u16, _: Protocol) -> bool {
    true
}

fn fake_secret(value: &EnvValue) -> Result<String, UnresolvedSecret> {
    match value {
        EnvValue::Plain(v) => Ok(v.clone()),
        EnvValue::FromEnv(n) => {
            std::env::var(format!("ENVCTL_TEST_{n}")).or_else(|_| Ok(format!("secret-of-{n}")))
        }
        EnvValue::FromFile(_) => Err(UnresolvedSecret("no files in tests".into())),
    }
}

pub(crate) fn inputs() -> PlanInputs<'static> {
    PlanInputs {
        range: PortRange::parse("30000-30999").unwrap(),
        host_free: &all_free,
        resolve_secret: &fake_secret,
        publish_address: "127.0.0.1".into(),
        now: "2026-01-01T00:00:00Z".into(),
        spec_key: SpecKey::fixed(&[1; 32]),
        rebuild: false,
        local_reach: "host-gateway".into(),
        owner: "dev@test".into(),
    }
}

pub(crate) async fn plan_on(engine: &FakeEngine, env: &Environment) -> Result<Plan, PlanErrors> {
    let observed = observe(engine, env).await.unwrap();
    plan(env, &observed, &inputs())
}

pub(crate) fn kinds(plan: &Plan) -> Vec<String> {
    plan.summaries()
        .iter()
        .map(|s| format!("{} {}", s.action, s.target))
        .collect()
}

/// Puts the containers of a plan in place, as apply would, without going through apply.
pub(crate) async fn realize(engine: &FakeEngine, plan: &Plan) {
    for action in &plan.actions {
        match action {
            Action::CreateNetwork { name, labels } => {
                engine.create_network(name, labels).await.unwrap();
            }
            Action::CreateVolume { name, labels } => {
                engine.create_volume(name, labels).await.unwrap()
            }
            Action::PullImage { image, .. } => engine.pull_image(image, &|_| {}).await.unwrap(),
            Action::BuildImage { request, .. } => {
                engine.build_image(request, &|_| {}).await.unwrap()
            }
            Action::CreateContainer { spec, .. } => {
                let id = engine.create_container(spec).await.unwrap();
                engine.start_container(&id).await.unwrap();
            }
            Action::RecreateContainer { old_id, spec, .. } => {
                engine.remove_container(old_id).await.unwrap();
                let id = engine.create_container(spec).await.unwrap();
                engine.start_container(&id).await.unwrap();
            }
            Action::StartContainer { id, .. } => engine.start_container(id).await.unwrap(),
            Action::RemoveOrphan { id, .. } => engine.remove_container(id).await.unwrap(),
            Action::ApplyObject { .. } | Action::DeleteObject { .. } => {
                unreachable!("a Docker plan has no Kubernetes objects: {action:?}")
            }
        }
    }
}

fn shop() -> Environment {
    let mut api = svc("api", "api:1");
    api.ports = vec![port(8080)];
    api.depends_on = BTreeMap::from([(name("db"), Condition::Healthy)]);
    api.env = BTreeMap::from([(
        "DB_URL".into(),
        EnvValue::Plain("mysql://db:3306 outside=@@envctl:host_port:db:3306@@".into()),
    )]);
    let mut db = svc("db", "db:1");
    db.ports = vec![port(3306)];
    db.volumes = vec![crate::model::VolumeMount {
        source: crate::model::VolumeSource::Named("data".into()),
        target: "/var/lib/db".into(),
        read_only: false,
    }];
    env_of("shop", None, vec![api, db])
}

#[tokio::test]
async fn fresh_instance_creates_everything_dependencies_first() {
    let engine = FakeEngine::new();
    engine.add_image("db:1");
    let plan = plan_on(&engine, &shop()).await.unwrap();
    assert_eq!(
        kinds(&plan),
        [
            "create-network envctl-shop",
            "create-volume shop_data",
            "pull api:1",
            "create db",
            "create api"
        ]
    );
    let api = plan
        .actions
        .iter()
        .find_map(|a| match a {
            Action::CreateContainer { service, spec } if service.as_str() == "api" => Some(spec),
            _ => None,
        })
        .unwrap();
    assert_eq!(api.name, "shop-api");
    assert_eq!(api.network, "envctl-shop");
    assert_eq!(api.aliases, ["api"]);
    assert!(api.extra_hosts.contains(&HOST_GATEWAY.to_string()));
    assert_eq!(api.labels[labels::INSTANCE], "shop");
    assert_eq!(api.labels[labels::SERVICE], "api");
    assert_eq!(api.labels[labels::SPEC_HASH].len(), 64);
    // The token became db's allocated host port.
    let db_port = plan.service("db").unwrap().ports[&(3306, Protocol::Tcp)];
    assert_eq!(
        api.env,
        [format!("DB_URL=mysql://db:3306 outside={db_port}")]
    );
}

#[tokio::test]
async fn converged_instance_plans_nothing() {
    let engine = FakeEngine::new();
    let env = shop();
    realize(&engine, &plan_on(&engine, &env).await.unwrap()).await;
    let again = plan_on(&engine, &env).await.unwrap();
    assert!(again.is_empty(), "{:?}", again.summaries());
    assert!(again.services.iter().all(|s| s.existing_id.is_some()));
}

#[tokio::test]
async fn changing_one_service_recreates_only_it_and_names_the_field() {
    let engine = FakeEngine::new();
    let env = shop();
    realize(&engine, &plan_on(&engine, &env).await.unwrap()).await;
    let ports_before = plan_on(&engine, &env).await.unwrap().services;
    let mut changed = env.clone();
    changed
        .services
        .get_mut("db")
        .unwrap()
        .env
        .insert("MODE".into(), EnvValue::Plain("fast".into()));
    let plan = plan_on(&engine, &changed).await.unwrap();
    assert_eq!(
        plan.summaries(),
        [ActionSummary {
            action: "recreate",
            target: "db".into(),
            reason: "changed: env.MODE".into()
        }]
    );
    // Host ports stay what they were.
    assert_eq!(plan.services[0].ports, ports_before[0].ports);
}

#[tokio::test]
async fn stopped_containers_are_started_and_finished_jobs_left_alone() {
    let engine = FakeEngine::new();
    let mut job = svc("migrate", "db:1");
    job.kind = ServiceKind::Job;
    let env = env_of("shop", None, vec![svc("db", "db:1"), job]);
    realize(&engine, &plan_on(&engine, &env).await.unwrap()).await;
    engine.set_state("shop-db", ContainerState::Exited { code: 137 });
    engine.set_state("shop-migrate", ContainerState::Exited { code: 0 });
    let plan = plan_on(&engine, &env).await.unwrap();
    assert_eq!(kinds(&plan), ["start db"]);
    assert_eq!(
        plan.summaries()[0].reason,
        "container is exited with code 137"
    );
}

#[tokio::test]
async fn orphans_are_removed() {
    let engine = FakeEngine::new();
    let env = shop();
    realize(&engine, &plan_on(&engine, &env).await.unwrap()).await;
    let mut smaller = env.clone();
    smaller.services.remove("api");
    let plan = plan_on(&engine, &smaller).await.unwrap();
    assert_eq!(kinds(&plan), ["remove-orphan shop-api"]);
    assert!(plan.summaries()[0]
        .reason
        .contains("`api` is no longer defined"));
}

#[tokio::test]
async fn a_foreign_container_with_our_name_is_an_error_and_untouched() {
    let engine = FakeEngine::new();
    let foreign = crate::engine::ContainerSpec {
        name: "shop-db".into(),
        image: "someone:else".into(),
        env: vec![],
        labels: Labels::new(),
        command: None,
        entrypoint: None,
        ports: vec![],
        publish_address: String::new(),
        network: "bridge".into(),
        aliases: vec![],
        links: vec![],
        mounts: vec![],
        memory_bytes: None,
        nano_cpus: None,
        restart: "no".into(),
        extra_hosts: vec![],
        host_access: Default::default(),
    };
    engine.insert_container(foreign, ContainerState::Running);
    let err = plan_on(&engine, &shop()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("`shop-db`") && text.contains("`db`"),
        "{text}"
    );
    assert!(text.contains("someone:else"), "{text}");
    assert_eq!(engine.writes(), 0);
}

#[tokio::test]
async fn features_get_distinct_names_networks_and_ports() {
    let engine = FakeEngine::new();
    let main = shop();
    realize(&engine, &plan_on(&engine, &main).await.unwrap()).await;
    let mut feature = shop();
    feature.feature = Some("f1".into());
    feature.instance = InstanceId::new("shop", Some("f1")).unwrap();
    let plan = plan_on(&engine, &feature).await.unwrap();
    assert!(kinds(&plan).contains(&"create-network envctl-shop--f1".to_string()));
    let main_plan = plan_on(&engine, &main).await.unwrap();
    for s in &plan.services {
        let other = main_plan.service(s.name.as_str()).unwrap();
        for host in s.ports.values() {
            assert!(
                !other.ports.values().any(|h| h == host),
                "port {host} reused"
            );
        }
        assert_eq!(s.container_name, format!("shop--f1-{}", s.name));
    }
}

#[tokio::test]
async fn pinned_port_held_by_another_instance_is_a_clear_error() {
    let engine = FakeEngine::new();
    let mut web = svc("web", "web:1");
    web.ports = vec![PortSpec {
        container: 80,
        host: Some(8088),
        protocol: Protocol::Tcp,
    }];
    let a = env_of("shop", None, vec![web.clone()]);
    realize(&engine, &plan_on(&engine, &a).await.unwrap()).await;
    assert_eq!(
        engine.container("shop-web").unwrap().spec.ports,
        [PublishedPort {
            container: 80,
            host: 8088,
            protocol: Protocol::Tcp
        }]
    );
    let b = env_of("shop", Some("f2"), vec![web]);
    let err = plan_on(&engine, &b).await.unwrap_err().to_string();
    assert!(
        err.contains("`web`") && err.contains("8088") && err.contains("shop-web"),
        "{err}"
    );
}

#[tokio::test]
async fn secrets_are_hashed_but_never_shown() {
    let engine = FakeEngine::new();
    let mut db = svc("db", "db:1");
    db.env.insert(
        "PASSWORD".into(),
        EnvValue::FromEnv("RECONCILE_PW_UNSET".into()),
    );
    let env = env_of("shop", None, vec![db]);
    let plan = plan_on(&engine, &env).await.unwrap();
    realize(&engine, &plan).await;
    let c = engine.container("shop-db").unwrap();
    assert_eq!(c.spec.env, ["PASSWORD=secret-of-RECONCILE_PW_UNSET"]);
    assert!(!c.spec.labels.values().any(|v| v.contains("secret-of")));
    assert!(c.spec.labels[SPEC_LABEL].contains("<from_env RECONCILE_PW_UNSET>"));

    let changed_secret = |v: &EnvValue| match v {
        EnvValue::FromEnv(_) => Ok("rotated".to_string()),
        other => fake_secret(other),
    };
    let observed = observe(&engine, &env).await.unwrap();
    let inputs = PlanInputs {
        resolve_secret: &changed_secret,
        ..inputs()
    };
    let plan = super::plan(&env, &observed, &inputs).unwrap();
    assert_eq!(plan.summaries()[0].reason, "changed: a secret value");
}

#[tokio::test]
async fn images_pull_build_or_refuse() {
    let engine = FakeEngine::new();
    let mut never = svc("a", "local:1");
    never.pull = PullPolicy::Never;
    let err = plan_on(&engine, &env_of("shop", None, vec![never]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("pull: never"), "{err}");

    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let built = built_service(context.path());
    let same_image = svc("c", "shop/b:dev");
    let plan = plan_on(&engine, &env_of("shop", None, vec![built, same_image]))
        .await
        .unwrap();
    assert_eq!(
        kinds(&plan),
        [
            "create-network envctl-shop",
            "build shop/b:dev",
            "create b",
            "create c"
        ]
    );
}

fn built_service(context: &std::path::Path) -> Service {
    let mut built = svc("b", "shop/b:dev");
    built.build = Some(crate::model::BuildSpec {
        context: context.to_path_buf(),
        dockerfile: "Dockerfile".into(),
        args: BTreeMap::from([("V".into(), "1".into())]),
    });
    built
}

#[tokio::test]
async fn changed_build_inputs_rebuild_and_recreate_every_user_of_the_image() {
    let engine = FakeEngine::new();
    let context = tempfile::tempdir().unwrap();
    std::fs::write(context.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(context.path().join("app.txt"), "one").unwrap();
    let env = |args: &str| {
        let mut b = built_service(context.path());
        b.build
            .as_mut()
            .unwrap()
            .args
            .insert("V".into(), args.into());
        env_of("shop", None, vec![b, svc("c", "shop/b:dev")])
    };
    realize(&engine, &plan_on(&engine, &env("1")).await.unwrap()).await;
    assert!(plan_on(&engine, &env("1")).await.unwrap().is_empty());

    for (change, why) in [
        ("app.txt", "build context changed"),
        ("Dockerfile", "Dockerfile changed"),
        ("", "build args changed"),
    ] {
        let args = if change.is_empty() { "2" } else { "1" };
        if !change.is_empty() {
            std::fs::write(context.path().join(change), format!("{why}\n")).unwrap();
        }
        let plan = plan_on(&engine, &env(args)).await.unwrap();
        let summaries: Vec<String> = plan.summaries().iter().map(|s| s.to_string()).collect();
        assert_eq!(summaries.len(), 3, "{summaries:?}");
        assert!(summaries[0].starts_with(&format!("build shop/b:dev: {why}; building")));
        assert_eq!(
            summaries[1..],
            [
                format!("recreate b: changed: image shop/b:dev is rebuilt ({why})"),
                format!("recreate c: changed: image shop/b:dev is rebuilt ({why})"),
            ]
        );
        realize(&engine, &plan).await;
        assert!(plan_on(&engine, &env(args)).await.unwrap().is_empty());
    }
    // --build rebuilds whatever the inputs.
    let observed = observe(&engine, &env("2")).await.unwrap();
    let forced = PlanInputs {
        rebuild: true,
        ..inputs()
    };
    let plan = super::plan(&env("2"), &observed, &forced).unwrap();
    assert_eq!(plan.summaries()[0].action, "build");
    assert!(plan.summaries()[0].reason.starts_with("--build"));
}

#[tokio::test]
async fn an_image_deleted_or_retagged_under_the_same_name_recreates() {
    let engine = FakeEngine::new();
    engine.add_image("redis:7");
    let env = env_of("shop", None, vec![svc("cache", "redis:7")]);
    realize(&engine, &plan_on(&engine, &env).await.unwrap()).await;
    assert!(plan_on(&engine, &env).await.unwrap().is_empty());

    engine.add_image("redis:7");
    let plan = plan_on(&engine, &env).await.unwrap();
    let reason = &plan.summaries()[0].reason;
    assert!(
        reason.starts_with("changed: image redis:7 is now sha256:fake"),
        "{reason}"
    );
    assert!(
        reason.contains("(the container runs sha256:fake"),
        "{reason}"
    );
    realize(&engine, &plan).await;
    assert!(plan_on(&engine, &env).await.unwrap().is_empty());
}

#[tokio::test]
async fn network_of_someone_else_is_an_error() {
    let engine = FakeEngine::new();
    engine
        .create_network("envctl-shop", &Labels::new())
        .await
        .unwrap();
    let err = plan_on(&engine, &shop()).await.unwrap_err().to_string();
    assert!(err.contains("network `envctl-shop`"), "{err}");
}

#[tokio::test]
async fn a_pinned_port_moves_from_an_orphan_to_a_new_service() {
    let engine = FakeEngine::new();
    let pinned = |n: &str| {
        let mut s = svc(n, "web:1");
        s.ports = vec![PortSpec {
            container: 80,
            host: Some(8089),
            protocol: Protocol::Tcp,
        }];
        s
    };
    realize(
        &engine,
        &plan_on(&engine, &env_of("shop", None, vec![pinned("old")]))
            .await
            .unwrap(),
    )
    .await;
    // The host reports the port bound (the orphan holds it); it is ours to reuse all the same.
    let observed_env = env_of("shop", None, vec![pinned("new")]);
    let observed = observe(&engine, &observed_env).await.unwrap();
    let busy = |_: u16, _: Protocol| false;
    let inputs = PlanInputs {
        host_free: &busy,
        ..inputs()
    };
    let plan = super::plan(&observed_env, &observed, &inputs).unwrap();
    assert_eq!(kinds(&plan), ["remove-orphan shop-old", "create new"]);
}

#[tokio::test]
async fn a_new_service_never_takes_the_port_of_a_stopped_one() {
    // Two ports for two services: whichever the new one prefers, it must leave zeta its own.
    for instance in ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"] {
        let engine = FakeEngine::new();
        let mut zeta = svc("zeta", "web:1");
        zeta.ports = vec![port(80)];
        let before = env_of(instance, None, vec![zeta.clone()]);
        let range_inputs = || PlanInputs {
            range: PortRange::parse("30000-30001").unwrap(),
            ..inputs()
        };
        let observed = observe(&engine, &before).await.unwrap();
        realize(
            &engine,
            &super::plan(&before, &observed, &range_inputs()).unwrap(),
        )
        .await;
        engine.set_state(
            &format!("{instance}-zeta"),
            ContainerState::Exited { code: 0 },
        );

        let mut alpha = svc("alpha", "web:1");
        alpha.ports = vec![port(80)];
        let after = env_of(instance, None, vec![alpha, zeta]);
        let observed = observe(&engine, &after).await.unwrap();
        let plan = super::plan(&after, &observed, &range_inputs()).unwrap();
        assert_eq!(kinds(&plan), ["create alpha", "start zeta"], "{instance}");
    }
}

#[tokio::test]
async fn containers_are_recreated_when_their_network_is_gone() {
    let engine = FakeEngine::new();
    let env = env_of("shop", None, vec![svc("db", "db:1")]);
    realize(&engine, &plan_on(&engine, &env).await.unwrap()).await;
    engine.remove_network("envctl-shop").await.unwrap();
    let plan = plan_on(&engine, &env).await.unwrap();
    assert_eq!(kinds(&plan), ["create-network envctl-shop", "recreate db"]);
    assert!(plan.summaries()[1].reason.contains("network"));
}

#[path = "identity_tests.rs"]
mod identity_tests;

//! The scheduler against the fake engine: order, readiness, failures, convergence.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::engine::fake::FakeEngine;
use crate::model::{EnvValue, Environment, HealthCheck, Probe};
use crate::plan::tests::{env_of, name, plan_on, port, svc};

fn quick_cmd_check() -> HealthCheck {
    HealthCheck {
        probe: Probe::Cmd(vec!["true".into()]),
        interval: Duration::from_millis(5),
        timeout: Duration::from_secs(1),
        retries: 3,
        start_period: Duration::ZERO,
    }
}

/// db (healthy via cmd) <- api (needs db healthy); cache independent.
fn shop() -> Environment {
    let mut db = svc("db", "db:1");
    db.healthcheck = Some(quick_cmd_check());
    db.ports = vec![port(3306)];
    let mut api = svc("api", "api:1");
    api.depends_on = BTreeMap::from([(name("db"), Condition::Healthy)]);
    api.env.insert("X".into(), EnvValue::Plain("1".into()));
    env_of("shop", None, vec![db, api, svc("cache", "cache:1")])
}

/// The health check of `shop`'s database, to tune.
fn db_check(env: &mut Environment) -> &mut crate::model::HealthCheck {
    let db = env.services.get_mut("db").expect("shop has a db");
    db.healthcheck.as_mut().expect("db has a health check")
}

fn recorder() -> (EventSink, Arc<Mutex<Vec<ServiceEvent>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    let sink: EventSink = Arc::new(move |e| sink_seen.lock().unwrap().push(e));
    (sink, seen)
}

async fn up(engine: &Arc<FakeEngine>, env: &Environment, opts: &ApplyOptions) -> ApplyReport {
    let plan = plan_on(engine, env).await.expect("plan");
    let (sink, _) = recorder();
    tokio::time::timeout(
        Duration::from_secs(10),
        apply(engine.clone(), &plan, opts, sink),
    )
    .await
    .expect("apply finishes")
}

fn position(events: &[ServiceEvent], service: &str, phase: &str) -> usize {
    events
        .iter()
        .position(|e| e.service == service && e.phase.word() == phase)
        .unwrap_or_else(|| panic!("no {phase} event for {service}: {events:#?}"))
}

#[tokio::test]
async fn after_apply_a_fresh_plan_is_empty() {
    let engine = Arc::new(FakeEngine::new());
    let env = shop();
    let report = up(&engine, &env, &ApplyOptions::default()).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(
        engine.container_names(),
        ["shop-api", "shop-cache", "shop-db"]
    );
    let plan = plan_on(&engine, &env).await.unwrap();
    assert!(plan.is_empty(), "{:?}", plan.summaries());

    // A second up writes nothing.
    let writes = engine.writes();
    let report = up(&engine, &env, &ApplyOptions::default()).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(engine.writes(), writes, "{:?}", engine.journal());

    // After a change, apply converges again, touching only the changed service.
    let mut changed = env.clone();
    changed.services.get_mut("api").unwrap().image = "api:2".into();
    let journal_before = engine.journal().len();
    assert!(up(&engine, &changed, &ApplyOptions::default()).await.ok());
    assert_eq!(
        engine.journal()[journal_before..],
        [
            "pull:api:2",
            "remove:shop-api",
            "create:shop-api",
            "start:shop-api"
        ]
    );
    assert!(plan_on(&engine, &changed).await.unwrap().is_empty());
}

#[tokio::test]
async fn dependents_start_only_after_their_dependency_is_healthy() {
    let engine = Arc::new(FakeEngine::new());
    engine.fail_exec("shop-db", 2);
    let plan = plan_on(&engine, &shop()).await.unwrap();
    let (sink, seen) = recorder();
    let report = apply(engine.clone(), &plan, &ApplyOptions::default(), sink).await;
    assert!(report.ok(), "{report:?}");
    let events = seen.lock().unwrap().clone();
    // Created early, started only once its dependency is healthy.
    assert!(position(&events, "api", "creating") < position(&events, "db", "ready"));
    assert!(position(&events, "db", "ready") < position(&events, "api", "starting"));
    assert!(events
        .iter()
        .any(|e| e.service == "db" && e.phase.word() == "waiting"));
}

#[tokio::test]
async fn a_failure_blocks_dependents_lets_the_rest_finish_and_a_rerun_converges() {
    let engine = Arc::new(FakeEngine::new());
    engine.fail("start", "shop-db", "port is already allocated");
    engine.set_logs("shop-db", &["booting", "bind failed"]);
    let env = shop();
    let report = up(&engine, &env, &ApplyOptions::default()).await;
    let failed: Vec<(&str, &str)> = report
        .failures
        .iter()
        .map(|f| (f.service.as_str(), f.reason.as_str()))
        .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed.contains(&("api", "not started: dependency db failed")));
    let db = report.failures.iter().find(|f| f.service == "db").unwrap();
    assert!(db.reason.contains("port is already allocated"), "{db:?}");
    assert_eq!(db.logs, ["booting", "bind failed"]);
    // Independent work finished; the dependent was created early but never started.
    assert!(engine.container("shop-cache").unwrap().state.is_running());
    assert_eq!(
        engine.container("shop-api").unwrap().state,
        ContainerState::Created
    );

    engine.clear_failures();
    assert!(up(&engine, &env, &ApplyOptions::default()).await.ok());
    assert!(plan_on(&engine, &env).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_service_that_never_gets_healthy_fails_with_its_logs() {
    let engine = Arc::new(FakeEngine::new());
    engine.fail_exec("shop-db", u32::MAX);
    engine.set_logs("shop-db", &["line"; 30]);
    let report = up(&engine, &shop(), &ApplyOptions::default()).await;
    let db = report.failures.iter().find(|f| f.service == "db").unwrap();
    assert!(
        db.reason.contains("unhealthy after 3 failed checks"),
        "{db:?}"
    );
    assert_eq!(db.logs.len(), FAILURE_LOG_LINES);
}

#[tokio::test]
async fn the_wait_timeout_bounds_readiness() {
    let engine = Arc::new(FakeEngine::new());
    engine.fail_exec("shop-db", u32::MAX);
    let mut env = shop();
    let hc = db_check(&mut env);
    hc.retries = 1_000_000;
    let opts = ApplyOptions {
        wait: true,
        wait_timeout: Duration::from_millis(100),
        ..ApplyOptions::default()
    };
    let report = up(&engine, &env, &opts).await;
    let db = report.failures.iter().find(|f| f.service == "db").unwrap();
    assert!(db.reason.contains("wait timeout"), "{db:?}");
}

#[tokio::test]
async fn no_wait_skips_readiness_nobody_depends_on() {
    let engine = Arc::new(FakeEngine::new());
    let mut env = shop();
    env.services.remove("api");
    engine.fail_exec("shop-db", u32::MAX);
    let opts = ApplyOptions {
        wait: false,
        ..ApplyOptions::default()
    };
    let report = up(&engine, &env, &opts).await;
    assert!(report.ok(), "{report:?}");
}

#[tokio::test]
async fn jobs_gate_dependents_on_completion() {
    let engine = Arc::new(FakeEngine::new());
    let mut migrate = svc("migrate", "db:1");
    migrate.kind = ServiceKind::Job;
    let mut app = svc("app", "app:1");
    app.depends_on = BTreeMap::from([(name("migrate"), Condition::Completed)]);
    let env = env_of("shop", None, vec![migrate, app]);

    engine.set_exit_code("shop-migrate", 3);
    let report = up(&engine, &env, &ApplyOptions::default()).await;
    let names: Vec<&str> = report.failures.iter().map(|f| f.service.as_str()).collect();
    assert_eq!(names.len(), 2, "{report:?}");
    assert!(
        report.failures[0].reason.contains("code 3")
            || report.failures[1].reason.contains("code 3")
    );

    engine.set_exit_code("shop-migrate", 0);
    assert!(up(&engine, &env, &ApplyOptions::default()).await.ok());
    assert!(engine.container("shop-app").unwrap().state.is_running());
    assert!(plan_on(&engine, &env).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_image_is_pulled_once_for_all_its_services() {
    let engine = Arc::new(FakeEngine::new());
    let env = env_of(
        "shop",
        None,
        vec![svc("a", "same:1"), svc("b", "same:1"), svc("c", "same:1")],
    );
    assert!(up(&engine, &env, &ApplyOptions::default()).await.ok());
    let pulls = engine
        .journal()
        .iter()
        .filter(|w| w.starts_with("pull:"))
        .count();
    assert_eq!(pulls, 1);
}

#[tokio::test]
async fn a_failed_pull_names_the_image_and_its_services() {
    let engine = Arc::new(FakeEngine::new());
    engine.fail("pull", "api:1", "registry unreachable");
    let report = up(&engine, &shop(), &ApplyOptions::default()).await;
    let api = report.failures.iter().find(|f| f.service == "api").unwrap();
    assert!(api.reason.contains("image api:1") && api.reason.contains("registry unreachable"));
    assert!(engine.container("shop-db").is_some());
}

#[tokio::test]
async fn down_removes_exactly_one_instance() {
    let engine = Arc::new(FakeEngine::new());
    let main = shop();
    let mut feature = shop();
    feature.feature = Some("f1".into());
    feature.instance = crate::model::InstanceId::new("shop", Some("f1")).unwrap();
    assert!(up(&engine, &main, &ApplyOptions::default()).await.ok());
    assert!(up(&engine, &feature, &ApplyOptions::default()).await.ok());

    let report = down(
        engine.clone(),
        &DownScope::Instance("shop--f1".into()),
        false,
        discard(),
    )
    .await
    .unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.containers.len(), 3);
    assert_eq!(
        engine.container_names(),
        ["shop-api", "shop-cache", "shop-db"]
    );
    assert_eq!(engine.network_names(), ["envctl-shop"]);

    let report = down(
        engine.clone(),
        &DownScope::AllOf { env: "shop".into() },
        true,
        discard(),
    )
    .await
    .unwrap();
    assert_eq!(report.instances.len(), 1);
    assert!(engine.container_names().is_empty());
    assert!(engine.network_names().is_empty());
}

#[test]
fn events_serialize_as_flat_json() {
    let event = ServiceEvent {
        service: "db".into(),
        phase: Phase::Waiting {
            reason: "for zk".into(),
        },
        elapsed: Duration::from_millis(1500),
    };
    let json = serde_json::to_string(&event).unwrap();
    assert_eq!(
        json,
        r#"{"service":"db","phase":"waiting","reason":"for zk","elapsed":1.5}"#
    );
}

#[tokio::test]
async fn up_replans_after_losing_a_host_port_to_a_concurrent_up() {
    let engine = Arc::new(FakeEngine::new());
    engine.fail_once(
        "start",
        "shop-db",
        "Bind for 0.0.0.0:30001 failed: port is already allocated",
    );
    let env = shop();
    let inputs = crate::plan::tests::inputs();
    let outcome = super::up(
        engine.clone(),
        &env,
        &inputs,
        &ApplyOptions::default(),
        discard(),
    )
    .await
    .unwrap();
    assert!(outcome.report.ok(), "{:?}", outcome.report);
    assert_eq!(outcome.attempts, 2);
    assert!(plan_on(&engine, &env).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_port_the_engine_refused_is_not_planned_again() {
    // Something the planner cannot see (a process on a remote server) holds db's port: the
    // retry must move db, not plan the same port again.
    let engine = Arc::new(FakeEngine::new());
    let env = shop();
    let first = plan_on(&engine, &env).await.unwrap();
    let refused = first.service("db").unwrap().ports.clone();
    engine.fail_once(
        "start",
        "shop-db",
        "listen tcp4 0.0.0.0: bind: address already in use",
    );
    let inputs = crate::plan::tests::inputs();
    let outcome = super::up(
        engine.clone(),
        &env,
        &inputs,
        &ApplyOptions::default(),
        discard(),
    )
    .await
    .unwrap();
    assert!(outcome.report.ok(), "{:?}", outcome.report);
    assert_eq!(outcome.attempts, 2);
    let moved = &outcome.plan.service("db").unwrap().ports;
    assert_eq!(moved.len(), refused.len());
    assert!(
        moved.values().all(|p| !refused.values().any(|r| r == p)),
        "{refused:?} -> {moved:?}"
    );
}

#[tokio::test]
async fn early_attempts_come_fast_and_do_not_use_up_retries() {
    let engine = Arc::new(FakeEngine::new());
    engine.fail_exec("shop-db", 3);
    let mut env = shop();
    let hc = db_check(&mut env);
    hc.interval = Duration::from_secs(5);
    hc.retries = 2;
    let started = std::time::Instant::now();
    let report = up(&engine, &env, &ApplyOptions::default()).await;
    assert!(report.ok(), "{report:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_interrupt_schedules_nothing_new() {
    let engine = Arc::new(FakeEngine::new());
    let env = shop();
    let plan = plan_on(&engine, &env).await.expect("plan");
    let (trigger, interrupt) = Interrupt::new();
    trigger.trigger();
    let (sink, _) = recorder();
    let report = apply_until(
        engine.clone(),
        &plan,
        &ApplyOptions::default(),
        sink,
        interrupt,
    )
    .await;
    assert_eq!(report.failures.len(), 3, "{report:?}");
    assert!(report
        .failures
        .iter()
        .all(|f| f.reason.starts_with(INTERRUPTED)));
    assert!(engine.container_names().is_empty());
    assert_eq!(engine.writes(), 0, "{:?}", engine.journal());
}

#[tokio::test]
async fn wait_timeout_zero_looks_once_and_keeps_healthy_services_ready() {
    let engine = Arc::new(FakeEngine::new());
    for image in ["db:1", "api:1", "cache:1"] {
        engine.add_image(image);
    }
    let env = shop();
    let once = ApplyOptions {
        wait_timeout: Duration::ZERO,
        check_once: true,
        ..ApplyOptions::default()
    };
    // Fresh: db passes its one check, api and cache were just started: not yet proven up.
    let report = up(&engine, &env, &once).await;
    assert!(report.ok(), "{report:?}");
    assert_eq!(
        report.pending.keys().collect::<Vec<_>>(),
        ["api", "cache"],
        "{report:?}"
    );
    // Converged and up for long (by the engine's clock): everything is ready, nothing fails.
    let report = up(&engine, &env, &once).await;
    assert_eq!(report, ApplyReport::default());

    // A dependency that is not healthy yet: the dependent is not started, and says why.
    engine.fail_exec("shop-db", u32::MAX);
    let mut changed = shop();
    changed
        .services
        .get_mut("api")
        .unwrap()
        .env
        .insert("X".into(), EnvValue::Plain("2".into()));
    let report = up(&engine, &changed, &once).await;
    assert!(report.pending["db"].starts_with("not checked healthy yet"));
    let api = report.failures.iter().find(|f| f.service == "api").unwrap();
    assert!(
        api.reason.contains("--wait-timeout 0 does not wait"),
        "{api:?}"
    );
}

#[tokio::test]
async fn missing_images_are_fetched_first_and_one_nobody_has_creates_nothing() {
    let engine = Arc::new(FakeEngine::new());
    engine.add_image("db:1");
    let (sink, seen) = recorder();
    let mut env = shop();
    env.services.get_mut("cache").unwrap().pull = crate::model::PullPolicy::Never;
    fetch_missing_images(engine.as_ref(), &env, &sink, &Interrupt::never())
        .await
        .unwrap();
    let fetched: Vec<String> = engine
        .journal()
        .into_iter()
        .filter(|w| w.starts_with("pull"))
        .collect();
    // `pull: never` is never pulled; the fake has no machine to copy from.
    assert_eq!(fetched, ["pull:api:1"]);
    let seen = seen.lock().unwrap().clone();
    assert!(position(&seen, "api", "waiting") < position(&seen, "api", "pulling"));
    assert!(!seen.iter().any(|e| e.service == "db"), "{seen:#?}");

    let engine = Arc::new(FakeEngine::new());
    engine.fail("pull", "api:1", "registry unreachable");
    let err = fetch_missing_images(engine.as_ref(), &shop(), &discard(), &Interrupt::never())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, UpError::Images(failed) if failed.len() == 1),
        "{text}"
    );
    assert!(
        text.contains("api:1") && text.contains("registry unreachable"),
        "{text}"
    );
    assert!(
        text.ends_with("nothing of the instance was created"),
        "{text}"
    );
    assert!(engine.network_names().is_empty() && engine.container_names().is_empty());
}

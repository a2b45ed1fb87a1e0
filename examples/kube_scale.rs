//! Planning at scale on Kubernetes, against the in-memory API server (no cluster needed):
//! 6 projects x 10 features x 18 services (project-a's definition, copied under six names).
//! Reports, as JSON on stdout, the planning time and the API requests of three rounds:
//! a first plan against an empty cluster, a plan of every instance when nothing changed, and
//! one after a `--set` that changes all twelve providers of every instance.
//!
//!     cargo run --release --example kube_scale [-- --projects 6 --features 10]
//!
//! Run from the repository root (templates are looked up in `templates/`); bench/kube_scale.sh
//! does that and keeps the report in bench/results/.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use envctl::backend::kubernetes::{desired, fake_api::FakeApi, KubeBackend, MappingSettings};
use envctl::backend::{Backend, HostAddress};
use envctl::definition::{self, LoadOptions};
use envctl::kubernetes::node_ports::{NodePorts, DEFAULT_RANGE};
use envctl::kubernetes::up_inputs::{for_up_with, Settings};
use envctl::model::{EnvValue, Environment, PortRange, Protocol};
use envctl::plan::{PlanInputs, SpecKey, UnresolvedSecret};

/// The images of the shipped templates are built on this machine: a cluster pulls them from
/// a registry (nothing is pushed: the benchmark only plans).
const REGISTRY: &str = "registry.invalid:5000/envctl";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (projects, features) = (arg("--projects", 6), arg("--features", 10));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(projects, features))
}

/// One round: how long planning every instance took and what it asked.
#[derive(serde::Serialize)]
struct Round {
    name: &'static str,
    instances: usize,
    seconds_total: f64,
    ms_per_plan_median: f64,
    ms_per_plan_max: f64,
    requests_total: usize,
    requests_per_plan: Vec<usize>,
    writes: usize,
    actions_total: usize,
}

async fn run(projects: usize, features: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let source = std::fs::read_to_string("environments/project-a.yaml")?;
    let mut files = Vec::new();
    for p in 1..=projects {
        let path = dir.path().join(format!("project-{p}.yaml"));
        std::fs::write(
            &path,
            source.replace("name: project-a", &format!("name: project-{p}")),
        )?;
        files.push(path);
    }
    let load = |set: &[(&str, &str)]| -> anyhow::Result<Vec<Environment>> {
        let mut envs = Vec::new();
        for file in &files {
            for f in 1..=features {
                let opts = LoadOptions {
                    feature: Some(format!("f{f}")),
                    set: set
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect::<BTreeMap<_, _>>(),
                    advertise_host: "192.0.2.10".into(),
                    dubbo_tag: None,
                };
                let path = file.to_string_lossy();
                envs.push(definition::load(&path, &opts).map_err(|e| anyhow::anyhow!("{e}"))?);
            }
        }
        Ok(envs)
    };
    let envs = load(&[])?;
    let services: Vec<usize> = envs.iter().map(|e| e.services.len()).collect();
    let api = FakeApi::new();
    let settings = Settings {
        node_port_range: DEFAULT_RANGE,
        registry: Some(REGISTRY.into()),
    };
    let backend = KubeBackend::new(
        api.client(),
        HostAddress {
            local: "192.0.2.10".parse()?,
            advertise: "192.0.2.10".into(),
        },
        "the in-memory API server".into(),
    )
    .with_mapping(MappingSettings {
        settings: settings.clone(),
        advertise: None,
    });

    let mut rounds = vec![plan_all("first plan, empty cluster", &backend, &api, &envs).await?];
    // The cluster as `up` leaves it: every instance's objects as `up` maps and stamps them,
    // each instance's node ports clear of those before it.
    let mut taken = BTreeSet::new();
    for env in &envs {
        let mapping = for_up_with(env, &NodePorts::new(), &taken, None, &settings, &|v| {
            no_secrets(v).map_err(|e| e.to_string())
        })?;
        taken.extend(mapping.node_ports.values().copied());
        for object in desired(env, &mapping, KEY).map_err(|e| anyhow::anyhow!("{e}"))? {
            api.insert(object);
        }
    }
    rounds.push(plan_all("no change", &backend, &api, &envs).await?);
    let changed = load(&[("provider_version", "1.0.1")])?;
    rounds.push(plan_all("12 providers changed", &backend, &api, &changed).await?);

    let report = serde_json::json!({
        "projects": projects,
        "features": features,
        "services_per_instance": services.iter().max(),
        "objects_in_cluster": api.object_count(),
        "rounds": rounds,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn plan_all(
    name: &'static str,
    backend: &KubeBackend,
    api: &FakeApi,
    envs: &[Environment],
) -> anyhow::Result<Round> {
    let inputs = inputs();
    let mut times = Vec::new();
    let mut requests = Vec::new();
    let mut actions_total = 0;
    let started = Instant::now();
    let writes_before = api.writes().len();
    for env in envs {
        api.clear_requests();
        let t = Instant::now();
        let plan = backend
            .plan(env, &inputs)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", env.instance))?;
        times.push(t.elapsed());
        requests.push(api.requests().len());
        actions_total += plan.actions.len();
    }
    let total = started.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(Round {
        name,
        instances: envs.len(),
        seconds_total: total.as_secs_f64(),
        ms_per_plan_median: ms(times[times.len() / 2]),
        ms_per_plan_max: ms(*times.last().expect("at least one instance")),
        requests_total: requests.iter().sum(),
        requests_per_plan: {
            let mut distinct = requests.clone();
            distinct.sort();
            distinct.dedup();
            distinct
        },
        writes: api.writes().len() - writes_before,
        actions_total,
    })
}

const KEY: &[u8] = &[1; 32];

fn all_free(_: u16, _: Protocol) -> bool {
    true
}

fn no_secrets(value: &EnvValue) -> Result<String, UnresolvedSecret> {
    match value {
        EnvValue::Plain(v) => Ok(v.clone()),
        _ => Ok("secret".into()),
    }
}

fn inputs() -> PlanInputs<'static> {
    PlanInputs {
        range: PortRange::parse("30000-32767").expect("a valid range"),
        host_free: &all_free,
        resolve_secret: &no_secrets,
        publish_address: "192.0.2.10".into(),
        now: "2026-12-03T00:00:00Z".into(),
        spec_key: SpecKey::fixed(KEY),
        rebuild: false,
        local_reach: "host-gateway".into(),
        owner: "bench@scale".into(),
    }
}

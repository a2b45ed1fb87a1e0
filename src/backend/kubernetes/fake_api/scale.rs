//! Planning at scale against the in-memory API server: `projects` x `features` instances of
//! one definition (renamed per project), planned three times — against an empty cluster,
//! against the cluster as `up` leaves it (nothing to do), and after a `--set` that changes
//! some services. `bench/kube_scale.sh` reports its timings (examples/kube_scale.rs); a test
//! holds its request counts (tests/it/kubernetes_scale.rs).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::FakeApi;
use crate::backend::kubernetes::{desired, KubeBackend, MappingSettings};
use crate::backend::{Backend, HostAddress};
use crate::definition::{self, LoadOptions};
use crate::kubernetes::node_ports::{NodePorts, DEFAULT_RANGE};
use crate::kubernetes::up_inputs::{for_up_with, Settings};
use crate::model::{EnvValue, Environment, InstanceId, PortRange, Protocol};
use crate::plan::{PlanInputs, SpecKey, UnresolvedSecret};

/// The shipped templates' images are built on this machine: a cluster pulls them from a
/// registry (nothing is pushed: the simulation only plans).
const REGISTRY: &str = "registry.invalid:5000/envctl";
const NODE: &str = "192.0.2.10";
const KEY: &[u8] = &[1; 32];

/// What to simulate.
pub struct Scale<'a> {
    /// A definition file (`environments/project-a.yaml`), loaded from the working directory
    /// (its templates are looked up in `templates/`).
    pub definition: &'a str,
    pub projects: usize,
    pub features: usize,
    /// `--set` values of the third round (the changed definition).
    pub change: &'a [(&'a str, &'a str)],
}

/// One round: how long planning every instance took and what it asked.
#[derive(Debug, serde::Serialize)]
pub struct Round {
    pub name: &'static str,
    pub instances: usize,
    pub seconds_total: f64,
    pub ms_per_plan_median: f64,
    pub ms_per_plan_max: f64,
    pub requests_total: usize,
    /// The distinct request counts of one plan (one value: every plan asked as much).
    pub requests_per_plan: Vec<usize>,
    /// Writes the round made (planning writes nothing; dry-runs are not writes).
    pub writes: usize,
    /// Dry-run applies (one per changed object).
    pub dry_runs: usize,
    pub actions_total: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub projects: usize,
    pub features: usize,
    pub services_per_instance: usize,
    pub objects_in_cluster: usize,
    pub rounds: Vec<Round>,
}

/// Runs the three rounds.
pub async fn simulate(scale: &Scale<'_>) -> anyhow::Result<Report> {
    let envs = instances(scale, &[])?;
    let api = FakeApi::new();
    let settings = Settings {
        node_port_range: DEFAULT_RANGE,
        registry: Some(REGISTRY.into()),
    };
    let backend = KubeBackend::new(
        api.client(),
        HostAddress {
            local: NODE.parse()?,
            advertise: NODE.into(),
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
            any_secret(v).map_err(|e| e.to_string())
        })?;
        taken.extend(mapping.node_ports.values().copied());
        for object in desired(env, &mapping, KEY)? {
            api.insert(object);
        }
    }
    rounds.push(plan_all("no change", &backend, &api, &envs).await?);
    let changed = instances(scale, scale.change)?;
    rounds.push(plan_all("changed by --set", &backend, &api, &changed).await?);
    Ok(Report {
        projects: scale.projects,
        features: scale.features,
        services_per_instance: envs.iter().map(|e| e.services.len()).max().unwrap_or(0),
        objects_in_cluster: api.object_count(),
        rounds,
    })
}

/// Every instance: the definition loaded once per feature, then named for each project.
fn instances(scale: &Scale<'_>, set: &[(&str, &str)]) -> anyhow::Result<Vec<Environment>> {
    let mut envs = Vec::new();
    for f in 1..=scale.features {
        let feature = format!("f{f}");
        let opts = LoadOptions {
            feature: Some(feature.clone()),
            set: set
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            advertise_host: NODE.into(),
            dubbo_tag: None,
        };
        let loaded = definition::load(scale.definition, &opts)
            .map_err(|e| anyhow::anyhow!("{}: {e}", scale.definition))?;
        for p in 1..=scale.projects {
            let mut env = loaded.clone();
            env.env = format!("project-{p}");
            env.instance = InstanceId::new(&env.env, Some(&feature))?;
            envs.push(env);
        }
    }
    Ok(envs)
}

async fn plan_all(
    name: &'static str,
    backend: &KubeBackend,
    api: &FakeApi,
    envs: &[Environment],
) -> anyhow::Result<Round> {
    let inputs = inputs();
    let (mut times, mut requests) = (Vec::new(), Vec::new());
    let (mut actions_total, mut writes, mut dry_runs) = (0, 0, 0);
    let started = Instant::now();
    for env in envs {
        api.clear_requests();
        let t = Instant::now();
        let plan = backend
            .plan(env, &inputs)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", env.instance))?;
        times.push(t.elapsed());
        let asked = api.requests();
        requests.push(asked.len());
        writes += asked
            .iter()
            .filter(|r| r.is_write() && !r.is_dry_run())
            .count();
        dry_runs += asked.iter().filter(|r| r.is_dry_run()).count();
        actions_total += plan.actions.len();
    }
    let total = started.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut distinct = requests.clone();
    distinct.sort();
    distinct.dedup();
    Ok(Round {
        name,
        instances: envs.len(),
        seconds_total: total.as_secs_f64(),
        ms_per_plan_median: times.get(times.len() / 2).map_or(0.0, |d| ms(*d)),
        ms_per_plan_max: times.last().map_or(0.0, |d| ms(*d)),
        requests_total: requests.iter().sum(),
        requests_per_plan: distinct,
        writes,
        dry_runs,
        actions_total,
    })
}

fn all_free(_: u16, _: Protocol) -> bool {
    true
}

fn any_secret(value: &EnvValue) -> Result<String, UnresolvedSecret> {
    match value {
        EnvValue::Plain(v) => Ok(v.clone()),
        _ => Ok("secret".into()),
    }
}

fn inputs() -> PlanInputs<'static> {
    PlanInputs {
        range: PortRange::parse("30000-32767").expect("a valid range"),
        host_free: &all_free,
        resolve_secret: &any_secret,
        publish_address: NODE.into(),
        now: "2026-12-03T00:00:00Z".into(),
        spec_key: SpecKey::fixed(KEY),
        rebuild: false,
        local_reach: "host-gateway".into(),
        owner: "bench@scale".into(),
    }
}

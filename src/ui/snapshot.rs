//! What the pages show, as JSON values built from the `ops` use cases: the instance list
//! (with owner and overlay base when the labels carry them) and one instance's services as a
//! graph. Only names, states, images and addresses go out: never environment values, labels
//! or the spec (they may hold secrets).

use std::collections::BTreeMap;

use serde::Serialize;

use futures_util::future::join_all;

use crate::backend::Backend;
use crate::engine::EngineResult;
use crate::model::{Environment, InstanceId, Probe};
use crate::ops::inspect::{self, InspectError, InstanceSummary, PortRow, ServiceStatus};

/// Labels written by newer envctl versions (remote engines, overlays): shown when present.
const OWNER_LABEL: &str = "io.envctl.owner";
const BASE_LABEL: &str = "io.envctl.base";

/// Container ports shown as web links even without an `http` health check.
const WEB_PORTS: &[u16] = &[80, 3000, 5000, 8000, 8080, 8081, 8888];

/// One row of the instance list.
#[derive(Debug, Serialize)]
pub struct InstanceRow {
    #[serde(flatten)]
    pub summary: InstanceSummary,
    pub owner: Option<String>,
    pub base: Option<String>,
}

/// Every instance (`ops::inspect::list`), with owner and base read from one workload each.
pub async fn instances(backend: &dyn Backend) -> EngineResult<Vec<InstanceRow>> {
    let summaries = inspect::list(backend).await?;
    let rows = summaries.into_iter().map(|summary| async move {
        let labels = match crate::model::InstanceId::new(
            &summary.env,
            Some(summary.feature.as_str()).filter(|f| !f.is_empty()),
        ) {
            Ok(id) => backend
                .services(&id)
                .await?
                .into_values()
                .next()
                .map(|w| w.labels)
                .unwrap_or_default(),
            Err(_) => Default::default(),
        };
        Ok(InstanceRow {
            owner: labels.get(OWNER_LABEL).cloned(),
            base: labels.get(BASE_LABEL).cloned(),
            summary,
        })
    });
    join_all(rows).await.into_iter().collect()
}

/// One instance, as its page draws it.
#[derive(Debug, Serialize)]
pub struct InstanceView {
    pub instance: String,
    pub env: String,
    pub feature: String,
    pub expires_at: Option<String>,
    /// Time left (`2h`), `expired`, or `-`.
    pub expires: String,
    /// Whether `up` would change nothing; unknown without the definition.
    pub converged: Option<bool>,
    /// Whether `environments/<env>.yaml` loaded here (else no graph edges, plan or `up`).
    pub definition: bool,
    pub advertise_host: String,
    pub services: Vec<ServiceView>,
}

#[derive(Debug, Serialize)]
pub struct ServiceView {
    pub service: String,
    pub container: String,
    /// `waiting`, `starting`, `ready`, `failed` or `exited`: the graph's colour.
    pub state: &'static str,
    /// The engine's word (`running`, `exited (1)`, `missing`).
    pub detail: String,
    pub ready: bool,
    pub pending: Option<String>,
    pub image: String,
    pub depends_on: Vec<String>,
    pub ports: Vec<PortView>,
}

#[derive(Debug, Serialize)]
pub struct PortView {
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: &'static str,
    /// `advertise_host:host_port`: what others dial.
    pub address: String,
    /// A link when the port serves HTTP.
    pub url: Option<String>,
}

/// The view of `instance`; `env` is its definition when it loads.
pub async fn instance(
    backend: &dyn Backend,
    id: &InstanceId,
    env: Option<&Environment>,
    inputs: &crate::plan::PlanInputs<'_>,
) -> Result<InstanceView, InspectError> {
    let advertise_host = backend.host_address().advertise.as_str();
    let status = inspect::status(backend, id, env, inputs).await?;
    let mut ports: BTreeMap<String, Vec<PortRow>> = BTreeMap::new();
    for row in inspect::ports(backend, id).await? {
        ports.entry(row.service.clone()).or_default().push(row);
    }
    let services = status
        .services
        .iter()
        .map(|s| {
            let service = env.and_then(|e| {
                e.services
                    .iter()
                    .find(|(name, _)| name.as_str() == s.service)
                    .map(|(_, svc)| svc)
            });
            ServiceView {
                service: s.service.clone(),
                container: s.container.clone(),
                state: colour(s),
                detail: s.state.clone(),
                ready: s.ready,
                pending: s.pending.clone(),
                image: s.image.clone(),
                depends_on: service
                    .map(|svc| svc.depends_on.keys().map(|d| d.to_string()).collect())
                    .unwrap_or_default(),
                ports: ports
                    .remove(&s.service)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| port_view(p, service, advertise_host))
                    .collect(),
            }
        })
        .collect();
    let now = chrono::Utc::now();
    Ok(InstanceView {
        instance: id.to_string(),
        env: id.env().to_string(),
        feature: id.feature().unwrap_or_default().to_string(),
        expires: status
            .lease
            .as_ref()
            .map(|l| crate::lifetime::remaining(l.expires_at, now))
            .unwrap_or_else(|| "-".into()),
        expires_at: status.expires_at.clone(),
        converged: status.converged,
        definition: env.is_some(),
        advertise_host: advertise_host.to_string(),
        services,
    })
}

/// The graph colour of a service from its state and readiness.
fn colour(s: &ServiceStatus) -> &'static str {
    let word = s.state.as_str();
    match word {
        _ if s.ready => "ready",
        "running" | "restarting" => "starting",
        "missing" | "created" => "waiting",
        "dead" => "failed",
        _ if word.starts_with("exited") && word != "exited (0)" => "failed",
        _ => "exited",
    }
}

fn port_view(p: PortRow, service: Option<&crate::model::Service>, host: &str) -> PortView {
    let health_http = service
        .and_then(|s| s.healthcheck.as_ref())
        .is_some_and(|hc| matches!(hc.probe, Probe::Http { port, .. } if port == p.container_port));
    let web = p.protocol == "tcp" && (health_http || WEB_PORTS.contains(&p.container_port));
    PortView {
        container_port: p.container_port,
        host_port: p.host_port,
        protocol: p.protocol,
        address: format!("{host}:{}", p.host_port),
        url: web.then(|| format!("http://{host}:{}/", p.host_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: &str, ready: bool) -> ServiceStatus {
        ServiceStatus {
            service: "s".into(),
            container: "i-s".into(),
            state: state.into(),
            ready,
            pending: None,
            ports: Vec::new(),
            image: "img".into(),
        }
    }

    #[test]
    fn colours_follow_state_and_readiness() {
        assert_eq!(colour(&status("running", true)), "ready");
        assert_eq!(colour(&status("running", false)), "starting");
        assert_eq!(colour(&status("restarting", false)), "starting");
        assert_eq!(colour(&status("missing", false)), "waiting");
        assert_eq!(colour(&status("created", false)), "waiting");
        assert_eq!(
            colour(&status("exited (0)", true)),
            "ready",
            "a completed job"
        );
        assert_eq!(colour(&status("exited (0)", false)), "exited");
        assert_eq!(colour(&status("exited (137)", false)), "failed");
        assert_eq!(colour(&status("dead", false)), "failed");
        assert_eq!(colour(&status("paused", false)), "exited");
    }

    #[test]
    fn web_ports_get_links() {
        let row = |port| PortRow {
            service: "web".into(),
            container_port: port,
            host_port: 30001,
            protocol: "tcp",
            address: "127.0.0.1:30001".into(),
        };
        let view = port_view(row(8080), None, "10.0.0.5");
        assert_eq!(view.address, "10.0.0.5:30001");
        assert_eq!(view.url.as_deref(), Some("http://10.0.0.5:30001/"));
        assert_eq!(port_view(row(6379), None, "10.0.0.5").url, None);
    }
}

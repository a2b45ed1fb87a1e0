//! Kubernetes: what an environment becomes on a cluster. The pure mapping (`manifests`,
//! behind `envctl render --target kubernetes`) and what `up` feeds it (`MappingInputs`):
//! node ports (`node_ports`), secret values (`secret_values`), local images pushed to a
//! registry (`images`, `registry`). Reaching pods through the API (`pod_io`: logs, exec,
//! restart, port-forward probes, the instance lock). The backend applying it lives in
//! `backend::kubernetes`.
//! See docs/kubernetes.md.

pub mod images;
pub mod manifests;
pub mod node_ports;
pub mod pod_io;
pub mod registry;
pub mod secret_values;
pub mod up_inputs;
mod yaml;

pub use manifests::{manifests, manifests_with, Advertise, MappingError, MappingInputs};

use crate::model::Environment;

/// The manifests of `env` as render shows them, as one multi-document YAML stream.
pub fn render_yaml(env: &Environment) -> Result<String, MappingError> {
    render_yaml_with(env, &MappingInputs::render())
}

/// The manifests of `env` with `inputs` as one multi-document YAML stream (`---` between
/// documents), in the order `kubectl apply -f -` needs: Namespace first, workloads after
/// what they use.
pub fn render_yaml_with(env: &Environment, inputs: &MappingInputs) -> Result<String, MappingError> {
    let docs = manifests_with(env, inputs)?;
    let mut out = String::new();
    for doc in &docs {
        out.push_str("---\n");
        out.push_str(&yaml::document(doc));
    }
    Ok(out)
}

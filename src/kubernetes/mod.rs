//! Kubernetes: what an environment becomes on a cluster. For now only the pure mapping
//! (`manifests`) behind `envctl render --target kubernetes`; the backend that applies it
//! (up/down on a cluster) is the next step of issue 15. See docs/kubernetes.md.

pub mod manifests;
pub mod pod_io;
mod yaml;

pub use manifests::{manifests, MappingError};

use crate::model::Environment;

/// The manifests of `env` as one multi-document YAML stream (`---` between documents), in
/// the order `kubectl apply -f -` needs: Namespace first, workloads after what they use.
pub fn render_yaml(env: &Environment) -> Result<String, MappingError> {
    let docs = manifests(env)?;
    let mut out = String::new();
    for doc in &docs {
        out.push_str("---\n");
        out.push_str(&yaml::document(doc));
    }
    Ok(out)
}

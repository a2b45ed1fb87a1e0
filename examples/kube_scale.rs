//! Planning at scale on Kubernetes, against the in-memory API server (no cluster needed):
//! 6 projects x 10 features x 18 services (project-a's definition under six names). Prints,
//! as JSON, the planning time and API requests of three rounds: a first plan against an empty
//! cluster, a plan of every instance when nothing changed, and one after
//! `--set provider_version=1.0.1` changed the twelve providers of every instance.
//!
//!     cargo run --release --example kube_scale [-- --projects 6 --features 10]
//!
//! Run from the repository root; bench/kube_scale.sh does, and keeps the report.

use envctl::backend::kubernetes::fake_api::scale::{simulate, Scale};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let scale = Scale {
        definition: "environments/project-a.yaml",
        projects: arg("--projects", 6),
        features: arg("--features", 10),
        change: &[("provider_version", "1.0.1")],
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(simulate(&scale))?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

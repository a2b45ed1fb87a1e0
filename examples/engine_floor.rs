//! The engine's floor for the benchmark: create and start N containers concurrently through
//! the API on one fresh network, with no readiness wait, then remove them all concurrently.
//! Prints `{"create_start_secs": .., "remove_secs": ..}`.
//!
//! Usage: engine_floor IMAGE N [COMMAND...]   (default command: `sleep 3600`)

use std::time::Instant;

use envctl::engine::docker::DockerEngine;
use envctl::engine::{ContainerSpec, Engine, Labels, PublishedPort};
use envctl::model::{labels, Protocol};
use futures_util::future::try_join_all;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: engine_floor IMAGE N [COMMAND...]";
    let image = args.next().ok_or_else(|| anyhow::anyhow!(usage))?;
    let count: usize = args.next().ok_or_else(|| anyhow::anyhow!(usage))?.parse()?;
    let mut command: Vec<String> = args.collect();
    if command.is_empty() {
        command = vec!["sleep".into(), "3600".into()];
    }

    let engine = DockerEngine::connect().await?;
    let instance = format!("floor-{}", std::process::id());
    let labels = Labels::from([(labels::INSTANCE.to_string(), instance.clone())]);
    let network = format!("envctl-{instance}");

    let started = Instant::now();
    let network_id = engine.create_network(&network, &labels).await?;
    let specs: Vec<ContainerSpec> = (0..count)
        .map(|i| {
            floor_spec(
                &image,
                &command,
                &format!("{instance}-c{i}"),
                &network,
                &labels,
            )
        })
        .collect();
    let created = try_join_all(specs.iter().map(|spec| async {
        let id = engine.create_container(spec).await?;
        engine.start_container(&id).await?;
        Ok::<_, anyhow::Error>(id)
    }))
    .await;
    let create_start_secs = started.elapsed().as_secs_f64();

    // Remove whatever exists, even after a failure, so the engine is left as found.
    let removing = Instant::now();
    let leftovers = engine
        .list_containers(&envctl::engine::LabelFilter::instance(&instance))
        .await?;
    try_join_all(leftovers.iter().map(|c| engine.remove_container(&c.id))).await?;
    engine.remove_network(&network_id).await?;
    let remove_secs = removing.elapsed().as_secs_f64();

    created?;
    println!(
        "{}",
        serde_json::json!({ "create_start_secs": create_start_secs, "remove_secs": remove_secs })
    );
    Ok(())
}

fn floor_spec(
    image: &str,
    command: &[String],
    name: &str,
    network: &str,
    labels: &Labels,
) -> ContainerSpec {
    ContainerSpec {
        name: name.to_string(),
        image: image.to_string(),
        env: Vec::new(),
        labels: labels.clone(),
        command: Some(command.to_vec()),
        entrypoint: None,
        // Like the benchmarked services: one published port, host side chosen by the engine.
        ports: vec![PublishedPort {
            container: 8080,
            host: 0,
            protocol: Protocol::Tcp,
        }],
        publish_address: "0.0.0.0".into(),
        network: network.to_string(),
        aliases: Vec::new(),
        mounts: Vec::new(),
        memory_bytes: None,
        nano_cpus: None,
        restart: "no".into(),
        extra_hosts: Vec::new(),
        host_access: Default::default(),
    }
}

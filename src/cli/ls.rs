//! `envctl ls`: the instances on this engine, with services ready/total and age.

use std::collections::BTreeMap;

use clap::Args;
use serde::Serialize;

use crate::engine::LabelFilter;
use crate::model::labels;
use crate::output;

use super::common;

#[derive(Debug, Args)]
pub struct LsArgs {
    #[arg(long, value_enum, default_value_t)]
    pub output: super::OutputFormat,
}

#[derive(Debug, Default, Serialize)]
struct Instance {
    instance: String,
    env: String,
    feature: String,
    ready: usize,
    total: usize,
    /// Unix seconds of the oldest resource.
    created: i64,
    age: String,
    /// RFC 3339, when the instance has a lifetime (`up --ttl`).
    expires_at: Option<String>,
    /// Time left (`2h`), `expired`, or `-` without a lifetime.
    expires: String,
}

pub async fn run(args: LsArgs) -> anyhow::Result<i32> {
    let engine = common::connect().await?;
    let containers = engine.list_containers(&LabelFilter::envctl()).await?;
    let mut instances: BTreeMap<String, Instance> = BTreeMap::new();
    for c in &containers {
        let Some(id) = c.labels.get(labels::INSTANCE) else {
            continue;
        };
        let entry = instances.entry(id.clone()).or_insert_with(|| Instance {
            instance: id.clone(),
            env: c.labels.get(labels::ENV).cloned().unwrap_or_default(),
            feature: c.labels.get(labels::FEATURE).cloned().unwrap_or_default(),
            created: c.created,
            ..Instance::default()
        });
        entry.total += 1;
        entry.ready += usize::from(common::ready_by_state(c));
        entry.created = entry.created.min(c.created);
    }
    // An instance whose containers are gone may still hold its network.
    for n in engine.list_networks(&LabelFilter::envctl()).await? {
        let Some(id) = n.labels.get(labels::INSTANCE) else {
            continue;
        };
        instances.entry(id.clone()).or_insert_with(|| Instance {
            instance: id.clone(),
            env: n.labels.get(labels::ENV).cloned().unwrap_or_default(),
            feature: n.labels.get(labels::FEATURE).cloned().unwrap_or_default(),
            created: chrono::DateTime::parse_from_rfc3339(
                n.labels
                    .get(labels::CREATED)
                    .map(String::as_str)
                    .unwrap_or(""),
            )
            .map(|t| t.timestamp())
            .unwrap_or_else(|_| chrono::Utc::now().timestamp()),
            ..Instance::default()
        });
    }
    // A lease alone (an up interrupted before creating anything) still names an instance.
    let now = chrono::Utc::now();
    for lease in crate::lifetime::leases(engine.as_ref(), LabelFilter::envctl()).await? {
        let entry = instances
            .entry(lease.instance.clone())
            .or_insert_with(|| Instance {
                instance: lease.instance.clone(),
                env: lease.env.clone(),
                feature: lease.feature.clone(),
                created: now.timestamp(),
                ..Instance::default()
            });
        entry.expires_at = Some(crate::lifetime::format_time(lease.expires_at));
        entry.expires = crate::lifetime::remaining(lease.expires_at, now);
    }
    for i in instances.values_mut() {
        i.age = common::age(i.created);
        if i.expires.is_empty() {
            i.expires = "-".into();
        }
    }
    let list: Vec<&Instance> = instances.values().collect();
    match args.output {
        super::OutputFormat::Json => println!("{}", serde_json::to_string(&list)?),
        super::OutputFormat::Text if list.is_empty() => println!("no envctl instances"),
        super::OutputFormat::Text => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|i| {
                    vec![
                        i.instance.clone(),
                        i.env.clone(),
                        i.feature.clone(),
                        format!("{}/{}", i.ready, i.total),
                        i.age.clone(),
                        i.expires.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                output::table(
                    &["INSTANCE", "ENV", "FEATURE", "READY", "AGE", "EXPIRES"],
                    &rows
                )
            );
        }
    }
    Ok(0)
}

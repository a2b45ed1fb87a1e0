//! The use cases behind the commands: `up`, `down`, `gc`, `status`, `ls`, `ports`. Each takes
//! plain inputs and returns a result value; none of them parses arguments or prints (that is
//! `cli/` and `output/`). They reach the engine only through `engine::Engine`.

pub mod down;
pub mod gc;
pub mod inspect;
pub mod ownership;
pub mod up;

use std::collections::BTreeMap;

use crate::engine::{ContainerState, Engine, EngineResult, LabelFilter, ObservedContainer};
use crate::model::{labels, InstanceId};

/// The containers of one instance, by service name.
pub async fn instance_containers(
    engine: &dyn Engine,
    instance: &InstanceId,
) -> EngineResult<BTreeMap<String, ObservedContainer>> {
    let containers = engine
        .list_containers(&LabelFilter::instance(instance.as_str()))
        .await?;
    Ok(containers
        .into_iter()
        .map(|c| {
            let service = labels::Ownership::read(&c.labels)
                .and_then(|o| o.service)
                .unwrap_or_else(|| c.name.clone());
            (service, c)
        })
        .collect())
}

/// Whether a container counts as ready when only its state is known: a running service, or
/// a job that exited 0.
pub fn ready_by_state(c: &ObservedContainer) -> bool {
    let is_job = c.labels.get(labels::KIND).map(String::as_str) == Some("job");
    match c.state {
        ContainerState::Running => true,
        ContainerState::Exited { code: 0 } => is_job,
        _ => false,
    }
}

/// A short human word for a container state.
pub fn state_word(state: ContainerState) -> String {
    match state {
        ContainerState::Exited { code } => format!("exited ({code})"),
        other => format!("{other:?}").to_lowercase(),
    }
}

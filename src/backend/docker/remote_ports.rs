//! Free host ports on a remote engine's host. Binding a port here says nothing about another
//! machine, so a port is free there when no container on that engine publishes it (envctl's
//! own and everyone else's); what other instances recorded in their labels is already taken
//! by the planner. A port some other process on the server holds shows up when the container
//! starts (the engine refuses the bind).

use std::collections::BTreeSet;

use crate::engine::{Engine, EngineResult, LabelFilter};
use crate::model::Protocol;
use crate::plan::PlanInputs;

/// Every host port a container on the engine publishes now.
pub(super) async fn published(engine: &dyn Engine) -> EngineResult<BTreeSet<(u16, Protocol)>> {
    let all = engine.list_containers(&LabelFilter::default()).await?;
    Ok(all
        .iter()
        .flat_map(|c| c.ports.iter().map(|p| (p.host, p.protocol)))
        .collect())
}

/// `inputs` with the port check replaced by `free`.
pub(super) fn inputs<'a>(
    inputs: &PlanInputs<'a>,
    free: &'a (dyn Fn(u16, Protocol) -> bool + Sync),
) -> PlanInputs<'a> {
    PlanInputs {
        range: inputs.range,
        host_free: free,
        resolve_secret: inputs.resolve_secret,
        publish_address: inputs.publish_address.clone(),
        now: inputs.now.clone(),
        spec_key: inputs.spec_key.clone(),
        rebuild: inputs.rebuild,
        owner: inputs.owner.clone(),
    }
}

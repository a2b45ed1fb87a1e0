//! Ctrl-C and SIGTERM during `up`: the first one stops scheduling (see `apply::up_until`) and
//! lets running engine calls finish; a second one exits at once. Afterwards the remaining
//! state is reported and envctl exits with 130, like a shell does for SIGINT.

use std::collections::BTreeMap;

use crate::apply::Interrupt;
use crate::engine::Engine;
use crate::model::InstanceId;
use crate::plan::Plan;

use super::common;

/// The exit code of an interrupted command.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Starts listening for SIGINT/SIGTERM; the returned interrupt is set by the first one.
pub fn listen(quiet: bool) -> Interrupt {
    let (trigger, interrupt) = Interrupt::new();
    tokio::spawn(async move {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut signals = 0;
        loop {
            tokio::select! {
                result = tokio::signal::ctrl_c() => if result.is_err() { return },
                Some(()) = async { match terminate.as_mut() {
                    Some(t) => t.recv().await,
                    None => std::future::pending().await,
                } } => {}
            }
            signals += 1;
            if signals > 1 {
                eprintln!("interrupted again: exiting now; `envctl up` converges what is left");
                std::process::exit(EXIT_INTERRUPTED);
            }
            if !quiet {
                eprintln!(
                    "interrupting: starting nothing new, letting running engine calls finish \
                     (press Ctrl-C again to exit at once)"
                );
            }
            trigger.trigger();
        }
    });
    interrupt
}

/// Describes what an interrupted `up` left, prints it, and returns the exit code.
pub async fn report(
    engine: &dyn Engine,
    instance: &InstanceId,
    plan: &Plan,
    rerun: &str,
    json: bool,
) -> i32 {
    let containers = common::instance_containers(engine, instance)
        .await
        .unwrap_or_default();
    let states: BTreeMap<String, String> = plan
        .services
        .iter()
        .map(|s| {
            let state = containers
                .get(s.name.as_str())
                .map(|c| common::state_word(c.state))
                .unwrap_or_else(|| "not created".into());
            (s.name.to_string(), state)
        })
        .collect();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "result": "interrupted",
                "instance": instance.as_str(),
                "services": states,
            })
        );
    } else {
        let list: Vec<String> = states.iter().map(|(s, st)| format!("{s} {st}")).collect();
        eprintln!(
            "interrupted: {instance} is partly up ({}); run `{rerun}` to converge it or `envctl down` to remove it",
            list.join(", ")
        );
    }
    EXIT_INTERRUPTED
}

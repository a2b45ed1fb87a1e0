//! The use cases behind the commands: `up`, `down`, `gc`, `status`, `ls`, `ports`. Each takes
//! plain inputs and returns a result value; none of them parses arguments or prints (that is
//! `cli/` and `output/`). They reach instances only through `backend::Backend`.

pub mod down;
pub mod endpoints;
pub mod engine_lock;
pub mod extend;
pub mod gc;
pub mod inspect;
pub mod instance_locks;
pub mod overlays;
pub mod owners;
pub mod restart;
pub mod snapshot;
pub mod up;

use crate::engine::ContainerState;

/// A short human word for a container state.
pub fn state_word(state: ContainerState) -> String {
    match state {
        ContainerState::Exited { code } => format!("exited ({code})"),
        other => format!("{other:?}").to_lowercase(),
    }
}

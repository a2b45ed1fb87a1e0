//! Ctrl-C and SIGTERM during `up`: the first one stops scheduling (see `apply::up_until`) and
//! lets running engine calls finish; a second one exits at once. Afterwards the remaining
//! state is reported (`ops::up`) and envctl exits with 130, like a shell does for SIGINT.

use crate::apply::Interrupt;
use crate::errors::ExitCode;

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
                crate::errln!("interrupted again: exiting now; `envctl up` converges what is left");
                std::process::exit(ExitCode::Interrupted.code());
            }
            if !quiet {
                crate::errln!(
                    "interrupting: starting nothing new, letting running engine calls finish \
                     (press Ctrl-C again to exit at once)"
                );
            }
            trigger.trigger();
        }
    });
    interrupt
}

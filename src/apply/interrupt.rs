//! Interrupts (Ctrl-C, SIGTERM) as a value `apply` can look at: once set, nothing new is
//! scheduled; engine calls already running finish, waits stop.

use tokio::sync::watch;

/// Sets the interrupt; every clone of the matching `Interrupt` sees it.
#[derive(Debug, Clone)]
pub struct InterruptTrigger(watch::Sender<bool>);

impl InterruptTrigger {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }
}

/// Whether (and when) the operation was interrupted.
#[derive(Debug, Clone)]
pub struct Interrupt(watch::Receiver<bool>);

impl Interrupt {
    /// A trigger and the interrupt it sets.
    pub fn new() -> (InterruptTrigger, Interrupt) {
        let (tx, rx) = watch::channel(false);
        (InterruptTrigger(tx), Interrupt(rx))
    }

    /// An interrupt that never happens.
    pub fn never() -> Interrupt {
        Self::new().1
    }

    pub fn is_set(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the interrupt is set; never, when its trigger is gone unset.
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|set| *set).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The reason a service gives when the interrupt stopped it.
pub const INTERRUPTED: &str = "interrupted";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn never_stays_unset_and_a_trigger_wakes_waiters() {
        let never = Interrupt::never();
        assert!(!never.is_set());
        let pending = tokio::time::timeout(std::time::Duration::from_millis(20), never.wait());
        assert!(pending.await.is_err());

        let (trigger, interrupt) = Interrupt::new();
        let waiter = tokio::spawn({
            let interrupt = interrupt.clone();
            async move { interrupt.wait().await }
        });
        trigger.trigger();
        waiter.await.unwrap();
        assert!(interrupt.is_set());
    }
}

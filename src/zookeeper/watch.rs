//! Watches: with `Session::watch_reads(true)` every `children`/`data` read leaves a one-shot
//! watch on its node, and `next_event` waits for the server's notification (a reply with xid
//! -1 carrying a `WatcherEvent`: type, state, path), pinging meanwhile so the session stays
//! alive. Notifications that arrive while a request waits for its reply are queued, not lost.

use std::time::Duration;

use tokio::time::Instant;

use super::wire::{Reader, Writer};
use super::{Session, ZkError};

/// The xid ZooKeeper gives watch notifications.
pub(super) const NOTIFICATION_XID: i32 = -1;
/// The xid of pings.
const PING_XID: i32 = -2;
const OP_PING: i32 = 11;

/// One watch notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// ZooKeeper's `EventType`: 1 created, 2 deleted, 3 data changed, 4 children changed.
    pub kind: i32,
    /// The node, as the session names it (without its chroot).
    pub path: String,
}

impl Session {
    /// Whether the following reads set watches.
    pub fn watch_reads(&mut self, on: bool) {
        self.watching = on;
    }

    /// The next watch notification, or `None` when none came within `wait`. Pings the server
    /// every `ping_every` of silence, as ZooKeeper's clients do, so the session outlives waits
    /// longer than its timeout.
    pub async fn next_event(
        &mut self,
        wait: Duration,
        ping_every: Duration,
    ) -> Result<Option<WatchEvent>, ZkError> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(event));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let slice = ping_every.min(deadline - now);
            // Waiting for readability is cancel-safe; reading a frame is not, so it only
            // starts once bytes are there.
            match tokio::time::timeout(slice, self.stream.readable()).await {
                Ok(Ok(())) => {
                    let body = self.receive().await?;
                    let addr = self.addr;
                    let xid = Reader::new(&body)
                        .int()
                        .map_err(|source| ZkError::Malformed { addr, source })?;
                    if xid == NOTIFICATION_XID {
                        let event = self.notification(&body)?;
                        self.events.push_back(event);
                    }
                }
                Ok(Err(source)) => {
                    return Err(ZkError::Io {
                        addr: self.addr,
                        source,
                    })
                }
                Err(_) => {
                    let ping = Writer::default().int(PING_XID).int(OP_PING).frame();
                    self.send(&ping).await?;
                }
            }
        }
    }

    /// Decodes a notification frame.
    pub(super) fn notification(&self, body: &[u8]) -> Result<WatchEvent, ZkError> {
        let addr = self.addr;
        let mut r = Reader::new(body);
        let parsed = (|| {
            let _xid = r.int()?;
            let _zxid = r.long()?;
            let _err = r.int()?;
            let kind = r.int()?;
            let _state = r.int()?;
            let path = r.string()?;
            Ok((kind, path))
        })();
        let (kind, path) = parsed.map_err(|source| ZkError::Malformed { addr, source })?;
        let path = match path.strip_prefix(&self.chroot) {
            Some(rest) if !self.chroot.is_empty() => {
                if rest.is_empty() {
                    "/".to_string()
                } else {
                    rest.to_string()
                }
            }
            _ => path,
        };
        Ok(WatchEvent { kind, path })
    }
}

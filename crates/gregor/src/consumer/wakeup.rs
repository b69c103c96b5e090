//! Interrupting a blocked `poll` from another task or thread (Java's `KafkaConsumer.wakeup`).
//!
//! Java's rule (`ConsumerNetworkClient.maybeTriggerWakeup`): a wake-up makes the call that is
//! blocked right now — or, when none is, the next one — fail with `WakeupException`, and is
//! then cleared. gregor's blocking calls are futures, and dropping one also stops it; a
//! [`WakeupHandle`] is for when the code holding the future is not yours to cancel (a loop in
//! a library, a thread blocked in `block_on`), or when the loop should see an error and run
//! its shutdown path.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use crate::error::{Error, ErrorKind, Result};

/// A cloneable, `Send + Sync` handle that interrupts the consumer's blocking calls
/// ([`Consumer::poll`](crate::Consumer::poll), `commit_sync`, `committed`, `position`,
/// `offsets_for_times`, ...): the calls in progress, or else the next one, return an
/// [`ErrorKind::Wakeup`] error. Records already fetched stay buffered for the next `poll`. Get one with [`Consumer::wakeup_handle`](crate::Consumer::wakeup_handle).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let cluster = gregor_mock::MockCluster::builder().brokers(1).topic("quiet", 1).start().await?;
/// use std::time::Duration;
/// use gregor::{Consumer, TopicPartition};
///
/// let consumer = Consumer::from_properties([("bootstrap.servers", cluster.bootstrap_servers())])?;
/// consumer.assign([TopicPartition::new("quiet", 0)])?;
/// let wakeup = consumer.wakeup_handle();
/// // Another task (a signal handler, a shutdown hook) interrupts the poll below.
/// tokio::spawn(async move { wakeup.wakeup() });
/// let err = consumer.poll(Duration::from_secs(3600)).await.unwrap_err();
/// assert!(err.is_wakeup());
/// consumer.close(Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct WakeupHandle {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    pending: AtomicBool,
    notify: Notify,
}

impl WakeupHandle {
    /// Interrupts the blocking call in progress, or the next one if none is.
    pub fn wakeup(&self) {
        self.shared.pending.store(true, Ordering::SeqCst);
        self.shared.notify.notify_waiters();
    }

    /// Whether a wake-up is waiting to be delivered.
    pub fn is_pending(&self) -> bool {
        self.shared.pending.load(Ordering::SeqCst)
    }

    /// Consumes a pending wake-up as the error it delivers.
    pub(crate) fn take(&self) -> Result<()> {
        if self.shared.pending.swap(false, Ordering::SeqCst) {
            Err(Error::new(ErrorKind::Wakeup, "interrupted by WakeupHandle::wakeup"))
        } else {
            Ok(())
        }
    }

    /// Runs `fut` unless a wake-up arrives first (or was pending), which is consumed and
    /// returned as the error. Every call blocked when the wake-up comes is interrupted; one
    /// that arrives after `fut` finished stays pending for the next call.
    pub(crate) async fn guard<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let woken = self.shared.notify.notified();
        tokio::pin!(woken);
        // Registered before the flag is checked, so a wakeup() in between is not missed.
        woken.as_mut().enable();
        self.take()?;
        tokio::select! {
            biased;
            r = fut => r,
            _ = woken => {
                // Cleared here, or already by another call interrupted by the same wake-up.
                let _ = self.take();
                Err(Error::new(ErrorKind::Wakeup, "interrupted by WakeupHandle::wakeup"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_pending_wakeup_fails_the_next_call_once() {
        let h = WakeupHandle::default();
        h.wakeup();
        assert!(h.is_pending());
        let e = h.guard(async { Ok(1) }).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Wakeup);
        assert!(!h.is_pending(), "delivered once, then cleared");
        assert_eq!(h.guard(async { Ok(2) }).await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_wakeup_interrupts_a_blocked_call_from_a_clone() {
        let h = WakeupHandle::default();
        let other = h.clone();
        let blocked = tokio::spawn(async move {
            h.guard(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
            .await
        });
        tokio::task::yield_now().await;
        other.wakeup();
        let r = blocked.await.unwrap();
        assert!(r.unwrap_err().is_wakeup());
        assert!(!other.is_pending());
    }
}

//! `delivery.timeout.ms` for batches whose Produce request is on the wire, sans-io.
//!
//! A batch waiting in the accumulator expires there (`Accumulator::expire`). Once drained, it
//! lives in the task that awaits its response, which ends only with the response or with
//! `request.timeout.ms` — possibly well after the batch's delivery deadline when the batch was
//! sent late (after retries or a long wait for a leader). Java fails such a batch at its
//! deadline all the same (`Sender.sendProducerData` → `Sender.getExpiredInflightBatches`, a
//! `TimeoutException` "Expiring N record(s) for tp: … ms has passed since batch creation").
//! This registry keeps, per batch on the wire, what the sender needs to do that without the
//! batch itself: its creation time and its outcome slot. The response, when it comes, finds
//! the slot settled and changes nothing the application sees (see `delivery`).

use std::time::Duration;

use tokio::time::Instant;

use super::accumulator::TopicPartition;

/// One batch whose Produce request is unanswered.
#[derive(Debug)]
pub(crate) struct InFlightBatch<T> {
    pub(crate) batch_id: u64,
    pub(crate) tp: TopicPartition,
    pub(crate) created: Instant,
    pub(crate) records: usize,
    /// Produce attempts that failed before this one.
    pub(crate) attempts: u32,
    /// Whether the batch holds a sequence (idempotent producer).
    pub(crate) sequenced: bool,
    pub(crate) token: T,
}

/// The batches on the wire, oldest first (Java `Sender.inFlightBatches`).
#[derive(Debug)]
pub(crate) struct InFlightBatches<T> {
    delivery_timeout: Duration,
    batches: Vec<InFlightBatch<T>>,
}

impl<T> InFlightBatches<T> {
    pub(crate) fn new(delivery_timeout: Duration) -> Self {
        InFlightBatches { delivery_timeout, batches: Vec::new() }
    }

    /// A batch was drained into a Produce request (Java `addToInflightBatches`).
    pub(crate) fn add(&mut self, batch: InFlightBatch<T>) {
        self.batches.push(batch);
    }

    /// The batch's request ended (a response, or the request failed as a whole). `None` when
    /// the batch already expired here.
    pub(crate) fn remove(&mut self, batch_id: u64) -> Option<InFlightBatch<T>> {
        let at = self.batches.iter().position(|b| b.batch_id == batch_id)?;
        Some(self.batches.swap_remove(at))
    }

    /// Takes the batches whose delivery deadline (`created + delivery.timeout.ms`) is at or
    /// before `now` (Java `getExpiredInflightBatches`: `hasReachedDeliveryTimeout`).
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<InFlightBatch<T>> {
        let timeout = self.delivery_timeout;
        if !self.batches.iter().any(|b| b.created + timeout <= now) {
            return Vec::new();
        }
        let (expired, kept) = std::mem::take(&mut self.batches).into_iter().partition(|b| b.created + timeout <= now);
        self.batches = kept;
        expired
    }

    /// The next deadline, for the sender's timer.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.batches.iter().map(|b| b.created + self.delivery_timeout).min()
    }

    /// Whether nothing is in flight.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    const DELIVERY: Duration = Duration::from_secs(120);

    fn batch(id: u64, created: Instant) -> InFlightBatch<u64> {
        InFlightBatch {
            batch_id: id,
            tp: TopicPartition { topic: Arc::from("t"), partition: 0 },
            created,
            records: 1,
            attempts: 0,
            sequenced: false,
            token: id,
        }
    }

    #[test]
    fn a_batch_on_the_wire_expires_at_its_delivery_deadline_not_before() {
        let t0 = Instant::now();
        let mut f = InFlightBatches::new(DELIVERY);
        f.add(batch(1, t0));
        f.add(batch(2, t0 + Duration::from_secs(10)));
        assert_eq!(f.next_expiry(), Some(t0 + DELIVERY));
        assert!(f.expire(t0 + DELIVERY - Duration::from_millis(1)).is_empty());
        let e = f.expire(t0 + DELIVERY);
        assert_eq!(e.iter().map(|b| b.token).collect::<Vec<_>>(), vec![1]);
        assert_eq!(f.next_expiry(), Some(t0 + Duration::from_secs(10) + DELIVERY));
        assert!(f.remove(1).is_none(), "its late response finds nothing to settle");
        assert_eq!(f.remove(2).map(|b| b.token), Some(2), "answered before its deadline");
        assert!(f.is_empty());
        assert_eq!(f.next_expiry(), None);
    }
}

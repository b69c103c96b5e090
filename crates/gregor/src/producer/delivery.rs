//! How a record's outcome reaches its [`DeliveryFuture`]: one shared slot per *batch*, not a
//! channel per record.
//!
//! Every record of a batch shares the batch's fate (Kafka acknowledges or refuses a batch as a
//! whole, and the offsets of its records are `base_offset + index`), so the sender settles the
//! batch once and each future derives its record's [`RecordMetadata`] from that: a `send` costs
//! an `Arc` clone instead of allocating a oneshot channel (the per-record allocation was ~10 %
//! of the producer's CPU in the profile of BENCHMARKS.md, "Producer (issue #15, item 5)").
//!
//! The slot is settled at most once (the first outcome wins): the sender may fail an in-flight
//! batch at its `delivery.timeout.ms` while its Produce request is still unanswered (Java
//! `Sender.getExpiredInflightBatches`); the late response then changes nothing the user sees.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use super::RecordMetadata;
use crate::error::{Error, ErrorKind, Result};

/// How a batch ended.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Written; `base_offset` -1 when unknown (acks=0), `log_append_time` -1 unless the topic
    /// uses LogAppendTime.
    Written { base_offset: i64, log_append_time: i64 },
    /// Failed for good; every record of the batch gets this error.
    Failed(Error),
}

#[derive(Debug, Default)]
struct Slot {
    outcome: Option<Outcome>,
    /// Futures polled before the outcome, by record index (replaced on a re-poll).
    wakers: Vec<(u32, Waker)>,
}

/// The outcome slot of one batch, shared by the futures of its records.
#[derive(Debug)]
pub(crate) struct BatchDelivery {
    topic: Arc<str>,
    partition: i32,
    slot: Mutex<Slot>,
}

impl BatchDelivery {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Arc<BatchDelivery> {
        Arc::new(BatchDelivery { topic, partition, slot: Mutex::new(Slot::default()) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Settles the batch; false (and nothing changes) if it was settled before.
    pub(crate) fn settle(&self, outcome: Outcome) -> bool {
        let wakers = {
            let mut s = self.lock();
            if s.outcome.is_some() {
                return false;
            }
            s.outcome = Some(outcome);
            std::mem::take(&mut s.wakers)
        };
        for (_, w) in wakers {
            w.wake();
        }
        true
    }

    /// Whether the batch was settled.
    pub(crate) fn is_settled(&self) -> bool {
        self.lock().outcome.is_some()
    }
}

/// The sender's handle on a batch's slot. Dropping it unsettled (the producer and its tasks
/// went away with the batch) fails the batch's records, as a dropped channel did before.
#[derive(Debug)]
pub(crate) struct Completion(pub(crate) Arc<BatchDelivery>);

impl Completion {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Completion {
        Completion(BatchDelivery::new(topic, partition))
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        self.0.settle(Outcome::Failed(Error::new(ErrorKind::Closed, "the producer was dropped before the record was sent")));
    }
}

/// Resolves once the record is acknowledged (or failed for good).
#[derive(Debug)]
#[must_use = "a DeliveryFuture reports whether the record was written"]
pub struct DeliveryFuture {
    batch: Arc<BatchDelivery>,
    /// The record's position in its batch (its offset is the batch's base offset plus this).
    index: u32,
    /// The record's CreateTime, reported unless the topic uses LogAppendTime.
    timestamp: i64,
}

impl DeliveryFuture {
    pub(crate) fn new(batch: Arc<BatchDelivery>, index: u32, timestamp: i64) -> DeliveryFuture {
        DeliveryFuture { batch, index, timestamp }
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &*self;
        let mut s = this.batch.lock();
        match &s.outcome {
            Some(Outcome::Written { base_offset, log_append_time }) => Poll::Ready(Ok(RecordMetadata {
                topic: this.batch.topic.clone(),
                partition: this.batch.partition,
                offset: if *base_offset >= 0 { base_offset + i64::from(this.index) } else { -1 },
                timestamp: if *log_append_time >= 0 { *log_append_time } else { this.timestamp },
            })),
            Some(Outcome::Failed(e)) => Poll::Ready(Err(e.clone())),
            None => {
                match s.wakers.iter_mut().find(|(i, _)| *i == this.index) {
                    Some((_, w)) => w.clone_from(cx.waker()),
                    None => s.wakers.push((this.index, cx.waker().clone())),
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct Count(std::sync::atomic::AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn poll(f: &mut DeliveryFuture, w: &Arc<Count>) -> Poll<Result<RecordMetadata>> {
        let waker = Waker::from(w.clone());
        Pin::new(f).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn each_record_gets_its_offset_and_the_first_outcome_wins() {
        let c = Completion::new(Arc::from("t"), 3);
        let mut a = DeliveryFuture::new(c.0.clone(), 0, 10);
        let mut b = DeliveryFuture::new(c.0.clone(), 1, 11);
        let w = Arc::new(Count(Default::default()));
        assert!(poll(&mut a, &w).is_pending());
        assert!(poll(&mut a, &w).is_pending(), "a re-poll replaces its waker");
        assert!(c.0.settle(Outcome::Written { base_offset: 100, log_append_time: -1 }));
        assert_eq!(w.0.load(std::sync::atomic::Ordering::SeqCst), 1, "one waker per future");
        assert!(!c.0.settle(Outcome::Failed(Error::closed())), "settled once");
        let Poll::Ready(Ok(m)) = poll(&mut b, &w) else { panic!("ready") };
        assert_eq!((&*m.topic, m.partition, m.offset, m.timestamp), ("t", 3, 101, 11));
        let Poll::Ready(Ok(m)) = poll(&mut a, &w) else { panic!("ready") };
        assert_eq!(m.offset, 100);
    }

    #[test]
    fn a_dropped_completion_fails_its_records() {
        let c = Completion::new(Arc::from("t"), 0);
        let mut a = DeliveryFuture::new(c.0.clone(), 0, 10);
        drop(c);
        let w = Arc::new(Count(Default::default()));
        let Poll::Ready(Err(e)) = poll(&mut a, &w) else { panic!("failed") };
        assert_eq!(e.kind(), ErrorKind::Closed);
    }
}

//! The application's side of committing: [`Consumer::commit_async`] and
//! [`Consumer::commit_offsets_async`] with a [`CommitHandle`] for the outcome, the store-offsets
//! mode of `enable.auto.offset.store=false` ([`Consumer::store_offsets`]), and a partition's lag
//! ([`Consumer::current_lag`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::group;
use super::membership::commits::CommitOrigin;
use super::state::ConsumerState;
use super::{Consumer, ConsumerRecord, OffsetAndMetadata, TopicPartition};
use crate::config::IsolationLevel;
use crate::error::{Error, ErrorKind, Result};

/// The outcome of an asynchronous commit ([`Consumer::commit_async`],
/// [`Consumer::commit_offsets_async`]): a future of the offsets committed, or of the error.
///
/// The commit is under way as soon as the handle exists: awaiting it only reads the outcome, and
/// dropping it does not cancel the commit (a failure is then logged at WARN, as Java's
/// `commitAsync` without callback does). Asynchronous commits are sent in the order they were
/// asked for, each tried once (Java's `commitAsync`: a retriable error is returned, not retried,
/// since a later commit supersedes it).
#[derive(Debug)]
pub struct CommitHandle {
    offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    state: HandleState,
}

#[derive(Debug)]
enum HandleState {
    /// Known at once: nothing to commit, no group, or the consumer is closed.
    Ready(Option<Result<()>>),
    Waiting(oneshot::Receiver<Result<()>>),
}

impl CommitHandle {
    /// The offsets this commit carries (the next offset to read per partition).
    pub fn offsets(&self) -> &BTreeMap<TopicPartition, OffsetAndMetadata> {
        &self.offsets
    }
}

impl Future for CommitHandle {
    type Output = Result<BTreeMap<TopicPartition, OffsetAndMetadata>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let outcome = match &mut this.state {
            HandleState::Ready(r) => r.take().unwrap_or_else(|| Err(polled_again())),
            HandleState::Waiting(rx) => match Pin::new(rx).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(r) => r.unwrap_or_else(|_| Err(Error::closed())),
            },
        };
        this.state = HandleState::Ready(None);
        Poll::Ready(outcome.map(|()| std::mem::take(&mut this.offsets)))
    }
}

fn polled_again() -> Error {
    Error::new(ErrorKind::State, "this CommitHandle has already returned its outcome")
}

impl Consumer {
    /// Commits what the consumer has consumed — every assigned partition's position, or with
    /// `enable.auto.offset.store=false` the offsets stored with [`store_offsets`](Self::store_offsets)
    /// — without waiting (Java's `commitAsync()`). Await the returned [`CommitHandle`] for the
    /// outcome, or drop it to fire and forget.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let cluster = gregor_mock::MockCluster::builder().brokers(1).topic("orders", 1).start().await?;
    /// # cluster.append_records("orders", 0, &[("k", "v")])?;
    /// use std::time::Duration;
    /// use gregor::{Consumer, ConsumerConfig};
    ///
    /// let consumer = Consumer::new(
    ///     ConsumerConfig::builder()
    ///         .bootstrap_servers(cluster.bootstrap_servers())
    ///         .group_id("orders-app")
    ///         .set("auto.offset.reset", "earliest")
    ///         .build()?,
    /// )?;
    /// consumer.subscribe(["orders"])?;
    /// let mut records = Vec::new();
    /// while records.is_empty() {
    ///     records = consumer.poll(Duration::from_millis(200)).await?;
    /// }
    /// let handle = consumer.commit_async(); // sent now
    /// // ... go on polling; later:
    /// let committed = handle.await?;
    /// assert_eq!(committed[&records[0].topic_partition()].offset, 1);
    /// # consumer.close(Duration::from_secs(5)).await;
    /// # Ok(()) }
    /// ```
    pub fn commit_async(&self) -> CommitHandle {
        if let Err(e) = self.check_open() {
            return ready(BTreeMap::new(), Err(e));
        }
        let (offsets, membership) = self.inner.consumed_with_membership();
        self.start(offsets, Some(membership))
    }

    /// Commits explicit offsets (the *next* offset to read: last processed + 1) without waiting
    /// (Java's `commitAsync(offsets, callback)`). Await the [`CommitHandle`] for the outcome.
    pub fn commit_offsets_async(&self, offsets: BTreeMap<TopicPartition, OffsetAndMetadata>) -> CommitHandle {
        if let Err(e) = self.check_open() {
            return ready(offsets, Err(e));
        }
        self.start(offsets, None)
    }

    fn start(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
        read_under: Option<group::Membership>,
    ) -> CommitHandle {
        match group::start_commit(&self.inner, offsets.clone(), read_under, CommitOrigin::Async) {
            Ok(Some(rx)) => CommitHandle { offsets, state: HandleState::Waiting(rx) },
            Ok(None) => ready(offsets, Ok(())),
            Err(e) => ready(offsets, Err(e)),
        }
    }

    /// Stores offsets for the consumer to commit (`enable.auto.offset.store=false`, librdkafka's
    /// `rd_kafka_offsets_store`): the *next* offset to read, i.e. last processed + 1. Auto-commit,
    /// [`commit_sync`](Self::commit_sync), [`commit_async`](Self::commit_async), the commit before
    /// a rebalance and [`close`](Self::close) then commit what was stored, never a position the
    /// application has not finished with: the at-least-once pattern. See
    /// [`store_offset`](Self::store_offset) for one record.
    ///
    /// All or nothing: an error (the mode is off, a partition not assigned or being revoked, a
    /// negative offset) stores none of `offsets`.
    pub fn store_offsets(&self, offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<()> {
        self.check_open()?;
        let mut st = self.inner.lock_state();
        if !st.manual_offset_store {
            return Err(Error::new(
                ErrorKind::State,
                "store_offsets needs enable.auto.offset.store=false (with the default, true, the consumer stores \
                 every position poll reaches)",
            ));
        }
        st.store_offsets(offsets).map_err(|m| Error::new(ErrorKind::State, m))
    }

    /// Stores `record`'s offset + 1 (with its leader epoch) as its partition's offset to commit:
    /// call it once the record is processed. rust-rdkafka's `store_offset_from_message`. See
    /// [`store_offsets`](Self::store_offsets).
    pub fn store_offset(&self, record: &ConsumerRecord) -> Result<()> {
        let om = OffsetAndMetadata { offset: record.offset + 1, metadata: None, leader_epoch: record.leader_epoch };
        self.store_offsets(&BTreeMap::from([(record.topic_partition(), om)]))
    }

    /// How far this consumer is behind on an assigned partition (Java's `currentLag`): the last
    /// high watermark seen in a fetch response — the last stable offset with
    /// `isolation.level=read_committed` — minus the position. `Ok(None)` while either is unknown
    /// (before the first fetch response for the partition, or before its position is set); an
    /// error for a partition not assigned to this consumer.
    pub fn current_lag(&self, tp: &TopicPartition) -> Result<Option<i64>> {
        let read_committed = self.inner.config.isolation_level == IsolationLevel::ReadCommitted;
        let st = self.inner.lock_state();
        let s = st
            .assignment
            .get(tp)
            .ok_or_else(|| Error::new(ErrorKind::State, format!("no lag for {tp}: it is not assigned to this consumer")))?;
        Ok(ConsumerState::partition_lag(s, read_committed))
    }
}

fn ready(offsets: BTreeMap<TopicPartition, OffsetAndMetadata>, r: Result<()>) -> CommitHandle {
    CommitHandle { offsets, state: HandleState::Ready(Some(r)) }
}

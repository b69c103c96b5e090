//! gregor's producer: simple and fast, for the CLI's `gregor produce`, tests and benchmarks.
//!
//! Like Java's `KafkaProducer` without idempotence or transactions:
//!
//! * [`Producer::send`] picks the partition (`partitioner`: murmur2 of the key, sticky for
//!   unkeyed records), appends the record to that partition's batch (`accumulator`) and returns
//!   a [`DeliveryFuture`] at once;
//! * a background sender task (started by the first `send`, never at construction) sends a
//!   batch when it reaches `batch.size` bytes or `linger.ms` after it was started; all the
//!   ready batches for one broker go in ONE Produce request, up to
//!   `max.in.flight.requests.per.connection` requests in flight per broker;
//! * retriable errors are retried (after `retry.backoff.ms`, bounded by `retries` and
//!   `delivery.timeout.ms`); leader errors such as NOT_LEADER_OR_FOLLOWER refresh metadata first,
//!   so the retry goes to the new leader.
//!
//! Connections come from the shared connection layer: the producer opens nothing until its
//! first `send`, adopts the bootstrap socket as that broker's connection, and then holds one
//! socket per partition leader it writes to.
//!
//! ```no_run
//! # async fn demo() -> gregor::Result<()> {
//! use gregor::{Producer, ProducerRecord};
//! let producer = Producer::from_properties([("bootstrap.servers", "127.0.0.1:9092")])?;
//! let delivery = producer.send(ProducerRecord::new("orders").key("k1").value("v1")).await?;
//! let meta = delivery.await?;
//! println!("written at {}-{}@{}", meta.topic, meta.partition, meta.offset);
//! producer.close(std::time::Duration::from_secs(30)).await?;
//! # Ok(()) }
//! ```

pub(crate) mod accumulator;
mod delivery;
pub(crate) mod encode;
pub(crate) mod idempotence;
mod inflight;
pub(crate) mod partitioner;
pub(crate) mod request;
mod sender;
mod transactions;
pub(crate) mod txn;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::protocol::StrBytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::cluster::{Cluster, ClusterSettings};
use crate::config::ProducerConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::time::now_ms;
use accumulator::TopicPartition;
pub(crate) use delivery::Completion;
pub use delivery::DeliveryFuture;
use encode::{record_size, Compression, PendingRecord, BATCH_OVERHEAD};
pub use partitioner::Partitioner;

/// A record to send.
#[derive(Debug, Clone, Default)]
pub struct ProducerRecord {
    /// The topic. An `Arc<str>` so that an application sending many records to one topic
    /// shares one allocation (`topic.clone()` per record costs no allocation).
    pub topic: Arc<str>,
    /// The partition; `None` lets the partitioner choose (murmur2 of the key, or sticky).
    pub partition: Option<i32>,
    /// The key (`None` is a null key).
    pub key: Option<Bytes>,
    /// The value (`None` is a null value, a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers, in order (keys may repeat).
    pub headers: Vec<(String, Option<Bytes>)>,
    /// CreateTime in ms since the epoch; `None` uses the current time.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with no key, no value and no headers. `topic` may be a `&str`, a
    /// `String` (or a reference to one) or an `Arc<str>` (shared, no allocation).
    pub fn new(topic: impl IntoTopic) -> Self {
        ProducerRecord { topic: topic.into_topic(), ..Default::default() }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Sets the partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Adds a header.
    pub fn header(mut self, key: impl Into<String>, value: Option<Bytes>) -> Self {
        self.headers.push((key.into(), value));
        self
    }

    /// Sets the timestamp (ms since the epoch).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }
}

/// A topic name for [`ProducerRecord::new`]: `&str`, `String`, `&String`, `Box<str>`, `Cow<str>`,
/// `Arc<str>` or `&Arc<str>` (the last two share the name instead of copying it).
pub trait IntoTopic {
    /// The name as the record holds it.
    fn into_topic(self) -> Arc<str>;
}

macro_rules! into_topic_by_from {
    ($($t:ty),*) => {$(
        impl IntoTopic for $t {
            fn into_topic(self) -> Arc<str> {
                Arc::from(self)
            }
        }
    )*};
}
into_topic_by_from!(&str, String, Box<str>, std::borrow::Cow<'_, str>);

impl IntoTopic for &String {
    fn into_topic(self) -> Arc<str> {
        Arc::from(self.as_str())
    }
}

impl IntoTopic for Arc<str> {
    fn into_topic(self) -> Arc<str> {
        self
    }
}

impl IntoTopic for &Arc<str> {
    fn into_topic(self) -> Arc<str> {
        self.clone()
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The topic (shared with the producer's other records of it, like `ConsumerRecord::topic`).
    pub topic: Arc<str>,
    /// The partition.
    pub partition: i32,
    /// The record's offset; -1 with `acks=0` (the broker does not answer).
    pub offset: i64,
    /// The record's timestamp: its CreateTime, or the broker's LogAppendTime when the topic
    /// uses it.
    pub timestamp: i64,
}

/// The settings the sender uses, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) acks: i16,
    /// `partitioner` and `partitioner.ignore.keys`.
    pub(crate) partitioner: (Partitioner, bool),
    pub(crate) compression: Compression,
    pub(crate) batch_size: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) delivery_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) retry_backoff: (Duration, Duration),
    pub(crate) max_request_size: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) buffer_memory: usize,
    pub(crate) max_block: Duration,
    /// `enable.idempotence` after Java's rules.
    pub(crate) idempotent: bool,
    /// A `transactional.id` is set.
    pub(crate) transactional: bool,
    /// The `transactional.id`, which every Produce request of a transactional producer carries
    /// (the broker refuses transactional batches without it: TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
    /// `KafkaApis.handleProduceRequest`).
    pub(crate) transactional_id: Option<StrBytes>,
    /// `transaction.timeout.ms`.
    pub(crate) transaction_timeout: Duration,
}

/// State shared by `Producer` and its sender task.
pub(crate) struct Inner {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) cfg: Resolved,
    pub(crate) state: Mutex<sender::State>,
    /// Wakes the sender: a new or full batch, a finished request, a flush, a close.
    pub(crate) wake: Notify,
    /// Fires when batches complete or buffer space frees up (flush, close, backpressure).
    pub(crate) progress: Notify,
}

impl Inner {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, sender::State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An asynchronous Kafka producer (see the [module docs](self)).
pub struct Producer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer").field("client_id", &self.inner.cluster.settings.client_id).finish()
    }
}

impl Producer {
    /// Creates a producer from a validated [`ProducerConfig`]. Opens no connection and starts
    /// no task (the first `send` does).
    pub fn new(mut config: ProducerConfig) -> Result<Producer> {
        config.validate().map_err(Error::from)?;
        let net = &config.net;
        let cfg = Resolved {
            acks: config.acks.wire_value(),
            partitioner: (config.partitioner, config.partitioner_ignore_keys),
            compression: Compression::from(config.compression_type),
            batch_size: (config.batch_size as usize).max(1),
            request_timeout: net.request_timeout,
            delivery_timeout: config.delivery_timeout,
            retries: config.retries,
            retry_backoff: (net.retry_backoff, net.retry_backoff_max.max(net.retry_backoff)),
            max_request_size: (config.max_request_size as usize).max(1),
            max_in_flight: (net.max_in_flight_per_connection as usize).max(1),
            buffer_memory: usize::try_from(config.buffer_memory).unwrap_or(usize::MAX),
            max_block: config.max_block,
            idempotent: config.idempotent(),
            transactional: config.transactional_id.is_some(),
            transactional_id: config.transactional_id.clone().map(StrBytes::from_string),
            transaction_timeout: config.transaction_timeout,
        };
        let cluster = Cluster::new(ClusterSettings::from_net(net, cfg.max_block, false, crate::telemetry::ClientKind::Producer));
        let producer = Producer::with_cluster(cluster, cfg, config.linger);
        if let Some(id) = config.transactional_id {
            producer.inner.lock().txn = Some(txn::TxnState::new(id));
        }
        Ok(producer)
    }

    /// Creates a producer from Java-style `(key, value)` properties, e.g.
    /// `[("bootstrap.servers", "localhost:9092"), ("acks", "1")]`. Unknown keys are an error
    /// that names the nearest valid key.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(entries: impl IntoIterator<Item = (K, V)>) -> Result<Producer> {
        Producer::new(ProducerConfig::from_map(entries)?)
    }

    pub(crate) fn with_cluster(cluster: Arc<Cluster>, cfg: Resolved, linger: Duration) -> Producer {
        let mut state = sender::State::new(&cfg, linger);
        state.telemetry = Some(Arc::new(crate::telemetry::ProducerTelemetry::new(
            &cluster.settings.client_id,
            &cluster.settings.metrics,
        )));
        Producer {
            inner: Arc::new(Inner { cluster, cfg, state: Mutex::new(state), wake: Notify::new(), progress: Notify::new() }),
        }
    }

    /// Queues a record. Waits only for metadata of a topic seen for the first time and for
    /// buffer space (both bounded by `max.block.ms`); the returned future resolves when the
    /// record is acknowledged according to `acks`, or has failed for good.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let ProducerRecord { topic, partition: chosen, key, value, headers, timestamp } = record;
        let timestamp = timestamp.unwrap_or_else(now_ms);
        let pending = PendingRecord { key, value, headers, timestamp };
        let size = BATCH_OVERHEAD + record_size(&pending, 0, 0);
        if size > self.inner.cfg.max_request_size || size > self.inner.cfg.buffer_memory {
            // Java's RecordTooLargeException, raised before anything is sent.
            return Err(Error::broker_code(
                crate::protocol_errors::KafkaCode::MESSAGE_TOO_LARGE.0,
                format!(
                    "a record of {size} bytes is larger than max.request.size={} or buffer.memory={}",
                    self.inner.cfg.max_request_size, self.inner.cfg.buffer_memory
                ),
            ));
        }
        // The common case takes the producer's lock once and reads no clock but the record's
        // CreateTime (the profile of BENCHMARKS.md, "Producer (issue #15, item 5)", found
        // four lock acquisitions and three clock reads per record): the topic's partitions
        // are known and the buffer has room. Otherwise wait (metadata, buffer space), bounded
        // by `max.block.ms` from the first wait, and look again.
        let mut deadline: Option<Instant> = None;
        loop {
            let snap = self.inner.cluster.snapshot();
            let wait_for_metadata = {
                let mut guard = self.inner.lock();
                let st = &mut *guard;
                if st.closed {
                    return Err(Error::closed());
                }
                if let Some(e) = &st.fatal {
                    return Err(Error::new(e.kind(), format!("the producer has failed: {e}")));
                }
                match st.cached_partitions(&topic, &snap) {
                    Some(partitions) => {
                        if let Some(p) = chosen {
                            if p < 0 || p >= partitions.count {
                                return Err(Error::new(
                                    ErrorKind::UnknownTopic,
                                    format!("partition {p} is not in topic {topic} ({} partitions)", partitions.count),
                                ));
                            }
                        }
                        if st.buffer_has_room(size, self.inner.cfg.buffer_memory) {
                            return self.append(st, &partitions, chosen, pending);
                        }
                        false
                    }
                    None => true,
                }
            };
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + self.inner.cfg.max_block);
            if wait_for_metadata {
                sender::partitions_for(&self.inner, &topic, deadline).await?;
            } else {
                sender::wait_for_buffer(&self.inner, size, deadline).await?;
            }
        }
    }

    /// Picks the partition and appends the record, under the producer's lock.
    fn append(
        &self,
        st: &mut sender::State,
        partitions: &sender::Partitions,
        chosen: Option<i32>,
        pending: PendingRecord,
    ) -> Result<DeliveryFuture> {
        let topic = &partitions.topic;
        let partition = match (chosen, &pending.key) {
            (Some(p), _) => p,
            (None, key) => {
                let (choice, ignore_keys) = self.inner.cfg.partitioner;
                let key = key.as_deref().filter(|_| !ignore_keys);
                match (choice.partition_for_key(key, partitions.count), choice) {
                    (Some(p), _) => p,
                    (None, Partitioner::Random) => {
                        partitioner::random_partition(partitions.count, &partitions.available, rand::random())
                    }
                    (None, Partitioner::RoundRobin) => st.round_robin.partition(topic, partitions.count, &partitions.available),
                    (None, _) => st.sticky.partition(topic, partitions.count, &partitions.available, rand::random()),
                }
            }
        };
        let tp = TopicPartition { topic: topic.clone(), partition };
        if let Some(t) = st.txn.as_mut() {
            // Java `maybeAddPartition`: only inside a transaction; the partition joins it.
            t.add_partition(&tp)?;
        }
        let timestamp = pending.timestamp;
        let (appended, completion) =
            st.acc.append(&tp, pending, || (Completion::new(tp.topic.clone(), partition), Instant::now()));
        let delivery = DeliveryFuture::new(completion.0.clone(), appended.index, timestamp);
        if chosen.is_none() {
            st.sticky.on_append(topic, partition, appended.bytes, partitions.count, &partitions.available, rand::random());
        }
        if appended.new_batch {
            st.incomplete.insert(appended.batch_id);
        }
        sender::ensure_started(&self.inner, st);
        if appended.new_batch || appended.full {
            self.inner.wake.notify_one();
        }
        Ok(delivery)
    }

    /// Sends every record queued so far without waiting for `linger.ms`, and waits until each
    /// of them is acknowledged or failed.
    pub async fn flush(&self) {
        let bound = {
            let mut st = self.inner.lock();
            st.acc.begin_flush()
        };
        self.inner.wake.notify_one();
        loop {
            let progressed = self.inner.progress.notified();
            tokio::pin!(progressed);
            progressed.as_mut().enable();
            if self.inner.lock().incomplete.range(..bound).next().is_none() {
                return;
            }
            progressed.await;
        }
    }

    /// The producer's open sockets: role, endpoint, broker, age, requests and bytes (see
    /// [`crate::statistics`]). Sends nothing.
    pub fn connection_statistics(&self) -> Vec<crate::statistics::ConnectionStatistics> {
        self.inner.cluster.net.connection_statistics()
    }

    /// Flushes, waiting up to `timeout`, then closes every connection. Records still not
    /// acknowledged at the timeout fail with a `Closed` error. Later `send`s fail.
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        // Java's Sender aborts a transaction still open at close.
        let open_txn = self.inner.lock().txn.as_ref().is_some_and(|t| {
            matches!(t.phase, txn::Phase::InTransaction | txn::Phase::AbortableError | txn::Phase::Committing | txn::Phase::Aborting)
        });
        if open_txn {
            if let Err(e) = tokio::time::timeout_at(deadline, self.abort_transaction()).await.unwrap_or_else(|_| {
                Err(Error::new(ErrorKind::Timeout, "aborting the open transaction at close timed out"))
            }) {
                tracing::warn!(error = %e, "could not abort the open transaction at close");
            }
        }
        {
            let mut st = self.inner.lock();
            st.closed = true;
            st.acc.set_closing();
        }
        self.inner.wake.notify_one();
        let flushed = tokio::time::timeout_at(deadline, self.flush()).await.is_ok();
        let task = {
            let mut st = self.inner.lock();
            st.abort_all("the producer was closed before the record was acknowledged");
            st.dispatchers.clear();
            st.task.take()
        };
        if let Some(t) = task {
            t.abort();
        }
        self.inner.progress.notify_waiters();
        self.inner.cluster.close(deadline.saturating_duration_since(Instant::now())).await;
        if flushed {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::Timeout, format!("close: records were still unacknowledged after {} ms", timeout.as_millis())))
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Like dropping a Java producer without close(): the sender keeps sending what is
        // queued (every batch is ready now) and ends once nothing is left; its sockets close
        // when the last reference to the cluster goes.
        let mut st = self.inner.lock();
        st.closed = true;
        st.acc.set_closing();
        drop(st);
        self.inner.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: &T) {}

    #[test]
    fn producer_and_its_futures_can_move_between_tasks() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Producer>();
        send_sync::<DeliveryFuture>();
        let p = Producer::from_properties([("bootstrap.servers", "127.0.0.1:1")]).unwrap();
        let send = p.send(ProducerRecord::new("t").value("v"));
        is_send(&send);
        let flush = p.flush();
        is_send(&flush);
        let close = p.close(Duration::from_secs(1));
        is_send(&close);
    }

    #[test]
    fn invalid_settings_fail_at_construction() {
        let e = Producer::from_properties([("bootstrap.servers", "127.0.0.1:9092"), ("compression.type", "brotli")]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(Producer::from_properties([("bootstrap.servers", "nohost")]).unwrap_err().kind(), ErrorKind::Config);
        assert_eq!(Producer::new(ProducerConfig::default()).unwrap_err().kind(), ErrorKind::Config, "bootstrap.servers is required");
    }
}

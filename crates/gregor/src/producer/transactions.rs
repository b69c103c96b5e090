//! Transactions (KIP-98; transaction versions 1 and 2, KIP-890): [`Producer::init_transactions`],
//! [`begin_transaction`](Producer::begin_transaction), [`send_offsets_to_transaction`]
//! (KIP-447), [`commit_transaction`](Producer::commit_transaction) and
//! [`abort_transaction`](Producer::abort_transaction), and the requests behind them:
//! FindCoordinator, InitProducerId, AddPartitionsToTxn (sent by the sender before the first
//! batch of a partition), AddOffsetsToTxn, TxnOffsetCommit and EndTxn. Under transaction
//! version 2 ([`super::txn_version`] decides which) AddPartitionsToTxn and AddOffsetsToTxn are
//! not sent and every EndTxn returns a new epoch.
//!
//! Every decision on an error code is in [`crate::rules::txn`] (and
//! [`crate::rules::produce::init_producer_id_action`]); an error that leaves the transaction
//! unable to commit makes the producer *abortable* (only `abort_transaction` is allowed, after
//! which it carries on), one that means another instance with the same `transactional.id` took
//! over makes it *fatal* (fenced: only `close`). A call that times out (`max.block.ms`) leaves
//! the state as it was, so it can be called again (as in Java).
//!
//! [`send_offsets_to_transaction`]: Producer::send_offsets_to_transaction

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, FindCoordinatorRequest, GroupId,
    InitProducerIdRequest, ProducerId, TopicName, TransactionalId, TxnOffsetCommitRequest,
};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::time::Instant;

use super::accumulator::TopicPartition as Tp;
use super::idempotence::ProducerIdAndEpoch;
use super::txn::Phase;
use super::{Inner, Producer};
use crate::consumer::{ConsumerGroupMetadata, OffsetAndMetadata, TopicPartition};
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::protocol_errors::KafkaCode;
use crate::rules::produce::{init_producer_id_action, InitAction};
use crate::rules::txn::{txn_action, TxnAction, TxnApi};

/// FindCoordinator key types.
const KEY_GROUP: i8 = 0;
const KEY_TRANSACTION: i8 = 1;

/// Java's `ProducerFencedException`.
fn fenced() -> Error {
    Error::new(ErrorKind::Fenced, "fenced: another producer with the same transactional.id has started (close this one)")
        .with_code(KafkaCode::PRODUCER_FENCED.0)
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl Producer {
    /// Registers the `transactional.id` with its transaction coordinator and gets the producer
    /// id and epoch (Java `initTransactions`). A previous producer with the same id is fenced:
    /// its open transaction is aborted and it can no longer write or commit. Call once, before
    /// anything else; it waits up to `max.block.ms` and may be called again after a timeout.
    pub async fn init_transactions(&self) -> Result<()> {
        let txn_id = self.transactional_id()?;
        self.inner.with_txn(|t| t.begin_init())?;
        let deadline = Instant::now() + self.inner.cfg.max_block;
        let p = init_producer_id(&self.inner, &txn_id, ProducerIdAndEpoch::NONE, deadline).await?;
        // Java `KafkaProducer.initTransactions` → `maybeUpdateTransactionV2Enabled(true)`: the
        // handshakes of the connections just used told the finalized features.
        let features = self.inner.cluster.net.finalized_features();
        let mut st = self.inner.lock();
        if let Some(s) = st.idem.as_mut() {
            s.set_producer(p);
        }
        let mut v2 = false;
        if let Some(t) = st.txn.as_mut() {
            t.version.handle_features(&features, true);
            v2 = t.version.is_v2();
            t.init_done();
        }
        tracing::info!(transactional_id = %txn_id, producer_id = p.id, epoch = p.epoch, transaction_version_2 = v2, "transactions initialized");
        Ok(())
    }

    /// Starts a transaction (local; nothing is sent until the first record or offsets).
    pub fn begin_transaction(&self) -> Result<()> {
        self.transactional_id()?;
        self.inner.with_txn(|t| t.begin())
    }

    /// Adds the consumer's offsets to the transaction (Java `sendOffsetsToTransaction`): they
    /// are committed for `group` if and only if the transaction commits. `group` is the
    /// consumer's [`group_metadata`](crate::Consumer::group_metadata): with its generation and
    /// member id the coordinator refuses the commit of a consumer that lost its partitions in
    /// a rebalance (KIP-447), which makes the transaction abortable.
    pub async fn send_offsets_to_transaction(
        &self,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        group: &ConsumerGroupMetadata,
    ) -> Result<()> {
        let txn_id = self.transactional_id()?;
        self.inner.with_txn(|t| t.check_in_transaction("send offsets to the transaction"))?;
        let offsets: Vec<(TopicPartition, OffsetAndMetadata)> = offsets.into_iter().collect();
        if offsets.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + self.inner.cfg.max_block;
        let p = self.producer_id();
        let version = self.inner.with_txn(|t| Ok(t.version))?;
        // AddOffsetsToTxn: the coordinator will write the group's commit marker too. Not under
        // transaction version 2, where TxnOffsetCommit v5 has the group coordinator add the
        // group itself (Java `sendOffsetsToTransaction`).
        if !version.is_v2() {
            let (id, g) = (txn_id.clone(), group.group_id.clone());
            txn_call(&self.inner, TxnApi::AddOffsets, Coordinator::Txn(&txn_id), deadline, move |_| {
                AddOffsetsToTxnRequest::default()
                    .with_transactional_id(TransactionalId(sb(&id)))
                    .with_producer_id(ProducerId(p.id))
                    .with_producer_epoch(p.epoch)
                    .with_group_id(GroupId(sb(&g)))
            }, |r| vec![KafkaCode(r.error_code)], (0, 3))
            .await?;
        }
        self.inner.with_txn(|t| {
            t.started = true;
            Ok(())
        })?;
        // TxnOffsetCommit to the group coordinator.
        let (id, group) = (txn_id.clone(), group.clone());
        let offsets = Arc::new(offsets);
        txn_call(&self.inner, TxnApi::TxnOffsetCommit, Coordinator::Group(&group.group_id.clone()), deadline, move |v| {
            let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
            for (tp, o) in offsets.iter() {
                let part = TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(tp.partition)
                    .with_committed_offset(o.offset)
                    .with_committed_metadata(Some(sb(o.metadata.as_deref().unwrap_or(""))));
                let part = if v >= 2 { part.with_committed_leader_epoch(o.leader_epoch.unwrap_or(-1)) } else { part };
                match topics.iter_mut().find(|t| t.name.0.as_str() == &*tp.topic) {
                    Some(t) => t.partitions.push(part),
                    None => topics.push(
                        TxnOffsetCommitRequestTopic::default().with_name(TopicName(sb(&tp.topic))).with_partitions(vec![part]),
                    ),
                }
            }
            let req = TxnOffsetCommitRequest::default()
                .with_transactional_id(TransactionalId(sb(&id)))
                .with_group_id(GroupId(sb(&group.group_id)))
                .with_producer_id(ProducerId(p.id))
                .with_producer_epoch(p.epoch)
                .with_topics(topics);
            if v >= 3 {
                // KIP-447: the consumer's membership, checked by the group coordinator.
                req.with_generation_id(group.generation_id)
                    .with_member_id(sb(&group.member_id))
                    .with_group_instance_id(group.group_instance_id.as_deref().map(sb))
            } else {
                req
            }
        }, |r| r.topics.iter().flat_map(|t| t.partitions.iter().map(|p| KafkaCode(p.error_code))).collect(), version.txn_offset_commit_versions())
        .await?;
        Ok(())
    }

    /// Sends every record of the transaction, then commits it (Java `commitTransaction`):
    /// its records become visible to `read_committed` consumers and its offsets are committed.
    /// Fails if a record of the transaction failed (then abort it); waits up to `max.block.ms`
    /// and may be called again after a timeout.
    pub async fn commit_transaction(&self) -> Result<()> {
        let txn_id = self.transactional_id()?;
        self.inner.with_txn(|t| t.begin_commit())?;
        let deadline = Instant::now() + self.inner.cfg.max_block;
        self.inner.wake.notify_one();
        if tokio::time::timeout_at(deadline, self.flush()).await.is_err() {
            return Err(timed_out("commit_transaction: sending the transaction's records", self.inner.cfg.max_block));
        }
        // A record may have failed meanwhile: then the transaction cannot commit.
        let started = self.inner.with_txn(|t| match t.phase {
            Phase::Committing => Ok(t.started),
            _ => Err(t.error().cloned().unwrap_or_else(|| Error::new(ErrorKind::State, "the transaction cannot commit"))),
        })?;
        finish(&self.inner, &txn_id, true, started, deadline).await
    }

    /// Aborts the transaction (Java `abortTransaction`): records not sent yet fail with an
    /// error, those written are never shown to `read_committed` consumers, its offsets are not
    /// committed. Allowed after an abortable error, after which the producer can begin a new
    /// transaction. If sequence numbers became uncertain, the epoch is bumped (KIP-360).
    pub async fn abort_transaction(&self) -> Result<()> {
        let txn_id = self.transactional_id()?;
        self.inner.with_txn(|t| t.begin_abort())?;
        let deadline = Instant::now() + self.inner.cfg.max_block;
        // The sender fails the batches not sent yet (aborting); wait for those in flight.
        self.inner.wake.notify_one();
        if tokio::time::timeout_at(deadline, self.flush()).await.is_err() {
            return Err(timed_out("abort_transaction: waiting for requests in flight", self.inner.cfg.max_block));
        }
        let started = self.inner.with_txn(|t| Ok(t.started))?;
        finish(&self.inner, &txn_id, false, started, deadline).await
    }

    fn transactional_id(&self) -> Result<String> {
        self.inner
            .lock()
            .txn
            .as_ref()
            .map(|t| t.transactional_id.clone())
            .ok_or_else(|| Error::new(ErrorKind::State, "this producer has no transactional.id"))
    }

    fn producer_id(&self) -> ProducerIdAndEpoch {
        self.inner.producer()
    }
}

/// Ends the transaction (EndTxn if it `started`), adopts the epoch EndTxn v5 returns, re-reads
/// the transaction version, bumps the epoch when needed, and makes the producer ready for the
/// next transaction. Java `beginCompletingTransaction` with `EndTxnHandler` and the
/// InitProducerId it may queue behind it.
async fn finish(inner: &Inner, txn_id: &str, commit: bool, started: bool, deadline: Instant) -> Result<()> {
    let version = inner.with_txn(|t| Ok(t.version))?;
    if started {
        if let Some(next) = end_txn(inner, txn_id, commit, inner.producer(), version.end_txn_versions(), deadline).await? {
            // KIP-890: the coordinator bumped the epoch (a new producer id when it was
            // exhausted); sequences start over (Java `EndTxnHandler`: `setProducerIdAndEpoch`,
            // `resetSequenceNumbers`).
            if let Some(s) = inner.lock().idem.as_mut() {
                s.set_producer(next);
            }
        }
        // Ended on the coordinator: a call retried after a timeout below does not end it again.
        inner.with_txn(|t| {
            t.started = false;
            Ok(())
        })?;
    }
    // Java `maybeUpdateTransactionV2Enabled(false)`, read once the transaction's own requests
    // are out: an upgrade to version 2 needs an epoch bump before the next transaction.
    let features = inner.cluster.net.finalized_features();
    let upgraded = inner.with_txn(|t| {
        if t.version.handle_features(&features, false) {
            t.epoch_bump_pending = true;
        }
        Ok(t.epoch_bump_pending)
    })?;
    // KIP-360: uncertain sequences under version 1 need a fresh epoch from the coordinator
    // (Java `needToTriggerEpochBumpFromClient`: never under version 2, where EndTxn bumped it).
    let recover = !version.is_v2() && inner.lock().idem.as_ref().is_some_and(|s| s.bump_required());
    if upgraded || recover {
        let p = init_producer_id(inner, txn_id, inner.producer(), deadline).await?;
        if let Some(s) = inner.lock().idem.as_mut() {
            s.set_producer(p);
        }
        inner.with_txn(|t| {
            t.epoch_bump_pending = false;
            Ok(())
        })?;
    }
    inner.with_txn(|t| {
        t.complete();
        Ok(())
    })
}

impl Inner {
    /// The current producer id and epoch (NONE before InitProducerId answered).
    fn producer(&self) -> ProducerIdAndEpoch {
        self.lock().idem.as_ref().map_or(ProducerIdAndEpoch::NONE, |s| s.producer())
    }

    /// The Produce versions the sender may use (`all`: the client's range): a transactional
    /// producer's depend on the transaction version (KIP-890; [`super::txn_version`]).
    pub(crate) fn produce_versions(&self, all: (i16, i16)) -> (i16, i16) {
        if !self.cfg.transactional {
            return all;
        }
        self.lock().txn.as_ref().map_or(all, |t| t.version.produce_versions(all))
    }

    /// Runs `f` on the transactional state (there is one: callers checked).
    pub(crate) fn with_txn<T>(&self, f: impl FnOnce(&mut super::txn::TxnState) -> Result<T>) -> Result<T> {
        let mut st = self.lock();
        match st.txn.as_mut() {
            Some(t) => f(t),
            None => Err(Error::new(ErrorKind::State, "this producer has no transactional.id")),
        }
    }
}

fn timed_out(what: &str, d: Duration) -> Error {
    Error::new(ErrorKind::Timeout, format!("{what} did not finish within max.block.ms={} ms; call it again", d.as_millis()))
}

/// Whose coordinator a request goes to.
#[derive(Clone, Copy)]
enum Coordinator<'a> {
    Txn(&'a str),
    Group(&'a str),
}

/// Looks the coordinator of `key` up (Java `lookupCoordinator`), retrying until `deadline`;
/// makes sure metadata knows the broker, so that a connection can be opened to it.
async fn find_coordinator(inner: &Inner, key_type: i8, key: &str, deadline: Instant) -> Result<i32> {
    let mut attempt = 0u32;
    loop {
        let k = key.to_string();
        let build = move |v: i16| {
            let req = FindCoordinatorRequest::default().with_key_type(key_type);
            if v >= 4 {
                req.with_coordinator_keys(vec![sb(&k)])
            } else {
                req.with_key(sb(&k))
            }
        };
        let sent = tokio::time::timeout_at(
            deadline,
            inner.cluster.net.send_built(Target::AnyNode, OpenReason::Coordinator, (1, 6), None, build),
        )
        .await
        .map_err(|_| timed_out("FindCoordinator", inner.cfg.max_block))?;
        let err = match sent {
            Ok(resp) => {
                let (code, node) = match resp.coordinators.first() {
                    Some(c) => (c.error_code, c.node_id.0),
                    None => (resp.error_code, resp.node_id.0),
                };
                match txn_action(TxnApi::FindCoordinator, KafkaCode(code)) {
                    TxnAction::Proceed if node >= 0 => {
                        if !inner.cluster.snapshot().brokers.contains_key(&node) {
                            let _ = inner.cluster.refresh_once(Some(&[]), "the coordinator is not in metadata yet").await;
                        }
                        return Ok(node);
                    }
                    TxnAction::Proceed | TxnAction::Retry | TxnAction::Rediscover => {
                        Error::broker_code(code, format!("FindCoordinator for {key}"))
                    }
                    _ => return Err(Error::broker_code(code, format!("FindCoordinator for {key}"))),
                }
            }
            Err(e) if e.is_retriable() => e,
            Err(e) => return Err(e),
        };
        let wait = inner.cluster.retry_backoff(attempt);
        attempt += 1;
        if Instant::now() + wait >= deadline {
            return Err(timed_out("FindCoordinator", inner.cfg.max_block).with_source(err));
        }
        tokio::time::sleep(wait).await;
    }
}

/// Sends a transactional request to its coordinator until it succeeds or fails for good
/// (`txn_action` decides on each code `codes` extracts from the response); abortable and
/// fatal outcomes move the transactional state.
async fn txn_call<R, F>(
    inner: &Inner,
    api: TxnApi,
    coordinator: Coordinator<'_>,
    deadline: Instant,
    build: F,
    codes: impl Fn(&R::Response) -> Vec<KafkaCode>,
    versions: (i16, i16),
) -> Result<R::Response>
where
    R: Request + Send + 'static,
    F: Fn(i16) -> R + Send + Sync + 'static,
{
    let build = Arc::new(build);
    let mut attempt = 0u32;
    let mut node: Option<i32> = match coordinator {
        Coordinator::Txn(_) => inner.lock().txn.as_ref().and_then(|t| t.coordinator),
        Coordinator::Group(_) => None,
    };
    loop {
        let target = match node {
            Some(n) => n,
            None => {
                let n = match coordinator {
                    Coordinator::Txn(id) => find_coordinator(inner, KEY_TRANSACTION, id, deadline).await?,
                    Coordinator::Group(g) => find_coordinator(inner, KEY_GROUP, g, deadline).await?,
                };
                if let (Coordinator::Txn(_), Some(t)) = (coordinator, inner.lock().txn.as_mut()) {
                    t.coordinator = Some(n);
                }
                node = Some(n);
                n
            }
        };
        let b = build.clone();
        let sent = tokio::time::timeout_at(
            deadline,
            inner.cluster.net.send_built(Target::Broker(target), OpenReason::Coordinator, versions, None, move |v| b(v)),
        )
        .await
        .map_err(|_| timed_out(&format!("{api:?}"), inner.cfg.max_block))?;
        let (action, err) = match sent {
            Ok(resp) => {
                // The most serious of the codes decides.
                let mut worst = (TxnAction::Proceed, KafkaCode::NONE);
                for c in codes(&resp) {
                    let a = txn_action(api, c);
                    if severity(a) > severity(worst.0) {
                        worst = (a, c);
                    }
                }
                if worst.0 == TxnAction::Proceed {
                    return Ok(resp);
                }
                (worst.0, Error::broker_code(worst.1 .0, format!("{api:?} failed")))
            }
            // A lost connection: the coordinator may have moved.
            Err(e) if e.is_retriable() => (TxnAction::Rediscover, e),
            Err(e) => (TxnAction::Fatal, e),
        };
        match action {
            TxnAction::Proceed => unreachable!("returned above"),
            TxnAction::Rediscover | TxnAction::Retry => {
                if action == TxnAction::Rediscover {
                    node = None;
                    if let (Coordinator::Txn(_), Some(t)) = (coordinator, inner.lock().txn.as_mut()) {
                        t.coordinator = None;
                    }
                }
                let wait = inner.cluster.retry_backoff(attempt);
                attempt += 1;
                if Instant::now() + wait >= deadline {
                    return Err(timed_out(&format!("{api:?}"), inner.cfg.max_block).with_source(err));
                }
                tracing::debug!(api = ?api, error = %err, "retrying transactional request");
                tokio::time::sleep(wait).await;
            }
            TxnAction::Abortable => {
                if let Some(t) = inner.lock().txn.as_mut() {
                    t.abortable(err.clone());
                }
                return Err(err);
            }
            TxnAction::Fenced | TxnAction::Fatal => {
                let err = if action == TxnAction::Fenced { fenced() } else { err };
                if let Some(t) = inner.lock().txn.as_mut() {
                    t.fatal(err.clone());
                }
                return Err(err);
            }
        }
    }
}

fn severity(a: TxnAction) -> u8 {
    match a {
        TxnAction::Proceed => 0,
        TxnAction::Retry => 1,
        TxnAction::Rediscover => 2,
        TxnAction::Abortable => 3,
        TxnAction::Fatal => 4,
        TxnAction::Fenced => 5,
    }
}

/// EndTxn (commit or abort) within `versions`; returns the producer id and epoch a v5
/// response carries (KIP-890: the bumped epoch, or a new id on overflow), `None` below v5
/// (where the response has -1).
async fn end_txn(
    inner: &Inner,
    txn_id: &str,
    commit: bool,
    p: ProducerIdAndEpoch,
    versions: (i16, i16),
    deadline: Instant,
) -> Result<Option<ProducerIdAndEpoch>> {
    let id = txn_id.to_string();
    let r = txn_call(inner, TxnApi::EndTxn { commit }, Coordinator::Txn(txn_id), deadline, move |_| {
        EndTxnRequest::default()
            .with_transactional_id(TransactionalId(sb(&id)))
            .with_producer_id(ProducerId(p.id))
            .with_producer_epoch(p.epoch)
            .with_committed(commit)
    }, |r| vec![KafkaCode(r.error_code)], versions)
    .await?;
    // A valid id with a negative epoch would be off the wire only: ignore it like -1.
    Ok((r.producer_id.0 >= 0 && r.producer_epoch >= 0).then_some(ProducerIdAndEpoch { id: r.producer_id.0, epoch: r.producer_epoch }))
}

/// InitProducerId for the transactional id, to its coordinator: a first one (`current` NONE)
/// or an epoch bump of `current` (KIP-360, v3+).
async fn init_producer_id(inner: &Inner, txn_id: &str, current: ProducerIdAndEpoch, deadline: Instant) -> Result<ProducerIdAndEpoch> {
    let timeout_ms = inner.cfg.transaction_timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut attempt = 0u32;
    let mut node = inner.lock().txn.as_ref().and_then(|t| t.coordinator);
    loop {
        let target = match node {
            Some(n) => n,
            None => {
                let n = find_coordinator(inner, KEY_TRANSACTION, txn_id, deadline).await?;
                if let Some(t) = inner.lock().txn.as_mut() {
                    t.coordinator = Some(n);
                }
                node = Some(n);
                n
            }
        };
        let id = txn_id.to_string();
        let build = move |v: i16| {
            let req = InitProducerIdRequest::default()
                .with_transactional_id(Some(TransactionalId(sb(&id))))
                .with_transaction_timeout_ms(timeout_ms);
            if v >= 3 {
                req.with_producer_id(ProducerId(current.id)).with_producer_epoch(current.epoch)
            } else {
                req
            }
        };
        let sent = tokio::time::timeout_at(
            deadline,
            inner.cluster.net.send_built(Target::Broker(target), OpenReason::Coordinator, (0, 5), None, build),
        )
        .await
        .map_err(|_| timed_out("InitProducerId", inner.cfg.max_block))?;
        let err = match sent {
            Ok(r) => match init_producer_id_action(KafkaCode(r.error_code)) {
                InitAction::Proceed => return Ok(ProducerIdAndEpoch { id: r.producer_id.0, epoch: r.producer_epoch }),
                InitAction::FindCoordinator => {
                    node = None;
                    Error::broker_code(r.error_code, "InitProducerId")
                }
                InitAction::Retry => Error::broker_code(r.error_code, "InitProducerId"),
                InitAction::Fenced | InitAction::Fail => {
                    let e = if r.error_code == KafkaCode::PRODUCER_FENCED.0 || r.error_code == KafkaCode::INVALID_PRODUCER_EPOCH.0 {
                        fenced()
                    } else {
                        Error::broker_code(r.error_code, format!("InitProducerId for transactional.id {txn_id} refused"))
                    };
                    if let Some(t) = inner.lock().txn.as_mut() {
                        t.fatal(e.clone());
                    }
                    return Err(e);
                }
            },
            Err(e) if e.is_retriable() => {
                node = None;
                e
            }
            Err(e) => return Err(e),
        };
        let wait = inner.cluster.retry_backoff(attempt);
        attempt += 1;
        if Instant::now() + wait >= deadline {
            return Err(timed_out("InitProducerId", inner.cfg.max_block).with_source(err));
        }
        tokio::time::sleep(wait).await;
    }
}

/// AddPartitionsToTxn for the partitions the open transaction has records for (the sender
/// starts it before draining their first batch; Java `addPartitionsToTransactionHandler`).
pub(crate) async fn add_partitions(inner: Arc<Inner>, partitions: Vec<Tp>) {
    let (txn_id, p) = {
        let st = inner.lock();
        let id = st.txn.as_ref().map(|t| t.transactional_id.clone()).unwrap_or_default();
        (id, st.idem.as_ref().map_or(ProducerIdAndEpoch::NONE, |s| s.producer()))
    };
    let deadline = Instant::now() + inner.cfg.max_block;
    let parts = partitions.clone();
    let id = txn_id.clone();
    let result = txn_call(&inner, TxnApi::AddPartitions, Coordinator::Txn(&txn_id), deadline, move |_| {
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for tp in &parts {
            match topics.iter_mut().find(|t| t.name.0.as_str() == &*tp.topic) {
                Some(t) => t.partitions.push(tp.partition),
                None => topics.push(
                    AddPartitionsToTxnTopic::default().with_name(TopicName(sb(&tp.topic))).with_partitions(vec![tp.partition]),
                ),
            }
        }
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(sb(&id)))
            .with_v3_and_below_producer_id(ProducerId(p.id))
            .with_v3_and_below_producer_epoch(p.epoch)
            .with_v3_and_below_topics(topics)
    }, |r| {
        r.results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| t.results_by_partition.iter().map(|p| KafkaCode(p.partition_error_code)))
            .collect()
    }, (0, 3))
    .await;
    {
        let mut st = inner.lock();
        if let Some(t) = st.txn.as_mut() {
            match &result {
                Ok(_) => t.added(&partitions),
                Err(e) => {
                    t.add_failed();
                    // A timeout leaves the partitions waiting; the commit's flush then waits for
                    // them until its own timeout. Anything else already moved the state.
                    if e.kind() == ErrorKind::Timeout {
                        t.abortable(e.clone());
                    }
                }
            }
        }
    }
    inner.wake.notify_one();
    inner.progress.notify_waiters();
}

//! The transactional APIs: AddPartitionsToTxn (key 24, v0-3), AddOffsetsToTxn (25), EndTxn (26)
//! to the transaction coordinator, TxnOffsetCommit (28) to the group coordinator. Transaction
//! version 2 (KIP-890) by request version, as Kafka decides it: EndTxn v5+ bumps the epoch and
//! returns it, TxnOffsetCommit v5+ adds the group to the transaction itself (no
//! AddOffsetsToTxn). State and the end of a transaction: `crate::txn`.

use std::time::Instant;

use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    EndTxnRequest, EndTxnResponse, ProducerId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

use super::{Ctx, NOT_COORDINATOR, UNKNOWN_TOPIC_OR_PARTITION};
use crate::state::Committed;
use crate::txn::{Phase, INVALID_PRODUCER_EPOCH, INVALID_PRODUCER_ID_MAPPING, INVALID_TXN_STATE, PRODUCER_FENCED};

/// The "fenced" code of a request version: PRODUCER_FENCED where the version knows it (KIP-588
/// added it), INVALID_PRODUCER_EPOCH before.
fn fenced(v: i16, first_with_fenced: i16) -> i16 {
    if v >= first_with_fenced {
        PRODUCER_FENCED
    } else {
        INVALID_PRODUCER_EPOCH
    }
}

pub(crate) fn add_partitions(
    ctx: &Ctx,
    req: AddPartitionsToTxnRequest,
    v: i16,
    forced: Option<i16>,
) -> AddPartitionsToTxnResponse {
    let txn_id = req.v3_and_below_transactional_id.0.to_string();
    let mut st = ctx.shared.state();
    let code = if let Some(c) = forced {
        c
    } else if st.coordinator_for(&txn_id) != ctx.broker_id {
        NOT_COORDINATOR
    } else {
        match st.txns.validate(&txn_id, req.v3_and_below_producer_id.0, req.v3_and_below_producer_epoch, fenced(v, 2)) {
            Err(c) => c,
            Ok(_) => 0,
        }
    };
    let mut results = Vec::new();
    let mut added = Vec::new();
    for t in &req.v3_and_below_topics {
        let name = t.name.0.to_string();
        let parts = t
            .partitions
            .iter()
            .map(|&p| {
                let exists = st.topics.get(&name).is_some_and(|tp| p >= 0 && (p as usize) < tp.partitions.len());
                let c = if code != 0 {
                    code
                } else if !exists {
                    UNKNOWN_TOPIC_OR_PARTITION
                } else {
                    added.push((name.clone(), p));
                    0
                };
                AddPartitionsToTxnPartitionResult::default().with_partition_index(p).with_partition_error_code(c)
            })
            .collect();
        results.push(AddPartitionsToTxnTopicResult::default().with_name(t.name.clone()).with_results_by_partition(parts));
    }
    // All or nothing, like Kafka: one unknown partition adds none of them.
    let all_ok = results.iter().all(|t| t.results_by_partition.iter().all(|p| p.partition_error_code == 0));
    if all_ok && code == 0 {
        if let Some(m) = st.txns.txns.get_mut(&txn_id) {
            m.partitions.extend(added);
            m.phase = Phase::Ongoing;
        }
    } else {
        const OPERATION_NOT_ATTEMPTED: i16 = 55;
        for t in results.iter_mut() {
            for p in t.results_by_partition.iter_mut() {
                if p.partition_error_code == 0 {
                    p.partition_error_code = OPERATION_NOT_ATTEMPTED;
                }
            }
        }
    }
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

pub(crate) fn add_offsets(ctx: &Ctx, req: AddOffsetsToTxnRequest, v: i16, forced: Option<i16>) -> AddOffsetsToTxnResponse {
    let txn_id = req.transactional_id.0.to_string();
    let mut st = ctx.shared.state();
    let code = if let Some(c) = forced {
        c
    } else if st.coordinator_for(&txn_id) != ctx.broker_id {
        NOT_COORDINATOR
    } else {
        match st.txns.validate(&txn_id, req.producer_id.0, req.producer_epoch, fenced(v, 2)) {
            Err(c) => c,
            Ok(_) => {
                if let Some(m) = st.txns.txns.get_mut(&txn_id) {
                    m.groups.insert(req.group_id.0.to_string());
                    m.phase = Phase::Ongoing;
                }
                0
            }
        }
    };
    AddOffsetsToTxnResponse::default().with_error_code(code)
}

pub(crate) fn end_txn(ctx: &Ctx, req: EndTxnRequest, v: i16, forced: Option<i16>) -> EndTxnResponse {
    let txn_id = req.transactional_id.0.to_string();
    let mut st = ctx.shared.state();
    if v >= 5 {
        let (code, id, epoch) = match forced {
            Some(c) => (c, -1, -1),
            None if st.coordinator_for(&txn_id) != ctx.broker_id => (NOT_COORDINATOR, -1, -1),
            None => match end_txn_v2(&mut st, &txn_id, req.producer_id.0, req.producer_epoch, req.committed) {
                Ok((id, epoch)) => (0, id, epoch),
                Err(c) => (c, -1, -1),
            },
        };
        return EndTxnResponse::default().with_error_code(code).with_producer_id(ProducerId(id)).with_producer_epoch(epoch);
    }
    let code = if let Some(c) = forced {
        c
    } else if st.coordinator_for(&txn_id) != ctx.broker_id {
        NOT_COORDINATOR
    } else {
        match st.txns.validate(&txn_id, req.producer_id.0, req.producer_epoch, fenced(v, 2)).map(|m| (m.phase, m.epoch)) {
            Err(c) => c,
            Ok((Phase::Ongoing, epoch)) => {
                st.complete_txn(&txn_id, req.committed, epoch);
                0
            }
            // A retried EndTxn of a transaction already ended the same way succeeds.
            Ok((Phase::CompleteCommit, _)) if req.committed => 0,
            Ok((Phase::CompleteAbort, _)) if !req.committed => 0,
            Ok(_) => INVALID_TXN_STATE,
        }
    };
    EndTxnResponse::default().with_error_code(code).with_producer_id(req.producer_id).with_producer_epoch(req.producer_epoch)
}

/// EndTxn under transaction version 2 (Kafka's `TransactionCoordinator.endTransaction` with
/// an epoch-bumping client version): the request's epoch must be the current one, or the one
/// before it for a retry of an EndTxn that already completed (the response then repeats the
/// current id and epoch); ending a transaction bumps the epoch.
fn end_txn_v2(st: &mut crate::state::State, txn_id: &str, producer_id: i64, epoch: i16, commit: bool) -> Result<(i64, i16), i16> {
    let m = st.txns.txns.get(txn_id).ok_or(INVALID_PRODUCER_ID_MAPPING)?;
    let retry_on_overflow = m.prev_producer_id == producer_id && epoch == i16::MAX - 1 && m.epoch == 0;
    let retry_on_bump = m.producer_id == producer_id && i32::from(m.epoch) == i32::from(epoch) + 1;
    let retry = retry_on_bump || retry_on_overflow;
    if m.producer_id != producer_id && !retry_on_overflow {
        return Err(INVALID_PRODUCER_ID_MAPPING);
    }
    let valid_epoch = match m.phase {
        Phase::Ongoing | Phase::Empty => epoch == m.epoch,
        Phase::CompleteCommit | Phase::CompleteAbort => retry || epoch == m.epoch,
    };
    if !valid_epoch {
        return Err(PRODUCER_FENCED);
    }
    let current = (m.producer_id, m.epoch);
    let bump = match (m.phase, commit) {
        (Phase::Ongoing, _) => true,
        (Phase::CompleteCommit, true) | (Phase::CompleteAbort, false) if retry => return Ok(current),
        (Phase::CompleteCommit | Phase::CompleteAbort | Phase::Empty, false) if !retry => true,
        _ => false,
    };
    if !bump {
        return Err(INVALID_TXN_STATE);
    }
    st.end_txn_with_bump(txn_id, commit).ok_or(INVALID_PRODUCER_ID_MAPPING)
}

pub(crate) fn txn_offset_commit(
    ctx: &Ctx,
    req: TxnOffsetCommitRequest,
    v: i16,
    forced: Option<i16>,
) -> TxnOffsetCommitResponse {
    let group = req.group_id.0.to_string();
    let txn_id = req.transactional_id.0.to_string();
    let mut st = ctx.shared.state();
    // Transaction version 2: v5+ adds the group to the transaction (the group coordinator asks
    // the transaction coordinator, `txnOffsetCommitRequestVersionToTransactionSupportedOperation`),
    // so no AddOffsetsToTxn came first.
    let mut implicit = Ok(());
    if forced.is_none() && v >= 5 && st.coordinator_for(&group) == ctx.broker_id {
        implicit = st.txns.validate(&txn_id, req.producer_id.0, req.producer_epoch, PRODUCER_FENCED).map(|_| ());
        if let (Ok(()), Some(m)) = (implicit, st.txns.txns.get_mut(&txn_id)) {
            m.groups.insert(group.clone());
            m.phase = Phase::Ongoing;
        }
    }
    let code = if let Some(c) = forced {
        c
    } else if st.coordinator_for(&group) != ctx.broker_id {
        NOT_COORDINATOR
    } else if let Err(c) = implicit {
        c
    } else if !st.txns.txns.get(&txn_id).is_some_and(|m| m.groups.contains(&group) && m.producer_id == req.producer_id.0) {
        // AddOffsetsToTxn must come first (transaction version 1).
        INVALID_TXN_STATE
    } else if st.txns.txns.get(&txn_id).is_some_and(|m| m.epoch != req.producer_epoch) {
        fenced(v, 3)
    } else if v >= 3 && !req.member_id.is_empty() {
        // KIP-447: the consumer's group metadata must be current, else the commit is from a
        // consumer that lost its partitions (a zombie) and is refused.
        let inst = req.group_instance_id.as_ref().map(|s| s.to_string());
        if st.cgroups.groups.contains_key(&group) {
            st.cgroups.validate_commit(&group, req.member_id.as_str(), req.generation_id)
        } else {
            st.groups.validate_commit(Instant::now(), &group, req.generation_id, req.member_id.as_str(), inst.as_deref())
        }
    } else {
        0
    };
    let mut pending = Vec::new();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let parts = t
                .partitions
                .iter()
                .map(|p| {
                    let exists =
                        st.topics.get(&name).is_some_and(|tp| p.partition_index >= 0 && (p.partition_index as usize) < tp.partitions.len());
                    let c = if code != 0 {
                        code
                    } else if !exists {
                        UNKNOWN_TOPIC_OR_PARTITION
                    } else {
                        pending.push((
                            name.clone(),
                            p.partition_index,
                            Committed {
                                offset: p.committed_offset,
                                leader_epoch: if v >= 2 { p.committed_leader_epoch } else { -1 },
                                metadata: p.committed_metadata.as_ref().map(|m| m.to_string()),
                            },
                        ));
                        0
                    };
                    TxnOffsetCommitResponsePartition::default().with_partition_index(p.partition_index).with_error_code(c)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default().with_name(t.name.clone()).with_partitions(parts)
        })
        .collect();
    if !pending.is_empty() {
        st.txns.add_pending_offsets(&group, req.producer_id.0, pending);
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}

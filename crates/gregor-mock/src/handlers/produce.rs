//! Produce (key 0): validate each batch (magic 2, CRC-32C) and store its bytes as sent.

use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, ProduceRequest, ProduceResponse};

use super::{
    sb, Ctx, CORRUPT_MESSAGE, INVALID_REQUIRED_ACKS, NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_TOPIC_OR_PARTITION, UNSUPPORTED_FOR_MESSAGE_FORMAT,
};
use crate::log::{split_batches, BatchError};
use crate::producer_state::Check;
use crate::txn::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;

/// Returns None for acks=0: the broker sends no response at all (`KafkaApis.handleProduceRequest`).
pub(crate) fn handle(
    ctx: &Ctx,
    req: ProduceRequest,
    v: i16,
    forced: Option<i16>,
) -> Option<ProduceResponse> {
    // A request with transactional batches must name its transactional.id, or the whole request
    // is refused (`KafkaApis.handleProduceRequest`: TRANSACTIONAL_ID_AUTHORIZATION_FAILED).
    let transactional_batches = req.topic_data.iter().flat_map(|t| &t.partition_data).any(|p| {
        p.records.as_ref().is_some_and(|r| split_batches(r).is_ok_and(|b| b.iter().any(|(_, h)| h.is_transactional())))
    });
    let forced = match forced {
        None if transactional_batches && req.transactional_id.is_none() => Some(TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
        f => f,
    };
    let mut appended = false;
    let mut leaders_to_describe = Vec::new();
    let responses = {
        let mut st = ctx.shared.state();
        let mut out = Vec::new();
        for t in &req.topic_data {
            let name = t.name.0.to_string();
            let mut parts = Vec::new();
            for p in &t.partition_data {
                let mut r = PartitionProduceResponse::default()
                    .with_index(p.index)
                    .with_base_offset(-1)
                    .with_log_append_time_ms(-1);
                let split = p.records.as_ref().ok_or(BatchError::Corrupt).and_then(split_batches);
                // KIP-890 part 2 (transaction version 2): Produce v12+ adds the partition to the
                // producer's transaction itself (Kafka's `AddPartitionsToTxnManager`,
                // `produceRequestVersionToTransactionSupportedOperation`: ADD_PARTITION above
                // v11); the coordinator's refusal is the partition's error.
                let mut implicit_add = Ok(());
                if let (Ok(batches), None, true) = (&split, forced, v >= 12) {
                    let exists = st.topics.get(&name).is_some_and(|tp| p.index >= 0 && (p.index as usize) < tp.partitions.len());
                    if let (Some((_, h)), true) = (batches.iter().find(|(_, h)| h.is_transactional()), exists) {
                        implicit_add = st.add_partition_implicitly(h.producer_id, h.producer_epoch, &name, p.index);
                    }
                }
                // KIP-890 verification: a transactional batch must belong to its producer's open
                // transaction on this partition.
                let in_txn: Vec<bool> = match &split {
                    Ok(batches) => batches
                        .iter()
                        .map(|(_, h)| h.is_transactional() && st.in_open_txn(h.producer_id, &name, p.index))
                        .collect(),
                    Err(_) => Vec::new(),
                };
                let code = if let Err(code) = implicit_add {
                    code
                } else if let Some(code) = forced {
                    // Like a broker, say where the log starts (the producer uses it to tell an
                    // UNKNOWN_PRODUCER_ID caused by retention from lost state).
                    if let Some(part) = st.topics.get(&name).and_then(|tp| tp.partitions.get(p.index as usize)) {
                        r.log_start_offset = part.log.log_start_offset;
                    }
                    code
                } else if !(-1..=1).contains(&req.acks) {
                    INVALID_REQUIRED_ACKS
                } else {
                    match st
                        .topics
                        .get_mut(&name)
                        .and_then(|tp| tp.partitions.get_mut(p.index as usize))
                    {
                        None => UNKNOWN_TOPIC_OR_PARTITION,
                        Some(part) if part.leader != ctx.broker_id => {
                            if v >= 10 {
                                r.current_leader = LeaderIdAndEpoch::default()
                                    .with_leader_id(BrokerId(part.leader))
                                    .with_leader_epoch(part.leader_epoch);
                                leaders_to_describe.push(part.leader);
                            }
                            NOT_LEADER_OR_FOLLOWER
                        }
                        Some(part) => match split {
                            Err(BatchError::Corrupt) => CORRUPT_MESSAGE,
                            Err(BatchError::UnsupportedMagic) => UNSUPPORTED_FOR_MESSAGE_FORMAT,
                            Ok(batches) => {
                                // Idempotence: validate every batch before appending any.
                                let mut refused = 0;
                                let mut duplicate = None;
                                for ((_, h), in_txn) in batches.iter().zip(&in_txn) {
                                    match part.log.producers.check(h, *in_txn) {
                                        Check::Append => {}
                                        Check::Duplicate(base) => duplicate = duplicate.or(Some(base)),
                                        Check::Reject(c) => refused = c,
                                    }
                                }
                                r.log_start_offset = part.log.log_start_offset;
                                if refused != 0 {
                                    refused
                                } else if let (Some(base), 1) = (duplicate, batches.len()) {
                                    // A retry of a batch already written: its first offset again.
                                    r.base_offset = base;
                                    0
                                } else {
                                    let mut first = None;
                                    for (raw, h) in &batches {
                                        let base = part.log.append(raw, h);
                                        part.log.producers.record(h, base);
                                        first.get_or_insert(base);
                                    }
                                    appended = true;
                                    r.base_offset = first.unwrap_or(-1);
                                    0
                                }
                            }
                        },
                    }
                };
                r.error_code = code;
                parts.push(r);
            }
            out.push(
                TopicProduceResponse::default()
                    .with_name(t.name.clone())
                    .with_partition_responses(parts),
            );
        }
        leaders_to_describe.sort();
        leaders_to_describe.dedup();
        let endpoints: Vec<NodeEndpoint> = leaders_to_describe
            .iter()
            .filter_map(|id| {
                st.brokers.get(id).map(|b| {
                    NodeEndpoint::default()
                        .with_node_id(BrokerId(*id))
                        .with_host(sb(b.advertised_host.clone()))
                        .with_port(b.advertised_port)
                })
            })
            .collect();
        (out, endpoints)
    };
    if appended {
        // Wake long-polling fetches (Kafka completes DelayedFetch operations on append).
        ctx.shared.produce_notify.notify_waiters();
    }
    if req.acks == 0 {
        return None;
    }
    let mut resp = ProduceResponse::default().with_responses(responses.0);
    if v >= 10 {
        resp.node_endpoints = responses.1;
    }
    Some(resp)
}

//! Building one Produce request from drained batches, and reading its response back into
//! one outcome per batch (no I/O).

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName, TransactionalId};
use kafka_protocol::protocol::StrBytes;
use uuid::Uuid;

use super::accumulator::TopicPartition;

/// Produce versions gregor sends with acks=1/all. v3 is the first with record batches v2 (and
/// the oldest Kafka 4.x accepts); v13 (KIP-516) names topics by id only, which would need a topic
/// id for every topic, so requests that get a response stop at v12.
pub(crate) const PRODUCE_VERSIONS: (i16, i16) = (3, 12);

/// The request for `batches` (topic, partition, encoded batch, topic id from metadata). Topic
/// names are set and, when metadata has one, the topic id too, so the request is valid at
/// any version the connection layer picks. `transactional_id`: a transactional producer's
/// (Java `ProduceRequest.Builder.forMagic(..., transactionalId)`).
pub(crate) fn build(
    acks: i16,
    timeout_ms: i32,
    transactional_id: Option<&StrBytes>,
    batches: &[(TopicPartition, Bytes)],
    topic_ids: &HashMap<String, Uuid>,
) -> ProduceRequest {
    let mut topics: Vec<TopicProduceData> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (tp, bytes) in batches {
        let at = *index.entry(&tp.topic).or_insert_with(|| {
            topics.push(
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string(tp.topic.to_string())))
                    .with_topic_id(topic_ids.get(&*tp.topic).copied().unwrap_or(Uuid::nil())),
            );
            topics.len() - 1
        });
        topics[at].partition_data.push(
            PartitionProduceData::default().with_index(tp.partition).with_records(Some(bytes.clone())),
        );
    }
    ProduceRequest::default()
        .with_transactional_id(transactional_id.cloned().map(TransactionalId))
        .with_acks(acks)
        .with_timeout_ms(timeout_ms)
        .with_topic_data(topics)
}

/// One partition's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionOutcome {
    pub(crate) error_code: i16,
    pub(crate) base_offset: i64,
    /// -1 unless the topic uses LogAppendTime.
    pub(crate) log_append_time: i64,
    /// The partition's log start offset (v5+; -1 unknown).
    pub(crate) log_start_offset: i64,
    /// The broker's error message, if any.
    pub(crate) error_message: Option<String>,
}

/// Finds the result for every requested partition; a partition the broker did not answer
/// gets `None` (the caller treats it as a retriable failure).
pub(crate) fn outcomes(
    resp: &ProduceResponse,
    requested: &[TopicPartition],
    topic_names_by_id: impl Fn(Uuid) -> Option<String>,
) -> Vec<Option<PartitionOutcome>> {
    let mut found: HashMap<(String, i32), PartitionOutcome> = HashMap::new();
    for t in &resp.responses {
        // v13 responses name topics by id.
        let name = if t.name.0.is_empty() { topic_names_by_id(t.topic_id) } else { Some(t.name.0.to_string()) };
        let Some(name) = name else { continue };
        for p in &t.partition_responses {
            found.insert(
                (name.clone(), p.index),
                PartitionOutcome {
                    error_code: p.error_code,
                    base_offset: p.base_offset,
                    log_append_time: p.log_append_time_ms,
                    log_start_offset: p.log_start_offset,
                    error_message: p.error_message.as_ref().map(|m| m.to_string()).filter(|m| !m.is_empty()),
                },
            );
        }
    }
    requested.iter().map(|tp| found.remove(&(tp.topic.to_string(), tp.partition))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
    use crate::protocol_errors::KafkaCode;
    use kafka_protocol::protocol::{Decodable, Encodable};
    use std::sync::Arc;

    fn tp(t: &str, p: i32) -> TopicPartition {
        TopicPartition { topic: Arc::from(t), partition: p }
    }

    #[test]
    fn request_groups_partitions_under_their_topic_and_round_trips_at_v3_and_v12() {
        let id = Uuid::from_u128(7);
        let batches = vec![
            (tp("a", 0), Bytes::from_static(b"b0")),
            (tp("b", 1), Bytes::from_static(b"b1")),
            (tp("a", 2), Bytes::from_static(b"b2")),
        ];
        let req = build(-1, 30_000, None, &batches, &HashMap::from([("a".to_string(), id)]));
        assert_eq!(req.acks, -1);
        assert_eq!(req.topic_data.len(), 2);
        assert_eq!(req.topic_data[0].name.0.as_str(), "a");
        assert_eq!(req.topic_data[0].topic_id, id);
        assert_eq!(req.topic_data[0].partition_data.iter().map(|p| p.index).collect::<Vec<_>>(), vec![0, 2]);
        assert_eq!(req.topic_data[1].partition_data[0].records.as_deref(), Some(&b"b1"[..]));
        for v in [3i16, 12, 13] {
            let mut buf = bytes::BytesMut::new();
            req.encode(&mut buf, v).unwrap();
            let back = ProduceRequest::decode(&mut buf.freeze(), v).unwrap();
            assert_eq!(back.topic_data.len(), 2, "v{v}");
            if v < 13 {
                assert_eq!(back.topic_data[1].name.0.as_str(), "b");
            } else {
                assert_eq!(back.topic_data[0].topic_id, id, "v13 carries the topic id");
            }
        }
    }

    #[test]
    fn outcomes_match_requested_partitions_and_flag_missing_ones() {
        let resp = ProduceResponse::default().with_responses(vec![TopicProduceResponse::default()
            .with_name(TopicName(StrBytes::from_static_str("a")))
            .with_partition_responses(vec![
                PartitionProduceResponse::default().with_index(0).with_base_offset(42).with_log_append_time_ms(-1),
                PartitionProduceResponse::default()
                    .with_index(2)
                    .with_error_code(KafkaCode::NOT_LEADER_OR_FOLLOWER.0)
                    .with_base_offset(-1),
            ])]);
        let out = outcomes(&resp, &[tp("a", 0), tp("a", 2), tp("a", 1)], |_| None);
        assert_eq!(out[0].as_ref().map(|o| (o.error_code, o.base_offset, o.log_append_time)), Some((0, 42, -1)));
        assert_eq!(out[1].as_ref().map(|o| o.error_code), Some(KafkaCode::NOT_LEADER_OR_FOLLOWER.0));
        assert_eq!(out[2], None);
    }

    #[test]
    fn v13_responses_are_matched_by_topic_id() {
        let id = Uuid::from_u128(9);
        let mut t = TopicProduceResponse::default()
            .with_partition_responses(vec![PartitionProduceResponse::default().with_index(0).with_base_offset(5)]);
        t.topic_id = id;
        let resp = ProduceResponse::default().with_responses(vec![t]);
        let out = outcomes(&resp, &[tp("a", 0)], |u| (u == id).then(|| "a".to_string()));
        assert_eq!(out[0].as_ref().map(|o| o.base_offset), Some(5));
    }
}

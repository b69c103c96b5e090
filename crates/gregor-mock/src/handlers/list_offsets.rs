//! ListOffsets (key 2): earliest (-2), latest (-1), max timestamp (-3, KIP-734), by time.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::{
    Ctx, FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER, UNKNOWN_LEADER_EPOCH,
    UNKNOWN_TOPIC_OR_PARTITION,
};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub(crate) fn handle(
    ctx: &Ctx,
    req: ListOffsetsRequest,
    v: i16,
    forced: Option<i16>,
) -> ListOffsetsResponse {
    let st = ctx.shared.state();
    let read_committed = v >= 2 && req.isolation_level == 1;
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let parts = t
                .partitions
                .iter()
                .map(|p| {
                    let mut r = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1);
                    let part = st
                        .topics
                        .get(t.name.0.as_str())
                        .and_then(|tp| tp.partitions.get(p.partition_index as usize));
                    let epoch = if v >= 4 { p.current_leader_epoch } else { -1 };
                    r.error_code = match (forced, part) {
                        (Some(code), _) => code,
                        (None, None) => UNKNOWN_TOPIC_OR_PARTITION,
                        (None, Some(part)) if part.leader != ctx.broker_id => {
                            NOT_LEADER_OR_FOLLOWER
                        }
                        (None, Some(part)) if epoch >= 0 && epoch < part.leader_epoch => {
                            FENCED_LEADER_EPOCH
                        }
                        (None, Some(part)) if epoch > part.leader_epoch => UNKNOWN_LEADER_EPOCH,
                        (None, Some(part)) => {
                            let log = &part.log;
                            let (off, ts) = match p.timestamp {
                                // read_committed sees up to the last stable offset.
                                LATEST | LATEST_TIERED if read_committed => {
                                    (log.producers.last_stable_offset(log.high_watermark), -1)
                                }
                                LATEST | LATEST_TIERED => (log.high_watermark, -1),
                                EARLIEST | EARLIEST_LOCAL => (log.log_start_offset, -1),
                                MAX_TIMESTAMP => log.max_timestamp().unwrap_or((-1, -1)),
                                ts => log.offset_for_timestamp(ts).unwrap_or((-1, -1)),
                            };
                            r.offset = off;
                            r.timestamp = ts;
                            0
                        }
                    };
                    // Leader epoch -1: the mock does not implement OffsetForLeaderEpoch, so
                    // clients must not try to validate positions against epochs.
                    r
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(parts)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

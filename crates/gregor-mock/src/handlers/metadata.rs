//! Metadata (key 3) and CreateTopics (key 19).
//!
//! Auto-creation is off unless the cluster was built with
//! [`auto_create_topics`](crate::MockClusterBuilder::auto_create_topics): then a request that
//! allows it (v4+ `allow_auto_topic_creation`, always before v4) creates an unknown topic asked
//! by name and answers LEADER_NOT_AVAILABLE for it this once, as a broker does while it creates
//! the topic. Otherwise an unknown topic gets UNKNOWN_TOPIC_OR_PARTITION (or UNKNOWN_TOPIC_ID
//! when asked by id, Metadata v10+). Only live brokers are listed, like a
//! real cluster; a partition whose leader is down reports LEADER_NOT_AVAILABLE, leader -1.

use kafka_protocol::messages::create_topics_request::CreateTopicsRequest;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicResult, CreateTopicsResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use uuid::Uuid;

use super::{
    sb, Ctx, INVALID_PARTITIONS, LEADER_NOT_AVAILABLE, TOPIC_ALREADY_EXISTS, UNKNOWN_TOPIC_ID,
    UNKNOWN_TOPIC_OR_PARTITION,
};
use crate::state::State;

pub(crate) fn handle(
    ctx: &Ctx,
    req: MetadataRequest,
    v: i16,
    forced: Option<i16>,
) -> MetadataResponse {
    let mut st = ctx.shared.state();
    // Topics created by this request (answered LEADER_NOT_AVAILABLE this time).
    let mut created: Vec<String> = Vec::new();
    if let (Some(n), Some(asked)) = (st.auto_create_partitions, req.topics.as_ref()) {
        if v < 4 || req.allow_auto_topic_creation {
            for t in asked {
                if let Some(name) = t.name.as_ref().filter(|n| !n.is_empty()) {
                    if st.create_topic(name.as_str(), n) {
                        created.push(name.to_string());
                    }
                }
            }
        }
    }
    let brokers = st
        .brokers
        .iter()
        .filter(|(_, b)| b.up)
        .map(|(&id, b)| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(sb(b.advertised_host.clone()))
                .with_port(b.advertised_port)
                .with_rack(b.rack.clone().map(sb))
        })
        .collect();
    let controller = st
        .brokers
        .iter()
        .find(|(_, b)| b.up)
        .map(|(&id, _)| id)
        .unwrap_or(-1);
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let all = match &req.topics {
        None => true,
        Some(t) => t.is_empty() && v == 0,
    };
    let topics: Vec<MetadataResponseTopic> = if all {
        st.topics
            .keys()
            .map(|n| topic_entry(&st, Some(n.as_str()), Uuid::nil(), forced))
            .collect()
    } else {
        req.topics
            .unwrap_or_default()
            .iter()
            .map(|t| match &t.name {
                // v10+: a topic asked by id has a null (or empty) name.
                Some(n) if created.iter().any(|c| c.as_str() == n.as_str()) => MetadataResponseTopic::default()
                    .with_error_code(LEADER_NOT_AVAILABLE)
                    .with_name(Some(TopicName(sb(n.as_str())))),
                Some(n) if !n.is_empty() || t.topic_id.is_nil() => {
                    topic_entry(&st, Some(n.as_str()), Uuid::nil(), forced)
                }
                _ => {
                    let name = st.topic_by_id(t.topic_id).map(str::to_string);
                    topic_entry(&st, name.as_deref(), t.topic_id, forced)
                }
            })
            .collect()
    };
    let mut resp = MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(sb(st.cluster_id.clone())))
        .with_controller_id(BrokerId(controller))
        .with_topics(topics);
    if v >= 13 {
        resp.error_code = 0;
    }
    resp
}

fn topic_entry(
    st: &State,
    name: Option<&str>,
    asked_id: Uuid,
    forced: Option<i16>,
) -> MetadataResponseTopic {
    let Some(topic) = name.and_then(|n| st.topics.get(n)) else {
        let code = if name.is_none() {
            UNKNOWN_TOPIC_ID
        } else {
            UNKNOWN_TOPIC_OR_PARTITION
        };
        return MetadataResponseTopic::default()
            .with_error_code(code)
            .with_name(name.map(|n| TopicName(sb(n))))
            .with_topic_id(asked_id);
    };
    let name = name.unwrap_or_default();
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let up = st.broker_up(p.leader);
            let (err, leader) = if up {
                (0, p.leader)
            } else {
                (LEADER_NOT_AVAILABLE, -1)
            };
            MetadataResponsePartition::default()
                .with_error_code(err)
                .with_partition_index(i as i32)
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(p.replicas.iter().map(|&b| BrokerId(b)).collect())
                .with_isr_nodes(p.isr(st).into_iter().map(BrokerId).collect())
                .with_offline_replicas(
                    p.replicas
                        .iter()
                        .filter(|&&b| !st.broker_up(b))
                        .map(|&b| BrokerId(b))
                        .collect(),
                )
        })
        .collect();
    MetadataResponseTopic::default()
        .with_error_code(forced.unwrap_or(0))
        .with_name(Some(TopicName(sb(name))))
        .with_topic_id(topic.id)
        .with_partitions(if forced.is_some() { vec![] } else { partitions })
}

/// Upper bound on partitions per topic from a request: a count off the wire must not make the
/// mock allocate without limit.
const MAX_PARTITIONS: i32 = 100_000;

pub(crate) fn create_topics(
    ctx: &Ctx,
    req: CreateTopicsRequest,
    v: i16,
    forced: Option<i16>,
) -> CreateTopicsResponse {
    let mut st = ctx.shared.state();
    let results = req
        .topics
        .iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let parts = if t.num_partitions == -1 {
                1
            } else {
                t.num_partitions
            };
            let mut r = CreatableTopicResult::default().with_name(t.name.clone());
            let code = if let Some(code) = forced {
                code
            } else if st.topics.contains_key(&name) {
                TOPIC_ALREADY_EXISTS
            } else if parts <= 0 || parts > MAX_PARTITIONS {
                INVALID_PARTITIONS
            } else {
                if !req.validate_only {
                    st.create_topic(&name, parts);
                }
                0
            };
            r.error_code = code;
            if v >= 5 {
                r.num_partitions = if code == 0 { parts } else { -1 };
                r.replication_factor = if code == 0 { 1 } else { -1 };
                r.configs = Some(vec![]);
            }
            if v >= 7 {
                if let Some(t) = st.topics.get(&name) {
                    r.topic_id = t.id;
                }
            }
            r
        })
        .collect();
    CreateTopicsResponse::default().with_topics(results)
}

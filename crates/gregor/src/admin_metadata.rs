//! [`Admin::describe_cluster`]: the whole Metadata response as data (what kcat `-L` and
//! `kafka-topics --describe` show): brokers with racks, the controller, and per partition
//! leader, replicas, in-sync replicas and offline replicas.

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::Admin;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::protocol_errors::KafkaCode;

/// A broker as Metadata lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerMetadata {
    /// The node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// `broker.rack`, when set.
    pub rack: Option<String>,
}

/// One partition's replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// The partition number.
    pub partition: i32,
    /// The leader's node id (-1: none right now).
    pub leader: i32,
    /// The leader epoch.
    pub leader_epoch: i32,
    /// Every replica, preferred leader first.
    pub replicas: Vec<i32>,
    /// The in-sync replicas.
    pub isr: Vec<i32>,
    /// Replicas on brokers that are down or whose log directory failed (Metadata v5+).
    pub offline_replicas: Vec<i32>,
    /// A Kafka error code for this partition (0: none), e.g. LEADER_NOT_AVAILABLE.
    pub error: i16,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// The name.
    pub name: String,
    /// `__consumer_offsets` and other internal topics.
    pub internal: bool,
    /// A Kafka error code for the topic (0: none), e.g. UNKNOWN_TOPIC_OR_PARTITION.
    pub error: i16,
    /// Partitions by number.
    pub partitions: Vec<PartitionMetadata>,
}

/// The cluster as one Metadata response describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// The cluster id (Metadata v2+).
    pub cluster_id: Option<String>,
    /// The controller's node id as the broker reports it (-1: unknown). With KRaft, brokers
    /// report a random live broker here (KIP-590 forwards controller requests).
    pub controller_id: i32,
    /// Brokers by id.
    pub brokers: Vec<BrokerMetadata>,
    /// Topics by name.
    pub topics: Vec<TopicMetadata>,
}

impl Admin {
    /// One Metadata request (to the least-loaded broker) for `topics`, or for every topic when
    /// `None`. Topics are never created by asking. A topic that does not exist is listed with
    /// its error code, not an error of the call. Retriable failures are retried until
    /// `default.api.timeout.ms`.
    pub async fn describe_cluster(&self, topics: Option<&[String]>) -> Result<ClusterMetadata> {
        let deadline = Instant::now() + self.cluster.settings.api_timeout;
        let mut attempt = 0u32;
        loop {
            let names: Option<Vec<String>> = topics.map(|t| t.to_vec());
            let build = move |v: i16| {
                let req = MetadataRequest::default().with_topics(names.map(|ts| {
                    ts.into_iter()
                        .map(|t| MetadataRequestTopic::default().with_name(Some(TopicName(StrBytes::from_string(t)))))
                        .collect()
                }));
                if v >= 4 {
                    req.with_allow_auto_topic_creation(false)
                } else {
                    req
                }
            };
            let sent = tokio::time::timeout_at(
                deadline,
                self.cluster.net.send_built(Target::AnyNode, OpenReason::Admin, (1, 12), None, build),
            )
            .await;
            let err = match sent {
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!("no metadata within {} ms", self.cluster.settings.api_timeout.as_millis()),
                    ))
                }
                Ok(Ok(resp)) if KafkaCode(resp.error_code).is_ok() => return Ok(from_response(&resp)),
                Ok(Ok(resp)) => Error::broker_code(resp.error_code, "metadata request failed"),
                Ok(Err(e)) => e,
            };
            if !err.is_retriable() {
                return Err(err);
            }
            let wait = super::cluster_backoff(&self.cluster, attempt);
            attempt += 1;
            if Instant::now() + wait >= deadline {
                return Err(Error::new(
                    ErrorKind::Unreachable,
                    format!("no metadata within {} ms", self.cluster.settings.api_timeout.as_millis()),
                )
                .with_source(err));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

fn from_response(resp: &kafka_protocol::messages::MetadataResponse) -> ClusterMetadata {
    let mut brokers: Vec<BrokerMetadata> = resp
        .brokers
        .iter()
        .map(|b| BrokerMetadata {
            id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.to_string()),
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    let mut topics: Vec<TopicMetadata> = resp
        .topics
        .iter()
        .map(|t| {
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .iter()
                .map(|p| PartitionMetadata {
                    partition: p.partition_index,
                    leader: p.leader_id.0,
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|r| r.0).collect(),
                    isr: p.isr_nodes.iter().map(|r| r.0).collect(),
                    offline_replicas: p.offline_replicas.iter().map(|r| r.0).collect(),
                    error: p.error_code,
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            TopicMetadata {
                name: t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default(),
                internal: t.is_internal,
                error: t.error_code,
                partitions,
            }
        })
        .collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    ClusterMetadata {
        cluster_id: resp.cluster_id.as_ref().map(|c| c.to_string()),
        controller_id: resp.controller_id.0,
        brokers,
        topics,
    }
}

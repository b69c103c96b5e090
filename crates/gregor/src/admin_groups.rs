//! Consumer groups through [`Admin`]: list, describe (members, assignments, protocol), read and
//! set committed offsets, delete — what `kafka-consumer-groups.sh` does through Java's
//! `Admin` (`listGroups`, `describeConsumerGroups`, `listConsumerGroupOffsets`,
//! `alterConsumerGroupOffsets`, `deleteConsumerGroups`).
//!
//! Group requests go to the group's coordinator (FindCoordinator, key type GROUP); coordinator
//! errors (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS) and
//! dropped connections look it up again until the call's deadline, as Java's
//! `CoordinatorStrategy` does.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::time::Instant;

use super::Admin;
use crate::consumer::TopicPartition;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::protocol_errors::KafkaCode;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Which group protocol a group runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupType {
    /// JoinGroup/SyncGroup/Heartbeat (or a group with only committed offsets).
    Classic,
    /// KIP-848's ConsumerGroupHeartbeat protocol (`group.protocol=consumer`).
    Consumer,
}

impl GroupType {
    /// `classic` or `consumer`, as Kafka names them.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::Classic => "classic",
            GroupType::Consumer => "consumer",
        }
    }
}

/// One group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// The group id.
    pub group_id: String,
    /// `consumer` for consumer groups (empty for a group with only committed offsets).
    pub protocol_type: String,
    /// `Stable`, `Empty`, ... (ListGroups v4+).
    pub state: Option<String>,
    /// `classic` or `consumer` (ListGroups v5+).
    pub group_type: Option<String>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id the coordinator gave.
    pub member_id: String,
    /// `group.instance.id` (static membership).
    pub group_instance_id: Option<String>,
    /// The member's `client.id`.
    pub client_id: String,
    /// The member's address as the coordinator saw it.
    pub client_host: String,
    /// The partitions assigned to it now.
    pub assignment: Vec<TopicPartition>,
}

/// A group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, `Dead` (no such group), ...
    pub state: String,
    /// The protocol the group runs.
    pub group_type: GroupType,
    /// The assignor (classic: the chosen protocol name such as `range`; consumer: the
    /// server-side assignor such as `uniform`).
    pub assignor: String,
    /// The coordinator's node id.
    pub coordinator: i32,
    /// The members.
    pub members: Vec<MemberDescription>,
}

/// FindCoordinator v0..6; DescribeGroups v0..5; ListGroups v0..5; OffsetFetch v2..7 (the
/// single-group layout, topics null = all); OffsetCommit v2..9; DeleteGroups v0..2;
/// ConsumerGroupDescribe v0..1.
const FIND_COORDINATOR: (i16, i16) = (0, 6);
const DESCRIBE_GROUPS: (i16, i16) = (0, 5);
const LIST_GROUPS: (i16, i16) = (0, 5);
const OFFSET_FETCH: (i16, i16) = (2, 7);
const OFFSET_COMMIT: (i16, i16) = (2, 9);
const DELETE_GROUPS: (i16, i16) = (0, 2);
const CONSUMER_GROUP_DESCRIBE: (i16, i16) = (0, 1);

impl Admin {
    /// Every group of the cluster: ListGroups to each broker (every broker coordinates some
    /// groups), merged — Java's `Admin.listGroups`.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let snap = self.cluster.refresh(Some(&[]), "admin: list groups").await?;
        let mut out: BTreeMap<String, GroupListing> = BTreeMap::new();
        for id in snap.brokers.keys() {
            let resp = self
                .cluster
                .net
                .send_built(Target::Broker(*id), OpenReason::Admin, LIST_GROUPS, None, |_| ListGroupsRequest::default())
                .await?;
            if !KafkaCode(resp.error_code).is_ok() {
                return Err(Error::broker_code(resp.error_code, format!("ListGroups to broker {id}")));
            }
            for g in resp.groups {
                let listing = GroupListing {
                    group_id: g.group_id.0.to_string(),
                    protocol_type: g.protocol_type.to_string(),
                    state: (!g.group_state.is_empty()).then(|| g.group_state.to_string()),
                    group_type: (!g.group_type.is_empty()).then(|| g.group_type.to_lowercase()),
                };
                out.insert(listing.group_id.clone(), listing);
            }
        }
        Ok(out.into_values().collect())
    }

    /// Describes `group`: a KIP-848 group through ConsumerGroupDescribe, a classic one through
    /// DescribeGroups (Java's `DescribeConsumerGroupsHandler` falls back the same way when
    /// ConsumerGroupDescribe answers GROUP_ID_NOT_FOUND or is not supported).
    pub async fn describe_group(&self, group: &str, timeout: Duration) -> Result<GroupDescription> {
        let deadline = Instant::now() + timeout;
        let g = group.to_string();
        let described = self
            .coordinator_call(group, deadline, CONSUMER_GROUP_DESCRIBE, move |_| {
                ConsumerGroupDescribeRequest::default().with_group_ids(vec![GroupId(sb(&g))])
            })
            .await;
        match described {
            Ok((coordinator, resp)) => {
                if let Some(d) = resp.groups.into_iter().next() {
                    if KafkaCode(d.error_code).is_ok() {
                        return Ok(GroupDescription {
                            group_id: group.to_string(),
                            state: d.group_state.to_string(),
                            group_type: GroupType::Consumer,
                            assignor: d.assignor_name.to_string(),
                            coordinator,
                            members: d
                                .members
                                .into_iter()
                                .map(|m| MemberDescription {
                                    member_id: m.member_id.to_string(),
                                    group_instance_id: m.instance_id.map(|s| s.to_string()),
                                    client_id: m.client_id.to_string(),
                                    client_host: m.client_host.to_string(),
                                    assignment: m
                                        .assignment
                                        .topic_partitions
                                        .iter()
                                        .flat_map(|t| t.partitions.iter().map(|p| TopicPartition::new(t.topic_name.0.as_str(), *p)))
                                        .collect(),
                                })
                                .collect(),
                        });
                    }
                    // A classic group (or none): DescribeGroups below.
                    if d.error_code != KafkaCode::GROUP_ID_NOT_FOUND.code() {
                        return Err(Error::broker_code(d.error_code, format!("describing group {group}")));
                    }
                }
            }
            // A broker without KIP-848 (no ConsumerGroupDescribe): the classic path.
            Err(e)
                if matches!(e.kind(), ErrorKind::UnsupportedVersion | ErrorKind::Protocol)
                    || e.code() == Some(KafkaCode::UNSUPPORTED_VERSION.code()) => {}
            Err(e) => return Err(e),
        }
        let g = group.to_string();
        let (coordinator, resp) = self
            .coordinator_call(group, deadline, DESCRIBE_GROUPS, move |_| {
                DescribeGroupsRequest::default().with_groups(vec![GroupId(sb(&g))])
            })
            .await?;
        let d = resp.groups.into_iter().next().ok_or_else(|| Error::protocol("DescribeGroups response lists no group"))?;
        if !KafkaCode(d.error_code).is_ok() && d.error_code != KafkaCode::GROUP_ID_NOT_FOUND.code() {
            return Err(Error::broker_code(d.error_code, format!("describing group {group}")));
        }
        let consumer_protocol = d.protocol_type.as_str() == "consumer";
        let members = d
            .members
            .into_iter()
            .map(|m| {
                // Only groups of the "consumer" protocol type carry ConsumerProtocolAssignment
                // bytes; anything undecodable is shown as no assignment rather than failing.
                let assignment = if consumer_protocol {
                    crate::consumer::assignor::protocol::decode_assignment(&m.member_assignment)
                        .map(|a| a.partitions.iter().map(|tp| TopicPartition::new(&tp.topic, tp.partition)).collect())
                        .unwrap_or_default()
                } else {
                    Vec::new()
                };
                MemberDescription {
                    member_id: m.member_id.to_string(),
                    group_instance_id: m.group_instance_id.map(|s| s.to_string()),
                    client_id: m.client_id.to_string(),
                    client_host: m.client_host.to_string(),
                    assignment,
                }
            })
            .collect();
        let state = if !KafkaCode(d.error_code).is_ok() { "Dead".to_string() } else { d.group_state.to_string() };
        Ok(GroupDescription {
            group_id: group.to_string(),
            state,
            group_type: GroupType::Classic,
            assignor: d.protocol_data.to_string(),
            coordinator,
            members,
        })
    }

    /// Every committed offset of `group` (OffsetFetch with all topics); partitions without a
    /// commit are absent.
    pub async fn list_group_offsets(&self, group: &str, timeout: Duration) -> Result<BTreeMap<TopicPartition, i64>> {
        let deadline = Instant::now() + timeout;
        let g = group.to_string();
        let (_, resp) = self
            .coordinator_call(group, deadline, OFFSET_FETCH, move |_| {
                OffsetFetchRequest::default().with_group_id(GroupId(sb(&g))).with_topics(None)
            })
            .await?;
        if !KafkaCode(resp.error_code).is_ok() {
            return Err(Error::broker_code(resp.error_code, format!("fetching the offsets of group {group}")));
        }
        let mut out = BTreeMap::new();
        for t in resp.topics {
            for p in t.partitions {
                if !KafkaCode(p.error_code).is_ok() {
                    return Err(Error::broker_code(p.error_code, format!("offset of group {group} for {}-{}", t.name.0, p.partition_index)));
                }
                if p.committed_offset >= 0 {
                    out.insert(TopicPartition::new(t.name.0.as_str(), p.partition_index), p.committed_offset);
                }
            }
        }
        Ok(out)
    }

    /// Commits `offsets` for `group` from outside it (generation -1, no member id), as Java's
    /// `alterConsumerGroupOffsets`: the coordinator accepts this only while the group has no
    /// members (UNKNOWN_MEMBER_ID otherwise).
    pub async fn alter_group_offsets(&self, group: &str, offsets: &BTreeMap<TopicPartition, i64>, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let mut by_topic: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
        for (tp, o) in offsets {
            by_topic.entry(tp.topic.to_string()).or_default().push((tp.partition, *o));
        }
        let g = group.to_string();
        let (_, resp) = self
            .coordinator_call(group, deadline, OFFSET_COMMIT, move |v| {
                let topics = by_topic
                    .iter()
                    .map(|(t, parts)| {
                        OffsetCommitRequestTopic::default().with_name(TopicName(sb(t))).with_partitions(
                            parts
                                .iter()
                                .map(|(p, o)| {
                                    OffsetCommitRequestPartition::default()
                                        .with_partition_index(*p)
                                        .with_committed_offset(*o)
                                        .with_committed_leader_epoch(-1)
                                })
                                .collect(),
                        )
                    })
                    .collect();
                let req = OffsetCommitRequest::default()
                    .with_group_id(GroupId(sb(&g)))
                    .with_generation_id_or_member_epoch(-1)
                    .with_member_id(StrBytes::default())
                    .with_topics(topics);
                if (2..=4).contains(&v) {
                    req.with_retention_time_ms(-1)
                } else {
                    req
                }
            })
            .await?;
        for t in resp.topics {
            for p in t.partitions {
                if !KafkaCode(p.error_code).is_ok() {
                    let what = if p.error_code == KafkaCode::UNKNOWN_MEMBER_ID.code() {
                        format!("group {group} has active members: stop them before resetting its offsets")
                    } else {
                        format!("committing the offset of group {group} for {}-{}", t.name.0, p.partition_index)
                    };
                    return Err(Error::broker_code(p.error_code, what));
                }
            }
        }
        Ok(())
    }

    /// Deletes `group` (its committed offsets with it). The coordinator refuses a group with
    /// members (NON_EMPTY_GROUP) and an unknown one (GROUP_ID_NOT_FOUND).
    pub async fn delete_group(&self, group: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let g = group.to_string();
        let (_, resp) = self
            .coordinator_call(group, deadline, DELETE_GROUPS, move |_| {
                DeleteGroupsRequest::default().with_groups_names(vec![GroupId(sb(&g))])
            })
            .await?;
        match resp.results.into_iter().next() {
            Some(r) if KafkaCode(r.error_code).is_ok() => Ok(()),
            Some(r) => Err(Error::broker_code(r.error_code, format!("deleting group {group}"))),
            None => Err(Error::protocol("DeleteGroups response lists no group")),
        }
    }

    /// The coordinator of `group`.
    async fn find_coordinator(&self, group: &str) -> Result<i32> {
        if self.cluster.snapshot().brokers.is_empty() {
            self.cluster.refresh(Some(&[]), "admin: find a coordinator").await?;
        }
        let g = group.to_string();
        // v4 (KIP-699) batches keys in `coordinator_keys`; older versions take one `key`.
        let build = move |v: i16| {
            let req = FindCoordinatorRequest::default();
            if v >= 4 {
                req.with_coordinator_keys(vec![sb(&g)])
            } else {
                req.with_key(sb(&g))
            }
        };
        let resp = self.cluster.net.send_built(Target::AnyNode, OpenReason::Coordinator, FIND_COORDINATOR, None, build).await?;
        let (code, node) = match resp.coordinators.first() {
            Some(c) => (c.error_code, c.node_id.0),
            None => (resp.error_code, resp.node_id.0),
        };
        if code != 0 {
            return Err(Error::broker_code(code, format!("finding the coordinator of group {group}")));
        }
        if !self.cluster.snapshot().brokers.contains_key(&node) {
            self.cluster.refresh(Some(&[]), "admin: coordinator not in metadata").await?;
        }
        Ok(node)
    }

    /// Sends a group request to the coordinator, finding it again after coordinator errors
    /// (in the response's top-level or first group's code) and retriable failures.
    async fn coordinator_call<R, F>(
        &self,
        group: &str,
        deadline: Instant,
        versions: (i16, i16),
        build: F,
    ) -> Result<(i32, R::Response)>
    where
        R: Request + Send + 'static,
        R::Response: GroupErrorCode,
        F: Fn(i16) -> R + Send + Sync + Clone + 'static,
    {
        let mut attempt = 0u32;
        loop {
            let step = async {
                let node = self.find_coordinator(group).await?;
                let b = build.clone();
                let resp = self.cluster.net.send_built(Target::Broker(node), OpenReason::Admin, versions, None, b).await?;
                match resp.group_error_code() {
                    Some(code) if KafkaCode(code).is_coordinator_error() => {
                        Err(Error::broker_code(code, format!("group {group}: coordinator moved")))
                    }
                    _ => Ok((node, resp)),
                }
            };
            let e = match tokio::time::timeout_at(deadline, step).await {
                Err(_) => return Err(Error::new(ErrorKind::Timeout, format!("group {group}: no answer from its coordinator in time"))),
                Ok(Ok(r)) => return Ok(r),
                Ok(Err(e)) => e,
            };
            let again = e.is_retriable() || e.code().is_some_and(|c| KafkaCode(c).is_coordinator_error());
            let wait = super::cluster_backoff(&self.cluster, attempt);
            attempt += 1;
            if !again || Instant::now() + wait >= deadline {
                return Err(e);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// The group-level error code of a group response, for coordinator retries.
trait GroupErrorCode {
    fn group_error_code(&self) -> Option<i16>;
}

impl GroupErrorCode for kafka_protocol::messages::ConsumerGroupDescribeResponse {
    fn group_error_code(&self) -> Option<i16> {
        self.groups.first().map(|g| g.error_code)
    }
}

impl GroupErrorCode for kafka_protocol::messages::DescribeGroupsResponse {
    fn group_error_code(&self) -> Option<i16> {
        self.groups.first().map(|g| g.error_code)
    }
}

impl GroupErrorCode for kafka_protocol::messages::OffsetFetchResponse {
    fn group_error_code(&self) -> Option<i16> {
        Some(self.error_code)
    }
}

impl GroupErrorCode for kafka_protocol::messages::OffsetCommitResponse {
    fn group_error_code(&self) -> Option<i16> {
        self.topics.first().and_then(|t| t.partitions.first()).map(|p| p.error_code)
    }
}

impl GroupErrorCode for kafka_protocol::messages::DeleteGroupsResponse {
    fn group_error_code(&self) -> Option<i16> {
        self.results.first().map(|r| r.error_code)
    }
}

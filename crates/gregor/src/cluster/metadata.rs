//! Cluster metadata: the cache of brokers, topics and partition leaders, and when to refresh it.
//!
//! Java's `Metadata`/`ConsumerMetadata`: refresh every `metadata.max.age.ms` (300000), and at
//! once (rate-limited by `retry.backoff.ms` → `retry.backoff.max.ms`) when something shows it
//! is stale: a leader error (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH, ...), a disconnect, a
//! new subscription. Every request for an update carries a reason, logged with it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use kafka_protocol::messages::MetadataResponse;
use tokio::time::Instant;
use uuid::Uuid;

use crate::net::backoff::ExponentialBackoff;

/// A broker as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerInfo {
    pub(crate) id: i32,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) rack: Option<String>,
}

/// One partition's leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionInfo {
    pub(crate) partition: i32,
    /// -1 when the partition has no leader right now.
    pub(crate) leader: i32,
    pub(crate) leader_epoch: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) error: i16,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TopicInfo {
    pub(crate) name: String,
    pub(crate) id: Uuid,
    pub(crate) internal: bool,
    pub(crate) error: i16,
    pub(crate) partitions: Vec<PartitionInfo>,
}

/// An immutable view of the cluster at one moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) cluster_id: Option<String>,
    pub(crate) brokers: BTreeMap<i32, BrokerInfo>,
    pub(crate) topics: HashMap<String, TopicInfo>,
}

impl Snapshot {
    /// Builds a snapshot from a Metadata response. Values from the wire are checked: a port
    /// outside 1..=65535 drops that broker instead of panicking or connecting to garbage.
    pub(crate) fn from_response(resp: &MetadataResponse) -> Snapshot {
        let brokers = resp
            .brokers
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok().filter(|p| *p != 0)?;
                Some((
                    b.node_id.0,
                    BrokerInfo {
                        id: b.node_id.0,
                        host: b.host.to_string(),
                        port,
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                    },
                ))
            })
            .collect();
        let topics = resp
            .topics
            .iter()
            .filter_map(|t| {
                let name = t.name.as_ref()?.0.to_string();
                let mut partitions: Vec<PartitionInfo> = t
                    .partitions
                    .iter()
                    .map(|p| PartitionInfo {
                        partition: p.partition_index,
                        leader: p.leader_id.0,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.iter().map(|r| r.0).collect(),
                        error: p.error_code,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                Some((
                    name.clone(),
                    TopicInfo { name, id: t.topic_id, internal: t.is_internal, error: t.error_code, partitions },
                ))
            })
            .collect();
        Snapshot { cluster_id: resp.cluster_id.as_ref().map(|c| c.to_string()), brokers, topics }
    }

    /// Merges a response about some topics into this snapshot (a partial refresh keeps the
    /// other topics it already knew).
    ///
    /// A partition whose leader epoch in the response is older than the one already known keeps
    /// what is known: the answering broker's metadata cache lags (it may just have restarted),
    /// and going back to an old leader would only earn NOT_LEADER_OR_FOLLOWER or
    /// FENCED_LEADER_EPOCH (Java `Metadata.updateLatestMetadata` ignores such partitions too).
    pub(crate) fn merged(&self, newer: Snapshot, topics_requested: Option<&[String]>) -> Snapshot {
        let mut out = newer;
        for (name, t) in out.topics.iter_mut() {
            let Some(old) = self.topics.get(name).filter(|o| o.id == t.id) else { continue };
            for p in t.partitions.iter_mut() {
                if let Some(known) = old.partitions.iter().find(|o| o.partition == p.partition) {
                    if known.leader_epoch >= 0 && p.leader_epoch < known.leader_epoch {
                        tracing::debug!(
                            topic = %name,
                            partition = p.partition,
                            stale_epoch = p.leader_epoch,
                            known_epoch = known.leader_epoch,
                            "ignoring stale partition metadata"
                        );
                        *p = known.clone();
                    }
                }
            }
        }
        if let Some(requested) = topics_requested {
            for (name, t) in &self.topics {
                if !requested.contains(name) && !out.topics.contains_key(name) {
                    out.topics.insert(name.clone(), t.clone());
                }
            }
        }
        out
    }

    pub(crate) fn leader(&self, topic: &str, partition: i32) -> Option<i32> {
        let p = self.partition(topic, partition)?;
        (p.leader >= 0).then_some(p.leader)
    }

    /// The fetch planner asks this for every assigned partition on every pass, so it must not
    /// scan: brokers list partitions 0..n in order, so index `partition` is tried first; the scan
    /// is only for a response that lists them otherwise (issue #14: with 2000 partitions the
    /// scan alone was half of the consumer's CPU).
    pub(crate) fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionInfo> {
        let parts = &self.topics.get(topic)?.partitions;
        match usize::try_from(partition).ok().and_then(|i| parts.get(i)) {
            Some(p) if p.partition == partition => Some(p),
            _ => parts.iter().find(|p| p.partition == partition),
        }
    }

    pub(crate) fn topic_name_by_id(&self, id: Uuid) -> Option<&str> {
        self.topics.values().find(|t| t.id == id).map(|t| t.name.as_str())
    }
}

/// When to refresh (sans-io: explicit time).
#[derive(Debug)]
pub(crate) struct RefreshPolicy {
    max_age: Duration,
    backoff: ExponentialBackoff,
    last_success: Option<Instant>,
    last_attempt: Option<Instant>,
    failures: u32,
    /// Why an update is wanted now, if it is.
    wanted: Option<String>,
}

impl RefreshPolicy {
    pub(crate) fn new(max_age: Duration, retry: ExponentialBackoff) -> Self {
        RefreshPolicy {
            max_age,
            backoff: retry,
            last_success: None,
            last_attempt: None,
            failures: 0,
            wanted: Some("initial".into()),
        }
    }

    /// Ask for an update as soon as the rate limit allows.
    pub(crate) fn request_update(&mut self, reason: impl Into<String>) {
        if self.wanted.is_none() {
            self.wanted = Some(reason.into());
        }
    }

    /// The instant the next refresh is due, and why.
    pub(crate) fn next_due(&self) -> (Instant, String) {
        let earliest = match self.last_attempt {
            // Rate limit: retry.backoff.ms, growing while refreshes fail.
            Some(t) => t + self.backoff.base(self.failures.saturating_sub(1).min(16)),
            None => Instant::now() - Duration::from_secs(1),
        };
        if let Some(w) = &self.wanted {
            return (earliest, w.clone());
        }
        match self.last_success {
            Some(t) => ((t + self.max_age).max(earliest), "metadata.max.age.ms elapsed".into()),
            None => (earliest, "no metadata yet".into()),
        }
    }

    pub(crate) fn attempted(&mut self, now: Instant) {
        self.last_attempt = Some(now);
    }

    pub(crate) fn succeeded(&mut self, now: Instant) {
        self.last_success = Some(now);
        self.failures = 0;
        self.wanted = None;
    }

    /// A refresh failed: the data is still wanted, so the next attempt is due after the
    /// (growing) retry backoff, not at the next `metadata.max.age.ms` (Java `Metadata`: a failed
    /// update leaves the update needed). Without this, a caller that retries until its
    /// deadline (`partitions_for`, `end_offsets`, a subscription) gave up after the first failed
    /// attempt, e.g. one sent on a connection a restarting broker was closing (found by the
    /// chaos suite).
    pub(crate) fn failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
        self.wanted.get_or_insert_with(|| "the previous refresh failed".into());
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn resp() -> MetadataResponse {
        let b = |id: i32, port: i32| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(id))
                .with_host(StrBytes::from_static_str("localhost"))
                .with_port(port)
        };
        let p = |i: i32, l: i32| MetadataResponsePartition::default().with_partition_index(i).with_leader_id(BrokerId(l));
        MetadataResponse::default()
            .with_brokers(vec![b(0, 9092), b(1, 9093), b(2, 70000)])
            .with_topics(vec![MetadataResponseTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("t"))))
                .with_partitions(vec![p(1, 1), p(0, 0), p(2, -1)])])
    }

    #[test]
    fn snapshot_drops_invalid_ports_and_sorts_partitions() {
        let s = Snapshot::from_response(&resp());
        assert_eq!(s.brokers.keys().copied().collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(s.leader("t", 1), Some(1));
        assert_eq!(s.leader("t", 2), None, "no leader");
        assert_eq!(s.topics["t"].partitions[0].partition, 0);
        assert_eq!(s.topics["t"].partitions.len(), 3);
    }

    #[test]
    fn partition_lookup_indexes_when_dense_and_still_finds_partitions_after_a_gap() {
        let part = |i: i32| PartitionInfo { partition: i, leader: i + 10, leader_epoch: 0, replicas: vec![], error: 0 };
        let topic = |parts: Vec<PartitionInfo>| TopicInfo {
            name: "t".into(),
            id: Uuid::nil(),
            internal: false,
            error: 0,
            partitions: parts,
        };
        let mut s = Snapshot::default();
        s.topics.insert("t".into(), topic((0..2000).map(part).collect()));
        assert_eq!(s.leader("t", 1999), Some(2009));
        assert_eq!(s.leader("t", 2000), None);
        assert_eq!(s.leader("t", -1), None, "a hostile index finds nothing, without panicking");
        // A listing with a hole (partition 1 missing): index 1 holds partition 2.
        s.topics.insert("t".into(), topic(vec![part(0), part(2), part(3)]));
        assert_eq!(s.partition("t", 2).map(|p| p.partition), Some(2));
        assert_eq!(s.leader("t", 3), Some(13));
        assert_eq!(s.leader("t", 1), None);
        assert_eq!(s.leader("u", 0), None);
    }

    /// Issue #19: a broker that just restarted answers Metadata from a lagging cache; an older
    /// leader epoch must not send the consumer back to the old leader.
    #[test]
    fn stale_leader_epochs_do_not_replace_newer_ones() {
        let mut known = Snapshot::from_response(&resp());
        known.topics.get_mut("t").unwrap().partitions[0].leader_epoch = 5;
        known.topics.get_mut("t").unwrap().partitions[1].leader_epoch = 5;
        let mut stale = Snapshot::from_response(&resp());
        {
            let parts = &mut stale.topics.get_mut("t").unwrap().partitions;
            parts[0].leader = 1;
            parts[0].leader_epoch = 4; // older: ignored
            parts[1].leader = 0;
            parts[1].leader_epoch = 6; // newer: taken
        }
        let merged = known.merged(stale, None);
        assert_eq!((merged.leader("t", 0), merged.partition("t", 0).unwrap().leader_epoch), (Some(0), 5));
        assert_eq!((merged.leader("t", 1), merged.partition("t", 1).unwrap().leader_epoch), (Some(0), 6));
    }

    #[test]
    fn refresh_policy_rate_limits_and_honours_max_age() {
        let t0 = Instant::now();
        let mut p = RefreshPolicy::new(
            Duration::from_millis(300_000),
            ExponentialBackoff::new(Duration::from_millis(100), Duration::from_millis(1000)),
        );
        assert!(p.next_due().0 <= t0);
        p.attempted(t0);
        p.succeeded(t0);
        assert_eq!(p.next_due().0, t0 + Duration::from_millis(300_000));
        p.request_update("NOT_LEADER_OR_FOLLOWER on t-0");
        let (due, why) = p.next_due();
        assert_eq!(due, t0 + Duration::from_millis(100));
        assert!(why.contains("NOT_LEADER"));
        p.attempted(t0 + Duration::from_millis(100));
        p.failed();
        p.failed();
        assert_eq!(p.next_due().0, t0 + Duration::from_millis(300));
    }

    #[test]
    fn a_failed_refresh_is_retried_after_the_backoff_not_the_max_age() {
        let t0 = Instant::now();
        let mut p = RefreshPolicy::new(
            Duration::from_millis(300_000),
            ExponentialBackoff::new(Duration::from_millis(100), Duration::from_millis(1000)),
        );
        p.attempted(t0);
        p.succeeded(t0);
        let t1 = t0 + Duration::from_secs(60);
        p.attempted(t1);
        p.failed();
        let (due, why) = p.next_due();
        assert_eq!(due, t1 + Duration::from_millis(100));
        assert!(why.contains("failed"), "{why}");
        p.attempted(due);
        p.succeeded(due);
        assert_eq!(p.next_due().0, due + Duration::from_millis(300_000));
    }
}

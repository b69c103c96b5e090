//! Small administrative helpers: create, list and delete topics.
//!
//! Enough for the CLI, tests and benchmarks to set up topics; not a full admin client.
//! CreateTopics and DeleteTopics go to any broker: since KIP-590 (Kafka 2.8) a KRaft broker
//! forwards them to the active controller, and in KRaft mode Metadata's `controller_id` is a
//! random broker anyway. Each call then waits until metadata shows the change (a created topic
//! with a leader for every partition, a deleted topic gone), refreshing at the pace of
//! `retry.backoff.ms` — the same wait Java's tools do before producing to a new topic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{CreateTopicsRequest, DeleteTopicsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use crate::cluster::metadata::Snapshot;
use crate::cluster::{Cluster, ClusterSettings};
use crate::config::NetConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::net::events::OpenReason;
use crate::net::manager::Target;
use crate::protocol_errors::KafkaCode;

#[path = "admin_metadata.rs"]
mod metadata;
pub use metadata::{BrokerMetadata, ClusterMetadata, PartitionMetadata, TopicMetadata};
#[path = "admin_groups.rs"]
mod groups;
pub use groups::{GroupDescription, GroupListing, GroupType, MemberDescription};

const NONE: i16 = KafkaCode::NONE.0;
const TOPIC_ALREADY_EXISTS: i16 = KafkaCode::TOPIC_ALREADY_EXISTS.0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = KafkaCode::UNKNOWN_TOPIC_OR_PARTITION.0;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// The topic name.
    pub name: String,
    /// Number of partitions (-1: the broker's `num.partitions`).
    pub partitions: i32,
    /// Replication factor (-1: the broker's `default.replication.factor`).
    pub replication_factor: i16,
}

impl NewTopic {
    /// A topic with `partitions` partitions and `replication_factor` replicas.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        NewTopic { name: name.into(), partitions, replication_factor }
    }
}

/// A handle for administrative requests to one cluster. Opens nothing until the first call.
///
/// It connects like the client whose configuration it is given: the connection part
/// ([`NetConfig`]: bootstrap servers, timeouts, `security.protocol`, `ssl.*`, `sasl.*`) of a
/// [`ProducerConfig`](crate::ProducerConfig) or [`ConsumerConfig`](crate::ConsumerConfig).
///
/// ```no_run
/// # async fn demo() -> gregor::Result<()> {
/// use std::time::Duration;
/// use gregor::{Admin, NewTopic, ProducerConfig};
/// let config = ProducerConfig::from_properties_file("producer.properties")?;
/// let admin = Admin::new(&config.net)?; // same TLS/SASL settings as the producer
/// admin.create_topics(&[NewTopic::new("orders", 6, 3)], true, Duration::from_secs(30)).await?;
/// admin.close(Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Admin {
    cluster: Arc<Cluster>,
}

impl Admin {
    /// An admin handle with the connection and security settings of `net` (validated here).
    /// `default.api.timeout.ms` has no meaning here: every call takes its own timeout.
    pub fn new(net: &NetConfig) -> Result<Admin> {
        let mut net = net.clone();
        net.validate()?;
        // The calls carry their own timeout; 60 s (Java's default.api.timeout.ms) bounds the
        // metadata waits the cluster layer does on its own.
        let api_timeout = Duration::from_millis(60_000);
        Ok(Admin { cluster: Cluster::new(ClusterSettings::from_net(&net, api_timeout, false, crate::telemetry::ClientKind::Admin)) })
    }

    /// An admin handle from Java-style connection and security properties
    /// (`bootstrap.servers`, `security.protocol`, `ssl.*`, `sasl.*`, timeouts, ...). A key
    /// that is not one of those is an error naming the nearest one.
    pub fn from_properties<K: AsRef<str>, V: AsRef<str>>(entries: impl IntoIterator<Item = (K, V)>) -> Result<Admin> {
        let mut net = NetConfig::producer_defaults();
        for (k, v) in entries {
            let (k, v) = (k.as_ref().trim(), v.as_ref());
            if net.set(k, v)? {
                continue;
            }
            // Java-only keys that apply to both clients (the admin client takes the shared ones).
            match crate::config::keys::check_java_only(k, v, false)
                .filter(|_| crate::config::keys::check_java_only(k, v, true).is_some())
            {
                Some(checked) => checked?,
                None => return Err(crate::config::keys::unknown_admin_key(k).into()),
            }
        }
        Admin::new(&net)
    }

    /// Creates `topics` and waits (up to `timeout`) until metadata shows each with a leader
    /// for every partition. With `if_not_exists`, a topic that already exists is not an error.
    pub async fn create_topics(&self, topics: &[NewTopic], if_not_exists: bool, timeout: Duration) -> Result<()> {
        let t: Vec<(String, i32, i16)> =
            topics.iter().map(|t| (t.name.clone(), t.partitions, t.replication_factor)).collect();
        create_topics(&self.cluster, &t, if_not_exists, timeout).await
    }

    /// Deletes `topics` and waits (up to `timeout`) until metadata no longer lists them. With
    /// `if_exists`, a topic that does not exist is not an error.
    pub async fn delete_topics(&self, topics: &[&str], if_exists: bool, timeout: Duration) -> Result<()> {
        delete_topics(&self.cluster, topics, if_exists, timeout).await
    }

    /// Every non-internal topic with its partition count.
    pub async fn list_topics(&self) -> Result<BTreeMap<String, usize>> {
        list_topics(&self.cluster).await
    }

    /// Closes the connections (waiting up to `timeout`).
    pub async fn close(&self, timeout: Duration) {
        self.cluster.close(timeout).await
    }
}

/// CreateTopics, then wait for metadata. See [`Admin::create_topics`].
pub(crate) async fn create_topics(
    cluster: &Cluster,
    topics: &[(String, i32, i16)],
    exists_ok: bool,
    timeout: Duration,
) -> Result<()> {
    if topics.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut todo: Vec<&(String, i32, i16)> = topics.iter().collect();
    // Retriable failures (NOT_CONTROLLER while the controller moves, a dropped connection)
    // retry with retry.backoff.ms until the deadline.
    let mut attempt = 0u32;
    while !todo.is_empty() {
        let req = CreateTopicsRequest::default().with_timeout_ms(timeout_ms).with_topics(
            todo.iter()
                .map(|(name, p, rf)| {
                    CreatableTopic::default()
                        .with_name(TopicName(StrBytes::from_string(name.clone())))
                        .with_num_partitions(*p)
                        .with_replication_factor(*rf)
                })
                .collect(),
        );
        let sent = tokio::time::timeout_at(deadline, cluster.net.send(Target::AnyNode, OpenReason::Admin, req)).await;
        let mut retry = Vec::new();
        let mut last_err = None;
        match sent {
            Err(_) => return Err(timed_out("CreateTopics", timeout)),
            Ok(Err(e)) if e.is_retriable() => {
                retry = todo.clone();
                last_err = Some(e);
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(resp)) => {
                for t in &todo {
                    let r = resp.topics.iter().find(|r| r.name.0.as_str() == t.0);
                    match r.map(|r| (r.error_code, r.error_message.as_ref().map(|m| m.to_string()))) {
                        Some((NONE, _)) => {}
                        Some((TOPIC_ALREADY_EXISTS, _)) if exists_ok => {}
                        Some((code, msg)) => {
                            let e = Error::broker_code(
                                code,
                                format!("creating topic {}{}", t.0, msg.map(|m| format!(" ({m})")).unwrap_or_default()),
                            );
                            if !e.is_retriable() {
                                return Err(e);
                            }
                            retry.push(*t);
                            last_err = Some(e);
                        }
                        None => {
                            retry.push(*t);
                            last_err = Some(Error::protocol(format!("CreateTopics response omits topic {}", t.0)));
                        }
                    }
                }
            }
        }
        if !retry.is_empty() {
            let wait = cluster_backoff(cluster, attempt);
            attempt += 1;
            if Instant::now() + wait >= deadline {
                let e = timed_out("CreateTopics", timeout);
                return Err(match last_err {
                    Some(l) => e.with_source(l),
                    None => e,
                });
            }
            tokio::time::sleep(wait).await;
        }
        todo = retry;
    }
    let names: Vec<String> = topics.iter().map(|t| t.0.clone()).collect();
    wait_for_metadata(cluster, &names, deadline, timeout, |snap| {
        topics.iter().all(|(name, partitions, _)| {
            snap.topics.get(name).is_some_and(|t| {
                t.error == NONE
                    && !t.partitions.is_empty()
                    && (*partitions <= 0 || t.partitions.len() as i32 >= *partitions)
                    && t.partitions.iter().all(|p| p.leader >= 0)
            })
        })
    })
    .await
}

/// DeleteTopics, then wait for metadata. See [`Admin::delete_topics`].
pub(crate) async fn delete_topics(cluster: &Cluster, topics: &[&str], missing_ok: bool, timeout: Duration) -> Result<()> {
    if topics.is_empty() {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let name = |t: &str| TopicName(StrBytes::from_string(t.to_string()));
    // v0-5 carry `topic_names`, v6+ `topics`: fill both, the encoder writes the right one.
    let req = DeleteTopicsRequest::default()
        .with_timeout_ms(timeout_ms)
        .with_topic_names(topics.iter().map(|t| name(t)).collect())
        .with_topics(topics.iter().map(|t| DeleteTopicState::default().with_name(Some(name(t)))).collect());
    let resp = tokio::time::timeout_at(deadline, cluster.net.send(Target::AnyNode, OpenReason::Admin, req))
        .await
        .map_err(|_| timed_out("DeleteTopics", timeout))??;
    for r in &resp.responses {
        match r.error_code {
            NONE => {}
            UNKNOWN_TOPIC_OR_PARTITION if missing_ok => {}
            code => {
                let topic = r.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
                return Err(Error::broker_code(code, format!("deleting topic {topic}")));
            }
        }
    }
    let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
    wait_for_metadata(cluster, &names, deadline, timeout, |snap| {
        // A deleted topic is either absent or reported as UNKNOWN_TOPIC_OR_PARTITION.
        names.iter().all(|n| !matches!(snap.topics.get(n), Some(t) if t.error != UNKNOWN_TOPIC_OR_PARTITION))
    })
    .await
}

/// Every non-internal topic with its partition count.
pub(crate) async fn list_topics(cluster: &Cluster) -> Result<BTreeMap<String, usize>> {
    let snap = cluster.refresh(None, "list topics").await?;
    Ok(snap
        .topics
        .values()
        .filter(|t| !t.internal && t.error == NONE)
        .map(|t| (t.name.clone(), t.partitions.len()))
        .collect())
}

/// Refreshes metadata for `topics` until `done` holds, rate-limited by `retry.backoff.ms`.
async fn wait_for_metadata(
    cluster: &Cluster,
    topics: &[String],
    deadline: Instant,
    timeout: Duration,
    done: impl Fn(&Snapshot) -> bool,
) -> Result<()> {
    loop {
        cluster.request_update("admin: waiting for a topic change to show in metadata");
        let due = cluster.next_refresh();
        if due > Instant::now() {
            if due >= deadline {
                return Err(timed_out("waiting for metadata", timeout));
            }
            tokio::time::sleep_until(due).await;
        }
        match tokio::time::timeout_at(deadline, cluster.refresh_once(Some(topics), "admin: topic change")).await {
            Err(_) => return Err(timed_out("waiting for metadata", timeout)),
            Ok(Ok(snap)) if done(&snap) => return Ok(()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) if !e.is_retriable() => return Err(e),
            Ok(Err(_)) => {}
        }
    }
}

fn cluster_backoff(cluster: &Cluster, attempt: u32) -> Duration {
    let (base, max) = cluster.settings.retry_backoff;
    crate::net::backoff::ExponentialBackoff::new(base, max).jittered(attempt, rand::random())
}

fn timed_out(what: &str, timeout: Duration) -> Error {
    Error::new(ErrorKind::Timeout, format!("{what} did not complete within {} ms", timeout.as_millis()))
}

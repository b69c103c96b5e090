//! `MockCluster`: the public handle tests and the CLI use.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::accounting::{ConnectionRecord, TimedOut};
use crate::faults::{InjectedError, Malformed, MalformedRule};
use crate::log::split_batches;
use crate::state::{group_timer, BrokerInfo, Shared};

/// Builds and starts a [`MockCluster`].
#[derive(Debug, Clone)]
pub struct MockClusterBuilder {
    brokers: usize,
    ports: Option<Vec<u16>>,
    topics: Vec<(String, i32)>,
    rebalance_delay: Duration,
    consumer_heartbeat_interval: Duration,
    consumer_session_timeout: Duration,
    racks: Vec<String>,
    replication_factor: Option<usize>,
    auto_create_partitions: Option<i32>,
    transaction_version: i16,
}

impl Default for MockClusterBuilder {
    fn default() -> Self {
        MockClusterBuilder {
            brokers: 3,
            ports: None,
            topics: Vec::new(),
            rebalance_delay: Duration::ZERO,
            consumer_heartbeat_interval: Duration::from_millis(500),
            consumer_session_timeout: Duration::from_secs(45),
            racks: Vec::new(),
            replication_factor: None,
            auto_create_partitions: None,
            transaction_version: 0,
        }
    }
}

impl MockClusterBuilder {
    /// Number of brokers (ids 0..n-1). Default 3.
    pub fn brokers(mut self, n: usize) -> Self {
        self.brokers = n.max(1);
        self
    }

    /// Fixed listener ports, one per broker (default: ephemeral ports).
    pub fn ports(mut self, ports: Vec<u16>) -> Self {
        self.ports = Some(ports);
        self
    }

    /// Broker `i` listens on `base + i`.
    pub fn port_base(mut self, base: u16) -> Self {
        self.ports = Some((0..self.brokers as u16).map(|i| base + i).collect());
        self
    }

    /// A topic created at start.
    pub fn topic(mut self, name: &str, partitions: i32) -> Self {
        self.topics.push((name.to_string(), partitions));
        self
    }

    /// `group.initial.rebalance.delay.ms` (default 0; Kafka's own default is 3000).
    pub fn rebalance_delay(mut self, d: Duration) -> Self {
        self.rebalance_delay = d;
        self
    }

    /// KIP-848 `group.consumer.heartbeat.interval.ms` the coordinator hands to members
    /// (default 500 ms; Kafka's default is 5000).
    pub fn consumer_heartbeat_interval(mut self, d: Duration) -> Self {
        self.consumer_heartbeat_interval = d;
        self
    }

    /// KIP-848 `group.consumer.session.timeout.ms` (default 45 s, as Kafka's).
    pub fn consumer_session_timeout(mut self, d: Duration) -> Self {
        self.consumer_session_timeout = d;
        self
    }

    /// `broker.rack` of broker `i` is `racks[i]` (brokers beyond the list have no rack).
    /// Racks also make every partition replicated on all brokers unless
    /// [`replication_factor`](Self::replication_factor) says otherwise, and turn on the
    /// leader's KIP-392 rack-aware replica selection (Java's `RackAwareReplicaSelector`).
    pub fn racks(mut self, racks: &[&str]) -> Self {
        self.racks = racks.iter().map(|r| r.to_string()).collect();
        self
    }

    /// Replicas per partition (capped at the broker count). Default 1 (leader only), or all
    /// brokers when [`racks`](Self::racks) are set. Followers serve consumer fetches.
    pub fn replication_factor(mut self, n: usize) -> Self {
        self.replication_factor = Some(n.max(1));
        self
    }

    /// Lets Metadata requests create unknown topics with `partitions` partitions, like a broker
    /// with `auto.create.topics.enable=true` and `num.partitions` (off by default). Only
    /// requests that allow it (`allow_auto_topic_creation`, Metadata v4+; always before v4) do.
    pub fn auto_create_topics(mut self, partitions: i32) -> Self {
        self.auto_create_partitions = Some(partitions.max(1));
        self
    }

    /// The finalized `transaction.version` feature the brokers advertise in ApiVersions v3+
    /// (KIP-890): 0 (default) lists none, so clients use transaction version 1; 2 enables
    /// version 2 (no AddPartitionsToTxn / AddOffsetsToTxn, an epoch bump at every EndTxn).
    pub fn transaction_version(mut self, level: i16) -> Self {
        self.transaction_version = level.max(0);
        self
    }

    /// Binds every listener on 127.0.0.1 and starts serving.
    pub async fn start(self) -> std::io::Result<MockCluster> {
        let shared = Shared::new(self.rebalance_delay);
        {
            let mut st = shared.state();
            st.auto_create_partitions = self.auto_create_partitions;
            st.txns.transaction_version = self.transaction_version;
            st.cgroups.heartbeat_interval = self.consumer_heartbeat_interval;
            st.cgroups.session_timeout = self.consumer_session_timeout;
            st.replication_factor = self.replication_factor.unwrap_or(if self.racks.is_empty() {
                1
            } else {
                self.brokers
            });
        }
        let mut brokers = BTreeMap::new();
        for i in 0..self.brokers {
            let port = self
                .ports
                .as_ref()
                .and_then(|p| p.get(i).copied())
                .unwrap_or(0);
            let listener = TcpListener::bind(("127.0.0.1", port)).await?;
            let addr = listener.local_addr()?;
            shared.state().brokers.insert(
                i as i32,
                BrokerInfo {
                    advertised_host: "127.0.0.1".into(),
                    advertised_port: addr.port() as i32,
                    up: true,
                    rack: self.racks.get(i).cloned(),
                },
            );
            let (kill, kill_rx) = watch::channel(0u64);
            let task = tokio::spawn(crate::broker::run_listener(
                shared.clone(),
                i as i32,
                listener,
                kill_rx,
            ));
            brokers.insert(
                i as i32,
                BrokerRt {
                    addr,
                    listener: Some(task),
                    kill,
                },
            );
        }
        for (name, p) in &self.topics {
            shared.state().create_topic(name, *p);
        }
        let timer = tokio::spawn(group_timer(shared.clone()));
        Ok(MockCluster {
            shared,
            brokers: Mutex::new(brokers),
            timer,
        })
    }
}

struct BrokerRt {
    addr: SocketAddr,
    listener: Option<JoinHandle<()>>,
    kill: watch::Sender<u64>,
}

/// A group as the coordinator currently sees it.
#[derive(Debug, Clone)]
pub struct GroupSnapshot {
    /// "Empty", "PreparingRebalance", "CompletingRebalance" or "Stable".
    pub state: String,
    /// Current generation id.
    pub generation: i32,
    /// Chosen protocol (assignor) name.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// Members in member-id order.
    pub members: Vec<MemberSnapshot>,
}

/// One group member.
#[derive(Debug, Clone)]
pub struct MemberSnapshot {
    /// Member id assigned by the coordinator.
    pub member_id: String,
    /// `group.instance.id` for static members.
    pub instance_id: Option<String>,
    /// Client id from the JoinGroup request header.
    pub client_id: String,
    /// The assignment bytes from the leader's SyncGroup (consumer protocol encoded).
    pub assignment: Bytes,
}

/// A KIP-848 consumer group as the coordinator sees it.
#[derive(Debug, Clone)]
pub struct ConsumerGroupSnapshot {
    /// Group epoch.
    pub epoch: i32,
    /// Epoch of the current target assignment.
    pub assignment_epoch: i32,
    /// Server-side assignor in use ("uniform" or "range").
    pub assignor: String,
    /// Members in member-id order.
    pub members: Vec<ConsumerMemberSnapshot>,
}

/// One KIP-848 member.
#[derive(Debug, Clone)]
pub struct ConsumerMemberSnapshot {
    /// Member id (client-generated from ConsumerGroupHeartbeat v1).
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub instance_id: Option<String>,
    /// Member epoch.
    pub epoch: i32,
    /// Subscribed topics.
    pub topics: Vec<String>,
    /// Partitions the member may own now.
    pub assigned: Vec<(String, i32)>,
    /// Partitions it was asked to revoke and has not released yet.
    pub revoking: Vec<(String, i32)>,
    /// Its partitions in the target assignment.
    pub target: Vec<(String, i32)>,
    /// A static member that left with epoch -2 and may come back.
    pub left_static: bool,
}

/// An in-process Kafka cluster of N brokers on 127.0.0.1 (see the crate docs).
pub struct MockCluster {
    pub(crate) shared: Arc<Shared>,
    brokers: Mutex<BTreeMap<i32, BrokerRt>>,
    timer: JoinHandle<()>,
}

/// Parses `name:partitions` (e.g. `orders:6`); a bare `name` means 1 partition.
pub fn parse_topic_spec(spec: &str) -> Result<(String, i32), String> {
    let (name, parts) = match spec.rsplit_once(':') {
        Some((n, p)) => (
            n,
            p.parse::<i32>()
                .map_err(|e| format!("bad partition count in {spec:?}: {e}"))?,
        ),
        None => (spec, 1),
    };
    if name.is_empty() || parts <= 0 {
        return Err(format!(
            "bad topic spec {spec:?}: want name:partitions with partitions > 0"
        ));
    }
    Ok((name.to_string(), parts))
}

impl MockCluster {
    /// A builder with 3 brokers, no topics, rebalance delay 0.
    pub fn builder() -> MockClusterBuilder {
        MockClusterBuilder::default()
    }

    fn rt(&self) -> std::sync::MutexGuard<'_, BTreeMap<i32, BrokerRt>> {
        self.brokers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `host:port,...` of every broker's advertised endpoint, in id order.
    pub fn bootstrap_servers(&self) -> String {
        let st = self.shared.state();
        st.brokers
            .values()
            .map(|b| format!("{}:{}", b.advertised_host, b.advertised_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The address broker `id` listens on (None for an unknown id).
    pub fn broker_addr(&self, id: i32) -> Option<SocketAddr> {
        self.rt().get(&id).map(|b| b.addr)
    }

    /// All broker ids.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.rt().keys().copied().collect()
    }

    /// Creates a topic (leaders round-robin). False if it already exists.
    pub fn create_topic(&self, name: &str, partitions: i32) -> bool {
        self.shared.state().create_topic(name, partitions)
    }

    /// Record bytes broker `id` has returned in Fetch responses so far (shows which broker
    /// actually served data, e.g. a KIP-392 follower instead of the leader).
    pub fn fetched_bytes(&self, id: i32) -> u64 {
        let m = self
            .shared
            .fetched_bytes
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        m.get(&id).copied().unwrap_or(0)
    }

    /// Replica set of a partition (the leader is always among them).
    pub fn partition_replicas(&self, topic: &str, partition: i32) -> Option<Vec<i32>> {
        self.shared
            .state()
            .topics
            .get(topic)?
            .partitions
            .get(partition as usize)
            .map(|p| p.replicas.clone())
    }

    /// Current leader of a partition.
    pub fn partition_leader(&self, topic: &str, partition: i32) -> Option<i32> {
        self.shared
            .state()
            .topics
            .get(topic)?
            .partitions
            .get(partition as usize)
            .map(|p| p.leader)
    }

    /// Moves a partition's leadership to broker `to`, bumping its leader epoch. If `to` is not
    /// a replica it takes the old leader's place in the replica set.
    pub fn move_leader(&self, topic: &str, partition: i32, to: i32) {
        let mut st = self.shared.state();
        if let Some(p) = st
            .topics
            .get_mut(topic)
            .and_then(|t| t.partitions.get_mut(partition as usize))
        {
            if !p.replicas.contains(&to) {
                let old = p.leader;
                match p.replicas.iter_mut().find(|r| **r == old) {
                    Some(r) => *r = to,
                    None => p.replicas.insert(0, to),
                }
            }
            p.leader = to;
            p.leader_epoch += 1;
        }
        drop(st);
        self.shared.produce_notify.notify_waiters();
    }

    /// Pins the coordinator of `group` to `broker` (moving it if it was elsewhere).
    pub fn set_coordinator(&self, group: &str, broker: i32) {
        self.shared
            .state()
            .coordinator_override
            .insert(group.to_string(), broker);
    }

    /// The broker currently coordinating `group`.
    pub fn coordinator(&self, group: &str) -> i32 {
        self.shared.state().coordinator_for(group)
    }

    /// Changes the host/port that Metadata and FindCoordinator advertise for broker `id` (the
    /// listener does not move).
    pub fn set_advertised(&self, id: i32, host: &str, port: u16) {
        if let Some(b) = self.shared.state().brokers.get_mut(&id) {
            b.advertised_host = host.to_string();
            b.advertised_port = port as i32;
        }
    }

    /// Takes broker `id` down: the listener is closed (new connects are refused by the OS)
    /// and every live connection is dropped. Metadata stops listing it.
    pub async fn broker_down(&self, id: i32) {
        let task = {
            let mut rt = self.rt();
            let Some(b) = rt.get_mut(&id) else { return };
            b.listener.take()
        };
        // Close the listener first, so no connection is accepted after the kill signal.
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
        if let Some(b) = self.rt().get_mut(&id) {
            b.kill.send_modify(|v| *v += 1);
        }
        if let Some(b) = self.shared.state().brokers.get_mut(&id) {
            b.up = false;
        }
        let _ = self
            .wait_until(
                |c| c.iter().all(|r| r.broker_id != id || !r.is_open()),
                Duration::from_secs(10),
            )
            .await;
    }

    /// Brings broker `id` back on the same address.
    pub async fn broker_up(&self, id: i32) -> std::io::Result<()> {
        let addr = match self.rt().get(&id) {
            Some(b) if b.listener.is_none() => b.addr,
            _ => return Ok(()),
        };
        let listener = TcpListener::bind(addr).await?;
        let mut rt = self.rt();
        if let Some(b) = rt.get_mut(&id) {
            let rx = b.kill.subscribe();
            b.listener = Some(tokio::spawn(crate::broker::run_listener(
                self.shared.clone(),
                id,
                listener,
                rx,
            )));
        }
        drop(rt);
        if let Some(b) = self.shared.state().brokers.get_mut(&id) {
            b.up = true;
        }
        Ok(())
    }

    /// Adds `delay` before handling requests matching broker and API key (None = any). The
    /// largest matching delay applies; `Duration::ZERO` cancels.
    pub fn set_latency(&self, broker: Option<i32>, api_key: Option<i16>, delay: Duration) {
        let mut f = self.shared.faults();
        f.latency
            .retain(|(b, a, _)| !(*b == broker && *a == api_key));
        if !delay.is_zero() {
            f.latency.push((broker, api_key, delay));
        }
    }

    /// Answers the next `count` requests of `api_key` (any broker) with `error_code`, without
    /// side effects (a failed Produce appends nothing).
    pub fn inject_errors(&self, api_key: i16, error_code: i16, count: usize) {
        self.shared.faults().errors.push(InjectedError {
            api_key,
            error_code,
            remaining: count,
        });
    }

    /// One-shot: the first connection to `broker` that reaches its `nth` request (1-based) is
    /// closed instead of answered.
    pub fn drop_connection_at(&self, broker: i32, nth: usize) {
        self.shared.faults().drop_at.push((broker, nth));
    }

    /// One-shot: the next matching response is malformed as `kind` (see [`Malformed`]).
    pub fn inject_malformed(&self, broker: Option<i32>, api_key: Option<i16>, kind: Malformed) {
        self.shared.faults().malformed.push(MalformedRule {
            broker,
            api_key,
            kind,
        });
    }

    /// Removes every armed fault and latency.
    pub fn clear_faults(&self) {
        *self.shared.faults() = Default::default();
    }

    /// Every connection ever accepted, in accept order.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.shared.accounting.snapshot()
    }

    /// Connections the brokers still hold.
    pub fn open_connections(&self) -> Vec<ConnectionRecord> {
        self.connections()
            .into_iter()
            .filter(|c| c.is_open())
            .collect()
    }

    /// Waits (without polling) until `pred` holds for the connection records.
    pub async fn wait_until<F>(&self, pred: F, timeout: Duration) -> Result<(), TimedOut>
    where
        F: Fn(&[ConnectionRecord]) -> bool,
    {
        self.shared.accounting.wait_until(pred, timeout).await
    }

    /// Waits until `pred(self)` holds, re-checking after every request and group timer event.
    pub async fn wait_for<F>(&self, pred: F, timeout: Duration) -> Result<(), TimedOut>
    where
        F: Fn(&MockCluster) -> bool,
    {
        let mut rx = self.shared.accounting.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if pred(self) {
                return Ok(());
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return Err(TimedOut),
            }
        }
    }

    /// Appends records (key, value) as one uncompressed v2 batch; returns its base offset.
    pub fn append_records<K, V>(
        &self,
        topic: &str,
        partition: i32,
        records: &[(K, V)],
    ) -> anyhow::Result<i64>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let recs: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, (k, v))| Record {
                transactional: false,
                control: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: -1,
                timestamp: now,
                key: Some(Bytes::copy_from_slice(k.as_ref())),
                value: Some(Bytes::copy_from_slice(v.as_ref())),
                headers: Default::default(),
                delete_horizon: false,
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &recs,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )?;
        let raw = buf.freeze();
        let batches =
            split_batches(&raw).map_err(|e| anyhow::anyhow!("encoded batch invalid: {e:?}"))?;
        let base = {
            let mut st = self.shared.state();
            let p = st
                .topics
                .get_mut(topic)
                .and_then(|t| t.partitions.get_mut(partition as usize))
                .ok_or_else(|| anyhow::anyhow!("unknown partition {topic}-{partition}"))?;
            let mut first = None;
            for (b, h) in &batches {
                first.get_or_insert(p.log.append(b, h));
            }
            first.unwrap_or(-1)
        };
        self.shared.produce_notify.notify_waiters();
        self.shared.accounting.touch();
        Ok(base)
    }

    /// Stored batches of a partition, as they will be served (bytes as produced).
    pub fn batches(&self, topic: &str, partition: i32) -> Vec<Bytes> {
        let st = self.shared.state();
        st.topics
            .get(topic)
            .and_then(|t| t.partitions.get(partition as usize))
            .map(|p| p.log.batches.iter().map(|b| b.bytes.clone()).collect())
            .unwrap_or_default()
    }

    /// Next offset to be written (high watermark).
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        self.shared
            .state()
            .topics
            .get(topic)?
            .partitions
            .get(partition as usize)
            .map(|p| p.log.high_watermark)
    }

    /// Offset committed by `group` for a partition.
    pub fn committed_offset(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.shared
            .state()
            .offsets
            .get(&(group.to_string(), topic.to_string(), partition))
            .map(|c| c.offset)
    }

    /// The group's state and members, if the coordinator knows the group.
    pub fn group(&self, group: &str) -> Option<GroupSnapshot> {
        let st = self.shared.state();
        let g = st.groups.groups.get(group)?;
        Some(GroupSnapshot {
            state: g.state.name().to_string(),
            generation: g.generation,
            protocol: g.protocol_name.clone(),
            leader: g.leader.clone(),
            members: g
                .members
                .values()
                .map(|m| MemberSnapshot {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        })
    }

    /// A KIP-848 consumer group (`group.protocol=consumer`), if the coordinator knows it.
    pub fn consumer_group(&self, group: &str) -> Option<ConsumerGroupSnapshot> {
        let st = self.shared.state();
        let g = st.cgroups.groups.get(group)?;
        Some(ConsumerGroupSnapshot {
            epoch: g.epoch,
            assignment_epoch: g.assignment_epoch,
            assignor: g.assignor.clone(),
            members: g
                .members
                .values()
                .map(|m| ConsumerMemberSnapshot {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    epoch: m.epoch,
                    topics: m.topics.iter().cloned().collect(),
                    assigned: m.assigned.iter().cloned().collect(),
                    revoking: m.revoking.iter().cloned().collect(),
                    target: g
                        .target
                        .get(&m.id)
                        .map(|t| t.iter().cloned().collect())
                        .unwrap_or_default(),
                    left_static: m.left_static,
                })
                .collect(),
        })
    }

    /// Removes a KIP-848 member as if its session had expired: the group epoch moves, its
    /// partitions are reassigned, and its next heartbeat gets UNKNOWN_MEMBER_ID.
    pub fn expire_consumer_member(&self, group: &str, member_id: &str) -> bool {
        let mut st = self.shared.state();
        let Some(g) = st.cgroups.groups.get_mut(group) else {
            return false;
        };
        let found = g.members.remove(member_id).is_some();
        if found {
            g.target.remove(member_id);
            g.epoch += 1;
        }
        drop(st);
        self.shared.accounting.touch();
        found
    }

    /// Stops every broker, closes every connection.
    pub async fn shutdown(self) {
        let ids = self.broker_ids();
        for id in ids {
            self.broker_down(id).await;
        }
        self.timer.abort();
    }
}

impl Drop for MockCluster {
    fn drop(&mut self) {
        self.timer.abort();
        for b in self.rt().values_mut() {
            b.kill.send_modify(|v| *v += 1);
            if let Some(t) = b.listener.take() {
                t.abort();
            }
        }
    }
}

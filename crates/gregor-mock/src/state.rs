//! Cluster-wide state shared by every broker task: topics, logs, groups, offsets, sessions.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indexmap::IndexMap;
use tokio::sync::{oneshot, Notify};
use uuid::Uuid;

use crate::accounting::Accounting;
use crate::consumer_group::ConsumerGroups;
use crate::faults::Faults;
use crate::group::{Groups, Output, Ticket};
use crate::log::PartitionLog;

#[derive(Debug, Clone)]
pub(crate) struct BrokerInfo {
    pub advertised_host: String,
    pub advertised_port: i32,
    pub up: bool,
    /// `broker.rack`, advertised in Metadata and used by the KIP-392 replica selector.
    pub rack: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Partition {
    pub leader: i32,
    pub leader_epoch: i32,
    /// Replica set (the leader first at creation). The log is shared, so every replica is
    /// always caught up and in sync while its broker is up.
    pub replicas: Vec<i32>,
    pub log: PartitionLog,
}

impl Partition {
    /// In-sync replicas: every replica whose broker is up (the shared log never lags).
    pub(crate) fn isr(&self, st: &State) -> Vec<i32> {
        self.replicas
            .iter()
            .copied()
            .filter(|&b| st.broker_up(b))
            .collect()
    }
}

#[derive(Debug)]
pub(crate) struct Topic {
    pub id: Uuid,
    pub partitions: Vec<Partition>,
}

#[derive(Debug, Clone)]
pub(crate) struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// KIP-227 fetch session: the partitions it covers and what was last reported for each.
#[derive(Debug, Clone)]
pub(crate) struct FetchSession {
    pub broker: i32,
    pub next_epoch: i32,
    /// (topic name, partition) -> state, in insertion order.
    pub partitions: IndexMap<(String, i32), SessionPartition>,
}

#[derive(Debug, Clone)]
pub(crate) struct SessionPartition {
    pub topic_id: Uuid,
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// (high watermark, log start) last sent, or None if never sent.
    pub reported: Option<(i64, i64)>,
}

pub(crate) struct State {
    /// Broker `auto.create.topics.enable` with `num.partitions`: a Metadata request that allows
    /// it creates an unknown topic with this many partitions.
    pub auto_create_partitions: Option<i32>,
    pub brokers: BTreeMap<i32, BrokerInfo>,
    pub topics: IndexMap<String, Topic>,
    pub groups: Groups,
    /// KIP-848 consumer groups (`group.protocol=consumer`).
    pub cgroups: ConsumerGroups,
    pub coordinator_override: HashMap<String, i32>,
    pub offsets: BTreeMap<(String, String, i32), Committed>,
    pub sessions: HashMap<i32, FetchSession>,
    pub next_session: i32,
    pub parked: HashMap<Ticket, oneshot::Sender<Output>>,
    pub next_ticket: Ticket,
    pub cluster_id: String,
    /// Replicas per new partition (1 = leader only), capped at the broker count.
    pub replication_factor: usize,
    /// The transaction coordinator's state (all brokers share it; each answers only for the
    /// transactional ids it coordinates).
    pub txns: crate::txn::TxnCoordinator,
}

impl State {
    pub(crate) fn new(rebalance_delay: Duration) -> Self {
        State {
            auto_create_partitions: None,
            brokers: BTreeMap::new(),
            topics: IndexMap::new(),
            groups: Groups::new(rebalance_delay),
            cgroups: ConsumerGroups::default(),
            coordinator_override: HashMap::new(),
            offsets: BTreeMap::new(),
            sessions: HashMap::new(),
            next_session: 0,
            parked: HashMap::new(),
            next_ticket: 0,
            cluster_id: "gregor-mock-cluster".to_string(),
            replication_factor: 1,
            txns: Default::default(),
        }
    }

    /// Creates a topic with leaders spread round-robin over the brokers; false if it exists.
    pub(crate) fn create_topic(&mut self, name: &str, partitions: i32) -> bool {
        if self.topics.contains_key(name) {
            return false;
        }
        let ids: Vec<i32> = self.brokers.keys().copied().collect();
        let start = (self.topics.len()) % ids.len().max(1);
        let rf = self.replication_factor.clamp(1, ids.len().max(1));
        let parts = (0..partitions.max(0) as usize)
            .map(|p| Partition {
                leader: ids[(start + p) % ids.len()],
                leader_epoch: 0,
                // Like Kafka's default placement: the leader, then the next brokers in turn.
                replicas: (0..rf).map(|r| ids[(start + p + r) % ids.len()]).collect(),
                log: PartitionLog::default(),
            })
            .collect();
        self.topics.insert(
            name.to_string(),
            Topic {
                id: Uuid::from_bytes(rand::random()),
                partitions: parts,
            },
        );
        true
    }

    pub(crate) fn topic_by_id(&self, id: Uuid) -> Option<&str> {
        self.topics
            .iter()
            .find(|(_, t)| t.id == id)
            .map(|(n, _)| n.as_str())
    }

    /// Coordinator broker for a group: the override, else Java's `abs(hashCode) % n` over
    /// broker ids (the broker leading that `__consumer_offsets` partition, in spirit).
    pub(crate) fn coordinator_for(&self, group: &str) -> i32 {
        if let Some(&b) = self.coordinator_override.get(group) {
            return b;
        }
        let mut h: i32 = 0;
        for u in group.encode_utf16() {
            h = h.wrapping_mul(31).wrapping_add(u as i32);
        }
        let ids: Vec<i32> = self.brokers.keys().copied().collect();
        if ids.is_empty() {
            return -1;
        }
        ids[(h as i64).unsigned_abs() as usize % ids.len()]
    }

    pub(crate) fn broker_up(&self, id: i32) -> bool {
        self.brokers.get(&id).is_some_and(|b| b.up)
    }

    pub(crate) fn new_ticket(&mut self, tx: oneshot::Sender<Output>) -> Ticket {
        self.next_ticket += 1;
        self.parked.insert(self.next_ticket, tx);
        self.next_ticket
    }

    /// Routes answers for parked JoinGroup/SyncGroup requests to their connections.
    pub(crate) fn flush_group_outputs(&mut self) {
        while let Some((t, out)) = self.groups.poll_output() {
            if let Some(tx) = self.parked.remove(&t) {
                let _ = tx.send(out);
            }
        }
    }
}

pub(crate) struct Shared {
    state: Mutex<State>,
    pub accounting: Accounting,
    faults: Mutex<Faults>,
    /// Woken on every append so long-polling fetches re-check (Kafka's DelayedFetch purgatory).
    pub produce_notify: Notify,
    /// Woken on every group change so the group timer task recomputes its deadline.
    pub group_notify: Notify,
    /// Record bytes each broker has returned in Fetch responses (who actually served data,
    /// e.g. a KIP-392 follower rather than the leader).
    pub fetched_bytes: Mutex<BTreeMap<i32, u64>>,
}

impl Shared {
    pub(crate) fn new(rebalance_delay: Duration) -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(State::new(rebalance_delay)),
            accounting: Accounting::new(),
            faults: Mutex::new(Faults::default()),
            produce_notify: Notify::new(),
            group_notify: Notify::new(),
            fetched_bytes: Mutex::new(BTreeMap::new()),
        })
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Drives group timers (session expiry, rebalance timeouts, initial delay).
pub(crate) async fn group_timer(shared: Arc<Shared>) {
    loop {
        let notified = shared.group_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let next = {
            let mut st = shared.state();
            let now = std::time::Instant::now();
            st.groups.handle_timeout(now);
            st.cgroups.handle_timeout(now);
            st.flush_group_outputs();
            match (st.groups.poll_timeout(), st.cgroups.poll_timeout()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        };
        shared.accounting.touch();
        match next {
            Some(t) => {
                let t = tokio::time::Instant::from_std(t);
                tokio::select! {
                    _ = tokio::time::sleep_until(t) => {}
                    _ = &mut notified => {}
                }
            }
            None => notified.await,
        }
    }
}

//! gregor-mock: an in-process Kafka cluster of N brokers that speaks the real Kafka protocol
//! over real TCP on 127.0.0.1. It is the test bench for gregor's connection layer: every
//! connection is accounted for ([`ConnectionRecord`]) and faults can be injected per broker
//! or per API key.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use gregor_mock::MockCluster;
//! let cluster = MockCluster::builder().brokers(3).topic("orders", 6).start().await?;
//! println!("bootstrap.servers={}", cluster.bootstrap_servers());
//! cluster.append_records("orders", 0, &[("k", "v")])?;
//! cluster.wait_until(|c| c.len() >= 1, std::time::Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
//!
//! Realism: each connection handles one request at a time, in order (Kafka mutes a channel
//! until its response is sent), so a long-polling Fetch or a parked JoinGroup delays whatever
//! the client sends next on that socket. `broker_down` closes the listener, so connection
//! attempts are refused by the OS, and drops that broker's live sockets.
//!
//! Advertised API versions (also [`advertised_versions`]): Produce 3-12, Fetch 4-17 (topic
//! ids from v13, KIP-227 sessions from v7), ListOffsets 1-10, Metadata 0-13, OffsetCommit 2-9,
//! OffsetFetch 1-9, FindCoordinator 0-6, JoinGroup 0-9, Heartbeat 0-4, LeaveGroup 0-5,
//! SyncGroup 0-5, DescribeGroups 0-6, ListGroups 0-5, ApiVersions 0-4, CreateTopics 2-7,
//! InitProducerId 0-5 (idempotent producers only, no transactions), ConsumerGroupHeartbeat
//! 0-1 (KIP-848 `group.protocol=consumer`, server-side "uniform" and "range" assignors,
//! heartbeat interval 500 ms unless [`MockClusterBuilder::consumer_heartbeat_interval`]). Anything else closes the
//! connection, as a broker does for an API it does not know.
//!
//! Faults (see [`MockCluster`]): latency persists until reset; every other fault is one-shot
//! (injected errors count down). `inject_errors` answers without side effects.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod accounting;
mod broker;
mod cluster;
mod cluster_txn;
mod consumer_group;
mod faults;
mod group;
mod group_io;
mod handlers;
mod log;
mod malformed;
mod producer_state;
mod state;
mod txn;

pub use accounting::{ConnectionRecord, RequestRecord, TimedOut};
pub use cluster::{
    parse_topic_spec, ConsumerGroupSnapshot, ConsumerMemberSnapshot, GroupSnapshot, MemberSnapshot,
    MockCluster, MockClusterBuilder,
};
pub use cluster_txn::{TransactionSnapshot, TransactionState};
pub use faults::Malformed;

/// `(api_key, min_version, max_version)` for every API the mock implements, as advertised in
/// its ApiVersions response.
pub fn advertised_versions() -> Vec<(i16, i16, i16)> {
    handlers::SUPPORTED
        .iter()
        .map(|&(k, a, b)| (k as i16, a, b))
        .collect()
}

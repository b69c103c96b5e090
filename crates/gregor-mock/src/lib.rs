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
//! Advertised API versions: see [`advertised_versions`].

mod accounting;
mod broker;
mod cluster;
mod faults;
mod group;
mod group_io;
mod handlers;
mod log;
mod malformed;
mod state;

pub use accounting::{ConnectionRecord, RequestRecord, TimedOut};
pub use cluster::{
    parse_topic_spec, GroupSnapshot, MemberSnapshot, MockCluster, MockClusterBuilder,
};
pub use faults::Malformed;

/// `(api_key, min_version, max_version)` for every API the mock implements, as advertised in
/// its ApiVersions response.
pub fn advertised_versions() -> Vec<(i16, i16, i16)> {
    handlers::SUPPORTED
        .iter()
        .map(|&(k, a, b)| (k as i16, a, b))
        .collect()
}

//! `gregor mock`: run the embedded mock cluster until Ctrl-C or SIGTERM.
//!
//! The first stdout line is `bootstrap.servers=HOST:PORT,...` (flushed) so scripts can start
//! the mock as a subprocess and read where to connect.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use gregor_mock::{parse_topic_spec, MockCluster};

/// Arguments of `gregor mock`.
#[derive(clap::Args, Debug, Clone)]
pub struct MockArgs {
    /// Number of brokers (ids 0..N-1).
    #[arg(long, default_value_t = 3)]
    pub brokers: usize,
    /// Topic to create, as name:partitions (repeatable).
    #[arg(long = "topic", value_name = "NAME:PARTITIONS")]
    pub topics: Vec<String>,
    /// Broker i listens on port-base + i (default: ephemeral ports).
    #[arg(long)]
    pub port_base: Option<u16>,
    /// group.initial.rebalance.delay.ms (Kafka's default is 3000).
    #[arg(long, default_value_t = 0)]
    pub rebalance_delay_ms: u64,
}

/// Starts the cluster, prints `bootstrap.servers=...` first, then runs until Ctrl-C or SIGTERM.
pub async fn run(args: MockArgs) -> anyhow::Result<()> {
    let mut b = MockCluster::builder()
        .brokers(args.brokers)
        .rebalance_delay(Duration::from_millis(args.rebalance_delay_ms));
    if let Some(base) = args.port_base {
        b = b.port_base(base);
    }
    for spec in &args.topics {
        let (name, parts) = parse_topic_spec(spec).map_err(anyhow::Error::msg)?;
        b = b.topic(&name, parts);
    }
    let cluster = b.start().await.context("starting mock cluster")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "bootstrap.servers={}", cluster.bootstrap_servers())?;
    out.flush()?;
    drop(out);
    crate::shutdown::requested().await;
    cluster.shutdown().await;
    Ok(())
}

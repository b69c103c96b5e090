//! `gregor-chaos`: fault injection on a real Apache Kafka cluster, with gregor's consumers (or
//! Java's, side by side) as separate processes.
//!
//! The cluster is the one `scripts/kafka-cluster.sh start` runs (same environment). Scenarios:
//! * `rolling-restart`: issue #19 exactly — 6 partitions, RF 3, `min.insync.replicas=2`,
//!   100 000 records, two members of one group, then each broker in turn stopped (5 000 records
//!   produced while it is down) and restarted, then 100 000 more; every record must be read,
//!   both members alive.
//!
//! Prints a JSON report on stdout; exits non-zero when a check fails.

mod cluster;
mod ledger;
mod member;
mod procnet;
mod scenario;

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(name = "gregor-chaos", about = "Fault injection on a real Kafka cluster")]
pub struct Args {
    /// Scenario to run.
    #[arg(value_enum)]
    pub scenario: scenario::Scenario,
    /// group.protocol of the members: classic or consumer (KIP-848).
    #[arg(long, default_value = "classic")]
    pub protocol: String,
    /// Which client the members run.
    #[arg(long, value_enum, default_value_t = member::Client::Gregor)]
    pub client: member::Client,
    /// Number of group members.
    #[arg(long, default_value_t = 2)]
    pub members: usize,
    /// Run the scenario this many times in a row (each on a fresh topic and group).
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// The gregor binary (default: `gregor` beside this binary).
    #[arg(long)]
    pub gregor: Option<PathBuf>,
    /// scripts/kafka-cluster.sh (default: found from the repository root).
    #[arg(long)]
    pub cluster_script: Option<PathBuf>,
    /// Where member logs go (default: target/chaos).
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    match scenario::run_all(&args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("gregor-chaos: {e:#}");
            std::process::exit(2);
        }
    }
}

//! `gregor-chaos`: fault injection on a real Apache Kafka cluster, with gregor's consumers (or
//! Java's, side by side) as separate processes.
//!
//! The cluster is the one `scripts/kafka-cluster.sh start` runs (same environment). Scenarios:
//! * `rolling-restart`: issue #19 exactly — 6 partitions, RF 3, `min.insync.replicas=2`,
//!   100 000 records, two members per group, then each broker in turn stopped (5 000 records
//!   produced while it is down) and restarted, then 100 000 more; every record must be read,
//!   every member alive.
//! * `suite`: issue #12 — a producer writing throughout, three members per group, through a
//!   rolling restart, `kill -9` of a broker, a leader election, a reassignment that moves
//!   leaders, added partitions, the coordinator's broker killed, a member killed with `-9`.
//!   Checks: every record read at least once, redeliveries only from the uncommitted window,
//!   committed offsets never move back, no error reaches the application, sockets back to
//!   L+1 per gregor member after each fault; reports per fault how long consumption took to
//!   catch up.
//!
//! Every protocol in `--protocols` gets its own group on the same topic, so one pass of the
//! faults tests all of them. `--client java` runs Java's console consumer instead (the
//! side-by-side comparison; sockets are reported, not asserted).
//!
//! Prints a JSON report on stdout; exits non-zero when a check fails.
#![forbid(unsafe_code)]

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
    /// Group protocols under test, one consumer group each on the same topic, through the same
    /// faults: classic and/or consumer (KIP-848).
    #[arg(long, default_value = "classic,consumer")]
    pub protocols: String,
    /// Which client the members run.
    #[arg(long, value_enum, default_value_t = member::Client::Gregor)]
    pub client: member::Client,
    /// Members per group (default: 2 for rolling-restart, 3 for suite).
    #[arg(long)]
    pub members: Option<usize>,
    /// Records per second the suite's producer writes throughout.
    #[arg(long, default_value_t = 2000)]
    pub rate: u32,
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
    // The in-process observer (committed and end offsets) logs with CHAOS_LOG=gregor=debug.
    if let Ok(filter) = std::env::var("CHAOS_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    match scenario::run_all(&args) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("gregor-chaos: {e:#}");
            std::process::exit(2);
        }
    }
}

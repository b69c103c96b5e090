//! `gregor`: consume, produce and inspect Kafka — and see every socket the client opens.
#![forbid(unsafe_code)]

use std::time::Instant;

use clap::{Parser, Subcommand};

mod cmd_connections;
mod cmd_consume;
mod cmd_demo;
mod cmd_mock;
mod cmd_produce;
mod metrics_http;
mod output;
mod progress;
mod stats;

#[derive(Parser, Debug)]
#[command(
    name = "gregor",
    version,
    about = "A Kafka consumer that is frugal and explicit about its TCP connections"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the connection story on an embedded 3-broker cluster (no broker needed).
    Demo(cmd_demo::DemoArgs),
    /// Read records (kcat / kafka-console-consumer style).
    Consume(cmd_consume::ConsumeArgs),
    /// Write lines from stdin (or synthetic records) to a topic, creating it if needed.
    Produce(cmd_produce::ProduceArgs),
    /// Run a consumer and show its sockets live.
    Connections(cmd_connections::ConnectionsArgs),
    /// Run the embedded mock Kafka cluster until Ctrl-C.
    Mock(cmd_mock::MockArgs),
    /// Print the Markdown table of consumer config keys (for README); --producer for the
    /// producer's.
    #[command(hide = true)]
    PrintConfigTable {
        /// The producer's keys instead of the consumer's.
        #[arg(long)]
        producer: bool,
    },
}

#[tokio::main]
async fn main() {
    let process_start = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GREGOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => cmd_demo::run(args).await,
        Command::Consume(args) => cmd_consume::run(args, process_start).await,
        Command::Produce(args) => cmd_produce::run(args).await,
        Command::Connections(args) => cmd_connections::run(args).await,
        Command::Mock(args) => cmd_mock::run(args).await,
        Command::PrintConfigTable { producer } => {
            let keys = if producer {
                gregor::config::producer_keys()
            } else {
                gregor::config::consumer_keys()
            };
            print!("{}", gregor::config::keys::markdown_table(keys));
            Ok(())
        }
    };
    if let Err(e) = result {
        eprintln!("gregor: {e:#}");
        std::process::exit(1);
    }
}

//! `gregor`: consume, produce and inspect Kafka — and see every socket the client opens.
#![forbid(unsafe_code)]

use std::time::Instant;

use clap::{CommandFactory, Parser, Subcommand};

mod cmd_connections;
mod cmd_consume;
mod cmd_demo;
mod cmd_docs;
mod cmd_groups;
mod cmd_metadata;
mod cmd_offsets;
mod cmd_mock;
mod cmd_produce;
mod connect;
mod consume_start;
mod kcat;
mod logging;
mod metrics_http;
mod output;
mod progress;
mod shutdown;
mod stats;

const ABOUT: &str = "A Kafka client that is frugal and explicit about its TCP connections";

const AFTER_HELP: &str = "\
Examples (kcat habits in gregor's form):
  gregor consume -b localhost -t orders -e                  # kcat -C -b localhost -t orders -e
  gregor consume -b localhost -t orders -p 0 -o -10 -e      # kcat ... -p 0 -o -10 -e
  gregor consume -b localhost -g my-app orders              # kcat -b localhost -G my-app orders
  gregor consume -b localhost -t orders -f '%k: %s\\n' -J    # kcat -f / -J
  gregor mock --topic orders:3                              # a local cluster to try it on

Every command takes -b HOST[:PORT] (port 9092 by default), -X KEY=VALUE for any Java client
config key, and -F FILE for a .properties file. Errors are one line on stderr and a non-zero exit.

Environment:
  GREGOR_LOG   Log filter for stderr, in tracing's EnvFilter syntax, e.g. GREGOR_LOG=debug or
               GREGOR_LOG=gregor::net=trace,gregor::consumer=debug. Replaces the level that
               -q/-v choose (default: none, a failure is one line); -d CONTEXTS adds to it.";

#[derive(Parser, Debug)]
#[command(name = "gregor", version, about = ABOUT, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    log: logging::LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read records (kcat -C / -G, kafka-console-consumer).
    Consume(cmd_consume::ConsumeArgs),
    /// Write lines from stdin (or synthetic records) to a topic, creating it if needed.
    Produce(cmd_produce::ProduceArgs),
    /// Brokers, controller, topics, partitions with leader, replicas, ISR (kcat -L).
    Metadata(cmd_metadata::MetadataArgs),
    /// Earliest and latest offsets, or the offset at a time, per partition (kcat -Q).
    Offsets(cmd_offsets::OffsetsArgs),
    /// Consumer groups: list, describe (members, lag), reset-offsets, delete
    /// (kafka-consumer-groups).
    Groups(cmd_groups::GroupsArgs),
    /// Run a consumer and show its sockets live.
    Connections(cmd_connections::ConnectionsArgs),
    /// Run the embedded mock Kafka cluster until Ctrl-C or SIGTERM.
    Mock(cmd_mock::MockArgs),
    /// Show the connection story on an embedded 3-broker cluster (no broker needed).
    Demo(cmd_demo::DemoArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd_docs::CompletionsArgs),
    /// Print the man page (roff), or write one per command into a directory.
    Man(cmd_docs::ManArgs),
    /// Print the Markdown table of consumer config keys (for README); --producer for the
    /// producer's.
    #[command(hide = true)]
    PrintConfigTable {
        /// The producer's keys instead of the consumer's.
        #[arg(long)]
        producer: bool,
    },
}

/// clap's usage error on one line, as every other error: its message up to the first blank
/// line (the usage and "For more information" that follow are what `--help` is for), without
/// its "error: ". The message can span lines: "the following required arguments were not
/// provided:" lists them on the next ones, and they are the point of it.
fn usage_error_line(rendered: &str) -> String {
    let msg: Vec<&str> = rendered.lines().take_while(|l| !l.trim().is_empty()).map(str::trim).collect();
    let msg = msg.join(" ");
    msg.strip_prefix("error: ").unwrap_or(&msg).to_string()
}

/// The clap command, for completions and man pages.
pub fn command() -> clap::Command {
    Cli::command()
}

#[tokio::main]
async fn main() {
    let process_start = Instant::now();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => match e.kind() {
            clap::error::ErrorKind::DisplayHelp
            | clap::error::ErrorKind::DisplayVersion
            | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
            _ => {
                eprintln!("gregor: {} (see gregor --help)", usage_error_line(&e.render().to_string()));
                std::process::exit(2);
            }
        },
    };
    if let Err(e) = cli.log.init() {
        eprintln!("gregor: {e}");
        std::process::exit(2);
    }
    let verbosity = cli.log.verbosity();
    let result = match cli.command {
        Command::Demo(args) => cmd_demo::run(args).await,
        Command::Consume(args) => cmd_consume::run(args, process_start, verbosity).await,
        Command::Produce(args) => cmd_produce::run(args).await,
        Command::Metadata(args) => cmd_metadata::run(args).await,
        Command::Offsets(args) => cmd_offsets::run(args).await,
        Command::Groups(args) => cmd_groups::run(args).await,
        Command::Connections(args) => cmd_connections::run(args).await,
        Command::Mock(args) => cmd_mock::run(args).await,
        Command::Completions(args) => cmd_docs::completions(args),
        Command::Man(args) => cmd_docs::man(args),
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
        eprintln!("gregor: {}", connect::one_line(&format!("{e:#}")));
        std::process::exit(1);
    }
}

//! `gregor`: consume, produce and inspect Kafka — and see every socket the client opens.

use clap::{Parser, Subcommand};

mod cmd_mock;

#[derive(Parser, Debug)]
#[command(name = "gregor", version, about = "A Kafka consumer that is frugal and explicit about its TCP connections")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the embedded mock Kafka cluster until Ctrl-C.
    Mock(cmd_mock::MockArgs),
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GREGOR_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Mock(args) => cmd_mock::run(args).await,
    };
    if let Err(e) = result {
        eprintln!("gregor: {e:#}");
        std::process::exit(1);
    }
}

//! Standalone mock cluster, same behaviour as `gregor mock` (for running without the CLI):
//! `cargo run -p gregor-mock --example standalone -- --brokers 3 --topic t:6`

use std::io::Write;
use std::time::Duration;

use gregor_mock::{parse_topic_spec, MockCluster};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut b = MockCluster::builder();
    let mut brokers = 3;
    let mut args = std::env::args().skip(1);
    let mut topics = Vec::new();
    let mut delay = 0u64;
    let mut port_base = None;
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--brokers" => brokers = val()?.parse()?,
            "--topic" => topics.push(parse_topic_spec(&val()?).map_err(anyhow::Error::msg)?),
            "--rebalance-delay-ms" => delay = val()?.parse()?,
            "--port-base" => port_base = Some(val()?.parse::<u16>()?),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    b = b
        .brokers(brokers)
        .rebalance_delay(Duration::from_millis(delay));
    if let Some(p) = port_base {
        b = b.port_base(p);
    }
    for (t, p) in &topics {
        b = b.topic(t, *p);
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let cluster = b.start().await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "bootstrap.servers={}", cluster.bootstrap_servers())?;
    out.flush()?;
    drop(out);
    tokio::signal::ctrl_c().await?;
    cluster.shutdown().await;
    Ok(())
}

//! `gregor metadata` (kcat -L): brokers with racks and the controller, topics, and per
//! partition leader, replicas, in-sync and offline replicas; `-J` for JSON.
//!
//! The text keeps kcat's layout line for line (so habits and greps carry over), adding a
//! broker's rack and a partition's offline replicas only where there are some, and naming the
//! cluster id where kcat names the broker that answered.

use std::io::Write;
use std::time::Duration;

use gregor::admin::ClusterMetadata;
use gregor::Admin;

use crate::connect::{explain, ClientArgs};
use crate::kcat::json_str;

pub const EXAMPLES: &str = "\
Examples:
  gregor metadata -b localhost                    # kcat -L -b localhost
  gregor metadata -b localhost -t orders -J | jq '.topics[0].partitions[] | {partition, leader}'";

/// Arguments of `gregor metadata`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct MetadataArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only these topics (repeatable); default: all.
    #[arg(short = 't', long = "topic", value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// JSON, in kcat -L -J's shape (plus rack, offline_replicas and cluster_id).
    #[arg(short = 'J', long = "json")]
    pub json: bool,
}

/// The Admin client for -b/-F/-X (connection and security keys), and the time its calls get:
/// `default.api.timeout.ms` (60 s), which the CLI applies itself.
pub fn admin(client: &ClientArgs) -> anyhow::Result<(Admin, String, Duration)> {
    let mut props = client.properties(&[])?;
    let bootstrap = ClientArgs::bootstrap(&props);
    let timeout = match crate::connect::last(&props, "default.api.timeout.ms") {
        Some(v) => Duration::from_millis(
            v.trim().parse().map_err(|_| anyhow::anyhow!("default.api.timeout.ms: '{v}' is not a number of milliseconds"))?,
        ),
        None => Duration::from_secs(60),
    };
    props.retain(|(k, _)| k != "default.api.timeout.ms");
    let admin = Admin::from_properties(props).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((admin, bootstrap, timeout))
}

/// `call` within `timeout`, then the admin client closed.
pub async fn timed<T>(
    admin: &Admin,
    timeout: Duration,
    bootstrap: &str,
    call: impl std::future::Future<Output = gregor::Result<T>>,
) -> anyhow::Result<T> {
    let r = tokio::time::timeout(timeout, call).await;
    admin.close(Duration::from_secs(5)).await;
    match r {
        Ok(r) => r.map_err(|e| explain(e, bootstrap)),
        Err(_) => Err(anyhow::anyhow!(
            "cannot reach the cluster at {bootstrap}: no answer within default.api.timeout.ms ({} ms)",
            timeout.as_millis()
        )),
    }
}

/// Runs `gregor metadata`.
pub async fn run(args: MetadataArgs) -> anyhow::Result<()> {
    let (admin, bootstrap, timeout) = admin(&args.client)?;
    let topics = (!args.topics.is_empty()).then_some(args.topics.as_slice());
    let md = timed(&admin, timeout, &bootstrap, admin.describe_cluster(topics)).await?;
    let mut out = Vec::new();
    if args.json {
        write_json(&mut out, &md, &args.topics)?;
    } else {
        write_text(&mut out, &md, &args.topics)?;
    }
    std::io::stdout().write_all(&out)?;
    Ok(())
}

fn err_str(code: i16) -> String {
    gregor::protocol_errors::KafkaCode(code).name().to_string()
}

fn ids(v: &[i32]) -> String {
    v.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// kcat -L's text.
pub fn write_text(out: &mut Vec<u8>, md: &ClusterMetadata, query: &[String]) -> std::io::Result<()> {
    let what = if query.is_empty() { "all topics".to_string() } else { query.join(",") };
    writeln!(out, "Metadata for {what} (cluster {}):", md.cluster_id.as_deref().unwrap_or("?"))?;
    writeln!(out, " {} brokers:", md.brokers.len())?;
    for b in &md.brokers {
        write!(out, "  broker {} at {}:{}", b.id, b.host, b.port)?;
        if b.id == md.controller_id {
            write!(out, " (controller)")?;
        }
        if let Some(r) = &b.rack {
            write!(out, " rack {r}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, " {} topics:", md.topics.len())?;
    for t in &md.topics {
        write!(out, "  topic \"{}\" with {} partitions:", t.name, t.partitions.len())?;
        if t.error != 0 {
            write!(out, " {}", err_str(t.error))?;
        }
        writeln!(out)?;
        for p in &t.partitions {
            write!(out, "    partition {}, leader {}, replicas: {}, isrs: {}", p.partition, p.leader, ids(&p.replicas), ids(&p.isr))?;
            if !p.offline_replicas.is_empty() {
                write!(out, ", offline: {}", ids(&p.offline_replicas))?;
            }
            if p.error != 0 {
                write!(out, ", {}", err_str(p.error))?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// kcat -L -J's object (keys in kcat's order), with `cluster_id`, `rack` and
/// `offline_replicas` added.
pub fn write_json(out: &mut Vec<u8>, md: &ClusterMetadata, query: &[String]) -> std::io::Result<()> {
    out.extend_from_slice(b"{\"query\":{\"topic\":");
    json_str(out, if query.is_empty() { b"*" } else { query[0].as_bytes() });
    out.extend_from_slice(b"},\"cluster_id\":");
    match &md.cluster_id {
        Some(c) => json_str(out, c.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    write!(out, ",\"controllerid\":{},\"brokers\":[", md.controller_id)?;
    for (i, b) in md.brokers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write!(out, "{{\"id\":{},\"name\":", b.id)?;
        json_str(out, format!("{}:{}", b.host, b.port).as_bytes());
        if let Some(r) = &b.rack {
            out.extend_from_slice(b",\"rack\":");
            json_str(out, r.as_bytes());
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"topics\":[");
    let list = |out: &mut Vec<u8>, v: &[i32]| {
        out.push(b'[');
        for (i, id) in v.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(format!("{{\"id\":{id}}}").as_bytes());
        }
        out.push(b']');
    };
    for (i, t) in md.topics.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"topic\":");
        json_str(out, t.name.as_bytes());
        if t.error != 0 {
            out.extend_from_slice(b",\"error\":");
            json_str(out, err_str(t.error).as_bytes());
        }
        out.extend_from_slice(b",\"partitions\":[");
        for (j, p) in t.partitions.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            write!(out, "{{\"partition\":{}", p.partition)?;
            if p.error != 0 {
                out.extend_from_slice(b",\"error\":");
                json_str(out, err_str(p.error).as_bytes());
            }
            write!(out, ",\"leader\":{},\"replicas\":", p.leader)?;
            list(out, &p.replicas);
            out.extend_from_slice(b",\"isrs\":");
            list(out, &p.isr);
            out.extend_from_slice(b",\"offline_replicas\":");
            list(out, &p.offline_replicas);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"]}\n");
    Ok(())
}
